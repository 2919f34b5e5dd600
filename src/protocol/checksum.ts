/**
 * RFC 1071 Internet checksum: one's-complement sum of 16-bit big-endian words,
 * an odd trailing byte padded with zero. Several buffers are summed as if
 * concatenated (each must have even length except the last), which is how
 * pseudo-headers are added.
 */
export function onesComplementSum(parts: readonly Uint8Array[], initial = 0): number {
  let sum = initial;
  for (const buf of parts) {
    const n = buf.length;
    let i = 0;
    for (; i + 1 < n; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
    if (i < n) sum += buf[i]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum field value for the given bytes (checksum field itself must be zero). */
export function internetChecksum(...parts: Uint8Array[]): number {
  return ~onesComplementSum(parts) & 0xffff;
}

/** True when bytes that include their checksum field fold to 0xffff (i.e. verify). */
export function checksumOk(...parts: Uint8Array[]): boolean {
  return onesComplementSum(parts) === 0xffff;
}
