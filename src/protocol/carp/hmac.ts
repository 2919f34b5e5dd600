/**
 * CARP's HMAC-SHA1 over (version, type, vhid, addresses, counter).
 *
 * ucarp (carp-protocol notes §2.1) hashes exactly one address, the `--addr`; its key buffer
 * holds the password plus NUL, zero padded — which is plain HMAC-SHA1 keyed with the
 * password bytes. BSD carp (§2.2/2.3) hashes all IPv4 addresses of the vhid sorted
 * ascending, then IPv6 addresses sorted bytewise with the embedded scope (bytes 2-3)
 * zeroed. With a single IPv4 address both are the same bytes, so one function serves both.
 */
import { createHmac } from 'node:crypto';

export const CARP_DIGEST_LEN = 20;
/** ucarp's key buffer is 20 bytes including the terminating NUL (notes §2.1). */
export const CARP_MAX_PASSWORD_BYTES = 19;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** The address part of the HMAC input in BSD order (IPv4 sorted, then IPv6 sorted, scope zeroed). */
export function hmacAddressBlock(addresses: readonly Uint8Array[]): Uint8Array {
  const v4 = addresses.filter((a) => a.length === 4).map((a) => Uint8Array.from(a)).sort(compareBytes);
  const v6 = addresses.filter((a) => a.length === 16).map((a) => {
    const c = Uint8Array.from(a);
    // KAME embeds the scope id in bytes 2-3 of link-local addresses; BSD zeroes them for hashing.
    if (c[0] === 0xfe && (c[1]! & 0xc0) === 0x80) { c[2] = 0; c[3] = 0; }
    return c;
  }).sort(compareBytes);
  const out = new Uint8Array(v4.length * 4 + v6.length * 16);
  let off = 0;
  for (const a of [...v4, ...v6]) { out.set(a, off); off += a.length; }
  return out;
}

/**
 * A keyed digest function for one instance: the key and address block are fixed, the
 * counter varies per packet.
 */
export interface CarpAuthenticator {
  digest(vhid: number, counter: Uint8Array): Uint8Array;
}

export function carpAuthenticator(password: Uint8Array, addresses: readonly Uint8Array[]): CarpAuthenticator {
  const block = hmacAddressBlock(addresses);
  const key = Buffer.from(password);
  return {
    digest(vhid: number, counter: Uint8Array): Uint8Array {
      const h = createHmac('sha1', key);
      h.update(Uint8Array.of(0x02, 0x01, vhid & 0xff));
      h.update(block);
      h.update(counter);
      return new Uint8Array(h.digest());
    },
  };
}
