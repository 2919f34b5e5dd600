/**
 * IPv4 header decoding (RFC 791) for datagrams received on raw sockets. Linux hands a raw
 * IPv4 socket the whole datagram with the header fields in network byte order (BSD would
 * give ip_len in host order without the header; not our problem on Linux).
 *
 * Malformed input is a result, not an exception: the receive path counts each drop
 * reason (OpenBSD `carp_proto_input` style) and goes on.
 */
import { checksumOk } from './checksum.js';
import { formatIPv4 } from './inet.js';

/** The fixed header fields plus options, as read from the wire. */
export interface IPv4Header {
  readonly version: 4;
  /** IHL in bytes (20..60). */
  readonly headerLength: number;
  /** The whole TOS byte (DSCP << 2 | ECN); CARP sends 0x10, VRRP 0xC0. */
  readonly tos: number;
  /** Total length field: header + payload, in bytes. */
  readonly totalLength: number;
  readonly id: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Fragment offset in bytes (the field is in 8-byte units). */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
  readonly src: string;
  readonly dst: string;
  /** Option bytes between the fixed 20-byte header and the payload (usually empty). */
  readonly options: Uint8Array;
}

export type IPv4DropReason =
  /** Fewer than 20 bytes. */
  | 'ipv4-short'
  /** Version nibble is not 4. */
  | 'ipv4-version'
  /** IHL below 5 words or beyond the captured bytes. */
  | 'ipv4-header-length'
  /** Total length smaller than the header. */
  | 'ipv4-total-length'
  /** Total length larger than what was captured (a truncated read). */
  | 'ipv4-truncated'
  /** Header checksum does not verify. */
  | 'ipv4-checksum'
  /** A fragment: the kernel reassembles before raw delivery, so this is not a whole message. */
  | 'ipv4-fragment';

export type IPv4DecodeResult =
  | { readonly ok: true; readonly header: IPv4Header; readonly payload: Uint8Array }
  | { readonly ok: false; readonly reason: IPv4DropReason; readonly detail: string };

function drop(reason: IPv4DropReason, detail: string): IPv4DecodeResult {
  return { ok: false, reason, detail };
}

/**
 * Decode the IPv4 header at the start of `bytes`. `payload` is a view (no copy) of the
 * bytes after the header up to the total length, so link-layer padding is cut off.
 */
export function decodeIPv4Header(bytes: Uint8Array): IPv4DecodeResult {
  if (bytes.length < 20) return drop('ipv4-short', `${bytes.length} bytes, need 20`);
  const b0 = bytes[0]!;
  const version = b0 >> 4;
  if (version !== 4) return drop('ipv4-version', `version ${version}`);
  const headerLength = (b0 & 0x0f) * 4;
  if (headerLength < 20) return drop('ipv4-header-length', `IHL ${headerLength} bytes < 20`);
  if (headerLength > bytes.length) return drop('ipv4-header-length', `IHL ${headerLength} bytes > ${bytes.length} captured`);
  const totalLength = (bytes[2]! << 8) | bytes[3]!;
  if (totalLength < headerLength) return drop('ipv4-total-length', `total length ${totalLength} < header ${headerLength}`);
  if (totalLength > bytes.length) return drop('ipv4-truncated', `total length ${totalLength} > ${bytes.length} captured`);
  if (!checksumOk(bytes.subarray(0, headerLength))) return drop('ipv4-checksum', 'header checksum does not verify');
  const frag = (bytes[6]! << 8) | bytes[7]!;
  const moreFragments = (frag & 0x2000) !== 0;
  const fragmentOffset = (frag & 0x1fff) * 8;
  if (moreFragments || fragmentOffset !== 0) return drop('ipv4-fragment', `fragment at offset ${fragmentOffset}${moreFragments ? ', more follow' : ''}`);
  const header: IPv4Header = {
    version: 4,
    headerLength,
    tos: bytes[1]!,
    totalLength,
    id: (bytes[4]! << 8) | bytes[5]!,
    dontFragment: (frag & 0x4000) !== 0,
    moreFragments,
    fragmentOffset,
    ttl: bytes[8]!,
    protocol: bytes[9]!,
    checksum: (bytes[10]! << 8) | bytes[11]!,
    src: formatIPv4(bytes, 12),
    dst: formatIPv4(bytes, 16),
    options: bytes.subarray(20, headerLength),
  };
  return { ok: true, header, payload: bytes.subarray(headerLength, totalLength) };
}
