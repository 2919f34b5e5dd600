/**
 * The machine against the real keepalived: the adverts one keepalived node heard in the
 * captures (testdata/keepalived-*.pcap) are replayed, at their capture times, into a
 * VrrpMachine configured like that node; it must decide what keepalived decided, within a
 * few milliseconds of when keepalived did it.
 */
import { describe, expect, it } from 'vitest';
import { testdata, vrrpFrames, type Captured } from '../helpers/vrrp-frames.js';
import { readPcap } from '../helpers/pcap.js';
import { formatMac } from '../../src/protocol/arp.js';
import { VrrpMachine } from '../../src/election/vrrp.js';
import type { VrrpEffect, VrrpParams } from '../../src/election/vrrp-model.js';
import { decodeAdvert, passwordAuthData } from '../../src/protocol/vrrp/packet.js';
import { formatIP, parseIP } from '../../src/protocol/inet.js';
import { KEEPALIVED_227_GARP } from './vrrp-sim.js';

const ip = (s: string) => parseIP(s)!.bytes;
/** keepalived's own timer slack and scheduling on a shared 2-core machine. */
const TOLERANCE_MS = 25;

function params(over: Partial<VrrpParams> & Pick<VrrpParams, 'version' | 'vrid' | 'priority' | 'advertIntervalMs' | 'srcip'>): VrrpParams {
  return {
    name: 'replay', family: 4, initialState: 'BACKUP', preempt: true, preemptDelayMs: 0, mcastGroup: ip('224.0.0.18'), unicastPeers: [],
    v3ChecksumAsV2: false, addresses: [ip('10.77.0.100')], routes: false, garp: KEEPALIVED_227_GARP, lowerPrioNoAdvert: false,
    higherPrioSendAdvert: false, downTimerAdverts: 3, syncGroup: false, ...over,
  };
}

interface Replay {
  readonly sends: { t: number; prio: number }[];
  readonly garps: { t: number; count: number; kind: string }[];
  readonly transitions: { t: number; to: string; reason: string }[];
  readonly m: VrrpMachine;
}

/**
 * Drive a machine from `startAt`: it hears `from`'s adverts at their capture times, and its
 * timers fire at its own deadlines. `prime` may put it into a state first.
 */
function replay(p: VrrpParams, frames: Captured[], from: string, startAt: number, until: number, prime?: (m: VrrpMachine, t: number) => void, feedFrom = startAt): Replay {
  const m = new VrrpMachine(p);
  const out: Replay = { sends: [], garps: [], transitions: [], m };
  const record = (t: number, fx: VrrpEffect[]) => {
    for (const e of fx) {
      if (e.type === 'send') out.sends.push({ t, prio: e.priority });
      if (e.type === 'garp') out.garps.push({ t, count: e.count, kind: e.kind });
      if (e.type === 'transition') out.transitions.push({ t, to: e.to, reason: e.reason });
    }
  };
  record(startAt, m.step({ type: 'start' }, startAt));
  prime?.(m, startAt);
  const incoming = frames.filter((c) => formatIP(c.pkt.src) === from && c.t > startAt && c.t >= feedFrom && c.t <= until);
  let now = startAt;
  for (const c of [...incoming, undefined]) {
    const next = c ? c.t : until;
    for (let d = m.nextDeadline(); d !== undefined && d <= next; d = m.nextDeadline()) {
      now = Math.max(now, d);
      record(now, m.step({ type: 'tick' }, now));
    }
    if (!c) break;
    now = c.t;
    record(now, m.step({ type: 'advert', advert: decodeAdvert(c.pkt.payload, 4)!, src: c.pkt.src }, now));
  }
  return out;
}

/** Gratuitous ARPs of a capture: time and sender MAC. */
const vrrpArps = (file: string) => readPcap(testdata(file)).filter((r) => r.frame[12] === 0x08 && r.frame[13] === 0x06)
  .map((r) => ({ t: r.tsMicros / 1000, mac: formatMac(r.frame.subarray(6, 12)) }));

const adverts = (frames: Captured[], from: string) => frames.filter((c) => formatIP(c.pkt.src) === from).map((c) => ({ t: c.t, prio: c.pkt.payload[2]! }));

describe('VRRP machine vs keepalived 2.2.7 (replayed captures)', () => {
  it.each([
    ['keepalived-v2-pass.pcap', 2, 51, 1000, 'carpool-pw'],
    ['keepalived-v3-ipv4.pcap', 3, 52, 500, undefined],
  ] as const)('%s: preempted master stays silent; after the priority-0 advert it takes over after Skew', (file, version, vrid, interval, pass) => {
    const frames = vrrpFrames(file);
    const a = adverts(frames, '10.77.0.1');
    const b = adverts(frames, '10.77.0.2');
    const bFirst = b[0]!.t;
    const bZero = b.find((x) => x.prio === 0)!.t;
    // keepalived a: nothing between b's first advert and b's priority 0 (yielded without a priority-0 advert).
    expect(a.filter((x) => x.t > bFirst && x.t < bZero)).toEqual([]);
    const kaTakeover = a.find((x) => x.t > bZero)!.t;
    // Our machine as node a, BACKUP from b's first advert on.
    const r = replay(params({ version, vrid, priority: 100, advertIntervalMs: interval, srcip: ip('10.77.0.1'), authData: pass ? passwordAuthData(pass) : undefined }),
      frames, '10.77.0.2', bFirst - 1, bZero + 5000);
    const ours = r.transitions.find((x) => x.to === 'MASTER')!;
    expect(r.sends[0]!.t).toBe(ours.t);
    expect(Math.abs(ours.t - kaTakeover)).toBeLessThan(TOLERANCE_MS);
    expect(ours.t - bZero).toBeCloseTo(r.m.skewMs(), -1);
  });

  it('keepalived-v3-ipv4.pcap: a master that hears a higher priority yields without sending (as keepalived a did)', () => {
    const frames = vrrpFrames('keepalived-v3-ipv4.pcap');
    const b = adverts(frames, '10.77.0.2');
    const r = replay(params({ version: 3, vrid: 52, priority: 100, advertIntervalMs: 500, srcip: ip('10.77.0.1') }), frames, '10.77.0.2', b[0]!.t - 3000, b[0]!.t + 1);
    const yielded = r.transitions.at(-1)!;
    expect(yielded).toMatchObject({ to: 'BACKUP', t: b[0]!.t });
    expect(r.sends.filter((s) => s.t === yielded.t)).toEqual([]);
  });

  it('keepalived-v2-partition.pcap: equal priorities after a partition: b answers a\'s advert at once, a yields; a hung b is replaced after 3 x 1 s + Skew', () => {
    const frames = vrrpFrames('keepalived-v2-partition.pcap');
    const a = adverts(frames, '10.77.0.1');
    const b = adverts(frames, '10.77.0.2');
    // Both were master during the partition; the first advert of a that b answered within ms:
    const answered = a.find((x) => b.some((y) => y.t > x.t && y.t - x.t < 5))!;
    expect(answered).toBeDefined();
    // Our machine as b (master, higher address; deaf to a until the heal) hearing a's advert: one advert at once, stays master.
    const asB = replay(params({ version: 2, vrid: 55, priority: 100, advertIntervalMs: 1000, srcip: ip('10.77.0.2') }), frames, '10.77.0.1', answered.t - 4000, answered.t, undefined, answered.t);
    expect(asB.m.state).toBe('MASTER');
    expect(asB.sends.filter((s) => s.t === answered.t)).toEqual([{ t: answered.t, prio: 100 }]);
    // keepalived b also re-announced with garp_lower_prio_repeat = garp_master_repeat = 5 GARPs right after its answer.
    const kaGarps = vrrpArps('keepalived-v2-partition.pcap').filter((x) => x.mac === '02:77:00:00:00:02' && x.t > answered.t && x.t < answered.t + 10);
    expect(kaGarps).toHaveLength(5);
    expect(asB.garps.filter((g) => g.t === answered.t)).toEqual([{ t: answered.t, count: 5, kind: 'lower-prio' }]);
    // Our machine as a (master, lower address): yields on b's answer, silently.
    const bAnswer = b.find((y) => y.t > answered.t)!;
    const asA = replay(params({ version: 2, vrid: 55, priority: 100, advertIntervalMs: 1000, srcip: ip('10.77.0.1') }), frames, '10.77.0.2', bAnswer.t - 3800, bAnswer.t, undefined, bAnswer.t);
    expect(asA.transitions.at(-1)).toMatchObject({ to: 'BACKUP', t: bAnswer.t });
    // b froze after its last advert; keepalived a took over at:
    const bLast = b.at(-1)!.t;
    const kaTakeover = a.find((x) => x.t > bLast)!.t;
    const r = replay(params({ version: 2, vrid: 55, priority: 100, advertIntervalMs: 1000, srcip: ip('10.77.0.1') }), frames, '10.77.0.2', bAnswer.t + 1, bLast + 10_000,
      (m, t) => void m.step({ type: 'advert', advert: decodeAdvert(frames.find((c) => c.t === bAnswer.t)!.pkt.payload, 4)!, src: ip('10.77.0.2') }, t));
    const ours = r.transitions.find((x) => x.to === 'MASTER')!;
    expect(ours.t - bLast).toBeCloseTo(3000 + (156 * 1000) / 256, 6);
    expect(Math.abs(ours.t - kaTakeover)).toBeLessThan(TOLERANCE_MS);
  });

  it('keepalived-v3-adopt.pcap: the v3 backup adopted the master\'s 0.5 s interval (takeover 1.805 s after a hung master, not 3.609 s)', () => {
    const frames = vrrpFrames('keepalived-v3-adopt.pcap');
    const a = adverts(frames, '10.77.0.1');
    const b = adverts(frames, '10.77.0.2');
    const aLast = a.at(-1)!.t;
    const kaTakeover = b.find((x) => x.t > aLast)!.t;
    const r = replay(params({ version: 3, vrid: 56, priority: 100, advertIntervalMs: 1000, srcip: ip('10.77.0.2') }), frames, '10.77.0.1', a[0]!.t - 1, aLast + 5000);
    const ours = r.transitions.find((x) => x.to === 'MASTER')!;
    expect(ours.t - aLast).toBeCloseTo(1500 + (156 * 500) / 256, 6);
    expect(Math.abs(ours.t - kaTakeover)).toBeLessThan(TOLERANCE_MS);
    // As master it advertises its own 1 s again, as keepalived b did.
    expect(decodeAdvert(frames.find((c) => c.t === kaTakeover)!.pkt.payload, 4)!.intervalMs).toBe(1000);
  });
});
