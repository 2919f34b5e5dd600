/**
 * The rules and stateless maps of a NAT service's generation chain as data, pure: one
 * structured form that renders both to the nft text of the whole load (`ruleText`,
 * `slotMapDecl`) and to nf_tables netlink messages for a flat update (`ruleExprs`,
 * `slotMapSpec`, `slotElements`), so the two cannot drift. Byte layouts are nft 1.0.6's
 * (`nft --debug=mnl`), checked per shape by test/integration/balancer/rules-oracle.test.ts;
 * register numbers, expression attributes and set userdata from the kernel's uapi
 * (linux/netfilter/nf_tables.h) and what nft sends. A statement or expression this codec does
 * not encode throws NfnlError: the caller then adds that service's generation by `nft -f`.
 */
import type { NlExpr, NlSetSpec } from './nfnl.js';
import { attr, be32, encodeKey, nest, NfnlError, u32h } from './nfnl.js';
import type { Protocol } from './model.js';

export type IpFamily = 'ip' | 'ip6';
/** A packet field as nft names it. */
export type Field = `${IpFamily} saddr` | `${IpFamily} daddr` | 'th sport';

/** The source of a map lookup. */
export type Source =
  | { readonly k: 'numgen'; readonly mod: number }
  | { readonly k: 'jhash'; readonly fields: readonly Field[]; readonly mod: number; readonly seed: number }
  | { readonly k: 'field'; readonly field: Field }
  /** `ip saddr & 255.255.255.0` (mask as nft prints it, bytes in network order). */
  | { readonly k: 'masked'; readonly field: Field; readonly maskText: string; readonly mask: readonly number[] };

export type Stmt =
  | { readonly k: 'ctMarkSet'; readonly value: number }
  | { readonly k: 'l4proto'; readonly protocol: Protocol }
  /** `dnat ip [addr . port] to SOURCE map @MAP [: PORT]` */
  | { readonly k: 'dnat'; readonly family: IpFamily; readonly ports: boolean; readonly from: Source; readonly map: string; readonly constPort?: number }
  | { readonly k: 'drop' };
export type Rule = readonly Stmt[];

// ---------------------------------------------------------------- text

export function sourceText(s: Source): string {
  if (s.k === 'numgen') return `numgen inc mod ${s.mod}`;
  if (s.k === 'jhash') return `jhash ${s.fields.join(' . ')} mod ${s.mod} seed 0x${s.seed.toString(16)}`;
  if (s.k === 'field') return s.field;
  return `${s.field} & ${s.maskText}`;
}

function stmtText(s: Stmt): string {
  switch (s.k) {
    case 'ctMarkSet': return `ct mark set 0x${(s.value >>> 0).toString(16)}`;
    case 'l4proto': return `meta l4proto ${s.protocol}`;
    case 'dnat': return `dnat ${s.family} ${s.ports ? 'addr . port ' : ''}to ${sourceText(s.from)} map @${s.map}${s.constPort !== undefined ? ` : ${s.constPort}` : ''}`;
    case 'drop': return 'drop';
  }
}

/** The rule as nft writes it (the whole load and `nft -f`). */
export function ruleText(r: Rule): string {
  return r.map(stmtText).join(' ');
}

// ---------------------------------------------------------------- netlink expressions

// enum nft_registers: the verdict, 16-byte registers 1..4, 4-byte registers from 8.
const REG_VERDICT = 0;
const REG_1 = 1;
const REG_2 = 2;
const REG32_00 = 8;
/**
 * The register at `offset` bytes into 16-byte register `reg`, numbered as nft does: a 16-byte
 * register where the offset falls on one, else the 4-byte register (NFT_REG32_*).
 */
const reg32 = (reg: number, offset: number): number => {
  const r = (reg - 1) * 4 + offset / 4;
  return r % 4 === 0 ? REG_1 + r / 4 : REG32_00 + r;
};

const u32 = (type: number, v: number) => attr(type, be32(v));
const value = (type: number, bytes: readonly number[]) => nest(type, attr(1 /* NFTA_DATA_VALUE */, bytes));
const expr = (name: string, ...attrs: number[][]): NlExpr => ({ name, data: attrs.flat() });

// enum nft_meta_keys, nft_ct_keys, nft_payload_bases, nft_cmp_ops
const META_L4PROTO = 16;
const CT_MARK = 3;
const BASE_NETWORK = 1;
const BASE_TRANSPORT = 2;
const PROTOCOLS: Readonly<Record<Protocol, number>> = { tcp: 6, udp: 17, sctp: 132 };

const immediate = (dreg: number, bytes: readonly number[]) => expr('immediate', u32(1, dreg), value(2, bytes));
const verdict = (code: number) => expr('immediate', u32(1, REG_VERDICT), nest(2, nest(2 /* NFTA_DATA_VERDICT */, u32(1, code))));
const payload = (dreg: number, base: number, offset: number, len: number) => expr('payload', u32(1, dreg), u32(2, base), u32(3, offset), u32(4, len));
const lookup = (sreg: number, dreg: number, set: string, setId: number | undefined) =>
  expr('lookup', u32(2, sreg), u32(3, dreg), attrStr(1, set), ...(setId !== undefined ? [u32(4, setId)] : []));
const byteorderHton = (reg: number, len: number) => expr('byteorder', u32(1, reg), u32(2, reg), u32(3, 1 /* NFT_BYTEORDER_HTON */), u32(4, len), u32(5, len));

function attrStr(type: number, s: string): number[] {
  return attr(type, [...new TextEncoder().encode(s), 0]);
}

function fieldLayout(f: Field): { base: number; offset: number; len: number } {
  switch (f) {
    case 'ip saddr': return { base: BASE_NETWORK, offset: 12, len: 4 };
    case 'ip daddr': return { base: BASE_NETWORK, offset: 16, len: 4 };
    case 'ip6 saddr': return { base: BASE_NETWORK, offset: 8, len: 16 };
    case 'ip6 daddr': return { base: BASE_NETWORK, offset: 24, len: 16 };
    case 'th sport': return { base: BASE_TRANSPORT, offset: 0, len: 2 };
  }
}

/** Loads `fields` as a concatenation from 16-byte register `reg` (each field padded to 4 bytes); returns the length. */
function loadFields(fields: readonly Field[], reg: number, out: NlExpr[]): number {
  let off = 0;
  fields.forEach((f, i) => {
    const l = fieldLayout(f);
    out.push(payload(i === 0 ? reg : reg32(reg, off), l.base, l.offset, l.len));
    off += Math.ceil(l.len / 4) * 4;
  });
  return off;
}

/** The source's value into REG_1 (a lookup key); `slotMap` sources are host-order numbers turned to network order as nft does. */
function sourceExprs(s: Source, out: NlExpr[]): void {
  if (s.k === 'numgen') {
    out.push(expr('numgen', u32(1, REG_1), u32(2, s.mod), u32(3, 0 /* NFT_NG_INCREMENTAL */), u32(4, 0)));
    out.push(byteorderHton(REG_1, 4));
  } else if (s.k === 'jhash') {
    const len = loadFields(s.fields, REG_2, out);
    out.push(expr('hash', u32(1, REG_2), u32(2, REG_1), u32(3, len), u32(4, s.mod), u32(5, s.seed), u32(6, 0), u32(7, 0 /* NFT_HASH_JENKINS */)));
    out.push(byteorderHton(REG_1, 4));
  } else if (s.k === 'field') {
    loadFields([s.field], REG_1, out);
  } else {
    const len = loadFields([s.field], REG_1, out);
    if (s.mask.length !== len) throw new NfnlError(`mask of ${s.field}: ${s.mask.length} bytes, expected ${len}`);
    out.push(expr('bitwise', u32(1, REG_1), u32(2, REG_1), u32(6, 0 /* NFT_BITWISE_BOOL */), u32(3, len), value(4, s.mask), value(5, Array<number>(len).fill(0))));
  }
}

/**
 * The rule as nf_tables expressions. `setIds`: transaction ids of the sets created in the same
 * batch (a lookup names them by id too); other sets are named only.
 */
export function ruleExprs(r: Rule, setIds: ReadonlyMap<string, number>): NlExpr[] {
  const out: NlExpr[] = [];
  for (const s of r) {
    switch (s.k) {
      case 'ctMarkSet':
        out.push(immediate(REG_1, u32h(s.value)), expr('ct', u32(2, CT_MARK), u32(4, REG_1)));
        break;
      case 'l4proto':
        out.push(expr('meta', u32(2, META_L4PROTO), u32(1, REG_1)), expr('cmp', u32(1, REG_1), u32(2, 0 /* NFT_CMP_EQ */), value(3, [PROTOCOLS[s.protocol]])));
        break;
      case 'dnat': {
        sourceExprs(s.from, out);
        out.push(lookup(REG_1, REG_1, s.map, setIds.get(s.map)));
        const addrLen = s.family === 'ip' ? 4 : 16;
        const nat = [u32(1, 1 /* NFT_NAT_DNAT */), u32(2, s.family === 'ip' ? 2 : 10), u32(3, REG_1)];
        if (s.constPort !== undefined) {
          out.push(immediate(REG_2, [(s.constPort >> 8) & 255, s.constPort & 255]));
          out.push(expr('nat', ...nat, u32(5, REG_2), u32(7, 2 /* NF_NAT_RANGE_PROTO_SPECIFIED */)));
        } else if (s.ports) {
          out.push(expr('nat', ...nat, u32(5, reg32(REG_1, addrLen))));
        } else {
          out.push(expr('nat', ...nat));
        }
        break;
      }
      case 'drop':
        out.push(verdict(0 /* NF_DROP */));
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------- the slot map

/** The slot map of a NAT service: slot → server address (. port). */
export interface SlotMap {
  readonly family: IpFamily;
  /** The server port's protocol when servers have ports (`ip daddr . tcp dport`). */
  readonly portProtocol?: Protocol;
}

/** Its declaration as nft writes it. */
export function slotMapDecl(m: SlotMap): string {
  return `typeof numgen inc mod 2 : ${m.family} daddr${m.portProtocol ? ` . ${m.portProtocol} dport` : ''}; flags interval;`;
}

// nft's datatypes (TYPE_INTEGER, TYPE_IPADDR, TYPE_IP6ADDR, TYPE_INET_SERVICE) and set flags.
const TYPE_INTEGER = 4;
const TYPE_IPADDR = 7;
const TYPE_IP6ADDR = 8;
const TYPE_INET_SERVICE = 13;
const TYPE_BITS = 6;
const NFT_SET_INTERVAL = 0x4;
const NFT_SET_MAP = 0x8;
// nft's set userdata (libnftnl udata: u8 type, u8 length, value; numbers host-order u32).
const UD_KEYBYTEORDER = 0;
const UD_DATABYTEORDER = 1;
const UD_KEY_TYPEOF = 3;
const UD_DATA_TYPEOF = 4;
const UD_DATA_INTERVAL = 6;
const BYTEORDER_INVALID = 0;
const BYTEORDER_HOST = 1;
const BYTEORDER_BIG = 2;
// nft's expression ids in typeof userdata, protocol descriptions and header fields.
const EXPR_PAYLOAD = 7;
const EXPR_CONCAT = 13;
const EXPR_NUMGEN = 23;
const DESC: Readonly<Record<IpFamily | Protocol, number>> = { udp: 6, tcp: 8, sctp: 10, ip: 12, ip6: 13 };
const FIELD_DADDR: Readonly<Record<IpFamily, number>> = { ip: 12, ip6: 9 };
const FIELD_DPORT = 2;

function ud(type: number, v: readonly number[]): number[] {
  if (v.length > 255) throw new NfnlError('set userdata too long');
  return [type, v.length, ...v];
}
const udU32 = (type: number, v: number) => ud(type, u32h(v));
const udExpr = (id: number, data: number[]) => [...udU32(0, id), ...ud(1, data)];
const udPayload = (desc: number, field: number) => udExpr(EXPR_PAYLOAD, [...udU32(0, desc), ...udU32(1, field)]);

/** NEWSET attributes of the slot map, as nft 1.0.6 sends them. */
export function slotMapSpec(m: SlotMap): NlSetSpec {
  const addrType = m.family === 'ip' ? TYPE_IPADDR : TYPE_IP6ADDR;
  const addrLen = m.family === 'ip' ? 4 : 16;
  const addr = udPayload(DESC[m.family], FIELD_DADDR[m.family]);
  const data = m.portProtocol
    ? udExpr(EXPR_CONCAT, [...ud(0, addr), ...ud(1, udPayload(DESC[m.portProtocol], FIELD_DPORT))])
    : addr;
  return {
    flags: NFT_SET_MAP | NFT_SET_INTERVAL,
    keyType: TYPE_INTEGER, keyLen: 4,
    dataType: m.portProtocol ? (addrType << TYPE_BITS) | TYPE_INET_SERVICE : addrType,
    dataLen: m.portProtocol ? addrLen + 4 : addrLen,
    udata: Uint8Array.from([
      ...udU32(UD_KEYBYTEORDER, BYTEORDER_HOST), ...udU32(UD_DATABYTEORDER, m.portProtocol ? BYTEORDER_INVALID : BYTEORDER_BIG),
      ...ud(UD_KEY_TYPEOF, udExpr(EXPR_NUMGEN, [...udU32(0, 0), ...udU32(1, 2), ...udU32(2, 0)])),
      ...ud(UD_DATA_TYPEOF, data), ...udU32(UD_DATA_INTERVAL, 0),
    ]),
  };
}

/**
 * The slot map's elements (text as `slotElements` in nft.ts writes them: `a-b : value` or
 * `a : value`) as interval elements: each run's start with its value, then its end + 1 marked
 * as an interval end, as nft sends them.
 */
export function slotElementsNl(m: SlotMap, elements: ReadonlyMap<string, string>): { key: Uint8Array; data?: Uint8Array; end?: boolean }[] {
  const layout = m.portProtocol ? [m.family === 'ip' ? 'ipv4' as const : 'ipv6' as const, 'port' as const] : [m.family === 'ip' ? 'ipv4' as const : 'ipv6' as const];
  const out: { key: Uint8Array; data?: Uint8Array; end?: boolean }[] = [];
  for (const [k, v] of elements) {
    const r = /^(\d+)(?:-(\d+))?$/.exec(k);
    if (!r) throw new NfnlError(`slot "${k}" is not a slot or a range of slots`);
    const a = Number(r[1]);
    const b = r[2] === undefined ? a : Number(r[2]);
    out.push({ key: Uint8Array.from(be32(a)), data: encodeKey(layout, v) });
    out.push({ key: Uint8Array.from(be32(b + 1)), end: true });
  }
  return out;
}
