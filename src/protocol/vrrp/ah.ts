/**
 * VRRPv2 inside an IPsec Authentication Header (keepalived `auth_type AH`; RFC 2338 §5.3.6.3
 * and §10, AH as in RFC 2402). Pure: builds the whole IPv4 datagram to send with IP_HDRINCL
 * and verifies a received one. No IPsec SA is involved (the kernel's xfrm is not used): like
 * keepalived, both ends derive everything from the instance's password.
 *
 * What the wire carries, as captured from Debian's keepalived 2.2.7 (testdata/vrrp-ah/):
 * - IPv4 header without options, protocol 51, TOS 0xc0, TTL 255, no DF, identification
 *   counting the sender's datagrams from 1;
 * - AH: next header 112, payload length 4 (24 bytes), SPI = the sender's IPv4 address,
 *   ICV = the first 96 bits of HMAC-MD5; the sequence number is one above the highest the
 *   sender has sent *or received* for the instance (a node that took over goes on from the
 *   old master's number), so it rises across the whole virtual router;
 * - the VRRP message with auth type 2 and 8 zero authentication bytes.
 * The ICV covers the IP header with TOS, flags and fragment offset and header checksum set to
 * zero, the AH with the ICV set to zero, and the VRRP message. RFC 2402 §3.3.3.1 also zeroes
 * the TTL; keepalived does not (its ICV covers TTL 255, verified against its packets), and
 * neither do we, or we could not talk to it. The HMAC key is the password's first 8 bytes (as for PASS;
 * HMAC pads a short key with zeros, so a shorter password needs no padding).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { internetChecksum } from '../checksum.js';
import type { IPv4Header } from '../ipv4.js';
import type { Verdict } from '../verdict.js';
import { VRRP_PROTOCOL, VRRP_TOS, VRRP_TTL } from './packet.js';

export const IPPROTO_AH = 51;
/** AH length with a 96-bit ICV: next header, payload length, reserved, SPI, sequence, ICV. */
export const AH_LEN = 24;
/** AH "payload length": the AH's length in 32-bit words minus 2. */
const AH_PAYLOAD_LEN = AH_LEN / 4 - 2;
const ICV_OFFSET = 12;
const ICV_LEN = 12;
const IPV4_HEADER_LEN = 20;

/** The HMAC key of a password: its first 8 bytes (keepalived's auth_pass limit). */
export function ahKey(password: string | Uint8Array): Uint8Array {
  const b = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  return b.slice(0, 8);
}

function icv(key: Uint8Array, zeroed: Uint8Array): Uint8Array {
  return createHmac('md5', key).update(zeroed).digest().subarray(0, ICV_LEN);
}

export interface AhSend {
  /** Source and destination IPv4 addresses (4 bytes each). */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** The sender's AH sequence number (1..2^32-1). */
  readonly seq: number;
  /** IPv4 identification (1..65535; 0 would let the kernel choose one the ICV does not cover). */
  readonly id: number;
  /** From `ahKey`. */
  readonly key: Uint8Array;
  /** The VRRP message (auth type 2, zero authentication data). */
  readonly vrrp: Uint8Array;
}

/** The whole IPv4 datagram for a raw socket with IP_HDRINCL (checksum filled in, too). */
export function encodeAhDatagram(a: AhSend): Uint8Array {
  const total = IPV4_HEADER_LEN + AH_LEN + a.vrrp.length;
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b[0] = 0x45;
  v.setUint16(2, total);
  // The kernel replaces an identification of 0 with its own choice, which the ICV would not cover.
  v.setUint16(4, (a.id & 0xffff) || 1);
  b[9] = IPPROTO_AH;
  b.set(a.src, 12);
  b.set(a.dst, 16);
  const ah = IPV4_HEADER_LEN;
  b[ah] = VRRP_PROTOCOL;
  b[ah + 1] = AH_PAYLOAD_LEN;
  b.set(a.src, ah + 4); // SPI: the sender's address, as keepalived
  v.setUint32(ah + 8, a.seq >>> 0);
  b.set(a.vrrp, ah + AH_LEN);
  b[8] = VRRP_TTL;
  // Fields outside the ICV are still zero here: TOS, flags/fragment, checksum, ICV.
  b.set(icv(a.key, b), ah + ICV_OFFSET);
  b[1] = VRRP_TOS;
  v.setUint16(10, internetChecksum(b.subarray(0, IPV4_HEADER_LEN)));
  return b;
}

/** Why an AH datagram was dropped (counted per instance as `auth-ah-…`). */
export type AhDropReason =
  | 'ah-length' // shorter than AH + a VRRP header, AH payload length not 4, or IP options
  | 'ah-next-header' // the AH does not carry VRRP
  | 'ah-icv'; // HMAC mismatch: another password, or altered in transit

export interface AhAccepted {
  readonly spi: number;
  readonly seq: number;
  /** The VRRP message after the AH. */
  readonly vrrp: Uint8Array;
}

/** A received datagram's AH part, split off by the port (the VRID is in `vrrp[1]`). */
export function splitAh(payload: Uint8Array): Verdict<{ readonly ah: Uint8Array; readonly vrrp: Uint8Array }, AhDropReason> {
  if (payload.length < AH_LEN + 8 || payload[1] !== AH_PAYLOAD_LEN) return { ok: false, reason: 'ah-length' };
  if (payload[0] !== VRRP_PROTOCOL) return { ok: false, reason: 'ah-next-header' };
  return { ok: true, value: { ah: payload.subarray(0, AH_LEN), vrrp: payload.subarray(AH_LEN) } };
}

/**
 * Check the ICV of a received datagram: `header` as decoded by the raw socket, `payload`
 * the bytes after the IP header (AH, then VRRP). Never throws.
 */
export function verifyAhDatagram(header: IPv4Header, payload: Uint8Array, key: Uint8Array): Verdict<AhAccepted, AhDropReason> {
  const parts = splitAh(payload);
  if (!parts.ok) return parts;
  if (header.options.length > 0) return { ok: false, reason: 'ah-length' };
  const z = new Uint8Array(IPV4_HEADER_LEN + payload.length);
  const v = new DataView(z.buffer);
  z[0] = 0x45;
  v.setUint16(2, header.totalLength);
  v.setUint16(4, header.id);
  z[8] = header.ttl;
  z[9] = header.protocol;
  z.set(ipv4Bytes(header.src), 12);
  z.set(ipv4Bytes(header.dst), 16);
  z.set(payload, IPV4_HEADER_LEN);
  z.fill(0, IPV4_HEADER_LEN + ICV_OFFSET, IPV4_HEADER_LEN + ICV_OFFSET + ICV_LEN);
  const want = icv(key, z);
  const got = payload.subarray(ICV_OFFSET, ICV_OFFSET + ICV_LEN);
  if (!timingSafeEqual(want, got)) return { ok: false, reason: 'ah-icv' };
  const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { ok: true, value: { spi: pv.getUint32(4), seq: pv.getUint32(8), vrrp: parts.value.vrrp } };
}

function ipv4Bytes(text: string): Uint8Array {
  const out = new Uint8Array(4);
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i] ?? 0);
  return out;
}

/**
 * Anti-replay, per sender: the last accepted sequence number and when. RFC 2338 §10 asks
 * receivers to drop a sequence number that is not greater than the last one. A sender that
 * restarts begins again low (keepalived starts at 1), so the record expires after `expireMs`
 * without a valid advert from that sender (the shell passes the master-down interval): until
 * then a restarted peer's adverts are dropped as replays, as an attacker's would be.
 */
export interface ReplayRecord {
  readonly seq: number;
  readonly at: number;
}

export function checkReplay(prev: ReplayRecord | undefined, seq: number, now: number, expireMs: number): { readonly ok: boolean; readonly next: ReplayRecord | undefined } {
  if (prev && now - prev.at < expireMs && seq <= prev.seq) return { ok: false, next: prev };
  return { ok: true, next: { seq, at: now } };
}
