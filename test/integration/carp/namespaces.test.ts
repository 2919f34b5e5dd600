/**
 * Two `carpool ucarp` with default settings (no socket or state options, no CARPOOL_RUN_DIR) in two
 * network namespaces of one host, which share /run: each gets its namespace's run directory, they
 * fail over between each other as two ucarp would, and `carpool status`, `demote` and `resource`
 * run in a namespace find that namespace's daemon (issue 13).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressesOf } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import type { DaemonStatus } from '../../../src/control/status.js';
import { ProcSet, Proc, carpoolArgv, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';

describe.skipIf(!isRoot)(`carpool ucarp with default run directories in two namespaces (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const runDirs = (): string[] => lan.hosts.map((h) => `/run/carpool/ns-${h.ns}`);
  const lan = useLab('nsd', {
    hosts: 2, subnet: '10.84.0',
    beforeDestroy: async () => {
      await procs.killAll();
      wd.remove();
      for (const d of runDirs()) rmSync(d, { recursive: true, force: true });
    },
  });
  const h = (i: number) => lan.hosts[i - 1]!;
  const vip = '10.84.0.100';
  // The daemons and the CLI must find their directories themselves.
  const saved = process.env.CARPOOL_RUN_DIR;
  beforeAll(() => { delete process.env.CARPOOL_RUN_DIR; });
  afterAll(() => { if (saved !== undefined) process.env.CARPOOL_RUN_DIR = saved; });

  const cli = (i: number, ...args: string[]) => run(carpoolArgv(h(i).ns, args), { allowFail: true });
  const statusIn = async (i: number): Promise<DaemonStatus[]> => {
    const r = await cli(i, 'status', '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as DaemonStatus[];
  };
  const stateIn = async (i: number): Promise<string | undefined> => {
    const r = await cli(i, 'status', '--json');
    return r.code === 0 ? (JSON.parse(r.stdout) as DaemonStatus[])[0]?.instances[0]?.state : undefined;
  };
  const hasVip = async (i: number) => (await addressesOf(h(i).ns, 'eth0')).includes(`${vip}/24`);

  it('fail over between each other; status, demote and resource find their own namespace\'s daemon', async () => {
    for (const d of runDirs()) expect(existsSync(d), `${d} left over`).toBe(false);
    const up = wd.write('up.sh', '#!/bin/sh\nip addr add "$2"/24 dev "$1"\n', 0o755);
    const down = wd.write('down.sh', '#!/bin/sh\nip addr del "$2"/24 dev "$1" 2>/dev/null\nexit 0\n', 0o755);
    const ucarp = (i: number, skew: string) => procs.add(new Proc(`h${i}`, carpoolArgv(h(i).ns,
      ['ucarp', '-i', 'eth0', '-s', h(i).address, '-v', '31', '-p', 'pw', '-a', vip, '-u', up, '-d', down, '-b', '0', '-k', skew])));

    const a = ucarp(1, '20');
    await a.waitFor(/Switching to state: MASTER/, 5000);
    const b = ucarp(2, '60'); // before per-namespace directories: "another carpool daemon is running"
    await b.waitFor(/Switching to state: BACKUP/, 5000);
    expect(b.lines.join('\n')).not.toMatch(/another carpool daemon/);

    // Each namespace has its own directory, and status there shows only its own daemon.
    for (const [i, p] of [[1, a], [2, b]] as const) {
      expect(readdirSync(runDirs()[i - 1]!)).toContain('ucarp-eth0-vhid31.sock');
      const st = await statusIn(i);
      expect(st.map((s) => [s.pid, s.mode])).toEqual([[p.pid, 'ucarp']]);
    }
    expect((await statusIn(1))[0]!.instances[0]!.state).toBe('MASTER');
    expect((await statusIn(2))[0]!.instances[0]!.state).toBe('BACKUP');

    // `resource` reaches the ucarp-mode daemon (which has no resources) instead of a missing carpool.sock.
    const res = await cli(1, 'resource', 'status');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('this daemon manages no resources');

    // demote (default socket) in h1: the master hands over to h2.
    const dem = await cli(1, 'demote');
    expect(dem.code, dem.stderr).toBe(0);
    await until(async () => (await stateIn(2)) === 'MASTER', 5000, 50, 'h2 MASTER after demote');
    await until(hasVip.bind(null, 2), 3000, 50, 'VIP on h2');
    expect((await cli(1, 'demote', '--clear')).code).toBe(0);

    // Kill the master: h1 takes the VIP back.
    await b.stop('SIGKILL');
    await run(['ip', '-n', h(2).ns, 'addr', 'del', `${vip}/24`, 'dev', 'eth0']); // a dead host answers no ARP
    await until(async () => (await stateIn(1)) === 'MASTER', 5000, 50, 'h1 MASTER after h2 died');
    await until(hasVip.bind(null, 1), 3000, 50, 'VIP on h1');
    expect(await hasVip(2)).toBe(false);

    // In h2 only the dead daemon's socket is left: status finds no daemon there, and not h1's either.
    const none = await cli(2, 'status');
    expect(none.code).toBe(3);
    expect(none.stdout).not.toContain('MASTER');
  });
});
