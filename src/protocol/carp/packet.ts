/**
 * The 36-byte CARP v2 header (carp-protocol notes §1.3), its encoder and the receive
 * validation ladder (§1.4, ordered as BSD `carp_proto_input`). Dropped packets are results
 * with a reason, never exceptions: every reason has its own counter in the daemon.
 */
import { timingSafeEqual } from 'node:crypto';
import { checksumOk, internetChecksum } from '../checksum.js';
import { CARP_DIGEST_LEN, type CarpAuthenticator } from './hmac.js';
import type { Verdict } from '../verdict.js';

export const CARP_HEADER_LEN = 36;
export const CARP_VERSION = 2;
export const CARP_TYPE_ADVERTISEMENT = 1;
/** counter + HMAC in 32-bit words, as every implementation sends it. */
export const CARP_AUTHLEN = 7;
/** IP TTL every CARP advert must carry (CARP_DFLTTL); receivers drop anything else. */
export const CARP_TTL = 255;
/** ucarp sends IPTOS_LOWDELAY (notes §1.2). */
export const CARP_TOS = 0x10;
/** advbase = advskew = 255 is BSD's "bow-out": backups take over at once. */
export const BOW_OUT = 255;

export interface CarpAdvert {
  readonly version: number;
  readonly type: number;
  readonly vhid: number;
  readonly advskew: number;
  readonly authlen: number;
  /** OpenBSD's demotion counter; reserved (0) for ucarp and FreeBSD, ignored on receive. */
  readonly demote: number;
  readonly advbase: number;
  /** The 8 counter bytes as on the wire (big-endian 64-bit). */
  readonly counter: Uint8Array;
  readonly digest: Uint8Array;
}

export interface AdvertFields {
  readonly vhid: number;
  readonly advbase: number;
  readonly advskew: number;
  readonly demote?: number;
  readonly counter: bigint;
}

export function counterBytes(counter: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, counter));
  return b;
}

export function counterValue(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
}

/** Build a complete, authenticated, checksummed advertisement. */
export function encodeAdvert(f: AdvertFields, auth: CarpAuthenticator): Uint8Array {
  const b = new Uint8Array(CARP_HEADER_LEN);
  b[0] = (CARP_VERSION << 4) | CARP_TYPE_ADVERTISEMENT;
  b[1] = f.vhid;
  b[2] = f.advskew;
  b[3] = CARP_AUTHLEN;
  b[4] = f.demote ?? 0;
  b[5] = f.advbase;
  const ctr = counterBytes(f.counter);
  b.set(ctr, 8);
  b.set(auth.digest(f.vhid, ctr), 16);
  const sum = internetChecksum(b);
  b[6] = sum >> 8;
  b[7] = sum & 0xff;
  return b;
}

/** Field view of a header that is at least 36 bytes long; no checks. */
export function decodeAdvert(b: Uint8Array): CarpAdvert {
  return {
    version: b[0]! >> 4,
    type: b[0]! & 0x0f,
    vhid: b[1]!,
    advskew: b[2]!,
    authlen: b[3]!,
    demote: b[4]!,
    advbase: b[5]!,
    counter: b.slice(8, 16),
    digest: b.slice(16, 16 + CARP_DIGEST_LEN),
  };
}

/** Why a received packet was dropped; each reason is counted separately. */
export type CarpDropReason =
  | 'ttl' // TTL != 255: sent from off-link or by something that is not CARP
  | 'length' // shorter than the 36-byte header
  | 'checksum' // CARP checksum does not verify
  | 'version' // not CARP version 2
  | 'vhid' // no instance for this vhid on this interface
  | 'destination' // not sent to our multicast group
  | 'digest'; // HMAC mismatch: wrong password, vhid or virtual address

export const CARP_DROP_REASONS: readonly CarpDropReason[] = ['ttl', 'length', 'checksum', 'version', 'vhid', 'destination', 'digest'];

export type { Verdict } from '../verdict.js';

/**
 * Steps of the ladder that need no instance: TTL, length, checksum, version. The caller
 * then finds the instance by vhid and runs `verifyAdvert`.
 */
export function checkAdvert(payload: Uint8Array, ttl: number): Verdict<CarpAdvert, CarpDropReason> {
  if (ttl !== CARP_TTL) return { ok: false, reason: 'ttl' };
  if (payload.length < CARP_HEADER_LEN) return { ok: false, reason: 'length' };
  const header = payload.subarray(0, CARP_HEADER_LEN);
  if (!checksumOk(header)) return { ok: false, reason: 'checksum' };
  const adv = decodeAdvert(header);
  if (adv.version !== CARP_VERSION) return { ok: false, reason: 'version' };
  return { ok: true, value: adv };
}

/**
 * Instance-level steps: destination (the group, or `ownAddress`: a peer that yields to us
 * echoes its advert unicast) and the HMAC.
 */
export function verifyAdvert(adv: CarpAdvert, dst: string, expectedDst: string, auth: CarpAuthenticator, ownAddress?: string): Verdict<CarpAdvert, CarpDropReason> {
  if (dst !== expectedDst && dst !== ownAddress) return { ok: false, reason: 'destination' };
  const want = auth.digest(adv.vhid, adv.counter);
  if (!timingSafeEqual(want, adv.digest)) return { ok: false, reason: 'digest' };
  return { ok: true, value: adv };
}

/** The advertisement interval in microseconds, compared as ucarp compares (sec, usec) pairs. */
export function intervalMicros(advbase: number, advskew: number): number {
  return advbase * 1_000_000 + Math.floor((advskew * 1_000_000) / 256);
}
