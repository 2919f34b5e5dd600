/**
 * Golden packets from the real keepalived (Debian 2.2.7), recorded by
 * testdata/keepalived/capture.sh (see testdata/keepalived/README.md): every VRRP advert
 * in the captures is re-encoded from its fields byte for byte, and the ladder accepts it.
 */
import { describe, expect, it } from 'vitest';
import { readPcap, hex } from '../../helpers/pcap.js';
import { testdata, vrrpFrames } from '../../helpers/vrrp-frames.js';
import {
  checkAdvert, decodeAdvert, encodeAdvert, passwordAuthData, vrrpChecksum, VRRP_AUTH_NONE, VRRP_AUTH_PASS,
  type VrrpRxInstance,
} from '../../../src/protocol/vrrp/packet.js';
import { formatIP, parseIP, type Family } from '../../../src/protocol/inet.js';
import { gratuitousArp, unsolicitedNeighbourAdvert } from '../../../src/protocol/arp.js';

const ip = (s: string) => parseIP(s)!.bytes;

interface Scenario {
  readonly file: string;
  readonly family: Family;
  readonly version: 2 | 3;
  readonly vrid: number;
  readonly intervalMs: number;
  readonly addresses: readonly string[];
  readonly group: string;
  readonly unicast: boolean;
  readonly password?: string;
  /** Priorities of node a and b (see capture.sh). */
  readonly prio: readonly [number, number];
  /** Nodes whose last advert is the priority-0 one (the others were frozen). */
  readonly zeroFrom?: readonly ('a' | 'b')[];
}

const scenarios: Scenario[] = [
  { file: 'keepalived-v2-pass.pcap', family: 4, version: 2, vrid: 51, intervalMs: 1000, addresses: ['10.77.0.100', '10.77.0.101'], group: '224.0.0.18', unicast: false, password: 'carpool-pw', prio: [100, 150] },
  { file: 'keepalived-v3-ipv4.pcap', family: 4, version: 3, vrid: 52, intervalMs: 500, addresses: ['10.77.0.100'], group: '224.0.0.18', unicast: false, prio: [100, 200] },
  { file: 'keepalived-v3-ipv6.pcap', family: 6, version: 3, vrid: 53, intervalMs: 500, addresses: ['fe80::53', 'fd77::53'], group: 'ff02::12', unicast: false, prio: [100, 200] },
  { file: 'keepalived-v3-unicast.pcap', family: 4, version: 3, vrid: 54, intervalMs: 1000, addresses: ['10.77.0.100', '10.77.0.101', '10.77.0.102'], group: '224.0.0.18', unicast: true, prio: [100, 150] },
  { file: 'keepalived-v2-partition.pcap', family: 4, version: 2, vrid: 55, intervalMs: 1000, addresses: ['10.77.0.100'], group: '224.0.0.18', unicast: false, prio: [100, 100], zeroFrom: ['a'] },
  { file: 'keepalived-v3-adopt.pcap', family: 4, version: 3, vrid: 56, intervalMs: 500, addresses: ['10.77.0.100'], group: '224.0.0.18', unicast: false, prio: [200, 100], zeroFrom: ['b'] },
];

function rxInstance(s: Scenario, over: Partial<VrrpRxInstance> = {}): VrrpRxInstance {
  return {
    version: s.version, authType: s.password ? VRRP_AUTH_PASS : VRRP_AUTH_NONE, authData: passwordAuthData(s.password ?? ''),
    intervalMs: s.intervalMs, unicast: s.unicast, mcastGroup: ip(s.group), addresses: s.addresses.map(ip), ...over,
  };
}

describe.each(scenarios)('keepalived golden $file', (s) => {
  const frames = vrrpFrames(s.file);
  const nodeA = s.family === 4 ? '10.77.0.1' : 'fe80::77:ff:fe00:1';
  const nodeB = s.family === 4 ? '10.77.0.2' : 'fe80::77:ff:fe00:2';

  it('holds adverts from both nodes, including a priority-0 advert from each on stop', () => {
    expect(frames.length).toBeGreaterThan(8);
    const prio = (who: string) => frames.filter((c) => formatIP(c.pkt.src) === who).map((c) => c.pkt.payload[2]);
    expect(prio(nodeA)).toContain(s.prio[0]);
    expect(prio(nodeB)).toContain(s.prio[1]);
    for (const [who, addr] of [['a', nodeA], ['b', nodeB]] as const) {
      if ((s.zeroFrom ?? ['a', 'b']).includes(who)) expect(prio(addr).at(-1)).toBe(0);
    }
  });

  it('re-encodes every advert byte for byte from its fields', () => {
    for (const c of frames) {
      const adv = decodeAdvert(c.pkt.payload, s.family)!;
      const again = encodeAdvert({
        version: s.version, vrid: adv.vrid, priority: adv.priority, intervalMs: adv.intervalMs, addresses: adv.addresses,
        authType: adv.authType, authData: s.password ? passwordAuthData(s.password) : undefined,
      }, { family: s.family, src: c.pkt.src, dst: c.pkt.dst });
      expect(hex(again)).toBe(hex(c.pkt.payload));
      // ... and from configuration values, not the decoded ones.
      const fromConfig = encodeAdvert({
        version: s.version, vrid: s.vrid, priority: adv.priority, intervalMs: adv.intervalMs, addresses: s.addresses.map(ip),
        authType: s.password ? VRRP_AUTH_PASS : VRRP_AUTH_NONE, authData: s.password ? passwordAuthData(s.password) : undefined,
      }, { family: s.family, src: c.pkt.src, dst: c.pkt.dst });
      expect(hex(fromConfig)).toBe(hex(c.pkt.payload));
    }
  });

  it('sends as keepalived documents: TTL 255, TOS 0xc0, no DF, IP IDs counting from 1, group or peer destination', () => {
    for (const c of frames) {
      expect(c.pkt.ttl).toBe(255);
      expect(c.tos).toBe(0xc0);
      expect(c.df).toBe(false);
      const dst = formatIP(c.pkt.dst);
      if (s.unicast) expect(dst).toBe(formatIP(c.pkt.src) === nodeA ? nodeB : nodeA);
      else expect(dst).toBe(s.group);
    }
    if (s.family === 4) {
      const ids = frames.filter((c) => formatIP(c.pkt.src) === nodeA).map((c) => c.id);
      expect(ids.slice(0, 3)).toEqual([1, 2, 3]);
    }
  });

  it('passes the whole ladder, the checksum variant reported', () => {
    const inst = rxInstance(s);
    for (const c of frames) {
      const v = checkAdvert(c.pkt, (vrid) => (vrid === s.vrid ? inst : undefined));
      expect(v).toMatchObject({ ok: true, value: { checksum: s.version === 2 ? 'plain' : 'pseudo', addressMismatch: false } });
    }
  });

  it('drops each captured advert for the right reason when one thing is wrong', () => {
    const c = frames[0]!;
    const inst = rxInstance(s);
    const lookup = (vrid: number) => (vrid === s.vrid ? inst : undefined);
    expect(checkAdvert({ ...c.pkt, ttl: 254 }, lookup)).toEqual(s.unicast ? expect.objectContaining({ ok: true }) : { ok: false, reason: 'ttl' });
    expect(checkAdvert({ ...c.pkt, payload: c.pkt.payload.subarray(0, c.pkt.payload.length - 1) }, lookup)).toEqual({ ok: false, reason: 'length' });
    expect(checkAdvert(c.pkt, () => rxInstance(s, { version: s.version === 2 ? 3 : 2 }))).toEqual({ ok: false, reason: 'version' });
    const bad = c.pkt.payload.slice();
    bad[7]! ^= 1;
    expect(checkAdvert({ ...c.pkt, payload: bad }, lookup)).toEqual({ ok: false, reason: 'checksum' });
    expect(checkAdvert(c.pkt, () => undefined)).toEqual({ ok: false, reason: 'vrid' });
    const other = checkAdvert(c.pkt, () => rxInstance(s, { addresses: [ip(s.family === 4 ? '10.9.9.9' : 'fd00::9')] }));
    expect(other).toMatchObject({ ok: true, value: { addressMismatch: true } });
    if (s.version === 2) {
      if (s.password) {
        expect(checkAdvert(c.pkt, () => rxInstance(s, { authData: passwordAuthData('carpool!') }))).toEqual({ ok: false, reason: 'auth-pass' });
        expect(checkAdvert(c.pkt, () => rxInstance(s, { authType: VRRP_AUTH_NONE }))).toEqual({ ok: false, reason: 'auth-type' });
      } else {
        expect(checkAdvert(c.pkt, () => rxInstance(s, { authType: VRRP_AUTH_PASS }))).toEqual({ ok: false, reason: 'auth-type' });
      }
      expect(checkAdvert(c.pkt, () => rxInstance(s, { intervalMs: 2000 }))).toEqual({ ok: false, reason: 'interval' });
    } else {
      // v3: the backup adopts the master's interval, a mismatch is no reason to drop.
      expect(checkAdvert(c.pkt, () => rxInstance(s, { intervalMs: 2000 }))).toMatchObject({ ok: true });
    }
    if (s.unicast) {
      expect(checkAdvert({ ...c.pkt, dst: ip(s.group) }, lookup)).toMatchObject({ ok: false });
    } else {
      expect(checkAdvert(c.pkt, () => rxInstance(s, { unicast: true }))).toEqual({ ok: false, reason: 'destination' });
    }
  });
});

describe('keepalived golden: checksum variants', () => {
  it('v3 over IPv4 uses the pseudo-header with the actual destination, for unicast the peer', () => {
    for (const file of ['keepalived-v3-ipv4.pcap', 'keepalived-v3-unicast.pcap']) {
      for (const c of vrrpFrames(file)) {
        const sum = vrrpChecksum(c.pkt.payload, 3, { family: 4, src: c.pkt.src, dst: c.pkt.dst });
        expect(sum).toBe(decodeAdvert(c.pkt.payload, 4)!.checksum);
        expect(vrrpChecksum(c.pkt.payload, 3, { family: 4, src: c.pkt.src, dst: c.pkt.dst, v3ChecksumAsV2: true })).not.toBe(sum);
      }
    }
  });

  it('accepts the same adverts re-checksummed without the pseudo-header (RFC 9568 / v3_checksum_as_v2)', () => {
    // Debian's keepalived 2.2.7 predates `v3_checksum_as_v2`; this is the same advert with
    // the checksum that option (and RFC 9568 peers) produce.
    const s = scenarios[1]!;
    for (const c of vrrpFrames(s.file)) {
      const adv = decodeAdvert(c.pkt.payload, 4)!;
      const plain = encodeAdvert({ version: 3, vrid: adv.vrid, priority: adv.priority, intervalMs: adv.intervalMs, addresses: adv.addresses },
        { family: 4, src: c.pkt.src, dst: c.pkt.dst, v3ChecksumAsV2: true });
      expect(hex(plain.subarray(8))).toBe(hex(c.pkt.payload.subarray(8)));
      const v = checkAdvert({ ...c.pkt, payload: plain }, () => rxInstance(s));
      expect(v).toMatchObject({ ok: true, value: { checksum: 'plain' } });
    }
  });

  it('recognises the pre-1.3.6 unicast checksum (group in the pseudo-header)', () => {
    const s = scenarios[3]!;
    const c = vrrpFrames(s.file)[0]!;
    const adv = decodeAdvert(c.pkt.payload, 4)!;
    const old = encodeAdvert({ version: 3, vrid: adv.vrid, priority: adv.priority, intervalMs: adv.intervalMs, addresses: adv.addresses },
      { family: 4, src: c.pkt.src, dst: ip('224.0.0.18') });
    expect(checkAdvert({ ...c.pkt, payload: old }, () => rxInstance(s))).toMatchObject({ ok: true, value: { checksum: 'pseudo-group' } });
  });

  it('IPv6: the RFC 8200 pseudo-header checksum matches what the kernel put on the wire', () => {
    const s = scenarios[2]!;
    for (const c of vrrpFrames(s.file)) {
      expect(vrrpChecksum(c.pkt.payload, 3, { family: 6, src: c.pkt.src, dst: c.pkt.dst })).toBe(decodeAdvert(c.pkt.payload, 6)!.checksum);
      expect(checkAdvert({ ...c.pkt, checksumVerified: true }, () => rxInstance(s))).toMatchObject({ ok: true, value: { checksum: 'kernel' } });
    }
  });

  it('v2 PASS: keepalived truncates the password to 8 bytes ("carpool-pw" -> "carpool-")', () => {
    const c = vrrpFrames('keepalived-v2-pass.pcap')[0]!;
    const adv = decodeAdvert(c.pkt.payload, 4)!;
    expect(new TextDecoder().decode(adv.authData)).toBe('carpool-');
    expect(adv.authType).toBe(VRRP_AUTH_PASS);
  });
});

describe('keepalived golden: gratuitous ARP', () => {
  it('keepalived GARPs are byte-identical to gratuitousArp(..., broadcast target)', () => {
    const garps = readPcap(testdata('keepalived-v2-pass.pcap')).map((r) => r.frame).filter((f) => f[12] === 0x08 && f[13] === 0x06);
    expect(garps.length).toBeGreaterThan(0);
    for (const f of garps) {
      const mac = f.subarray(6, 12);
      const vip = formatIP(f.subarray(28, 32));
      expect(hex(gratuitousArp(mac, vip, { targetMac: 'broadcast' }))).toBe(hex(f.subarray(0, 42)));
    }
  });

  it('keepalived unsolicited NAs (source = the VIP, override, no router flag) match unsolicitedNeighbourAdvert', () => {
    const nas = readPcap(testdata('keepalived-v3-ipv6.pcap')).map((r) => r.frame).filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 58 && f[54] === 136);
    expect(nas.length).toBeGreaterThan(0);
    for (const f of nas) {
      const target = formatIP(f.subarray(62, 78));
      expect(formatIP(f.subarray(22, 38))).toBe(target);
      expect(hex(unsolicitedNeighbourAdvert(f.subarray(6, 12), target, target))).toBe(hex(f));
    }
  });
});
