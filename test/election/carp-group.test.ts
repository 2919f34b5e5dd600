import { describe, expect, it } from 'vitest';
import { CarpGroups } from '../../src/election/carp-group.js';
import { CarpSim } from './carp-sim.js';

const demotes = (fx: ReturnType<CarpGroups['step']>) =>
  fx.flatMap((e) => (e.type === 'demote' ? [`${e.member}:${e.demoted ? 'demoted' : 'lifted'}`] : []));

describe('CARP group demotion (BSD preempt, seed 004)', () => {
  it('one member losing its link demotes every member of its group, and only that group', () => {
    const g = new CarpGroups([{ name: 'fw', members: ['lan', 'wan'] }, { name: 'other', members: ['dmz'] }]);
    expect(demotes(g.step({ type: 'link', member: 'wan', up: false, holdMs: 3000 }, 100))).toEqual(['lan:demoted', 'wan:demoted']);
    expect(g.status(100)).toEqual([
      { name: 'fw', members: ['lan', 'wan'], demote: 1, reasons: ['wan link down'] },
      { name: 'other', members: ['dmz'], demote: 0, reasons: [] },
    ]);
    // A second member down changes nothing for the members (already demoted); the counter counts it.
    expect(demotes(g.step({ type: 'link', member: 'lan', up: false, holdMs: 3000 }, 200))).toEqual([]);
    expect(g.status(200)[0]!.demote).toBe(2);
  });

  it('keeps the group demoted for the hold after the link returns (make before break), then lifts all at once', () => {
    const g = new CarpGroups([{ name: 'fw', members: ['lan', 'wan'] }]);
    g.step({ type: 'link', member: 'wan', up: false, holdMs: 3000 }, 0);
    expect(demotes(g.step({ type: 'link', member: 'wan', up: true, holdMs: 3000 }, 1000))).toEqual([]);
    expect(g.nextDeadline()).toBe(4000);
    expect(g.status(2000)[0]!.reasons).toEqual(['wan link back, settling']);
    expect(demotes(g.step({ type: 'tick' }, 3999))).toEqual([]);
    expect(demotes(g.step({ type: 'tick' }, 4000))).toEqual(['lan:lifted', 'wan:lifted']);
    expect(g.nextDeadline()).toBeUndefined();
  });

  it('a link flapping during the hold restarts it', () => {
    const g = new CarpGroups([{ name: 'fw', members: ['lan', 'wan'] }]);
    g.step({ type: 'link', member: 'wan', up: false, holdMs: 3000 }, 0);
    g.step({ type: 'link', member: 'wan', up: true, holdMs: 3000 }, 1000);
    g.step({ type: 'link', member: 'wan', up: false, holdMs: 3000 }, 2000);
    expect(g.nextDeadline()).toBeUndefined();
    g.step({ type: 'link', member: 'wan', up: true, holdMs: 3000 }, 2500);
    expect(demotes(g.step({ type: 'tick' }, 4000))).toEqual([]);
    expect(demotes(g.step({ type: 'tick' }, 5500))).toEqual(['lan:lifted', 'wan:lifted']);
  });

  it('a member in two groups stays demoted while either group is', () => {
    const g = new CarpGroups([{ name: 'a', members: ['x', 'shared'] }, { name: 'b', members: ['y', 'shared'] }]);
    expect(demotes(g.step({ type: 'link', member: 'x', up: false, holdMs: 0 }, 0))).toEqual(['x:demoted', 'shared:demoted']);
    expect(demotes(g.step({ type: 'link', member: 'y', up: false, holdMs: 0 }, 1))).toEqual(['y:demoted']);
    expect(demotes(g.step({ type: 'link', member: 'x', up: true, holdMs: 0 }, 2))).toEqual(['x:lifted']);
    expect(demotes(g.step({ type: 'link', member: 'y', up: true, holdMs: 0 }, 3))).toEqual(['shared:lifted', 'y:lifted']);
  });

  it('ignores instances outside every group and repeated link states', () => {
    const g = new CarpGroups([{ name: 'fw', members: ['lan', 'wan'] }]);
    expect(g.step({ type: 'link', member: 'solo', up: false, holdMs: 0 }, 0)).toEqual([]);
    expect(g.step({ type: 'link', member: 'lan', up: true, holdMs: 0 }, 0)).toEqual([]);
  });
});

describe('CARP machine under group demotion', () => {
  it('a group-demoted master keeps its role and addresses until a preempting peer takes over; lifted, it takes back', () => {
    const sim = new CarpSim([{ name: 'fw1', ip: '10.0.0.1', preempt: true }, { name: 'fw2', ip: '10.0.0.2', advskew: 128, preempt: true }]);
    sim.start();
    sim.runUntil(6000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['fw1']);
    const t0 = sim.now;
    sim.input(sim.node('fw1'), { type: 'groupDemote', demoted: true, reason: 'group fw: wan link down' });
    expect(sim.node('fw1').m.status().advskewEffective).toBe(240);
    expect(sim.node('fw1').m.status().groupDemoted).toBe('group fw: wan link down');
    // It tells the peer at once (an advert with skew 240), so the peer preempts within its latency.
    sim.runUntil(t0 + 50);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['fw2']);
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['fw2']);
    const t1 = sim.now;
    sim.input(sim.node('fw1'), { type: 'groupDemote', demoted: false, reason: 'every member of its groups is up' });
    sim.runUntil(t1 + 2000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['fw1']);
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['fw1']);
  });

  it('without a preempting peer the demoted master stays master (as BSD)', () => {
    const sim = new CarpSim([{ name: 'fw1', ip: '10.0.0.1' }, { name: 'fw2', ip: '10.0.0.2', advskew: 128 }]);
    sim.start();
    sim.runUntil(6000);
    sim.input(sim.node('fw1'), { type: 'groupDemote', demoted: true, reason: 'group fw: wan link down' });
    sim.runUntil(20_000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['fw1']);
    const lone = new CarpSim([{ name: 'z', ip: '10.0.0.3', preempt: true }]);
    lone.start();
    lone.runUntil(5000);
    lone.input(lone.node('z'), { type: 'groupDemote', demoted: true, reason: 'x' });
    lone.runUntil(20_000);
    expect(lone.masters().map((n) => n.spec.name)).toEqual(['z']);
    expect(lone.node('z').effects.filter((e) => e.e.type === 'transition').length).toBe(2); // INIT->BACKUP->MASTER only
  });
});
