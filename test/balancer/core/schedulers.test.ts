import { describe, expect, it } from 'vitest';
import type { Candidate } from '../../../src/balancer/core/model.js';
import {
  countTable, hash32, localityOverloaded, maglevSize, maglevTable, MAX_NUMGEN_SLOTS, pickFo, pickLblc, pickLblcr, pickLc, pickNq, pickOvf, pickRr, pickSed, pickWlc, pickWrr,
  RR_START, rrTable, scaleWeights, shTable, slotTable, WRR_START, wrrTable, type SlotTable,
} from '../../../src/balancer/core/schedulers.js';
import { prng } from '../../helpers/sim.js';

const c = (key: string, weight = 1, active = 0, inactive = 0, overloaded = false): Candidate => ({ key, weight, active, inactive, overloaded });
const servers = (n: number, weight = 1): Candidate[] => Array.from({ length: n }, (_, i) => c(`10.0.${i >> 8}.${i & 255}:80`, weight));

const shares = (t: SlotTable): Map<string | undefined, number> => {
  const m = new Map<string | undefined, number>();
  for (const k of t.slots) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
};

describe('per-connection schedulers (IPVS semantics, notes §4)', () => {
  it('rr walks the list and skips weight 0 and overloaded servers', () => {
    const s = [c('a'), c('b', 0), c('c'), c('d', 1, 0, 0, true)];
    let st = RR_START;
    const seq: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = pickRr(s, st);
      seq.push(s[r.pick!]!.key);
      st = r.state;
    }
    expect(seq).toEqual(['a', 'c', 'a', 'c']);
    expect(pickRr([c('a', 0)], RR_START).pick).toBeUndefined();
  });

  it('wrr interleaves as ip_vs_wrr: weights 4,3,2 give a a b a b c a b c', () => {
    const s = [c('a', 4), c('b', 3), c('c', 2)];
    let st = WRR_START;
    const seq: string[] = [];
    for (let i = 0; i < 18; i++) {
      const r = pickWrr(s, st);
      seq.push(s[r.pick!]!.key);
      st = r.state;
    }
    expect(seq.join(' ')).toBe('a a b a b c a b c a a b a b c a b c');
    // gcd: weights 4,2 behave as 2,1.
    expect(wrrTable([c('a', 4), c('b', 2)]).slots).toEqual(['a', 'a', 'b']);
    expect(wrrTable(s).slots.join(' ')).toBe('a a b a b c a b c');
    expect(wrrTable([c('a', 0), c('b', 5)]).slots).toEqual(['b']);
  });

  it('wrr tables longer than MAX_NUMGEN_SLOTS are scaled, shares kept within 1/MAX', () => {
    const s = [c('a', 100_000), c('b', 33_333), c('c', 1)];
    const t = wrrTable(s);
    expect(t.slots.length).toBe(MAX_NUMGEN_SLOTS);
    const sh = shares(t);
    expect(sh.get('c')).toBe(1);
    expect(Math.abs(sh.get('a')! / MAX_NUMGEN_SLOTS - 100_000 / 133_334)).toBeLessThan(1 / MAX_NUMGEN_SLOTS + 1e-9);
    expect(scaleWeights([0, 3, 1], 8)).toEqual([0, 6, 2]);
  });

  it('lc: least 256·active + inactive, first in list order on ties', () => {
    expect(pickLc([c('a', 1, 1, 0), c('b', 1, 0, 200), c('c', 1, 0, 100)])).toBe(2);
    expect(pickLc([c('a', 1, 0, 5), c('b', 1, 0, 5)])).toBe(0);
    expect(pickLc([c('a', 0), c('b', 1, 9)])).toBe(1);
  });

  it('wlc: least overhead / weight without division; sed: (active + 1) / weight; nq: idle first', () => {
    // overheads 512 and 1024: per weight 512/1 vs 1024/3 → b.
    expect(pickWlc([c('a', 1, 2), c('b', 3, 4)])).toBe(1);
    // sed: (0+1)/1 = 1 vs (2+1)/4 = 0.75 → b, although a is idle.
    expect(pickSed([c('a', 1, 0), c('b', 4, 2)])).toBe(1);
    // nq takes the idle one.
    expect(pickNq([c('a', 4, 2), c('b', 1, 0)])).toBe(1);
    expect(pickNq([c('a', 1, 1), c('b', 4, 2)])).toBe(1);
  });

  it('fo: highest weight; ovf: highest weight until its active connections exceed the weight', () => {
    expect(pickFo([c('a', 2), c('b', 5), c('c', 5)])).toBe(1);
    expect(pickFo([c('a', 2), c('b', 5, 0, 0, true)])).toBe(0);
    expect(pickOvf([c('a', 2, 0), c('b', 5, 5)])).toBe(1);
    expect(pickOvf([c('a', 2, 0), c('b', 5, 6)])).toBe(0);
    expect(pickOvf([c('a', 0), c('b', 0)])).toBeUndefined();
  });
});

describe('locality schedulers (ip_vs_lblc / ip_vs_lblcr documented algorithm)', () => {
  it('overloaded: active > weight and some server below half of its weight', () => {
    const s = [c('a', 2, 3), c('b', 4, 1), c('c', 4, 3)];
    expect(localityOverloaded(s[0]!, s)).toBe(true); // b: 1·2 < 4
    expect(localityOverloaded(s[2]!, s)).toBe(false); // 3 ≤ 4
    const busy = [c('a', 2, 3), c('b', 4, 2)];
    expect(localityOverloaded(busy[0]!, busy)).toBe(false); // nobody below half: a keeps its destinations
  });

  it('lblc: a new destination gets the wlc server and keeps it while alive and not overloaded', () => {
    const s = [c('a', 1, 0, 5), c('b', 1, 0, 1)];
    const first = pickLblc(s, undefined);
    expect(first).toEqual({ pick: 1, cache: 'b' }); // wlc: b has less overhead
    // b is now busier than a, but the destination stays on b (locality), as long as b is not overloaded.
    const later = [c('a', 1, 0, 0), c('b', 1, 1, 9)];
    expect(pickLblc(later, 'b')).toEqual({ pick: 1, cache: 'b' });
    // b overloaded (2 > 1) while a is idle (0 < 1/2): the destination moves to the wlc server.
    expect(pickLblc([c('a', 1, 0, 0), c('b', 1, 2, 0)], 'b')).toEqual({ pick: 0, cache: 'a' });
    // b dead (weight 0, or gone): moves.
    expect(pickLblc([c('a'), c('b', 0)], 'b')).toEqual({ pick: 0, cache: 'a' });
    expect(pickLblc([c('a')], 'gone')).toEqual({ pick: 0, cache: 'a' });
    expect(pickLblc([c('a', 0)], 'a')).toEqual({ pick: undefined, cache: 'a' });
  });

  it('lblcr: the set grows with the wlc server when its best member is overloaded, and sheds its busiest after the expiration', () => {
    const T = 1000;
    const one = pickLblcr([c('a'), c('b')], undefined, 0, T);
    expect(one).toEqual({ pick: 0, set: { members: ['a'], lastModMs: 0 } });
    // a overloaded (3 > 1), b idle: b serves and joins the set.
    const two = pickLblcr([c('a', 1, 3), c('b')], one.set, 10, T);
    expect(two).toEqual({ pick: 1, set: { members: ['a', 'b'], lastModMs: 10 } });
    // Within the set, the least-connection member serves (b, idle); nothing changes before T.
    const same = pickLblcr([c('a', 1, 1), c('b')], two.set, 500, T);
    expect(same).toEqual({ pick: 1, set: two.set });
    // After T without change, the most loaded member (a) leaves; the pick stays b.
    const shed = pickLblcr([c('a', 1, 1), c('b')], two.set, 10 + T + 1, T);
    expect(shed).toEqual({ pick: 1, set: { members: ['b'], lastModMs: 10 + T + 1 } });
    // A member that left the service leaves the set; no live server at all: no pick, set kept.
    expect(pickLblcr([c('b')], two.set, 20, T)).toEqual({ pick: 0, set: { members: ['b'], lastModMs: 20 } });
    expect(pickLblcr([c('a', 0)], one.set, 20, T).pick).toBeUndefined();
  });

  it('lblc and lblcr tables: a destination not yet known gets the wlc water-filled table', () => {
    const s = [c('a', 1, 2), c('b', 1, 0)];
    expect(slotTable('lblc', s, { configured: 2, hashPort: false, hashFallback: false, expected: 2 })).toEqual(countTable('wlc', s, 2));
    expect(slotTable('lblcr', s, { configured: 2, hashPort: false, hashFallback: false, expected: 2 })).toEqual(countTable('wlc', s, 2));
  });
});

describe('slot tables for the kernel plane', () => {
  it('rr table: the available servers, in order', () => {
    expect(rrTable([c('a'), c('b', 0), c('c')]).slots).toEqual(['a', 'c']);
  });

  it('sh tiles 256 buckets by weight in list order; an unavailable server leaves holes or falls back', () => {
    const s = [c('a', 3), c('b', 1)];
    const t = shTable(s, { key: 'saddr', fallback: false });
    expect(t.slots.length).toBe(256);
    expect(t.slots.slice(0, 8)).toEqual(['a', 'a', 'a', 'b', 'a', 'a', 'a', 'b']);
    expect(shares(t).get('a')).toBe(192);
    // inhibited (weight 0): IPVS keeps it one bucket per round, unusable.
    const down = shTable([c('a', 3), c('b', 0)], { key: 'saddr', fallback: false });
    expect(down.slots.slice(0, 8)).toEqual(['a', 'a', 'a', undefined, 'a', 'a', 'a', undefined]);
    const fb = shTable([c('a', 3), c('b', 0)], { key: 'saddr', fallback: true });
    expect(fb.slots.every((k) => k === 'a')).toBe(true);
    expect(slotTable('dh', s, { configured: 2, hashPort: false, hashFallback: false }).key).toBe('daddr');
  });

  it('hash32 is deterministic and spreads', () => {
    expect(hash32('10.0.0.1:80', 1)).toBe(hash32('10.0.0.1:80', 1));
    expect(hash32('10.0.0.1:80', 1)).not.toBe(hash32('10.0.0.1:80', 2));
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[hash32(`k${i}`, 7) % 16]!++;
    for (const b of buckets) expect(Math.abs(b - 1000)).toBeLessThan(120);
  });
});

describe('Maglev (mh)', () => {
  it('table size: first prime of the ladder ≥ 100 × configured servers', () => {
    expect(maglevSize(1)).toBe(251);
    expect(maglevSize(3)).toBe(509);
    expect(maglevSize(10)).toBe(1021);
    expect(maglevSize(40)).toBe(4093);
    expect(maglevSize(100)).toBe(16381);
  });

  it('deterministic: same servers, same table (two directors agree without talking)', () => {
    const s = servers(7);
    expect(maglevTable(s, 1021).slots).toEqual(maglevTable(s.map((x) => ({ ...x })), 1021).slots);
  });

  it('fills every slot, shares within a few % of equal, weights proportional', () => {
    const s = servers(10);
    const t = maglevTable(s, maglevSize(10));
    expect(t.slots.every((k) => k !== undefined)).toBe(true);
    for (const n of shares(t).values()) expect(Math.abs(n / t.slots.length - 0.1)).toBeLessThan(0.01);
    const w = maglevTable([c('a', 1), c('b', 2), c('c', 3)], 1021);
    const sh = shares(w);
    expect(sh.get('a')! / 1021).toBeCloseTo(1 / 6, 1);
    expect(sh.get('c')! / 1021).toBeCloseTo(3 / 6, 1);
    // weight 0 and overloaded servers take no slots
    expect(shares(maglevTable([c('a', 0), c('b')], 251)).get('a')).toBeUndefined();
  });

  it('minimal disruption: removing one of N servers moves ≈ 1/N of the slots', () => {
    const report: string[] = [];
    for (const n of [3, 5, 10, 20, 50, 100]) {
      const s = servers(n);
      const size = maglevSize(n);
      let worst = 0;
      let sum = 0;
      // Remove each server in turn (up to 10 of them): the table size stays (configured count).
      const victims = Array.from({ length: Math.min(n, 10) }, (_, i) => Math.floor((i * n) / Math.min(n, 10)));
      for (const v of victims) {
        const before = maglevTable(s, size).slots;
        const after = maglevTable(s.filter((_, i) => i !== v), size).slots;
        let moved = 0;
        let movedOthers = 0;
        for (let i = 0; i < size; i++) {
          if (before[i] !== after[i]) {
            moved++;
            if (before[i] !== s[v]!.key) movedOthers++;
          }
        }
        // Every slot of the removed server must move; the rest should mostly stay.
        const own = before.filter((k) => k === s[v]!.key).length;
        expect(moved).toBeGreaterThanOrEqual(own);
        const frac = moved / size;
        worst = Math.max(worst, frac);
        sum += frac;
        // Maglev's bound in practice: a few % of extra movement on top of the removed 1/N.
        expect(movedOthers / size).toBeLessThan(0.03 + 0.5 / n);
      }
      const mean = sum / victims.length;
      report.push(`N=${n} M=${size}: moved mean ${(mean * 100).toFixed(2)} % worst ${(worst * 100).toFixed(2)} % (1/N = ${(100 / n).toFixed(2)} %)`);
      expect(mean).toBeGreaterThan(0.9 / n);
      expect(mean).toBeLessThan(1.5 / n + 0.01);
    }
    console.info(`Maglev disruption on one removal:\n  ${report.join('\n  ')}`);
  });

  it('mod-N hashing (what nftlb does) moves far more: the comparison the docs quote', () => {
    const n = 10;
    const size = maglevSize(n);
    const before = Array.from({ length: size }, (_, i) => i % n);
    const after = Array.from({ length: size }, (_, i) => {
      const k = i % (n - 1);
      return k >= 4 ? k + 1 : k; // server 4 removed, others renumbered in order
    });
    const moved = before.filter((b, i) => b !== after[i]).length / size;
    expect(moved).toBeGreaterThan(0.8);
  });
});

describe('count-based schedulers per period (lc/wlc/sed/nq/ovf)', () => {
  it('water-filling: new connections go to the least loaded until loads level', () => {
    // a has 10 active, b 2, c 0: 12 new connections level them at 8 each.
    const t = countTable('lc', [c('a', 1, 10), c('b', 1, 2), c('c', 1, 0)], 12);
    const sh = shares(t);
    expect(sh.get('a')).toBeUndefined();
    expect(sh.get('b')).toBe(5);
    expect(sh.get('c')).toBe(7);
    // wlc with weights: b has weight 3 so it takes 3 × the level (2 and 6 of 8, table 1:3).
    const w = shares(countTable('wlc', [c('a', 1, 0), c('b', 3, 0)], 8));
    expect(w.get('b')! / w.get('a')!).toBe(3);
    // nq: idle servers get one each first.
    const nq = shares(countTable('nq', [c('a', 1, 5), c('b', 1, 0), c('c', 1, 0)], 2));
    expect(nq.get('b')).toBe(1);
    expect(nq.get('c')).toBe(1);
    expect(countTable('ovf', [c('a', 2, 3), c('b', 5, 5)], 10).slots).toEqual(['b']);
    expect(countTable('fo', [c('a', 2), c('b', 5, 0, 0, true)], 10).slots).toEqual(['a']);
    expect(countTable('lc', [c('a', 0)], 5).slots).toEqual([]);
  });

  /**
   * A slow server (mean connection 30 ticks) and two fast ones (10 ticks), 3 arrivals per
   * tick. Exact lc (per connection), the kernel plane's per-period tables for periods of
   * 1, 10 and 50 ticks, and plain rr (what a count-blind plane does). Metric: time-averaged
   * spread (max − min) of active connections.
   */
  it('how close the per-period tables get to exact lc (simulation)', () => {
    const meanTicks = [30, 10, 10];
    const arrivals = 3;
    const ticks = 3000;
    const run = (mode: 'exact' | 'rr' | number): number => {
      const rnd = prng(42);
      const ends: number[][] = [[], [], []];
      let table: readonly (string | undefined)[] = ['0', '1', '2'];
      let cursor = 0;
      let spread = 0;
      for (let t = 0; t < ticks; t++) {
        for (const e of ends) for (let i = e.length - 1; i >= 0; i--) if (e[i]! <= t) e.splice(i, 1);
        const cands = () => ends.map((e, i) => c(String(i), 1, e.length));
        if (typeof mode === 'number' && t % mode === 0) {
          table = countTable('lc', cands(), arrivals * mode).slots;
          // numgen keeps counting across table swaps (the rule stays while the length does)
        }
        for (let a = 0; a < arrivals; a++) {
          let i: number;
          if (mode === 'exact') i = pickLc(cands())!;
          else if (mode === 'rr') i = (cursor++) % 3;
          else i = Number(table[(cursor++) % table.length]);
          ends[i]!.push(t + 1 + Math.floor(-Math.log(1 - rnd()) * meanTicks[i]!));
        }
        if (t > 200) {
          const counts = ends.map((e) => e.length);
          spread += Math.max(...counts) - Math.min(...counts);
        }
      }
      return spread / (ticks - 201);
    };
    const exact = run('exact');
    const p1 = run(1);
    const p10 = run(10);
    const p50 = run(50);
    const rr = run('rr');
    console.info(`lc spread of active connections (mean max−min): exact ${exact.toFixed(2)}, period 1 tick ${p1.toFixed(2)}, 10 ticks ${p10.toFixed(2)}, 50 ticks ${p50.toFixed(2)}, count-blind rr ${rr.toFixed(2)}`);
    expect(p1).toBeLessThan(exact + 2);
    expect(p10).toBeLessThan(exact + 6);
    expect(p10).toBeLessThan(rr / 2);
    expect(p50).toBeLessThan(rr);
  });
});
