/** Invariants of the balancer core over random inputs (fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialHealth, pool, step, type HealthInput, type ServiceHealth } from '../../../src/balancer/core/health.js';
import type { Candidate, CheckerSettings, RealServer, VirtualService } from '../../../src/balancer/core/model.js';
import { maglevSize, maglevTable, shTable, weightGcd, wrrTable } from '../../../src/balancer/core/schedulers.js';

const cand = (i: number, weight: number, overloaded = false): Candidate => ({ key: `10.0.0.${i}:80`, weight, active: 0, inactive: 0, overloaded });
const serversArb = fc.array(fc.record({ weight: fc.integer({ min: 0, max: 6 }), overloaded: fc.boolean() }), { minLength: 1, maxLength: 12 })
  .map((xs) => xs.map((x, i) => cand(i + 1, x.weight, x.overloaded && x.weight % 2 === 0)));
const usable = (s: Candidate) => s.weight > 0 && !s.overloaded;

describe('scheduler tables: invariants', () => {
  it('wrr: each available server has exactly weight / gcd slots, nobody else has any', () => {
    fc.assert(fc.property(serversArb, (servers) => {
      const t = wrrTable(servers);
      const live = servers.filter(usable);
      const g = weightGcd(live.map((s) => s.weight));
      for (const s of servers) {
        expect(t.slots.filter((k) => k === s.key).length).toBe(usable(s) ? s.weight / g : 0);
      }
    }));
  });

  it('Maglev: every slot is an available server; shares follow weights; a removal keeps most other slots', () => {
    fc.assert(fc.property(serversArb, fc.nat(), (servers, pick) => {
      // The rule: a prime table of at least 100 x servers. (A fixed 509 with 12 servers
      // moved up to 9.6 % of the others' slots in 3,000 random runs: too close to the bound.)
      const size = maglevSize(servers.length);
      const t = maglevTable(servers, size);
      const live = servers.filter(usable);
      if (live.length === 0) {
        expect(t.slots.every((k) => k === undefined)).toBe(true);
        return;
      }
      expect(t.slots.every((k) => k !== undefined && live.some((s) => s.key === k))).toBe(true);
      const total = live.reduce((a, s) => a + s.weight, 0);
      for (const s of live) {
        const share = t.slots.filter((k) => k === s.key).length / size;
        expect(Math.abs(share - s.weight / total)).toBeLessThan(0.05);
      }
      if (live.length < 2) return;
      const victim = live[pick % live.length]!;
      const after = maglevTable(servers.filter((s) => s !== victim), size);
      const othersMoved = t.slots.filter((k, i) => k !== victim.key && after.slots[i] !== k).length / size;
      // Fewer of the others' slots move than the removed server held. (An absolute 10 % failed
      // about once in 50 runs: with weights 3,1,1,4 removing a weight-1 server moves 10.02 %; over
      // 3,386 random cases the others moved at most 0.78 × the victim's share, 4.1 % at most
      // with equal weights.)
      expect(othersMoved).toBeLessThan(victim.weight / total);
    }), { numRuns: 60 });
  });

  it('sh: only available servers hold buckets, or holes without fallback', () => {
    fc.assert(fc.property(serversArb, fc.boolean(), (servers, fallback) => {
      const t = shTable(servers, { key: 'saddr', fallback });
      const ok = new Set(servers.filter(usable).map((s) => s.key));
      expect(t.slots.every((k) => k === undefined || ok.has(k))).toBe(true);
      if (fallback && ok.size > 0) expect(t.slots.every((k) => k !== undefined)).toBe(true);
    }));
  });
});

const checker: CheckerSettings = { name: 'c', delayLoopMs: 1000, retry: 1, delayBeforeRetryMs: 100, warmupMs: 0, alpha: false, rise: 1, dynamicWeight: false };
const rs = (i: number, inhibit: boolean, n: number): RealServer => ({
  address: `10.0.0.${i}`, port: 80, weight: i, inhibitOnFailure: inhibit, checkers: Array.from({ length: n }, () => checker),
});

describe('health verdicts: invariants over random inputs', () => {
  it('health follows the checkers, events alternate, disabled servers never reach the plane', () => {
    const inputArb = fc.oneof(
      fc.record({ type: fc.constant('result' as const), s: fc.integer({ min: 0, max: 2 }), c: fc.integer({ min: 0, max: 1 }), ok: fc.boolean() }),
      fc.record({ type: fc.constant('admin' as const), s: fc.integer({ min: 0, max: 2 }), state: fc.constantFrom('enabled' as const, 'drained' as const, 'disabled' as const) }),
    );
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.array(inputArb, { maxLength: 60 }), fc.integer({ min: 1, max: 6 }), (inhibit, inputs, quorum) => {
      const vs: VirtualService = {
        name: 'p', family: 'ipv4', match: { kind: 'addr', vip: '10.9.9.9', port: 80 }, protocol: 'tcp', scheduler: 'mh', method: 'nat',
        hashPort: false, hashFallback: false, quorum: { quorum, hysteresis: 1 }, alpha: false, omega: false, haSuspend: false,
        realServers: [rs(1, inhibit[0]!, 1), rs(2, inhibit[1]!, 2), rs(3, inhibit[2]!, 1)],
      };
      let h: ServiceHealth = step(vs, initialHealth(vs), { type: 'start', jitter: 0 }, 0).state;
      const last = new Map<string, string>();
      const quorumEvents: string[] = [];
      inputs.forEach((x, t) => {
        const key = `10.0.0.${x.s + 1}:80`;
        const checkers = vs.realServers[x.s]!.checkers.length;
        const input: HealthInput = x.type === 'result' ? { type: 'result', server: key, checker: x.c % checkers, ok: x.ok } : { type: 'admin', server: key, state: x.state };
        const r = step(vs, h, input, t + 1);
        h = r.state;
        for (const e of r.effects) {
          if (e.type === 'serverUp' || e.type === 'serverDown') {
            expect(last.get(e.server) ?? 'serverUp').not.toBe(e.type);
            last.set(e.server, e.type);
          }
          if (e.type === 'quorumUp' || e.type === 'quorumDown') quorumEvents.push(e.type);
        }
        h.servers.forEach((s) => expect(s.health === 'up').toBe(s.checkers.every((c) => c.up)));
        const members = pool(vs, h);
        for (const m of members) {
          const i = vs.realServers.findIndex((r) => `${r.address}:${r.port}` === m.key);
          const s = h.servers[i]!;
          expect(s.admin).not.toBe('disabled');
          if (s.health === 'down') expect(m.weight).toBe(0);
          if (s.admin === 'drained') expect(m.weight).toBe(0);
        }
      });
      // quorum events alternate, starting with a down (the service starts up)
      expect(quorumEvents.every((e, i) => e === (i % 2 === 0 ? 'quorumDown' : 'quorumUp'))).toBe(true);
    }), { numRuns: 200 });
  });
});
