import { describe, expect, it } from 'vitest';
import { gratuitousArp, parseMac, formatMac, unsolicitedNeighbourAdvert } from '../../src/protocol/arp.js';
import { hex, readPcap } from '../helpers/pcap.js';
import { checksumOk } from '../../src/protocol/checksum.js';

describe('gratuitous ARP', () => {
  it('is byte-identical to the GARP ucarp sent in the capture', () => {
    // notes §4.3: ffffffffffff 02000000000a 0806 0001 0800 0604 0001 02000000000a 0a630064 02000000000a 0a630064
    const garp = readPcap(new URL('../../testdata/ucarp-a.pcap', import.meta.url).pathname)
      .map((r) => r.frame).find((f) => f[12] === 0x08 && f[13] === 0x06)!;
    expect(hex(gratuitousArp(parseMac('02:00:00:00:00:0a'), '10.99.0.100'))).toBe(hex(garp));
  });
  it('can use a broadcast target MAC like keepalived', () => {
    const f = gratuitousArp(parseMac('02:00:00:00:00:0a'), '10.0.0.1', { targetMac: 'broadcast' });
    expect(hex(f.subarray(32, 38))).toBe('ffffffffffff');
    expect(formatMac(f.subarray(6, 12))).toBe('02:00:00:00:00:0a');
  });
  it('rejects malformed MACs', () => {
    expect(() => parseMac('02:00:00:00:00')).toThrow(/bad MAC/);
  });
});

describe('unsolicited neighbour advertisement', () => {
  it('has hop limit 255, override flag and a valid ICMPv6 checksum', () => {
    const f = unsolicitedNeighbourAdvert(parseMac('02:00:00:00:00:0a'), 'fe80::1', 'fd00::100');
    expect(f[21]).toBe(255);
    expect(f[54]).toBe(136);
    expect(f[58]! & 0x20).toBe(0x20);
    const pseudo = new Uint8Array(40);
    pseudo.set(f.subarray(22, 54), 0);
    pseudo[35] = 32; pseudo[39] = 58;
    expect(checksumOk(pseudo, f.subarray(54))).toBe(true);
  });
});
