/**
 * Health verdicts of one virtual service, as keepalived's checkers decide them (notes §3.3,
 * keepalived.conf(5) "real_server", "MISC_CHECK"). Pure: `step(state, input, now)` returns
 * the next state and effects as data; the shell runs the probes (`runCheck`), the notify
 * scripts (`runNotify`) and recomputes the data plane when membership or weights move.
 *
 * Rules:
 * - A checker is armed at start for `now + warmup × jitter` (the shell's random number),
 *   then every `delay_loop`. A failure of an up checker is retried after
 *   `delay_before_retry`; after `retry` failed retries (retry + 1 consecutive failures) it is
 *   down and checked again every `delay_loop`. One success brings it up (`rise`, default 1,
 *   is carpool's: consecutive successes needed).
 * - `alpha`: a checker starts down, so the server waits for its first success.
 * - A server is up while all its checkers are up (a server without checkers is always up).
 *   A server going down leaves the pool, or with `inhibit_on_failure` stays with weight 0
 *   (no new connections, established ones keep going).
 * - MISC_CHECK `misc_dynamic`: exit 0 = up with the configured weight, 1 = down, 2..255 = up
 *   with weight exit − 2; any other code counts as a failure.
 * - FILE_CHECK: the number in the file decides (`fileVerdict`); its value × weight is added to
 *   the server's weight (clamped to 0..2^31−1).
 * - Quorum: the service is up while Σ weight of live servers ≥ `quorum`; once down it is up
 *   again at ≥ quorum + hysteresis, once up it goes down below quorum − hysteresis. The
 *   service starts as up, and the first evaluation at start may take it down (with `alpha`
 *   it does, and `quorum_down` runs). While down, the `sorry_server` takes the traffic.
 * - `omega`: on shutdown `quorum_down` runs (if up), and `notify_down` of each up server.
 */
import type { AdminState, CheckerSettings, Health, RealServer, VirtualService } from './model.js';
import { serverKey } from './model.js';

export interface CheckResult {
  readonly ok: boolean;
  readonly at: number;
  /** What the probe saw, for status and logs (`connect refused`, `exit 3`...). */
  readonly detail?: string;
}

export interface CheckerState {
  readonly up: boolean;
  /** Consecutive failures (counts the retries). */
  readonly failures: number;
  /** Consecutive successes while down (towards `rise`). */
  readonly successes: number;
  /** When the next probe is due; undefined while one is running (the shell reports back). */
  readonly dueAt: number | undefined;
  readonly last?: CheckResult;
  /** misc_dynamic: the weight the last exit code asked for. */
  readonly dynamicWeight?: number;
  /** FILE_CHECK: what the file's value adds to the server's weight (value × weight). */
  readonly weightDelta?: number;
}

export interface ServerState {
  readonly key: string;
  readonly health: Health;
  readonly admin: AdminState;
  /** Runtime weight set by the operator (`carpool balancer weight`), over the configured one. */
  readonly weightOverride?: number;
  readonly checkers: readonly CheckerState[];
}

export interface ServiceHealth {
  readonly started: boolean;
  readonly quorumUp: boolean;
  readonly servers: readonly ServerState[];
}

export type HealthInput =
  /** Arm the checkers; `jitter` ∈ [0, 1) spreads the first checks over `warmup`. */
  | { readonly type: 'start'; readonly jitter: number }
  /** Time passed: due checkers produce `runCheck`. */
  | { readonly type: 'tick' }
  /** A probe finished. `exitCode` for MISC_CHECK (misc_dynamic reads it), `fileValue` for FILE_CHECK (the verdict is the core's). */
  | {
    readonly type: 'result'; readonly server: string; readonly checker: number; readonly ok: boolean;
    readonly exitCode?: number; readonly fileValue?: number; readonly detail?: string;
  }
  /** Operator: enable, drain (weight 0, stays) or disable (leaves the pool). */
  | { readonly type: 'admin'; readonly server: string; readonly state: AdminState }
  /** Operator: runtime weight; undefined goes back to the configured one. */
  | { readonly type: 'weight'; readonly server: string; readonly weight: number | undefined }
  | { readonly type: 'shutdown' };

export type HealthEffect =
  | { readonly type: 'runCheck'; readonly server: string; readonly checker: number; readonly name: string }
  | { readonly type: 'serverUp'; readonly server: string; readonly reason: string }
  | { readonly type: 'serverDown'; readonly server: string; readonly inhibit: boolean; readonly reason: string }
  | { readonly type: 'weightChanged'; readonly server: string; readonly weight: number; readonly reason: string }
  | { readonly type: 'quorumUp'; readonly weight: number }
  | { readonly type: 'quorumDown'; readonly weight: number }
  | { readonly type: 'runNotify'; readonly command: string; readonly reason: string };

/** A real server as the data plane gets it: in the pool with this weight (0 = drain). */
export interface PoolMember {
  readonly key: string;
  readonly address: string;
  readonly port?: number;
  readonly weight: number;
}

export class HealthInputError extends Error {
  override readonly name = 'HealthInputError';
  constructor(readonly code: 'UNKNOWN_SERVER' | 'UNKNOWN_CHECKER', message: string) {
    super(message);
  }
}

function initialChecker(c: CheckerSettings): CheckerState {
  return { up: !c.alpha, failures: 0, successes: 0, dueAt: undefined };
}

/** The state before `start`: checkers as `alpha` says, servers up unless a checker starts down. */
export function initialHealth(vs: VirtualService): ServiceHealth {
  return {
    started: false,
    quorumUp: true,
    servers: vs.realServers.map((rs) => {
      const checkers = rs.checkers.map(initialChecker);
      return { key: serverKey(rs.address, rs.port), health: checkers.every((c) => c.up) ? 'up' : 'down', admin: 'enabled', checkers };
    }),
  };
}

/** Effective weight of a server now (0 while drained or down-inhibited), or undefined when out of the pool. */
export function effectiveWeight(rs: RealServer, s: ServerState): number | undefined {
  if (s.admin === 'disabled') return undefined;
  if (s.health === 'down') return rs.inhibitOnFailure ? 0 : undefined;
  if (s.admin === 'drained') return 0;
  if (s.weightOverride !== undefined) return s.weightOverride;
  const dyn = s.checkers.find((c) => c.dynamicWeight !== undefined)?.dynamicWeight;
  const delta = s.checkers.reduce((sum, c) => sum + (c.weightDelta ?? 0), 0);
  return Math.min(MAX_WEIGHT, Math.max(0, (dyn ?? rs.weight) + delta));
}

/** IPVS's largest weight (keepalived IPVS_WEIGHT_MAX). */
const MAX_WEIGHT = 0x7fffffff;

/**
 * FILE_CHECK's verdict on the number read from its file (keepalived.conf(5) "Track files",
 * real servers): weight 0 = a binary check (non-zero fails; with `reverse`, zero fails);
 * otherwise value × weight (negated with `reverse`) is added to the server's weight, and a
 * product at or below −2147483648 fails the checker.
 */
export function fileVerdict(file: { readonly weight: number; readonly reverse: boolean }, value: number): { ok: boolean; delta: number } {
  if (file.weight === 0) return { ok: (value === 0) !== file.reverse, delta: 0 };
  const product = value * file.weight * (file.reverse ? -1 : 1);
  if (product <= -(MAX_WEIGHT + 1)) return { ok: false, delta: 0 };
  return { ok: true, delta: Math.min(product, MAX_WEIGHT) };
}

/** Σ weight of live servers, what the quorum is measured against. */
export function liveWeight(vs: VirtualService, h: ServiceHealth): number {
  return vs.realServers.reduce((sum, rs, i) => {
    const s = h.servers[i]!;
    return s.health === 'up' ? sum + (effectiveWeight(rs, s) ?? 0) : sum;
  }, 0);
}

/**
 * The pool the data plane gets: live servers with their weights, drained and inhibited ones
 * with weight 0 (existing flows stay), or only the sorry server while the quorum is lost (with
 * `sorry_server_inhibit` it stays the rest of the time too, with weight 0).
 */
export function pool(vs: VirtualService, h: ServiceHealth): PoolMember[] {
  if (!h.quorumUp && vs.sorryServer) {
    const { address, port } = vs.sorryServer;
    return [{ key: serverKey(address, port), address, port, weight: 1 }];
  }
  const out: PoolMember[] = [];
  vs.realServers.forEach((rs, i) => {
    const w = effectiveWeight(rs, h.servers[i]!);
    if (w !== undefined) out.push({ key: serverKey(rs.address, rs.port), address: rs.address, port: rs.port, weight: w });
  });
  if (vs.sorryServer?.inhibit) {
    const { address, port } = vs.sorryServer;
    out.push({ key: serverKey(address, port), address, port, weight: 0 });
  }
  return out;
}

/** Earliest due probe, for the shell's one timer; undefined when none is armed. */
export function nextDeadline(h: ServiceHealth): number | undefined {
  let min: number | undefined;
  for (const s of h.servers) for (const c of s.checkers) if (c.dueAt !== undefined && (min === undefined || c.dueAt < min)) min = c.dueAt;
  return min;
}

/** One input → next state and effects. Throws HealthInputError for a server or checker the service does not have. */
export function step(vs: VirtualService, h: ServiceHealth, input: HealthInput, now: number): { state: ServiceHealth; effects: HealthEffect[] } {
  const effects: HealthEffect[] = [];
  let servers = [...h.servers];
  const index = (key: string): number => {
    const i = servers.findIndex((s) => s.key === key);
    if (i < 0) throw new HealthInputError('UNKNOWN_SERVER', `virtual server ${vs.name} has no real server ${key}`);
    return i;
  };

  switch (input.type) {
    case 'start': {
      if (h.started) return { state: h, effects };
      const jitter = Math.min(Math.max(input.jitter, 0), 1);
      servers = servers.map((s, i) => ({
        ...s,
        checkers: s.checkers.map((c, j) => ({ ...c, dueAt: now + Math.floor(vs.realServers[i]!.checkers[j]!.warmupMs * jitter) })),
      }));
      return finish(vs, { ...h, started: true, servers }, effects, 'start');
    }
    case 'tick': {
      servers = servers.map((s, i) => {
        if (!s.checkers.some((c) => c.dueAt !== undefined && c.dueAt <= now)) return s;
        return {
          ...s,
          checkers: s.checkers.map((c, j) => {
            if (c.dueAt === undefined || c.dueAt > now) return c;
            effects.push({ type: 'runCheck', server: s.key, checker: j, name: vs.realServers[i]!.checkers[j]!.name });
            return { ...c, dueAt: undefined };
          }),
        };
      });
      return { state: { ...h, servers }, effects };
    }
    case 'result': {
      const i = index(input.server);
      const s = servers[i]!;
      const def = vs.realServers[i]!.checkers[input.checker];
      const c = s.checkers[input.checker];
      if (!def || !c) throw new HealthInputError('UNKNOWN_CHECKER', `real server ${s.key} of ${vs.name} has no checker #${input.checker}`);
      const checkers = [...s.checkers];
      checkers[input.checker] = checkerResult(def, c, input, now);
      servers[i] = { ...s, checkers };
      return finish(vs, { ...h, servers }, effects, `${def.name}: ${input.detail ?? (input.ok ? 'ok' : 'failed')}`, i, s);
    }
    case 'admin': {
      const i = index(input.server);
      const s = servers[i]!;
      if (s.admin === input.state) return { state: h, effects };
      servers[i] = { ...s, admin: input.state };
      return finish(vs, { ...h, servers }, effects, `operator: ${input.state}`, i, s);
    }
    case 'weight': {
      const i = index(input.server);
      const s = servers[i]!;
      if (input.weight !== undefined && !(Number.isInteger(input.weight) && input.weight >= 0 && input.weight <= 0x7fffffff)) {
        throw new RangeError(`weight ${input.weight} for ${s.key}: expected an integer 0..2147483647`);
      }
      servers[i] = { ...s, weightOverride: input.weight };
      return finish(vs, { ...h, servers }, effects, 'operator: weight', i, s);
    }
    case 'shutdown': {
      if (vs.omega) {
        if (h.quorumUp && vs.quorum.downCommand) effects.push({ type: 'runNotify', command: vs.quorum.downCommand, reason: `omega: ${vs.name} removed` });
        vs.realServers.forEach((rs, i) => {
          if (h.servers[i]!.health === 'up' && rs.notifyDown) effects.push({ type: 'runNotify', command: rs.notifyDown, reason: `omega: ${vs.name} removed` });
        });
      }
      servers = servers.map((s) => ({ ...s, checkers: s.checkers.map((c) => ({ ...c, dueAt: undefined })) }));
      return { state: { ...h, started: false, servers }, effects };
    }
  }
}

/**
 * Evaluate a state that did not come from `step` (a live reload or a runtime add/remove
 * rebuilt it, operator.ts `reconcile`): the quorum against the new server set, with its
 * effects. `reason` goes into the logs.
 */
export function settle(vs: VirtualService, h: ServiceHealth, reason: string): { state: ServiceHealth; effects: HealthEffect[] } {
  return finish(vs, h, [], reason);
}

function checkerResult(def: CheckerSettings, c: CheckerState, input: Extract<HealthInput, { type: 'result' }>, now: number): CheckerState {
  let ok = input.ok;
  let dynamicWeight = c.dynamicWeight;
  let weightDelta = c.weightDelta;
  if (def.file && input.fileValue !== undefined) {
    const v = fileVerdict(def.file, input.fileValue);
    ok = v.ok;
    weightDelta = v.delta === 0 ? undefined : v.delta;
  }
  if (def.dynamicWeight && input.exitCode !== undefined) {
    const code = input.exitCode;
    ok = code === 0 || (Number.isInteger(code) && code >= 2 && code <= 255);
    if (code === 0) dynamicWeight = undefined;
    else if (ok) dynamicWeight = code - 2;
  }
  const last: CheckResult = { ok, at: now, detail: input.detail };
  if (ok) {
    const successes = c.up ? 0 : c.successes + 1;
    const up = c.up || successes >= Math.max(1, def.rise);
    return { up, failures: 0, successes: up ? 0 : successes, dueAt: now + def.delayLoopMs, last, dynamicWeight, weightDelta };
  }
  const failures = c.failures + 1;
  if (!c.up) return { ...c, failures, successes: 0, dueAt: now + def.delayLoopMs, last };
  if (failures > def.retry) return { up: false, failures, successes: 0, dueAt: now + def.delayLoopMs, last, dynamicWeight, weightDelta: undefined };
  return { ...c, failures, dueAt: now + def.delayBeforeRetryMs, last };
}

/**
 * The one choke point after a change: server verdicts (from the checkers), weight changes,
 * then the quorum. `i`/`before` name the server whose input this was.
 */
function finish(vs: VirtualService, h: ServiceHealth, effects: HealthEffect[], reason: string, i?: number, before?: ServerState): { state: ServiceHealth; effects: HealthEffect[] } {
  const servers = [...h.servers];
  const touched = i === undefined ? servers.map((_, k) => k) : [i];
  for (const k of touched) {
    const rs = vs.realServers[k]!;
    const old = i === undefined ? servers[k]! : before!;
    const health: Health = servers[k]!.checkers.every((c) => c.up) ? 'up' : 'down';
    const s: ServerState = { ...servers[k]!, health };
    servers[k] = s;
    if (old.health !== health) {
      if (health === 'up') {
        effects.push({ type: 'serverUp', server: s.key, reason });
        if (rs.notifyUp) effects.push({ type: 'runNotify', command: rs.notifyUp, reason: `${s.key} up` });
      } else {
        effects.push({ type: 'serverDown', server: s.key, inhibit: rs.inhibitOnFailure, reason });
        if (rs.notifyDown) effects.push({ type: 'runNotify', command: rs.notifyDown, reason: `${s.key} down` });
      }
    }
    const wOld = effectiveWeight(rs, old);
    const wNew = effectiveWeight(rs, s);
    if (wOld !== undefined && wNew !== undefined && wOld !== wNew) effects.push({ type: 'weightChanged', server: s.key, weight: wNew, reason });
  }
  const next: ServiceHealth = { ...h, servers };
  const live = liveWeight(vs, next);
  const { quorum, hysteresis } = vs.quorum;
  let quorumUp = h.quorumUp;
  if (quorumUp && live < quorum - hysteresis) quorumUp = false;
  else if (!quorumUp && live >= quorum + hysteresis) quorumUp = true;
  if (quorumUp !== h.quorumUp) {
    effects.push(quorumUp ? { type: 'quorumUp', weight: live } : { type: 'quorumDown', weight: live });
    const cmd = quorumUp ? vs.quorum.upCommand : vs.quorum.downCommand;
    if (cmd) effects.push({ type: 'runNotify', command: cmd, reason: `${vs.name} quorum ${quorumUp ? 'up' : 'down'} (live weight ${live}, quorum ${quorum})` });
  }
  return { state: { ...next, quorumUp }, effects };
}
