/**
 * The ResourceManager: the shell around the group machines. It owns one timer per group,
 * runs agent actions asynchronously (never blocking the event loop, so adverts keep flowing
 * while an agent hangs), feeds results and instance transitions back in, and asks the
 * failover instances for standby when a group cannot run here.
 *
 * Wiring (src/daemon/daemon.ts): construct it with the validated `resources` config and a
 * `setStandby(instance, on, reason)` callback, call `start()`, feed every instance transition
 * to `instanceChanged()`, answer `resource.*` control commands with `command()`/`list()`/
 * `status()`, and `await shutdown()` before the instances bow out on exit; the instances in
 * `blockedInstances()` then stay until `holdWhileBlocked()` returns.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DEFAULT_OP_TIMEOUT_MS, type FenceCommand, type Resource, type ResourceGroup, type ResourcesConfig } from '../../config/model.js';
import { CarpoolError } from '../../lib/errors.js';
import { assertNever } from '../../lib/assert-never.js';
import { GroupMachine } from '../core/machine.js';
import { orderGates } from '../core/order.js';
import type { GroupEffect, GroupInput, GroupSpec } from '../core/group-model.js';
import type { LogLevel } from '../../lib/log-level.js';
import { INFINITY, type FailedAction, type ResourcesStatus } from '../core/status.js';
import { formatDuration } from '../core/duration.js';
import { AgentRunner, agentLabel, type AgentResult } from './agents.js';
import { spawnAgent } from './spawn.js';

export interface ResourceManagerDeps {
  readonly config: ResourcesConfig;
  readonly log: { log(level: LogLevel, text: string): void };
  /** Monotonic clock in ms. */
  readonly now: () => number;
  /** Put an instance in standby (never take over, hand over at once) or lift it. */
  readonly setStandby: (instance: string, on: boolean, reason: string) => void;
  readonly runner?: AgentRunner;
  /** File that keeps operator moves across daemon restarts (failcounts are transient, as in Pacemaker). */
  readonly stateFile?: string;
}

/** One configured resource as `carpool resource list` shows it. */
export interface ResourceListEntry {
  readonly id: string;
  readonly agent: string;
  readonly group: string;
  readonly instance: string;
  readonly params: Readonly<Record<string, string>>;
  readonly ops: readonly string[];
  readonly migrationThreshold: number;
  readonly failureTimeoutMs: number;
}

export type ResourceCommand = 'cleanup' | 'move' | 'clear' | 'restart';

interface GroupRuntime {
  readonly machine: GroupMachine;
  timer: NodeJS.Timeout | undefined;
  armedFor: number | undefined;
  readonly running: Map<number, AbortController>;
  readonly queue: GroupInput[];
  stepping: boolean;
  stopped: (() => void) | undefined;
  isStopped: boolean;
}

interface StateFile {
  readonly moved: readonly string[];
}

export class ResourceManager {
  private readonly groups = new Map<string, GroupRuntime>();
  private readonly resources = new Map<string, Resource>();
  private readonly groupOf = new Map<string, string>();
  /** Fence commands by group id. */
  private readonly fences = new Map<string, FenceCommand>();
  private readonly runner: AgentRunner;
  /** Groups that want their instance in standby (with their reason), per instance. */
  private readonly standbyWanted = new Map<string, Map<string, string>>();
  /** What each instance was last told (standby on = true). */
  private readonly standbyTold = new Map<string, boolean>();
  /** Instances whose standby waits for a blocked group (logged once per wait). */
  private readonly standbyDeferred = new Set<string>();
  private started = false;
  /** The order gates last fed to each group (`core/order.ts`), as a comparable key. */
  private readonly gatesFed = new Map<string, string>();
  private ordering = false;
  /** Ends the wait of `holdWhileBlocked()`: with a reason when forced, without when nothing is blocked any more. */
  private releaseHold: ((forced: string | undefined) => void) | undefined;

  /** The resources configuration in force (a reload replaces it). */
  private cfg: ResourcesConfig;

  constructor(private readonly deps: ResourceManagerDeps) {
    this.cfg = deps.config;
    this.runner = deps.runner ?? new AgentRunner();
    for (const r of deps.config.resources) this.resources.set(r.id, r);
    const moved = new Set(this.readState().moved);
    for (const g of deps.config.groups) this.addGroup(g, moved.has(g.id));
  }

  private addGroup(g: ResourceGroup, moved: boolean): void {
    if (g.fence) this.fences.set(g.id, g.fence);
    const spec: GroupSpec = {
      id: g.id, instance: g.instance, ...(g.fence ? { fence: { timeoutMs: g.fence.timeoutMs } } : {}), ...(g.after?.length ? { after: g.after } : {}),
      members: g.members.map((id) => {
        const r = this.resources.get(id)!;
        this.groupOf.set(id, g.id);
        return {
          id, agent: agentLabel(r.agent), start: r.start, stop: r.stop, ...(r.monitor ? { monitor: r.monitor } : {}),
          probeTimeoutMs: r.monitor?.timeoutMs ?? DEFAULT_OP_TIMEOUT_MS, migrationThreshold: r.migrationThreshold, failureTimeoutMs: r.failureTimeoutMs,
        };
      }),
    };
    this.groups.set(g.id, {
      machine: new GroupMachine(spec, { moved }), timer: undefined, armedFor: undefined, running: new Map(),
      queue: [], stepping: false, stopped: undefined, isStopped: false,
    });
  }

  // --- live reload (src/daemon/reload.ts) ---------------------------------------------------

  /** Groups a stop could not stop (a reload that would stop them is refused). */
  blockedGroups(): string[] {
    return [...this.groups.entries()].filter(([, g]) => g.machine.blocked).map(([id]) => id);
  }

  /**
   * Live reload: stop the groups `ids` (removed, or changed and started again by `addGroups`),
   * in reverse order as at shutdown, and forget them. Resolves once they stopped (bounded by
   * their stop timeouts); returns the ids that did not stop.
   */
  async removeGroups(ids: readonly string[]): Promise<string[]> {
    const failed: string[] = [];
    await Promise.all(ids.map(async (id) => {
      const g = this.groups.get(id);
      if (!g) return;
      const bound = g.machine.spec.members.reduce((t, m) => t + m.stop.timeoutMs, 0) + 5000;
      if (!g.isStopped) {
        let timer: NodeJS.Timeout | undefined;
        const stopped = new Promise<boolean>((resolve) => { g.stopped = () => resolve(true); });
        this.input(id, { type: 'shutdown' });
        const ok = await Promise.race([stopped, new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), bound); })]);
        clearTimeout(timer);
        if (!ok || g.machine.active) failed.push(id);
      }
      if (g.timer) clearTimeout(g.timer);
      for (const ac of g.running.values()) ac.abort();
      this.groups.delete(id);
      this.gatesFed.delete(id);
      this.fences.delete(id);
      for (const m of g.machine.spec.members) {
        this.groupOf.delete(m.id);
        this.resources.delete(m.id);
      }
      this.standby(id, g.machine.spec.instance, false, `group ${id} removed by a reload`);
    }));
    return failed;
  }

  /**
   * Live reload: `config` is in force; its groups `ids` (added or changed) begin as at start
   * (probes), told the current state of their instance.
   */
  addGroups(config: ResourcesConfig, ids: readonly string[], stateOf: (instance: string) => string | undefined): void {
    this.cfg = config;
    const moved = new Set(this.readState().moved);
    for (const id of ids) {
      const g = config.groups.find((x) => x.id === id);
      if (!g) continue;
      for (const m of g.members) this.resources.set(m, config.resources.find((r) => r.id === m)!);
      this.addGroup(g, moved.has(id));
      const rt = this.groups.get(id)!;
      if (this.started) this.apply(id, rt, rt.machine.begin(this.deps.now()));
      const state = stateOf(g.instance);
      if (state !== undefined) this.input(id, { type: 'instance', state });
    }
    this.syncOrder();
  }

  get node(): string {
    return this.runner.host.node;
  }

  /** Begin: probe every resource (in parallel) to learn what runs here. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const [id, g] of this.groups) this.apply(id, g, g.machine.begin(this.deps.now()));
    this.syncOrder();
  }

  /**
   * Every transition of every instance (groups bound to others ignore it), with its reason and
   * the master last heard: becoming MASTER by a master-down timeout makes fencing needed.
   */
  instanceChanged(instance: string, state: string, reason?: string, peer?: string): void {
    for (const [id, g] of this.groups) {
      if (g.machine.spec.instance === instance) {
        this.input(id, { type: 'instance', state, ...(reason !== undefined ? { reason } : {}), ...(peer !== undefined ? { peer } : {}) });
      }
    }
  }

  /** The group of a group or resource id; throws NO_SUCH_RESOURCE with the known ids. */
  private resolve(target: string | undefined, cmd: string): { group: string; resource?: string } {
    if (target === undefined) {
      if (this.groups.size === 1) return { group: [...this.groups.keys()][0]! };
      throw new CarpoolError('RESOURCE_TARGET_NEEDED', `resource ${cmd} needs a group or resource id`, `known groups: ${[...this.groups.keys()].join(', ')}`);
    }
    if (this.groups.has(target)) return { group: target };
    const g = this.groupOf.get(target);
    if (g !== undefined) return { group: g, resource: target };
    throw new CarpoolError('NO_SUCH_RESOURCE', `no group or resource named '${target}'`,
      `known: ${[...this.groups.keys(), ...this.resources.keys()].join(', ')}`);
  }

  /**
   * Operator commands. `move` and `clear` act on the whole group (a group runs in one place);
   * `cleanup` without a target cleans every group; `restart` restarts a member (and those
   * after it) or the whole group in place.
   */
  command(cmd: ResourceCommand, target?: string): ResourcesStatus {
    if (cmd === 'cleanup' && target === undefined) {
      for (const id of this.groups.keys()) this.input(id, { type: 'cleanup' });
      return this.status();
    }
    const { group, resource } = this.resolve(target, cmd);
    const g = this.groups.get(group)!;
    switch (cmd) {
      case 'cleanup': this.input(group, { type: 'cleanup', ...(resource ? { resource } : {}) }); break;
      case 'restart': {
        const st = g.machine.status(this.deps.now());
        const m = resource ? st.members.find((x) => x.id === resource) : st.members[0];
        if (m?.state !== 'Started') {
          throw new CarpoolError('RESOURCE_NOT_RUNNING', `${resource ?? group} is not running here (${m?.state ?? st.state})`,
            'restart acts where the group runs: ask the node that is master of its instance');
        }
        this.input(group, { type: 'restart', ...(resource ? { resource } : {}) });
        break;
      }
      case 'move':
      case 'clear':
        this.input(group, { type: cmd });
        this.saveState();
        break;
    }
    return this.status();
  }

  list(): ResourceListEntry[] {
    return this.cfg.groups.flatMap((g) => g.members.map((id) => {
      const r = this.resources.get(id)!;
      const ops = [`start timeout=${formatDuration(r.start.timeoutMs)} on-fail=${r.start.onFail}`, `stop timeout=${formatDuration(r.stop.timeoutMs)} on-fail=${r.stop.onFail}`];
      if (r.monitor) ops.push(`monitor interval=${formatDuration(r.monitor.intervalMs)} timeout=${formatDuration(r.monitor.timeoutMs)} on-fail=${r.monitor.onFail}`);
      return { id, agent: agentLabel(r.agent), group: g.id, instance: g.instance, params: r.params, ops, migrationThreshold: r.migrationThreshold, failureTimeoutMs: r.failureTimeoutMs };
    }));
  }

  status(): ResourcesStatus {
    const now = this.deps.now();
    const groups = [...this.groups.values()].map((g) => g.machine.status(now));
    const failedActions: FailedAction[] = groups.flatMap((g) => [
      ...(g.fence?.lastFailure ? [g.fence.lastFailure] : []),
      ...g.members.flatMap((m) => (m.lastFailure ? [m.lastFailure] : [])),
    ])
      .sort((a, b) => b.at.localeCompare(a.at));
    return { node: this.node, groups, failedActions };
  }

  /** Stop every group (reverse order within each), bounded by the stop timeouts. Idempotent. */
  async shutdown(): Promise<void> {
    const waits: Promise<void>[] = [];
    let bound = 0;
    for (const [id, g] of this.groups) {
      bound = Math.max(bound, g.machine.spec.members.reduce((s, m) => s + m.stop.timeoutMs + m.start.timeoutMs, 0));
      if (g.isStopped) continue;
      waits.push(new Promise<void>((resolve) => { g.stopped = resolve; }));
      this.input(id, { type: 'shutdown' });
    }
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), bound + 5000); });
    const done = await Promise.race([Promise.all(waits).then(() => 'done' as const), limit]);
    clearTimeout(timer);
    if (done === 'timeout') this.deps.log.log('error', 'resources: stopping took longer than the stop timeouts allow; what has not stopped counts as blocked');
    for (const g of this.groups.values()) {
      if (g.timer) clearTimeout(g.timer);
      g.timer = undefined;
      for (const ac of g.running.values()) ac.abort();
    }
  }

  /** Groups that hold a member not known to be stopped (after `shutdown()`: could not be stopped). */
  private activeGroups(): GroupRuntime[] {
    return [...this.groups.values()].filter((g) => g.machine.active);
  }

  /**
   * After `shutdown()`: the instances that must not be handed over, because a group bound to
   * them could not be stopped (blocked) and nothing proves its service is down here — a peer
   * taking the instance would start it a second time (issue 11).
   */
  blockedInstances(): string[] {
    return [...new Set(this.activeGroups().map((g) => g.machine.spec.instance))];
  }

  /**
   * After `shutdown()`: wait while a group could not be stopped, so the daemon keeps its
   * instances (`blockedInstances()`). Returns when `carpool resource cleanup` made the retried
   * stop succeed, or when the operator forces it (`forceRelease()`, a second SIGTERM) — then
   * the service may run on two nodes, and the log says so at error level.
   */
  async holdWhileBlocked(): Promise<void> {
    const held = this.activeGroups().map((g) => g.machine.spec.id);
    if (held.length === 0) return;
    const instances = this.blockedInstances().join(', ');
    const groups = held.join(', ');
    this.deps.log.log('error', `resources: keeping instance ${instances} here (no bow-out, no hand-over): ` +
      `group ${groups} could not be stopped, and a peer would start it a second time. ` +
      `\`carpool resource cleanup ${held[0]}\` retries the stop; a second SIGTERM forces the hand-over`);
    const forced = await new Promise<string | undefined>((resolve) => { this.releaseHold = resolve; });
    this.releaseHold = undefined;
    if (forced !== undefined) {
      this.deps.log.log('error', `resources: FORCED stop (${forced}): handing instance ${instances} over although group ${groups} ` +
        `could not be stopped — the service may now run on two nodes; stop it on ${this.node} by hand`);
    } else {
      this.deps.log.log('notice', `resources: group ${groups} stopped after cleanup; handing instance ${instances} over`);
    }
  }

  /** Operator force (a second signal): end `holdWhileBlocked()`. False when nothing is held. */
  forceRelease(reason: string): boolean {
    const release = this.releaseHold;
    if (!release) return false;
    release(reason);
    return true;
  }

  // --- the loop ----------------------------------------------------------------------------

  private input(id: string, inp: GroupInput): void {
    const g = this.groups.get(id)!;
    g.queue.push(inp);
    if (g.stepping) return;
    g.stepping = true;
    try {
      let next: GroupInput | undefined;
      while ((next = g.queue.shift())) this.apply(id, g, g.machine.step(next, this.deps.now()));
    } finally {
      g.stepping = false;
    }
    this.rearm(id, g);
    this.syncOrder();
    // A cleanup during holdWhileBlocked() let the stop through: the instances may go now.
    if (this.releaseHold && this.activeGroups().length === 0) this.releaseHold(undefined);
    // A standby that waited for a blocked group goes once that group is cleaned up.
    for (const instance of this.standbyDeferred) this.updateStandby(instance);
  }

  /**
   * Order between groups: after any group stepped, hand every group its gate (`core/order.ts`)
   * when it changed. A gate fed may change another group's readiness, hence the loop; it ends
   * because a gate is fed only when it differs from the last one.
   */
  private syncOrder(): void {
    if (this.ordering || !this.cfg.groups.some((g) => g.after?.length)) return;
    this.ordering = true;
    try {
      for (let changed = true; changed;) {
        changed = false;
        const nodes = [...this.groups.entries()].map(([id, g]) => ({
          id, after: g.machine.spec.after ?? [], ready: g.machine.ready, active: g.machine.active, blocked: g.machine.blocked,
        }));
        for (const [id, gate] of orderGates(nodes)) {
          const key = JSON.stringify(gate);
          if (this.gatesFed.get(id) === key) continue;
          this.gatesFed.set(id, key);
          this.input(id, { type: 'order', ...gate });
          changed = true;
        }
      }
    } finally {
      this.ordering = false;
    }
  }

  private apply(id: string, g: GroupRuntime, fx: GroupEffect[]): void {
    for (const e of fx) {
      switch (e.type) {
        case 'run': this.runAction(id, g, e.call); break;
        case 'fence': this.runFence(id, g, e); break;
        case 'cancel': {
          g.running.get(e.callId)?.abort();
          g.running.delete(e.callId);
          break;
        }
        case 'standby': this.standby(id, g.machine.spec.instance, e.on, e.reason); break;
        case 'log': this.deps.log.log(e.level, `resources: ${e.message}`); break;
        case 'stopped':
          g.isStopped = true;
          g.stopped?.();
          break;
        default:
          assertNever(e);
      }
    }
    this.rearm(id, g);
  }

  private runAction(id: string, g: GroupRuntime, call: Extract<GroupEffect, { type: 'run' }>['call']): void {
    const r = this.resources.get(call.resource)!;
    const ac = new AbortController();
    g.running.set(call.callId, ac);
    const feed = (res: AgentResult) => {
      if (!g.running.delete(call.callId)) return; // cancelled
      this.input(id, {
        type: 'result', callId: call.callId, outcome: res.outcome, exitReason: res.exitReason, output: res.output,
        execMs: res.execMs, at: new Date().toISOString(),
      });
    };
    this.runner.run(r, { action: call.action, intervalMs: call.intervalMs, timeoutMs: call.timeoutMs, ...(call.checkLevel !== undefined ? { checkLevel: call.checkLevel } : {}) }, ac.signal)
      .then(feed, (err: unknown) => {
        // A bug in the runner must not take the daemon down: it is a failed action like any other.
        this.deps.log.log('error', `resources: internal error running ${call.action} of ${call.resource}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
        feed({ outcome: { kind: 'exited', rc: 1 }, exitReason: `internal error: ${err instanceof Error ? err.message : String(err)}`, output: '', stdout: '', execMs: 0 });
      });
  }

  /**
   * The group's fence command: no shell, its own process group, killed at the timeout (as an
   * agent). Its environment says whom and why: CARPOOL_GROUP, CARPOOL_INSTANCE, CARPOOL_NODE
   * (this node), CARPOOL_PEER (the master last heard, when known), CARPOOL_REASON.
   */
  private runFence(id: string, g: GroupRuntime, e: Extract<GroupEffect, { type: 'fence' }>): void {
    const fence = this.fences.get(id)!;
    const ac = new AbortController();
    g.running.set(e.callId, ac);
    const env: NodeJS.ProcessEnv = {
      ...process.env, CARPOOL_GROUP: id, CARPOOL_INSTANCE: g.machine.spec.instance, CARPOOL_NODE: this.node,
      CARPOOL_REASON: e.reason, ...(e.peer ? { CARPOOL_PEER: e.peer } : {}),
    };
    this.deps.log.log('warning', `resources: ${id}: running fence [${fence.argv.join(' ')}]${e.peer ? ` against peer ${e.peer}` : ''}`);
    void spawnAgent({ file: fence.argv[0]!, args: fence.argv.slice(1), env, timeoutMs: e.timeoutMs, signal: ac.signal }).then((res) => {
      if (!g.running.delete(e.callId)) return; // cancelled
      this.input(id, {
        type: 'fenceResult', callId: e.callId, outcome: res.outcome, exitReason: res.exitReason, output: res.stderrTail,
        execMs: res.execMs, at: new Date().toISOString(),
      });
    });
  }

  private standby(group: string, instance: string, on: boolean, reason: string): void {
    let wanted = this.standbyWanted.get(instance);
    if (!wanted) this.standbyWanted.set(instance, (wanted = new Map<string, string>()));
    if (on) wanted.set(group, reason); else wanted.delete(group);
    this.updateStandby(instance, on ? undefined : reason);
  }

  /**
   * Standby on while a group wants it — but never while another group of the instance is
   * blocked here: the peer would start that one too, and it may still run here (issue 11).
   */
  private updateStandby(instance: string, offReason?: string): void {
    const wanted = this.standbyWanted.get(instance);
    const first = wanted?.entries().next().value;
    const blocked = first ? [...this.groups.values()].filter((g) => g.machine.spec.instance === instance && g.machine.blocked).map((g) => g.machine.spec.id) : [];
    const on = first !== undefined && blocked.length === 0;
    if (first && blocked.length > 0 && !this.standbyDeferred.has(instance)) {
      this.standbyDeferred.add(instance);
      this.deps.log.log('error', `resources: not handing instance ${instance} over (${first[1]}): group ${blocked.join(', ')} is blocked here ` +
        `and would then run on two nodes; \`carpool resource cleanup ${blocked[0]}\` lets it go`);
    }
    if (on || !first) this.standbyDeferred.delete(instance);
    if (on === (this.standbyTold.get(instance) ?? false)) return;
    this.standbyTold.set(instance, on);
    this.deps.setStandby(instance, on, on && first ? first[1] : offReason ?? `no group of ${instance} needs standby`);
  }

  private rearm(id: string, g: GroupRuntime): void {
    const d = g.machine.nextDeadline();
    if (d === g.armedFor && g.timer) return;
    if (g.timer) clearTimeout(g.timer);
    g.timer = undefined;
    g.armedFor = d;
    if (d === undefined || g.isStopped) return;
    g.timer = setTimeout(() => {
      g.timer = undefined;
      g.armedFor = undefined;
      this.input(id, { type: 'tick' });
    }, Math.max(0, d - this.deps.now()));
  }

  // --- persisted moves -----------------------------------------------------------------------

  private readState(): StateFile {
    if (!this.deps.stateFile) return { moved: [] };
    try {
      const st = JSON.parse(readFileSync(this.deps.stateFile, 'utf8')) as Partial<StateFile>;
      return { moved: Array.isArray(st.moved) ? st.moved.filter((x): x is string => typeof x === 'string') : [] };
    } catch {
      return { moved: [] };
    }
  }

  private saveState(): void {
    const file = this.deps.stateFile;
    if (!file) return;
    const moved = [...this.groups].filter(([, g]) => g.machine.isMoved).map(([id]) => id);
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(`${file}.tmp`, JSON.stringify({ moved } satisfies StateFile) + '\n', { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.deps.log.log('warning', `resources: cannot record moves in ${file}: ${(err as Error).message}`);
    }
  }
}

export { INFINITY };
