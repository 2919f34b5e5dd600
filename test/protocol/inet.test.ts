import { describe, expect, it } from 'vitest';
import { canonicalIP, formatIPv6, inSubnet, netmaskToPrefix, parseCidr, parseIPv4, parseIPv6 } from '../../src/protocol/inet.js';
import { checksumOk, internetChecksum } from '../../src/protocol/checksum.js';

describe('inet', () => {
  it('parses dotted quads strictly', () => {
    expect(parseIPv4('10.99.0.100')).toEqual(Uint8Array.from([10, 99, 0, 100]));
    expect(parseIPv4('010.1.1.1')).toBeUndefined();
    expect(parseIPv4('256.1.1.1')).toBeUndefined();
    expect(parseIPv4('1.2.3')).toBeUndefined();
  });
  it('round-trips IPv6 in RFC 5952 form', () => {
    expect(formatIPv6(parseIPv6('fe80:0:0:0:0:0:0:1')!)).toBe('fe80::1');
    expect(formatIPv6(parseIPv6('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(canonicalIP('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
    expect(parseIPv6('1::2::3')).toBeUndefined();
    expect(parseIPv6('12345::')).toBeUndefined();
  });
  it('parses CIDR and netmasks', () => {
    expect(parseCidr('10.0.0.1/24')).toEqual({ family: 4, address: '10.0.0.1', prefix: 24 });
    expect(parseCidr('10.0.0.1', 32)?.prefix).toBe(32);
    expect(parseCidr('10.0.0.1/33')).toBeUndefined();
    expect(parseCidr('fd00::1/64')?.prefix).toBe(64);
    expect(netmaskToPrefix('255.255.0.0')).toBe(16);
    expect(netmaskToPrefix('255.255.255.255')).toBe(32);
    expect(netmaskToPrefix('0.0.0.0')).toBe(0);
    expect(netmaskToPrefix('255.0.255.0')).toBeUndefined();
    expect(inSubnet(parseIPv4('10.1.2.3')!, parseIPv4('10.1.0.0')!, 16)).toBe(true);
    expect(inSubnet(parseIPv4('10.2.2.3')!, parseIPv4('10.1.0.0')!, 16)).toBe(false);
  });
  it('computes RFC 1071 checksums', () => {
    // RFC 1071 §3 example bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 -> checksum 220d
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(internetChecksum(b)).toBe(0x220d);
    const withSum = Uint8Array.from([...b, 0x22, 0x0d]);
    expect(checksumOk(withSum)).toBe(true);
    withSum[0] = 1;
    expect(checksumOk(withSum)).toBe(false);
  });
});
