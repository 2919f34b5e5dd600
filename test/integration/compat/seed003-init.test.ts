/**
 * Seed 003's init script (testdata/seed003/init.d-ucarp, byte for byte but for the paths of its
 * configuration, which go to a temporary directory) with Debian's real start-stop-daemon and
 * `UCARP_EXEC` pointing at carpool through a symlink named `ucarp`: start (PID file made, daemon
 * running, the master runs its up script), `start-stop-daemon --status`, stop (process gone,
 * the down script run by `-z`, the peer takes over). As the seed writes it, the script puts the
 * virtual address on `eth0:carp0` with ifconfig on every node before it starts ucarp, and takes it
 * away with `ifconfig eth0:carp0 down` on stop; ucarp's scripts here only record the role.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addressesOf } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { CARPOOL, ROOT, isRoot, skipReason, until } from '../helpers/procs.js';

const SCRIPT = readFileSync(`${ROOT}testdata/seed003/init.d-ucarp`, 'utf8');
const haveTools = existsSync('/sbin/start-stop-daemon') && existsSync('/sbin/ifconfig');
const why = !isRoot ? skipReason : 'needs start-stop-daemon (dpkg) and ifconfig (net-tools)';

describe.skipIf(!isRoot || !haveTools)(`seed 003's ucarp init script with start-stop-daemon (${why})`, () => {
  const wd = new Workdir();
  const vip = '10.87.0.32';
  const pidfile = (i: number) => wd.path(`h${i}/run/ucarp0.pid`);
  const pidOf = (i: number) => (existsSync(pidfile(i)) ? Number(readFileSync(pidfile(i), 'utf8').trim()) : undefined);
  const alive = (pid: number | undefined) => {
    if (pid === undefined) return false;
    try { process.kill(pid, 0); return true; } catch { return false; }
  };
  const lan = useLab('seedt', {
    hosts: 2, subnet: '10.87.0',
    beforeDestroy: () => {
      for (const i of [1, 2]) { const pid = pidOf(i); if (alive(pid)) process.kill(pid!, 'SIGKILL'); }
      wd.remove();
    },
  });
  const h = (i: number) => lan.hosts[i - 1]!;
  const log = (i: number) => (existsSync(wd.path(`h${i}/roles.log`)) ? readFileSync(wd.path(`h${i}/roles.log`), 'utf8') : '');
  const initd = (i: number, action: string) => run(['ip', 'netns', 'exec', h(i).ns, 'sh', wd.path(`h${i}/init.d-ucarp`), action], { allowFail: true, timeoutMs: 30_000 });
  const status = async (i: number) => (await run(['ip', 'netns', 'exec', h(i).ns, 'start-stop-daemon', '--status', '--pidfile', pidfile(i)], { allowFail: true })).code;

  /** The node's configuration: /etc/default/ucarp and /etc/ucarp/interface/ucarp0 of the seed. */
  const configure = (i: number) => {
    const dir = wd.path(`h${i}`);
    mkdirSync(`${dir}/interface`, { recursive: true });
    mkdirSync(`${dir}/run`);
    const role = (what: string) => wd.write(`h${i}/vip-${what}.sh`, `#!/bin/sh\necho "${what} $*" >> ${dir}/roles.log\n`, 0o755);
    wd.write(`h${i}/default-ucarp`, [
      '# Location of the ucarp executable',
      `UCARP_EXEC=${wd.path('bin/ucarp')}`,
      'IFCONFIG=/sbin/ifconfig',
      '# -z run shutdown script on exit; the scripts record the role',
      `OPTIONS="-z -u ${role('up')} -d ${role('down')}"`,
      '',
    ].join('\n'));
    wd.write(`h${i}/interface/ucarp0`, [
      `UCARP_PIDFILE=${pidfile(i)}`,
      'UCARP_BASE=1',
      'INTERFACE=eth0:carp0',
      'INSTANCE_ID=42',
      'PASSWORD=secret',
      `VIRTUAL_ADDRESS=${vip}`,
      'VIRTUAL_BROADCAST=10.87.0.255',
      'VIRTUAL_NETMASK=255.255.255.0',
      `SOURCE_ADDRESS=${h(i).address}`,
      '',
    ].join('\n'));
    const script = SCRIPT.replaceAll('/etc/default/ucarp', `${dir}/default-ucarp`).replace('R_INTERFACE=/etc/ucarp/interface', `R_INTERFACE=${dir}/interface`);
    expect(script).not.toBe(SCRIPT);
    wd.write(`h${i}/init.d-ucarp`, script, 0o755);
  };

  it('start, status, stop; the other node takes over', async () => {
    mkdirSync(wd.path('bin'));
    symlinkSync(CARPOOL, wd.path('bin/ucarp'));
    configure(1);
    configure(2);

    const s1 = await initd(1, 'start');
    expect(s1.code, s1.stderr).toBe(0);
    expect(s1.stdout).toBe('Starting ucarp daemon: ucarp.\n');
    const pid1 = await until(() => pidOf(1), 5000, 50, 'PID file of h1');
    expect(alive(pid1)).toBe(true);
    // The PID file is written before start-stop-daemon's child execs UCARP_EXEC: same PID.
    await until(() => /ucarp[\0 ]-z[\0 ]-u[\0 ]/.test(readFileSync(`/proc/${pid1}/cmdline`, 'utf8')), 5000, 50, 'carpool ucarp in the PID file\'s process');
    // The seed's `\ ` inside the quotes reaches ucarp as an argument of its own; ucarp ignores it.
    expect(readFileSync(`/proc/${pid1}/cmdline`, 'utf8')).toMatch(/eth0:carp0[\0 ]\\[\0 ]-v[\0 ]42/);
    expect(await addressesOf(h(1).ns, 'eth0')).toContain(`${vip}/24`);
    await until(() => log(1).includes(`up eth0:carp0 ${vip}`), 10_000, 100, 'h1 MASTER (up script)');

    expect((await initd(2, 'start')).code).toBe(0);
    const pid2 = await until(() => pidOf(2), 5000, 50, 'PID file of h2');
    expect(alive(pid2)).toBe(true);
    await new Promise((r) => setTimeout(r, 4000)); // > master-down time (3 s)
    expect(log(2)).not.toContain('up ');
    expect(await status(1)).toBe(0);
    expect(await status(2)).toBe(0);

    const stop1 = await initd(1, 'stop');
    expect(stop1.code, stop1.stderr).toBe(0);
    expect(stop1.stdout).toBe('Stopping ucarp daemon: ucarp.\n');
    await until(() => !alive(pid1), 10_000, 50, 'h1 carpool gone');
    expect(log(1)).toContain(`down eth0:carp0 ${vip}`); // -z
    expect(await status(1)).toBe(1); // not running, PID file left (the script does not remove it)
    expect(await addressesOf(h(1).ns, 'eth0')).not.toContain(`${vip}/24`);
    await until(() => log(2).includes(`up eth0:carp0 ${vip}`), 10_000, 100, 'h2 MASTER after h1 stopped');

    expect((await initd(2, 'stop')).code).toBe(0);
    await until(() => !alive(pid2), 10_000, 50, 'h2 carpool gone');
    expect(await status(2)).toBe(1);
  }, 90_000);
});
