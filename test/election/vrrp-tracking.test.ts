import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  contribution, initialVerdict, instanceTrackUses, instanceVerdict, observe, TrackerBoard, fileTracker, interfaceTracker, scriptTracker,
  type TrackerDef, type TrackerVerdict, type TrackUse,
} from '../../src/election/tracking.js';
import { SyncGroupCoordinator } from '../../src/election/sync-group.js';
import type { VrrpInstance } from '../../src/config/model.js';

const script = (rise = 1, fall = 1, initFail = false): TrackerDef => ({ kind: 'script', name: 's', rise, fall, initFail });
const run = (def: TrackerDef, results: boolean[]) => {
  let v = initialVerdict(def);
  const seen: string[] = [];
  for (const ok of results) {
    v = observe(def, v, { kind: 'script', ok }).verdict;
    seen.push(v.health);
  }
  return seen;
};
const verdict = (health: TrackerVerdict['health'], value?: number): TrackerVerdict => ({ health, value, streak: 0 });

describe('tracker verdicts (rise/fall)', () => {
  it('defaults 1/1: every result decides', () => {
    expect(run(script(), [true, false, true])).toEqual(['ok', 'failed', 'ok']);
  });
  it('rise 3 / fall 2: consecutive results only', () => {
    expect(run(script(3, 2), [true, true, false, true, true, true, false, true, false, false]))
      .toEqual(['init', 'init', 'init', 'init', 'init', 'ok', 'ok', 'ok', 'ok', 'failed']);
  });
  it('init_fail starts failed and needs rise successes', () => {
    expect(run(script(2, 1, true), [true, true])).toEqual(['failed', 'ok']);
  });
  it('interfaces change at once whatever rise/fall says', () => {
    const d: TrackerDef = { kind: 'interface', name: 'eth0', rise: 5, fall: 5, initFail: false };
    expect(observe(d, initialVerdict(d), { kind: 'interface', ok: false }).verdict.health).toBe('failed');
  });
  it('never flips without `rise`/`fall` consecutive results (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.array(fc.boolean(), { maxLength: 40 }), (rise, fall, results) => {
      const d = script(rise, fall);
      let v = initialVerdict(d);
      let streak = 0, last: boolean | undefined;
      for (const ok of results) {
        streak = ok === last ? streak + 1 : 1;
        last = ok;
        const r = observe(d, v, { kind: 'script', ok });
        if (r.changed) expect(streak).toBeGreaterThanOrEqual(ok ? rise : fall);
        v = r.verdict;
      }
    }));
  });
});

describe('tracker weights', () => {
  const use = (weight: number, reverse = false, kind: TrackUse['kind'] = 'script'): TrackUse => ({ kind, name: 's', weight, reverse });
  it('weight 0: FAULT while failed (and before the first result); reverse: FAULT while OK', () => {
    expect(contribution(use(0), verdict('failed'))).toEqual({ fault: true, delta: 0 });
    expect(contribution(use(0), verdict('init'))).toEqual({ fault: true, delta: 0 });
    expect(contribution(use(0), verdict('ok'))).toEqual({ fault: false, delta: 0 });
    expect(contribution(use(0, true), verdict('ok'))).toEqual({ fault: true, delta: 0 });
  });
  it('w > 0 added while OK, w < 0 added while failed; reverse negates', () => {
    expect(contribution(use(10), verdict('ok')).delta).toBe(10);
    expect(contribution(use(10), verdict('failed')).delta).toBe(0);
    expect(contribution(use(-10), verdict('ok')).delta).toBe(0);
    expect(contribution(use(-10), verdict('failed')).delta).toBe(-10);
    expect(contribution(use(10, true), verdict('ok')).delta).toBe(-10);
    expect(contribution(use(-10, true), verdict('failed')).delta).toBe(10);
    expect(contribution(use(10), verdict('init')).delta).toBe(0);
  });
  it('track_file: weight 0 ⇒ non-zero is FAULT; else value × weight, below −253 ⇒ FAULT', () => {
    const f = (w: number, value: number, reverse = false) => contribution(use(w, reverse, 'file'), verdict('ok', value));
    expect(f(0, 0)).toEqual({ fault: false, delta: 0 });
    expect(f(0, 3)).toEqual({ fault: true, delta: 0 });
    expect(f(0, 0, true)).toEqual({ fault: true, delta: 0 });
    expect(f(5, 4)).toEqual({ fault: false, delta: 20 });
    expect(f(5, 4, true)).toEqual({ fault: false, delta: -20 });
    expect(f(1, -253)).toEqual({ fault: false, delta: -253 });
    expect(f(1, -254)).toEqual({ fault: true, delta: 0 });
    expect(f(254, -1)).toEqual({ fault: true, delta: 0 });
  });
  it('effective priority = base + Σ, clamped to [1, 254]; an owner stays 255', () => {
    const v = (kind: string) => (kind === 'script' ? verdict('ok') : verdict('failed'));
    const uses: TrackUse[] = [{ kind: 'script', name: 'a', weight: 50, reverse: false }, { kind: 'interface', name: 'b', weight: -30, reverse: false }];
    expect(instanceVerdict(100, uses, (k) => v(k)).priority).toBe(120);
    expect(instanceVerdict(240, uses, (k) => v(k)).priority).toBe(254);
    expect(instanceVerdict(255, uses, (k) => v(k)).priority).toBe(255);
    expect(instanceVerdict(10, [{ kind: 'interface', name: 'b', weight: -200, reverse: false }], (k) => v(k)).priority).toBe(1);
    expect(instanceVerdict(100, [{ kind: 'interface', name: 'b', weight: 0, reverse: false }], (k) => v(k))).toEqual({ priority: 100, fault: true, faultBy: ['interface b'] });
  });
  it('TrackerBoard: shared verdicts, observe reports changes only', () => {
    const b = new TrackerBoard([scriptTracker({ name: 'chk', hook: { argv: ['x'], shell: false }, intervalMs: 1, timeoutMs: 1, weight: 0, reverse: false, rise: 1, fall: 2, initFail: false }),
      fileTracker({ name: 'f', path: '/x', weight: 1, reverse: false, initOverwrite: false }), interfaceTracker('eth0')]);
    expect(b.observe('script', 'chk', { kind: 'script', ok: true })).toBe(true);
    expect(b.observe('script', 'chk', { kind: 'script', ok: true })).toBe(false);
    expect(b.observe('script', 'chk', { kind: 'script', ok: false })).toBe(false);
    expect(b.observe('script', 'chk', { kind: 'script', ok: false })).toBe(true);
    expect(b.observe('file', 'f', { kind: 'file', value: 7 })).toBe(true);
    expect(b.observe('file', 'f', { kind: 'file', value: 7 })).toBe(false);
    expect(b.observe('file', 'f', { kind: 'script', ok: true })).toBe(false);
    expect(b.observe('script', 'nope', { kind: 'script', ok: true })).toBe(false);
    expect(b.evaluate(100, [{ kind: 'file', name: 'f', weight: -2, reverse: false }, { kind: 'interface', name: 'eth0', weight: 0, reverse: false }]))
      .toEqual({ priority: 86, fault: true, faultBy: ['interface eth0'] });
  });
  it('instanceTrackUses: own interface tracked with weight 0; owners and sync-group members lose their weights', () => {
    const inst = {
      interface: 'eth0', priority: 100, trackPrimary: true, syncGroup: undefined,
      trackInterfaces: [{ name: 'eth1', weight: -10, reverse: false }], trackScripts: [{ name: 'chk', weight: 20, reverse: true }], trackFiles: [],
    } as unknown as VrrpInstance;
    expect(instanceTrackUses(inst).uses).toEqual([
      { kind: 'interface', name: 'eth0', weight: 0, reverse: false },
      { kind: 'interface', name: 'eth1', weight: -10, reverse: false },
      { kind: 'script', name: 'chk', weight: 20, reverse: true },
    ]);
    const owner = instanceTrackUses({ ...inst, priority: 255 });
    expect(owner.uses.map((u) => u.weight)).toEqual([0, 0, 0]);
    expect(owner.notes).toHaveLength(2);
    const member = instanceTrackUses({ ...inst, syncGroup: 'G' }, { trackInterfaces: [], trackScripts: [{ name: 'g', weight: 5, reverse: false }], trackFiles: [] });
    expect(member.uses.map((u) => u.weight)).toEqual([0, 0, 0, 5]);
    expect(instanceTrackUses({ ...inst, syncGroup: 'G' }, undefined, { syncGroupTrackingWeight: true }).uses.map((u) => u.weight)).toEqual([0, -10, 20]);
    expect(instanceTrackUses({ ...inst, trackPrimary: false }).uses).toHaveLength(2);
  });
});

describe('sync-group coordinator', () => {
  it('fault of one member is delivered to all; cleared only when no member has its own fault', () => {
    const g = new SyncGroupCoordinator('G', ['a', 'b', 'c']);
    const fx1 = g.step({ type: 'fault', member: 'a', fault: true, reason: 'eth0 down' });
    expect(fx1.filter((e) => e.type === 'deliver').map((e) => e.type === 'deliver' && [e.member, e.input])).toEqual(
      ['a', 'b', 'c'].map((m) => [m, { type: 'groupFault', fault: true, reason: 'member a in FAULT (eth0 down)' }]));
    expect(g.step({ type: 'fault', member: 'b', fault: true, reason: 'x' })).toEqual([]);
    expect(g.step({ type: 'fault', member: 'a', fault: false, reason: '' })).toEqual([]);
    const fx2 = g.step({ type: 'fault', member: 'b', fault: false, reason: '' });
    expect(fx2.filter((e) => e.type === 'deliver')).toHaveLength(3);
    expect(g.status().fault).toBe(false);
  });
  it('groupMaster only when every member wants MASTER (or already is)', () => {
    const g = new SyncGroupCoordinator('G', ['a', 'b']);
    for (const m of ['a', 'b']) g.step({ type: 'transition', member: m, from: 'INIT', to: 'BACKUP', reason: 'startup' });
    expect(g.step({ type: 'want', member: 'a', want: true })).toEqual([]);
    const go = g.step({ type: 'want', member: 'b', want: true }).filter((e) => e.type === 'deliver');
    expect(go.map((e) => e.type === 'deliver' && [e.member, e.input.type])).toEqual([['a', 'groupMaster'], ['b', 'groupMaster']]);
    g.step({ type: 'transition', member: 'a', from: 'BACKUP', to: 'MASTER', reason: 'x' });
    // a is master, b still wants: b is told again (idempotent for the member).
    const fx = g.step({ type: 'transition', member: 'b', from: 'BACKUP', to: 'MASTER', reason: 'x' });
    expect(fx).toContainEqual({ type: 'notify', which: 'master' });
  });
  it('no groupMaster while the group is in FAULT', () => {
    const g = new SyncGroupCoordinator('G', ['a']);
    g.step({ type: 'fault', member: 'a', fault: true, reason: 'x' });
    expect(g.step({ type: 'want', member: 'a', want: true }).filter((e) => e.type === 'deliver')).toEqual([]);
  });
  it('a member leaving MASTER takes the MASTER members along; group notifies on group state changes only', () => {
    const g = new SyncGroupCoordinator('G', ['a', 'b', 'c']);
    const notes: string[] = [];
    const t = (member: string, from: 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT', to: 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT') => {
      const fx = g.step({ type: 'transition', member, from, to, reason: 'r' });
      for (const e of fx) if (e.type === 'notify') notes.push(e.which);
      return fx.filter((e) => e.type === 'deliver').map((e) => e.type === 'deliver' && `${e.member}:${e.input.type}`);
    };
    for (const m of ['a', 'b', 'c']) t(m, 'INIT', 'BACKUP');
    for (const m of ['a', 'b', 'c']) t(m, 'BACKUP', 'MASTER');
    expect(t('b', 'MASTER', 'BACKUP')).toEqual(['a:groupBackup', 'c:groupBackup']);
    t('a', 'MASTER', 'BACKUP');
    t('c', 'MASTER', 'BACKUP');
    for (const m of ['a', 'b', 'c']) t(m, 'BACKUP', 'INIT');
    expect(notes).toEqual(['backup', 'master', 'backup', 'stop']);
    expect(g.step({ type: 'want', member: 'zz', want: true })).toEqual([]);
  });
  it('a member re-announcing after a lower-priority advert makes the other MASTER members re-announce (keepalived)', () => {
    const g = new SyncGroupCoordinator('G', ['a', 'b', 'c']);
    g.step({ type: 'transition', member: 'a', from: 'BACKUP', to: 'MASTER', reason: 'r' });
    g.step({ type: 'transition', member: 'b', from: 'BACKUP', to: 'MASTER', reason: 'r' });
    g.step({ type: 'transition', member: 'c', from: 'INIT', to: 'BACKUP', reason: 'r' });
    expect(g.step({ type: 'reannounce', member: 'a' }).filter((e) => e.type === 'deliver').map((e) => e.type === 'deliver' && [e.member, e.input.type]))
      .toEqual([['b', 'groupReannounce']]);
  });
});
