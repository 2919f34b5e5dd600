import { describe, expect, it } from 'vitest';
import { decodeCtEvents } from '../../../src/balancer/core/ctevents.js';

/*
 * Real datagrams, captured from NFNLGRP_CONNTRACK_DESTROY in a namespace with
 * nf_conntrack_acct=1 (a TCP connection DNATed port 80 -> 8080, ct mark 0xca000005, 100 bytes
 * sent and 200 answered, then `conntrack -D --mark 0xca000005`). conntrack -L had printed,
 * IPv4: packets=5 bytes=368 (orig), packets=5 bytes=468 (reply); IPv6: 5/468 and 5/568.
 */
const V4 = 'e400000002010000000000008a34b787020000003400018014000180080001007f000001080002007f0000011c000280050001000600000006000200da2e000006000300005000003400028014000180080001007f000001080002007f0000011c0002800500010006000000060002001f90000006000300da2e000008000c008beac30808000300000003ae08000700000000771c0009800c00010000000000000000050c00020000000000000001701c000a800c00010000000000000000050c00020000000000000001d4100004800c000180050001000700000008000800ca000005';
const V6 = '140100000201000000000000fd7790c90a0000004c0001802c000180140003000000000000000000000000000000000114000400000000000000000000000000000000011c000280050001000600000006000200a84a000006000300005000004c0002802c000180140003000000000000000000000000000000000114000400000000000000000000000000000000011c0002800500010006000000060002001f90000006000300a84a000008000c003378836a08000300000003ae08000700000000771c0009800c00010000000000000000050c00020000000000000001d41c000a800c00010000000000000000050c0002000000000000000238100004800c000180050001000700000008000800ca000005';
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

describe('decodeCtEvents', () => {
  it('decodes a captured IPv4 destroy event: tuples, mark, id, counters', () => {
    const d = decodeCtEvents(hex(V4));
    expect(d.malformed).toBe(0);
    expect(d.events).toHaveLength(1);
    const e = d.events[0]!;
    expect(e.type).toBe('destroy');
    expect(e.family).toBe('ipv4');
    expect(e.mark).toBe(0xca000005);
    expect(e.orig).toEqual({ src: '127.0.0.1', dst: '127.0.0.1', proto: 6, sport: 55854, dport: 80 });
    expect(e.reply).toEqual({ src: '127.0.0.1', dst: '127.0.0.1', proto: 6, sport: 8080, dport: 55854 });
    expect(e.counters).toEqual({ origPackets: 5, origBytes: 368, replyPackets: 5, replyBytes: 468 });
    expect(e.id).toBe(0x8beac308);
  });

  it('decodes a captured IPv6 destroy event', () => {
    const d = decodeCtEvents(hex(V6));
    expect(d.malformed).toBe(0);
    const e = d.events[0]!;
    expect(e.family).toBe('ipv6');
    expect(e.orig).toEqual({ src: '::1', dst: '::1', proto: 6, sport: 43082, dport: 80 });
    expect(e.reply.sport).toBe(8080);
    expect(e.counters).toEqual({ origPackets: 5, origBytes: 468, replyPackets: 5, replyBytes: 568 });
    expect(e.mark).toBe(0xca000005);
  });

  it('decodes several messages of one datagram', () => {
    const d = decodeCtEvents(hex(V4 + V6));
    expect(d.events.map((e) => e.family)).toEqual(['ipv4', 'ipv6']);
    expect(d.malformed).toBe(0);
  });

  it('drops and counts a truncated or corrupt message, never throws', () => {
    const b = hex(V4);
    expect(decodeCtEvents(b.subarray(0, 40))).toEqual({ events: [], malformed: 1 });
    const bad = b.slice();
    bad[20] = 0xff; // first attribute's length past the end
    bad[21] = 0x7f;
    expect(decodeCtEvents(bad)).toEqual({ events: [], malformed: 1 });
    const fam = b.slice();
    fam[16] = 7; // not AF_INET/AF_INET6
    expect(decodeCtEvents(fam).malformed).toBe(1);
    // every prefix and a byte flip anywhere: no exception
    for (let i = 0; i < b.length; i++) {
      expect(() => decodeCtEvents(b.subarray(0, i))).not.toThrow();
      const f = b.slice();
      f[i] = f[i]! ^ 0xff;
      expect(() => decodeCtEvents(f)).not.toThrow();
    }
  });

  it('an entry without accounting has no counters', () => {
    const b = hex(V4);
    // Rename CTA_COUNTERS_ORIG (type 9) to an unknown attribute type: the decoder must not invent counters.
    const s = Buffer.from(b).toString('hex').replace('1c000980', '1c001f80');
    expect(decodeCtEvents(hex(s)).events[0]!.counters).toBeUndefined();
  });

  it('skips messages of other subsystems', () => {
    const b = hex(V4);
    b[5] = 2; // NFNL_SUBSYS_CTNETLINK_EXP
    expect(decodeCtEvents(b)).toEqual({ events: [], malformed: 0 });
  });
});
