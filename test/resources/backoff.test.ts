/**
 * Restart backoff of the pure group machine (issue 11, defect 6): a member whose start succeeds
 * and whose monitor always fails must not be restarted as fast as the agents answer. Every test
 * runs on the simulated clock of GroupSim (deterministic, `now` handed in).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GroupSim, member } from './group-sim.js';
import type { GroupSpec, MemberSpec } from '../../src/resources/core/group-model.js';
import { memberStateText } from '../../src/status/resources-text.js';

const S = 1000;
const MIN = 60 * S;

/** One member `app` (plus `web` after it when `withWeb`); its monitor fails after every start while `flapping`. */
function flapper(over: Partial<MemberSpec> = {}, withWeb = false): { sim: GroupSim; flap: { on: boolean } } {
  const spec: GroupSpec = {
    id: 'g', instance: 'vip',
    members: [member('app', { migrationThreshold: 0, ...over }), ...(withWeb ? [member('web', { migrationThreshold: 0 })] : [])],
  };
  const sim = new GroupSim(spec);
  const flap = { on: true };
  // The start succeeds, and the service dies right away: the monitor that follows says 7.
  sim.onResult = (call) => { if (flap.on && call.resource === 'app' && call.action === 'start') sim.agent('app').running = false; };
  sim.input({ type: 'instance', state: 'MASTER' });
  return { sim, flap };
}

/** Times (ms) of the starts of `app`. */
function starts(sim: GroupSim, id = 'app'): number[] {
  return sim.effects.filter(({ e }) => e.type === 'run' && e.call.action === 'start' && e.call.resource === id).map(({ t }) => t);
}

const gaps = (ts: readonly number[]): number[] => ts.slice(1).map((t, i) => t - ts[i]!);

describe('restart backoff', () => {
  it('a monitor that always fails (threshold never) restarts with growing delays, not as fast as the agent answers', () => {
    const { sim } = flapper();
    sim.runUntil(60 * S);
    const ts = starts(sim);
    // Without a backoff: start, monitor, stop at 100 ms each = a restart every 300 ms (200 a minute).
    expect(ts.length).toBeLessThanOrEqual(8);
    expect(ts.length).toBeGreaterThanOrEqual(6);
    // The first recovery is immediate (as in Pacemaker); then 1 s, 2 s, 4 s, 8 s ... between the
    // failure and the next start (plus the monitor and stop in between: 200 ms of agent latency).
    const g = gaps(ts);
    expect(g[0]).toBeLessThan(1 * S);
    for (let i = 1; i < g.length; i++) {
      expect(g[i]).toBeGreaterThanOrEqual(2 ** (i - 1) * S);
      expect(g[i]).toBeLessThan(2 ** (i - 1) * S + 1 * S);
    }
  });

  it('caps the delay at 5 minutes', () => {
    const { sim } = flapper();
    sim.runUntil(3 * 60 * MIN);
    const g = gaps(starts(sim));
    expect(Math.max(...g)).toBeGreaterThanOrEqual(5 * MIN);
    expect(Math.max(...g)).toBeLessThan(5 * MIN + 1 * S);
    // Three hours of a service that never stays up: about 40 restarts, not 36,000.
    expect(g.length).toBeLessThanOrEqual(46);
  });

  it('shows the pending backoff in the member status and the log; the members after it wait too', () => {
    const { sim } = flapper({}, true);
    sim.runUntil(10 * S);
    // app starts at 0.1, 0.5, 1.7, 3.9 and 8.1 s (web starts and stops with it: 100 ms more per
    // round); its monitor failed at 8.3 s: the next start is due at 16.3 s.
    const [app, web] = sim.m.status(sim.now).members;
    expect(app).toMatchObject({ state: 'Stopped', pending: 'restart backoff: start in 6.3s, attempt 5', backoffMs: 6300 });
    expect(web).toMatchObject({ state: 'Stopped', pending: null, backoffMs: null });
    expect(memberStateText(app!)).toBe('Stopped (restart backoff: start in 6.3s, attempt 5)');
    // web comes after app: it starts only after app did, never while app is backed off.
    const appStarts = starts(sim);
    expect(starts(sim, 'web').every((t) => appStarts.some((a) => a < t && t - a <= 200))).toBe(true);
    const logs = sim.effects.flatMap(({ e }) => (e.type === 'log' ? [e.message] : []));
    expect(logs).toContain('g: recovering app in place (fail-count 5); next start in 8s (restart backoff)');
  });

  it('is reset by cleanup: the member starts at once', () => {
    const { sim, flap } = flapper();
    sim.runUntil(30 * S);
    expect(sim.m.status(sim.now).members[0]!.backoffMs).toBeGreaterThan(1 * S);
    flap.on = false;
    const before = starts(sim).length;
    sim.input({ type: 'cleanup' });
    sim.settle(500);
    expect(starts(sim)).toHaveLength(before + 1);
    expect(sim.m.status(sim.now).members[0]).toMatchObject({ state: 'Started', backoffMs: null, failcount: 0 });
  });

  it('is reset after the member stayed healthy for a minute: the next failure restarts at once', () => {
    const { sim, flap } = flapper();
    sim.runUntil(20 * S);
    flap.on = false; // the next start holds
    sim.runUntil(sim.now + 20 * S);
    expect(sim.m.status(sim.now).members[0]!.state).toBe('Started');
    sim.runUntil(sim.now + 2 * MIN);
    const before = starts(sim).length;
    sim.agent('app').running = false; // one crash after a healthy period
    sim.runUntil(sim.now + 10 * S + 500);
    const ts = starts(sim);
    expect(ts).toHaveLength(before + 1);
    expect(sim.m.status(sim.now).members[0]!.state).toBe('Started');
  });

  it('keeps migration-threshold: the group still moves away after N failures', () => {
    const { sim } = flapper({ migrationThreshold: 3 });
    sim.runUntil(60 * S);
    expect(starts(sim)).toHaveLength(3);
    expect(sim.standby).toBe(true);
    expect(sim.m.status(sim.now).ineligibleReason).toContain('app failed 3 times (migration-threshold 3)');
  });

  it('keeps failure-timeout: failcounts expire on time, even while a restart is backed off', () => {
    const { sim, flap } = flapper({ migrationThreshold: 5, failureTimeoutMs: 3 * S });
    // Failures at 0.3, 0.6, 1.8 and 4 s; the next start is due at 8 s.
    sim.runUntil(4500);
    expect(sim.m.status(sim.now).members[0]!.failcount).toBe(4);
    sim.runUntil(7500);
    expect(sim.m.status(sim.now).members[0]).toMatchObject({ failcount: 0, state: 'Stopped', backoffMs: 500 });
    flap.on = false;
    sim.runUntil(10 * S);
    expect(sim.m.status(sim.now).members[0]).toMatchObject({ failcount: 0, state: 'Started' });
    expect(sim.standby).toBe(false);
  });

  it('a start that always fails with a short failure-timeout does not ping-pong fast either', () => {
    const spec: GroupSpec = { id: 'g', instance: 'vip', members: [member('app', { migrationThreshold: 0, failureTimeoutMs: 1 * S })] };
    const sim = new GroupSim(spec);
    sim.agent('app').startRc.push(...Array<number>(10_000).fill(1));
    sim.input({ type: 'instance', state: 'MASTER' });
    sim.runUntil(10 * MIN);
    expect(starts(sim).length).toBeLessThan(15);
  });

  it('property: whatever the threshold, failure-timeout and failure, a member never restarts more than ~log2(T)+T/5min times', () => {
    fc.assert(fc.property(
      fc.constantFrom(0, 1, 2, 3, 5),
      fc.constantFrom(0, 1 * S, 10 * S, 60 * S),
      fc.constantFrom('monitor7' as const, 'monitor1' as const, 'start1' as const),
      fc.constantFrom(50, 100, 2000),
      (threshold, failureTimeoutMs, how, latency) => {
        const spec: GroupSpec = { id: 'g', instance: 'vip', members: [member('app', { migrationThreshold: threshold, failureTimeoutMs })] };
        const sim = new GroupSim(spec);
        sim.latency = latency;
        if (how === 'start1') sim.agent('app').startRc.push(...Array<number>(10_000).fill(1));
        else if (how === 'monitor1') sim.agent('app').monitorRc.push(...Array<number>(10_000).fill(1));
        else sim.onResult = (call) => { if (call.action === 'start') sim.agent('app').running = false; };
        sim.input({ type: 'instance', state: 'MASTER' });
        sim.runUntil(30 * MIN);
        // 1 + 0 + 1 + 2 + 4 ... + 256 s ≈ 8.5 min in 10 starts, then one every 5 min: 15 in 30 min.
        expect(starts(sim).length).toBeLessThanOrEqual(16);
      }), { numRuns: 60 });
  });
});
