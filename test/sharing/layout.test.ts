import { describe, expect, it } from 'vitest';
import { bucketRanking, checkLayout, layoutFingerprint, owners } from '../../src/sharing/core/layout.js';

const count = (xs: (number | undefined)[], n: number) => xs.filter((x) => x === n).length;

describe('load sharing layout', () => {
  it('first choices are spread evenly', () => {
    const r = bucketRanking(3, 64);
    const own = owners(r, new Set([0, 1, 2]));
    expect([0, 1, 2].map((n) => count(own, n))).toEqual([22, 21, 21]);
  });

  it("a dead node's buckets spread over every survivor, evenly (N = 3..8, 64 and 256 buckets)", () => {
    for (const buckets of [64, 256]) {
      for (let n = 3; n <= 8; n++) {
        const r = bucketRanking(n, buckets);
        for (let dead = 0; dead < n; dead++) {
          const alive = new Set(Array.from({ length: n }, (_, i) => i).filter((i) => i !== dead));
          const own = owners(r, alive);
          const shares = [...alive].map((a) => count(own, a));
          expect(Math.max(...shares) - Math.min(...shares), `N=${n} B=${buckets} dead=${dead}: ${shares.join("/")}`).toBeLessThanOrEqual(2);
        }
      }
    }
  });

  it('each ranking is a permutation of the nodes', () => {
    for (const row of bucketRanking(5, 64)) expect([...row].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses fewer buckets than nodes, duplicates and too many nodes', () => {
    expect(checkLayout(['a', 'b', 'c'], 2).map((i) => i.code)).toEqual(['TOO_FEW_BUCKETS']);
    expect(checkLayout(['a', 'a'], 64).map((i) => i.code)).toEqual(['DUPLICATE_NODE']);
    expect(checkLayout(Array.from({ length: 17 }, (_, i) => `n${i}`), 64).map((i) => i.code)).toEqual(['TOO_MANY_NODES']);
    expect(checkLayout(['a', 'b', 'c'], 64)).toEqual([]);
  });

  it('the fingerprint changes with the node list, its order and the bucket count', () => {
    const f = layoutFingerprint(['a', 'b', 'c'], 64);
    expect(layoutFingerprint(['a', 'b', 'c'], 64)).toBe(f);
    expect(new Set([f, layoutFingerprint(['a', 'c', 'b'], 64), layoutFingerprint(['a', 'b'], 64), layoutFingerprint(['a', 'b', 'c'], 128)]).size).toBe(4);
  });
});
