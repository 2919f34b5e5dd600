/**
 * Fuzzing the receive path: random and mutated packets (seeded from the keepalived
 * captures) at the decoder and the ladder, the accepted ones into a machine. Nothing may
 * throw, and no packet without the right PASS password is ever accepted, so none can
 * change state.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../helpers/sim.js';
import { vrrpFrames } from '../../helpers/vrrp-frames.js';
import {
  checkAdvert, decodeAdvert, encodeAdvert, passwordAuthData, sameBytes, VRRP_AUTH_PASS,
  type VrrpRxInstance, type VrrpRxPacket,
} from '../../../src/protocol/vrrp/packet.js';
import { VrrpMachine } from '../../../src/election/vrrp.js';
import { vrrpRxInstance, type VrrpParams } from '../../../src/election/vrrp-model.js';
import { parseIP } from '../../../src/protocol/inet.js';
import { CARPOOL_GARP } from '../../election/vrrp-sim.js';

const ip = (s: string) => parseIP(s)!.bytes;
const PASSWORD = passwordAuthData('carpool-pw');

function machine(version: 2 | 3, family: 4 | 6, vrid: number, auth: boolean): VrrpMachine {
  const p: VrrpParams = {
    name: 'fuzz', version, family, vrid, priority: 120, advertIntervalMs: version === 2 ? 1000 : 500, initialState: 'BACKUP',
    preempt: true, preemptDelayMs: 0, authData: auth ? PASSWORD : undefined, srcip: ip(family === 4 ? '10.77.0.9' : 'fe80::9'),
    mcastGroup: ip(family === 4 ? '224.0.0.18' : 'ff02::12'), unicastPeers: [], v3ChecksumAsV2: false,
    addresses: [ip(family === 4 ? '10.77.0.100' : 'fd77::53')], routes: false, garp: CARPOOL_GARP,
    lowerPrioNoAdvert: false, higherPrioSendAdvert: false, downTimerAdverts: 3, syncGroup: false,
  };
  return new VrrpMachine(p);
}

describe('VRRP receive fuzz', () => {
  it('120 000 random and mutated packets: nothing throws; accepted ones drive a machine without throwing', () => {
    const rand = prng(2024);
    const int = (n: number) => Math.floor(rand() * n);
    const seeds = ['keepalived-v2-pass.pcap', 'keepalived-v3-ipv4.pcap', 'keepalived-v3-ipv6.pcap', 'keepalived-v3-unicast.pcap'].flatMap((f) => vrrpFrames(f));
    const v2 = machine(2, 4, 51, true);
    const v3 = machine(3, 4, 52, false);
    const v6 = machine(3, 6, 53, false);
    const uni = machine(3, 4, 54, false);
    const all = [v2, v3, v6, uni];
    const rx = new Map<number, VrrpRxInstance>([
      [51, vrrpRxInstance(v2.params)], [52, vrrpRxInstance(v3.params)], [53, vrrpRxInstance(v6.params)],
      [54, { ...vrrpRxInstance(uni.params), unicast: true }],
    ]);
    let now = 0;
    for (const m of all) m.step({ type: 'start' }, now);
    const verdicts: Record<string, number> = {};
    let wrongPassAccepted = 0;
    for (let n = 0; n < 120_000; n++) {
      let pkt: VrrpRxPacket;
      if (n % 4 === 3) {
        // Entirely random bytes.
        const family = rand() < 0.5 ? 4 : 6;
        const len = int(80);
        const payload = Uint8Array.from({ length: len }, () => int(256));
        if (len > 1 && rand() < 0.7) payload[1] = 51 + int(4);
        if (len > 0 && rand() < 0.7) payload[0] = ((2 + int(2)) << 4) | (rand() < 0.9 ? 1 : int(16));
        pkt = { family, src: Uint8Array.from({ length: family === 4 ? 4 : 16 }, () => int(256)), dst: ip(family === 4 ? '224.0.0.18' : 'ff02::12'), ttl: rand() < 0.9 ? 255 : int(256), payload };
      } else {
        // A captured advert with a few mutations.
        const base = seeds[int(seeds.length)]!.pkt;
        const payload = base.payload.slice();
        let p: Uint8Array = payload;
        const k = 1 + int(4);
        for (let i = 0; i < k; i++) {
          const what = int(6);
          if (what === 0 && p.length) p[int(p.length)]! ^= 1 << int(8);
          else if (what === 1 && p.length) p[int(p.length)] = int(256);
          else if (what === 2) p = p.subarray(0, int(p.length + 1));
          else if (what === 3) p = Uint8Array.from([...p, ...Array.from({ length: int(24) }, () => int(256))]);
          else if (what === 4 && p.length > 3) p[3] = int(256);
          else if (p.length > 2) p[2] = int(256);
        }
        pkt = { ...base, payload: p, ttl: rand() < 0.95 ? base.ttl : int(256), checksumVerified: base.family === 6 && rand() < 0.5 };
      }
      const v = checkAdvert(pkt, (vrid) => rx.get(vrid));
      decodeAdvert(pkt.payload, pkt.family);
      verdicts[v.ok ? 'ok' : v.reason] = (verdicts[v.ok ? 'ok' : v.reason] ?? 0) + 1;
      if (v.ok) {
        const m = all.find((x) => x.params.vrid === v.value.advert.vrid)!;
        if (m === v2 && !sameBytes(v.value.advert.authData, PASSWORD)) wrongPassAccepted++;
        now += rand() * 50;
        m.step({ type: 'advert', advert: v.value.advert, src: pkt.src }, now);
        m.step({ type: 'tick' }, now);
      }
    }
    expect(wrongPassAccepted).toBe(0);
    // Every rung of the ladder was exercised, and some mutants still pass (e.g. priority changes).
    for (const r of ['ttl', 'length', 'version', 'type', 'auth-type', 'auth-pass', 'interval', 'checksum', 'vrid', 'ok']) expect(verdicts[r] ?? 0).toBeGreaterThan(0);
  });

  it('a well-formed, correctly checksummed v2 advert with any other password is never accepted (50 000 tries)', () => {
    const rand = prng(99);
    const int = (n: number) => Math.floor(rand() * n);
    const m = machine(2, 4, 51, true);
    const inst = vrrpRxInstance(m.params);
    m.step({ type: 'start' }, 0);
    const before = m.status();
    const outcomes: Record<string, number> = {};
    for (let n = 0; n < 50_000; n++) {
      const authData = Uint8Array.from({ length: 8 }, (_, i) => (rand() < 0.9 ? PASSWORD[i]! : int(256)));
      if (sameBytes(authData, PASSWORD)) authData[int(8)]! ^= 1 + int(255);
      const payload = encodeAdvert({
        version: 2, vrid: 51, priority: int(256), intervalMs: 1000, addresses: [ip('10.77.0.100')], authType: VRRP_AUTH_PASS, authData,
      }, { family: 4, src: ip(`10.77.0.${1 + int(200)}`), dst: ip('224.0.0.18') });
      const v = checkAdvert({ family: 4, src: ip('10.77.0.1'), dst: ip('224.0.0.18'), ttl: 255, payload }, () => inst);
      const key = v.ok ? 'ok' : v.reason;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (v.ok) m.step({ type: 'advert', advert: v.value.advert, src: ip('10.77.0.1') }, n);
    }
    expect(outcomes).toEqual({ 'auth-pass': 50_000 });
    expect(m.status()).toEqual(before);
  });
});
