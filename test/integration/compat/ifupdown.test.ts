/**
 * Seed 001: ucarp configured in Debian's /etc/network/interfaces (`ucarp-vid`, `ucarp-vip`,
 * `ucarp-password`, `ucarp-advskew`, `ucarp-advbase`, `ucarp-master`), served by carpool's
 * ifupdown hook (contrib/ifupdown/carpool-ucarp) and brought up and down by Debian's real
 * `ifup` / `ifdown`. Each node runs them in its own network namespace and a private mount
 * namespace in which /etc/network (the test's interfaces file and hook directories),
 * /run (ifupdown's state, PID files) and /usr/local/sbin (`carpool` of this checkout, first on
 * ifupdown's PATH) are the test's own; the host's files are never touched. The up and down
 * scripts are Debian's (/usr/share/ucarp/vip-up: `ifup eth0:ucarp`), so the VIP comes from the
 * `eth0:ucarp` stanza exactly as with ucarp.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addressesOf } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { CARPOOL, ROOT, isRoot, skipReason, until } from '../helpers/procs.js';

const HOOK = `${ROOT}contrib/ifupdown/carpool-ucarp`;
const haveIfupdown = existsSync('/usr/sbin/ifup') && existsSync('/usr/share/ucarp/vip-up');
const why = !isRoot ? skipReason : 'needs Debian\'s ifupdown and ucarp packages (scripts/setup.sh --test)';

/** The private mount namespace of a node: see the file comment. */
const ENTER = `#!/bin/sh
set -e
node=$1; shift
mount -t tmpfs tmpfs /run
mkdir /run/network
mount --bind "$node/run-network" /run/network
mount --bind "$node/etc-network" /etc/network
mount --bind "$node/../sbin" /usr/local/sbin
exec "$@"
`;

/** Seed 001's stanza on this LAN; the two nodes differ only in `ucarp-master`. */
const stanza = (address: string, vip: string, master: 'yes' | 'no') => `auto eth0
iface eth0 inet static
	address ${address}
	netmask 255.255.255.0
	ucarp-vid 1
	ucarp-vip ${vip}
	ucarp-password secret
	ucarp-advskew 1
	ucarp-advbase 1
	ucarp-master ${master}

iface eth0:ucarp inet static
	address ${vip}
	netmask 255.255.255.255
`;

describe.skipIf(!isRoot || !haveIfupdown)(`ucarp stanzas in /etc/network/interfaces with Debian's ifup/ifdown (${why})`, () => {
  const wd = new Workdir();
  const vip = '10.86.0.125';
  const pidfile = (i: number) => wd.path(`h${i}/run-network/carpool-ucarp.eth0.pid`);
  const pidOf = (i: number) => (existsSync(pidfile(i)) ? Number(readFileSync(pidfile(i), 'utf8').trim()) : undefined);
  const alive = (pid: number | undefined) => {
    if (pid === undefined) return false;
    try { process.kill(pid, 0); return true; } catch { return false; }
  };
  const lan = useLab('ifud', {
    hosts: 2, subnet: '10.86.0',
    beforeDestroy: () => {
      // ifdown would be the polite way; by PID is the sure one.
      for (const i of [1, 2]) { const pid = pidOf(i); if (alive(pid)) process.kill(pid!, 'SIGKILL'); }
      wd.remove();
    },
  });
  const h = (i: number) => lan.hosts[i - 1]!;
  const node = (i: number, ...argv: string[]) => run(
    ['ip', 'netns', 'exec', h(i).ns, 'unshare', '-m', '--propagation', 'private', 'sh', wd.path('enter.sh'), wd.path(`h${i}`), ...argv],
    { allowFail: true, timeoutMs: 60_000 },
  );
  const hasVip = async (i: number) => (await addressesOf(h(i).ns, 'eth0')).includes(`${vip}/32`);

  it('ifup starts carpool on both, the master holds the VIP; ifdown stops it by PID and the other takes over', async () => {
    wd.write('enter.sh', ENTER, 0o755);
    mkdirSync(wd.path('sbin'));
    symlinkSync(CARPOOL, wd.path('sbin/carpool'));
    for (const i of [1, 2]) {
      for (const d of ['if-up.d', 'if-down.d', 'if-pre-up.d', 'if-post-down.d']) mkdirSync(wd.path(`h${i}/etc-network/${d}`), { recursive: true });
      mkdirSync(wd.path(`h${i}/run-network`));
      symlinkSync(HOOK, wd.path(`h${i}/etc-network/if-up.d/carpool-ucarp`));
      symlinkSync(HOOK, wd.path(`h${i}/etc-network/if-down.d/carpool-ucarp`));
      wd.write(`h${i}/etc-network/interfaces`, stanza(h(i).address, vip, i === 1 ? 'yes' : 'no'));
      // ifupdown configures eth0 itself.
      await run(['ip', '-n', h(i).ns, 'addr', 'flush', 'dev', 'eth0']);
      await run(['ip', '-n', h(i).ns, 'link', 'set', 'eth0', 'down']);
    }

    const up1 = await node(1, 'ifup', 'eth0');
    expect(up1.code, up1.stderr).toBe(0);
    expect(alive(pidOf(1)), 'carpool on h1 after ifup').toBe(true);
    expect(readFileSync(`/proc/${pidOf(1)}/cmdline`, 'utf8')).toMatch(/ucarp[\0 ]-i[\0 ]eth0[\0 ]-s[\0 ]/);
    await until(() => hasVip(1), 10_000, 100, 'VIP on h1 (vip-up: ifup eth0:ucarp)');

    const up2 = await node(2, 'ifup', 'eth0');
    expect(up2.code, up2.stderr).toBe(0);
    expect(alive(pidOf(2)), 'carpool on h2 after ifup').toBe(true);
    await new Promise((r) => setTimeout(r, 4000)); // > master-down time (3 s): h2 had its chance
    expect(await hasVip(1)).toBe(true);
    expect(await hasVip(2)).toBe(false);

    const pid1 = pidOf(1)!;
    const down1 = await node(1, 'ifdown', 'eth0');
    expect(down1.code, down1.stderr).toBe(0);
    expect(alive(pid1), 'h1 carpool stopped by ifdown').toBe(false);
    expect(existsSync(pidfile(1)), 'PID file removed').toBe(false);
    expect(await hasVip(1)).toBe(false);
    await until(() => hasVip(2), 10_000, 100, 'VIP on h2 after h1 went down');

    const down2 = await node(2, 'ifdown', 'eth0');
    expect(down2.code, down2.stderr).toBe(0);
    expect(pidOf(2)).toBeUndefined();
    expect(await hasVip(2)).toBe(false);
  }, 90_000);
});
