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
 */
import type { BalancerConfig, Instance } from '../../config/model.js';
import type { BalancersStatus, BalancerServiceStatus } from '../../control/status.js';
import type { HealthEffect, HealthInput, ServiceHealth } from '../core/health.js';
import { effectiveWeight, initialHealth, nextDeadline, pool, step } from '../core/health.js';
import type { Plane, PlaneService } from '../core/nft.js';
import { assignIds, counterNames } from '../core/nft.js';
import { planService, type ConnCounts } from '../core/plan.js';
import { serverKey } from '../core/model.js';
import { needsCounts } from '../core/schedulers.js';
import { CarpoolError } from '../../lib/errors.js';
import { conntrackReader, countQuery, type ConntrackReader, type CountQuery } from './conntrack.js';
import { mapBalancers, type MappedBalancers, type MappedService } from '../from-config.js';
import { HookQueue } from '../../daemon/hooks.js';
import type { Logger } from '../../daemon/logger.js';
import { NftApplier, nftRunner, type NftRunner } from './nft-applier.js';
import { drEgress, ipRunner, ipipSupport, Tunnels, TUN_HINT, type IpRunner } from './direct.js';
import { runProbe } from './probes.js';

export interface BalancerDeps {
  readonly log: Logger;
  /** Monotonic ms. */
  readonly now: () => number;
  /** Replaceable for tests; default runs `nft`. */
  readonly nft?: NftRunner;
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
}

/**
 * How often connection counts and counters are read, and the count-based schedulers'
 * tables rebuilt: IPVS decides per connection, here per period, so the period should hold
 * a few new connections per server (docs/balancer.md).
 */
export const DEFAULT_COUNT_INTERVAL_MS = 1000;

interface Totals { connections: number; packets: number; bytes: number }

interface Runtime {
  /** Replaced once at start, when a DR service learns its egress device. */
  m: MappedService;
  readonly id: number;
  readonly serverIds: Map<string, number>;
  state: ServiceHealth;
  timer: NodeJS.Timeout | undefined;
  /** NAT on VIP:port: conntrack counts it, the plane holds its counters. */
  readonly counted: boolean;
  /** Latest counts per server key (from the last successful read). */
  counts: Map<string, ConnCounts> | undefined;
  /** New connections in the last period (sum over servers): the count-based tables' estimate. */
  expected: number | undefined;
  /** Totals since start and rates over the last period, per server key. */
  readonly stats: Map<string, Totals>;
  rates: Map<string, { cps: number; pps: number; bps: number }> | undefined;
}

export class Balancer {
  private readonly mapped: MappedBalancers;
  private readonly services: Runtime[];
  private readonly applier: NftApplier;
  private readonly hooks: HookQueue;
  private readonly probes = new Set<AbortController>();
  private readonly tunnels: Tunnels;
  /** `carpool check`: TUN services name a stand-in device, nothing is made. */
  private standIn = false;
  private stopped = false;
  private readonly conntrack: ConntrackReader;
  private readonly countIntervalMs: number;
  private countTimer: NodeJS.Timeout | undefined;
  /** Raw nft counter values at the last read, and what earlier incarnations had counted (a counter restarts at 0 when re-created). */
  private readonly rawCounters = new Map<string, { packets: number; bytes: number }>();
  private readonly counterBase = new Map<string, { packets: number; bytes: number }>();
  private lastSampleAt: number | undefined;

  /** Maps the configuration; throws BALANCER_NOT_SUPPORTED for what cannot run yet. */
  constructor(cfg: BalancerConfig, private readonly deps: BalancerDeps) {
    this.mapped = mapBalancers(cfg, deps.instances ?? []);
    const ids = assignIds(new Map(), this.mapped.services.map((m) => m.service.name));
    this.services = this.mapped.services.map((m) => {
      const vs = m.service;
      const keys = [...vs.realServers.map((r) => serverKey(r.address, r.port)), ...(vs.sorryServer ? [serverKey(vs.sorryServer.address, vs.sorryServer.port)] : [])];
      return {
        m, id: ids.get(vs.name)!, serverIds: assignIds(new Map(), [...new Set(keys)]), state: initialHealth(vs), timer: undefined,
        counted: vs.method === 'nat' && vs.match.kind === 'addr', counts: undefined, expected: undefined, stats: new Map(), rates: undefined,
      };
    });
    this.applier = new NftApplier(deps.log, deps.nft ?? nftRunner());
    this.hooks = deps.hooks ?? new HookQueue(deps.log);
    this.conntrack = deps.conntrack ?? conntrackReader();
    this.countIntervalMs = deps.countIntervalMs ?? cfg.countIntervalMs ?? DEFAULT_COUNT_INTERVAL_MS;
    this.tunnels = new Tunnels(deps.ip ?? ipRunner);
    this.tunnels.plan(this.services.map((s) => s.m.service));
  }

  /** DR: each service's egress device from the kernel's routes to its real servers (read only). */
  private async resolveEgress(): Promise<void> {
    for (const s of this.services) {
      const vs = s.m.service;
      if (vs.method !== 'dr') continue;
      const egressDevice = await drEgress(vs, this.deps.ip ?? ipRunner);
      s.m = { ...s.m, service: { ...vs, egressDevice } };
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
    const plane = this.plane();
    await this.applier.apply(plane);
    const st = this.applier.status();
    if (!st.inForce) this.deps.log.error(`Load balancer: the first ruleset is not in force yet (${st.lastError ?? 'unknown'}); retrying`);
    for (const s of this.services) {
      this.deps.log.info(`Load balancer: ${s.m.service.name} ${s.m.service.scheduler}/${s.m.service.method}, ${s.m.service.realServers.length} real server(s)`);
      this.feed(s, { type: 'start', jitter: Math.random() });
    }
    this.lastSampleAt = this.deps.now();
    this.armCount();
  }

  private plane(): Plane {
    const services: PlaneService[] = this.services.map((s) => {
      const vs = s.m.service;
      const tunnels = vs.method === 'tun' ? this.tunnels.devices(vs) : undefined;
      const tunnelDevices = tunnels && this.standIn ? new Map([...tunnels.keys()].map((k) => [k, 'lo'])) : tunnels;
      const live = pool(vs, s.state);
      const expected = Math.max(s.expected ?? 0, live.length);
      return {
        ...planService(vs, { id: s.id, serverIds: s.serverIds, members: live, ...(s.counts ? { counts: s.counts } : {}), expected, ...(tunnelDevices ? { tunnelDevices } : {}) }),
        ...(s.counted ? { counters: true } : {}),
      };
    });
    return { services };
  }

  /** conntrack queries: every NAT service on VIP:port with its configured servers. */
  private queries(): CountQuery[] {
    return this.services.filter((s) => s.counted && s.m.service.match.kind === 'addr').map((s) => {
      const vs = s.m.service;
      const match = vs.match as { vip: string; port: number };
      return countQuery(vs.name, vs.family, vs.protocol, match.vip, match.port, vs.realServers);
    });
  }

  private takeCounts(r: Awaited<ReturnType<ConntrackReader>>): void {
    for (const s of this.services) {
      const c = r.counts.get(s.m.service.name);
      if (c) s.counts = c;
    }
    if (r.malformed > 0) this.deps.log.logLimited('warning', `Load balancer: ${r.malformed} of ${r.lines} conntrack line(s) not understood, dropped`, 'balancer:conntrack-malformed');
  }

  private armCount(): void {
    if (this.stopped || !this.services.some((s) => s.counted)) return;
    this.countTimer = setTimeout(() => {
      this.countTimer = undefined;
      void this.sample().finally(() => this.armCount());
    }, this.countIntervalMs);
  }

  /**
   * One count period: conntrack counts and the plane's counters, read side by side; totals,
   * rates and the count-based tables follow. A failed read keeps the last values (logged,
   * rate-limited); the plane changes only when a count-based table does.
   */
  private async sample(): Promise<void> {
    const families = [...new Set(this.services.filter((s) => s.counted).map((s) => (s.m.service.family === 'ipv4' ? 'ip' : 'ip6')))];
    const [ct, ...lists] = await Promise.allSettled([
      this.conntrack(this.queries()),
      ...families.map((f) => (this.deps.nft ?? nftRunner())(['-j', 'list', 'counters', 'table', f, 'carpool'])),
    ]);
    if (this.stopped) return;
    const now = this.deps.now();
    const dt = (now - (this.lastSampleAt ?? now)) / 1000;
    this.lastSampleAt = now;
    if (ct.status === 'fulfilled') this.takeCounts(ct.value);
    else this.deps.log.logLimited('warning', `Load balancer: cannot read connection counts, the last ones stay: ${(ct.reason as Error).message}`, 'balancer:conntrack');
    const raw = new Map<string, { packets: number; bytes: number }>();
    for (const l of lists) {
      if (l.status === 'fulfilled' && l.value.code === 0) for (const [k, v] of parseCounters(l.value.stdout)) raw.set(k, v);
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
    let replan = false;
    for (const s of this.services) {
      if (!s.counted) continue;
      const rates = new Map<string, { cps: number; pps: number; bps: number }>();
      let fresh = 0;
      for (const [key, sid] of s.serverIds) {
        const n = counterNames(s.id, sid);
        const traffic = total(n.traffic);
        const t: Totals = { connections: total(n.conns).packets, packets: traffic.packets, bytes: traffic.bytes };
        const prev = s.stats.get(key);
        s.stats.set(key, t);
        if (prev && dt > 0) {
          fresh += t.connections - prev.connections;
          rates.set(key, { cps: (t.connections - prev.connections) / dt, pps: (t.packets - prev.packets) / dt, bps: (t.bytes - prev.bytes) / dt });
        }
      }
      if (rates.size) s.rates = rates;
      if (needsCounts(s.m.service.scheduler)) {
        s.expected = fresh;
        replan = true;
      }
    }
    if (replan) await this.applier.apply(this.plane());
  }

  private feed(s: Runtime, input: HealthInput): void {
    if (this.stopped && input.type !== 'shutdown') return;
    const r = step(s.m.service, s.state, input, this.deps.now());
    s.state = r.state;
    let changed = false;
    for (const e of r.effects) changed = this.effect(s, e) || changed;
    if (changed) void this.applier.apply(this.plane());
    this.rearm(s);
  }

  /** Carry out one effect; true when the pool may have changed. */
  private effect(s: Runtime, e: HealthEffect): boolean {
    const name = s.m.service.name;
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
        const hook = this.mapped.hooks.get(e.command);
        if (hook) void this.hooks.enqueue({ hook, args: [], env: {}, label: `${name} ${e.reason}` });
        return false;
      }
    }
  }

  private probe(s: Runtime, server: string, checker: number): void {
    const idx = s.m.service.realServers.findIndex((r) => serverKey(r.address, r.port) === server);
    const spec = s.m.probes[idx]?.[checker];
    if (!spec) return;
    const ac = new AbortController();
    this.probes.add(ac);
    void runProbe(spec, ac.signal).then((r) => {
      this.probes.delete(ac);
      if (this.stopped) return;
      this.feed(s, {
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
      this.feed(s, { type: 'tick' });
    }, Math.max(0, at - this.deps.now()));
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
    const drained = await Promise.race([this.hooks.drain().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref())]);
    if (!drained) this.hooks.killAll();
  }

  status(): BalancersStatus {
    const mono = this.deps.now();
    const wall = Date.now();
    const services = this.services.map((s): BalancerServiceStatus => {
      const vs = s.m.service;
      return {
        name: vs.name, scheduler: vs.scheduler, method: vs.method, quorumUp: s.state.quorumUp,
        servers: vs.realServers.map((rs, i) => {
          const st = s.state.servers[i]!;
          const counts = s.counts?.get(st.key);
          const stats = s.stats.get(st.key);
          const rates = s.rates?.get(st.key);
          return {
            key: st.key, health: st.health, admin: st.admin, configuredWeight: rs.weight, weight: effectiveWeight(rs, st) ?? null,
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
    });
    const a = this.applier.status();
    return {
      services,
      plane: { inForce: a.inForce, applies: a.applies, failures: a.failures, ...(a.lastAppliedAt ? { lastAppliedAt: a.lastAppliedAt } : {}), ...(a.lastError ? { lastError: a.lastError } : {}) },
    };
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** `nft -j list counters`: name → packets, bytes. Anything else in the document is ignored. */
export function parseCounters(json: string): Map<string, { packets: number; bytes: number }> {
  const out = new Map<string, { packets: number; bytes: number }>();
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return out;
  }
  const items = (doc as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) return out;
  for (const it of items as unknown[]) {
    const c = (it as { counter?: { name?: unknown; packets?: unknown; bytes?: unknown } } | null)?.counter;
    if (c && typeof c.name === 'string' && typeof c.packets === 'number' && typeof c.bytes === 'number') out.set(c.name, { packets: c.packets, bytes: c.bytes });
  }
  return out;
}
