/**
 * One member of a resource group as its machine (`machine.ts`) keeps it: what is known of the
 * resource, the action in flight, failures and the restart backoff; what an agent's result does
 * to it (judged by OCF rules, then the operation's on-fail), and its line in the status. Pure.
 */
import type { OnFail } from '../../config/model.js';
import { OCF, judge, type JudgedAction } from './ocf.js';
import { INFINITY, type FailedAction, type MemberState, type MemberStatus } from './status.js';
import { formatDuration } from './duration.js';
import {
  RESTART_BACKOFF, logEffect, restartDelayMs, type ActionName, type GroupEffect, type GroupInput, type MemberSpec,
} from './group-model.js';

export type Role = 'unknown' | 'stopped' | 'started' | 'failed';

export interface InFlight {
  readonly callId: number;
  readonly action: JudgedAction;
  readonly startedAt: number;
}

export interface Member {
  readonly spec: MemberSpec;
  /** What we know of the resource; `failed` = must be stopped before anything else. */
  role: Role;
  /** At most one action per resource at a time (OCF: agents need not be reentrant per instance). */
  inflight: InFlight | undefined;
  nextMonitorAt: number | undefined;
  degraded: boolean;
  /** No actions at all until cleanup (on-fail=block, or a stop failed: nothing proves it is down). */
  blocked: boolean;
  /** Stay stopped until cleanup (on-fail=stop). */
  held: boolean;
  /** Operator restart: stop then start again. */
  restartPending: boolean;
  failcount: number;
  lastFailureAt: number | undefined;
  /** Hard error, failed start, on-fail=standby: this node cannot run the group. */
  banned: string | undefined;
  lastFailure: FailedAction | undefined;
  /** Failures in a row (restart backoff); 0 after cleanup or a healthy `RESTART_BACKOFF.healthyResetMs`. */
  streak: number;
  /** Restart backoff: no start of this member before this time. Always in the future after the machine's `plan()`. */
  restartAt: number | undefined;
  /** When the member was last found or made running (for the healthy reset of `streak`). */
  upSince: number | undefined;
}

/** A member of which nothing is known yet (it is probed first). */
export function newMember(spec: MemberSpec): Member {
  return {
    spec, role: 'unknown', inflight: undefined, nextMonitorAt: undefined, degraded: false, blocked: false, held: false,
    restartPending: false, failcount: 0, lastFailureAt: undefined, banned: undefined, lastFailure: undefined,
    streak: 0, restartAt: undefined, upSince: undefined,
  };
}

/**
 * The action in flight of `m` finished with `r` (the caller matched the call id): the new role,
 * and for a failure the failcount, ban, block or hold its on-fail asks for and the restart backoff.
 * `group` is the group's id, for the log lines.
 */
export function applyResult(group: string, m: Member, r: Extract<GroupInput, { type: 'result' }>, now: number, fx: GroupEffect[]): void {
  const action = m.inflight!.action;
  m.inflight = undefined;
  const v = judge(action, r.outcome);
  const id = m.spec.id;
  if (v.ok) {
    switch (action) {
      case 'probe':
        m.role = v.running ? 'started' : 'stopped';
        m.degraded = v.degraded;
        m.nextMonitorAt = now;
        m.upSince = v.running ? now : undefined;
        fx.push(logEffect('info', `${group}: probe: ${id} is ${v.running ? 'running' : 'stopped'}`));
        break;
      case 'start':
        m.role = 'started';
        m.degraded = v.degraded;
        // The recurring monitor starts right after a start, as Pacemaker schedules it.
        m.nextMonitorAt = now;
        m.upSince = now;
        fx.push(logEffect('info', `${group}: ${id} started (${r.execMs} ms)`));
        break;
      case 'stop':
        m.role = 'stopped';
        m.restartPending = false;
        m.degraded = false;
        fx.push(logEffect('info', `${group}: ${id} stopped (${r.execMs} ms)`));
        break;
      case 'monitor':
        if (v.degraded !== m.degraded) fx.push(logEffect('warning', `${group}: ${id} is ${v.degraded ? 'degraded' : 'no longer degraded'}`));
        m.degraded = v.degraded;
        m.nextMonitorAt = now + m.spec.monitor!.intervalMs;
        break;
    }
    return;
  }

  // A failure: record it (crm_mon's Failed Resource Actions), then act on the operation's on-fail.
  const op: ActionName = action === 'probe' ? 'monitor' : action;
  const intervalMs = action === 'monitor' ? m.spec.monitor!.intervalMs : 0;
  const timeoutMs = action === 'probe' ? m.spec.probeTimeoutMs : action === 'monitor' ? m.spec.monitor!.timeoutMs : m.spec[action].timeoutMs;
  const failure: FailedAction = {
    key: `${id}_${op}_${intervalMs}`, resource: id, action: op, intervalMs, rc: v.rc, text: v.text,
    status: r.outcome.kind === 'exited' ? 'complete' : r.outcome.kind === 'timeout' ? 'Timed Out' : r.outcome.kind === 'signal' ? 'killed' : 'not executed',
    exitReason: r.exitReason, output: r.output, at: r.at, execMs: r.execMs, timeoutMs, severity: v.severity,
  };
  m.lastFailure = failure;
  m.lastFailureAt = now;
  const why = r.exitReason ? `: ${r.exitReason}` : '';
  fx.push(logEffect('error', `${group}: ${failure.key}: ${v.text}${r.outcome.kind === 'timeout' ? ` after ${timeoutMs} ms` : ''}${why}`));

  const onFail: OnFail = action === 'probe' ? 'restart' : action === 'monitor' ? m.spec.monitor!.onFail : m.spec[action].onFail;
  const hard = v.severity !== 'soft';
  const delayMs = onFail === 'ignore' ? 0 : backOff(m, now);
  switch (action) {
    case 'probe':
      m.failcount = Math.min(INFINITY, m.failcount + 1);
      if (r.outcome.kind === 'exited' && r.outcome.rc === OCF.ERR_INSTALLED) {
        // Pacemaker: a probe saying "not installed" means stopped here and cannot run here.
        m.role = 'stopped';
        m.banned = `probe: ${v.text}${why}`;
      } else {
        m.role = 'failed';
        if (hard) m.banned = `probe: ${v.text}${why}`;
      }
      return;
    case 'stop':
      m.failcount = Math.min(INFINITY, m.failcount + 1);
      if (onFail === 'ignore') {
        m.role = 'stopped';
        m.restartPending = false;
        return;
      }
      // Nothing proves it is down; without fencing the only safe thing is to leave it alone.
      m.role = 'failed';
      m.blocked = true;
      fx.push(logEffect('error', `${group}: stop of ${id} failed: blocked (no fencing); \`carpool resource cleanup ${id}\` retries`));
      return;
    case 'start':
      if (onFail === 'ignore') {
        m.role = 'started';
        m.nextMonitorAt = now;
        return;
      }
      m.role = 'failed';
      if (onFail === 'block') { m.blocked = true; m.failcount = Math.min(INFINITY, m.failcount + 1); return; }
      if (onFail === 'stop') { m.held = true; m.failcount = Math.min(INFINITY, m.failcount + 1); return; }
      // start-failure-is-fatal (Pacemaker's default): failcount INFINITY, the node is out.
      m.failcount = INFINITY;
      m.banned = `start failed: ${v.text}${why}`;
      return;
    case 'monitor':
      m.failcount = Math.min(INFINITY, m.failcount + 1);
      switch (onFail) {
        case 'ignore':
          m.nextMonitorAt = now + m.spec.monitor!.intervalMs;
          return;
        case 'block':
          // Left alone as it is (no monitors, no recovery); the members after it keep running.
          m.blocked = true;
          return;
        case 'stop':
          m.role = 'failed';
          m.held = true;
          return;
        case 'standby':
          m.role = 'failed';
          m.banned = `monitor failed (on-fail=standby): ${v.text}${why}`;
          return;
        case 'restart':
          m.role = 'failed';
          if (hard) m.banned = `monitor: ${v.text}${why}`;
          else {
            const t = m.spec.migrationThreshold;
            fx.push(logEffect('warning', t > 0 && m.failcount >= t
              ? `${group}: ${id} reached its migration-threshold (${m.failcount}/${t}): moving the group away`
              : `${group}: recovering ${id} in place (fail-count ${m.failcount}${t > 0 ? `/${t}` : ''})` +
                `${delayMs > 0 ? `; next start in ${formatDuration(delayMs)} (restart backoff)` : ''}`));
          }
          return;
      }
  }
}

/**
 * A failure after which the member may be started again: one more in the row, and the delay
 * before that start (RESTART_BACKOFF). Returns the delay in ms (0 = at once).
 */
function backOff(m: Member, now: number): number {
  if (m.upSince !== undefined && now - m.upSince >= RESTART_BACKOFF.healthyResetMs) m.streak = 0;
  m.upSince = undefined;
  m.streak++;
  const delay = restartDelayMs(m.streak);
  m.restartAt = delay > 0 ? now + delay : undefined;
  return delay;
}

/** The member's line in the group's status. */
export function memberStatus(m: Member, now: number): MemberStatus {
  let state: MemberState;
  const f = m.inflight;
  if (f?.action === 'start') state = 'Starting';
  else if (f?.action === 'stop') state = 'Stopping';
  else if (f?.action === 'probe') state = 'Probing';
  else if (m.blocked) state = m.role === 'stopped' ? 'Stopped' : 'FAILED';
  else state = m.role === 'unknown' ? 'Unknown' : m.role === 'stopped' ? 'Stopped' : m.role === 'started' ? 'Started' : 'FAILED';
  const backoffMs = m.restartAt !== undefined && m.restartAt > now ? m.restartAt - now : null;
  let pending: string | null = null;
  if (f) pending = `${f.action} (${((now - f.startedAt) / 1000).toFixed(1)}s)`;
  else if (backoffMs !== null) pending = `restart backoff: start in ${(backoffMs / 1000).toFixed(1)}s, attempt ${m.streak}`;
  return {
    id: m.spec.id, agent: m.spec.agent, state, degraded: m.degraded, blocked: m.blocked, held: m.held, pending, backoffMs,
    failcount: m.failcount, migrationThreshold: m.spec.migrationThreshold, failureTimeoutMs: m.spec.failureTimeoutMs,
    lastFailure: m.lastFailure ?? null, monitorIntervalMs: m.spec.monitor?.intervalMs ?? null,
  };
}
