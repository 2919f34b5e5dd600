/**
 * The rules and stateless maps of a service's generation chain (NAT, DR, TUN) as data, pure: one
 * structured form that renders both to the nft text of the whole load (`ruleText`,
 * `slotMapDecl`) and to nf_tables netlink messages for a flat update (`ruleExprs`,
 * `slotMapSpec`, `slotElements`), so the two cannot drift. Byte layouts are nft 1.0.6's
 * (`nft --debug=mnl`), checked per shape by test/integration/balancer/rules-oracle.test.ts;
 * a device's interface index (DR `fwd … device`, TUN `meta oif` data), which nft resolves when
 * it adds the rule or element, comes from the shell;
 * register numbers, expression attributes and set userdata from the kernel's uapi
 * (linux/netfilter/nf_tables.h) and what nft sends. A statement or expression this codec does
 * not encode throws NfnlError: the caller then adds that service's generation by `nft -f`.
 */
import type { NlElem, NlExpr, NlSetSpec } from './nfnl.js';
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
  /** `th sport . ip saddr` */
  | { readonly k: 'concat'; readonly fields: readonly Field[] }
  /** `ip saddr & 255.255.255.0` (mask as nft prints it, bytes in network order). */
  | { readonly k: 'masked'; readonly field: Field; readonly maskText: string; readonly mask: readonly number[] };

export type Stmt =
  | { readonly k: 'ctMarkSet'; readonly value: number }
  | { readonly k: 'l4proto'; readonly protocol: Protocol }
  /** `dnat ip [addr . port] to SOURCE map @MAP [: PORT]` */
  | { readonly k: 'dnat'; readonly family: IpFamily; readonly ports: boolean; readonly from: Source; readonly map: string; readonly constPort?: number }
  | { readonly k: 'drop' }
  /** DR/TUN (netdev): `meta mark set N` */
  | { readonly k: 'markSet'; readonly value: number }
  /** `meta mark set SOURCE map @MAP` */
  | { readonly k: 'markSetMap'; readonly from: Source; readonly map: string }
  /** `meta mark N` / `meta mark != N` */
  | { readonly k: 'markCmp'; readonly neq: boolean; readonly value: number }
  /** `meta mark != @SET` */
  | { readonly k: 'markNotIn'; readonly set: string }
  /** `update @SET { KEY : meta mark }` */
  | { readonly k: 'update'; readonly set: string; readonly key: Source }
  /** DR: `fwd ip to meta mark map @MAP device "DEV"` */
  | { readonly k: 'fwdAddr'; readonly family: IpFamily; readonly map: string; readonly device: string }
  /** TUN: `fwd to meta mark map @MAP` */
  | { readonly k: 'fwdDev'; readonly map: string };
export type Rule = readonly Stmt[];

// ---------------------------------------------------------------- text

export function sourceText(s: Source): string {
  if (s.k === 'numgen') return `numgen inc mod ${s.mod}`;
  if (s.k === 'jhash') return `jhash ${s.fields.join(' . ')} mod ${s.mod} seed 0x${s.seed.toString(16)}`;
  if (s.k === 'field') return s.field;
  if (s.k === 'concat') return s.fields.join(' . ');
  return `${s.field} & ${s.maskText}`;
}

function stmtText(s: Stmt): string {
  switch (s.k) {
    case 'ctMarkSet': return `ct mark set 0x${(s.value >>> 0).toString(16)}`;
    case 'l4proto': return `meta l4proto ${s.protocol}`;
    case 'dnat': return `dnat ${s.family} ${s.ports ? 'addr . port ' : ''}to ${sourceText(s.from)} map @${s.map}${s.constPort !== undefined ? ` : ${s.constPort}` : ''}`;
    case 'drop': return 'drop';
    case 'markSet': return `meta mark set ${s.value}`;
    case 'markSetMap': return `meta mark set ${sourceText(s.from)} map @${s.map}`;
    case 'markCmp': return `meta mark ${s.neq ? '!= ' : ''}${s.value}`;
    case 'markNotIn': return `meta mark != @${s.set}`;
    case 'update': return `update @${s.set} { ${sourceText(s.key)} : meta mark }`;
    case 'fwdAddr': return `fwd ${s.family} to meta mark map @${s.map} device "${s.device}"`;
    case 'fwdDev': return `fwd to meta mark map @${s.map}`;
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
const META_PROTOCOL = 1;
const META_MARK = 3;
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

/**
 * Per rule: in a netdev chain, the first load of packet data is preceded by nft's dependency
 * on the link-layer protocol of the rule's network fields (`meta protocol ip`).
 */
interface Ctx {
  readonly out: NlExpr[];
  dependency?: IpFamily;
}

const ETHERTYPE: Readonly<Record<IpFamily, number[]>> = { ip: [0x08, 0x00], ip6: [0x86, 0xdd] };

/** Loads `fields` as a concatenation from 16-byte register `reg` (each field padded to 4 bytes); returns the length. */
function loadFields(fields: readonly Field[], reg: number, ctx: Ctx): number {
  const out = ctx.out;
  if (ctx.dependency) {
    out.push(expr('meta', u32(2, META_PROTOCOL), u32(1, REG_1)), expr('cmp', u32(1, REG_1), u32(2, 0), value(3, ETHERTYPE[ctx.dependency])));
    ctx.dependency = undefined;
  }
  let off = 0;
  fields.forEach((f, i) => {
    const l = fieldLayout(f);
    out.push(payload(i === 0 ? reg : reg32(reg, off), l.base, l.offset, l.len));
    off += Math.ceil(l.len / 4) * 4;
  });
  return off;
}

/** The source's value into REG_1 (a lookup key); `slotMap` sources are host-order numbers turned to network order as nft does. */
function sourceExprs(s: Source, ctx: Ctx): void {
  const out = ctx.out;
  if (s.k === 'numgen') {
    out.push(expr('numgen', u32(1, REG_1), u32(2, s.mod), u32(3, 0 /* NFT_NG_INCREMENTAL */), u32(4, 0)));
    out.push(byteorderHton(REG_1, 4));
  } else if (s.k === 'jhash') {
    const len = loadFields(s.fields, REG_2, ctx);
    out.push(expr('hash', u32(1, REG_2), u32(2, REG_1), u32(3, len), u32(4, s.mod), u32(5, s.seed), u32(6, 0), u32(7, 0 /* NFT_HASH_JENKINS */)));
    out.push(byteorderHton(REG_1, 4));
  } else if (s.k === 'field') {
    loadFields([s.field], REG_1, ctx);
  } else if (s.k === 'concat') {
    loadFields(s.fields, REG_1, ctx);
  } else {
    const len = loadFields([s.field], REG_1, ctx);
    if (s.mask.length !== len) throw new NfnlError(`mask of ${s.field}: ${s.mask.length} bytes, expected ${len}`);
    out.push(expr('bitwise', u32(1, REG_1), u32(2, REG_1), u32(6, 0 /* NFT_BITWISE_BOOL */), u32(3, len), value(4, s.mask), value(5, Array<number>(len).fill(0))));
  }
}

const fieldsOf = (s: Source): readonly Field[] => (s.k === 'numgen' ? [] : s.k === 'jhash' || s.k === 'concat' ? s.fields : [s.field]);
const familyOf = (f: Field): IpFamily | undefined => (f.startsWith('ip6 ') ? 'ip6' : f.startsWith('ip ') ? 'ip' : undefined);
const metaLoad = (key: number, dreg: number) => expr('meta', u32(2, key), u32(1, dreg));
const metaSet = (key: number, sreg: number) => expr('meta', u32(2, key), u32(3, sreg));

/**
 * The rule as nf_tables expressions. `setIds`: transaction ids of the sets created in the same
 * batch (a lookup names them by id too); other sets are named only. `netdev`: the rule is in
 * the netdev table (nft adds a `meta protocol` dependency before packet data); `ifindex`: the
 * interface index of a device `fwd … device` names (nft resolves it when it adds the rule).
 */
export function ruleExprs(r: Rule, setIds: ReadonlyMap<string, number>, netdev = false, ifindex?: (device: string) => number | undefined): NlExpr[] {
  const out: NlExpr[] = [];
  const ctx: Ctx = { out };
  if (netdev) {
    const fams = new Set(r.flatMap((s) => (s.k === 'markSetMap' ? fieldsOf(s.from) : s.k === 'update' ? fieldsOf(s.key) : s.k === 'dnat' ? fieldsOf(s.from) : [])).map(familyOf).filter((f) => f !== undefined));
    if (fams.size > 1) throw new NfnlError('a netdev rule with IPv4 and IPv6 fields');
    ctx.dependency = [...fams][0];
  }
  for (const s of r) {
    switch (s.k) {
      case 'ctMarkSet':
        out.push(immediate(REG_1, u32h(s.value)), expr('ct', u32(2, CT_MARK), u32(4, REG_1)));
        break;
      case 'markSet':
        out.push(immediate(REG_1, u32h(s.value)), metaSet(META_MARK, REG_1));
        break;
      case 'markSetMap':
        sourceExprs(s.from, ctx);
        out.push(lookup(REG_1, REG_1, s.map, setIds.get(s.map)), metaSet(META_MARK, REG_1));
        break;
      case 'markCmp':
        out.push(metaLoad(META_MARK, REG_1), expr('cmp', u32(1, REG_1), u32(2, s.neq ? 1 : 0), value(3, u32h(s.value))));
        break;
      case 'markNotIn': {
        const id = setIds.get(s.set);
        out.push(metaLoad(META_MARK, REG_1), expr('lookup', u32(2, REG_1), attrStr(1, s.set), ...(id !== undefined ? [u32(4, id)] : []), u32(5, 1 /* NFT_LOOKUP_F_INV */)));
        break;
      }
      case 'update': {
        sourceExprs(s.key, ctx);
        const id = setIds.get(s.set);
        out.push(metaLoad(META_MARK, REG_2));
        out.push(expr('dynset', u32(4, REG_1), u32(5, REG_2), u32(3, 1 /* NFT_DYNSET_OP_UPDATE */), attrStr(1, s.set), ...(id !== undefined ? [u32(2, id)] : [])));
        break;
      }
      case 'fwdAddr': {
        const index = ifindex?.(s.device);
        if (index === undefined) throw new NfnlError(`no interface index for ${s.device}`);
        out.push(immediate(REG_1, u32h(index)), metaLoad(META_MARK, REG_2), lookup(REG_2, REG_2, s.map, setIds.get(s.map)));
        out.push(expr('fwd', u32(1, REG_1), u32(2, REG_2), u32(3, s.family === 'ip' ? 2 : 10)));
        break;
      }
      case 'fwdDev':
        out.push(metaLoad(META_MARK, REG_1), lookup(REG_1, REG_1, s.map, setIds.get(s.map)), expr('fwd', u32(1, REG_1)));
        break;
      case 'l4proto':
        out.push(expr('meta', u32(2, META_L4PROTO), u32(1, REG_1)), expr('cmp', u32(1, REG_1), u32(2, 0 /* NFT_CMP_EQ */), value(3, [PROTOCOLS[s.protocol]])));
        break;
      case 'dnat': {
        sourceExprs(s.from, ctx);
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

// ---------------------------------------------------------------- the stateless maps of a generation

/**
 * A stateless map or set of a generation: NAT's slot map (slot → server address [. port]);
 * DR/TUN's slot map (slot → server id as a mark), id set, and id → server address or tunnel
 * device (`oif`).
 */
export type GenSet =
  | { readonly k: 'slots'; readonly family: IpFamily; readonly portProtocol?: Protocol }
  | { readonly k: 'markSlots' }
  | { readonly k: 'marks' }
  | { readonly k: 'markTo'; readonly to: IpFamily | 'oif' };

/** Its declaration as nft writes it. */
export function genSetDecl(g: GenSet): string {
  switch (g.k) {
    case 'slots': return `typeof numgen inc mod 2 : ${g.family} daddr${g.portProtocol ? ` . ${g.portProtocol} dport` : ''}; flags interval;`;
    case 'markSlots': return 'typeof numgen inc mod 2 : meta mark; flags interval;';
    case 'marks': return 'typeof meta mark;';
    case 'markTo': return `typeof meta mark : ${g.to === 'oif' ? 'meta oif' : `${g.to} daddr`};`;
  }
}

// nft's datatypes (TYPE_INTEGER, TYPE_IPADDR, TYPE_IP6ADDR, TYPE_INET_SERVICE, TYPE_MARK, TYPE_IFINDEX) and set flags.
const TYPE_INTEGER = 4;
const TYPE_IPADDR = 7;
const TYPE_IP6ADDR = 8;
const TYPE_INET_SERVICE = 13;
const TYPE_MARK = 19;
const TYPE_IFINDEX = 20;
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
const EXPR_META = 9;
const EXPR_CONCAT = 13;
const EXPR_NUMGEN = 23;
const DESC: Readonly<Record<IpFamily | Protocol, number>> = { udp: 6, tcp: 8, sctp: 10, ip: 12, ip6: 13 };
const FIELD_DADDR: Readonly<Record<IpFamily, number>> = { ip: 12, ip6: 9 };
const FIELD_DPORT = 2;
const META_OIF = 5;

function ud(type: number, v: readonly number[]): number[] {
  if (v.length > 255) throw new NfnlError('set userdata too long');
  return [type, v.length, ...v];
}
const udU32 = (type: number, v: number) => ud(type, u32h(v));
const udExpr = (id: number, data: number[]) => [...udU32(0, id), ...ud(1, data)];
const udPayload = (desc: number, field: number) => udExpr(EXPR_PAYLOAD, [...udU32(0, desc), ...udU32(1, field)]);
const udMeta = (key: number) => udExpr(EXPR_META, udU32(0, key));
const udNumgen = () => udExpr(EXPR_NUMGEN, [...udU32(0, 0), ...udU32(1, 2), ...udU32(2, 0)]);
const addrType = (f: IpFamily) => (f === 'ip' ? TYPE_IPADDR : TYPE_IP6ADDR);
const addrLen = (f: IpFamily) => (f === 'ip' ? 4 : 16);

/** NEWSET attributes of the map or set, as nft 1.0.6 sends them. */
export function genSetSpec(g: GenSet): NlSetSpec {
  if (g.k === 'marks') {
    return { flags: 0, keyType: TYPE_MARK, keyLen: 4, udata: Uint8Array.from([...udU32(UD_KEYBYTEORDER, BYTEORDER_HOST), ...ud(UD_KEY_TYPEOF, udMeta(META_MARK))]) };
  }
  let key: number[];
  let dataType: number;
  let dataLen: number;
  let dataOrder: number;
  let data: number[];
  if (g.k === 'slots') {
    key = udNumgen();
    const addr = udPayload(DESC[g.family], FIELD_DADDR[g.family]);
    data = g.portProtocol ? udExpr(EXPR_CONCAT, [...ud(0, addr), ...ud(1, udPayload(DESC[g.portProtocol], FIELD_DPORT))]) : addr;
    dataType = g.portProtocol ? (addrType(g.family) << TYPE_BITS) | TYPE_INET_SERVICE : addrType(g.family);
    dataLen = g.portProtocol ? addrLen(g.family) + 4 : addrLen(g.family);
    dataOrder = g.portProtocol ? BYTEORDER_INVALID : BYTEORDER_BIG;
  } else if (g.k === 'markSlots') {
    key = udNumgen();
    data = udMeta(META_MARK);
    [dataType, dataLen, dataOrder] = [TYPE_MARK, 4, BYTEORDER_HOST];
  } else {
    key = udMeta(META_MARK);
    if (g.to === 'oif') {
      data = udMeta(META_OIF);
      [dataType, dataLen, dataOrder] = [TYPE_IFINDEX, 4, BYTEORDER_HOST];
    } else {
      data = udPayload(DESC[g.to], FIELD_DADDR[g.to]);
      [dataType, dataLen, dataOrder] = [addrType(g.to), addrLen(g.to), BYTEORDER_BIG];
    }
  }
  const interval = g.k === 'slots' || g.k === 'markSlots';
  return {
    flags: NFT_SET_MAP | (interval ? NFT_SET_INTERVAL : 0),
    keyType: interval ? TYPE_INTEGER : TYPE_MARK, keyLen: 4, dataType, dataLen,
    udata: Uint8Array.from([
      ...udU32(UD_KEYBYTEORDER, BYTEORDER_HOST), ...udU32(UD_DATABYTEORDER, dataOrder),
      ...ud(UD_KEY_TYPEOF, key), ...ud(UD_DATA_TYPEOF, data), ...udU32(UD_DATA_INTERVAL, 0),
    ]),
  };
}

function uint32(text: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) throw new NfnlError(`"${text}" is not a ${what}`);
  return Number(text);
}

/**
 * The elements (text as nft.ts writes them: `a-b : value`, `a : value`, `id : address`,
 * `id : "dev"`, `id`) as netlink elements. Slot maps are interval maps: each run's start with
 * its value, then its end + 1 marked as an interval end, as nft sends them. `ifindex`: a
 * tunnel device's interface index (nft resolves `meta oif` data when it adds the element).
 */
export function genSetElements(g: GenSet, elements: ReadonlyMap<string, string>, ifindex?: (device: string) => number | undefined): NlElem[] {
  const out: NlElem[] = [];
  for (const [k, v] of elements) {
    if (g.k === 'marks') {
      out.push({ key: Uint8Array.from(u32h(uint32(k, 'mark'))) });
      continue;
    }
    if (g.k === 'markTo') {
      let data: Uint8Array;
      if (g.to === 'oif') {
        const dev = /^"([^"]+)"$/.exec(v)?.[1];
        const index = dev === undefined ? undefined : ifindex?.(dev);
        if (index === undefined) throw new NfnlError(`no interface index for ${v}`);
        data = Uint8Array.from(u32h(index));
      } else {
        data = encodeKey([g.to === 'ip' ? 'ipv4' : 'ipv6'], v);
      }
      out.push({ key: Uint8Array.from(u32h(uint32(k, 'mark'))), data });
      continue;
    }
    const r = /^(\d+)(?:-(\d+))?$/.exec(k);
    if (!r) throw new NfnlError(`slot "${k}" is not a slot or a range of slots`);
    const a = Number(r[1]);
    const b = r[2] === undefined ? a : Number(r[2]);
    const data = g.k === 'markSlots'
      ? Uint8Array.from(u32h(uint32(v, 'mark')))
      : encodeKey(g.portProtocol ? [g.family === 'ip' ? 'ipv4' : 'ipv6', 'port'] : [g.family === 'ip' ? 'ipv4' : 'ipv6'], v);
    out.push({ key: Uint8Array.from(be32(a)), data });
    out.push({ key: Uint8Array.from(be32(b + 1)), end: true });
  }
  return out;
}
