/**
 * A shared address (load sharing, issue 15) as the core sees it: validated, times in ms. The
 * config front end (src/config/yaml/sharing.ts) builds it.
 */

/**
 * What a connection's bucket is computed from, on its first packet: CLUSTERIP's hashmodes for a
 * shared address traffic is sent *to*; `symmetric` (the inside and outside hosts' addresses, in a
 * fixed order) and `symmetric-ports` (with their ports) for a gateway, which traffic is routed
 * *through*: both directions of a flow must fall into the same bucket (docs/sharing.md).
 */
export type SharingHash = 'sourceip' | 'sourceip-sourceport' | 'sourceip-sourceport-destport' | 'symmetric' | 'symmetric-ports';

/** Hashes for a gateway (both directions of a flow in one bucket) and for an address served by the nodes. */
export const GATEWAY_HASHES: readonly SharingHash[] = ['symmetric', 'symmetric-ports'];
export const ADDRESS_HASHES: readonly SharingHash[] = ['sourceip', 'sourceip-sourceport', 'sourceip-sourceport-destport'];

/** One side of a gateway: the shared address the hosts of that LAN route through. */
export interface GatewaySide {
  readonly address: string;
  readonly prefix: number;
  readonly interface: string;
  /** The shared MAC ARP answers for `address` carry (as `SharedAddress.mac`). */
  readonly mac: string;
}

/**
 * How the switch gets every frame for the shared address to every node (docs/sharing.md, as
 * carp's `balancing` modes): `multicast` answers ARP with a multicast MAC; `unicast` with a
 * unicast MAC no node ever sends from, so switches never learn it and flood it; `stealth` is
 * `unicast` with the kernel enforcing that no frame leaves with that MAC as its source.
 */
export type SharingMode = 'multicast' | 'unicast' | 'stealth';

export interface SharedAddress {
  /** Unique name; also the prefix of the bucket instances (`web/b12`). */
  readonly name: string;
  /** The address every node holds (IPv4 or IPv6; the bucket elections run over the nodes' IPv4 addresses). */
  readonly address: string;
  readonly family: 4 | 6;
  readonly prefix: number;
  readonly interface: string;
  /** Ordered node list, identical on every node: `name` and the node's own address on `interface`. */
  readonly nodes: readonly { readonly name: string; readonly address: string }[];
  readonly buckets: number;
  readonly hash: SharingHash;
  readonly mode: SharingMode;
  /** The shared link-layer address ARP answers with (`sharedMac`: multicast 01:00:5e + the low 23 bits of the address, or unicast 02:63 + the address). */
  readonly mac: string;
  /** vhid of bucket 0; bucket b uses `vhidBase + b`. */
  readonly vhidBase: number;
  readonly password: string;
  readonly advbase: number;
  /**
   * Load-shared routing (a firewall/gateway cluster): `address`/`interface` are the inside
   * side's gateway (the bucket elections run there), this the outside's. Traffic is matched by
   * the shared MAC it arrives for, not by its destination address, and hashed symmetrically.
   */
  readonly outside?: GatewaySide;
}

/** The sides of a shared address: one, or inside and outside for a gateway. */
export function sidesOf(s: SharedAddress): ({ role: 'address' | 'inside' | 'outside' } & GatewaySide)[] {
  const first = { address: s.address, prefix: s.prefix, interface: s.interface, mac: s.mac };
  return s.outside ? [{ role: 'inside', ...first }, { role: 'outside', ...s.outside }] : [{ role: 'address', ...first }];
}

const hex = (n: number) => n.toString(16).padStart(2, '0');

/** The low 32 bits of an address (IPv4: all of it; IPv6: its last two groups) as 4 octets. */
function low32(address: string): number[] {
  if (!address.includes(':')) return address.split('.').map(Number);
  const groups = address.split('::');
  const head = groups[0] ? groups[0].split(':') : [];
  const tail = groups.length > 1 && groups[1] ? groups[1].split(':') : [];
  const all = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail].map((g) => parseInt(g || '0', 16));
  return [all[6]! >> 8, all[6]! & 0xff, all[7]! >> 8, all[7]! & 0xff];
}

/**
 * The multicast MAC of an address: for IPv4 RFC 1112's 01:00:5e and its low 23 bits; for IPv6
 * RFC 2464's 33:33 and its low 32 bits (the MAC an IPv6 multicast address with those bits maps to).
 */
export function multicastMac(address: string): string {
  const o = low32(address);
  if (address.includes(':')) return `33:33:${o.map(hex).join(':')}`;
  return `01:00:5e:${hex(o[1]! & 0x7f)}:${hex(o[2]!)}:${hex(o[3]!)}`;
}

/**
 * The unicast MAC of `unicast`/`stealth` mode: locally administered, `02:63` ("c") and the
 * four octets of the address (IPv6: its low 32 bits). No node's NIC has it and no node sends from it, so switches
 * never learn it and flood every frame for it to every port.
 */
export function unicastMac(address: string): string {
  return `02:63:${low32(address).map(hex).join(':')}`;
}

/** The shared MAC of a mode. */
export const sharedMac = (mode: SharingMode, address: string): string => (mode === 'multicast' ? multicastMac(address) : unicastMac(address));

/** One line for `carpool check`: what a shared address is, as read (`web: 10.9.0.50/24 on eth0, 64 buckets over 3 nodes, hash sourceip, multicast`). */
export function describeShared(s: SharedAddress): string {
  const where = s.outside
    ? `gateway ${s.address}/${s.prefix} on ${s.interface} / ${s.outside.address}/${s.outside.prefix} on ${s.outside.interface}`
    : `${s.address}/${s.prefix} on ${s.interface}`;
  return `${s.name}: ${where}, ${s.buckets} buckets over ${s.nodes.length} node${s.nodes.length === 1 ? '' : 's'}, hash ${s.hash}, ${s.mode}`;
}

/** A node of the list whose bucket adverts fail this node's digest: its node list or bucket count differs. */
export interface LayoutMismatch {
  readonly node: string;
  readonly address: string;
  /** Its adverts dropped as bad digests since the daemon started. */
  readonly drops: number;
  /** Seconds since the last one. */
  readonly agoSeconds: number;
}

/** The `sharing` section of the status document, one per shared address. */
export interface SharingStatus {
  readonly name: string;
  readonly address: string;
  readonly node: string;
  readonly buckets: number;
  /** The gateway's outside address and interface (`10.1.1.254/24 on eth1`) when `address` is the inside of a gateway. */
  readonly outside?: string;
  readonly hash?: SharingHash;
  /** Buckets this node accepts now (in the kernel set). */
  readonly local: readonly number[];
  /** Per bucket, the node serving it as this node sees it (`?` = unknown). */
  readonly servedBy: readonly string[];
  readonly applies: number;
  readonly failures: number;
  readonly lastError?: string;
  /** False while this node withdrew from every bucket because of a layout mismatch (src/sharing/core/agreement.ts). */
  readonly serving: boolean;
  /** Nodes heard lately whose node list or bucket count differs from this node's. */
  readonly mismatches: readonly LayoutMismatch[];
  /** IPv6: neighbour discovery packets for the address that left with the node's own MAC (not rewritten). */
  readonly ndSkipped?: number;
}
