/**
 * When a group that requires fencing (a `fence` command) must be fenced before it starts
 * (docs/resources.md, "Failed stops and fencing"). Pure.
 *
 * The survivor cannot learn over the wire whether the peer's stop failed, but it knows how
 * it became MASTER, from the reason of the transition:
 * - the peer **vanished** — master-down timeout (crash, SIGKILL, hung host, partition; also at
 *   start-up with no peer heard) or a VRRP address owner taking over at start: nothing is
 *   known about the peer's services → fence first;
 * - a **planned hand-over** — the peer bowed out (CARP advbase = advskew = 255, VRRP priority 0),
 *   after stopping its groups (or an operator forced it, and owns the outcome), or a
 *   preemption / sync-group move while the peer is alive and stops its groups → no fence.
 */
import { outcomeRc } from './ocf.js';
import type { FailedAction, FenceStatus } from './status.js';
import { formatDuration } from './duration.js';
import { logEffect, type GroupEffect, type GroupInput, type GroupSpec } from './group-model.js';

/** Reasons (as the election machines give them) after which the peer's services are unknown. */
const PEER_VANISHED = [/master-down timeout/, /address owner/];

/** Must a group that requires fencing be fenced before it starts, after becoming MASTER for `reason`? */
export function fenceNeeded(reason: string): boolean {
  return PEER_VANISHED.some((re) => re.test(reason));
}

/**
 * The fencing of one resource group (its machine owns one): whether it must be fenced before
 * anything of it starts, the running fence command, and its last failure. The machine decides
 * when to `start` (in its planner, before the first start) and hands in the call id, so fence
 * commands and agent actions share one sequence of ids. Pure; effects are pushed onto `fx`.
 */
export class GroupFencing {
  /** See FenceStatus; stays `none` for a group without `spec.fence`. `failed` holds until `retry`. */
  private current: FenceStatus['state'] = 'none';
  /** How the instance became MASTER when fencing became needed (reason, peer). */
  private cause: { readonly reason: string; readonly peer: string | undefined } | undefined;
  /** The fence command in flight; set exactly while `current` is `running`. */
  private call: { readonly callId: number; readonly startedAt: number } | undefined;
  private failure: FailedAction | undefined;

  constructor(private readonly spec: GroupSpec) {}

  get state(): FenceStatus['state'] {
    return this.current;
  }

  /** What the last failed fence said (`exit 1`, `timed out after ...`), for the planner's "stuck" message. */
  get failureText(): string | undefined {
    return this.failure?.text;
  }

  /** The instance changed state: becoming MASTER because the peer vanished makes fencing needed. */
  onInstance(state: string, reason: string, peer: string | undefined, fx: GroupEffect[]): void {
    if (!this.spec.fence || this.current === 'failed') return; // a failed fence holds until cleanup
    if (state !== 'MASTER') {
      // Not MASTER: nothing starts here; the next MASTER transition decides again.
      this.cancel(fx);
      this.current = 'none';
      return;
    }
    if (!fenceNeeded(reason)) {
      this.current = 'none';
      return;
    }
    this.current = 'needed';
    this.cause = { reason, peer };
    fx.push(logEffect('warning', `${this.spec.id}: instance ${this.spec.instance} became MASTER by ${reason}` +
      `${peer ? ` (peer ${peer} last heard)` : ''}: the peer may still run the group; fencing before it starts`));
  }

  /** Run the fence command (only when `state` is `needed`). */
  start(callId: number, now: number, fx: GroupEffect[]): void {
    this.current = 'running';
    this.call = { callId, startedAt: now };
    const cause = this.cause ?? { reason: 'unknown', peer: undefined };
    fx.push(logEffect('notice', `${this.spec.id}: fencing (timeout ${formatDuration(this.spec.fence!.timeoutMs)})`));
    fx.push({ type: 'fence', callId, timeoutMs: this.spec.fence!.timeoutMs, reason: cause.reason, ...(cause.peer ? { peer: cause.peer } : {}) });
  }

  /** Cancel a running fence command; fencing is still needed. */
  cancel(fx: GroupEffect[]): void {
    if (!this.call) return;
    fx.push({ type: 'cancel', callId: this.call.callId, resource: this.spec.id });
    this.call = undefined;
    if (this.current === 'running') this.current = 'needed';
  }

  onResult(r: Extract<GroupInput, { type: 'fenceResult' }>, fx: GroupEffect[]): void {
    if (!this.call || this.call.callId !== r.callId) return; // cancelled: stale
    this.call = undefined;
    const o = r.outcome;
    if (o.kind === 'exited' && o.rc === 0) {
      this.current = 'none';
      this.failure = undefined;
      fx.push(logEffect('notice', `${this.spec.id}: fenced (${r.execMs} ms): starting the group`));
      return;
    }
    const text = o.kind === 'exited' ? `exit ${o.rc}` : o.kind === 'timeout' ? `timed out after ${this.spec.fence!.timeoutMs} ms`
      : o.kind === 'signal' ? `killed by ${o.signal}` : `not executed (${o.code})`;
    this.current = 'failed';
    this.failure = {
      key: `${this.spec.id}_fence_0`, resource: this.spec.id, action: 'fence', intervalMs: 0, rc: outcomeRc(o), text,
      status: o.kind === 'exited' ? 'complete' : o.kind === 'timeout' ? 'Timed Out' : o.kind === 'signal' ? 'killed' : 'not executed',
      exitReason: r.exitReason, output: r.output, at: r.at, execMs: r.execMs, timeoutMs: this.spec.fence!.timeoutMs, severity: 'fatal',
    };
    fx.push(logEffect('error', `${this.spec.id}: FENCING FAILED (${text}${r.exitReason ? `: ${r.exitReason}` : ''}): the group stays stopped — ` +
      `the peer may still run it; fix the fence, then \`carpool resource cleanup ${this.spec.id}\` fences again`));
  }

  /** A cleanup of the group retries a failed fence (while MASTER: at once). */
  retry(master: boolean): void {
    if (this.current !== 'failed') return;
    this.current = master ? 'needed' : 'none';
    this.failure = undefined;
  }

  status(now: number): FenceStatus {
    const c = this.cause;
    let why = c && this.current !== 'none' ? `became MASTER by ${c.reason}${c.peer ? ` (peer ${c.peer})` : ''}` : null;
    if (why && this.call) why += `; fence running for ${((now - this.call.startedAt) / 1000).toFixed(1)}s`;
    return { state: this.current, why, lastFailure: this.failure ?? null };
  }
}
