/**
 * VRRPv2 inside IPsec AH (keepalived `auth_type AH`) against the real keepalived's packets:
 * testdata/keepalived-v2-ah.pcap (testdata/keepalived/README.md, scenario v2-ah, password
 * `carpool-pw`, of which keepalived uses `carpool-`). Every captured datagram verifies, and
 * re-encoding it from its fields gives the same bytes (header checksum and identification
 * included); every kind of damage is dropped with its own reason.
 */
import { describe, expect, it } from 'vitest';
import { hex, readPcap } from '../../helpers/pcap.js';
import { testdata } from '../../helpers/vrrp-frames.js';
import { decodeIPv4Header, type IPv4Header } from '../../../src/protocol/ipv4.js';
import { parseIP } from '../../../src/protocol/inet.js';
import { ahKey, checkReplay, encodeAhDatagram, IPPROTO_AH, splitAh, verifyAhDatagram } from '../../../src/protocol/vrrp/ah.js';
import { checkAdvert, decodeAdvert, VRRP_AUTH_AH, VRRP_AUTH_PASS, passwordAuthData, type VrrpRxInstance } from '../../../src/protocol/vrrp/packet.js';

interface AhFrame { readonly datagram: Uint8Array; readonly header: IPv4Header; readonly payload: Uint8Array }

function ahFrames(): AhFrame[] {
  const out: AhFrame[] = [];
  for (const r of readPcap(testdata('keepalived-v2-ah.pcap'))) {
    const f = r.frame;
    if (f[12] !== 0x08 || f[13] !== 0x00) continue;
    const ip = decodeIPv4Header(f.subarray(14));
    if (!ip.ok || ip.header.protocol !== IPPROTO_AH) continue;
    out.push({ datagram: f.subarray(14, 14 + ip.header.totalLength), header: ip.header, payload: ip.payload });
  }
  return out;
}

const KEY = ahKey('carpool-pw');
const frames = ahFrames();
const decode = (bytes: Uint8Array): AhFrame => {
  const ip = decodeIPv4Header(bytes);
  if (!ip.ok) throw new Error(ip.reason);
  return { datagram: bytes, header: ip.header, payload: ip.payload };
};

describe('VRRP in IPsec AH, as keepalived 2.2.7 sends it', () => {
  it('the capture holds AH adverts from both nodes', () => {
    expect(frames.length).toBeGreaterThanOrEqual(8);
    expect(new Set(frames.map((f) => f.header.src))).toEqual(new Set(['10.77.0.1', '10.77.0.2']));
  });

  it('every captured datagram verifies with the password, and re-encodes byte for byte', () => {
    for (const f of frames) {
      const v = verifyAhDatagram(f.header, f.payload, KEY);
      expect(v.ok, hex(f.datagram)).toBe(true);
      if (!v.ok) continue;
      expect(v.value.spi).toBe(new DataView(parseIP(f.header.src)!.bytes.buffer).getUint32(0)); // SPI = sender address
      const again = encodeAhDatagram({ src: parseIP(f.header.src)!.bytes, dst: parseIP(f.header.dst)!.bytes, seq: v.value.seq, id: f.header.id, key: KEY, vrrp: v.value.vrrp });
      expect(hex(again)).toBe(hex(f.datagram));
      const adv = decodeAdvert(v.value.vrrp, 4);
      expect(adv?.authType).toBe(VRRP_AUTH_AH);
      expect(hex(adv!.authData)).toBe('0000000000000000');
    }
  });

  it('the sequence number rises by one across the virtual router: a sender goes on from what it received', () => {
    const seqs = frames.map((f) => new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(8));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    // ... while the IP identification counts each sender's own datagrams.
    const ids = frames.filter((f) => f.header.src === '10.77.0.2').map((f) => f.header.id);
    expect(ids.slice(0, 3)).toEqual([1, 2, 3]);
  });

  it('a password differing after its 8th byte is the same key (keepalived uses 8 bytes)', () => {
    expect(verifyAhDatagram(frames[0]!.header, frames[0]!.payload, ahKey('carpool-other')).ok).toBe(true);
  });

  it('another password, a changed byte anywhere that counts, or a changed identification: ah-icv', () => {
    const f = frames[0]!;
    expect(verifyAhDatagram(f.header, f.payload, ahKey('carpool')).ok ? 'ok' : 'drop').toBe('drop');
    expect(verifyAhDatagram(f.header, f.payload, ahKey('wrongpw!'))).toEqual({ ok: false, reason: 'ah-icv' });
    // The VRRP priority (an attacker's favourite), the SPI, the sequence number.
    for (const at of [24 + 2, 4, 8]) {
      const p = f.payload.slice();
      p[at] = p[at]! ^ 0x01;
      expect(verifyAhDatagram(f.header, p, KEY), `payload byte ${at}`).toEqual({ ok: false, reason: 'ah-icv' });
    }
    expect(verifyAhDatagram({ ...f.header, id: f.header.id ^ 1 }, f.payload, KEY)).toEqual({ ok: false, reason: 'ah-icv' });
    expect(verifyAhDatagram({ ...f.header, src: '10.77.0.9' }, f.payload, KEY)).toEqual({ ok: false, reason: 'ah-icv' });
  });

  it('TOS, flags and checksum are outside the ICV; the TTL is inside, as keepalived computes it', () => {
    const f = frames[0]!;
    const h = { ...f.header, tos: 0, checksum: 0x1234, dontFragment: true };
    expect(verifyAhDatagram(h, f.payload, KEY).ok).toBe(true);
    expect(verifyAhDatagram({ ...f.header, ttl: 254 }, f.payload, KEY)).toEqual({ ok: false, reason: 'ah-icv' });
  });

  it('malformed AH: ah-length or ah-next-header, never a throw', () => {
    const f = frames[0]!;
    expect(splitAh(f.payload.subarray(0, 30))).toEqual({ ok: false, reason: 'ah-length' });
    expect(verifyAhDatagram(f.header, new Uint8Array(0), KEY)).toEqual({ ok: false, reason: 'ah-length' });
    const len = f.payload.slice();
    len[1] = 5;
    expect(verifyAhDatagram(f.header, len, KEY)).toEqual({ ok: false, reason: 'ah-length' });
    const nh = f.payload.slice();
    nh[0] = 6;
    expect(verifyAhDatagram(f.header, nh, KEY)).toEqual({ ok: false, reason: 'ah-next-header' });
    expect(verifyAhDatagram({ ...f.header, options: new Uint8Array([1, 1, 1, 0]) }, f.payload, KEY)).toEqual({ ok: false, reason: 'ah-length' });
  });

  it('a datagram we build verifies and decodes (identification 0 is never used)', () => {
    const vrrp = splitAh(frames[0]!.payload);
    if (!vrrp.ok) throw new Error('capture');
    const d = encodeAhDatagram({ src: parseIP('192.0.2.1')!.bytes, dst: parseIP('224.0.0.18')!.bytes, seq: 7, id: 0x10000, key: KEY, vrrp: vrrp.value.vrrp });
    const f = decode(d);
    expect(f.header.id).toBe(1);
    expect(f.header.ttl).toBe(255);
    expect(f.header.tos).toBe(0xc0);
    expect(verifyAhDatagram(f.header, f.payload, KEY).ok).toBe(true);
  });
});

describe('AH anti-replay (RFC 2338 §10)', () => {
  it('accepts rising sequence numbers, drops repeats and older ones', () => {
    let rec = checkReplay(undefined, 10, 0, 3000).next;
    const r1 = checkReplay(rec, 11, 1000, 3000);
    expect(r1.ok).toBe(true);
    rec = r1.next;
    expect(checkReplay(rec, 11, 1100, 3000).ok).toBe(false);
    expect(checkReplay(rec, 5, 1100, 3000).ok).toBe(false);
    // A failed check keeps the record (an attacker cannot move it).
    expect(checkReplay(rec, 5, 1100, 3000).next).toEqual(rec);
  });

  it('a sender silent for the expiry may start again low (a restarted keepalived begins at 1)', () => {
    const rec = checkReplay(undefined, 500, 0, 3000).next;
    expect(checkReplay(rec, 1, 2999, 3000).ok).toBe(false);
    expect(checkReplay(rec, 1, 3000, 3000).ok).toBe(true);
  });
});

describe('the ladder with AH', () => {
  const vrrpOf = (f: AhFrame) => { const s = splitAh(f.payload); if (!s.ok) throw new Error('capture'); return s.value.vrrp; };
  const inst = (authType: number): VrrpRxInstance => ({
    version: 2, authType, authData: passwordAuthData('carpool-pw'), intervalMs: 1000, unicast: false,
    mcastGroup: parseIP('224.0.0.18')!.bytes, addresses: [parseIP('10.77.0.100')!.bytes, parseIP('10.77.0.101')!.bytes],
  });
  const pkt = (f: AhFrame, viaAh: boolean) => ({
    family: 4 as const, src: parseIP(f.header.src)!.bytes, dst: parseIP(f.header.dst)!.bytes, ttl: 255, payload: vrrpOf(f), viaAh,
  });

  it('an AH instance accepts the VRRP message of a verified AH', () => {
    expect(checkAdvert(pkt(frames[0]!, true), () => inst(VRRP_AUTH_AH)).ok).toBe(true);
  });

  it('auth type 2 without an AH around it, or an AH advert at a PASS instance: auth-type', () => {
    expect(checkAdvert(pkt(frames[0]!, false), () => inst(VRRP_AUTH_AH))).toEqual({ ok: false, reason: 'auth-type' });
    expect(checkAdvert(pkt(frames[0]!, true), () => inst(VRRP_AUTH_PASS))).toEqual({ ok: false, reason: 'auth-type' });
  });
});
