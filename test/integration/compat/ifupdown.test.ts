/**
 * Seed 001: ucarp configured in Debian's /etc/network/interfaces (`ucarp-vid`, `ucarp-vip`,
 * `ucarp-password`, `ucarp-advskew`, `ucarp-advbase`, `ucarp-master`), served by carpool's
 * ifupdown hook (contrib/ifupdown/carpool-ucarp) and brought up and down by Debian's real
 * `ifup` / `ifdown`. Each node runs them in its own network namespace and a private mount
 * namespace in which /etc/network (the test's interfaces file and hook directories),
 * /run (ifupdown's state, PID files) and /usr/local/sbin (`carpool` of this checkout, first on
 * ifupdown's PATH) are the test's own; the host's files are never touched. The default up and
 * down scripts are carpool's (contrib/ifupdown/vip-up: `ifup eth0:ucarp`, as the ucarp package's),
 * so the VIP comes from the `eth0:ucarp` stanza exactly as with ucarp.
 *
 * The second case runs Debian's own hook (/etc/network/if-up.d/ucarp of the ucarp package) with
 * /usr/sbin/ucarp, in the mount namespace only, executing a symlink named `ucarp` to carpool.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addressesOf } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { CARPOOL, ROOT, isRoot, skipReason, until } from '../helpers/procs.js';

const HOOK = `${ROOT}contrib/ifupdown/carpool-ucarp`;
const haveIfupdown = existsSync('/usr/sbin/ifup') && existsSync('/usr/share/ucarp/vip-up') && existsSync('/etc/network/if-up.d/ucarp');
const why = !isRoot ? skipReason : 'needs Debian\'s ifupdown and ucarp packages (scripts/setup.sh --test)';

/** The private mount namespace of a node: see the file comment. */
const ENTER = `#!/bin/sh
set -e
node=$1; shift
mount -t tmpfs tmpfs /run
mkdir /run/network
mount --bind "$node/run-network" /run/network
if [ -e "$node/etc-network/if-up.d/ucarp" ]; then
  # Debian's own hook, and /usr/sbin/ucarp running carpool by the name ucarp.
  mount --bind /etc/network/if-up.d/ucarp "$node/etc-network/if-up.d/ucarp"
  mount --bind "$node/../ucarp-wrapper" /usr/sbin/ucarp
else
  # No ucarp package: carpool's own default up and down scripts.
  mount --bind ${ROOT}contrib/ifupdown/vip-up /usr/share/ucarp/vip-up
  mount --bind ${ROOT}contrib/ifupdown/vip-down /usr/share/ucarp/vip-down
fi
mount --rbind "$node/etc-network" /etc/network
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
  /** PIDs of the carpool processes in node i's namespace (the test's own namespace). */
  const carpoolsIn = async (i: number): Promise<number[]> => (await run(['ip', 'netns', 'pids', h(i).ns])).stdout.split('\n').filter(Boolean).map(Number)
    .filter((pid) => { try { return /ucarp/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')); } catch { return false; } });
  const started: number[] = [];
  /** Wait for carpool in node i's namespace; its PIDs, remembered for the clean-up. */
  const waitForCarpools = async (i: number): Promise<number[]> => {
    const found: number[] = [];
    await until(async () => { found.push(...await carpoolsIn(i)); return found.length > 0; }, 5000, 50, `carpool on h${i}`);
    started.push(...found);
    return found;
  };
  const pidOf = (i: number) => (existsSync(pidfile(i)) ? Number(readFileSync(pidfile(i), 'utf8').trim()) : undefined);
  const alive = (pid: number | undefined) => {
    if (pid === undefined) return false;
    try { process.kill(pid, 0); return true; } catch { return false; }
  };
  const lan = useLab('ifud', {
    hosts: 2, subnet: '10.86.0',
    beforeDestroy: () => {
      // ifdown would be the polite way; by PID is the sure one.
      for (const pid of [pidOf(1), pidOf(2), ...started]) if (alive(pid)) process.kill(pid!, 'SIGKILL');
      wd.remove();
    },
  });
  const h = (i: number) => lan.hosts[i - 1]!;
  const node = (i: number, ...argv: string[]) => nodeIn(`h${i}`, i, ...argv);
  const nodeIn = (dir: string, i: number, ...argv: string[]) => run(
    ['ip', 'netns', 'exec', h(i).ns, 'unshare', '-m', '--propagation', 'private', 'sh', wd.path('enter.sh'), wd.path(dir), ...argv],
    { allowFail: true, timeoutMs: 60_000 },
  );
  const hasVip = async (i: number) => (await addressesOf(h(i).ns, 'eth0')).includes(`${vip}/32`);

  /** Node i's /etc/network and /run/network in `dir`; with Debian's hook or carpool's. */
  const prepare = async (dir: string, i: number, debianHook: boolean) => {
    for (const d of ['if-up.d', 'if-down.d', 'if-pre-up.d', 'if-post-down.d']) mkdirSync(wd.path(`${dir}/etc-network/${d}`), { recursive: true });
    mkdirSync(wd.path(`${dir}/run-network`));
    symlinkSync(HOOK, wd.path(`${dir}/etc-network/if-up.d/carpool-ucarp`));
    symlinkSync(HOOK, wd.path(`${dir}/etc-network/if-down.d/carpool-ucarp`));
    if (debianHook) writeFileSync(wd.path(`${dir}/etc-network/if-up.d/ucarp`), '', { mode: 0o755 }); // enter.sh mounts Debian's over it
    wd.write(`${dir}/etc-network/interfaces`, stanza(h(i).address, vip, i === 1 ? 'yes' : 'no'));
    // ifupdown configures eth0 itself.
    await run(['ip', '-n', h(i).ns, 'addr', 'flush', 'dev', 'eth0']);
    await run(['ip', '-n', h(i).ns, 'link', 'set', 'eth0', 'down']);
  };

  it('ifup starts carpool on both, the master holds the VIP; ifdown stops it by PID and the other takes over', async () => {
    wd.write('enter.sh', ENTER, 0o755);
    mkdirSync(wd.path('sbin'));
    symlinkSync(CARPOOL, wd.path('sbin/carpool'));
    symlinkSync(CARPOOL, wd.path('sbin/ucarp'));
    wd.write('ucarp-wrapper', `#!/bin/sh\nexec ${wd.path('sbin/ucarp')} "$@"\n`, 0o755);
    for (const i of [1, 2]) await prepare(`h${i}`, i, false);

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

  it('Debian\'s own hook runs carpool as /usr/sbin/ucarp (-B); carpool\'s hook steps aside; ifdown leaves it running, as with ucarp', async () => {
    for (const i of [1, 2]) await prepare(`d${i}`, i, true);
    const up1 = await nodeIn('d1', 1, 'ifup', 'eth0');
    expect(up1.code, up1.stderr).toBe(0);
    expect(up1.stderr).toContain("carpool-ucarp: Debian's ucarp hook");
    let pids1 = await waitForCarpools(1);
    // `-B` re-executes carpool detached and the parent exits once the daemon runs: for a moment
    // there are two. A second daemon from carpool's own hook would stay.
    await until(async () => (pids1 = await carpoolsIn(1)).length === 1, 5000, 50, 'one carpool on h1').catch(() => undefined);
    expect(pids1, 'one daemon: Debian\'s hook started it, carpool\'s did not').toHaveLength(1);
    const pid1 = pids1[0]!;
    expect(readFileSync(`/proc/${pid1}/cmdline`, 'utf8')).toMatch(/-i[\0 ]eth0[\0 ]-s[\0 ]10\.86\.0\.1[\0 ]-B[\0 ]-z/);
    await until(() => hasVip(1), 10_000, 100, 'VIP on h1');

    expect((await nodeIn('d2', 2, 'ifup', 'eth0')).code).toBe(0);
    await waitForCarpools(2);
    await new Promise((r) => setTimeout(r, 4000));
    expect(await hasVip(1)).toBe(true);
    expect(await hasVip(2)).toBe(false);

    expect((await nodeIn('d1', 1, 'ifdown', 'eth0')).code).toBe(0);
    await until(() => hasVip(2), 10_000, 100, 'VIP on h2 after h1\'s eth0 went down');
    expect(alive(pid1), 'Debian\'s hook never stops ucarp').toBe(true);
  }, 90_000);
});
