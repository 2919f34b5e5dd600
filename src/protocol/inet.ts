/**
 * Address parsing and formatting without the OS: IPv4/IPv6 text <-> bytes, prefixes.
 * `net.isIP` would do the validation, but we need the bytes and strict dotted-quad
 * rules (no `010.1.1.1` octal surprises, as `inet_aton` would allow) for the wire.
 */

export type Family = 4 | 6;

export interface Cidr {
  readonly family: Family;
  readonly address: string;
  readonly prefix: number;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parse a dotted quad into 4 network-order bytes, or undefined. */
export function parseIPv4(text: string): Uint8Array | undefined {
  if (!V4.test(text)) return undefined;
  return Uint8Array.from(text.split('.').map(Number));
}

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** IPv4 bytes as an unsigned 32-bit big-endian number (numeric address order). */
export function ipv4ToUint(bytes: Uint8Array, offset = 0): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Parse an IPv6 address (RFC 4291 text forms incl. `::` and embedded IPv4) into 16 bytes. */
export function parseIPv6(text: string): Uint8Array | undefined {
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.length === 0 || /[^0-9a-fA-F:.]/.test(s)) return undefined;
  const out = new Uint8Array(16);
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const words = (part: string): number[] | undefined => {
    if (part === '') return [];
    const res: number[] = [];
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        res.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        res.push(parseInt(g, 16));
      }
    }
    return res;
  };
  const h = words(head);
  const t = words(tail);
  if (!h || !t) return undefined;
  if (dbl >= 0 ? h.length + t.length > 7 : h.length !== 8) return undefined;
  const all = dbl >= 0 ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  all.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

/** RFC 5952 canonical text form. */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

export function parseIP(text: string): { family: Family; bytes: Uint8Array } | undefined {
  const v4 = parseIPv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = text.includes(':') ? parseIPv6(text) : undefined;
  return v6 ? { family: 6, bytes: v6 } : undefined;
}

export function formatIP(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIPv4(bytes) : formatIPv6(bytes);
}

/** Canonical text of an address (IPv6 compressed, IPv4 as is), or undefined if invalid. */
export function canonicalIP(text: string): string | undefined {
  const p = parseIP(text);
  return p ? formatIP(p.bytes) : undefined;
}

/** `a.b.c.d/nn` or `addr` (default prefix given) → Cidr; undefined when malformed. */
export function parseCidr(text: string, defaultPrefix?: number): Cidr | undefined {
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const p = parseIP(addrText);
  if (!p) return undefined;
  const max = p.family === 4 ? 32 : 128;
  let prefix: number;
  if (slash >= 0) {
    const pt = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(pt)) return undefined;
    prefix = Number(pt);
  } else {
    prefix = defaultPrefix ?? max;
  }
  if (prefix < 0 || prefix > max) return undefined;
  return { family: p.family, address: formatIP(p.bytes), prefix };
}

/** Dotted netmask (255.255.0.0) → prefix length, undefined if not contiguous. */
export function netmaskToPrefix(mask: string): number | undefined {
  const b = parseIPv4(mask);
  if (!b) return undefined;
  const n = ipv4ToUint(b);
  const prefix = Math.clz32(~n); // number of leading one bits
  const expect = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return n === expect ? prefix : undefined;
}

/** True for fe80::/10. */
export function isIPv6LinkLocal(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80;
}

/** True when `addr` lies within `net/prefix` (same family). */
export function inSubnet(addr: Uint8Array, net: Uint8Array, prefix: number): boolean {
  if (addr.length !== net.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const bits = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - bits)) & 0xff;
    if (((addr[bit / 8]! ^ net[bit / 8]!) & mask) !== 0) return false;
  }
  return true;
}
