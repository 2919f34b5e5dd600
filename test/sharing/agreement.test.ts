import { describe, expect, it } from 'vitest';
import { keepServing } from '../../src/sharing/core/agreement.js';

describe('keepServing: who serves when node lists differ', () => {
  it('serves when no node disagrees', () => {
    expect(keepServing('10.0.0.3', [], [])).toBe(true);
    expect(keepServing('10.0.0.3', ['10.0.0.1'], [])).toBe(true);
  });

  it('the larger group serves, the smaller withdraws (3 nodes, one with another list)', () => {
    // n1 and n2 agree, n3 differs: n1 sees 2 vs 1, n3 sees 1 vs 2.
    expect(keepServing('10.0.0.1', ['10.0.0.2'], ['10.0.0.3'])).toBe(true);
    expect(keepServing('10.0.0.3', [], ['10.0.0.1', '10.0.0.2'])).toBe(false);
  });

  it('on a tie the group with the lowest address serves: exactly one of two halves', () => {
    expect(keepServing('10.0.0.1', [], ['10.0.0.2'])).toBe(true);
    expect(keepServing('10.0.0.2', [], ['10.0.0.1'])).toBe(false);
    // 2 against 2, compared as numbers, not as text (10.0.0.9 < 10.0.0.10).
    expect(keepServing('10.0.0.10', ['10.0.0.11'], ['10.0.0.9', '10.0.0.12'])).toBe(false);
    expect(keepServing('10.0.0.9', ['10.0.0.12'], ['10.0.0.10', '10.0.0.11'])).toBe(true);
  });

  it('never lets two groups serve: every split of up to 6 nodes into two groups', () => {
    const addr = (i: number) => `10.0.0.${i + 1}`;
    for (let n = 2; n <= 6; n++) {
      for (let mask = 1; mask < (1 << n) - 1; mask++) {
        const a = Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i)).map(addr);
        const b = Array.from({ length: n }, (_, i) => i).filter((i) => !(mask & (1 << i))).map(addr);
        const serves = (g: string[], other: string[]) => g.every((x) => keepServing(x, g.filter((y) => y !== x), other));
        expect(serves(a, b) && serves(b, a)).toBe(false);
        expect(serves(a, b) || serves(b, a)).toBe(true); // and one of them does
      }
    }
  });

  it('three groups of one: nobody serves (safe, and loud elsewhere)', () => {
    expect(keepServing('10.0.0.1', [], ['10.0.0.2', '10.0.0.3'])).toBe(false);
  });

  it('a peer both agreeing and differing counts as agreeing', () => {
    expect(keepServing('10.0.0.2', ['10.0.0.1'], ['10.0.0.1'])).toBe(true);
  });
});
