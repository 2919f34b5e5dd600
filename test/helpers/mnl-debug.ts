/**
 * Reads what `nft --debug=mnl` prints (libmnl's message dump: a header block per message,
 * then one line per attribute header — `|len|flags|type|` — or per 4 bytes of payload) back
 * into bytes, and decodes netlink messages into attribute trees, so tests can compare our
 * nf_tables messages (src/balancer/core/nfnl.ts) with nft's own, byte for byte.
 */

export interface DumpedMessage {
  /** nlmsg_type (subsystem << 8 | message). */
  readonly type: number;
  /** nfgenmsg.nfgen_family. */
  readonly family: number;
  /** The attributes after struct nfgenmsg, as sent. */
  readonly body: Uint8Array;
}

const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function u16(v: number): number[] {
  return LE ? [v & 255, v >> 8] : [v >> 8, v & 255];
}

/** The messages of an `nft --debug=mnl` dump (colour codes allowed). */
export function parseMnlDump(text: string): DumpedMessage[] {
  const out: DumpedMessage[] = [];
  let cur: { type: number; extra?: number[]; bytes: number[] } | undefined;
  const flush = () => {
    if (cur?.extra) out.push({ type: cur.type, family: cur.extra[0]!, body: Uint8Array.from(cur.bytes) });
    cur = undefined;
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g'), '');
    if (/\|\s*message length\s*\|/.test(line)) {
      flush();
      cur = { type: -1, bytes: [] };
      continue;
    }
    if (!cur) continue;
    let m = /^\|\s*(\d+)\s*\|\s*\S+\s*\|\s*\|\s+type \| flags/.exec(line);
    if (m) {
      cur.type = Number(m[1]);
      continue;
    }
    m = /^\| ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})\s+\|\s+\|\s+extra header/.exec(line);
    if (m) {
      cur.extra = m.slice(1, 5).map((h) => parseInt(h, 16));
      continue;
    }
    m = /^\|(\d{5})\|(.)(.)\|(\d{5})\|/.exec(line);
    if (m) {
      const type = Number(m[4]) | (m[2] === 'N' ? 0x8000 : 0) | (m[3] === 'B' ? 0x4000 : 0);
      cur.bytes.push(...u16(Number(m[1])), ...u16(type));
      continue;
    }
    m = /^\| ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})\s+\|\s+\|\s+data/.exec(line);
    if (m) cur.bytes.push(...m.slice(1, 5).map((h) => parseInt(h, 16)));
  }
  flush();
  return out;
}

/** The messages of an encoded batch (src/balancer/core/nfnl.ts `encodeBatch`), BEGIN and END left out. */
export function splitBatch(bytes: Uint8Array): (DumpedMessage & { flags: number })[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: (DumpedMessage & { flags: number })[] = [];
  for (let off = 0; off < bytes.length;) {
    const len = dv.getUint32(off, LE);
    const type = dv.getUint16(off + 4, LE);
    if (type !== 0x10 && type !== 0x11) out.push({ type, flags: dv.getUint16(off + 6, LE), family: bytes[off + 16]!, body: bytes.slice(off + 20, off + len) });
    off += len;
  }
  return out;
}

/** A netlink attribute: its type (flags stripped), and either nested attributes or its payload in hex. */
export interface AttrNode {
  readonly type: number;
  readonly nested?: AttrNode[];
  readonly hex?: string;
}

/** Attributes of a buffer, nested ones (NLA_F_NESTED) decoded recursively. */
export function decodeAttrs(b: Uint8Array): AttrNode[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: AttrNode[] = [];
  for (let off = 0; off + 4 <= b.length;) {
    const len = dv.getUint16(off, LE);
    const t = dv.getUint16(off + 2, LE);
    if (len < 4) throw new Error(`attribute of length ${len} at ${off}`);
    const payload = b.slice(off + 4, off + len);
    out.push(t & 0x8000 ? { type: t & 0x3fff, nested: decodeAttrs(payload) } : { type: t & 0x3fff, hex: Buffer.from(payload).toString('hex') });
    off += (len + 3) & ~3;
  }
  return out;
}
