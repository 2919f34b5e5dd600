/**
 * The little of DNS (RFC 1035 §4) that DNS_CHECK needs: one query (a question, recursion
 * desired) and a look at the answer — its id, that it is a response, the RCODE, and the types
 * of the answer records. Pure; a malformed or truncated message is a `{ ok: false, reason }`,
 * never an exception. Names in answers are skipped, not decoded (compression pointers are
 * stepped over, never followed), so no input can loop.
 */

/** The query types keepalived's DNS_CHECK offers, with their RFC 1035 / RFC 3596 codes. */
export const DNS_TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28 } as const;
export type DnsType = keyof typeof DNS_TYPES;

const HEADER = 12;
const CLASS_IN = 1;

/** The wire form of a name: length-prefixed labels and the root's 0. `.` and `` are the root. Throws RangeError on an empty or long label. */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const out: number[] = [];
  for (const l of labels) {
    const bytes = new TextEncoder().encode(l);
    if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`DNS name '${name}': label '${l}' must be 1..63 bytes`);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  if (out.length > 255) throw new RangeError(`DNS name '${name}' is longer than 255 bytes`);
  return Uint8Array.from(out);
}

/** A standard query: header (id, RD set, one question) and the question `name type IN`. */
export function encodeQuery(id: number, name: string, type: DnsType): Uint8Array {
  const qname = encodeName(name);
  const b = new Uint8Array(HEADER + qname.length + 4);
  b[0] = (id >> 8) & 0xff; b[1] = id & 0xff;
  b[2] = 0x01; // RD
  b[5] = 1; // QDCOUNT
  b.set(qname, HEADER);
  const q = HEADER + qname.length;
  const code = DNS_TYPES[type];
  b[q] = code >> 8; b[q + 1] = code & 0xff;
  b[q + 2] = 0; b[q + 3] = CLASS_IN;
  return b;
}

export type DnsDropReason = 'short' | 'id' | 'not-response' | 'truncated-name' | 'truncated-record';

export interface DnsAnswer {
  readonly ok: true;
  readonly id: number;
  /** RCODE: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED... */
  readonly rcode: number;
  /** Types of the answer section's records, in order. */
  readonly answerTypes: readonly number[];
}
export type DnsParse = DnsAnswer | { readonly ok: false; readonly reason: DnsDropReason; readonly detail: string };

const u16 = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!;

/** Offset just past the name at `i`, or -1 when the message ends inside it. */
function skipName(b: Uint8Array, i: number): number {
  for (;;) {
    if (i >= b.length) return -1;
    const len = b[i]!;
    if (len === 0) return i + 1;
    if ((len & 0xc0) === 0xc0) return i + 2 <= b.length ? i + 2 : -1; // pointer: the name ends here
    if ((len & 0xc0) !== 0) return -1; // 0x40/0x80: reserved label types
    i += 1 + len;
  }
}

/** Read a response to query `id`. */
export function parseResponse(b: Uint8Array, id: number): DnsParse {
  if (b.length < HEADER) return { ok: false, reason: 'short', detail: `${b.length} bytes, a header is 12` };
  const got = u16(b, 0);
  if (got !== id) return { ok: false, reason: 'id', detail: `id ${got}, expected ${id}` };
  if ((b[2]! & 0x80) === 0) return { ok: false, reason: 'not-response', detail: 'QR bit not set' };
  const rcode = b[3]! & 0x0f;
  const qd = u16(b, 4);
  const an = u16(b, 6);
  let i = HEADER;
  for (let k = 0; k < qd; k++) {
    i = skipName(b, i);
    if (i < 0 || i + 4 > b.length) return { ok: false, reason: 'truncated-name', detail: `question ${k + 1} runs past the end` };
    i += 4;
  }
  const answerTypes: number[] = [];
  for (let k = 0; k < an; k++) {
    i = skipName(b, i);
    if (i < 0 || i + 10 > b.length) return { ok: false, reason: 'truncated-record', detail: `answer ${k + 1} runs past the end` };
    const type = u16(b, i);
    const rdlen = u16(b, i + 8);
    i += 10 + rdlen;
    if (i > b.length) return { ok: false, reason: 'truncated-record', detail: `answer ${k + 1}: data runs past the end` };
    answerTypes.push(type);
  }
  return { ok: true, id, rcode, answerTypes };
}

const RCODES: Readonly<Record<number, string>> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

/** DNS_CHECK's verdict: NOERROR and at least one answer record of the type asked for. */
export function dnsVerdict(r: DnsParse, type: DnsType): { ok: boolean; detail: string } {
  if (!r.ok) return { ok: false, detail: `malformed answer (${r.reason}: ${r.detail})` };
  if (r.rcode !== 0) return { ok: false, detail: `rcode ${RCODES[r.rcode] ?? r.rcode}` };
  const n = r.answerTypes.filter((t) => t === DNS_TYPES[type]).length;
  if (n === 0) return { ok: false, detail: `no ${type} record in ${r.answerTypes.length} answer(s)` };
  return { ok: true, detail: `${n} ${type} record(s)` };
}
