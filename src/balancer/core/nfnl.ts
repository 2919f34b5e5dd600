/**
 * nf_tables netlink messages as bytes, pure: the few operations the balancer's flat update
 * sends without `nft` (nft.ts `flatUpdate`): delete and add set elements (keys of addresses,
 * protocols, ports and marks; data a jump/goto verdict or none), flush a set, delete a chain,
 * delete a set — framed as one nfnetlink batch (NFNL_MSG_BATCH_BEGIN … END), which the kernel
 * applies atomically, answering each message (ACK requested) with its own error or 0.
 *
 * Why not `nft -f` for these: nft 1.0.6 fetches its cache before any element or delete
 * command, and that fetch grows with the table (docs/balancer.md, "Benchmark"). Why not a
 * library: no maintained npm binding of libnftnl/libnftables fits (docs/ARCHITECTURE.md).
 * Layouts come from the kernel's uapi headers (linux/netlink.h, linux/netfilter/nfnetlink.h,
 * linux/netfilter/nf_tables.h); the native side (native/nfnl.c) only sends the buffer and
 * returns the kernel's answers.
 */

// linux/netlink.h
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLA_F_NESTED = 0x8000;
// linux/netfilter/nfnetlink.h
const NFNL_SUBSYS_NFTABLES = 10;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
// linux/netfilter/nf_tables.h: enum nf_tables_msg_types
export const NFT_MSG = { NEWCHAIN: 3, DELCHAIN: 5, NEWRULE: 6, NEWSET: 9, DELSET: 11, NEWSETELEM: 12, DELSETELEM: 14 } as const;
const NLM_F_CREATE = 0x400;
const NLM_F_APPEND = 0x800;
// enum nft_chain_attributes / nft_set_attributes / nft_set_elem_list_attributes / nft_set_elem_attributes
const NFTA_CHAIN_TABLE = 1;
const NFTA_CHAIN_NAME = 3;
const NFTA_SET_TABLE = 1;
const NFTA_SET_NAME = 2;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_SET_ELEM_LIST_SET_ID = 4;
const NFTA_SET_ELEM_FLAGS = 3;
const NFT_SET_ELEM_INTERVAL_END = 1;
const NFTA_SET_FLAGS = 3;
const NFTA_SET_KEY_TYPE = 4;
const NFTA_SET_KEY_LEN = 5;
const NFTA_SET_DATA_TYPE = 6;
const NFTA_SET_DATA_LEN = 7;
const NFTA_SET_ID = 10;
const NFTA_SET_USERDATA = 13;
// enum nft_rule_attributes / nft_expr_attributes
const NFTA_RULE_TABLE = 1;
const NFTA_RULE_CHAIN = 2;
const NFTA_RULE_EXPRESSIONS = 4;
const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_DATA_VALUE = 1;
const NFTA_DATA_VERDICT = 2;
const NFTA_VERDICT_CODE = 1;
const NFTA_VERDICT_CHAIN = 2;
// enum nft_verdicts
const NFT_JUMP = -3;
const NFT_GOTO = -4;
/** NFPROTO_* of the carpool tables. */
export const NFPROTO = { ip: 2, ip6: 10, netdev: 5 } as const;
export type NlFamily = keyof typeof NFPROTO;
const NFT_NAME_MAXLEN = 256;

/** One field of a set key, as nft's `typeof`/`type` names it. */
export type KeyField = 'ipv4' | 'ipv6' | 'proto' | 'port' | 'mark';

/** One element of a new set: key, data (a map's value), or the end of an interval (NFT_SET_ELEM_INTERVAL_END). */
export interface NlElem {
  readonly key: Uint8Array;
  readonly data?: Uint8Array;
  readonly end?: boolean;
}
/** One rule expression: its name and the attributes of NFTA_EXPR_DATA (already encoded, `expr.*`). */
export interface NlExpr {
  readonly name: string;
  readonly data: readonly number[];
}
/** A new set as nft declares it (flags, key and data types, `typeof` userdata). */
export interface NlSetSpec {
  readonly flags: number;
  readonly keyType: number;
  readonly keyLen: number;
  readonly dataType?: number;
  readonly dataLen?: number;
  readonly udata: Uint8Array;
}

interface SetOp {
  readonly family: NlFamily;
  readonly table: string;
  readonly set: string;
}
export type NlOp =
  | SetOp & { readonly op: 'addElem'; readonly key: Uint8Array; readonly verdict?: { readonly code: 'jump' | 'goto'; readonly chain: string } }
  | SetOp & { readonly op: 'delElem'; readonly key: Uint8Array }
  | SetOp & { readonly op: 'flushSet' }
  | SetOp & { readonly op: 'delSet' }
  | { readonly op: 'delChain'; readonly family: NlFamily; readonly table: string; readonly chain: string }
  /** A set created in this batch: `id` is its transaction id (NFTA_SET_ID), which new elements and rules name too. */
  | SetOp & { readonly op: 'newSet'; readonly id: number; readonly spec: NlSetSpec }
  | SetOp & { readonly op: 'newElems'; readonly setId?: number; readonly elements: readonly NlElem[] }
  | { readonly op: 'newChain'; readonly family: NlFamily; readonly table: string; readonly chain: string }
  | { readonly op: 'newRule'; readonly family: NlFamily; readonly table: string; readonly chain: string; readonly exprs: readonly NlExpr[] };

export class NfnlError extends Error {
  override readonly name = 'NfnlError';
}

// ---------------------------------------------------------------- keys

const FIELD_TYPES: readonly [RegExp, KeyField][] = [
  [/^(?:ip daddr|ip saddr|ipv4_addr|ct original ip daddr)$/, 'ipv4'],
  [/^(?:ip6 daddr|ip6 saddr|ipv6_addr|ct original ip6 daddr)$/, 'ipv6'],
  [/^(?:meta l4proto|inet_proto)$/, 'proto'],
  [/^(?:th dport|th sport|inet_service)$/, 'port'],
  [/^(?:meta mark|ct mark|mark)$/, 'mark'],
];

/**
 * The key fields of a set or map from its nft declaration (`typeof ip daddr . meta l4proto .
 * th dport : verdict;`, `type ipv4_addr . inet_service;`). Throws NfnlError for a key this
 * codec does not encode (the caller then uses `nft`).
 */
export function keyLayout(decl: string): KeyField[] {
  const m = /^\s*(?:typeof|type)\s+([^:;]+?)\s*(?::|;)/.exec(decl);
  if (!m) throw new NfnlError(`no key type in "${decl}"`);
  return m[1]!.split(' . ').map((f) => {
    const t = FIELD_TYPES.find(([re]) => re.test(f.trim()));
    if (!t) throw new NfnlError(`key field "${f}" is not one the netlink codec encodes`);
    return t[1];
  });
}

const PROTOCOLS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 };
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function ipv4Bytes(s: string): number[] {
  const p = s.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) throw new NfnlError(`"${s}" is not an IPv4 address`);
  return p.map(Number);
}

function ipv6Bytes(s: string): number[] {
  let text = s;
  let tail: number[] = [];
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail = ipv4Bytes(v4[1]!);
    text = text.slice(0, v4.index + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new NfnlError(`"${s}" is not an IPv6 address`);
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const back = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - back.length;
  if ((halves.length === 2 ? fill < 1 : fill !== 0)) throw new NfnlError(`"${s}" is not an IPv6 address`);
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...back];
  const out: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new NfnlError(`"${s}" is not an IPv6 address`);
    const v = parseInt(g, 16);
    out.push(v >> 8, v & 255);
  }
  if (tail.length) out.splice(12, 4, ...tail);
  return out;
}

function uint(s: string, max: number, what: string): number {
  if (!/^(?:\d+|0x[0-9a-fA-F]+)$/.test(s)) throw new NfnlError(`"${s}" is not a ${what}`);
  const v = Number(s);
  if (v > max) throw new NfnlError(`${what} ${s} out of range (max ${max})`);
  return v;
}

/**
 * A key's bytes as the kernel holds them: each field in nft's register layout (addresses and
 * ports in network order, a protocol one byte, a mark a host-order u32), a concatenation's
 * fields each padded to 4 bytes. `text` is nft's element syntax (`10.0.0.1 . tcp . 80`).
 */
export function encodeKey(layout: readonly KeyField[], text: string): Uint8Array {
  const parts = text.split(' . ').map((p) => p.trim());
  if (parts.length !== layout.length) throw new NfnlError(`key "${text}": expected ${layout.length} field(s)`);
  const out: number[] = [];
  layout.forEach((f, i) => {
    const p = parts[i]!;
    let b: number[];
    if (f === 'ipv4') b = ipv4Bytes(p);
    else if (f === 'ipv6') b = ipv6Bytes(p);
    else if (f === 'proto') b = [PROTOCOLS[p] ?? uint(p, 255, 'protocol')];
    else if (f === 'port') {
      const v = uint(p, 65535, 'port');
      b = [v >> 8, v & 255];
    } else {
      const v = uint(p, 0xffffffff, 'mark');
      const be = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
      b = LITTLE_ENDIAN ? be.reverse() : be;
    }
    while (b.length % 4) b.push(0);
    out.push(...b);
  });
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- messages

function u16le(v: number): number[] {
  return LITTLE_ENDIAN ? [v & 255, (v >> 8) & 255] : [(v >> 8) & 255, v & 255];
}
export function u32h(v: number): number[] {
  const be = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  return LITTLE_ENDIAN ? be.reverse() : be;
}
export function be32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}
function pad4(b: number[]): number[] {
  while (b.length % 4) b.push(0);
  return b;
}

/** One netlink attribute (struct nlattr: u16 length, u16 type, payload padded to 4 bytes). */
export function attr(type: number, payload: readonly number[] | Uint8Array): number[] {
  const p = [...payload];
  return pad4([...u16le(4 + p.length), ...u16le(type), ...p]);
}
export const nest = (type: number, ...children: number[][]): number[] => attr(type | NLA_F_NESTED, children.flat());
export function strz(type: number, s: string, what: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  if (bytes.length === 0 || bytes.length >= NFT_NAME_MAXLEN || bytes.includes(0)) throw new NfnlError(`${what} "${s}": expected 1..${NFT_NAME_MAXLEN - 1} bytes`);
  return attr(type, [...bytes, 0]);
}

/** struct nlmsghdr + struct nfgenmsg + attributes. */
function message(type: number, flags: number, seq: number, family: number, resId: number, body: readonly number[]): number[] {
  const payload = [family, 0 /* NFNETLINK_V0 */, (resId >> 8) & 255, resId & 255, ...body];
  return [...u32h(16 + payload.length), ...u16le(type), ...u16le(flags), ...u32h(seq), ...u32h(0), ...payload];
}

function opBody(op: NlOp): { type: number; body: number[]; flags?: number } {
  if (op.op === 'newChain') {
    return { type: NFT_MSG.NEWCHAIN, flags: NLM_F_CREATE, body: [...strz(NFTA_CHAIN_TABLE, op.table, 'table'), ...strz(NFTA_CHAIN_NAME, op.chain, 'chain')] };
  }
  if (op.op === 'newRule') {
    const list = op.exprs.map((e) => nest(NFTA_LIST_ELEM, strz(NFTA_EXPR_NAME, e.name, 'expression'), nest(NFTA_EXPR_DATA, [...e.data])));
    return {
      type: NFT_MSG.NEWRULE, flags: NLM_F_CREATE | NLM_F_APPEND,
      body: [...strz(NFTA_RULE_TABLE, op.table, 'table'), ...strz(NFTA_RULE_CHAIN, op.chain, 'chain'), ...nest(NFTA_RULE_EXPRESSIONS, ...list)],
    };
  }
  if (op.op === 'newSet') {
    const p = op.spec;
    return {
      type: NFT_MSG.NEWSET, flags: NLM_F_CREATE,
      body: [...strz(NFTA_SET_TABLE, op.table, 'table'), ...strz(NFTA_SET_NAME, op.set, 'set'), ...attr(NFTA_SET_FLAGS, be32(p.flags)),
        ...attr(NFTA_SET_KEY_TYPE, be32(p.keyType)), ...attr(NFTA_SET_KEY_LEN, be32(p.keyLen)),
        ...(p.dataType !== undefined ? [...attr(NFTA_SET_DATA_TYPE, be32(p.dataType)), ...attr(NFTA_SET_DATA_LEN, be32(p.dataLen ?? 0))] : []),
        ...attr(NFTA_SET_ID, be32(op.id)), ...attr(NFTA_SET_USERDATA, p.udata)],
    };
  }
  if (op.op === 'newElems') {
    if (op.elements.length === 0) throw new NfnlError(`elements of ${op.set}: none`);
    const list = op.elements.map((e, i) => {
      if (e.key.length === 0 || e.key.length > 64) throw new NfnlError(`element of ${op.set}: key of ${e.key.length} bytes`);
      return nest(i + 1,
        ...(e.end ? [attr(NFTA_SET_ELEM_FLAGS, be32(NFT_SET_ELEM_INTERVAL_END))] : []),
        nest(NFTA_SET_ELEM_KEY, attr(NFTA_DATA_VALUE, e.key)),
        ...(e.data ? [nest(NFTA_SET_ELEM_DATA, attr(NFTA_DATA_VALUE, e.data))] : []));
    });
    return {
      type: NFT_MSG.NEWSETELEM, flags: NLM_F_CREATE,
      body: [...strz(NFTA_SET_ELEM_LIST_TABLE, op.table, 'table'), ...strz(NFTA_SET_ELEM_LIST_SET, op.set, 'set'),
        ...(op.setId !== undefined ? attr(NFTA_SET_ELEM_LIST_SET_ID, be32(op.setId)) : []), ...nest(NFTA_SET_ELEM_LIST_ELEMENTS, ...list)],
    };
  }
  if (op.op === 'delChain') {
    return { type: NFT_MSG.DELCHAIN, body: [...strz(NFTA_CHAIN_TABLE, op.table, 'table'), ...strz(NFTA_CHAIN_NAME, op.chain, 'chain')] };
  }
  if (op.op === 'delSet') {
    return { type: NFT_MSG.DELSET, body: [...strz(NFTA_SET_TABLE, op.table, 'table'), ...strz(NFTA_SET_NAME, op.set, 'set')] };
  }
  const head = [...strz(NFTA_SET_ELEM_LIST_TABLE, op.table, 'table'), ...strz(NFTA_SET_ELEM_LIST_SET, op.set, 'set')];
  // DELSETELEM without a list of elements flushes the set.
  if (op.op === 'flushSet') return { type: NFT_MSG.DELSETELEM, body: head };
  if (op.key.length === 0 || op.key.length > 64) throw new NfnlError(`element of ${op.set}: key of ${op.key.length} bytes`);
  const elem: number[][] = [nest(NFTA_SET_ELEM_KEY, attr(NFTA_DATA_VALUE, op.key))];
  if (op.op === 'addElem' && op.verdict) {
    elem.push(nest(NFTA_SET_ELEM_DATA, nest(NFTA_DATA_VERDICT,
      attr(NFTA_VERDICT_CODE, be32(op.verdict.code === 'jump' ? NFT_JUMP : NFT_GOTO)),
      strz(NFTA_VERDICT_CHAIN, op.verdict.chain, 'chain'))));
  }
  return {
    type: op.op === 'addElem' ? NFT_MSG.NEWSETELEM : NFT_MSG.DELSETELEM,
    body: [...head, ...nest(NFTA_SET_ELEM_LIST_ELEMENTS, nest(NFTA_LIST_ELEM, ...elem))],
  };
}

export interface Batch {
  readonly bytes: Uint8Array;
  /** Sequence numbers of the operations, in order (the BEGIN and END frames are firstSeq and firstSeq + ops + 1). */
  readonly seqs: readonly number[];
}

/**
 * The operations as one nfnetlink batch: BEGIN, one message per operation (NLM_F_ACK: the
 * kernel answers each, 0 or its error), END. The kernel commits the whole batch or nothing.
 */
export function encodeBatch(ops: readonly NlOp[], firstSeq: number): Batch {
  const out: number[] = [];
  const seqs: number[] = [];
  let seq = firstSeq >>> 0;
  out.push(...message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq++, 0, NFNL_SUBSYS_NFTABLES, []));
  for (const op of ops) {
    const { type, body, flags = 0 } = opBody(op);
    seqs.push(seq);
    out.push(...message((NFNL_SUBSYS_NFTABLES << 8) | type, NLM_F_REQUEST | NLM_F_ACK | flags, seq++, NFPROTO[op.family], 0, body));
  }
  out.push(...message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq, 0, NFNL_SUBSYS_NFTABLES, []));
  return { bytes: Uint8Array.from(out), seqs };
}

/** What the kernel said to a batch: ok when every operation was acknowledged with 0. */
export function batchResult(batch: Batch, replies: readonly { readonly seq: number; readonly error: number }[]):
  { ok: true } | { ok: false; errors: { readonly index: number | undefined; readonly errno: number }[] } {
  const bySeq = new Map(replies.map((r) => [r.seq, r.error]));
  const errors: { index: number | undefined; errno: number }[] = [];
  batch.seqs.forEach((s, i) => {
    const e = bySeq.get(s);
    if (e !== undefined && e !== 0) errors.push({ index: i, errno: -e });
  });
  // An error on a sequence number that is no operation (the batch frame itself).
  for (const r of replies) if (r.error !== 0 && !batch.seqs.includes(r.seq)) errors.push({ index: undefined, errno: -r.error });
  if (errors.length === 0 && batch.seqs.every((s) => bySeq.get(s) === 0)) return { ok: true };
  if (errors.length === 0) errors.push({ index: undefined, errno: 110 /* ETIMEDOUT: not every operation was answered */ });
  return { ok: false, errors };
}
