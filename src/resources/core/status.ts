/**
 * The resource section of the status document (`carpool status --json` → `resources`).
 * Plain data; the shape is the API, rendered by `format.ts` (text, crm_mon-like) and
 * `html.ts` (a self-contained page).
 */

/** One failed operation, as crm_mon's "Failed Resource Actions" shows it. */
export interface FailedAction {
  /** Pacemaker's operation key `<resource>_<action>_<interval ms>` (`web_monitor_10000`, `_monitor_0` = probe). */
  readonly key: string;
  readonly resource: string;
  /** `fence`: the group's fence command (resource = the group's id). */
  readonly action: 'start' | 'stop' | 'monitor' | 'fence';
  readonly intervalMs: number;
  /** OCF code the failure stands for (timeouts and signals show 1, like Pacemaker). */
  readonly rc: number;
  /** `'not running' (7)`, `'Timed Out' (1)`... */
  readonly text: string;
  /** `complete` when the agent exited; `Timed Out`, `killed` or `not executed` otherwise. */
  readonly status: 'complete' | 'Timed Out' | 'killed' | 'not executed';
  /** The agent's last `ocf-exit-reason:` line, or a reason carpool gives. */
  readonly exitReason: string;
  /** The last lines of the agent's stderr (control characters replaced). */
  readonly output: string;
  /** Wall-clock time of the failure (ISO 8601). */
  readonly at: string;
  readonly execMs: number;
  readonly timeoutMs: number;
  readonly severity: 'soft' | 'hard' | 'fatal';
}

export type MemberState = 'Unknown' | 'Probing' | 'Stopped' | 'Starting' | 'Started' | 'Stopping' | 'FAILED';

export interface MemberStatus {
  readonly id: string;
  /** `ocf:heartbeat:IPaddr2`, `lsb:postfix`, `builtin:http`... */
  readonly agent: string;
  readonly state: MemberState;
  /** Agent said 190/191 on the last monitor. */
  readonly degraded: boolean;
  /** No more actions until `carpool resource cleanup` (on-fail=block or a failed stop). */
  readonly blocked: boolean;
  /** Kept stopped after a failure (on-fail=stop) until cleanup. */
  readonly held: boolean;
  /**
   * The action running now and for how long, e.g. `start (1.2s)`; or, between a failure and the
   * next start, the restart backoff: `restart backoff: start in 4.0s, attempt 4`.
   */
  readonly pending: string | null;
  /** Time left (ms) before the next start may run (restart backoff), or null. */
  readonly backoffMs: number | null;
  /** 1,000,000 stands for INFINITY (a failed start or a hard error). */
  readonly failcount: number;
  /** 0 = never moves for failures. */
  readonly migrationThreshold: number;
  readonly failureTimeoutMs: number;
  readonly lastFailure: FailedAction | null;
  readonly monitorIntervalMs: number | null;
}

export interface GroupStatus {
  readonly id: string;
  readonly instance: string;
  /** State of the instance on this node (MASTER, BACKUP, INIT). */
  readonly instanceState: string;
  /** `Started`, `Stopped`, `Starting`, `Stopping`, `Partially started`, `Blocked`. */
  readonly state: string;
  /** Can the group run on this node (no ban, threshold not reached, not moved)? */
  readonly eligible: boolean;
  /** Why not, when not. */
  readonly ineligibleReason: string | null;
  /** This node asked the instance to stay in standby for this group. */
  readonly standby: boolean;
  /** `carpool resource move` is in force until `carpool resource clear`. */
  readonly moved: boolean;
  readonly members: readonly MemberStatus[];
  /** Fencing, when the group requires it (a `fence` command); absent otherwise. */
  readonly fence?: FenceStatus;
  /**
   * Order between groups (`after:`), when the group has any: the groups it starts after, those
   * of them not started here (it waits), and the groups after it that still run here (it stops after them).
   */
  readonly order?: { readonly after: readonly string[]; readonly waitingFor: readonly string[]; readonly heldBy: readonly string[] };
}

/** A group's fencing (docs/resources.md, "Failed stops and fencing"). */
export interface FenceStatus {
  /**
   * `none`: nothing to fence now; `needed`: fenced before the next start; `running`;
   * `failed`: not fenced — the group stays stopped until `carpool resource cleanup`.
   */
  readonly state: 'none' | 'needed' | 'running' | 'failed';
  /** Why fencing is (was) needed: how the instance became MASTER, and the peer last heard. */
  readonly why: string | null;
  /** The last failed fence (key `<group>_fence_0`). */
  readonly lastFailure: FailedAction | null;
}

export interface ResourcesStatus {
  /** This node's name (hostname), as `OCF_RESKEY_CRM_meta_on_node`. */
  readonly node: string;
  readonly groups: readonly GroupStatus[];
  /** Every member's last failure, newest first. */
  readonly failedActions: readonly FailedAction[];
}

/** Pacemaker prints INFINITY for scores and failcounts of 1,000,000. */
export const INFINITY = 1_000_000;
