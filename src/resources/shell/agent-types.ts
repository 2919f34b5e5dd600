/**
 * What the agent runner (agents.ts) and the built-in agents (builtins.ts) both speak: an
 * action call, its result and the host facts. Its own module so that neither imports the other.
 */
import type { AgentOutcome } from '../core/ocf.js';

export type AgentActionName = 'start' | 'stop' | 'monitor' | 'meta-data' | 'validate-all';

export interface AgentCall {
  readonly action: AgentActionName;
  /** 0 for everything but a recurring monitor (a monitor with 0 is the probe). */
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly checkLevel?: number;
}

export interface AgentResult {
  readonly outcome: AgentOutcome;
  readonly exitReason: string;
  /** Tail of stderr (what an operator needs to see in status). */
  readonly output: string;
  readonly stdout: string;
  readonly execMs: number;
}

/** Facts about this host that decide how agents are found and run. */
export interface AgentHost {
  /** `OCF_RESKEY_CRM_meta_on_node`. */
  readonly node: string;
  /** `OCF_ROOT` handed to agents (where `lib/heartbeat/ocf-shellfuncs` lives). */
  readonly ocfRoot: string;
  /** `resource.d` directories searched for `<provider>/<type>`, in order. */
  readonly raPath: readonly string[];
  /** Is systemd PID 1 (`/run/systemd/system` exists, as sd_booted() checks)? */
  readonly systemd: boolean;
  /** Name of PID 1, for the error when systemd is not it. */
  readonly pid1: string;
}
