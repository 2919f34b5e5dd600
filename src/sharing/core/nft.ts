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
 */
import type { SharedAddress, SharingHash } from './model.js';

export const SHARING_TABLE = 'carpool_sharing';
/** Same seed on every node ("carp"). */
export const SHARING_SEED = 0x63617270;
const FAMILIES = ['ip', 'arp', 'netdev'] as const;

function hashExpr(hash: SharingHash, buckets: number): string {
  const key = hash === 'sourceip' ? 'ip saddr' : hash === 'sourceip-sourceport' ? 'ip saddr . th sport' : 'ip saddr . th sport . th dport';
  return `jhash ${key} mod ${buckets} seed 0x${SHARING_SEED.toString(16)}`;
}

const setName = (s: SharedAddress) => `${s.name}_local`;

function elements(buckets: ReadonlySet<number>): string {
  return [...buckets].sort((a, b) => a - b).join(', ');
}

/**
 * The whole plane (both tables), replacing a stale one atomically (`add table; delete table`
 * first). `local` gives the buckets this node serves now, per shared address.
 */
export function renderSharing(shared: readonly SharedAddress[], local: ReadonlyMap<string, ReadonlySet<number>>): string {
  const out: string[] = [];
  for (const fam of FAMILIES) out.push(`add table ${fam} ${SHARING_TABLE}`, `delete table ${fam} ${SHARING_TABLE}`);
  if (shared.length === 0) return `${out.join('\n')}\n`;
  out.push(`table ip ${SHARING_TABLE} {`);
  for (const s of shared) {
    const mine = local.get(s.name) ?? new Set<number>();
    out.push(`  set ${setName(s)} {`, `    typeof numgen inc mod ${s.buckets}`);
    if (mine.size) out.push(`    elements = { ${elements(mine)} }`);
    out.push('  }');
  }
  out.push('  chain prerouting {', '    type filter hook prerouting priority mangle; policy accept;');
  for (const s of shared) out.push(`    ip daddr ${s.address} jump ${s.name}`);
  out.push('  }');
  for (const s of shared) {
    out.push(`  chain ${s.name} {`,
      '    ct state established,related meta pkttype set host accept',
      '    ct state new meta l4proto tcp tcp flags & (syn | ack) != syn drop',
      `    ${hashExpr(s.hash, s.buckets)} @${setName(s)} meta pkttype set host accept`,
      '    drop',
      '  }');
  }
  out.push('}', `table arp ${SHARING_TABLE} {`, '  chain output {', '    type filter hook output priority filter; policy accept;');
  for (const s of shared) out.push(`    arp saddr ip ${s.address} arp saddr ether set ${s.mac}`);
  out.push('  }', '}');
  const unicast = shared.filter((s) => s.mode !== 'multicast');
  if (unicast.length) {
    out.push(`table netdev ${SHARING_TABLE} {`);
    for (const s of unicast) {
      const dev = deviceName(s.interface);
      out.push(`  chain ${s.name}_in {`, `    type filter hook ingress device "${dev}" priority -500; policy accept;`,
        `    ether daddr ${s.mac} meta pkttype set host`, '  }');
      if (s.mode === 'stealth') {
        out.push(`  chain ${s.name}_out {`, `    type filter hook egress device "${dev}" priority filter; policy accept;`,
          `    ether saddr ${s.mac} counter drop`, '  }');
      }
    }
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}

/** The device of an interface name with an alias label (`eth0:1` → `eth0`). */
const deviceName = (iface: string): string => iface.split(':')[0]!;

/** One transaction moving a shared address's local buckets from `from` to `to` (empty when equal). */
export function diffBuckets(s: SharedAddress, from: ReadonlySet<number>, to: ReadonlySet<number>): string {
  const gone = new Set([...from].filter((b) => !to.has(b)));
  const added = new Set([...to].filter((b) => !from.has(b)));
  const out: string[] = [];
  // Removals first: in one transaction the order does not matter to packets, but it reads as
  // "stop, then start".
  if (gone.size) out.push(`delete element ip ${SHARING_TABLE} ${setName(s)} { ${elements(gone)} }`);
  if (added.size) out.push(`add element ip ${SHARING_TABLE} ${setName(s)} { ${elements(added)} }`);
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Removes carpool's sharing tables (a clean stop); harmless when they do not exist. */
export function removeSharing(): string {
  return FAMILIES.flatMap((fam) => [`add table ${fam} ${SHARING_TABLE}`, `delete table ${fam} ${SHARING_TABLE}`]).join('\n') + '\n';
}
