/**
 * OCF exit codes and how a result is judged (OCF 1.1 `ra/1.1`, Pacemaker `lib/pengine/unpack.c`
 * and `lib/services/services_lsb.c`). Pure tables and functions: the agent runner turns a
 * process exit into an `AgentOutcome`, this module says what it means.
 */

export const OCF = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  ERR_INSTALLED: 5,
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
  RUNNING_PROMOTED: 8,
  FAILED_PROMOTED: 9,
  DEGRADED: 190,
  DEGRADED_PROMOTED: 191,
} as const;

/** Pacemaker's strings for the codes (as crm_mon prints them: `'not running' (7)`). */
const NAMES: Readonly<Record<number, string>> = {
  0: 'ok',
  1: 'error',
  2: 'invalid parameter',
  3: 'unimplemented feature',
  4: 'insufficient privileges',
  5: 'not installed',
  6: 'not configured',
  7: 'not running',
  8: 'promoted',
  9: 'promoted (failed)',
  190: 'degraded',
  191: 'promoted (degraded)',
};

export function rcName(rc: number): string {
  return NAMES[rc] ?? 'unknown exit code';
}

/**
 * How an action ended, as the runner saw it. `exited` carries the agent's exit code (already
 * mapped for LSB/systemd); the others are failures of the runner or the agent's process.
 */
export type AgentOutcome =
  | { readonly kind: 'exited'; readonly rc: number }
  /** Ran past its timeout; its process group was killed. */
  | { readonly kind: 'timeout' }
  /** Died of a signal it was not sent by us. */
  | { readonly kind: 'signal'; readonly signal: string }
  /** Could not be started at all (ENOENT, EACCES...). */
  | { readonly kind: 'spawn-error'; readonly code: string };

/**
 * Severity of a failed result (Pacemaker): `soft` = recover here (restart) until the
 * migration threshold; `hard` = this node cannot run the resource (ban); `fatal` = the
 * configuration is wrong (Pacemaker stops it everywhere; here: ban and say so).
 */
export type Severity = 'soft' | 'hard' | 'fatal';

export type Verdict =
  /** What was expected. `degraded` for 190/191. */
  | { readonly ok: true; readonly running: boolean; readonly degraded: boolean }
  | { readonly ok: false; readonly severity: Severity; readonly rc: number; readonly text: string };

/** The OCF code an outcome stands for in status and failure records (timeouts: 1, as Pacemaker shows them). */
export function outcomeRc(o: AgentOutcome): number {
  switch (o.kind) {
    case 'exited': return o.rc;
    case 'timeout': return OCF.ERR_GENERIC;
    case 'signal': return OCF.ERR_GENERIC;
    case 'spawn-error': return o.code === 'EACCES' || o.code === 'EPERM' ? OCF.ERR_PERM : OCF.ERR_INSTALLED;
  }
}

export function describeOutcome(o: AgentOutcome): string {
  switch (o.kind) {
    case 'exited': return `'${rcName(o.rc)}' (${o.rc})`;
    case 'timeout': return "'Timed Out' (1)";
    case 'signal': return `'killed by ${o.signal}' (1)`;
    case 'spawn-error': return `'${rcName(outcomeRc(o))}' (${outcomeRc(o)}): cannot execute (${o.code})`;
  }
}

function severityOf(rc: number): Severity {
  switch (rc) {
    case OCF.ERR_ARGS:
    case OCF.ERR_UNIMPLEMENTED:
    case OCF.ERR_PERM:
    case OCF.ERR_INSTALLED:
      return 'hard';
    case OCF.ERR_CONFIGURED:
      return 'fatal';
    default:
      // 1, 8, 9 and every code the spec does not define (unknown = soft, as Pacemaker does).
      return 'soft';
  }
}

export type JudgedAction = 'start' | 'stop' | 'monitor' | 'probe';

/**
 * Judge an outcome against what the action expects: start/stop expect 0; a recurring monitor
 * expects 0 (running); a probe accepts 0 and 7 (it learns the state). Stop never accepts 7
 * (the spec forbids it; Pacemaker treats it as a failure too).
 */
export function judge(action: JudgedAction, o: AgentOutcome): Verdict {
  if (o.kind !== 'exited') {
    const rc = outcomeRc(o);
    return { ok: false, severity: o.kind === 'spawn-error' ? severityOf(rc) : 'soft', rc, text: describeOutcome(o) };
  }
  const rc = o.rc;
  const degraded = rc === OCF.DEGRADED || rc === OCF.DEGRADED_PROMOTED;
  const success = rc === OCF.SUCCESS || degraded || (action !== 'stop' && action !== 'start' && rc === OCF.RUNNING_PROMOTED);
  if (success) return { ok: true, running: action !== 'stop', degraded };
  if (action === 'probe' && rc === OCF.NOT_RUNNING) return { ok: true, running: false, degraded: false };
  return { ok: false, severity: severityOf(rc), rc, text: describeOutcome(o) };
}

/**
 * Pacemaker's `services__lsb2ocf`: the `status` action of an init script speaks LSB status
 * codes (0 running, 1 dead + pid file, 2 dead + lock file, 3 stopped, 4 unknown); other
 * actions use 0-7 like OCF and anything else is a generic error.
 */
export function lsbToOcf(action: 'start' | 'stop' | 'status', rc: number): number {
  if (action !== 'status') return rc >= 0 && rc <= 7 ? rc : OCF.ERR_GENERIC;
  switch (rc) {
    case 0: return OCF.SUCCESS;
    case 1: case 2: case 3: return OCF.NOT_RUNNING;
    case 150: return OCF.ERR_INSTALLED;
    case 151: return OCF.ERR_PERM;
    default: return OCF.ERR_GENERIC;
  }
}

/** `systemctl is-active` text → OCF monitor code (Pacemaker reads ActiveState the same way). */
export function systemdActiveToOcf(state: string): number {
  switch (state.trim()) {
    case 'active':
    case 'reloading':
    case 'activating':
      return OCF.SUCCESS;
    case 'inactive':
    case 'failed':
    case 'deactivating':
    case 'unknown':
    case '':
      return OCF.NOT_RUNNING;
    default:
      return OCF.ERR_GENERIC;
  }
}
