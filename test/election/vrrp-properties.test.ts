import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VrrpSim } from './vrrp-sim.js';
import { VrrpMachine } from '../../src/election/vrrp.js';
import type { VrrpInput, VrrpParams } from '../../src/election/vrrp-model.js';
import { decodeAdvert, encodeAdvert } from '../../src/protocol/vrrp/packet.js';
import { parseIP } from '../../src/protocol/inet.js';
import { CARPOOL_GARP } from './vrrp-sim.js';

const ip = (s: string) => parseIP(s)!.bytes;

describe('VRRP election properties', () => {
  it('after the network settles there is exactly one master per VRID, and it alone holds the addresses', () => {
    const node = fc.record({
      last: fc.integer({ min: 1, max: 254 }),
      priority: fc.oneof(fc.integer({ min: 1, max: 254 }), fc.constant(100), fc.constant(255)),
      preempt: fc.boolean(),
      preemptDelayMs: fc.constantFrom(0, 0, 500, 2000),
      initialState: fc.constantFrom('MASTER' as const, 'BACKUP' as const),
      startAt: fc.integer({ min: 0, max: 3000 }),
    });
    fc.assert(fc.property(
      fc.array(node, { minLength: 2, maxLength: 4 }), fc.constantFrom(2 as const, 3 as const), fc.double({ min: 0, max: 0.6, noNaN: true }), fc.integer(),
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 8000 }), who: fc.nat(), what: fc.constantFrom('fault', 'clear', 'demote', 'prio') , prio: fc.integer({ min: -50, max: 300 }) }), { maxLength: 4 }),
      (nodes, version, lossRate, seed, events) => {
        const uniq = [...new Map(nodes.map((n) => [n.last, n])).values()];
        if (uniq.length < 2) return true;
        const intervalMs = version === 2 ? 1000 : 100;
        const sim = new VrrpSim(uniq.map((n, i) => ({ name: `n${i}`, ip: `10.0.0.${n.last}`, ...n })), { version, seed, intervalMs });
        sim.loss = () => sim.rand() < lossRate;
        const scale = version === 2 ? 1 : 0.1;
        for (const [i, n] of uniq.entries()) {
          sim.runUntil(Math.max(sim.now, n.startAt * scale));
          sim.start(sim.nodes[i]);
        }
        for (const e of [...events].sort((a, b) => a.at - b.at)) {
          sim.runUntil(Math.max(sim.now, e.at * scale));
          const inst = sim.nodes[e.who % sim.nodes.length]!.instances[0]!;
          if (e.what === 'fault') sim.input(inst, { type: 'fault', fault: true, reason: 'p' });
          else if (e.what === 'clear') sim.input(inst, { type: 'fault', fault: false, reason: 'p' });
          else if (e.what === 'demote') sim.input(inst, { type: 'stepDown', reason: 'p' });
          else sim.input(inst, { type: 'priority', priority: e.prio, reason: 'p' });
        }
        // Everyone healthy again, network clean: wait out preempt delays and master-down timers.
        for (const n of sim.nodes) sim.input(n.instances[0]!, { type: 'fault', fault: false, reason: 'p' });
        sim.loss = () => false;
        sim.runUntil(sim.now + 30 * intervalMs + 3000);
        const m = sim.masters();
        const h = sim.holders();
        return m.length === 1 && h.length === 1 && h[0] === m[0];
      }), { numRuns: 120 });
  });

  it('no input sequence, however hostile, makes the machine throw, and the address invariants hold', () => {
    const advert = fc.record({
      prio: fc.integer({ min: 0, max: 255 }), last: fc.integer({ min: 0, max: 255 }), intervalCs: fc.integer({ min: 0, max: 4095 }), vrid: fc.constantFrom(1, 1, 1, 2),
    }).map(({ prio, last, intervalCs, vrid }) => {
      const b = encodeAdvert({ version: 3, vrid, priority: prio, intervalMs: 1000, addresses: [] }, { family: 4, src: ip('10.0.0.9'), dst: ip('224.0.0.18') });
      b[4] = (intervalCs >> 8) & 0x0f; b[5] = intervalCs & 0xff;
      return { type: 'advert' as const, advert: decodeAdvert(b, 4)!, src: Uint8Array.of(10, 0, 0, last) };
    });
    const input: fc.Arbitrary<VrrpInput> = fc.oneof(
      fc.constant({ type: 'tick' as const }), fc.constant({ type: 'start' as const }), fc.constant({ type: 'shutdown' as const }),
      advert, advert, advert,
      fc.record({ type: fc.constant('priority' as const), priority: fc.oneof(fc.integer({ min: -300, max: 600 }), fc.constant(Number.NaN)), reason: fc.constant('x') }),
      fc.record({ type: fc.constant('fault' as const), fault: fc.boolean(), reason: fc.constant('x') }),
      fc.record({ type: fc.constant('groupFault' as const), fault: fc.boolean(), reason: fc.constant('x') }),
      fc.record({ type: fc.constant('stepDown' as const), reason: fc.constant('x') }),
      fc.record({ type: fc.constant('standby' as const), on: fc.boolean(), reason: fc.constant('x') }),
      fc.record({ type: fc.constant('sendResult' as const), ok: fc.boolean() }),
      fc.record({ type: fc.constant('groupBackup' as const), reason: fc.constant('x') }),
      fc.record({ type: fc.constant('groupMaster' as const), reason: fc.constant('x') }),
    );
    fc.assert(fc.property(
      fc.array(fc.tuple(input, fc.double({ min: 0, max: 400, noNaN: true })), { maxLength: 60 }),
      fc.constantFrom(2 as const, 3 as const), fc.constantFrom(1, 100, 254, 255), fc.boolean(), fc.boolean(), fc.constantFrom('MASTER' as const, 'BACKUP' as const),
      (steps, version, priority, syncGroup, preempt, initialState) => {
        const p: VrrpParams = {
          name: 'p', version, family: 4, vrid: 1, priority, advertIntervalMs: version === 2 ? 1000 : 100, initialState, preempt, preemptDelayMs: 300,
          srcip: ip('10.0.0.5'), mcastGroup: ip('224.0.0.18'), unicastPeers: [], v3ChecksumAsV2: false, addresses: [ip('10.0.0.100')], routes: true,
          garp: { ...CARPOOL_GARP, masterRefreshMs: 700, lowerPrioDelayMs: 50 }, lowerPrioNoAdvert: false, higherPrioSendAdvert: true, downTimerAdverts: 3, syncGroup,
        };
        const m = new VrrpMachine(p);
        let now = 0, held = false, stopped = false;
        for (const [inp, dt] of steps) {
          now += dt;
          for (const e of m.step(inp, now)) {
            if (e.type === 'addAddresses') held = true;
            if (e.type === 'removeAddresses') held = false;
            if (e.type === 'stopped') { expect(stopped).toBe(false); stopped = true; }
          }
          const s = m.status();
          if (s.state === 'MASTER') expect(held).toBe(true);
          if (s.state === 'FAULT' || s.state === 'INIT') expect(held).toBe(false);
          if (s.state === 'BACKUP') expect(held).toBe(s.releasePending);
          if (stopped) expect(s.state).toBe('INIT');
          const d = m.nextDeadline();
          if (d !== undefined) expect(Number.isFinite(d)).toBe(true);
          expect(s.effectivePriority).toBe(priority === 255 ? 255 : s.effectivePriority);
          expect(s.effectivePriority >= 1 && s.effectivePriority <= 255).toBe(true);
        }
      }), { numRuns: 1500 });
  });
});
