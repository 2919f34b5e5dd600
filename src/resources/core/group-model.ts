/**
 * The data a resource group's machine (`machine.ts`) is made of, as the shell sees it: the
 * group's spec, the inputs it is stepped with, the effects it returns, and the restart backoff
 * policy. Pure.
 */
import type { OnFail } from '../../config/model.js';
import type { AgentOutcome } from './ocf.js';
import type { LogLevel } from '../../lib/log-level.js';

/**
 * Restart backoff (issue 11): a member that fails again and again is started again after a
 * growing delay, so a service whose start succeeds and whose monitor always fails cannot spin
 * (it used to restart ~50 times a second with the default migration-threshold of never).
 * The first recovery is immediate, as in Pacemaker; each further failure in a row doubles the
 * delay from `firstMs`, capped at `maxMs`. A member that stayed started for `healthyResetMs`
 * before it failed starts a new row; `carpool resource cleanup` resets it. The backoff only
 * delays starts: failcounts, migration-threshold and failure-timeout work as before.
 */
export const RESTART_BACKOFF = { firstMs: 1000, maxMs: 5 * 60_000, healthyResetMs: 60_000 } as const;

/** Delay before the start that follows failure number `attempt` of a row (1 = the first). */
export function restartDelayMs(attempt: number): number {
  if (attempt <= 1) return 0;
  // 2 ** 30 s is far past the cap; keeps the exponent small for any streak.
  return Math.min(RESTART_BACKOFF.maxMs, RESTART_BACKOFF.firstMs * 2 ** Math.min(attempt - 2, 30));
}

export interface OperationSpec {
  readonly timeoutMs: number;
  readonly onFail: OnFail;
}

export interface MemberSpec {
  readonly id: string;
  /** Display form of the agent (`ocf:heartbeat:nginx`). */
  readonly agent: string;
  readonly start: OperationSpec;
  readonly stop: OperationSpec;
  readonly monitor?: OperationSpec & { readonly intervalMs: number; readonly checkLevel?: number };
  /** Timeout of the probe (monitor with interval 0). */
  readonly probeTimeoutMs: number;
  /** 0 = never give the node up for failures. */
  readonly migrationThreshold: number;
  /** 0 = failures never expire. */
  readonly failureTimeoutMs: number;
}

export interface GroupSpec {
  readonly id: string;
  readonly instance: string;
  readonly members: readonly MemberSpec[];
  /** The group requires fencing (it has a `fence` command, run with this timeout). */
  readonly fence?: { readonly timeoutMs: number };
  /** Groups this one starts after (`order.ts`): it waits for them until an `order` input says otherwise. */
  readonly after?: readonly string[];
}

export type ActionName = 'start' | 'stop' | 'monitor';

/** One agent invocation for the shell to carry out and answer with a `result` input. */
export interface ActionCall {
  /** Unique within the group; a result for an unknown or cancelled id is ignored. */
  readonly callId: number;
  readonly resource: string;
  readonly action: ActionName;
  /** 0 for start, stop and the probe. */
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly checkLevel?: number;
}

export type GroupInput =
  /**
   * The bound instance changed state on this node; `reason` is the transition's (`master-down
   * timeout`, `master bowed out`...), `peer` the master last heard — they decide fencing.
   */
  | { readonly type: 'instance'; readonly state: string; readonly reason?: string; readonly peer?: string }
  /** The fence command finished (`callId` of the `fence` effect). */
  | {
    readonly type: 'fenceResult'; readonly callId: number; readonly outcome: AgentOutcome; readonly exitReason: string;
    readonly output: string; readonly execMs: number; readonly at: string;
  }
  /** An action finished. `at` is the wall-clock time for status (ISO). */
  | {
    readonly type: 'result'; readonly callId: number; readonly outcome: AgentOutcome; readonly exitReason: string;
    readonly output: string; readonly execMs: number; readonly at: string;
  }
  | { readonly type: 'tick' }
  /** Forget failures and blocks (of one member or all) and probe again. */
  | { readonly type: 'cleanup'; readonly resource?: string }
  /** Operator: do not run here until `clear`. */
  | { readonly type: 'move' }
  | { readonly type: 'clear' }
  /** Operator: stop and start one member (and those after it) or the whole group, in place. */
  | { readonly type: 'restart'; readonly resource?: string }
  /** The daemon is exiting: stop everything in reverse order, then emit `stopped`. */
  | { readonly type: 'shutdown' }
  /** Order between groups changed (`order.ts`'s gate for this group). */
  | { readonly type: 'order'; readonly waitingFor: readonly string[]; readonly heldBy: readonly string[]; readonly heldByBlocked: boolean };


export type GroupEffect =
  | { readonly type: 'run'; readonly call: ActionCall }
  | { readonly type: 'cancel'; readonly callId: number; readonly resource: string }
  /**
   * Run the group's fence command (answered by a `fenceResult` input): the peer may still run
   * the group, and nothing of it starts here unless the command exits 0.
   */
  | { readonly type: 'fence'; readonly callId: number; readonly timeoutMs: number; readonly reason: string; readonly peer?: string }
  /** Ask the instance for standby (never take over, hand over at once) or lift it. */
  | { readonly type: 'standby'; readonly on: boolean; readonly reason: string }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string }
  /**
   * After `shutdown`: nothing more will be done for now — everything stopped, or a member could
   * not be stopped (blocked; `active` stays true). A cleanup retries the stop and says it again.
   */
  | { readonly type: 'stopped' };

/** A `log` effect. */
export function logEffect(level: LogLevel, message: string): GroupEffect {
  return { type: 'log', level, message };
}
