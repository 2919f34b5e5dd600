/**
 * Defect 3 of issue 11: hooks of one instance must not wait for another's. Before, one
 * queue served the whole daemon: a hanging up hook of instance A delayed every other
 * instance's hooks by up to 120 s (not configurable) — including the down hook that should
 * remove B's address. Now each instance has its own queue (order kept within it) and the
 * timeout is `hook_timeout` (top level and per instance).
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/control/client.js';
import { createLan, destroyLan, type Lan, type LabHost } from '../../../src/lab/netns.js';
import { Workdir, instance, socketOf, startNative } from '../helpers/carp.js';
import { ProcSet, isRoot, skipReason, sleep, until } from '../helpers/procs.js';

describe.skipIf(!isRoot)(`faults: hooks per instance (${skipReason})`, () => {
  const prefix = `fh${process.pid % 10000}`;
  const procs = new ProcSet();
  const wd = new Workdir();
  let lan: Lan;
  /** PIDs of the hanging hooks (they run in their own process group: killed here by PID). */
  const hangPids = () => (existsSync(wd.path('hang.pids')) ? readFileSync(wd.path('hang.pids'), 'utf8').trim().split('\n').map(Number) : []);

  beforeAll(async () => {
    lan = await createLan({ prefix, hosts: 2, subnet: '10.96.0', client: false });
  });
  afterAll(async () => {
    await procs.killAll();
    for (const pid of hangPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await destroyLan(prefix);
    wd.remove();
  });

  const h = (i: number) => lan.hosts[i - 1]!;
  const hang = wd.write('hang.sh', `#!/bin/sh\necho $$ >> ${wd.path('hang.pids')}\nexec sleep 300\n`, 0o755);
  /** A hook that records `<name> <arg...>` with a time stamp (ms since the epoch). */
  const record = (name: string) => wd.write(`${name}.sh`,
    `#!/bin/sh\necho "$(date +%s%3N) ${name}" >> ${wd.path('events')}\n`, 0o755);
  const events = (name: string): number[] => (existsSync(wd.path('events'))
    ? readFileSync(wd.path('events'), 'utf8').trim().split('\n').filter((l) => l.endsWith(` ${name}`)).map((l) => Number(l.split(' ')[0]))
    : []);

  /** Two CARP instances on one daemon: A (vhid 21) masters first, B (vhid 22) a little later. */
  const config = (host: LabHost, o: { skewA: number; skewB: number; preempt: boolean; hooks: boolean; top?: string; aTimeout?: string }) => {
    const inst = (name: string, vhid: number, skew: number, vip: string, hooks: string) => [
      `  - name: ${name}`, `    interface: ${host.ifname}`, `    vhid: ${vhid}`, '    password: secret', '    advbase: 1',
      `    advskew: ${skew}`, '    deadratio: 3', `    preempt: ${o.preempt}`, '    addresses:', `      - ${vip}`,
      ...(hooks ? [hooks] : []),
    ];
    return wd.write(`${host.name}.yaml`, [
      `control_socket: ${socketOf(wd, host)}`, `state_dir: ${wd.path(`${host.name}/state`)}`, ...(o.top ? [o.top] : []), 'instances:',
      ...inst('A', 21, o.skewA, '10.96.0.100/24', o.hooks ? `    hooks: { up: ${hang} }${o.aTimeout ? `\n    hook_timeout: ${o.aTimeout}` : ''}` : ''),
      ...inst('B', 22, o.skewB, '10.96.0.101/24', o.hooks ? `    hooks: { up: ${record('B-up')}, down: ${record('B-down')} }` : ''),
      '',
    ].join('\n'), 0o600);
  };

  it("a hanging up hook of A delays neither B's up hook nor B's down hook", async () => {
    const d1 = startNative(procs, h(1), config(h(1), { skewA: 0, skewB: 60, preempt: false, hooks: true }));
    const d2 = startNative(procs, h(2), config(h(2), { skewA: 100, skewB: 100, preempt: true, hooks: false }));
    const sock = socketOf(wd, h(1));
    await until(async () => (await instance(sock, 'B').catch(() => undefined))?.state === 'MASTER', 15_000, 20, 'h1 B MASTER');
    const bMasterAt = Date.now();
    await until(() => hangPids().length > 0, 5000, 20, "A's up hook running");
    // B's up hook runs although A's is still hanging (one queue: it waited up to 120 s).
    await until(() => events('B-up').length > 0, 3000, 20, "B's up hook");
    expect(events('B-up')[0]! - bMasterAt).toBeLessThan(2000);
    // Demote B on h1: h2 (preempt) takes it over, h1's B goes BACKUP and its down hook runs at once.
    await controlRequest(sock, { cmd: 'demote', args: { instance: 'B' } }, 3000);
    await d1.waitFor(/B: MASTER -> BACKUP/, 10_000);
    const bBackupAt = Date.now();
    await until(() => events('B-down').length > 0, 3000, 20, "B's down hook");
    expect(events('B-down')[0]! - bBackupAt).toBeLessThan(1000);
    expect((await instance(sock, 'A')).state).toBe('MASTER');
    expect(d1.count(/A up hook .* timed out/)).toBe(0); // A's hook was still hanging all along
    await d1.stop('SIGKILL');
    await d2.stop('SIGKILL');
  });

  it('hook_timeout (per instance over the top-level default) kills a hanging hook', async () => {
    const d1 = startNative(procs, h(1), config(h(1), { skewA: 0, skewB: 60, preempt: false, hooks: true, top: 'hook_timeout: 1s', aTimeout: '3s' }));
    await d1.waitFor(/A: Switching to state: MASTER/, 15_000);
    const t0 = Date.now();
    const line = await d1.waitFor(/A up hook \S+ timed out after/, 8000);
    expect(line).toMatch(/timed out after 3000 ms and was killed/);
    expect(Date.now() - t0).toBeGreaterThan(2500);
    // The hook's process group was killed.
    const pid = hangPids().at(-1)!;
    await until(() => !existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 2000, 20, 'hook killed');
    await sleep(100);
    const st = d1.stop('SIGTERM');
    expect(await st).toEqual({ code: 0, signal: null });
  });
});
