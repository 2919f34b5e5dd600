import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeIPv4Header } from '../../src/protocol/ipv4.js';
import { internetChecksum } from '../../src/protocol/checksum.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// Genuine ucarp advert (notes §8.1, capture ucarp-capture/a.pcap): IPv4 header + 36-byte CARP header.
const UCARP_IP = '4510 0038 b707 4000 ff70 d9c7 0a630001 e0000012';
const UCARP_CARP = '212a00070001c373858cf9588822913ba8a16e1fe776bd0849c9d40853b18b697e624c86';

/** Set the header checksum of a mutated header so only the field under test is wrong. */
function refreshChecksum(b: Uint8Array): Uint8Array {
  const hl = (b[0]! & 0x0f) * 4;
  b[10] = 0;
  b[11] = 0;
  const sum = internetChecksum(b.subarray(0, Math.min(hl, b.length)));
  b[10] = sum >> 8;
  b[11] = sum & 0xff;
  return b;
}

describe('decodeIPv4Header', () => {
  it('decodes the genuine ucarp advert header', () => {
    const pkt = hex(UCARP_IP + UCARP_CARP);
    const r = decodeIPv4Header(pkt);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.header).toMatchObject({
      version: 4, headerLength: 20, tos: 0x10, totalLength: 56, id: 0xb707,
      dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 255, protocol: 112,
      checksum: 0xd9c7, src: '10.99.0.1', dst: '224.0.0.18',
    });
    expect(r.header.options.length).toBe(0);
    expect(Buffer.from(r.payload).toString('hex')).toBe(UCARP_CARP);
  });

  it('cuts link-layer padding off at the total length, without copying', () => {
    const pkt = hex(UCARP_IP + UCARP_CARP + '00000000');
    const r = decodeIPv4Header(pkt);
    expect(r.ok && r.payload.length).toBe(36);
    if (r.ok) expect(r.payload.buffer).toBe(pkt.buffer);
  });

  it('returns options between the fixed header and the payload', () => {
    // IHL 6: one 4-byte option word (router alert 94 04 00 00), total 24 + 4 payload bytes.
    const pkt = refreshChecksum(hex('4600 001c 0001 0000 0102 0000 0a000001 e0000016 94040000 deadbeef'));
    const r = decodeIPv4Header(pkt);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.header.headerLength).toBe(24);
    expect(Buffer.from(r.header.options).toString('hex')).toBe('94040000');
    expect(Buffer.from(r.payload).toString('hex')).toBe('deadbeef');
    expect(r.header.ttl).toBe(1);
    expect(r.header.protocol).toBe(2);
    expect(r.header.dontFragment).toBe(false);
  });

  it('reports every malformation as a drop reason, never throws', () => {
    const good = hex(UCARP_IP + UCARP_CARP);
    const mutate = (f: (b: Uint8Array) => void, fix = true): Uint8Array => {
      const b = Uint8Array.from(good);
      f(b);
      return fix ? refreshChecksum(b) : b;
    };
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'ipv4-short'],
      [good.subarray(0, 19), 'ipv4-short'],
      [mutate((b) => { b[0] = 0x65; }), 'ipv4-version'],
      [mutate((b) => { b[0] = 0x44; }, false), 'ipv4-header-length'],
      [mutate((b) => { b[0] = 0x4f; }, false), 'ipv4-header-length'], // 60 bytes > 56 captured
      [mutate((b) => { b[2] = 0; b[3] = 16; }), 'ipv4-total-length'],
      [mutate((b) => { b[2] = 0; b[3] = 57; }), 'ipv4-truncated'],
      [mutate((b) => { b[8] = 64; }, false), 'ipv4-checksum'],
      [mutate((b) => { b[6] = 0x20; b[7] = 0; }), 'ipv4-fragment'],
      [mutate((b) => { b[6] = 0x00; b[7] = 0x10; }), 'ipv4-fragment'],
    ];
    for (const [bytes, reason] of cases) {
      const r = decodeIPv4Header(bytes);
      expect(r.ok, reason).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe(reason);
        expect(r.detail.length).toBeGreaterThan(0);
      }
    }
  });

  it('survives arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, v4) => {
      if (v4 && b.length > 0) b[0] = 0x40 | (b[0]! & 0x0f);
      const r = decodeIPv4Header(b);
      if (r.ok) expect(r.header.headerLength + r.payload.length).toBe(r.header.totalLength);
    }));
  });
});
