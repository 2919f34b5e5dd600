/**
 * The kernel data plane of load sharing, as nftables text. Pure.
 *
 * Every node holds the shared address and receives every frame for it (the switch floods the
 * multicast MAC that ARP answers with). In prerouting, after conntrack:
 *   ct state established,related   -> accept: a flow stays where it started, wherever its
 *                                     bucket is now (conntrack-aware hand-back)
 *   ct state new, TCP without SYN  -> drop: a mid-flow packet of a flow another node holds
 *                                     (accepting it would make this node answer with a reset)
 *   hash(first packet) in @local   -> accept, `meta pkttype set host` (it came to a multicast MAC)
 *   anything else                  -> drop: another node's bucket
 * The hash has a fixed seed: every node must compute the same bucket for a flow.
 * ARP packets the node sends about the shared address carry the shared MAC (requests too:
 * a request sourced from the shared address would otherwise teach clients a node's own MAC).
 * In `unicast` and `stealth` mode the shared MAC is a unicast one no NIC has: a netdev ingress
 * chain marks frames to it `pkttype host` (IPv4 would drop them as `otherhost` before
 * prerouting); in `stealth` a netdev egress chain also drops (and counts) any frame leaving with
 * it as source, so no switch ever learns it.
 *
 * A gateway (`outside` set: load-shared routing) has two sides, each with its shared address
 * and MAC; its traffic is routed through the nodes, so a packet is recognised by the interface
 * and the shared MAC it arrived for, not by `ip daddr`, and hashed symmetrically (gatewayRules):
 * one bucket set, one election per bucket, both sides follow it.
 */
import { sidesOf, type SharedAddress } from './model.js';

export const SHARING_TABLE = 'carpool_sharing';
/** Same seed on every node ("carp"). */
export const SHARING_SEED = 0x63617270;
const FAMILIES = ['ip', 'ip6', 'arp', 'netdev'] as const;

const hashTail = (s: SharedAddress) => `mod ${s.buckets} seed 0x${SHARING_SEED.toString(16)}`;

function hashExpr(s: SharedAddress): string {
  const ip = s.family === 6 ? 'ip6' : 'ip';
  const key = s.hash === 'sourceip' ? `${ip} saddr` : s.hash === 'sourceip-sourceport' ? `${ip} saddr . th sport` : `${ip} saddr . th sport . th dport`;
  return `jhash ${key} ${hashTail(s)}`;
}

/**
 * A gateway's bucket rules for one side. Both directions of a flow must hash alike on every
 * node: the inside host's address (and port) first, the outside host's second — on the inside
 * the packet's source comes first, on the outside its destination. The same bytes in the same
 * order, the same seed and modulus: the same bucket. (nft's `symhash` would do this without the
 * order, but its seed is random per boot, so nodes would disagree.) With ports, only for TCP,
 * UDP and SCTP: other protocols' "ports" are not ports (an ICMP echo's type differs from its
 * reply's), they hash by the addresses.
 */
function gatewayRules(s: SharedAddress, side: 'inside' | 'outside'): string[] {
  const [a, b] = side === 'inside' ? ['saddr', 'daddr'] : ['daddr', 'saddr'];
  const take = `@${setName(s)} meta pkttype set host accept`;
  const byAddresses = `    jhash ip ${a} . ip ${b} ${hashTail(s)} ${take}`;
  if (s.hash !== 'symmetric-ports') return [byAddresses];
  const [p, q] = side === 'inside' ? ['sport', 'dport'] : ['dport', 'sport'];
  return [
    `    meta l4proto { tcp, udp, sctp } jhash ip ${a} . th ${p} . ip ${b} . th ${q} ${hashTail(s)} ${take}`,
    '    meta l4proto { tcp, udp, sctp } drop',
    byAddresses,
  ];
}

/** The prerouting chain of a side: the shared address's name, and `<name>.out` for a gateway's outside (`.` is not allowed in names). */
const chainOf = (s: SharedAddress, role: string) => (role === 'outside' ? `${s.name}.out` : s.name);

const setName = (s: SharedAddress) => `${s.name}_local`;
const tableOf = (s: SharedAddress) => (s.family === 6 ? 'ip6' : 'ip');

function elements(buckets: ReadonlySet<number>, leaseMs?: number): string {
  const tail = leaseMs === undefined ? '' : ` timeout ${leaseMs}ms expires ${leaseMs}ms`;
  return [...buckets].sort((a, b) => a - b).map((b) => `${b}${tail}`).join(', ');
}

/**
 * How long a local bucket stays in the kernel's set without the daemon renewing it (a dead
 * man's switch): a daemon that dies while its node's link stays up stops accepting its buckets'
 * new flows within 2 × advbase of its last renewal, before the survivors' bucket elections can
 * take them over (CARP's master down interval: 3 × advbase after the last advert heard, plus the
 * rank's skew and the 250 ms join delay), so no bucket is ever accepted by two nodes. The daemon
 * renews every advbase / 2 (`bucketRenewMs`): a live daemon lets a bucket lapse only when its event
 * loop stalls for 1.5 advert intervals, which costs new flows of that bucket one SYN retransmission
 * until the next renewal (established flows are accepted by conntrack, not by the set).
 */
export function bucketLeaseMs(s: Pick<SharedAddress, 'advbase'>): number {
  return Math.round(2 * s.advbase * 1000);
}

/** The renewal period of the local buckets, ms (a quarter of the lease). */
export function bucketRenewMs(s: Pick<SharedAddress, 'advbase'>): number {
  return Math.round(bucketLeaseMs(s) / 4);
}

const macHex = (mac: string): string => mac.split(':').join('');

/** The 16 bytes of an IPv6 address as 32 hex digits. */
function ipv6Hex(address: string): string {
  const [head = '', tail] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array<string>(8 - h.length - (tail === undefined ? 0 : t.length)).fill('0'), ...t].map((g) => g.padStart(4, '0')).join('');
}

/**
 * The 16-bit word that, written into an all-zero field, keeps an Internet checksum valid when
 * the 6 bytes `from` are replaced by `to` (one's complement arithmetic, RFC 1071/1624): nft's raw
 * payload writes do not update the ICMPv6 checksum, so the ND rewrite compensates in the
 * message's reserved bits, which receivers must ignore (RFC 4861 §4.3, §4.4).
 */
export function checksumCompensation(from: string, to: string): number {
  const words = (mac: string) => { const b = mac.split(':').map((x) => parseInt(x, 16)); return [0, 2, 4].map((i) => (b[i]! << 8) | b[i + 1]!); };
  let sum = 0;
  for (const w of [...words(to), ...words(from).map((w) => ~w & 0xffff)]) {
    sum += w;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

/**
 * IPv6 neighbour discovery with the shared MAC: the kernel answers Neighbor Solicitations for
 * the address with its own MAC in the target link-layer address option; this output chain
 * rewrites that option of its advertisements for the address (and the source link-layer option
 * of its solicitations sent from the address, as ARP requests in IPv4) to the shared MAC. The
 * option is right after the 24-byte header in both (the kernel's layout), so the rule matches the
 * option type and length and the node's own MAC before writing; the checksum is kept valid by
 * `checksumCompensation` in the reserved word at bytes 6-7.
 */
function ndRules(s: SharedAddress, own: string | undefined): string[] {
  const rewrite = own ? (() => {
    const w = `0x${checksumCompensation(own, s.mac).toString(16).padStart(4, '0')}`;
    const set = `@th,208,48 set 0x${macHex(s.mac)} @th,48,16 set ${w}`;
    return [
      `    icmpv6 type nd-neighbor-advert @th,64,128 0x${ipv6Hex(s.address)} @th,192,64 0x0201${macHex(own)} @th,48,16 0 ${set}`,
      `    ip6 saddr ${s.address} icmpv6 type nd-neighbor-solicit @th,192,64 0x0101${macHex(own)} @th,48,16 0 ${set}`,
    ];
  })() : [];
  // What the rewrite left alone still leaves (with the node's own MAC, or an option layout the
  // rule does not know): counted, shown in status (the client may learn one node's MAC).
  const count = `counter name "${ndCounterName(s)}"`;
  const na = `icmpv6 type nd-neighbor-advert @th,64,128 0x${ipv6Hex(s.address)}`;
  const ns = `ip6 saddr ${s.address} icmpv6 type nd-neighbor-solicit`;
  return [
    ...rewrite,
    `    ${na} @th,192,16 0x0201 @th,208,48 != 0x${macHex(s.mac)} ${count}`,
    `    ${na} ip6 length > 24 @th,192,16 != 0x0201 ${count}`,
    `    ${ns} @th,192,16 0x0101 @th,208,48 != 0x${macHex(s.mac)} ${count}`,
    `    ${ns} ip6 length > 24 @th,192,16 != 0x0101 ${count}`,
  ];
}

/** The named counter of a shared IPv6 address's ND packets that left without the shared MAC. */
export const ndCounterName = (s: SharedAddress): string => `${s.name}_nd_skipped`;

/** Packets per counter name from `nft -j list counters table ip6 carpool_sharing` (empty on anything else). */
export function parseCounters(json: string): Map<string, number> {
  const out = new Map<string, number>();
  try {
    const doc = JSON.parse(json) as { nftables?: { counter?: { name?: unknown; packets?: unknown } }[] };
    for (const item of doc.nftables ?? []) {
      const c = item.counter;
      if (c && typeof c.name === 'string' && typeof c.packets === 'number') out.set(c.name, c.packets);
    }
  } catch {
    // not JSON: no counters
  }
  return out;
}

/**
 * The whole plane (all tables), replacing a stale one atomically (`add table; delete table`
 * first). `local` gives the buckets this node serves now, per shared address; `ownMac` the MAC
 * of an interface (IPv6 ND rewrites need it; without it a node answers ND with its own MAC).
 */
export function renderSharing(shared: readonly SharedAddress[], local: ReadonlyMap<string, ReadonlySet<number>>, ownMac: (iface: string) => string | undefined = () => undefined): string {
  const out: string[] = [];
  for (const fam of FAMILIES) out.push(`add table ${fam} ${SHARING_TABLE}`, `delete table ${fam} ${SHARING_TABLE}`);
  if (shared.length === 0) return `${out.join('\n')}\n`;
  for (const fam of ['ip', 'ip6'] as const) {
    const list = shared.filter((s) => tableOf(s) === fam);
    if (!list.length) continue;
    out.push(`table ${fam} ${SHARING_TABLE} {`);
    for (const s of list) {
      const mine = local.get(s.name) ?? new Set<number>();
      out.push(`  set ${setName(s)} {`, `    typeof numgen inc mod ${s.buckets}`, '    flags timeout');
      if (mine.size) out.push(`    elements = { ${elements(mine, bucketLeaseMs(s))} }`);
      out.push('  }');
    }
    out.push('  chain prerouting {', '    type filter hook prerouting priority mangle; policy accept;');
    for (const s of list) {
      // A gateway's traffic is routed through it, not sent to it: it is recognised by the
      // shared MAC it was sent to on each side, not by its destination address.
      if (s.outside) for (const side of sidesOf(s)) out.push(`    iifname "${deviceName(side.interface)}" ether daddr ${side.mac} jump ${chainOf(s, side.role)}`);
      else out.push(`    ${fam} daddr ${s.address} jump ${s.name}`);
    }
    out.push('  }');
    for (const s of list) {
      for (const side of s.outside ? (['inside', 'outside'] as const) : ([undefined] as const)) {
        out.push(`  chain ${chainOf(s, side ?? 'address')} {`,
          // Neighbour discovery to the address is every node's business (conntrack does not
          // track it, so it would be hashed into one bucket): a node's NUD probes and the NAs
          // answering its solicitations come to the shared address.
          ...(fam === 'ip6' ? ['    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } meta pkttype set host accept'] : []),
          '    ct state established,related meta pkttype set host accept',
          '    ct state new meta l4proto tcp tcp flags & (syn | ack) != syn drop',
          ...(side ? gatewayRules(s, side) : [`    ${hashExpr(s)} @${setName(s)} meta pkttype set host accept`]),
          '    drop',
          '  }');
      }
    }
    if (fam === 'ip6') {
      for (const s of list) out.push(`  counter ${ndCounterName(s)} {`, '  }');
      const nd = list.flatMap((s) => ndRules(s, ownMac(deviceName(s.interface))));
      out.push('  chain nd_out {', '    type filter hook output priority filter; policy accept;', ...nd, '  }');
    }
    out.push('}');
  }
  const v4 = shared.filter((s) => s.family === 4);
  if (v4.length) {
    out.push(`table arp ${SHARING_TABLE} {`, '  chain output {', '    type filter hook output priority filter; policy accept;');
    for (const side of v4.flatMap(sidesOf)) out.push(`    arp saddr ip ${side.address} arp saddr ether set ${side.mac}`);
    out.push('  }', '}');
  }
  const unicast = shared.filter((s) => s.mode !== 'multicast');
  if (unicast.length) {
    out.push(`table netdev ${SHARING_TABLE} {`);
    for (const s of unicast) {
      for (const side of sidesOf(s)) {
        const dev = deviceName(side.interface);
        const name = side.role === 'outside' ? `${s.name}.o` : s.name; // `.`: no clash with another name
        out.push(`  chain ${name}_in {`, `    type filter hook ingress device "${dev}" priority -500; policy accept;`,
          `    ether daddr ${side.mac} meta pkttype set host`, '  }');
        if (s.mode === 'stealth') {
          out.push(`  chain ${name}_out {`, `    type filter hook egress device "${dev}" priority filter; policy accept;`,
            `    ether saddr ${side.mac} counter drop`, '  }');
        }
      }
    }
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}

/** The device of an interface name with an alias label (`eth0:1` → `eth0`). */
const deviceName = (iface: string): string => iface.split(':')[0]!;

/**
 * One transaction moving a shared address's local buckets from `from` to `to` (empty when equal).
 * Added buckets carry the lease (`bucketLeaseMs`); a removed bucket is added first, then deleted,
 * so the transaction holds even when the kernel had let that bucket lapse already.
 */
export function diffBuckets(s: SharedAddress, from: ReadonlySet<number>, to: ReadonlySet<number>): string {
  const gone = new Set([...from].filter((b) => !to.has(b)));
  const added = new Set([...to].filter((b) => !from.has(b)));
  const set = `${tableOf(s)} ${SHARING_TABLE} ${setName(s)}`;
  const out: string[] = [];
  // Removals first: in one transaction the order does not matter to packets, but it reads as
  // "stop, then start".
  if (gone.size) out.push(`add element ${set} { ${elements(gone, bucketLeaseMs(s))} }`, `delete element ${set} { ${elements(gone)} }`);
  if (added.size) out.push(`add element ${set} { ${elements(added, bucketLeaseMs(s))} }`);
  return out.length ? `${out.join('\n')}\n` : '';
}

/**
 * The periodic renewal of the local buckets' lease (empty when none is local): `add` of an
 * existing element with `expires` sets its expiry anew (and adds one that lapsed meanwhile).
 */
export function renewBuckets(s: SharedAddress, local: ReadonlySet<number>): string {
  return local.size ? `add element ${tableOf(s)} ${SHARING_TABLE} ${setName(s)} { ${elements(local, bucketLeaseMs(s))} }\n` : '';
}

/** Removes carpool's sharing tables (a clean stop); harmless when they do not exist. */
export function removeSharing(): string {
  return FAMILIES.flatMap((fam) => [`add table ${fam} ${SHARING_TABLE}`, `delete table ${fam} ${SHARING_TABLE}`]).join('\n') + '\n';
}
