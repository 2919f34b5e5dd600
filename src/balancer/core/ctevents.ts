/**
 * ctnetlink event messages as the kernel sends them to a NETLINK_NETFILTER socket bound to
 * NFNLGRP_CONNTRACK_DESTROY, decoded, pure: the per-server packet and byte totals of ended
 * connections (conntrack accounting, `net.netfilter.nf_conntrack_acct=1`) without a
 * per-packet nftables rule (docs/balancer.md "Counters"). The native side (native/ctevents.c)
 * only opens and binds the socket and hands each datagram's bytes over.
 *
 * Layouts from the kernel's uapi headers (linux/netlink.h, linux/netfilter/nfnetlink.h,
 * linux/netfilter/nfnetlink_conntrack.h): a netlink header, `struct nfgenmsg` (family,
 * version, res_id), then attributes; every ctnetlink integer is in network byte order.
 * A message that does not parse is dropped and counted, never thrown.
 */
import { formatIPv4, formatIPv6 } from '../../protocol/inet.js';

// linux/netlink.h
const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLA_TYPE_MASK = 0x3fff;
// linux/netfilter/nfnetlink.h
const NFNL_SUBSYS_CTNETLINK = 1;
const NFGENMSG_LEN = 4;
// linux/netfilter/nfnetlink_conntrack.h: enum cntl_msg_types
const IPCTNL_MSG_CT_NEW = 0;
const IPCTNL_MSG_CT_DELETE = 2;
// enum ctattr_type
const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_MARK = 8;
const CTA_COUNTERS_ORIG = 9;
const CTA_COUNTERS_REPLY = 10;
const CTA_ID = 12;
// enum ctattr_tuple / ctattr_ip / ctattr_l4proto / ctattr_counters
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_IP_V6_SRC = 3;
const CTA_IP_V6_DST = 4;
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const CTA_PROTO_DST_PORT = 3;
const CTA_COUNTERS_PACKETS = 1;
const CTA_COUNTERS_BYTES = 2;
const CTA_COUNTERS32_PACKETS = 3;
const CTA_COUNTERS32_BYTES = 4;
// linux/socket.h
const AF_INET = 2;
const AF_INET6 = 10;

/** The multicast group bit of NFNLGRP_CONNTRACK_DESTROY (group 3) for `bind()`'s nl_groups. */
export const NF_NETLINK_CONNTRACK_DESTROY = 0x4;

export interface CtTuple {
  readonly src: string;
  readonly dst: string;
  readonly proto: number;
  /** Absent for protocols without ports (ICMP...). */
  readonly sport?: number;
  readonly dport?: number;
}

/** One conntrack entry of an event: what accounting needs. */
export interface CtEvent {
  /** `destroy` (IPCTNL_MSG_CT_DELETE) or `new` (IPCTNL_MSG_CT_NEW: creation or update). */
  readonly type: 'destroy' | 'new';
  readonly family: 'ipv4' | 'ipv6';
  /** CTA_ID: the entry's id (as `conntrack -o id` prints it); undefined when absent. */
  readonly id?: number;
  /** CTA_MARK; 0 when absent. */
  readonly mark: number;
  readonly orig: CtTuple;
  readonly reply: CtTuple;
  /** CTA_COUNTERS_ORIG / _REPLY; absent when accounting was off for this entry. */
  readonly counters?: { readonly origPackets: number; readonly origBytes: number; readonly replyPackets: number; readonly replyBytes: number };
}

export interface CtDecoded {
  readonly events: CtEvent[];
  /** Messages dropped because they do not parse (short, bad lengths, missing tuples). */
  readonly malformed: number;
}

interface Attr { readonly type: number; readonly off: number; readonly len: number }

/** The attributes in `b[off, end)`; undefined when a length runs past the end or is too short. */
function attrs(b: Uint8Array, dv: DataView, off: number, end: number): Attr[] | undefined {
  const out: Attr[] = [];
  while (off + 4 <= end) {
    const len = dv.getUint16(off, true);
    const type = dv.getUint16(off + 2, true) & NLA_TYPE_MASK;
    if (len < 4 || off + len > end) return undefined;
    out.push({ type, off: off + 4, len: len - 4 });
    off += (len + 3) & ~3;
  }
  return out;
}

const find = (as: readonly Attr[], type: number): Attr | undefined => as.find((a) => a.type === type);

function u64(dv: DataView, a: Attr | undefined): number | undefined {
  if (!a) return undefined;
  if (a.len === 8) return Number(dv.getBigUint64(a.off, false));
  if (a.len === 4) return dv.getUint32(a.off, false);
  return undefined;
}

function tuple(b: Uint8Array, dv: DataView, a: Attr | undefined): CtTuple | undefined {
  if (!a) return undefined;
  const t = attrs(b, dv, a.off, a.off + a.len);
  const ip = t && find(t, CTA_TUPLE_IP);
  const pr = t && find(t, CTA_TUPLE_PROTO);
  if (!ip || !pr) return undefined;
  const ips = attrs(b, dv, ip.off, ip.off + ip.len);
  const prs = attrs(b, dv, pr.off, pr.off + pr.len);
  if (!ips || !prs) return undefined;
  let src: string | undefined;
  let dst: string | undefined;
  for (const x of ips) {
    if ((x.type === CTA_IP_V4_SRC || x.type === CTA_IP_V4_DST) && x.len === 4) {
      if (x.type === CTA_IP_V4_SRC) src = formatIPv4(b, x.off);
      else dst = formatIPv4(b, x.off);
    } else if ((x.type === CTA_IP_V6_SRC || x.type === CTA_IP_V6_DST) && x.len === 16) {
      if (x.type === CTA_IP_V6_SRC) src = formatIPv6(b, x.off);
      else dst = formatIPv6(b, x.off);
    }
  }
  const num = find(prs, CTA_PROTO_NUM);
  if (src === undefined || dst === undefined || !num || num.len < 1) return undefined;
  const sp = find(prs, CTA_PROTO_SRC_PORT);
  const dp = find(prs, CTA_PROTO_DST_PORT);
  return {
    src, dst, proto: b[num.off]!,
    ...(sp && sp.len >= 2 ? { sport: dv.getUint16(sp.off, false) } : {}),
    ...(dp && dp.len >= 2 ? { dport: dv.getUint16(dp.off, false) } : {}),
  };
}

function counters(b: Uint8Array, dv: DataView, a: Attr | undefined): { packets: number; bytes: number } | undefined {
  if (!a) return undefined;
  const cs = attrs(b, dv, a.off, a.off + a.len);
  if (!cs) return undefined;
  const packets = u64(dv, find(cs, CTA_COUNTERS_PACKETS)) ?? u64(dv, find(cs, CTA_COUNTERS32_PACKETS));
  const bytes = u64(dv, find(cs, CTA_COUNTERS_BYTES)) ?? u64(dv, find(cs, CTA_COUNTERS32_BYTES));
  return packets !== undefined && bytes !== undefined ? { packets, bytes } : undefined;
}

/** One ctnetlink message (header at `off`, `len` bytes); undefined when it does not parse. */
function message(b: Uint8Array, dv: DataView, off: number, len: number, msg: number): CtEvent | undefined {
  if (len < NLMSG_HDRLEN + NFGENMSG_LEN) return undefined;
  const fam = b[off + NLMSG_HDRLEN]!;
  if (fam !== AF_INET && fam !== AF_INET6) return undefined;
  const as = attrs(b, dv, off + NLMSG_HDRLEN + NFGENMSG_LEN, off + len);
  if (!as) return undefined;
  const orig = tuple(b, dv, find(as, CTA_TUPLE_ORIG));
  const reply = tuple(b, dv, find(as, CTA_TUPLE_REPLY));
  if (!orig || !reply) return undefined;
  const mark = find(as, CTA_MARK);
  const id = find(as, CTA_ID);
  const co = counters(b, dv, find(as, CTA_COUNTERS_ORIG));
  const cr = counters(b, dv, find(as, CTA_COUNTERS_REPLY));
  return {
    type: msg === IPCTNL_MSG_CT_DELETE ? 'destroy' : 'new',
    family: fam === AF_INET ? 'ipv4' : 'ipv6',
    ...(id && id.len === 4 ? { id: dv.getUint32(id.off, false) } : {}),
    mark: mark && mark.len === 4 ? dv.getUint32(mark.off, false) : 0,
    orig, reply,
    ...(co && cr ? { counters: { origPackets: co.packets, origBytes: co.bytes, replyPackets: cr.packets, replyBytes: cr.bytes } } : {}),
  };
}

/**
 * Decode one datagram (it may batch several netlink messages). Messages of other subsystems or
 * types (expectations, NLMSG_DONE/ERROR) are skipped, not counted as malformed.
 */
export function decodeCtEvents(bytes: Uint8Array): CtDecoded {
  const b = bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const events: CtEvent[] = [];
  let malformed = 0;
  let off = 0;
  while (off + NLMSG_HDRLEN <= b.length) {
    const len = dv.getUint32(off, true);
    const type = dv.getUint16(off + 4, true);
    if (len < NLMSG_HDRLEN || off + len > b.length) {
      malformed++;
      break; // the rest cannot be framed
    }
    if (type !== NLMSG_DONE && type !== NLMSG_ERROR && type >> 8 === NFNL_SUBSYS_CTNETLINK) {
      const msg = type & 0xff;
      if (msg === IPCTNL_MSG_CT_DELETE || msg === IPCTNL_MSG_CT_NEW) {
        const ev = message(b, dv, off, len, msg);
        if (ev) events.push(ev);
        else malformed++;
      }
    }
    off += (len + 3) & ~3;
  }
  if (off < b.length && off + NLMSG_HDRLEN > b.length && b.length - off > 0 && malformed === 0) malformed++;
  return { events, malformed };
}
