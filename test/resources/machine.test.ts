import { describe, expect, it } from 'vitest';
import { golden } from '../helpers/golden.js';
import fc from 'fast-check';
import { GroupSim, member } from './group-sim.js';
import type { GroupSpec, MemberSpec } from '../../src/resources/core/group-model.js';
import { INFINITY } from '../../src/resources/core/status.js';

const web = (over: Partial<MemberSpec> = {}): GroupSpec => ({
  id: 'web', instance: 'vip', members: [member('ip', over), member('data', over), member('nginx', over)],
});

function started(sim: GroupSim): void {
  sim.settle();
  sim.input({ type: 'instance', state: 'BACKUP' });
  sim.settle();
  sim.input({ type: 'instance', state: 'MASTER' });
  sim.settle();
}

describe('resource group machine', () => {
  it('probes first, starts in order on MASTER, stops in reverse on BACKUP', () => {
    const sim = new GroupSim(web());
    started(sim);
    expect(sim.runningSet()).toEqual(['ip', 'data', 'nginx']);
    expect(sim.m.status(sim.now).state).toBe('Started');
    sim.input({ type: 'instance', state: 'BACKUP' });
    sim.settle();
    expect(sim.actions()).toEqual(['start ip', 'start data', 'start nginx', 'stop nginx', 'stop data', 'stop ip']);
    expect(sim.runningSet()).toEqual([]);
    golden('scenarios/group-start-stop.txt', sim.transcript);
  });

  it('starts nothing before the probes are in, and stops what a probe finds running on a backup', () => {
    const sim = new GroupSim(web(), { running: ['data'] }); // left over from a previous run
    sim.input({ type: 'instance', state: 'BACKUP' });
    sim.settle();
    expect(sim.actions()).toEqual(['stop data']);
    expect(sim.runningSet()).toEqual([]);
  });

  it('recovers a failed member in place: stops the ones after it, restarts it, starts them again', () => {
    const sim = new GroupSim(web());
    started(sim);
    const before = sim.actions().length;
    sim.agent('data').running = false; // killed behind our back
    sim.runUntil(sim.now + 10_500);
    expect(sim.actions().slice(before)).toEqual(['stop nginx', 'stop data', 'start data', 'start nginx']);
    expect(sim.runningSet()).toEqual(['ip', 'data', 'nginx']);
    const st = sim.m.status(sim.now).members.find((m) => m.id === 'data')!;
    expect(st).toMatchObject({ state: 'Started', failcount: 1 });
    expect(st.lastFailure).toMatchObject({ key: 'data_monitor_10000', rc: 7, text: "'not running' (7)", status: 'complete' });
    expect(sim.standby).toBe(false);
  });

  it('moves the group away after migration-threshold failures and stays away until cleanup', () => {
    const sim = new GroupSim(web({ migrationThreshold: 2 }));
    started(sim);
    for (let i = 0; i < 2; i++) {
      sim.agent('nginx').running = false;
      sim.runUntil(sim.now + 10_500);
    }
    expect(sim.runningSet()).toEqual([]);
    expect(sim.standby).toBe(true);
    const st = sim.m.status(sim.now);
    expect(st).toMatchObject({ eligible: false, standby: true, state: 'Stopped' });
    expect(st.ineligibleReason).toContain('nginx failed 2 times (migration-threshold 2)');
    // The instance hands over; becoming MASTER again (peer died) must not start it here.
    sim.input({ type: 'instance', state: 'BACKUP' });
    sim.input({ type: 'instance', state: 'MASTER' });
    sim.settle(60_000);
    expect(sim.runningSet()).toEqual([]);
    sim.input({ type: 'cleanup', resource: 'nginx' });
    sim.settle();
    expect(sim.standby).toBe(false);
    expect(sim.runningSet()).toEqual(['ip', 'data', 'nginx']);
    golden('scenarios/group-threshold-cleanup.txt', sim.transcript);
  });

  it('forgets failures after failure-timeout and lifts standby then', () => {
    const sim = new GroupSim(web({ migrationThreshold: 1, failureTimeoutMs: 60_000 }));
    started(sim);
    sim.agent('ip').running = false;
    sim.runUntil(sim.now + 10_500);
    expect(sim.standby).toBe(true);
    sim.input({ type: 'instance', state: 'BACKUP' });
    sim.runUntil(sim.now + 30_000);
    expect(sim.standby).toBe(true);
    sim.runUntil(sim.now + 31_000);
    expect(sim.standby).toBe(false);
    expect(sim.m.status(sim.now).members[0]!.failcount).toBe(0);
  });

  it('a failed start is fatal for this node (failcount INFINITY): it stops the rest and asks for standby', () => {
    const sim = new GroupSim(web({ migrationThreshold: 0 }));
    sim.agent('data').startRc.push(1);
    started(sim);
    expect(sim.actions()).toEqual(['start ip', 'start data', 'stop data', 'stop ip']);
    expect(sim.standby).toBe(true);
    const st = sim.m.status(sim.now);
    expect(st.members[1]).toMatchObject({ failcount: INFINITY, state: 'Stopped' });
    expect(st.ineligibleReason).toMatch(/data: start failed: 'error' \(1\)/);
  });

  it('a hung start that the shell times out is a failure like any other', () => {
    const sim = new GroupSim(web());
    sim.agent('nginx').hangStart = true;
    started(sim);
    const call = sim.effects.map((x) => x.e).find((e) => e.type === 'run' && e.call.action === 'start' && e.call.resource === 'nginx');
    expect(call?.type === 'run' && call.call.timeoutMs).toBe(20_000);
    expect(sim.m.status(sim.now).members[2]!.state).toBe('Starting');
    sim.agent('nginx').hangStart = false;
    if (call?.type === 'run') sim.timeout('nginx', call.call);
    sim.settle();
    expect(sim.actions().slice(-3)).toEqual(['stop nginx', 'stop data', 'stop ip']);
    expect(sim.m.status(sim.now).members[2]!.lastFailure).toMatchObject({ status: 'Timed Out', text: "'Timed Out' (1)", output: 'still starting...' });
    expect(sim.standby).toBe(true);
  });

  it('hard errors ban the node at once; unknown exit codes are soft failures', () => {
    const sim = new GroupSim(web({ migrationThreshold: 5 }));
    started(sim);
    sim.agent('data').monitorRc.push(42);
    sim.runUntil(sim.now + 10_500);
    expect(sim.standby).toBe(false);
    expect(sim.m.status(sim.now).members[1]!.lastFailure).toMatchObject({ rc: 42, text: "'unknown exit code' (42)", severity: 'soft' });
    sim.agent('data').monitorRc.push(5);
    sim.runUntil(sim.now + 10_500);
    expect(sim.standby).toBe(true);
    expect(sim.m.status(sim.now).ineligibleReason).toContain("'not installed' (5)");
  });

  it('on-fail=stop keeps the member and the ones after it stopped; on-fail=ignore only records', () => {
    const spec: GroupSpec = { id: 'g', instance: 'vip', members: [
      member('a', { monitor: { intervalMs: 10_000, timeoutMs: 20_000, onFail: 'ignore' } }),
      member('b', { monitor: { intervalMs: 10_000, timeoutMs: 20_000, onFail: 'stop' } }),
      member('c'),
    ] };
    const sim = new GroupSim(spec);
    started(sim);
    sim.agent('a').monitorRc.push(1);
    sim.agent('b').monitorRc.push(1);
    sim.runUntil(sim.now + 10_500);
    expect(sim.runningSet()).toEqual(['a']);
    const st = sim.m.status(sim.now);
    expect(st.state).toBe('Partially started');
    expect(st.members.map((m) => [m.id, m.state, m.failcount])).toEqual([['a', 'Started', 1], ['b', 'Stopped', 1], ['c', 'Stopped', 0]]);
    expect(sim.standby).toBe(false);
    sim.input({ type: 'cleanup', resource: 'b' });
    sim.settle();
    expect(sim.runningSet()).toEqual(['a', 'b', 'c']);
  });

  it('a failed stop blocks: the members before it stay up and nothing is handed over', () => {
    const sim = new GroupSim(web());
    started(sim);
    sim.agent('data').stopRc.push(1);
    sim.input({ type: 'instance', state: 'BACKUP' });
    sim.settle();
    expect(sim.actions().slice(-2)).toEqual(['stop nginx', 'stop data']);
    expect(sim.runningSet()).toEqual(['ip', 'data']);
    expect(sim.m.status(sim.now).state).toBe('Blocked');
    sim.input({ type: 'cleanup', resource: 'data' });
    sim.settle();
    expect(sim.runningSet()).toEqual([]);
  });

  it('operator move stops the group and holds standby until clear; restart restarts in place', () => {
    const sim = new GroupSim(web());
    started(sim);
    sim.input({ type: 'restart', resource: 'data' });
    sim.settle();
    expect(sim.actions().slice(-4)).toEqual(['stop nginx', 'stop data', 'start data', 'start nginx']);
    sim.input({ type: 'move' });
    sim.settle();
    expect(sim.runningSet()).toEqual([]);
    expect(sim.standby).toBe(true);
    expect(sim.m.status(sim.now)).toMatchObject({ moved: true, eligible: false, ineligibleReason: 'moved away by the operator' });
    sim.input({ type: 'clear' });
    sim.settle();
    expect(sim.standby).toBe(false);
    expect(sim.runningSet()).toEqual(['ip', 'data', 'nginx']);
  });

  it('shutdown stops in reverse order and then says stopped; a hung action is waited for', () => {
    const sim = new GroupSim(web());
    started(sim);
    sim.input({ type: 'shutdown' });
    expect(sim.stopped).toBe(false);
    sim.settle();
    expect(sim.actions().slice(-3)).toEqual(['stop nginx', 'stop data', 'stop ip']);
    expect(sim.stopped).toBe(true);
    // Standby is not touched on the way out (the instance bows out on its own).
    expect(sim.effects.some(({ e }) => e.type === 'standby')).toBe(false);
  });

  it('a persisted move means standby from the start', () => {
    const sim = new GroupSim(web(), { moved: true });
    sim.settle();
    expect(sim.standby).toBe(true);
  });

  it('ignores results of cancelled monitors', () => {
    const sim = new GroupSim(web());
    started(sim);
    // Monitors are in flight when the node becomes backup: each is cancelled before its stop.
    sim.latency = 5000;
    sim.runUntil(sim.m.nextDeadline()! + 250);
    sim.latency = 100;
    expect(sim.pending.map((p) => p.call.action)).toEqual(['monitor', 'monitor', 'monitor']);
    sim.input({ type: 'instance', state: 'BACKUP' });
    expect(sim.effects.filter(({ e }) => e.type === 'cancel').map(({ e }) => e.type === 'cancel' && e.resource)).toEqual(['nginx']);
    sim.settle(20_000);
    expect(sim.runningSet()).toEqual([]);
  });
});

// --- properties ---------------------------------------------------------------------------

type Op =
  | { op: 'instance'; state: 'MASTER' | 'BACKUP' }
  | { op: 'kill'; who: number }
  | { op: 'failStart'; who: number; rc: number }
  | { op: 'failMonitor'; who: number; rc: number }
  | { op: 'failStop'; who: number }
  | { op: 'deliver'; pick: number }
  | { op: 'advance'; ms: number }
  | { op: 'cleanup' } | { op: 'move' } | { op: 'clear' } | { op: 'restart'; who: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('instance' as const), state: fc.constantFrom('MASTER' as const, 'BACKUP' as const) }),
  fc.record({ op: fc.constant('kill' as const), who: fc.nat(3) }),
  fc.record({ op: fc.constant('failStart' as const), who: fc.nat(3), rc: fc.constantFrom(1, 2, 5, 6, 42, 255) }),
  fc.record({ op: fc.constant('failMonitor' as const), who: fc.nat(3), rc: fc.constantFrom(1, 7, 5, 99) }),
  fc.record({ op: fc.constant('failStop' as const), who: fc.nat(3) }),
  fc.record({ op: fc.constant('deliver' as const), pick: fc.nat(5) }),
  fc.record({ op: fc.constant('deliver' as const), pick: fc.nat(5) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 30_000 }) }),
  fc.constant({ op: 'cleanup' as const }), fc.constant({ op: 'move' as const }), fc.constant({ op: 'clear' as const }),
  fc.record({ op: fc.constant('restart' as const), who: fc.nat(3) }),
);

describe('resource group machine (properties)', () => {
  const ids = ['a', 'b', 'c', 'd'];
  const spec = (threshold: number): GroupSpec => ({ id: 'g', instance: 'vip', members: ids.map((id) => member(id, { migrationThreshold: threshold, failureTimeoutMs: 45_000 })) });

  it('starts only on a master, in order; stops in reverse; one action per resource; standby only when stopped', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 80 }), fc.integer({ min: 0, max: 3 }), (ops, threshold) => {
      const sim = new GroupSim(spec(threshold));
      /** What the machine has been told works: up after start/probe-running, down after stop/probe-stopped. */
      const view = new Map(ids.map((id) => [id, 'unknown']));
      sim.onResult = (call, rc) => {
        const id = call.resource;
        if (call.action === 'start') view.set(id, 'up'); // a failed start still needs a stop
        else if (call.action === 'stop') view.set(id, rc === 0 ? 'down' : 'up');
        else if (call.intervalMs === 0) view.set(id, rc === 7 || rc === 5 ? 'down' : 'up');
      };
      sim.onEffect = (e) => {
        if (e.type === 'run') {
          const i = ids.indexOf(e.call.resource);
          if (e.call.action === 'start') {
            expect(sim.instance).toBe('MASTER');
            for (const before of ids.slice(0, i)) expect(view.get(before)).toBe('up');
          }
          if (e.call.action === 'stop') for (const after of ids.slice(i + 1)) expect(view.get(after)).toBe('down');
          expect(sim.pending.some((p) => p.call.resource === e.call.resource)).toBe(false);
        }
        if (e.type === 'standby' && e.on) for (const id of ids) expect(view.get(id)).toBe('down');
      };
      for (const o of ops) {
        switch (o.op) {
          case 'instance': sim.input({ type: 'instance', state: o.state }); break;
          case 'kill': sim.agent(ids[o.who]!).running = false; break;
          case 'failStart': sim.agent(ids[o.who]!).startRc.push(o.rc); break;
          case 'failMonitor': sim.agent(ids[o.who]!).monitorRc.push(o.rc); break;
          case 'failStop': sim.agent(ids[o.who]!).stopRc.push(1); break;
          case 'deliver': if (sim.pending.length) sim.deliver(o.pick % sim.pending.length); break;
          case 'advance': {
            sim.runUntil(sim.now + o.ms);
            break;
          }
          case 'cleanup': sim.input({ type: 'cleanup' }); break;
          case 'move': sim.input({ type: 'move' }); break;
          case 'clear': sim.input({ type: 'clear' }); break;
          case 'restart': sim.input({ type: 'restart', resource: ids[o.who]! }); break;
        }
      }
      // Afterwards: healthy agents, cleaned up, master: everything runs, in order. (Actions
      // still in flight finish first: a failure that arrives after a cleanup counts, rightly.)
      for (const a of sim.agents.values()) { a.startRc = []; a.monitorRc = []; a.stopRc = []; }
      sim.settle(1000);
      sim.input({ type: 'clear' });
      sim.input({ type: 'cleanup' });
      sim.input({ type: 'instance', state: 'MASTER' });
      sim.settle(120_000);
      expect(sim.runningSet()).toEqual(ids);
      expect(sim.standby).toBe(false);
      // And a backup runs nothing.
      sim.input({ type: 'instance', state: 'BACKUP' });
      sim.settle(60_000);
      expect(sim.runningSet()).toEqual([]);
    }), { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) });
  });

  it('stop order is always the reverse of start order', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.nat(5), (n, failAt) => {
      const names = Array.from({ length: n }, (_, i) => `r${i}`);
      const sim = new GroupSim({ id: 'g', instance: 'vip', members: names.map((id) => member(id)) });
      if (failAt < n) sim.agent(names[failAt]!).startRc.push(1);
      started(sim);
      sim.input({ type: 'shutdown' });
      sim.settle();
      const acts = sim.actions();
      const starts = acts.filter((a) => a.startsWith('start')).map((a) => a.slice(6));
      const stops = acts.filter((a) => a.startsWith('stop')).map((a) => a.slice(5));
      expect(stops).toEqual([...starts].reverse());
      expect(sim.stopped).toBe(true);
    }));
  });
});
