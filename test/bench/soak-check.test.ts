/** The soak's checker (bench/soak-check.ts): periods with two holders and with none. */
import { describe, expect, it } from 'vitest';
import { holding, holdsVip, type Sample } from '../../bench/soak-check.js';

const VIP = '10.0.0.100';
const s = (t: number, host: string, held: string[], svc = false): Sample => ({ t, host, held, svc });
const phases = [{ name: 'kill', from: 1000, to: 5000 }];

describe('holding', () => {
  it('finds an overlap and a gap, labelled with the phase they began in', () => {
    const samples = [
      s(0, 'h1', [`${VIP}/24`]), s(0, 'h2', []),
      s(1200, 'h2', [`${VIP}/24`]), // both hold
      s(1500, 'h1', []), // h2 alone
      s(3000, 'h2', []), // nobody
      s(3400, 'h1', [`${VIP}/32`]), // a different prefix still counts
    ];
    expect(holding(samples, holdsVip(VIP), 0, 6000, phases)).toEqual({
      dual: [{ at: 1200, ms: 300, phase: 'kill', hosts: ['h1', 'h2'] }],
      none: [{ at: 3000, ms: 400, phase: 'kill', hosts: [] }],
    });
  });

  it('clips periods to the window, ends open ones at its end, and ignores the time before the first holder', () => {
    const samples = [
      s(0, 'h1', []), s(0, 'h2', []),
      s(500, 'h1', [`${VIP}/24`]), s(800, 'h2', [`${VIP}/24`]),
      s(9000, 'h1', []), // after the window
    ];
    const r = holding(samples, holdsVip(VIP), 1000, 2000, []);
    expect(r.dual).toEqual([{ at: 0, ms: 1000, phase: 'between', hosts: ['h1', 'h2'] }]);
    expect(r.none).toEqual([]);
    expect(holding([s(0, 'h1', []), s(100, 'h2', [])], holdsVip(VIP), 0, 1000, []).none).toEqual([]);
  });

  it('does not mistake another address with the same start for the VIP', () => {
    expect(holdsVip(VIP)(s(0, 'h1', ['10.0.0.1001/24']))).toBe(false);
    expect(holdsVip(VIP)(s(0, 'h1', [`${VIP}/32`]))).toBe(true);
  });
});
