/**
 * `carpool ucarp` as a drop-in: ucarp's command lines, script calling convention, signals.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { addressesOf } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, isRoot, skipReason, until, sleep } from '../helpers/procs.js';
import { Workdir, status, stateOf } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';

describe.skipIf(!isRoot)(`carpool ucarp: ucarp's command line and behaviour (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('cu', { hosts: 2, subnet: '10.78.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  let up: string;
  let down: string;
  const log = () => (existsSync(wd.path('hooks.log')) ? readFileSync(wd.path('hooks.log'), 'utf8').trim().split('\n') : []);

  // Namespaces share one file system: each host gets its own run dir, as separate machines would.
  const runDir = (host: string) => wd.path(`run-${host}`);
  const env = (host: string) => ({ CARPOOL_RUN_DIR: runDir(host) });
  beforeAll(() => {
    // The classic ucarp scripts: log the arguments, add/remove the VIP.
    up = wd.write('up.sh', `#!/bin/sh\necho "up $(ip netns identify) $*" >> ${wd.path('hooks.log')}\nip addr add "$2"/24 dev "$1"\n`, 0o755);
    down = wd.write('down.sh', `#!/bin/sh\necho "down $(ip netns identify) $*" >> ${wd.path('hooks.log')}\nip addr del "$2"/24 dev "$1" 2>/dev/null\nexit 0\n`, 0o755);
  });
  const h = (i: number) => lan.hosts[i - 1]!;

  it('runs hooks as `script <interface> <vip> [xparam]` without a shell, and hides the password from ps', async () => {
    const p = procs.add(new Proc('h1', carpoolArgv(h(1).ns, ['ucarp', '-i', 'eth0', '-s', h(1).address, '-v', '7', '-p', 'hunter2', '-a', '10.78.0.100',
      '-u', up, '-d', down, '-x', 'extra arg', '-b', '0', '-k', '20', '-z']), env(h(1).name)));
    await p.waitFor(/Switching to state: MASTER/, 5000);
    await until(() => log().some((l) => l.startsWith('up ')), 3000, 20, 'up hook');
    expect(log()).toEqual([`down ${h(1).ns} eth0 10.78.0.100 extra arg`, `up ${h(1).ns} eth0 10.78.0.100 extra arg`]);
    expect(p.lines.some((l) => /\[WARNING\] Spawning \[.*up\.sh eth0 10\.78\.0\.100 extra arg\]/.test(l))).toBe(true);
    expect(p.lines.some((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}: \[WARNING\] Switching to state: MASTER$/.test(l))).toBe(true);
    const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
    expect(cmdline).not.toContain('hunter2');
    expect(cmdline).toContain('-p *******');
    expect(await addressesOf(h(1).ns, 'eth0')).toContain('10.78.0.100/24');
    // SIGUSR1: the status line ucarp logs.
    p.signal('SIGUSR1');
    await p.waitFor(/\[INFO\] MASTER on eth0 id 7/, 2000);
  });

  it('with -z the down script runs on SIGTERM (and the VIP is released)', async () => {
    const p = procs.add(new Proc('h2', carpoolArgv(h(2).ns, ['ucarp', '-i', 'eth0', '-s', h(2).address, '-v', '8', '-p', 'pw', '-a', '10.78.0.101',
      '-u', up, '-d', down, '-b', '0', '-k', '10', '-z']), env(h(2).name)));
    await p.waitFor(/Switching to state: MASTER/, 5000);
    await until(() => log().some((l) => l.includes('up') && l.includes('10.78.0.101')), 3000, 20, 'up hook');
    const res = await p.stop('SIGTERM');
    expect(res.code).toBe(0);
    expect(log().at(-1)).toBe(`down ${h(2).ns} eth0 10.78.0.101`);
    expect(await addressesOf(h(2).ns, 'eth0')).not.toContain('10.78.0.101/24');
  });

  it('without -z SIGTERM just exits: no script, the VIP stays (as ucarp)', async () => {
    const p = procs.add(new Proc('h2', carpoolArgv(h(2).ns, ['ucarp', '-i', 'eth0', '-s', h(2).address, '-v', '9', '-p', 'pw', '-a', '10.78.0.102',
      '-u', up, '-d', down, '-b', '0', '-k', '10']), env(h(2).name)));
    await p.waitFor(/Switching to state: MASTER/, 5000);
    await until(() => log().some((l) => l.includes('up') && l.includes('10.78.0.102')), 3000, 20, 'up hook');
    const n = log().length;
    await p.stop('SIGTERM');
    await sleep(200);
    expect(log().length).toBe(n);
    expect(await addressesOf(h(2).ns, 'eth0')).toContain('10.78.0.102/24');
    await run(['ip', '-n', h(2).ns, 'addr', 'del', '10.78.0.102/24', 'dev', 'eth0']);
  });

  it('sub-second adverts: advbase 0 / advskew 3 advertises every 11.7 ms and a backup takes over in tens of ms', async () => {
    const a = procs.add(new Proc('a', carpoolArgv(h(1).ns, ['ucarp', '-i', 'eth0', '-s', h(1).address, '-v', '20', '-p', 'fast', '-a', '10.78.0.120', '-b', '0', '-k', '3', '-n']), env(h(1).name)));
    await a.waitFor(/Switching to state: MASTER/, 3000);
    const b = procs.add(new Proc('b', carpoolArgv(h(2).ns, ['ucarp', '-i', 'eth0', '-s', h(2).address, '-v', '20', '-p', 'fast', '-a', '10.78.0.120', '-b', '0', '-k', '9', '-n']), env(h(2).name)));
    await b.waitFor(/Switching to state: BACKUP/, 3000);
    await sleep(1000);
    expect(b.count(/Switching to state: MASTER/)).toBe(0);
    a.signal('SIGSTOP'); // the master freezes: no more adverts
    await b.waitFor(/Switching to state: MASTER/, 2000);
    a.signal('SIGCONT');
    // a hears b (slower) and reasserts itself; b yields.
    await until(() => b.count(/Switching to state: BACKUP/) >= 2, 3000, 20, 'b back to BACKUP');
  });

  it('runs the command line of seed 000 (long options, --daemonize) with `ucarp` replaced', async () => {
    // Seed 000 (tutorials.de): UCARP_INTERFACE=eth0 UCARP_SRCIP=172.16.0.11 UCARP_VHID=1 UCARP_ADVBASE=1 UCARP_PASS=geheim UCARP_ADDR=172.16.0.1
    await run(['ip', '-n', h(1).ns, 'addr', 'add', '172.16.0.11/16', 'dev', 'eth0']);
    const p = new Proc('seed000', carpoolArgv(h(1).ns, ['ucarp', '--interface=eth0', '--srcip=172.16.0.11', '--vhid=1', '--pass=geheim', '--advbase=1',
      '--preempt', '--addr=172.16.0.1', '--daemonize', `--upscript=${up}`, `--downscript=${down}`]), env(h(1).name));
    const res = await p.exited;
    expect(res.code).toBe(0); // the parent returns at once, the daemon runs detached
    const socket = `${runDir(h(1).name)}/ucarp-eth0-vhid1.sock`;
    await until(async () => (await stateOf(socket)) === 'MASTER', 8000, 100, 'seed 000 daemon MASTER');
    const st = await status(socket);
    expect(st.instances[0]!.source).toBe('172.16.0.11');
    process.kill(st.pid, 'SIGTERM');
    await until(() => !existsSync(socket), 3000, 50, 'daemon gone');
  });

  it('runs the command line of seed 003 (an alias interface eth0:carp0) with `ucarp` replaced', async () => {
    // Seed 003 (French init script): OPTIONS="-z"; ucarp -z -b 1 -i eth0:carp0 -v 42 -p <password> -a 192.168.0.32 -s 192.168.0.1
    await run(['ip', '-n', h(2).ns, 'addr', 'add', '192.168.0.1/24', 'dev', 'eth0']);
    const p = procs.add(new Proc('seed003', carpoolArgv(h(2).ns, ['ucarp', '-z', '-b', '1', '-i', 'eth0:carp0', '-v', '42', '-p', 'motdepasse', '-a', '192.168.0.32', '-s', '192.168.0.1']), env(h(2).name)));
    await p.waitFor(/Switching to state: MASTER/, 8000);
    p.signal('SIGUSR1');
    await p.waitFor(/MASTER on eth0:carp0 id 42/, 2000);
    expect((await p.stop('SIGTERM')).code).toBe(0);
  });

  it('a bad option exits non-zero naming the option and the accepted values; nothing starts', async () => {
    const p = new Proc('bad', carpoolArgv(h(1).ns, ['ucarp', '-i', 'eth0', '-s', h(1).address, '-v', '1', '-p', 'x', '-a', '10.78.0.130', '-k', '300']), env(h(1).name));
    const res = await p.exited;
    expect(res.code).toBe(1);
    expect(p.lines.join('\n')).toMatch(/-k.*0\.\.255/);
    const q = new Proc('bad2', carpoolArgv(h(1).ns, ['ucarp', '--bogus']), env(h(1).name));
    expect((await q.exited).code).toBe(1);
    expect(q.lines.join('\n')).toMatch(/--bogus/);
  });

  it('keeps running when its interface disappears and resumes when it returns (ucarp exits silently)', async () => {
    const ns = h(1).ns;
    await run(['ip', '-n', ns, 'link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1']);
    await run(['ip', '-n', ns, 'addr', 'add', '10.79.0.1/24', 'dev', 'vx0']);
    await run(['ip', '-n', ns, 'link', 'set', 'vx0', 'up']);
    await run(['ip', '-n', ns, 'link', 'set', 'vx1', 'up']);
    const p = procs.add(new Proc('vx', carpoolArgv(ns, ['ucarp', '-i', 'vx0', '-s', '10.79.0.1', '-v', '5', '-p', 'pw', '-a', '10.79.0.100', '-b', '0', '-k', '20', '-z', '-u', up, '-d', down]), env('vx')));
    await p.waitFor(/Switching to state: MASTER/, 3000);
    await run(['ip', '-n', ns, 'link', 'del', 'vx0']);
    await p.waitFor(/Interface vx0 disappeared/, 3000);
    await p.waitFor(/Switching to state: BACKUP/, 3000);
    expect(p.running).toBe(true);
    await run(['ip', '-n', ns, 'link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1']);
    await run(['ip', '-n', ns, 'addr', 'add', '10.79.0.1/24', 'dev', 'vx0']);
    await run(['ip', '-n', ns, 'link', 'set', 'vx0', 'up']);
    await run(['ip', '-n', ns, 'link', 'set', 'vx1', 'up']);
    await p.waitFor(/Interface vx0 is back/, 3000);
    await until(() => p.count(/Switching to state: MASTER/) >= 2, 3000, 20, 'master again');
  });
});
