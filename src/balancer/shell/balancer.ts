/**
 * The balancer shell: carries the core's decisions out. Per virtual service it feeds the
 * health `step` (start with a random jitter, ticks at `nextDeadline`, probe results,
 * shutdown), runs the probes it asks for (bounded, asynchronous: never in the way of an
 * advert), runs notify / quorum commands without a shell on its own queue of the daemon's
 * hook runner (a slow notify script delays no VRRP hook; `hook_timeout` applies), and after every change of the pools hands the desired
 * plane to the nftables applier. Both directors hold the rules; the VIP decides who gets the
 * traffic (rules for a VIP this node does not hold match no packet).
 */
import type { BalancerConfig } from '../../config/model.js';
import type { BalancersStatus, BalancerServiceStatus } from '../../control/status.js';
import type { HealthEffect, HealthInput, ServiceHealth } from '../core/health.js';
import { effectiveWeight, initialHealth, nextDeadline, pool, step } from '../core/health.js';
import type { Plane, PlaneService } from '../core/nft.js';
import { assignIds } from '../core/nft.js';
import { planService } from '../core/plan.js';
import { serverKey } from '../core/model.js';
import { mapBalancers, type MappedBalancers, type MappedService } from '../from-config.js';
import { HookQueue } from '../../daemon/hooks.js';
import type { Logger } from '../../daemon/logger.js';
import { NftApplier, nftRunner, type NftRunner } from './nft-applier.js';
import { runProbe } from './probes.js';

export interface BalancerDeps {
  readonly log: Logger;
  /** Monotonic ms. */
  readonly now: () => number;
  /** Replaceable for tests; default runs `nft`. */
  readonly nft?: NftRunner;
  /** Where notify / quorum scripts run: the daemon gives the balancer its own queue (default: a new one). */
  readonly hooks?: HookQueue;
}

interface Runtime {
  readonly m: MappedService;
  readonly id: number;
  readonly serverIds: Map<string, number>;
  state: ServiceHealth;
  timer: NodeJS.Timeout | undefined;
}

export class Balancer {
  private readonly mapped: MappedBalancers;
  private readonly services: Runtime[];
  private readonly applier: NftApplier;
  private readonly hooks: HookQueue;
  private readonly probes = new Set<AbortController>();
  private stopped = false;

  /** Maps the configuration; throws BALANCER_NOT_SUPPORTED for what cannot run yet. */
  constructor(cfg: BalancerConfig, private readonly deps: BalancerDeps) {
    this.mapped = mapBalancers(cfg);
    const ids = assignIds(new Map(), this.mapped.services.map((m) => m.service.name));
    this.services = this.mapped.services.map((m) => {
      const vs = m.service;
      const keys = [...vs.realServers.map((r) => serverKey(r.address, r.port)), ...(vs.sorryServer ? [serverKey(vs.sorryServer.address, vs.sorryServer.port)] : [])];
      return { m, id: ids.get(vs.name)!, serverIds: assignIds(new Map(), [...new Set(keys)]), state: initialHealth(vs), timer: undefined };
    });
    this.applier = new NftApplier(deps.log, deps.nft ?? nftRunner());
    this.hooks = deps.hooks ?? new HookQueue(deps.log);
  }

  /** Check nft and the kernel, put the first plane in force (replacing a stale table), start the checkers. */
  async start(): Promise<void> {
    for (const s of this.services) for (const w of s.m.warnings) this.deps.log.warning(w);
    const plane = this.plane();
    await this.applier.check(plane);
    await this.applier.apply(plane);
    const st = this.applier.status();
    if (!st.inForce) this.deps.log.error(`Load balancer: the first ruleset is not in force yet (${st.lastError ?? 'unknown'}); retrying`);
    for (const s of this.services) {
      this.deps.log.info(`Load balancer: ${s.m.service.name} ${s.m.service.scheduler}/${s.m.service.method}, ${s.m.service.realServers.length} real server(s)`);
      this.feed(s, { type: 'start', jitter: Math.random() });
    }
  }

  private plane(): Plane {
    const services: PlaneService[] = this.services.map((s) => planService(s.m.service, { id: s.id, serverIds: s.serverIds, members: pool(s.m.service, s.state) }));
    return { services };
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

  /** Clean stop: checkers stop, `omega` notifies run (bounded), carpool's tables go. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const ac of this.probes) ac.abort();
    for (const s of this.services) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      this.feed(s, { type: 'shutdown' });
    }
    await this.applier.remove();
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
          return {
            key: st.key, health: st.health, admin: st.admin, configuredWeight: rs.weight, weight: effectiveWeight(rs, st) ?? null,
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
