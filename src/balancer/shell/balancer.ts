/**
 * The balancer shell: carries the core's decisions out. Per virtual service it feeds the
 * health `step` (start with a random jitter, ticks at `nextDeadline`, probe results,
 * shutdown), runs the probes it asks for (bounded, asynchronous: never in the way of an
 * advert), runs notify / quorum commands without a shell on its own queue of the daemon's
 * hook runner (a slow notify script delays no VRRP hook; `hook_timeout` applies), and after every change of the pools hands the desired
 * plane to the nftables applier. Both directors hold the rules; the VIP decides who gets the
 * traffic (rules for a VIP this node does not hold match no packet).
 *
 * Every count period (`countIntervalMs`) it reads the connection counts of the NAT services
 * from conntrack and the plane's per-server counters from nft: the count-based schedulers
 * (lc, wlc, sed, nq, ovf) get a new slot table from them (`planService` with counts and the
 * last period's new connections), and the status shows active/inactive connections, totals
 * since start and rates over the last period.
 *
 * The operator's commands (`carpool balancer weight|drain|enable|disable|add|remove`) and live
 * reloads (`prepare` + `commit`) change services in place: states carried over by the core's
 * `reconcile` (core/operator.ts), ids kept, one nft transaction with the difference.
 */
import type { BalancerConfig, Instance, RealServer as ConfigRealServer, VirtualServer } from '../../config/model.js';
import type { BalancersStatus, BalancerServiceStatus } from '../../control/status.js';
import type { HealthEffect, HealthInput, ServiceHealth } from '../core/health.js';
import { HealthInputError, effectiveWeight, initialHealth, nextDeadline, pool, settle, step } from '../core/health.js';
import type { Plane, PlaneService } from '../core/nft.js';
import { assignIds, counterElement, counterNames, planObjects, PlaneError } from '../core/nft.js';
import { encodeKey, keyLayout } from '../core/nfnl.js';
import { planService, type ConnCounts } from '../core/plan.js';
import { needsCounts } from '../core/schedulers.js';
import { conntrackReader, countQuery, markOf, newFlows, type ConntrackReader, type CountQuery } from './conntrack.js';
import type { AdminState, RealServer, VirtualService } from '../core/model.js';
import { serverKey } from '../core/model.js';
import {
  effectiveService, findServer, findService, NO_OVERRIDES, OperatorError, parseServerRef, reconcile, type ServerChange, type ServerOverrides,
} from '../core/operator.js';
import { mapBalancers, runtimeServer, type MappedBalancers, type MappedService, type ProbeSpec } from '../from-config.js';
import { HookQueue } from '../../daemon/hooks.js';
import type { Logger } from '../../daemon/logger.js';
import { CarpoolError } from '../../lib/errors.js';
import { NftApplier, nftRunner, type NfnlSender, type NftRunner } from './nft-applier.js';
import { drEgress, ipRunner, ipipSupport, Tunnels, TUN_HINT, type IpRunner } from './direct.js';
import { runProbe } from './probes.js';
import { listAddresses } from '../../net/link.js';
import { canonicalIP } from '../../protocol/inet.js';
import { CtAccounting, enableConntrackAccounting } from './ct-accounting.js';

export interface BalancerDeps {
  readonly log: Logger;
  /** Monotonic ms. */
  readonly now: () => number;
  /** Replaceable for tests; default runs `nft`. */
  readonly nft?: NftRunner;
  /** Replaceable for tests: the netlink sender of flat updates (default: the real one when `nft` is the real one). */
  readonly nfnl?: NfnlSender;
  /** Where notify / quorum scripts run: the daemon gives the balancer its own queue (default: a new one). */
  readonly hooks?: HookQueue;
  /** Replaceable for tests; default runs `conntrack -L`. */
  readonly conntrack?: ConntrackReader;
  /** Count period, ms (default DEFAULT_COUNT_INTERVAL_MS). */
  readonly countIntervalMs?: number;
  /** The CARP/VRRP instances: the one holding a DR/TUN service's VIP gives its ingress device. */
  readonly instances?: readonly Instance[];
  /** Replaceable for tests; default runs `ip` (DR routes, TUN devices). */
  readonly ip?: IpRunner;
  /**
   * Ended flows' packets/bytes (ctnetlink DESTROY events) and the sysctls conntrack accounting
   * needs; null = none (unit tests). Default: the real subscription, opened at start when a
   * service has counters.
   */
  readonly accounting?: { readonly acct: Pick<CtAccounting, 'flows' | 'open' | 'close'>; readonly enable: () => string[] } | null;
  /** `ha_suspend`: the addresses set on this host (canonical text). Default: the kernel's, read at most every 200 ms. */
  readonly localAddresses?: () => ReadonlySet<string>;
}

/** The kernel's addresses of every interface, read again when older than `maxAgeMs`. */
function kernelAddresses(maxAgeMs = 200): () => ReadonlySet<string> {
  let at = -Infinity;
  let set: ReadonlySet<string> = new Set();
  return () => {
    const now = performance.now();
    if (now - at > maxAgeMs) {
      set = new Set(listAddresses(0).map((a) => canonicalIP(a.address) ?? a.address));
      at = now;
    }
    return set;
  };
}

/**
 * How often connection counts and counters are read, and the count-based schedulers'
 * tables rebuilt: IPVS decides per connection, here per period, so the period should hold
 * a few new connections per server (docs/balancer.md).
 */
export const DEFAULT_COUNT_INTERVAL_MS = 1000;

interface Totals { connections: number; packets: number; bytes: number }

/** `carpool balancer weight|drain|enable|disable|add|remove` (control commands `balancer.*`). */
export type BalancerCommand =
  /** `weight` undefined: back to the configured (or dynamic) weight. */
  | { readonly op: 'weight'; readonly service: string; readonly server: string; readonly weight: number | undefined }
  | { readonly op: 'drain' | 'enable' | 'disable' | 'remove'; readonly service: string; readonly server: string }
  | { readonly op: 'add'; readonly service: string; readonly server: string; readonly weight?: number; readonly check?: 'tcp' | 'none' };

export const BALANCER_OPS: readonly BalancerCommand['op'][] = ['weight', 'drain', 'enable', 'disable', 'add', 'remove'];

/** What a command answers: what was done, the service after it, and whether nft took it. */
export interface BalancerCommandResult {
  readonly message: string;
  readonly service: BalancerServiceStatus;
  /** This change is in force (false: its transaction failed; the ruleset of before stays, the daemon retries). */
  readonly inForce: boolean;
  readonly lastError?: string;
}

/** A validated reload of the balancers (`prepare`), carried out by `commit`. */
export interface PreparedBalancers {
  readonly mapped: MappedBalancers;
  readonly plane: Plane;
  readonly build: () => { runtimes: Runtime[]; planeIds: Map<string, number>; actions: string[] };
  /** DR: egress devices resolved from the kernel's routes, by service name. */
  readonly egress: ReadonlyMap<string, string>;
}

/** A kept service under its new definition, and the servers whose checkers start over. */
interface Carried {
  readonly runtime: Runtime;
  readonly rechecked: readonly string[];
}

/** A service's plane entries and the inputs they were planned from (compared by identity). */
interface Planned {
  readonly vs: VirtualService;
  readonly state: ServiceHealth;
  readonly serverIds: Map<string, number>;
  readonly planeIds: ReadonlyMap<string, number>;
  readonly standIn: boolean;
  readonly counted: boolean;
  /** The scheduler or a threshold uses the counts (then they are an input). */
  readonly countsMatter: boolean;
  readonly counts: Map<string, ConnCounts> | undefined;
  /** A count-based scheduler (then the expected new connections are an input). */
  readonly needsCounts: boolean;
  readonly expected: number | undefined;
  readonly planes: PlaneService[];
}

interface Runtime {
  /** As configured (a DR service's egress device filled in at start and reload). */
  m: MappedService;
  /** The operator's runtime additions and removals. */
  overrides: ServerOverrides;
  /** Probes of the runtime-added servers, by key. */
  addedProbes: Map<string, readonly ProbeSpec[]>;
  /** The configured service with the overrides: what `step` and the plane see. */
  vs: VirtualService;
  /** Probes by server key. */
  probes: Map<string, readonly ProbeSpec[]>;
  serverIds: Map<string, number>;
  state: ServiceHealth;
  timer: NodeJS.Timeout | undefined;
  /** Bumped per server when its checkers start over or it goes: late probe results of before are dropped. */
  readonly epochs: Map<string, number>;
  /** NAT (any entries: VIP:port, fwmark, group): conntrack counts its flows by their ct mark. */
  readonly counted: boolean;
  /** NAT whose entries are all on VIP:port: the plane holds its per-server counters (totals, rates, new connections). */
  readonly countered: boolean;
  /** Latest counts per server key (from the last successful read). */
  counts: Map<string, ConnCounts> | undefined;
  /** New connections in the last period (sum over servers): the count-based tables' estimate. */
  expected: number | undefined;
  /** Without counters (a fwmark entry): the conntrack ids of its flows at the last read, whose newcomers give `expected`. */
  flowIds?: Set<number>;
  /** Totals since start and rates over the last period, per server key. */
  readonly stats: Map<string, Totals>;
  rates: Map<string, { cps: number; pps: number; bps: number }> | undefined;
  /**
   * The service's plane entries and what they were planned from: while the inputs are the same
   * objects, `plane()` hands the same entries over and the applier skips them (`diffChanged`),
   * so one change costs one service's planning and diff, whatever the total.
   */
  planned?: Planned;
  /** Monotonic time of the last read of its counts and counters (the rates' period). */
  sampledAt?: number;
  /** `ha_suspend` and none of its addresses set on this host: its checkers wait. */
  suspended?: boolean;
}

export class Balancer {
  private hooksByText: MappedBalancers['hooks'];
  private services: Runtime[];
  /** Plane ids by entry name (`10.0.0.1:80/tcp`, `fwmark:5`), also of entries gone: kept for the daemon's life (ct marks, flow maps). */
  private planeIds: Map<string, number>;
  private readonly applier: NftApplier;
  private readonly hooks: HookQueue;
  private readonly probes = new Set<AbortController>();
  private readonly tunnels: Tunnels;
  /** `carpool check`: TUN services name a stand-in device, nothing is made. */
  private standIn = false;
  private stopped = false;
  private started = false;
  private readonly conntrack: ConntrackReader;
  private readonly countIntervalMs: number;
  private countTimer: NodeJS.Timeout | undefined;
  /** Conntrack accounting's ended flows (open while a service has counters). */
  private acct: Pick<CtAccounting, 'flows' | 'open' | 'close'> | undefined;
  /** Raw nft counter values at the last read, and what earlier incarnations had counted (a counter restarts at 0 when re-created). */
  private readonly rawCounters = new Map<string, { packets: number; bytes: number }>();
  private readonly counterBase = new Map<string, { packets: number; bytes: number }>();
  /** The on-demand read under way (`refresh`): callers at the same time share it. */
  private refreshing: Promise<void> | undefined;
  /** The last read queued (`sample`): the next one starts after it. */
  private reading: Promise<void> = Promise.resolve();
  /** `ha_suspend`: this host's addresses (made on first use). */
  private localAddresses: (() => ReadonlySet<string>) | undefined;

  /** Maps the configuration; throws BALANCER_NOT_SUPPORTED for what cannot run yet. */
  constructor(cfg: BalancerConfig, private readonly deps: BalancerDeps) {
    const mapped = mapBalancers(cfg, deps.instances ?? []);
    this.hooksByText = mapped.hooks;
    this.planeIds = assignIds(new Map(), mapped.services.flatMap((m) => m.entries.map((e) => e.name)));
    this.services = mapped.services.map((m) => this.runtime(m, NO_OVERRIDES, new Map(), new Map()));
    this.applier = new NftApplier(deps.log, deps.nft, deps.nfnl);
    this.hooks = deps.hooks ?? new HookQueue(deps.log);
    this.conntrack = deps.conntrack ?? conntrackReader();
    this.countIntervalMs = deps.countIntervalMs ?? cfg.countIntervalMs ?? DEFAULT_COUNT_INTERVAL_MS;
    this.tunnels = new Tunnels(deps.ip ?? ipRunner);
    this.tunnels.plan(this.services.map((s) => s.vs));
  }

  private runtime(m: MappedService, overrides: ServerOverrides, addedProbes: Map<string, readonly ProbeSpec[]>, previousIds: ReadonlyMap<string, number>): Runtime {
    const vs = effectiveService(m.service, overrides);
    return {
      m, overrides, addedProbes, vs, probes: probeMap(m, addedProbes), serverIds: serverIds(vs, previousIds),
      state: initialHealth(vs), timer: undefined, epochs: new Map(),
      ...counting(vs, m),
      counts: undefined, expected: undefined, stats: new Map(), rates: undefined,
    };
  }

  /** DR: each service's egress device from the kernel's routes to its real servers (read only). */
  private async resolveEgress(): Promise<void> {
    for (const s of this.services) {
      if (s.vs.method !== 'dr') continue;
      withEgress(s, await drEgress(s.vs, this.deps.ip ?? ipRunner));
    }
  }

  /**
   * `carpool check`: what start checks, changing nothing — DR routes, the kernel's ipip
   * support for TUN (then `lo` stands in for the tunnel devices), with `nft` (root) `nft -c`
   * of the first plane. Throws what start would.
   */
  async check(o: { nft: boolean }): Promise<void> {
    await this.resolveEgress();
    if (this.tunnels.size > 0) {
      const ipip = ipipSupport();
      const names = this.services.filter((s) => s.m.service.method === 'tun').map((s) => s.m.service.name).join(', ');
      if (ipip.verdict === 'no') throw new CarpoolError('TUN_UNSUPPORTED', `${names}: lb_kind TUN needs ipip tunnel devices: ${ipip.why}`, TUN_HINT);
    }
    this.standIn = true;
    if (o.nft) await this.applier.check(this.plane());
  }

  /**
   * What the plane cannot hold (PlaneError), with the virtual server it is about: each service
   * planned alone, then (only if they all pass) with the others before it, which finds the
   * second of two services matching the same packets. `carpool check` and `run` refuse these
   * before anything changes (cli/preflight.ts); TUN services plan with a stand-in device.
   */
  planeProblems(): { readonly vs: VirtualServer; readonly code: string; readonly message: string; readonly hint?: string }[] {
    const standIn = this.standIn;
    this.standIn = true;
    const tryPlan = (services: readonly Runtime[]): PlaneError | undefined => {
      try {
        planObjects(this.plane(services));
        return undefined;
      } catch (err) {
        if (err instanceof PlaneError) return err;
        throw err;
      }
    };
    // The core names services by plane id; the operator knows them by address.
    const names = new Map([...this.planeIds].map(([name, id]) => [id, name]));
    const named = (text: string) => text.replace(/\bservices (\d+) and (\d+)\b/g, (_, a: string, b: string) => `${names.get(Number(a)) ?? a} and ${names.get(Number(b)) ?? b}`)
      .replace(/\bservice (?:id )?(\d+)\b/g, (_, a: string) => names.get(Number(a)) ?? `service ${a}`);
    const hint = (e: PlaneError) => e.hint ?? (e.code === 'DUPLICATE' ? 'give each virtual_server its own address, protocol and port (a group\'s addresses count)' : undefined);
    const found = (s: Runtime, e: PlaneError) => {
      const h = hint(e);
      return { vs: s.m.config, code: `PLANE_${e.code}`, message: named(e.message), ...(h !== undefined ? { hint: h } : {}) };
    };
    try {
      const out = this.services.flatMap((s) => { const e = tryPlan([s]); return e ? [found(s, e)] : []; });
      if (out.length || !tryPlan(this.services)) return out;
      for (let i = 1; i < this.services.length; i++) {
        const e = tryPlan(this.services.slice(0, i + 1));
        if (e) return [found(this.services[i]!, e)];
      }
      return out;
    } finally {
      this.standIn = standIn;
    }
  }

  /**
   * Check nft and the kernel, make the TUN devices, put the first plane in force (replacing a
   * stale table), start the checkers. A failure leaves nothing behind (devices deleted).
   */
  async start(): Promise<void> {
    for (const s of this.services) for (const w of s.m.warnings) this.deps.log.warning(w);
    await this.resolveEgress();
    await this.tunnels.create();
    try {
      await this.applier.check(this.plane());
    } catch (err) {
      await this.tunnels.remove();
      throw err;
    }
    // Flows from before a restart are in conntrack already: the first tables start from them.
    if (this.services.some((s) => s.counted)) {
      try {
        this.takeCounts(await this.conntrack(this.queries()));
      } catch (err) {
        const counting = this.services.filter((s) => needsCounts(s.m.service.scheduler)).map((s) => `${s.m.service.name} (${s.m.service.scheduler})`);
        if (counting.length) {
          await this.tunnels.remove();
          throw new CarpoolError('CONNTRACK_UNAVAILABLE', `cannot read connection counts, which ${counting.join(', ')} need: ${(err as Error).message}`,
            'install the conntrack package (apt install conntrack), or choose a scheduler that needs no counts (rr, wrr, sh, mh)');
        }
        this.deps.log.warning(`Load balancer: no connection counts in the status: ${(err as Error).message}`);
      }
    }
    this.startAccounting();
    const plane = this.plane();
    await this.applier.apply(plane);
    const st = this.applier.status();
    if (!st.inForce || st.pending) this.deps.log.error(`Load balancer: the first ruleset is not in force yet (${st.lastError ?? 'unknown'}); retrying`);
    this.started = true;
    for (const s of this.services) this.begin(s);
    // The counters start at 0 with the table: the first read's rates are over the time since now.
    const t = this.deps.now();
    for (const s of this.services) {
      if (!s.countered) continue;
      s.sampledAt = t;
      for (const key of s.serverIds.keys()) if (!s.stats.has(key)) s.stats.set(key, { connections: 0, packets: 0, bytes: 0 });
    }
    this.armCount();
  }

  /**
   * Per-server packets/bytes of NAT services come from conntrack accounting (live flows: the
   * dump; ended ones: destroy events), not from a per-packet rule: turn it on (per netns, logged
   * once) and subscribe before the first plane, so every flow the plane marks is accounted.
   */
  private startAccounting(): void {
    if (this.acct || !this.services.some((s) => s.countered)) return;
    // Real only with the real nft (unit tests with a fake one must not touch the host's sysctls).
    const a = this.deps.accounting === undefined ? (this.deps.nft ? null : { acct: new CtAccounting(), enable: enableConntrackAccounting }) : this.deps.accounting;
    if (!a) return;
    try {
      const changed = a.enable();
      if (changed.length) this.deps.log.info(`Load balancer: conntrack accounting for the per-server packet/byte totals: set ${changed.join(', ')} in this network namespace`);
      a.acct.open();
      this.acct = a.acct;
    } catch (err) {
      this.deps.log.warning(`Load balancer: no per-server packet/byte totals (conntrack accounting): ${(err as Error).message}`);
    }
  }

  /** Destroy events the accounting lost (socket overruns, each at least one event): the totals miss those flows. */
  accountingLost(): number {
    return this.acct?.flows.lost ?? 0;
  }

  private begin(s: Runtime): void {
    const vs = s.vs;
    this.deps.log.info(`Load balancer: ${vs.name} ${vs.scheduler}/${vs.method}, ${vs.realServers.length} real server(s)`
      + (s.m.entries.length > 1 ? `, ${s.m.entries.length} addresses` : ''));
    this.feed(s, { type: 'start', jitter: Math.random() });
  }

  private plane(services: readonly Runtime[] = this.services, planeIds: ReadonlyMap<string, number> = this.planeIds): Plane {
    return { services: services.flatMap((s) => this.servicePlanes(s, planeIds)) };
  }

  /**
   * One plane service per entry of the service (a group's addresses share servers, verdicts and
   * table). Planned again only when an input changed: the service, its health state, the ids,
   * and the counts only where the scheduler uses them (`countsMatter`).
   */
  private servicePlanes(s: Runtime, planeIds: ReadonlyMap<string, number>): PlaneService[] {
    const vs = s.vs;
    const c = s.planned;
    // Field by field, nothing allocated: plane() asks this of every service on every change.
    if (c && c.vs === vs && c.state === s.state && c.serverIds === s.serverIds && c.planeIds === planeIds && c.standIn === this.standIn &&
      c.counted === s.counted && c.counts === (c.countsMatter ? s.counts : undefined) && c.expected === (c.needsCounts ? s.expected : undefined)) return c.planes;
    const planes = this.planServicePlanes(s, planeIds);
    const cm = countsMatter(vs);
    const nc = needsCounts(vs.scheduler);
    s.planned = {
      vs, state: s.state, serverIds: s.serverIds, planeIds, standIn: this.standIn, counted: s.counted,
      countsMatter: cm, counts: cm ? s.counts : undefined, needsCounts: nc, expected: nc ? s.expected : undefined, planes,
    };
    return planes;
  }

  private planServicePlanes(s: Runtime, planeIds: ReadonlyMap<string, number>): PlaneService[] {
    const vs = s.vs;
    const tunnels = vs.method === 'tun' ? this.tunnels.devices(vs) : undefined;
    const tunnelDevices = tunnels && this.standIn ? new Map([...tunnels.keys()].map((k) => [k, 'lo'])) : tunnels;
    const live = pool(vs, s.state);
    const expected = Math.max(s.expected ?? 0, live.length);
    return s.m.entries.map((e) => ({
      ...planService({ ...vs, match: e.match }, {
        id: planeIds.get(e.name)!, serverIds: s.serverIds, members: live, ...(s.counts ? { counts: s.counts } : {}), expected, ...(tunnelDevices ? { tunnelDevices } : {}),
      }),
      ...(s.countered ? { counters: true } : {}),
    }));
  }

  /** The plane ids of a service's entries (its ct marks, its counters' names). */
  private idsOf(s: Runtime): number[] {
    return s.m.entries.map((e) => this.planeIds.get(e.name)!);
  }
  /** conntrack queries: the given NAT services (default all) by their entries' ct marks, with their configured servers. */
  private queries(services: readonly Runtime[] = this.services): CountQuery[] {
    return services.filter((s) => s.counted).map((s) => countQuery(s.vs.name, this.idsOf(s), s.vs.realServers, !s.countered && needsCounts(s.vs.scheduler)));
  }

  private takeCounts(r: Awaited<ReturnType<ConntrackReader>>, services: readonly Runtime[] = this.services): void {
    for (const s of services) {
      const c = r.counts.get(s.vs.name);
      if (c) s.counts = c;
      // No counters: the period's new connections are the flows this read saw first.
      const ids = r.ids?.get(s.vs.name);
      if (ids) {
        if (s.flowIds) s.expected = newFlows(s.flowIds, ids);
        s.flowIds = ids;
      }
    }
    if (r.malformed > 0) this.deps.log.logLimited('warning', `Load balancer: ${r.malformed} of ${r.lines} conntrack line(s) not understood, dropped`, 'balancer:conntrack-malformed');
  }

  /** The services read every count period: counted ones whose table follows the counts (lc/wlc/sed/nq/ovf, upper thresholds). */
  private periodic(): Runtime[] {
    return this.services.filter((s) => s.counted && countsMatter(s.vs));
  }

  /** The count period runs only while a service's table follows the counts; the status reads on demand (`refresh`). */
  private armCount(): void {
    if (this.stopped || this.periodic().length === 0) return;
    this.countTimer = setTimeout(() => {
      this.countTimer = undefined;
      void this.sample(this.periodic()).finally(() => this.armCount());
    }, this.countIntervalMs);
  }

  /**
   * Fresh counts, totals and rates of every counted service for the status (`carpool status`,
   * `carpool balancer list --stats|--rate`, the HTTP status and metrics): read when asked,
   * not every period, unless the last read is younger than the count period. Rates are over
   * the time since the service's previous read. Never rejects.
   */
  refresh(): Promise<void> {
    if (this.stopped || !this.started) return Promise.resolve();
    const counted = this.services.filter((s) => s.counted);
    const now = this.deps.now();
    if (counted.every((s) => s.sampledAt !== undefined && now - s.sampledAt < this.countIntervalMs)) return Promise.resolve();
    this.refreshing ??= this.sample(counted).catch(() => undefined).finally(() => { this.refreshing = undefined; });
    return this.refreshing;
  }

  /**
   * One read of `services` (counted ones), after the read under way if there is one: the
   * period's read and an on-demand read never overlap, so the ended-flow ids rotate once per
   * read (a dump still running over two rotations could count a flow live and ended) and totals
   * are never overwritten by an older read finishing late.
   */
  private sample(services: readonly Runtime[]): Promise<void> {
    const read = this.reading.then(() => this.readOnce(services));
    this.reading = read.catch(() => undefined);
    return read;
  }

  /**
   * One read: conntrack counts and the plane's counters, read side by side; totals, rates and
   * the count-based tables follow. A failed read keeps the last values (logged, rate-limited);
   * the plane changes only when a count-based table does. The counters are listed only when a
   * service needs them (its status, or a count-based table's estimate of new connections).
   */
  private async readOnce(services: readonly Runtime[]): Promise<void> {
    services = services.filter((s) => s.counted);
    if (services.length === 0) return;
    // The counters are element counters of the sets conns_<protocol> (packets and bytes: conntrack accounting)
    // (core/nft.ts `counterElement`): element key → the counter names the totals below use.
    // Only services whose entries are all VIP:port have them (`countered`); a group's entries
    // each have their own.
    const names = new Map<string, string>();
    const sets = new Set<string>();
    for (const s of services) {
      if (!s.countered) continue;
      for (const ps of s.planned?.planes ?? []) {
        for (const r of ps.servers) {
          const e = counterElement(ps, r);
          if (!e) continue;
          const n = counterNames(ps.id, r.id);
          names.set(counterKeyId(e.family, e.conns, e.key), n.conns);
          sets.add(`${e.family} ${e.conns}`);
        }
      }
    }
    // Ids of flows ended before this read are kept one more read (the dump may still show them).
    this.acct?.flows.rotate();
    const [ct, ...lists] = await Promise.allSettled([
      this.conntrack(this.queries(services)),
      ...[...sets].map((fs) => (this.deps.nft ?? nftRunner())(['-j', 'list', 'set', fs.split(' ')[0]!, 'carpool', fs.split(' ')[1]!])),
    ]);
    if (this.stopped) return;
    const now = this.deps.now();
    if (ct.status === 'fulfilled') this.takeCounts(ct.value, services);
    else this.deps.log.logLimited('warning', `Load balancer: cannot read connection counts, the last ones stay: ${(ct.reason as Error).message}`, 'balancer:conntrack');
    const raw = new Map<string, { packets: number; bytes: number }>();
    for (const l of lists) {
      if (l.status === 'fulfilled' && l.value.code === 0) {
        for (const c of parseSetCounters(l.value.stdout)) {
          const name = names.get(counterKeyId(c.family, c.set, c.key));
          if (name) raw.set(name, c);
        }
      }
      else this.deps.log.logLimited('warning', `Load balancer: cannot read the nftables counters: ${l.status === 'fulfilled' ? l.value.stderr.trim() : (l.reason as Error).message}`, 'balancer:counters');
    }
    const total = (name: string): { packets: number; bytes: number } => {
      const now = raw.get(name);
      const last = this.rawCounters.get(name);
      let base = this.counterBase.get(name) ?? { packets: 0, bytes: 0 };
      // Re-created (the server left the plane and came back, or the plane was loaded whole): restarted at 0.
      if (now && last && (now.packets < last.packets || now.bytes < last.bytes)) {
        base = { packets: base.packets + last.packets, bytes: base.bytes + last.bytes };
        this.counterBase.set(name, base);
      }
      if (now) this.rawCounters.set(name, now);
      const cur = now ?? last ?? { packets: 0, bytes: 0 };
      return { packets: base.packets + cur.packets, bytes: base.bytes + cur.bytes };
    };
    // Live flows' packets/bytes by service and server (conntrack accounting), minus those seen ended.
    const live = new Map<string, { packets: number; bytes: number }>();
    if (ct.status === 'fulfilled') {
      for (const f of ct.value.flows ?? []) {
        if (this.acct?.flows.isEnded(f.id)) continue;
        const k = `${f.name}\n${f.key}`;
        const v = live.get(k);
        if (v) {
          v.packets += f.packets;
          v.bytes += f.bytes;
        } else live.set(k, { packets: f.packets, bytes: f.bytes });
      }
    }
    let replan = false;
    for (const s of services) {
      // A reload may have replaced the runtime meanwhile: its successor is read next time.
      if (!this.services.includes(s)) continue;
      const dt = (now - (s.sampledAt ?? now)) / 1000;
      s.sampledAt = now;
      if (!s.countered) {
        // No counters (a fwmark entry has no VIP to key them on): no totals or rates; the
        // count-based table's estimate came from conntrack's ids (takeCounts).
        if (needsCounts(s.vs.scheduler)) replan = true;
        continue;
      }
      const rates = new Map<string, { cps: number; pps: number; bps: number }>();
      let fresh = 0;
      const ids = this.idsOf(s);
      const servers = new Map(s.vs.realServers.map((r) => [serverKey(r.address, r.port), r]));
      for (const [key, sid] of s.serverIds) {
        // A group's entries each count their own flows: the server's totals are their sum.
        const lv = live.get(`${s.vs.name}\n${key}`);
        const t: Totals = { connections: 0, packets: lv?.packets ?? 0, bytes: lv?.bytes ?? 0 };
        const rs = servers.get(key);
        for (const id of ids) {
          t.connections += total(counterNames(id, sid).conns).packets;
          if (rs && this.acct) {
            const ended = this.acct.flows.ended(markOf(id), rs.address, rs.port);
            t.packets += ended.packets;
            t.bytes += ended.bytes;
          }
        }
        const prev = s.stats.get(key);
        s.stats.set(key, t);
        if (prev && dt > 0) {
          fresh += t.connections - prev.connections;
          rates.set(key, { cps: (t.connections - prev.connections) / dt, pps: (t.packets - prev.packets) / dt, bps: (t.bytes - prev.bytes) / dt });
        }
      }
      if (rates.size) s.rates = rates;
      if (needsCounts(s.vs.scheduler)) {
        s.expected = fresh;
        replan = true;
      }
    }
    if (replan) await this.applier.apply(this.plane());
  }

  private feed(s: Runtime, input: HealthInput): void {
    if (this.stopped && input.type !== 'shutdown') return;
    let r;
    try {
      r = step(s.vs, s.state, input, this.deps.now());
    } catch (err) {
      // A result for a server that a reload or the operator just removed: nothing to do.
      if (err instanceof HealthInputError) return;
      throw err;
    }
    s.state = r.state;
    if (this.effects(s, r.effects)) void this.applier.apply(this.plane());
    this.rearm(s);
  }

  /** Carry out effects; true when the pool may have changed. */
  private effects(s: Runtime, effects: readonly HealthEffect[]): boolean {
    let changed = false;
    for (const e of effects) changed = this.effect(s, e) || changed;
    return changed;
  }

  /** Carry out one effect; true when the pool may have changed. */
  private effect(s: Runtime, e: HealthEffect): boolean {
    const name = s.vs.name;
    const log = this.deps.log;
    switch (e.type) {
      case 'runCheck':
        this.probe(s, e.server, e.checker);
        return false;
      case 'serverUp':
        log.info(`Load balancer: ${name}: real server ${e.server} up (${e.reason})`);
        return true;
      case 'serverDown':
        log.warning(`Load balancer: ${name}: real server ${e.server} down${e.inhibit ? ' (inhibited: weight 0)' : ', removed'} (${e.reason})`);
        return true;
      case 'weightChanged':
        log.info(`Load balancer: ${name}: real server ${e.server} weight ${e.weight} (${e.reason})`);
        return true;
      case 'quorumUp':
        log.info(`Load balancer: ${name}: quorum up (live weight ${e.weight})`);
        return true;
      case 'quorumDown':
        log.warning(`Load balancer: ${name}: quorum lost (live weight ${e.weight})`);
        return true;
      case 'runNotify': {
        const hook = this.hooksByText.get(e.command);
        if (hook) void this.hooks.enqueue({ hook, args: [], env: {}, label: `${name} ${e.reason}` });
        return false;
      }
    }
  }

  private probe(s: Runtime, server: string, checker: number): void {
    const spec = s.probes.get(server)?.[checker];
    if (!spec) return;
    const epoch = s.epochs.get(server) ?? 0;
    const name = s.m.service.name;
    const ac = new AbortController();
    this.probes.add(ac);
    void runProbe(spec, ac.signal).then((r) => {
      this.probes.delete(ac);
      // A reload may have replaced the runtime meanwhile: the result goes to the current one,
      // unless the server's checkers started over (or it went) since the probe began.
      const now = this.services.find((x) => x.m.service.name === name);
      if (this.stopped || !now || (now.epochs.get(server) ?? 0) !== epoch) return;
      this.feed(now, {
        type: 'result', server, checker, ok: r.ok, detail: r.detail,
        ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}), ...(r.fileValue !== undefined ? { fileValue: r.fileValue } : {}),
      });
    });
  }

  /** One timer per service, at the core's next deadline. */
  private rearm(s: Runtime): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    const at = nextDeadline(s.state);
    if (at === undefined || this.stopped) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      if (this.suspends(s)) {
        // As keepalived's checkers: look again each delay_loop, check nothing meanwhile.
        s.timer = setTimeout(() => { s.timer = undefined; this.rearm(s); }, suspendPollMs(s.vs));
        return;
      }
      this.feed(s, { type: 'tick' });
    }, Math.max(0, at - this.deps.now()));
  }

  /**
   * `ha_suspend` (keepalived: "if VS IP address is not set, suspend healthchecker's activity"):
   * true while none of the service's addresses is set on this host, i.e. while another director
   * holds its VIP. The verdicts so far and the ruleset stay; due checks run when it is set again.
   */
  private suspends(s: Runtime): boolean {
    if (!s.vs.haSuspend) return false;
    const vips = s.m.entries.flatMap((e) => (e.match.kind === 'addr' ? [e.match.vip] : []));
    if (vips.length === 0) return false;
    const local = (this.localAddresses ??= this.deps.localAddresses ?? kernelAddresses())();
    const set = vips.some((v) => local.has(canonicalIP(v) ?? v));
    if (set === !s.suspended) return !set;
    s.suspended = !set;
    this.deps.log.info(`Load balancer: ${s.vs.name}: ha_suspend: ${vips.length > 1 ? 'no address of the service' : vips[0]} ${set ? 'is set here, checkers resume' : 'is not set here, checkers suspended'}`);
    return !set;
  }

  // ------------------------------------------------------------------ operator commands

  /**
   * `carpool balancer weight|drain|enable|disable|add|remove`: through the core (`admin`,
   * `weight` inputs; add/remove as overrides laid over the configured service), then one nft
   * transaction with the difference. Kept across reloads until the configuration changes the
   * server. Throws CarpoolError for an unknown service or server, a bad value, or a server the
   * plane cannot hold (nothing changed then).
   */
  async command(c: BalancerCommand): Promise<BalancerCommandResult> {
    if (this.stopped) throw new CarpoolError('BALANCER_STOPPED', 'the load balancer is stopping');
    const s = this.services[operator(() => findService(this.services.map((r) => ({ name: r.vs.name, configName: r.m.configName, entries: r.m.entries.map((e) => e.name) })), c.service))]!;
    const ref = operator(() => parseServerRef(c.server));
    const vsName = s.vs.name;
    let message: string;
    if (c.op === 'add') {
      if (s.vs.method === 'tun') throw new CarpoolError('NOT_SUPPORTED', `${vsName}: a TUN real server needs an ipip device, which is made at start`, 'add it to the configuration and restart carpool');
      const port = ref.port ?? (s.vs.match.kind === 'addr' ? s.vs.match.port : undefined);
      const key = serverKey(ref.address, port);
      if (s.vs.realServers.some((r) => serverKey(r.address, r.port) === key)) {
        throw new CarpoolError('SERVER_EXISTS', `${vsName} already has real server ${key}`, `\`carpool balancer enable ${vsName} ${key}\` or \`weight\` changes it`);
      }
      const weight = c.weight ?? 1;
      checkWeight(weight);
      if (ref.address.includes(':') !== (s.vs.family === 'ipv6')) {
        throw new CarpoolError('BAD_SERVER', `${key}: ${vsName} is ${s.vs.family === 'ipv6' ? 'IPv6' : 'IPv4'}; NAT needs the real server in the same family`);
      }
      const { server, probes } = runtimeServer(s.m.config, ref.address, port, weight, c.check ?? 'tcp');
      const removedBefore = s.overrides.removed.includes(key);
      const overrides: ServerOverrides = removedBefore
        ? { added: s.overrides.added, removed: s.overrides.removed.filter((k) => k !== key) }
        : { added: [...s.overrides.added, server], removed: s.overrides.removed };
      const addedProbes = new Map(s.addedProbes);
      if (!removedBefore) addedProbes.set(key, probes);
      this.reshape(s, overrides, addedProbes);
      message = `${vsName}: real server ${key} added${removedBefore ? ' back (as configured)' : ` (weight ${weight}, ${c.check === 'none' ? 'no checker' : 'TCP_CHECK'})`}`;
    } else {
      const key = operator(() => findServer(s.vs, ref));
      if (c.op === 'remove') {
        const added = s.overrides.added.some((r) => serverKey(r.address, r.port) === key);
        const overrides: ServerOverrides = added
          ? { added: s.overrides.added.filter((r) => serverKey(r.address, r.port) !== key), removed: s.overrides.removed }
          : { added: s.overrides.added, removed: [...s.overrides.removed, key] };
        const addedProbes = new Map(s.addedProbes);
        addedProbes.delete(key);
        this.reshape(s, overrides, addedProbes);
        message = `${vsName}: real server ${key} removed (established connections continue; \`carpool balancer add\` brings it back)`;
      } else if (c.op === 'weight') {
        if (c.weight !== undefined) checkWeight(c.weight);
        this.feed(s, { type: 'weight', server: key, weight: c.weight });
        message = c.weight === undefined ? `${vsName}: real server ${key} weight back to the configuration's (${s.vs.realServers.find((r) => serverKey(r.address, r.port) === key)!.weight})`
          : `${vsName}: real server ${key} weight ${c.weight}`;
      } else {
        const state: AdminState = c.op === 'drain' ? 'drained' : c.op === 'disable' ? 'disabled' : 'enabled';
        this.feed(s, { type: 'admin', server: key, state });
        message = `${vsName}: real server ${key} ${state}${c.op === 'drain' ? ' (weight 0: no new connections, established ones continue)' : c.op === 'disable' ? ' (out of the pool)' : ''}`;
      }
    }
    this.deps.log.info(`Load balancer: operator: ${message}`);
    await this.applier.apply(this.plane());
    const a = this.applier.status();
    // In force = this change is: a failed transaction leaves the ruleset of before (a.inForce) with the change pending.
    return { message, service: this.serviceStatus(s), inForce: a.inForce && !a.pending, ...(a.lastError ? { lastError: a.lastError } : {}) };
  }

  /** New overrides for `s`: the effective service, its state carried over, checked against the plane before anything changes. */
  private reshape(s: Runtime, overrides: ServerOverrides, addedProbes: Map<string, readonly ProbeSpec[]>): void {
    const vs = effectiveService(s.m.service, overrides);
    const r = reconcile(s.state, vs, () => 'same', this.deps.now(), Math.random());
    const next: Runtime = { ...s, overrides, addedProbes, vs, probes: probeMap(s.m, addedProbes), serverIds: serverIds(vs, s.serverIds), state: r.state };
    planeCheck(this.plane(this.services.map((x) => (x === s ? next : x))));
    const kept = new Set(vs.realServers.map((rs) => serverKey(rs.address, rs.port)));
    for (const k of s.state.servers.map((x) => x.key)) if (!kept.has(k)) s.epochs.set(k, (s.epochs.get(k) ?? 0) + 1);
    Object.assign(s, { overrides, addedProbes, vs, probes: next.probes, serverIds: next.serverIds, state: r.state });
    const settled = settle(vs, s.state, 'operator');
    s.state = settled.state;
    this.effects(s, settled.effects);
    this.rearm(s);
  }

  // ------------------------------------------------------------------ live reload

  /**
   * Validate a new configuration of the balancers against what runs: maps it (throws
   * BALANCER_NOT_SUPPORTED), resolves DR egress devices, carries every kept service's state
   * over, and checks that the plane can hold the result (throws PlaneError's code). TUN real
   * servers without an ipip device yet need a restart (the devices are made at start). Nothing
   * changes until `commit`.
   */
  async prepare(cfg: BalancerConfig, instances: readonly Instance[] = this.deps.instances ?? []): Promise<PreparedBalancers> {
    const mapped = mapBalancers(cfg, instances);
    for (const m of mapped.services) {
      const vs = m.service;
      if (vs.method !== 'tun') continue;
      if (this.tunnels.devices(vs).size < vs.realServers.length + (vs.sorryServer ? 1 : 0)) {
        throw new CarpoolError('RELOAD_REFUSED', `${vs.name}: new TUN real servers need ipip devices, which are made at start`, 'restart carpool to apply this (a planned `carpool demote` first moves the addresses)');
      }
    }
    const egress = new Map<string, string>();
    for (const m of mapped.services) if (m.service.method === 'dr') egress.set(m.service.name, await drEgress(m.service, this.deps.ip ?? ipRunner));
    const now = this.deps.now();
    const build = () => {
      const actions: string[] = [];
      const byName = new Map(this.services.map((s) => [s.m.service.name, s]));
      const planeIds = keepIds(this.planeIds, mapped.services.flatMap((m) => m.entries.map((e) => e.name)));
      const runtimes = mapped.services.map((m): Runtime => {
        const dr = egress.get(m.service.name);
        if (dr !== undefined) m = { ...m, service: { ...m.service, egressDevice: dr } };
        const old = byName.get(m.service.name);
        if (!old) {
          actions.push(`balancer: ${m.service.name} added (${m.service.realServers.length} real server(s))`);
          return this.runtime(m, NO_OVERRIDES, new Map(), new Map());
        }
        const c = this.carryOver(old, m, now, actions);
        // Late results of checkers that start over, or of servers that went, are dropped.
        const gone = old.vs.realServers.map((x) => serverKey(x.address, x.port)).filter((k) => !c.runtime.vs.realServers.some((x) => serverKey(x.address, x.port) === k));
        for (const k of [...c.rechecked, ...gone]) c.runtime.epochs.set(k, (c.runtime.epochs.get(k) ?? 0) + 1);
        return c.runtime;
      });
      for (const s of this.services) if (!mapped.services.some((m) => m.service.name === s.m.service.name)) actions.push(`balancer: ${s.m.service.name} removed`);
      return { runtimes, planeIds, actions };
    };
    const trial = build();
    planeCheck(this.plane(trial.runtimes, trial.planeIds));
    return { mapped, plane: this.plane(trial.runtimes, trial.planeIds), build, egress };
  }

  /**
   * A kept service under its new definition: servers the configuration did not touch keep
   * their state and checkers (a failed server stays out); changed ones lose the operator's
   * overrides; runtime additions the configuration now defines, and removals of servers it
   * changed, are dropped (the configuration wins).
   */
  private carryOver(old: Runtime, m: MappedService, now: number, actions: string[]): Carried {
    const name = m.service.name;
    const before = configServers(old.m);
    const after = configServers(m);
    const change = (key: string): ServerChange => {
      const a = before.get(key);
      const b = after.get(key);
      if (!a || !b) return a === b ? 'same' : 'rechecked';
      if (JSON.stringify(a) === JSON.stringify(b)) return 'same';
      return JSON.stringify(a.checkers) === JSON.stringify(b.checkers) ? 'changed' : 'rechecked';
    };
    const notes: string[] = [];
    const added = old.overrides.added.filter((r) => {
      const key = serverKey(r.address, r.port);
      if (!after.has(key)) return true;
      notes.push(`${key}: added at runtime, now in the configuration: the configuration wins`);
      return false;
    });
    const removed = old.overrides.removed.filter((key) => {
      if (change(key) === 'same' && after.has(key)) return true;
      notes.push(`${key}: removed at runtime, ${after.has(key) ? 'changed' : 'gone'} in the configuration: the configuration wins`);
      return false;
    });
    const addedProbes = new Map([...old.addedProbes].filter(([k]) => added.some((r) => serverKey(r.address, r.port) === k)));
    const overrides: ServerOverrides = { added, removed };
    const vs = effectiveService(m.service, overrides);
    const r = reconcile(old.state, vs, (key) => (before.has(key) || after.has(key) ? change(key) : 'same'), now, Math.random());
    for (const k of r.overridesDropped) notes.push(`${k}: operator override dropped: the configuration changed this server`);
    const oldKeys = new Set(old.vs.realServers.map((x) => serverKey(x.address, x.port)));
    const newKeys = new Set(vs.realServers.map((x) => serverKey(x.address, x.port)));
    const plus = [...newKeys].filter((k) => !oldKeys.has(k));
    const minus = [...oldKeys].filter((k) => !newKeys.has(k));
    const changed = [...newKeys].filter((k) => oldKeys.has(k) && change(k) !== 'same');
    const serviceChanged = JSON.stringify({ ...old.m.config, realServers: [] }) !== JSON.stringify({ ...m.config, realServers: [] });
    const oldEntries = old.m.entries.map((e) => e.name);
    const newEntries = m.entries.map((e) => e.name);
    const entries = [...newEntries.filter((e) => !oldEntries.includes(e)).map((e) => `${e} added`), ...oldEntries.filter((e) => !newEntries.includes(e)).map((e) => `${e} removed`)];
    if (plus.length || minus.length || changed.length || serviceChanged || entries.length || notes.length) {
      const parts = [
        ...(serviceChanged ? ['settings changed'] : []), ...entries,
        ...plus.map((k) => `real server ${k} added`), ...minus.map((k) => `real server ${k} removed`), ...changed.map((k) => `real server ${k} changed`),
      ];
      actions.push(`balancer: ${name}: ${parts.join(', ') || 'unchanged'}${notes.length ? `; ${notes.join('; ')}` : ''}`);
    }
    return {
      runtime: {
        m, overrides, addedProbes, vs, probes: probeMap(m, addedProbes), serverIds: serverIds(vs, old.serverIds), state: r.state, timer: undefined, epochs: new Map(old.epochs),
        ...counting(vs, m),
        counts: old.counts, expected: old.expected, stats: old.stats, rates: old.rates, ...(old.sampledAt !== undefined ? { sampledAt: old.sampledAt } : {}),
        ...(old.flowIds ? { flowIds: old.flowIds } : {}),
      },
      rechecked: [...newKeys].filter((k) => oldKeys.has(k) && change(k) === 'rechecked'),
    };
  }

  /**
   * Put a prepared reload in force: removed services shut down (`omega` notifies), kept ones
   * take their new definition without a reset, new ones start; then one nft transaction with
   * the difference. Returns one line per change.
   */
  async commit(p: PreparedBalancers): Promise<string[]> {
    const { runtimes, planeIds, actions } = p.build();
    const kept = new Set(runtimes.map((r) => r.m.service.name));
    for (const s of this.services) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      if (!kept.has(s.m.service.name)) this.feed(s, { type: 'shutdown' });
    }
    this.services = runtimes;
    this.planeIds = planeIds;
    this.hooksByText = p.mapped.hooks;
    // A reload that brings the first NAT service with counters: accounting from now on.
    if (this.started) this.startAccounting();
    for (const r of runtimes) {
      if (!r.state.started) {
        for (const w of r.m.warnings) this.deps.log.warning(w);
        if (this.started) this.begin(r);
        continue;
      }
      const settled = settle(r.vs, r.state, 'reload');
      r.state = settled.state;
      this.effects(r, settled.effects);
      this.rearm(r);
    }
    for (const a of actions) this.deps.log.info(`Load balancer: reload: ${a.replace(/^balancer: /, '')}`);
    await this.applier.apply(this.plane());
    if (!this.countTimer && this.started) this.armCount();
    return actions;
  }

  /** Clean stop: checkers stop, `omega` notifies run (bounded), carpool's tables go, then its ipip devices. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const ac of this.probes) ac.abort();
    if (this.countTimer) clearTimeout(this.countTimer);
    this.countTimer = undefined;
    for (const s of this.services) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      this.feed(s, { type: 'shutdown' });
    }
    await this.applier.remove();
    await this.tunnels.remove();
    this.acct?.close();
    const drained = await Promise.race([this.hooks.drain().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref())]);
    if (!drained) this.hooks.killAll();
  }

  private serviceStatus(s: Runtime): BalancerServiceStatus {
    const mono = this.deps.now();
    const wall = Date.now();
    const vs = s.vs;
    const added = new Set(s.overrides.added.map((r) => serverKey(r.address, r.port)));
    return {
      name: vs.name, scheduler: vs.scheduler, method: vs.method, quorumUp: s.state.quorumUp, configName: s.m.configName,
      entries: s.m.entries.map((e) => e.name),
      ...(vs.persistence ? { persistenceSeconds: Math.round(vs.persistence.timeoutMs / 1000) } : {}),
      ...(s.suspended ? { suspended: true } : {}),
      ...(s.overrides.removed.length ? { removed: s.overrides.removed } : {}),
      servers: vs.realServers.map((rs, i) => {
        const st = s.state.servers[i]!;
        const counts = s.counts?.get(st.key);
        const stats = s.stats.get(st.key);
        const rates = s.rates?.get(st.key);
        return {
          key: st.key, health: st.health, admin: st.admin, configuredWeight: rs.weight, weight: effectiveWeight(rs, st) ?? null,
          ...(st.weightOverride !== undefined ? { weightOverride: st.weightOverride } : {}),
          ...(added.has(st.key) ? { runtime: true } : {}),
          ...(counts ? { active: counts.active, inactive: counts.inactive } : {}),
          ...(stats ? { stats: { ...stats } } : {}),
          ...(rates ? { rates: { cps: round(rates.cps), pps: round(rates.pps), bps: round(rates.bps) } } : {}),
          checkers: st.checkers.map((c, j) => ({
            name: rs.checkers[j]!.name, up: c.up,
            ...(c.last ? { last: { ok: c.last.ok, detail: c.last.detail ?? '', at: new Date(wall - (mono - c.last.at)).toISOString() } } : {}),
          })),
        };
      }),
    };
  }

  status(): BalancersStatus {
    const a = this.applier.status();
    return {
      services: this.services.map((s) => this.serviceStatus(s)),
      plane: { inForce: a.inForce, ...(a.pending ? { pending: true } : {}), applies: a.applies, failures: a.failures, ...(a.lastAppliedAt ? { lastAppliedAt: a.lastAppliedAt } : {}), ...(a.lastError ? { lastError: a.lastError } : {}) },
      ...(this.services.some((s) => s.countered) ? { accounting: { on: this.acct !== undefined, lostEvents: this.acct?.flows.lost ?? 0 } } : {}),
    };
  }
}

/** What is counted of a service: NAT flows by conntrack (any entries), per-server counters when every entry has a VIP and port. */
function counting(vs: VirtualService, m: MappedService): { counted: boolean; countered: boolean } {
  const counted = vs.method === 'nat';
  return { counted, countered: counted && m.entries.every((e) => e.match.kind === 'addr') };
}

/** Whether connection counts change a service's slot table: the count-based schedulers, and upper thresholds (overload). */
function countsMatter(vs: VirtualService): boolean {
  return needsCounts(vs.scheduler) || vs.realServers.some((r) => (r.upperThreshold ?? 0) > 0);
}

/** DR: the service with the egress device the kernel's routes gave. */
function withEgress(s: Runtime, egressDevice: string): void {
  s.m = { ...s.m, service: { ...s.m.service, egressDevice } };
  s.vs = { ...s.vs, egressDevice };
}

/** Real servers of a configured virtual server by key (what a reload compares). */
function configServers(m: MappedService): Map<string, ConfigRealServer> {
  return new Map(m.config.realServers.map((r) => [serverKey(r.address, r.port || undefined), r]));
}

function probeMap(m: MappedService, added: ReadonlyMap<string, readonly ProbeSpec[]>): Map<string, readonly ProbeSpec[]> {
  const out = new Map<string, readonly ProbeSpec[]>();
  m.service.realServers.forEach((rs: RealServer, i) => out.set(serverKey(rs.address, rs.port), m.probes[i] ?? []));
  for (const [k, p] of added) out.set(k, p);
  return out;
}

/**
 * Ids for `keys`, the ones in `previous` kept, and ids once given never given to another key
 * while the daemon runs (`previous` keeps the keys that went): a flow map or ct mark that
 * still holds an old id must not point at a different service or server.
 */
function keepIds(previous: ReadonlyMap<string, number>, keys: readonly string[]): Map<string, number> {
  return assignIds(previous, [...new Set([...previous.keys(), ...keys])]);
}

/** Ids of the servers (and the sorry server), the ones in `previous` kept (and not reused). */
function serverIds(vs: VirtualService, previous: ReadonlyMap<string, number>): Map<string, number> {
  const keys = [...vs.realServers.map((r) => serverKey(r.address, r.port)), ...(vs.sorryServer ? [serverKey(vs.sorryServer.address, vs.sorryServer.port)] : [])];
  return keepIds(previous, keys);
}

function checkWeight(w: number): void {
  if (!(Number.isInteger(w) && w >= 0 && w <= 0x7fffffff)) {
    throw new CarpoolError('BAD_WEIGHT', `weight ${w}: expected an integer 0..2147483647`, 'weight 0 drains the server (no new connections)');
  }
}

/** Core OperatorError → CarpoolError (code, message, hint). */
function operator<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OperatorError) throw new CarpoolError(err.code, err.message, err.hint);
    throw err;
  }
}

/** The plane must be able to hold it (duplicates, mixed ports...): PlaneError → CarpoolError. */
function planeCheck(plane: Plane): void {
  try {
    planObjects(plane);
  } catch (err) {
    if (err instanceof PlaneError) throw new CarpoolError(`PLANE_${err.code}`, err.message, err.hint);
    throw err;
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** A counter element's identity: family, set and key bytes (so `fd00::0001` and `fd00::1` are one key). */
function counterKeyId(family: string, set: string, key: string): string {
  try {
    return `${family}|${set}|${Buffer.from(encodeKey(keyLayout(`type ${family === 'ip' ? 'ipv4_addr' : 'ipv6_addr'} . inet_service . ${family === 'ip' ? 'ipv4_addr' : 'ipv6_addr'} . inet_service;`), key)).toString('hex')}`;
  } catch {
    return `${family}|${set}|${key}`;
  }
}

/**
 * `nft -j list set <family> carpool conns_tcp` (a set with element counters): each element
 * as key text (`10.0.0.1 . 80 . 10.1.0.2 . 8080`) with its packets and bytes. Anything else
 * in the document is ignored.
 */
export function parseSetCounters(json: string): { family: string; set: string; key: string; packets: number; bytes: number }[] {
  const out: { family: string; set: string; key: string; packets: number; bytes: number }[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return out;
  }
  const items = (doc as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) return out;
  for (const it of items as unknown[]) {
    const set = (it as { set?: { family?: unknown; name?: unknown; elem?: unknown } } | null)?.set;
    if (!set || typeof set.family !== 'string' || typeof set.name !== 'string' || !Array.isArray(set.elem)) continue;
    for (const e of set.elem as unknown[]) {
      const el = (e as { elem?: { val?: unknown; counter?: { packets?: unknown; bytes?: unknown } } } | null)?.elem;
      const parts = (el?.val as { concat?: unknown } | undefined)?.concat;
      const c = el?.counter;
      if (!Array.isArray(parts) || !c || typeof c.packets !== 'number' || typeof c.bytes !== 'number') continue;
      if (!parts.every((p) => typeof p === 'string' || typeof p === 'number')) continue;
      out.push({ family: set.family, set: set.name, key: parts.join(' . '), packets: c.packets, bytes: c.bytes });
    }
  }
  return out;
}

/** How often a suspended service looks for its address again: its shortest checker delay_loop. */
function suspendPollMs(vs: VirtualService): number {
  const loops = vs.realServers.flatMap((r) => r.checkers.map((c) => c.delayLoopMs));
  return Math.max(50, Math.min(1000, ...loops));
}
