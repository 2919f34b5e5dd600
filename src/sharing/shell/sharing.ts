/**
 * The shell of load sharing (issue 15, docs/sharing.md): every node holds the shared address
 * and receives its multicast MAC; one CARP election per bucket (ordinary CARP instances the
 * daemon runs, built here) decides which node serves the bucket; this shell keeps the nft set
 * of local buckets equal to the buckets whose election this node wins, one `nft -f`
 * transaction at a time.
 *
 * Hand-over without overlap: a bucket leaves the set as soon as its election is lost; a won
 * bucket enters it only `JOIN_DELAY_MS` later and only if still won. During a hand-back the new
 * owner's advert reaches the old owner, which yields at once; two nodes accepting one bucket
 * would answer one SYN twice and break the connection with a reset, while the short gap costs
 * at most a SYN retransmission. Established flows stay where they are (conntrack).
 *
 * Nodes whose node list or bucket count differ drop each other's bucket adverts as bad
 * digests (the key covers the layout): such drops from a node of the list are logged once per
 * peer (rate-limited), shown in status, and may make this node withdraw from every bucket
 * (core/agreement.ts says when and why).
 */
import { createHash } from 'node:crypto';
import type { CarpInstance } from '../../config/model.js';
import type { Logger } from '../../daemon/logger.js';
import { run } from '../../lib/exec.js';
import { CarpoolError } from '../../lib/errors.js';
import { keepServing } from '../core/agreement.js';
import { bucketRanking, layoutFingerprint, RANK_SKEW } from '../core/layout.js';
import { sidesOf, type SharedAddress, type SharingStatus } from '../core/model.js';
import { bucketLeaseMs, bucketRenewMs, diffBuckets, ndCounterName, parseCounters, removeSharing, renderSharing, renewBuckets, SHARING_TABLE } from '../core/nft.js';

/** A won bucket is accepted this long after the election is won (see the module comment). */
export const JOIN_DELAY_MS = 250;
const NFT_TIMEOUT_MS = 10_000;
/** A peer's layout mismatch is forgotten after this many advert intervals without a bad digest from it. */
const MISMATCH_INTERVALS = 3;

/**
 * The command making the NIC receive the shared MAC: a multicast group (`ip maddr`), or in
 * `unicast`/`stealth` mode a secondary unicast address in the NIC's filter (`bridge fdb ...
 * self`; a NIC without a unicast filter goes promiscuous).
 */
function receiveMac(s: SharedAddress, side: { interface: string; mac: string }, op: 'add' | 'del'): string[] {
  const dev = side.interface.split(':')[0]!;
  return s.mode === 'multicast' ? ['ip', 'maddr', op, side.mac, 'dev', dev] : ['bridge', 'fdb', op, side.mac, 'dev', dev, 'self', ...(op === 'add' ? ['permanent'] : [])];
}

/** An address the shell keeps on an interface: the shared address, or each side of a gateway. */
export type HeldAddress = Pick<SharedAddress, 'family' | 'address' | 'prefix' | 'interface'>;
const held = (s: SharedAddress): HeldAddress[] => sidesOf(s).map((x) => ({ family: s.family, address: x.address, prefix: x.prefix, interface: x.interface }));

/** Name of bucket `b`'s election instance. */
export const bucketInstanceName = (s: SharedAddress, b: number): string => `${s.name}/b${b}`;

/** Which of the nodes this host is: the one whose address is on the interface. */
export function selfNode(s: SharedAddress, localAddresses: readonly string[]): { name: string; address: string; index: number } {
  const index = s.nodes.findIndex((n) => localAddresses.includes(n.address));
  if (index < 0) {
    throw new CarpoolError('SHARING_NOT_A_NODE', `sharing '${s.name}': this host is none of its nodes (none of ${s.nodes.map((n) => n.address).join(', ')} is configured on ${s.interface})`,
      "add this host to the node list (the same list on every node), or configure the node's address on the interface");
  }
  return { ...s.nodes[index]!, index };
}

/**
 * The bucket elections of a shared address on this node: CARP instances without addresses,
 * advskew by this node's rank in each bucket's layout, preempting (a returning node takes
 * back its buckets). The key covers the layout's fingerprint, so nodes with a different node
 * list or bucket count never accept each other's adverts (counted as bad digests).
 */
export function bucketInstances(s: SharedAddress, self: { index: number; address: string }): CarpInstance[] {
  const ranking = bucketRanking(s.nodes.length, s.buckets);
  const key = createHash('sha256').update(`${s.password}\0${layoutFingerprint(s.nodes.map((n) => n.name), s.buckets)}`).digest('base64').slice(0, 19);
  return ranking.map((order, b) => ({
    kind: 'carp', name: bucketInstanceName(s, b), interface: s.interface, srcip: self.address,
    vhid: s.vhidBase + b, password: key, advbase: s.advbase, advskew: order.indexOf(self.index) * RANK_SKEW,
    deadratio: 3, preempt: true, neutral: true, addresses: [], mcast: '224.0.0.18', nomcast: false,
    manageAddresses: false, shutdownHooks: true, ignoreIfState: false,
  }));
}

/** Every bucket election of `shared` as the first node would run them (`carpool check`: their vhids and interfaces). */
export function bucketInstancesOf(shared: readonly SharedAddress[]): CarpInstance[] {
  return shared.flatMap((s) => bucketInstances(s, { index: 0, address: s.nodes[0]?.address ?? '' }));
}

export interface SharingDeps {
  readonly log: Logger;
  /** Add the shared address (each side's, for a gateway) to its interface (kept while running). */
  readonly addAddress: (a: HeldAddress) => void;
  readonly removeAddress: (a: HeldAddress) => void;
  /** Who is master of an election now: 'self', a peer address, or undefined. */
  readonly masterOf: (instance: string) => string | null | undefined;
  readonly nft?: (input: string) => Promise<{ code: number; stderr: string }>;
  /** The MAC of an interface (IPv6 shared addresses rewrite the node's ND answers from it to the shared MAC). */
  readonly macOf?: (iface: string) => string | undefined;
  /** Monotonic clock in ms (performance.now in the daemon). */
  readonly now?: () => number;
  /** `nft -j list counters table ip6 carpool_sharing` (IPv6 shared addresses: ND packets not rewritten). */
  readonly listCounters?: () => Promise<string>;
}

/** How often the ND counters of IPv6 shared addresses are read for status. */
const COUNTER_POLL_MS = 2000;

export class SharingShell {
  private readonly inForce = new Map<string, Set<number>>();
  private readonly wanted = new Map<string, Set<number>>();
  /** Won buckets waiting out JOIN_DELAY_MS, by `name/bucket`. */
  private readonly joining = new Map<string, NodeJS.Timeout>();
  private readonly self = new Map<string, { name: string; address: string; index: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private chain: Promise<void> = Promise.resolve();
  /** Per shared address: nft bucket updates applied and refused, the last refusal. */
  private readonly plane = new Map<string, { applies: number; failures: number; lastError?: string }>();
  private readonly nft: (input: string) => Promise<{ code: number; stderr: string }>;
  private readonly now: () => number;
  /** Per shared address: peers (by address) whose bucket adverts failed the digest: count and last time. */
  private readonly differing = new Map<string, Map<string, { drops: number; last: number }>>();
  /** Shared addresses this node withdrew from because of a layout mismatch. */
  private readonly withdrawn = new Set<string>();
  private reassessTimer: NodeJS.Timeout | undefined;
  /** Per IPv6 shared address: ND packets that left without the shared MAC (nft counter), last read. */
  private readonly ndSkipped = new Map<string, number>();
  private counterTimer: NodeJS.Timeout | undefined;
  /** Renews the local buckets' lease in the kernel (`bucketLeaseMs`), one timer per shared address. */
  private readonly renewTimers: NodeJS.Timeout[] = [];

  constructor(private readonly shared: readonly SharedAddress[], private readonly deps: SharingDeps) {
    this.nft = deps.nft ?? ((input) => run(['nft', '-f', '-'], { allowFail: true, timeoutMs: NFT_TIMEOUT_MS, input }));
    this.now = deps.now ?? (() => performance.now());
    for (const s of shared) {
      this.inForce.set(s.name, new Set());
      this.wanted.set(s.name, new Set());
      this.differing.set(s.name, new Map());
      this.plane.set(s.name, { applies: 0, failures: 0 });
    }
  }

  /** Resolve this node in each shared address (throws SHARING_NOT_A_NODE) and build the bucket elections. */
  instances(localAddresses: (iface: string) => readonly string[]): CarpInstance[] {
    return this.shared.flatMap((s) => {
      const me = selfNode(s, localAddresses(s.interface));
      this.self.set(s.name, me);
      return bucketInstances(s, me);
    });
  }

  /** Before the elections start: the address, the multicast MAC, the plane with no local bucket. */
  async start(): Promise<void> {
    const r = await this.nft(renderSharing(this.shared, new Map(), (dev) => this.deps.macOf?.(dev)));
    if (r.code !== 0) {
      throw new CarpoolError('NFT_UNSUPPORTED', `load sharing: nft refused the ruleset: ${r.stderr.trim()}`,
        `nftables with the ip and arp families${this.shared.some((x) => x.mode === 'stealth') ? ' and the netdev egress hook (stealth mode: kernel 5.16, nft 1.0.1 or newer)' : ''} (nft 0.9.3 or newer, kernel 5.x); see docs/sharing.md`);
    }
    for (const s of this.shared) {
      if (s.family === 6 && !this.deps.macOf?.(s.interface.split(':')[0]!)) {
        this.deps.log.warning(`sharing ${s.name}: no MAC known for ${s.interface}: neighbour advertisements for ${s.address} carry the node's own MAC`);
      }
      for (const side of sidesOf(s)) {
        const m = await run(receiveMac(s, side, 'add'), { allowFail: true });
        if (m.code !== 0 && !/exists/i.test(m.stderr)) this.deps.log.warning(`sharing ${s.name}: cannot receive ${side.mac} on ${side.interface}: ${m.stderr.trim()}`);
      }
      for (const a of held(s)) this.deps.addAddress(a);
      const where = s.outside
        ? `gateway ${s.address}/${s.prefix} on ${s.interface} (inside, ARP with ${s.mac}) and ${s.outside.address}/${s.outside.prefix} on ${s.outside.interface} (outside, ARP with ${s.outside.mac}), hash ${s.hash}`
        : `${s.address}/${s.prefix} on ${s.interface}`;
      this.deps.log.info(`sharing ${s.name}: ${where} as node ${this.self.get(s.name)?.name ?? '?'} of ${s.nodes.length}, ${s.buckets} buckets, ${s.mode} mode${s.outside ? '' : `, ${s.family === 6 ? 'ND' : 'ARP'} with ${s.mac}`}`);
    }
    for (const s of this.shared) this.renewTimers.push(setInterval(() => this.renew(s), bucketRenewMs(s)).unref());
    if (this.shared.some((s) => s.family === 6)) {
      this.counterTimer = setInterval(() => { void this.readNdCounters(); }, COUNTER_POLL_MS).unref();
      await this.readNdCounters();
    }
  }

  /** Read the ND counters of IPv6 shared addresses; a first non-zero value is logged. */
  async readNdCounters(): Promise<void> {
    const text = await (this.deps.listCounters?.() ?? run(['nft', '-j', 'list', 'counters', 'table', 'ip6', SHARING_TABLE], { allowFail: true, timeoutMs: NFT_TIMEOUT_MS }).then((r) => r.stdout)).catch(() => '');
    const counts = parseCounters(text);
    for (const s of this.shared.filter((x) => x.family === 6)) {
      const n = counts.get(ndCounterName(s));
      if (n === undefined) continue;
      if (n > (this.ndSkipped.get(s.name) ?? 0)) {
        this.deps.log.logLimited('warning', `sharing ${s.name}: ${n} neighbour discovery packet(s) for ${s.address} left with this node's own MAC (not rewritten to ${s.mac}): a client may send all its traffic to this node; see docs/sharing.md "IPv6"`, `sharing:${s.name}:nd`);
      }
      this.ndSkipped.set(s.name, n);
    }
  }

  /** The shared address and bucket of a bucket election's name, if it is one. */
  private bucketOf(instance: string): { s: SharedAddress; b: number } | undefined {
    const m = /^(.+)\/b(\d+)$/.exec(instance);
    const s = m ? this.shared.find((x) => x.name === m[1]) : undefined;
    return s ? { s, b: Number(m![2]) } : undefined;
  }

  /**
   * An election dropped a received packet (called for every CARP instance). A bad digest from
   * a node of the list means its node list or bucket count differs from this node's.
   */
  dropped(instance: string, reason: string, src: string): void {
    if (reason !== 'digest') return;
    const s = this.bucketOf(instance)?.s;
    const peer = s?.nodes.find((n) => n.address === src);
    if (!s || !peer || peer.address === this.self.get(s.name)?.address) return;
    const seen = this.differing.get(s.name)!;
    const known = seen.get(src);
    if (known) {
      known.drops++;
      known.last = this.now();
    } else {
      seen.set(src, { drops: 1, last: this.now() });
    }
    this.deps.log.logLimited('error', `sharing ${s.name}: node list or bucket count differs from ${peer.name}'s (${src}): its bucket adverts fail the layout-keyed digest; use the same ordered node list and bucket count on every node`, `sharing:${s.name}:differs:${src}`);
    if (!known) this.reassess(s);
    this.reassessTimer ??= setInterval(() => { for (const x of this.shared) this.reassess(x); }, 1000).unref();
  }

  /** Forget mismatches not heard lately; withdraw from or return to the buckets (core/agreement.ts). */
  private reassess(s: SharedAddress): void {
    const me = this.self.get(s.name);
    if (!me) return;
    const seen = this.differing.get(s.name)!;
    for (const [addr, d] of seen) if (this.now() - d.last > MISMATCH_INTERVALS * s.advbase * 1000 + 500) seen.delete(addr);
    const addresses = new Set(s.nodes.map((n) => n.address));
    const agreeing = new Set<string>();
    for (let b = 0; b < s.buckets; b++) {
      const m = this.deps.masterOf(bucketInstanceName(s, b));
      if (m && m !== 'self' && addresses.has(m)) agreeing.add(m);
    }
    const serve = keepServing(me.address, [...agreeing], [...seen.keys()]);
    if (serve === !this.withdrawn.has(s.name)) return;
    if (serve) {
      this.withdrawn.delete(s.name);
      this.deps.log.warning(`sharing ${s.name}: serving again (${seen.size ? `nodes agreeing with this one outnumber those with another layout: ${[...seen.keys()].join(', ')}` : 'no node with another node list or bucket count heard lately'})`);
    } else {
      this.withdrawn.add(s.name);
      this.deps.log.error(`sharing ${s.name}: not serving any bucket: ${seen.size} node(s) with another node list or bucket count (${[...seen.keys()].join(', ')}) against ${agreeing.size + 1} agreeing with this one; the larger group (on a tie, the one with the lowest address) serves, so no connection is accepted twice`);
    }
    this.sync(s);
  }

  /** An election changed state (called for every instance; others are ignored). */
  transitioned(instance: string, to: string): void {
    const hit = this.bucketOf(instance);
    if (!hit) return;
    const { s, b } = hit;
    const want = this.wanted.get(s.name)!;
    const key = `${s.name}/${b}`;
    const pending = this.joining.get(key);
    if (to === 'MASTER') {
      if (pending || want.has(b)) return;
      // Per bucket: a sync for another bucket meanwhile must not take this one in early.
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.joining.delete(key);
        want.add(b);
        this.sync(s);
      }, JOIN_DELAY_MS);
      this.timers.add(t);
      this.joining.set(key, t);
    } else {
      if (pending) {
        clearTimeout(pending);
        this.timers.delete(pending);
        this.joining.delete(key);
      }
      if (want.delete(b)) this.sync(s);
    }
  }

  status(): SharingStatus[] {
    return this.shared.map((s) => {
      const me = this.self.get(s.name);
      const byAddr = new Map(s.nodes.map((n) => [n.address, n.name]));
      const servedBy = Array.from({ length: s.buckets }, (_, b) => {
        const master = this.deps.masterOf(bucketInstanceName(s, b));
        return master === 'self' ? (me?.name ?? 'self') : master ? (byAddr.get(master) ?? master) : '?';
      });
      return {
        name: s.name, address: `${s.address}/${s.prefix}`, node: me?.name ?? '?', buckets: s.buckets, hash: s.hash,
        ...(s.outside ? { outside: `${s.outside.address}/${s.outside.prefix} on ${s.outside.interface}` } : {}),
        local: [...this.inForce.get(s.name)!].sort((a, b) => a - b), servedBy,
        ...this.plane.get(s.name)!,
        serving: !this.withdrawn.has(s.name),
        ...(s.family === 6 ? { ndSkipped: this.ndSkipped.get(s.name) ?? 0 } : {}),
        mismatches: [...this.differing.get(s.name)!].map(([address, d]) => ({
          node: s.nodes.find((n) => n.address === address)?.name ?? address, address, drops: d.drops,
          agoSeconds: Math.round((this.now() - d.last) / 100) / 10,
        })),
      };
    });
  }

  /** Clean stop: no bucket, no table, no address (the elections have bowed out before). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.reassessTimer);
    this.reassessTimer = undefined;
    clearInterval(this.counterTimer);
    this.counterTimer = undefined;
    for (const t of this.renewTimers.splice(0)) clearInterval(t);
    await this.chain;
    await this.nft(removeSharing());
    for (const s of this.shared) {
      for (const side of sidesOf(s)) await run(receiveMac(s, side, 'del'), { allowFail: true });
      for (const a of held(s)) this.deps.removeAddress(a);
    }
  }

  /**
   * The dead man's switch: the buckets in force get their lease again (queued behind any bucket
   * change). A failure is counted and logged; the next renewal tries again, and a bucket that
   * lapsed meanwhile comes back with it.
   */
  private renew(s: SharedAddress): void {
    this.chain = this.chain.then(async () => {
      const text = renewBuckets(s, this.inForce.get(s.name)!);
      if (!text) return;
      const r = await this.nft(text);
      if (r.code === 0) return;
      const plane = this.plane.get(s.name)!;
      plane.failures++;
      plane.lastError = r.stderr.trim();
      this.deps.log.logLimited('error', `sharing ${s.name}: nft refused to renew the local buckets (${plane.lastError}); they lapse ${bucketLeaseMs(s)} ms after the last renewal unless the next one works`, `sharing:${s.name}:renew`);
    });
  }

  /** Bring the kernel set to the wanted buckets, one transaction at a time, latest wish wins. */
  private sync(s: SharedAddress): void {
    this.chain = this.chain.then(async () => {
      const from = this.inForce.get(s.name)!;
      const to = this.withdrawn.has(s.name) ? new Set<number>() : new Set(this.wanted.get(s.name));
      const text = diffBuckets(s, from, to);
      if (!text) return;
      const r = await this.nft(text);
      const plane = this.plane.get(s.name)!;
      if (r.code === 0) {
        plane.applies++;
        this.inForce.set(s.name, to);
        const added = [...to].filter((b) => !from.has(b));
        const gone = [...from].filter((b) => !to.has(b));
        this.deps.log.info(`sharing ${s.name}: serving ${to.size}/${s.buckets} buckets${added.length ? `, +${added.join(',')}` : ''}${gone.length ? `, -${gone.join(',')}` : ''}`);
      } else {
        plane.failures++;
        plane.lastError = r.stderr.trim();
        this.deps.log.logLimited('error', `sharing ${s.name}: nft refused the bucket update (${plane.lastError}); the previous set stays, retrying`, `sharing:${s.name}:nft`);
        const t = setTimeout(() => { this.timers.delete(t); this.sync(s); }, 1000);
        this.timers.add(t);
      }
    });
  }
}
