/**
 * Tracking verdicts and effective priority, as keepalived computes them (keepalived notes
 * §2 "Tracking and priority", keepalived.conf(5) "track_interface", "vrrp_script",
 * "track_file"). Pure: the shell runs the scripts, watches the links and reads the files,
 * and hands each observation in; out come the tracker verdicts and, per instance, the
 * effective priority and the FAULT verdict to feed the VRRP machine (`priority`, `fault`).
 *
 * - Scripts: a verdict changes after `rise` consecutive successes / `fall` consecutive
 *   failures (defaults 1/1). Before any result a script is `init` (or failed with
 *   `init_fail`). Interfaces change at once (rise = fall = 1).
 * - Weights: weight 0 ⇒ FAULT while failed; w > 0 is added while OK; w < 0 is added
 *   (subtracted) while failed; `reverse` negates the contribution ("decreased when up and
 *   increased when down"); weight 0 reverse ⇒ FAULT while OK.
 * - Files hold an integer: weight 0 ⇒ non-zero is FAULT (reverse: zero is FAULT); else
 *   value × weight (negated by reverse) is added, and a result below −253 ⇒ FAULT.
 * - Effective priority = base + Σ contributions, clamped to [1, 254]; an owner (255) is
 *   never adjusted: keepalived sets its tracker weights to 0 ("Cannot have weighted track
 *   ... with priority 255"), as it does for sync-group members (unless
 *   sync_group_tracking_weight), so a failure there means FAULT.
 */
import type { TrackFile, TrackProcess, TrackRef, VrrpInstance, VrrpScript } from '../config/model.js';
import { clampPriority } from './vrrp-model.js';

export type TrackerKind = 'script' | 'interface' | 'file' | 'process';

export interface TrackerDef {
  readonly kind: TrackerKind;
  readonly name: string;
  /** Consecutive successes before OK (scripts; 1 otherwise). */
  readonly rise: number;
  /** Consecutive failures before failed (scripts; 1 otherwise). */
  readonly fall: number;
  /** Start failed rather than unknown (`init_fail`). */
  readonly initFail: boolean;
}

export type TrackerHealth = 'init' | 'ok' | 'failed';

export interface TrackerVerdict {
  readonly health: TrackerHealth;
  /** track_file: the last integer read (undefined before the first read). */
  readonly value: number | undefined;
  /** Consecutive results pointing the other way (counting towards rise or fall). */
  readonly streak: number;
}

/** One tracker as an instance uses it: which tracker, and with what weight. */
export interface TrackUse {
  readonly kind: TrackerKind;
  readonly name: string;
  readonly weight: number;
  readonly reverse: boolean;
}

/**
 * Observation handed in by the shell: a script exit (true = 0), a link state, a process
 * quorum verdict (`ProcessQuorum`), or a file's integer.
 */
export type Observation = { readonly kind: 'script' | 'interface' | 'process'; readonly ok: boolean } | { readonly kind: 'file'; readonly value: number };

/** Lowest file contribution that is still a priority change; below it the instance goes FAULT. */
export const TRACK_FILE_FAULT_BELOW = -253;

export function initialVerdict(def: TrackerDef): TrackerVerdict {
  return { health: def.initFail ? 'failed' : 'init', value: undefined, streak: 0 };
}

/** Apply one observation; `changed` tells whether health or file value moved. */
export function observe(def: TrackerDef, v: TrackerVerdict, obs: Observation): { verdict: TrackerVerdict; changed: boolean } {
  if (obs.kind === 'file') {
    const value = Number.isFinite(obs.value) ? Math.trunc(obs.value) : 0;
    const verdict: TrackerVerdict = { health: 'ok', value, streak: 0 };
    return { verdict, changed: v.value !== value || v.health !== 'ok' };
  }
  const rise = def.kind === 'script' ? Math.max(1, def.rise) : 1;
  const fall = def.kind === 'script' ? Math.max(1, def.fall) : 1;
  const towardsOk = obs.ok;
  if ((towardsOk && v.health === 'ok') || (!towardsOk && v.health === 'failed')) {
    return { verdict: v.streak === 0 ? v : { ...v, streak: 0 }, changed: false };
  }
  // From `init` a result counts towards whichever side it points at; a result pointing the
  // other way restarts the count (keepalived counts consecutive results).
  const sameDirection = v.health === 'init' ? v.streak === 0 || (v.streak > 0) === towardsOk : true;
  const signed = v.health === 'init' ? (sameDirection ? v.streak : 0) + (towardsOk ? 1 : -1) : towardsOk ? v.streak + 1 : v.streak - 1;
  const need = towardsOk ? rise : fall;
  if (Math.abs(signed) >= need) return { verdict: { health: towardsOk ? 'ok' : 'failed', value: v.value, streak: 0 }, changed: true };
  return { verdict: { ...v, streak: signed }, changed: false };
}

/** Contribution of one tracker: a priority delta, or FAULT. */
export function contribution(use: TrackUse, v: TrackerVerdict): { fault: boolean; delta: number } {
  const sign = use.reverse ? -1 : 1;
  if (use.kind === 'file') {
    if (v.value === undefined) return { fault: false, delta: 0 };
    if (use.weight === 0) return { fault: use.reverse ? v.value === 0 : v.value !== 0, delta: 0 };
    const delta = v.value * use.weight * sign;
    return delta < TRACK_FILE_FAULT_BELOW ? { fault: true, delta: 0 } : { fault: false, delta };
  }
  if (use.weight === 0) {
    // Unknown (init) counts as not OK for weight 0: do not become master before the check ran.
    const ok = v.health === 'ok';
    return { fault: use.reverse ? ok : !ok, delta: 0 };
  }
  if (v.health === 'init') return { fault: false, delta: 0 };
  const ok = v.health === 'ok';
  const applies = use.weight > 0 ? ok : !ok;
  return { fault: false, delta: applies ? use.weight * sign : 0 };
}

export interface InstanceVerdict {
  readonly priority: number;
  readonly fault: boolean;
  /** Names of the trackers holding the instance in FAULT, e.g. `script chk_haproxy`. */
  readonly faultBy: readonly string[];
}

/** Effective priority and FAULT verdict of an instance from its trackers' verdicts. */
export function instanceVerdict(basePriority: number, uses: readonly TrackUse[], verdictOf: (kind: TrackerKind, name: string) => TrackerVerdict | undefined): InstanceVerdict {
  let sum = 0;
  const faultBy: string[] = [];
  for (const u of uses) {
    const v = verdictOf(u.kind, u.name);
    if (!v) continue;
    const c = contribution(u, v);
    if (c.fault) faultBy.push(`${u.kind} ${u.name}`);
    sum += c.delta;
  }
  return { priority: clampPriority(basePriority, basePriority + sum), fault: faultBy.length > 0, faultBy };
}

/**
 * The tracker uses of an instance (and of its sync group), as keepalived applies them:
 * the instance's own interface with weight 0 unless `dont_track_primary`; weights forced
 * to 0 for an owner and, unless `syncGroupTrackingWeight`, for sync-group members.
 * `notes` lists the forced weights for the log.
 */
export function instanceTrackUses(
  inst: VrrpInstance,
  group?: {
    readonly trackInterfaces: readonly TrackRef[]; readonly trackScripts: readonly TrackRef[]; readonly trackFiles: readonly TrackRef[];
    readonly trackProcesses?: readonly TrackRef[];
  },
  opts: { syncGroupTrackingWeight?: boolean } = {},
): { uses: TrackUse[]; notes: string[] } {
  const uses: TrackUse[] = [];
  const notes: string[] = [];
  const forceZero = inst.priority >= 255 ? 'address owner (priority 255)' : inst.syncGroup !== undefined && !opts.syncGroupTrackingWeight ? 'sync group member' : undefined;
  const add = (kind: TrackerKind, r: TrackRef, fromGroup: boolean) => {
    let weight = r.weight;
    if (weight !== 0 && forceZero && !(fromGroup && inst.priority < 255)) {
      notes.push(`ignoring weight ${weight} of ${kind} ${r.name}: ${forceZero}; a failure means FAULT`);
      weight = 0;
    }
    uses.push({ kind, name: r.name, weight, reverse: r.reverse });
  };
  if (inst.trackPrimary && !inst.trackInterfaces.some((t) => t.name === inst.interface)) {
    uses.push({ kind: 'interface', name: inst.interface, weight: 0, reverse: false });
  }
  for (const r of inst.trackInterfaces) add('interface', r, false);
  for (const r of inst.trackScripts) add('script', r, false);
  for (const r of inst.trackFiles) add('file', r, false);
  for (const r of inst.trackProcesses ?? []) add('process', r, false);
  for (const r of group?.trackInterfaces ?? []) add('interface', r, true);
  for (const r of group?.trackScripts ?? []) add('script', r, true);
  for (const r of group?.trackFiles ?? []) add('file', r, true);
  for (const r of group?.trackProcesses ?? []) add('process', r, true);
  return { uses, notes };
}

/** Tracker definitions for the configured scripts and files (interfaces are implicit). */
export function scriptTracker(s: VrrpScript): TrackerDef {
  return { kind: 'script', name: s.name, rise: s.rise, fall: s.fall, initFail: s.initFail };
}
export function fileTracker(f: TrackFile): TrackerDef {
  return { kind: 'file', name: f.name, rise: 1, fall: 1, initFail: false };
}
export function processTracker(p: TrackProcess): TrackerDef {
  return { kind: 'process', name: p.name, rise: 1, fall: 1, initFail: false };
}

/**
 * keepalived `vrrp_track_process` between the shell's counts and the board: the count of
 * matching processes is OK within quorum..quorumMax; a change of side is reported only once it
 * has held for `forkDelayMs` (up) or `terminateDelayMs` (down), so a restart (stop, then start)
 * shorter than the delay does not move the instance. Pure: counts and `now` in, a verdict out.
 */
export class ProcessQuorum {
  /** The verdict last reported (undefined before the first count). */
  private reported: boolean | undefined;
  /** The side the count is on now, and since when (while it differs from `reported`). */
  private pending: { ok: boolean; since: number } | undefined;

  constructor(private readonly def: Pick<TrackProcess, 'quorum' | 'quorumMax' | 'forkDelayMs' | 'terminateDelayMs'>) {}

  /** Whether `count` processes satisfy the quorum. */
  inQuorum(count: number): boolean {
    return count >= this.def.quorum && (this.def.quorumMax === undefined || count <= this.def.quorumMax);
  }

  /** One count at `now`: the verdict to report when it changes (the first count is reported at once), else undefined. */
  step(count: number, now: number): boolean | undefined {
    const ok = this.inQuorum(count);
    if (this.reported === undefined) {
      this.reported = ok;
      return ok;
    }
    if (ok === this.reported) {
      this.pending = undefined;
      return undefined;
    }
    if (this.pending?.ok !== ok) this.pending = { ok, since: now };
    if (now - this.pending.since < (ok ? this.def.forkDelayMs : this.def.terminateDelayMs)) return undefined;
    this.reported = ok;
    this.pending = undefined;
    return ok;
  }

  /** When a pending change becomes due (the shell counts again then), or undefined. */
  nextDeadline(): number | undefined {
    if (!this.pending) return undefined;
    return this.pending.since + (this.pending.ok ? this.def.forkDelayMs : this.def.terminateDelayMs);
  }
}

/**
 * Whether a running process is one `p` counts (keepalived's exact match, not pgrep's regular
 * expression: `ssh` does not match sshd). `comm` is /proc/PID/comm (the name, at most 15
 * bytes), `argv` /proc/PID/cmdline split at NULs (read only when `p` needs it). The name is
 * compared with `comm` (cut to 15 bytes as the kernel cuts it), or with `full_command` to argv[0];
 * the parameters, when given, with argv[1..]: all of them (`exact`), the last as a prefix
 * (`initial`), or the first ones (`partial`).
 */
export function processMatches(p: Pick<TrackProcess, 'process' | 'params' | 'paramMatch' | 'fullCommand'>, comm: string, argv: readonly string[] | undefined): boolean {
  if (p.fullCommand) {
    if (argv?.[0] !== p.process) return false;
  } else if (comm !== new TextDecoder().decode(new TextEncoder().encode(p.process).subarray(0, 15))) {
    return false;
  }
  if (!p.params) return true;
  const args = (argv ?? []).slice(1);
  const want = p.params;
  if (p.paramMatch === 'partial') return args.length >= want.length && want.every((w, i) => args[i] === w);
  if (args.length !== want.length) return false;
  if (p.paramMatch === 'initial') return want.every((w, i) => (i === want.length - 1 ? args[i]!.startsWith(w) : args[i] === w));
  return want.every((w, i) => args[i] === w);
}

/** Whether matching `p` needs /proc/PID/cmdline (else /proc/PID/stat's name is enough). */
export function needsCmdline(p: Pick<TrackProcess, 'params' | 'fullCommand'>): boolean {
  return p.fullCommand || p.params !== undefined;
}

export function interfaceTracker(name: string): TrackerDef {
  return { kind: 'interface', name, rise: 1, fall: 1, initFail: false };
}

/**
 * All trackers of a daemon, shared by the instances that use them (a vrrp_script can be
 * tracked by several instances). `observe` returns whether the verdict changed, so the
 * shell re-evaluates only then.
 */
export class TrackerBoard {
  private readonly defs = new Map<string, TrackerDef>();
  private readonly verdicts = new Map<string, TrackerVerdict>();

  constructor(defs: readonly TrackerDef[]) {
    for (const d of defs) this.add(d);
  }

  add(def: TrackerDef): void {
    const key = `${def.kind}:${def.name}`;
    if (this.defs.has(key)) return;
    this.defs.set(key, def);
    this.verdicts.set(key, initialVerdict(def));
  }

  observe(kind: TrackerKind, name: string, obs: Observation): boolean {
    const key = `${kind}:${name}`;
    const def = this.defs.get(key);
    const v = this.verdicts.get(key);
    if (!def || !v || (kind === 'file') !== (obs.kind === 'file')) return false;
    const r = observe(def, v, obs);
    this.verdicts.set(key, r.verdict);
    return r.changed;
  }

  verdict(kind: TrackerKind, name: string): TrackerVerdict | undefined {
    return this.verdicts.get(`${kind}:${name}`);
  }

  /** Effective priority and FAULT for one instance's tracker uses. */
  evaluate(basePriority: number, uses: readonly TrackUse[]): InstanceVerdict {
    return instanceVerdict(basePriority, uses, (k, n) => this.verdict(k, n));
  }
}
