import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkAdvert, decodeAdvert, encodeAdvert, intervalField, ipv4PseudoHeader, ipv6PseudoHeader, passwordAuthData, vrrpChecksum,
  vrrpMessageLength, VRRP_AUTH_NONE, VRRP_AUTH_PASS, VRRP_DROP_REASONS, type VrrpRxInstance,
} from '../../../src/protocol/vrrp/packet.js';
import { hex, unhex } from '../../helpers/pcap.js';
import { parseIP } from '../../../src/protocol/inet.js';
import { countDrop, dropCounters } from '../../../src/election/common.js';

const ip = (s: string) => parseIP(s)!.bytes;

describe('VRRP packet codec', () => {
  it('encodes the RFC 3768 v2 layout: 0x21, vrid, prio, count, auth type, seconds, checksum, addresses, auth data', () => {
    const b = encodeAdvert({ version: 2, vrid: 7, priority: 100, intervalMs: 1000, addresses: [ip('192.0.2.1')], authType: VRRP_AUTH_PASS, authData: passwordAuthData('secret') },
      { family: 4, src: ip('192.0.2.10'), dst: ip('224.0.0.18') });
    expect(b.length).toBe(vrrpMessageLength(2, 4, 1));
    expect(hex(b.subarray(0, 6))).toBe('210764010101');
    expect(hex(b.subarray(8))).toBe('c0000201' + '736563726574' + '0000');
  });

  it('encodes the RFC 5798 v3 layout: 0x31, 4 reserved bits + 12-bit centiseconds, no auth data', () => {
    const b = encodeAdvert({ version: 3, vrid: 9, priority: 254, intervalMs: 40_950, addresses: [ip('fd00::1')] }, { family: 6, src: ip('fe80::1'), dst: ip('ff02::12') });
    expect(hex(b.subarray(0, 6))).toBe('3109fe010fff');
    expect(b.length).toBe(8 + 16);
    expect(decodeAdvert(b, 6)!.intervalMs).toBe(40_950);
  });

  it('rounds intervals to what the version carries', () => {
    expect(intervalField(2, 1400)).toBe(1);
    expect(intervalField(2, 1600)).toBe(2);
    expect(intervalField(2, 10)).toBe(1);
    expect(intervalField(3, 14)).toBe(1);
    expect(intervalField(3, 100_000)).toBe(4095);
  });

  it('truncates PASS to 8 bytes and zero-pads shorter ones', () => {
    expect(hex(passwordAuthData('carpool-pw'))).toBe(hex(new TextEncoder().encode('carpool-')));
    expect(hex(passwordAuthData('ab'))).toBe('6162000000000000');
  });

  it('pseudo-headers: IPv4 src dst 0 112 len; IPv6 src dst len32 000 112', () => {
    expect(hex(ipv4PseudoHeader(ip('10.0.0.1'), ip('224.0.0.18'), 20))).toBe('0a000001e00000120070' + '0014');
    expect(hex(ipv6PseudoHeader(ip('fe80::1'), ip('ff02::12'), 40)).slice(64)).toBe('0000002800000070');
  });

  it('decode → encode round-trips any advert (property)', () => {
    fc.assert(fc.property(
      fc.constantFrom(2 as const, 3 as const), fc.constantFrom(4 as const, 6 as const), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 1, max: 4095 }), fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { maxLength: 20 }), fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.boolean(),
      (version, family, vrid, priority, field, addrs, auth, asV2) => {
        const v = version;
        const f = family;
        const intervalMs = v === 2 ? (field % 255 + 1) * 1000 : field * 10;
        const addresses = addrs.map((a) => a.subarray(0, f === 4 ? 4 : 16));
        const ctx = { family: f, src: ip(f === 4 ? '10.1.2.3' : 'fe80::3'), dst: ip(f === 4 ? '224.0.0.18' : 'ff02::12'), v3ChecksumAsV2: asV2 };
        const b = encodeAdvert({ version: v, vrid, priority, intervalMs, addresses, authType: v === 2 ? VRRP_AUTH_PASS : undefined, authData: v === 2 ? auth : undefined }, ctx);
        const d = decodeAdvert(b, f)!;
        expect(d).toMatchObject({ version: v, vrid, priority, count: addresses.length, intervalMs });
        expect(vrrpChecksum(b, v, ctx)).toBe(d.checksum);
        const again = encodeAdvert({ version: v, vrid, priority, intervalMs: d.intervalMs, addresses: d.addresses, authType: d.authType, authData: v === 2 ? d.authData : undefined }, ctx);
        expect(hex(again)).toBe(hex(b));
      }), { numRuns: 300 });
  });

  it('v3 reserved bits are ignored on receive (RFC 5798 §5.2.5)', () => {
    const b = encodeAdvert({ version: 3, vrid: 1, priority: 100, intervalMs: 1000, addresses: [ip('10.0.0.100')] }, { family: 4, src: ip('10.0.0.1'), dst: ip('224.0.0.18'), v3ChecksumAsV2: true });
    b[4]! |= 0xa0;
    b[6] = 0; b[7] = 0;
    const sum = vrrpChecksum(b, 3, { family: 4, src: ip('10.0.0.1'), dst: ip('224.0.0.18'), v3ChecksumAsV2: true });
    b[6] = sum >> 8; b[7] = sum & 0xff;
    const inst: VrrpRxInstance = { version: 3, authType: VRRP_AUTH_NONE, authData: new Uint8Array(8), intervalMs: 1000, unicast: false, mcastGroup: ip('224.0.0.18'), addresses: [ip('10.0.0.100')] };
    const v = checkAdvert({ family: 4, src: ip('10.0.0.1'), dst: ip('224.0.0.18'), ttl: 255, payload: b }, () => inst);
    expect(v).toMatchObject({ ok: true, value: { advert: { reserved: 0xa, intervalMs: 1000 }, checksum: 'plain' } });
  });

  it('ladder order: a TTL error wins over everything after it; v3 interval 0 is dropped; Ethernet padding is tolerated', () => {
    const inst: VrrpRxInstance = { version: 3, authType: VRRP_AUTH_NONE, authData: new Uint8Array(8), intervalMs: 1000, unicast: false, mcastGroup: ip('224.0.0.18'), addresses: [] };
    const pkt = (payload: Uint8Array, ttl = 255) => ({ family: 4 as const, src: ip('10.0.0.1'), dst: ip('224.0.0.18'), ttl, payload });
    expect(checkAdvert(pkt(unhex('ff'), 64), () => inst)).toEqual({ ok: false, reason: 'ttl' });
    expect(checkAdvert(pkt(unhex('31')), () => inst)).toEqual({ ok: false, reason: 'length' });
    expect(checkAdvert(pkt(unhex('4101640000640000')), () => inst)).toEqual({ ok: false, reason: 'version' });
    expect(checkAdvert(pkt(unhex('3201640000640000')), () => inst)).toEqual({ ok: false, reason: 'type' });
    const zero = encodeAdvert({ version: 3, vrid: 1, priority: 100, intervalMs: 1000, addresses: [] }, { family: 4, src: ip('10.0.0.1'), dst: ip('224.0.0.18') });
    zero[4] = 0; zero[5] = 0;
    expect(checkAdvert(pkt(zero), () => inst)).toEqual({ ok: false, reason: 'interval' });
    const good = encodeAdvert({ version: 3, vrid: 1, priority: 100, intervalMs: 1000, addresses: [] }, { family: 4, src: ip('10.0.0.1'), dst: ip('224.0.0.18') });
    const padded = Uint8Array.from([...good, 0, 0, 0, 0, 0, 0]);
    expect(checkAdvert(pkt(padded), () => inst)).toMatchObject({ ok: true, value: { checksum: 'pseudo' } });
    expect(checkAdvert({ ...pkt(good), dst: ip('224.0.0.19') }, () => inst)).toEqual({ ok: false, reason: 'checksum' });
  });

  it('drop counters: one per reason, in ladder order', () => {
    const c = dropCounters(VRRP_DROP_REASONS);
    expect(Object.keys(c)).toEqual(['ttl', 'length', 'version', 'type', 'auth-type', 'auth-pass', 'auth-ah', 'auth-replay', 'interval', 'checksum', 'destination', 'vrid']);
    expect(countDrop(c, { ok: false, reason: 'ttl' })).toBe(true);
    expect(countDrop(c, { ok: true, value: 1 })).toBe(false);
    expect(c.ttl).toBe(1);
  });
});
