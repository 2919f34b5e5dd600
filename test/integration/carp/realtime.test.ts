/**
 * `realtime_priority`: the daemon's event loop runs at SCHED_RR, what it spawns (the up hook
 * here) at normal priority, and `carpool status` says so. Read from the kernel (/proc).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProcSet, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir, nativeConfig, startNative, socketOf, stateOf, status } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';

/** Policy (0 = SCHED_OTHER, 2 = SCHED_RR) and rt_priority: fields 41 and 40 of a stat line. */
function sched(stat: string): { policy: number; priority: number } {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(' '); // fields[0] is field 3
  return { priority: Number(fields[37]), policy: Number(fields[38]) };
}

describe.skipIf(!isRoot)(`realtime_priority (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('rt', { hosts: 1, subnet: '10.79.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  it('runs the daemon at SCHED_RR and its hooks at normal priority', async () => {
    const h1 = lan.hosts[0]!;
    const hookStat = wd.path('hook.stat');
    const d = startNative(procs, h1, nativeConfig(wd, h1, {
      advbase: 0, advskew: 50, addresses: ['10.79.0.100/24'], top: 'realtime_priority: 7',
      extra: `    hooks: { up: [/bin/sh, -c, "cat /proc/self/stat > ${hookStat}"] }`,
    }));
    const sock = socketOf(wd, h1);
    await until(async () => (await stateOf(sock)) === 'MASTER', 10_000, 50, 'h1 MASTER');
    expect(sched(readFileSync(`/proc/${d.pid}/task/${d.pid}/stat`, 'utf8'))).toEqual({ policy: 2, priority: 7 });
    await until(() => Promise.resolve(existsSync(hookStat) && readFileSync(hookStat, 'utf8').length > 0), 5000, 50, 'the up hook ran');
    expect(sched(readFileSync(hookStat, 'utf8'))).toEqual({ policy: 0, priority: 0 });
    expect((await status(sock)).scheduling).toBe('SCHED_RR 7');
    expect(d.count(/Running at realtime priority 7 \(SCHED_RR\)/)).toBe(1);
  });
});
