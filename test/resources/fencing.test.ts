/**
 * Fencing (docs/resources.md, "Failed stops and fencing"): a group that requires it is fenced
 * before it starts after its instance became MASTER because the peer vanished; it starts only
 * if the fence exits 0, and a failed fence keeps it stopped until cleanup.
 */
import { describe, expect, it } from 'vitest';
import type { GroupEffect, GroupSpec } from '../../src/resources/core/group-model.js';
import { fenceNeeded } from '../../src/resources/core/fencing.js';
import { GroupSim, member } from './group-sim.js';

const spec = (fence = true): GroupSpec => ({
  id: 'web', instance: 'vip', members: [member('ip'), member('nginx')], ...(fence ? { fence: { timeoutMs: 30_000 } } : {}),
});

type Fence = Extract<GroupEffect, { type: 'fence' }>;
const fences = (sim: GroupSim): Fence[] => sim.effects.flatMap(({ e }) => (e.type === 'fence' ? [e] : []));
const answer = (sim: GroupSim, f: Fence, rc: number | 'timeout') => sim.input({
  type: 'fenceResult', callId: f.callId, outcome: rc === 'timeout' ? { kind: 'timeout' } : { kind: 'exited', rc },
  exitReason: rc === 0 ? '' : 'cannot reach the power switch', output: '', execMs: 40, at: '2026-01-01T00:00:00.000Z',
});

function backupThenMaster(sim: GroupSim, reason: string): void {
  sim.settle();
  sim.input({ type: 'instance', state: 'BACKUP', reason: 'startup' });
  sim.settle();
  sim.input({ type: 'instance', state: 'MASTER', reason, peer: '10.0.0.2' });
  sim.settle();
}

describe('fencing: when', () => {
  it.each([
    ['master-down timeout', true], ['sync group: master-down timeout', true], ['startup: address owner', true],
    ['master bowed out', false], ['master resigned (priority 0)', false], ['preemption', false],
    ['master advertises slower than our dead time', false], ['', false],
  ])('%s → %s', (reason, needed) => {
    expect(fenceNeeded(reason)).toBe(needed);
  });
});

describe('fencing: the group machine', () => {
  it('after a master-down timeout: fence first (with reason and peer), start only after it exits 0', () => {
    const sim = new GroupSim(spec());
    backupThenMaster(sim, 'master-down timeout');
    expect(sim.actions()).toEqual([]); // nothing started while the fence has not answered
    const [f] = fences(sim);
    expect(f).toMatchObject({ timeoutMs: 30_000, reason: 'master-down timeout', peer: '10.0.0.2' });
    expect(sim.m.status(sim.now)).toMatchObject({ state: 'Fencing', fence: { state: 'running' } });
    answer(sim, f!, 0);
    sim.settle();
    expect(sim.actions()).toEqual(['start ip', 'start nginx']);
    expect(sim.m.status(sim.now)).toMatchObject({ state: 'Started', fence: { state: 'none', lastFailure: null } });
  });

  it('after a bow-out (planned hand-over): no fence', () => {
    const sim = new GroupSim(spec());
    backupThenMaster(sim, 'master bowed out');
    expect(fences(sim)).toEqual([]);
    expect(sim.runningSet()).toEqual(['ip', 'nginx']);
  });

  it('a group without fence ignores the reason', () => {
    const sim = new GroupSim(spec(false));
    backupThenMaster(sim, 'master-down timeout');
    expect(fences(sim)).toEqual([]);
    expect(sim.runningSet()).toEqual(['ip', 'nginx']);
    expect(sim.m.status(sim.now).fence).toBeUndefined();
  });

  it('a failed fence keeps the group stopped, also through a later bow-out, until cleanup fences again', () => {
    const sim = new GroupSim(spec());
    backupThenMaster(sim, 'master-down timeout');
    answer(sim, fences(sim)[0]!, 1);
    sim.settle(60_000);
    expect(sim.actions()).toEqual([]);
    const st = sim.m.status(sim.now);
    expect(st.state).toBe('Fencing failed');
    expect(st.fence).toMatchObject({ state: 'failed', why: 'became MASTER by master-down timeout (peer 10.0.0.2)' });
    expect(st.fence?.lastFailure).toMatchObject({ key: 'web_fence_0', action: 'fence', text: 'exit 1', exitReason: 'cannot reach the power switch' });
    // Sticky: leaving MASTER and coming back (even by a bow-out) does not start it.
    sim.input({ type: 'instance', state: 'BACKUP', reason: 'preferred master advertised' });
    sim.input({ type: 'instance', state: 'MASTER', reason: 'master bowed out' });
    sim.settle(60_000);
    expect(sim.actions()).toEqual([]);
    expect(fences(sim)).toHaveLength(1);
    // Cleanup: the fence runs again (while MASTER); this time it works.
    sim.input({ type: 'cleanup' });
    sim.settle();
    expect(fences(sim)).toHaveLength(2);
    answer(sim, fences(sim)[1]!, 0);
    sim.settle();
    expect(sim.runningSet()).toEqual(['ip', 'nginx']);
  });

  it('a fence that times out counts as failed', () => {
    const sim = new GroupSim(spec());
    backupThenMaster(sim, 'master-down timeout');
    answer(sim, fences(sim)[0]!, 'timeout');
    expect(sim.m.status(sim.now).fence?.lastFailure).toMatchObject({ status: 'Timed Out', text: 'timed out after 30000 ms' });
    expect(sim.runningSet()).toEqual([]);
  });

  it('leaving MASTER while the fence runs cancels it; its late answer changes nothing', () => {
    const sim = new GroupSim(spec());
    backupThenMaster(sim, 'master-down timeout');
    const [f] = fences(sim);
    sim.input({ type: 'instance', state: 'BACKUP', reason: 'preferred master advertised' });
    expect(sim.effects.some(({ e }) => e.type === 'cancel' && e.callId === f!.callId)).toBe(true);
    answer(sim, f!, 0);
    sim.settle();
    expect(sim.runningSet()).toEqual([]);
    expect(sim.m.status(sim.now).fence?.state).toBe('none');
  });

  it('daemon exit while fencing: cancelled, and the group reports stopped', () => {
    const sim = new GroupSim(spec());
    backupThenMaster(sim, 'master-down timeout');
    sim.input({ type: 'shutdown' });
    sim.settle();
    expect(sim.stopped).toBe(true);
    expect(sim.m.active).toBe(false);
  });
});
