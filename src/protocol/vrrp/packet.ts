/**
 * VRRP advertisements: VRRPv2 (RFC 3768 §5) and VRRPv3 (RFC 5798 §5, updated by RFC 9568),
 * their checksums and the receive validation ladder (keepalived notes §1.2-§1.4).
 *
 * Dropped packets are results with a reason, never exceptions: every reason has its own
 * counter in the daemon. Nothing here throws on any received input.
 *
 * Checksums, as peers compute them:
 * - v2: Internet checksum over the VRRP message only (RFC 3768 §5.3.8).
 * - v3 over IPv4: keepalived (default) and FRR add the RFC 5798 §5.2.8 pseudo-header with
 *   the actual IP destination (the group, or the unicast peer); RFC 9568 and keepalived's
 *   `v3_checksum_as_v2` (Cisco/Juniper/Arista) omit it. On receive both are accepted and
 *   the verdict says which one matched, so the operator can see what the peer runs.
 *   keepalived before 1.3.6 used the group in the pseudo-header even for unicast
 *   ("old unicast checksum"); that is recognised too.
 * - over IPv6 (v3, and keepalived's non-standard v2): RFC 8200 §8.1 pseudo-header; the
 *   kernel usually computes and verifies it (IPV6_CHECKSUM, offset 6).
 */
import { timingSafeEqual } from 'node:crypto';
import { checksumOk, internetChecksum } from '../checksum.js';
import type { Family } from '../inet.js';
import type { Verdict } from '../verdict.js';

export type { Verdict } from '../verdict.js';

/** IP protocol number of VRRP (IPv4 protocol / IPv6 next header). */
export const VRRP_PROTOCOL = 112;
/** TTL / hop limit every advert carries; receivers drop anything else (RFC 3768 §7.1). */
export const VRRP_TTL = 255;
/** keepalived sends IPTOS_PREC_INTERNETCONTROL (IPv4 TOS, IPv6 traffic class). */
export const VRRP_TOS = 0xc0;
export const VRRP_TYPE_ADVERTISEMENT = 1;
export const VRRP_HEADER_LEN = 8;
/** v2 authentication data: 8 bytes after the addresses. */
export const VRRP_AUTH_DATA_LEN = 8;
/** Priority of the address owner; never adjusted by tracking. */
export const VRRP_PRIO_OWNER = 255;
/** Priority 0: the master is resigning, backups take over after Skew only. */
export const VRRP_PRIO_STOP = 0;
export const VRRP_AUTH_NONE = 0;
/** RFC 2338 simple text password (keepalived `auth_type PASS`). */
export const VRRP_AUTH_PASS = 1;
/** IPsec AH (keepalived `auth_type AH`): the VRRP message rides in an AH (see ah.ts). */
export const VRRP_AUTH_AH = 2;
/** v3 Max Adver Int is 12 bits of centiseconds. */
export const VRRP_V3_MAX_INTERVAL_CS = 4095;

export type VrrpVersion = 2 | 3;

/** Field view of a received advert (no checks implied). */
export interface VrrpAdvert {
  readonly version: number;
  readonly type: number;
  readonly vrid: number;
  readonly priority: number;
  /** Count of addresses as sent (byte 3). */
  readonly count: number;
  /** v2 auth type byte; 0 for v3 (the byte is part of the interval there). */
  readonly authType: number;
  /** The raw interval field: v2 whole seconds, v3 centiseconds. */
  readonly intervalField: number;
  /** The advertised interval in milliseconds. */
  readonly intervalMs: number;
  /** v3: the 4 reserved bits in front of the interval (must be sent as 0, ignored). */
  readonly reserved: number;
  readonly checksum: number;
  /** Virtual addresses, 4 or 16 bytes each, as advertised. */
  readonly addresses: readonly Uint8Array[];
  /** v2: the 8 authentication bytes; empty for v3. */
  readonly authData: Uint8Array;
  /** Length of the VRRP message proper; bytes past it (Ethernet padding, trailers) are ignored. */
  readonly length: number;
}

export interface VrrpAdvertFields {
  readonly version: VrrpVersion;
  readonly vrid: number;
  readonly priority: number;
  /** v2: rounded to whole seconds (1..255); v3: to centiseconds (1..4095). */
  readonly intervalMs: number;
  readonly addresses: readonly Uint8Array[];
  /** v2 only: auth type byte (default none). */
  readonly authType?: number;
  /** v2 only: the 8 auth bytes (the zero-padded password for PASS). */
  readonly authData?: Uint8Array;
}

/** What the checksum covers besides the VRRP message: it depends on src and dst. */
export interface ChecksumContext {
  readonly family: Family;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** v3 over IPv4 only: leave the pseudo-header out (RFC 9568, keepalived `v3_checksum_as_v2`). */
  readonly v3ChecksumAsV2?: boolean;
}

/** Which checksum a received advert carried. */
export type ChecksumKind =
  | 'plain' // no pseudo-header: v2, or v3 as RFC 9568 / v3_checksum_as_v2
  | 'pseudo' // IPv4 pseudo-header with the actual destination (keepalived default), or IPv6 RFC 8200
  | 'pseudo-group' // v3 unicast with the multicast group in the pseudo-header (keepalived < 1.3.6)
  | 'kernel'; // IPv6, verified by the kernel (IPV6_CHECKSUM)

const addrLen = (family: Family): number => (family === 4 ? 4 : 16);

/** Length of the VRRP message for a version, family and address count. */
export function vrrpMessageLength(version: number, family: Family, count: number): number {
  return VRRP_HEADER_LEN + addrLen(family) * count + (version === 2 ? VRRP_AUTH_DATA_LEN : 0);
}

/** The 8 auth bytes of a PASS password: the first 8 bytes, zero padded (keepalived truncates). */
export function passwordAuthData(password: string | Uint8Array): Uint8Array {
  const bytes = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  const out = new Uint8Array(VRRP_AUTH_DATA_LEN);
  out.set(bytes.subarray(0, VRRP_AUTH_DATA_LEN));
  return out;
}

/** The wire interval field for an interval in ms, rounded and clamped to what the version can carry. */
export function intervalField(version: VrrpVersion, intervalMs: number): number {
  if (version === 2) return Math.min(255, Math.max(1, Math.round(intervalMs / 1000)));
  return Math.min(VRRP_V3_MAX_INTERVAL_CS, Math.max(1, Math.round(intervalMs / 10)));
}

/** RFC 5798 §5.2.8 / RFC 768-style IPv4 pseudo-header: src, dst, zero, protocol 112, length. */
export function ipv4PseudoHeader(src: Uint8Array, dst: Uint8Array, length: number): Uint8Array {
  const p = new Uint8Array(12);
  p.set(src.subarray(0, 4), 0);
  p.set(dst.subarray(0, 4), 4);
  p[9] = VRRP_PROTOCOL;
  p[10] = (length >> 8) & 0xff;
  p[11] = length & 0xff;
  return p;
}

/** RFC 8200 §8.1 pseudo-header: src, dst, 32-bit upper-layer length, 3 zero bytes, next header 112. */
export function ipv6PseudoHeader(src: Uint8Array, dst: Uint8Array, length: number): Uint8Array {
  const p = new Uint8Array(40);
  p.set(src.subarray(0, 16), 0);
  p.set(dst.subarray(0, 16), 16);
  new DataView(p.buffer).setUint32(32, length >>> 0);
  p[39] = VRRP_PROTOCOL;
  return p;
}

/** The pseudo-header a version/family/option combination needs, or undefined for none. */
function pseudoHeaderFor(version: number, ctx: ChecksumContext, length: number): Uint8Array | undefined {
  if (ctx.family === 6) return ipv6PseudoHeader(ctx.src, ctx.dst, length);
  if (version === 3 && !ctx.v3ChecksumAsV2) return ipv4PseudoHeader(ctx.src, ctx.dst, length);
  return undefined;
}

/** The checksum field value for `msg` (its checksum bytes are treated as zero). */
export function vrrpChecksum(msg: Uint8Array, version: number, ctx: ChecksumContext): number {
  const zeroed = msg.slice();
  zeroed[6] = 0;
  zeroed[7] = 0;
  const pseudo = pseudoHeaderFor(version, ctx, msg.length);
  return pseudo ? internetChecksum(pseudo, zeroed) : internetChecksum(zeroed);
}

/** Build a complete advert, checksum included (it depends on `ctx.src`/`ctx.dst` for v3 and IPv6). */
export function encodeAdvert(f: VrrpAdvertFields, ctx: ChecksumContext): Uint8Array {
  const alen = addrLen(ctx.family);
  const count = Math.min(255, f.addresses.length);
  const b = new Uint8Array(vrrpMessageLength(f.version, ctx.family, count));
  b[0] = (f.version << 4) | VRRP_TYPE_ADVERTISEMENT;
  b[1] = f.vrid;
  b[2] = f.priority;
  b[3] = count;
  const interval = intervalField(f.version, f.intervalMs);
  if (f.version === 2) {
    b[4] = f.authType ?? VRRP_AUTH_NONE;
    b[5] = interval;
  } else {
    b[4] = (interval >> 8) & 0x0f;
    b[5] = interval & 0xff;
  }
  for (let i = 0; i < count; i++) b.set(f.addresses[i]!.subarray(0, alen), VRRP_HEADER_LEN + i * alen);
  if (f.version === 2 && f.authData) b.set(f.authData.subarray(0, VRRP_AUTH_DATA_LEN), VRRP_HEADER_LEN + count * alen);
  const sum = vrrpChecksum(b, f.version, ctx);
  b[6] = sum >> 8;
  b[7] = sum & 0xff;
  return b;
}

/**
 * Field view of a VRRP message: undefined when it is shorter than its header and the
 * addresses (and v2 auth data) its count announces. Versions other than 2 use the v3
 * layout; the ladder rejects them anyway. Never throws.
 */
export function decodeAdvert(payload: Uint8Array, family: Family): VrrpAdvert | undefined {
  if (payload.length < VRRP_HEADER_LEN) return undefined;
  const version = payload[0]! >> 4;
  const count = payload[3]!;
  const length = vrrpMessageLength(version, family, count);
  if (payload.length < length) return undefined;
  const alen = addrLen(family);
  const addresses: Uint8Array[] = [];
  for (let i = 0; i < count; i++) addresses.push(payload.slice(VRRP_HEADER_LEN + i * alen, VRRP_HEADER_LEN + (i + 1) * alen));
  const v2 = version === 2;
  const field = v2 ? payload[5]! : ((payload[4]! & 0x0f) << 8) | payload[5]!;
  const authOff = VRRP_HEADER_LEN + count * alen;
  return {
    version,
    type: payload[0]! & 0x0f,
    vrid: payload[1]!,
    priority: payload[2]!,
    count,
    authType: v2 ? payload[4]! : 0,
    intervalField: field,
    intervalMs: v2 ? field * 1000 : field * 10,
    reserved: v2 ? 0 : payload[4]! >> 4,
    checksum: (payload[6]! << 8) | payload[7]!,
    addresses,
    authData: v2 ? payload.slice(authOff, authOff + VRRP_AUTH_DATA_LEN) : new Uint8Array(0),
    length,
  };
}

// --- receive validation ladder -------------------------------------------------------

/** A received IP packet carrying VRRP, as the shell hands it in. */
export interface VrrpRxPacket {
  readonly family: Family;
  /** IP source and destination (4 or 16 bytes). */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** IPv4 TTL or IPv6 hop limit. */
  readonly ttl: number;
  /** The IP payload: the VRRP message, possibly followed by padding. */
  readonly payload: Uint8Array;
  /** IPv6 socket with IPV6_CHECKSUM: the kernel already dropped bad checksums. */
  readonly checksumVerified?: boolean;
  /** The message came inside an IPsec AH whose ICV the receiver verified (ah.ts). */
  readonly viaAh?: boolean;
}

/** What the ladder needs to know about the instance a VRID maps to. */
export interface VrrpRxInstance {
  readonly version: VrrpVersion;
  /** v2: VRRP_AUTH_NONE, VRRP_AUTH_PASS or VRRP_AUTH_AH. */
  readonly authType: number;
  /** v2 PASS: the 8 zero-padded password bytes (AH: the key, checked before the ladder). */
  readonly authData: Uint8Array;
  readonly intervalMs: number;
  /** Adverts go to unicast peers: TTL is not checked and the destination must not be multicast. */
  readonly unicast: boolean;
  /** The multicast group this instance listens on (4 or 16 bytes). */
  readonly mcastGroup: Uint8Array;
  /** Our own source address: a multicast instance also accepts adverts sent to it (echoes of a peer yielding to us). */
  readonly ownAddress?: Uint8Array;
  /** Configured virtual addresses, to detect (and count, not drop) a differing list. */
  readonly addresses: readonly Uint8Array[];
}

/** Why a received advert was dropped, in ladder order; each reason is counted separately. */
export type VrrpDropReason =
  | 'ttl' // TTL/hop limit != 255 on a multicast instance: off-link sender
  | 'length' // shorter than its header, addresses and auth data
  | 'version' // not VRRP 2/3, or not the instance's version (they never interwork)
  | 'type' // not an ADVERTISEMENT
  | 'auth-type' // v2: auth type differs from ours
  | 'auth-pass' // v2: PASS password differs
  | 'auth-ah' // v2 AH: malformed AH, or its ICV does not verify (another password)
  | 'auth-replay' // v2 AH: sequence number not above the sender's last one (RFC 2338 §10)
  | 'interval' // v2: advert interval differs from ours (keepalived drops); v3: interval 0
  | 'checksum' // no accepted checksum variant verifies
  | 'destination' // multicast on a unicast instance, or not our group on a multicast one
  | 'vrid'; // no instance for this VRID here

export const VRRP_DROP_REASONS: readonly VrrpDropReason[] = [
  'ttl', 'length', 'version', 'type', 'auth-type', 'auth-pass', 'auth-ah', 'auth-replay', 'interval', 'checksum', 'destination', 'vrid',
];

export interface VrrpAccepted {
  readonly advert: VrrpAdvert;
  /** Which checksum variant matched (tells what the peer runs). */
  readonly checksum: ChecksumKind;
  /**
   * The advertised address list differs from ours. Current keepalived logs and accepts
   * (older versions dropped it as a "bogus VRRP packet"); the daemon counts and logs it.
   */
  readonly addressMismatch: boolean;
}

export function isMulticast(addr: Uint8Array): boolean {
  return addr.length === 4 ? addr[0]! >= 224 && addr[0]! <= 239 : addr.length === 16 && addr[0] === 0xff;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function addressesDiffer(theirs: readonly Uint8Array[], ours: readonly Uint8Array[]): boolean {
  if (theirs.length !== ours.length) return true;
  return theirs.some((t) => !ours.some((o) => sameBytes(o, t)));
}

function matchChecksum(msg: Uint8Array, version: number, pkt: VrrpRxPacket, inst: VrrpRxInstance | undefined): ChecksumKind | undefined {
  if (pkt.family === 6) {
    if (pkt.checksumVerified) return 'kernel';
    return checksumOk(ipv6PseudoHeader(pkt.src, pkt.dst, msg.length), msg) ? 'pseudo' : undefined;
  }
  if (version === 2) return checksumOk(msg) ? 'plain' : undefined;
  if (checksumOk(ipv4PseudoHeader(pkt.src, pkt.dst, msg.length), msg)) return 'pseudo';
  if (checksumOk(msg)) return 'plain';
  if (inst?.unicast && checksumOk(ipv4PseudoHeader(pkt.src, inst.mcastGroup, msg.length), msg)) return 'pseudo-group';
  return undefined;
}

/**
 * The whole receive ladder, in keepalived's order (notes §1.4): TTL (unless unicast),
 * length, version, type, v2 auth type and password, v2 interval, checksum, destination,
 * and last the VRID (keepalived demultiplexes by VRID first and silently ignores unknown
 * ones; here an advert for a VRID we do not run still has its other fields checked, so a
 * corrupt packet counts as corrupt and a healthy foreign one as `vrid`). Steps that need
 * the instance are skipped when there is none. Never throws.
 */
export function checkAdvert(pkt: VrrpRxPacket, lookup: (vrid: number) => VrrpRxInstance | undefined): Verdict<VrrpAccepted, VrrpDropReason> {
  const p = pkt.payload;
  const inst = p.length >= 2 ? lookup(p[1]!) : undefined;
  const unicast = inst ? inst.unicast : !isMulticast(pkt.dst);
  if (!unicast && pkt.ttl !== VRRP_TTL) return { ok: false, reason: 'ttl' };

  const alen = addrLen(pkt.family);
  if (pkt.src.length !== alen || pkt.dst.length !== alen || p.length < VRRP_HEADER_LEN) return { ok: false, reason: 'length' };
  const version = p[0]! >> 4;
  const known = version === 2 || version === 3;
  if (known && p.length < vrrpMessageLength(version, pkt.family, p[3]!)) return { ok: false, reason: 'length' };
  if (!known || (inst && inst.version !== version)) return { ok: false, reason: 'version' };
  const adv = decodeAdvert(p, pkt.family);
  if (!adv) return { ok: false, reason: 'length' };
  if (adv.type !== VRRP_TYPE_ADVERTISEMENT) return { ok: false, reason: 'type' };

  if (version === 2 && inst) {
    if (adv.authType !== inst.authType) return { ok: false, reason: 'auth-type' };
    // Auth type 2 in a bare VRRP message (or an AH around another type) is not AH authentication.
    if ((inst.authType === VRRP_AUTH_AH) !== (pkt.viaAh === true)) return { ok: false, reason: 'auth-type' };
    if (inst.authType === VRRP_AUTH_PASS && !timingSafeEqual(adv.authData, passwordAuthData(inst.authData))) {
      return { ok: false, reason: 'auth-pass' };
    }
    // RFC 3768 §7.1 and keepalived: a v2 advert with another interval is dropped.
    if (adv.intervalField !== intervalField(2, inst.intervalMs)) return { ok: false, reason: 'interval' };
  }
  // v3 backups adopt the master's interval; 0 would make the master-down timer 0.
  if (version === 3 && adv.intervalField === 0) return { ok: false, reason: 'interval' };

  const checksum = matchChecksum(p.subarray(0, adv.length), version, pkt, inst);
  if (!checksum) return { ok: false, reason: 'checksum' };

  const dstOk = unicast ? !isMulticast(pkt.dst)
    : inst ? sameBytes(pkt.dst, inst.mcastGroup) || (inst.ownAddress !== undefined && sameBytes(pkt.dst, inst.ownAddress))
    : isMulticast(pkt.dst);
  if (!dstOk) return { ok: false, reason: 'destination' };
  if (!inst) return { ok: false, reason: 'vrid' };

  return { ok: true, value: { advert: adv, checksum, addressMismatch: addressesDiffer(adv.addresses, inst.addresses) } };
}
