import { describe, expect, it } from 'vitest';
import { dnsVerdict, encodeName, encodeQuery, parseResponse } from '../../src/protocol/dns.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('DNS codec (RFC 1035 §4)', () => {
  it('encodes a query: header with RD and one question, name as labels', () => {
    // id 0x1234, RD, QD=1 | 7example 3org 0 | type A, class IN
    expect(toHex(encodeQuery(0x1234, 'example.org', 'A'))).toBe('123401000001000000000000' + '076578616d706c65036f726700' + '00010001');
    expect(toHex(encodeQuery(0xbeef, '.', 'SOA'))).toBe('beef01000001000000000000' + '00' + '00060001');
    expect(toHex(encodeQuery(1, 'a.b.', 'AAAA'))).toBe('000101000001000000000000' + '0161016200' + '001c0001');
    expect(() => encodeName('a..b')).toThrow(RangeError);
    expect(() => encodeName(`${'x'.repeat(64)}.org`)).toThrow(RangeError);
  });

  // A response as dnsmasq sends it: id 0x1234, QR RD RA, NOERROR, 1 question, 2 answers
  // (a CNAME, then an A via a compression pointer to offset 12).
  const answer = hex(`
    1234 8180 0001 0002 0000 0000
    076578616d706c65036f726700 0001 0001
    c00c 0005 0001 0000003c 0006 03777777c00c
    c00c 0001 0001 0000003c 0004 0a000001`);

  it('reads id, rcode and the types of the answers (compression pointers stepped over)', () => {
    expect(parseResponse(answer, 0x1234)).toEqual({ ok: true, id: 0x1234, rcode: 0, answerTypes: [5, 1] });
    expect(dnsVerdict(parseResponse(answer, 0x1234), 'A')).toEqual({ ok: true, detail: '1 A record(s)' });
    expect(dnsVerdict(parseResponse(answer, 0x1234), 'MX')).toEqual({ ok: false, detail: 'no MX record in 2 answer(s)' });
  });

  it('judges NXDOMAIN, REFUSED and empty answers as failures', () => {
    const nx = hex('1234 8183 0001 0000 0000 0000 076578616d706c65036f726700 0001 0001');
    expect(dnsVerdict(parseResponse(nx, 0x1234), 'A')).toEqual({ ok: false, detail: 'rcode NXDOMAIN' });
    const refused = hex('1234 8185 0000 0000 0000 0000');
    expect(dnsVerdict(parseResponse(refused, 0x1234), 'A')).toEqual({ ok: false, detail: 'rcode REFUSED' });
  });

  it('drops malformed messages with a reason, never throws', () => {
    expect(parseResponse(hex('1234 81'), 0x1234)).toMatchObject({ ok: false, reason: 'short' });
    expect(parseResponse(answer, 0x4321)).toMatchObject({ ok: false, reason: 'id' });
    expect(parseResponse(hex('1234 0100 0000 0000 0000 0000'), 0x1234)).toMatchObject({ ok: false, reason: 'not-response' });
    expect(parseResponse(answer.subarray(0, 20), 0x1234)).toMatchObject({ ok: false, reason: 'truncated-name' });
    expect(parseResponse(answer.subarray(0, answer.length - 2), 0x1234)).toMatchObject({ ok: false, reason: 'truncated-record' });
    // An answer count far beyond the bytes, and a reserved label type.
    expect(parseResponse(hex('1234 8180 0000 ffff 0000 0000'), 0x1234)).toMatchObject({ ok: false, reason: 'truncated-record' });
    expect(parseResponse(hex('1234 8180 0001 0000 0000 0000 4000 0001 0001'), 0x1234)).toMatchObject({ ok: false, reason: 'truncated-name' });
    // Random bytes: a verdict, never an exception.
    for (let n = 0; n < 200; n++) {
      const junk = Uint8Array.from({ length: n % 64 }, (_, i) => (i * 131 + n * 17) & 0xff);
      expect(() => dnsVerdict(parseResponse(junk, (junk[0] ?? 0) << 8 | (junk[1] ?? 0)), 'A')).not.toThrow();
    }
  });
});
