/**
 * Order between groups (`after:`): the pure gates (`core/order.ts`) and how a group machine
 * obeys them — no start while a group before it is not started, no stop while a group after
 * it still runs, and a blocked group after it keeps it up.
 */
import { describe, expect, it } from 'vitest';
import { orderGates } from '../../src/resources/core/order.js';
import { GroupSim, member } from './group-sim.js';
import { groupHeadline } from '../../src/status/resources-text.js';

describe('order between groups', () => {
  it('gates: waits for groups before it that are not ready, held by groups after it that are active', () => {
    const g = orderGates([
      { id: 'db', after: [], ready: true, active: true, blocked: false },
      { id: 'app', after: ['db'], ready: false, active: true, blocked: true },
      { id: 'web', after: ['app', 'gone'], ready: false, active: false, blocked: false },
    ]);
    expect(g.get('db')).toEqual({ waitingFor: [], heldBy: ['app'], heldByBlocked: true });
    expect(g.get('app')).toEqual({ waitingFor: [], heldBy: [], heldByBlocked: false });
    expect(g.get('web')).toEqual({ waitingFor: ['app', 'gone'], heldBy: [], heldByBlocked: false });
  });

  it('a group with after: starts only once told, and stops only when nothing after it runs', () => {
    const sim = new GroupSim({ id: 'app', instance: 'vip', members: [member('a'), member('b')], after: ['db'] });
    sim.settle();
    sim.input({ type: 'instance', state: 'MASTER' });
    sim.settle();
    expect(sim.m.ready).toBe(false);
    expect(sim.actions()).toEqual([]);
    expect(groupHeadline(sim.m.status(sim.now))).toBe('Resource Group: app (instance vip: MASTER here; waiting for group db (order)): Stopped');
    sim.input({ type: 'order', waitingFor: [], heldBy: [], heldByBlocked: false });
    sim.settle();
    expect(sim.actions()).toEqual(['start a', 'start b']);
    expect(sim.m.ready).toBe(true);
    sim.input({ type: 'order', waitingFor: [], heldBy: ['web'], heldByBlocked: false });
    sim.input({ type: 'instance', state: 'BACKUP' });
    sim.settle();
    expect(sim.m.ready).toBe(false);
    expect(sim.actions()).toEqual(['start a', 'start b']);
    expect(sim.effects.map(({ e }) => (e.type === 'log' ? e.message : '')).join('\n')).toContain('waiting for group web to stop first (order)');
    sim.input({ type: 'order', waitingFor: [], heldBy: [], heldByBlocked: false });
    sim.settle();
    expect(sim.actions()).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('a group before others stops only after them at shutdown, and reports a blocked one', () => {
    const sim = new GroupSim({ id: 'db', instance: 'vip', members: [member('d')] });
    sim.settle();
    sim.input({ type: 'instance', state: 'MASTER' });
    sim.settle();
    sim.input({ type: 'order', waitingFor: [], heldBy: ['app'], heldByBlocked: false });
    sim.input({ type: 'shutdown' });
    sim.settle();
    expect(sim.stopped).toBe(false);
    sim.input({ type: 'order', waitingFor: [], heldBy: ['app'], heldByBlocked: true });
    sim.settle();
    expect(sim.stopped).toBe(true);
    expect(sim.runningSet()).toEqual(['d']);
    expect(sim.effects.map(({ e }) => (e.type === 'log' ? e.message : '')).join('\n')).toContain('could not stop d (group app after it is blocked)');
  });
});
