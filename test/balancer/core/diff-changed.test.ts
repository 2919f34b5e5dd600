/**
 * `diffChanged` (the shell's per-change diff) against `diffPlane` (the whole plane) over random
 * planes and random changes: the same transaction text, planned from the changed services only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialHealth, pool } from '../../../src/balancer/core/health.js';
import { serverKey, type Method, type RealServer, type SchedulerName, type VirtualService } from '../../../src/balancer/core/model.js';
import { assignIds, diffChanged, diffPlane, serviceShape, type Plane, type PlaneService } from '../../../src/balancer/core/nft.js';
import { planService } from '../../../src/balancer/core/plan.js';

interface Spec {
  scheduler: SchedulerName;
  method: Method;
  family: 'ipv4' | 'ipv6';
  counters: boolean;
  persistence: boolean;
  weights: number[];
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  scheduler: fc.constantFrom<SchedulerName>('rr', 'wrr', 'sh', 'mh', 'wlc', 'lc'),
  method: fc.constantFrom<Method>('nat', 'nat', 'dr', 'tun'),
  family: fc.constantFrom<'ipv4' | 'ipv6'>('ipv4', 'ipv6'),
  counters: fc.boolean(),
  persistence: fc.boolean(),
  weights: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 6 }),
});

function service(sp: Spec, i: number): VirtualService {
  const v6 = sp.family === 'ipv6';
  const direct = sp.method !== 'nat';
  const realServers: RealServer[] = sp.weights.map((weight, j) => ({
    address: v6 ? `fd00:1::${j + 10}` : `192.168.1.${j + 10}`, port: direct ? undefined : 8080, weight, inhibitOnFailure: false, checkers: [],
  }));
  const vip = v6 ? `fd00::${i + 1}` : `10.0.${i >> 8}.${(i & 255) + 1}`;
  return {
    name: `${vip}:80`, family: sp.family, match: { kind: 'addr', vip, port: 80 }, protocol: 'tcp', scheduler: sp.scheduler, method: sp.method,
    hashPort: false, hashFallback: false, quorum: { quorum: 1, hysteresis: 0 }, alpha: false, omega: false, haSuspend: false,
    ingressDevice: direct ? 'lan0' : undefined, egressDevice: sp.method === 'dr' ? 'lan1' : undefined, realServers,
    ...(sp.persistence ? { persistence: { timeoutMs: 300_000, prefixLength: v6 ? 64 : 24 } } : {}),
  };
}

/** The plane entry of a service whose servers in `down` are out of the pool, `weights` overriding the configured ones. */
function plan(sp: Spec, i: number, down: ReadonlySet<number>, weights = sp.weights): PlaneService {
  const v = service({ ...sp, weights }, i);
  const members = pool(v, initialHealth(v)).filter((_, j) => !down.has(j));
  const serverIds = assignIds(new Map(), v.realServers.map((r) => serverKey(r.address, r.port)));
  const tunnelDevices = v.method === 'tun' ? new Map(v.realServers.map((r, j) => [serverKey(r.address, r.port), `tun${j}`])) : undefined;
  const p = planService(v, { id: i + 1, serverIds, members, tunnelDevices, counts: new Map(members.map((m, j) => [m.key, { active: j * 3, inactive: j }])) });
  return sp.counters && sp.method === 'nat' ? { ...p, counters: true } : p;
}

/** Per service: which servers leave, new weights, and whether the service is reshaped (persistence toggled). */
const changeArb = fc.record({
  touched: fc.boolean(),
  down: fc.array(fc.nat(5), { maxLength: 3 }),
  weights: fc.option(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 6, maxLength: 6 }), { nil: undefined }),
  reshape: fc.boolean(),
});

describe('diffChanged: the diff of the changed services is the whole plane\'s diff', () => {
  it('same text as diffPlane for random planes and random pool / weight changes (fast path)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(specArb, changeArb), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(5), { maxLength: 2 }), (rows, before) => {
      const from: Plane = { services: rows.map(([sp], i) => plan(sp, i, new Set(before))) };
      const to: Plane = {
        services: rows.map(([sp, c], i) => (c.touched ? plan(sp, i, new Set(c.down), c.weights ? sp.weights.map((_, j) => c.weights![j]!) : sp.weights) : from.services[i]!)),
      };
      const d = diffChanged(from, to);
      expect(d.text).toBe(diffPlane(from, to).text);
      expect(d.size).toEqual(diffPlane(from, to).size);
      // untouched services never appear in the transaction
      rows.forEach(([, c], i) => { if (!c.touched) expect(d.text).not.toMatch(new RegExp(`\\bvs${i + 1}(_|\\b)`)); });
    }), { numRuns: 150 });
  });

  it('a reshaped, added or removed service falls back to the whole diff (same text)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(specArb, changeArb), { minLength: 1, maxLength: 6 }), fc.boolean(), (rows, drop) => {
      const from: Plane = { services: rows.map(([sp], i) => plan(sp, i, new Set())) };
      const services = rows.map(([sp, c], i) => (c.reshape ? plan({ ...sp, persistence: !sp.persistence }, i, new Set(c.down)) : from.services[i]!));
      const to: Plane = { services: drop ? services.slice(1) : services };
      const d = diffChanged(from, to);
      const reshaped = drop || rows.some(([, c]) => c.reshape);
      if (reshaped) expect(d.fast).toBe(false);
      expect(d.text).toBe(diffPlane(from, to).text);
    }), { numRuns: 100 });
  });

  it('one server of one service at 1,000 services: the transaction names that service only', () => {
    const sp: Spec = { scheduler: 'rr', method: 'nat', family: 'ipv4', counters: true, persistence: false, weights: Array(10).fill(1) as number[] };
    const from: Plane = { services: Array.from({ length: 1000 }, (_, i) => plan(sp, i, new Set())) };
    const to: Plane = { services: from.services.map((s, i) => (i === 500 ? plan(sp, i, new Set([3])) : s)) };
    const d = diffChanged(from, to);
    expect(d.fast).toBe(true);
    expect(d.text).toBe(diffPlane(from, to).text);
    expect(d.text).toMatch(/vs501 /);
    expect(serviceShape(to.services[500]!)).toBe(serviceShape(from.services[500]!));
  });
});
