/**
 * One resource group as a pure state machine (Pacemaker's group semantics, Heartbeat's
 * seed 002 §5.2.2 "Ressourcengruppen"): members start in order and stop in reverse; when a
 * member fails, the members after it stop, it is stopped and started again, and they start
 * again; a member that cannot run leaves the ones after it stopped.
 *
 * The group runs only where its failover instance is MASTER. When it cannot run on this node
 * (migration threshold reached, a failed start, a hard error, an operator `move`) it is
 * stopped here and then the machine asks for standby on the instance, so the peer takes the
 * address and starts the group; standby holds until the failure expires or is cleaned up.
 *
 * Every input goes through `step(input, now)`; effects (run an agent action, cancel one,
 * standby, log) come back as data. Time is a monotonic millisecond number handed in; the
 * deadline of the next monitor, failure expiry or end of a restart backoff is `nextDeadline()`.
 */
import type { JudgedAction } from './ocf.js';
import type { GroupStatus, MemberStatus } from './status.js';
import { GroupFencing } from './fencing.js';
import { applyResult, memberStatus, newMember, type Member } from './member.js';
import { logEffect, type ActionCall, type GroupEffect, type GroupInput, type GroupSpec } from './group-model.js';

export class GroupMachine {
  private readonly members: Member[];
  private instanceState = 'INIT';
  private moved = false;
  private shuttingDown = false;
  private stoppedEmitted = false;
  /** What we last told the instance (standby on/off). */
  private standbyOn = false;
  private nextCallId = 1;
  /** Last "stuck" message, so it is logged once per cause. */
  private stuckLogged: string | undefined;
  /** Fencing (groups with `spec.fence`): nothing starts while it is not `none`. */
  private readonly fencing: GroupFencing;
  /** Order (`order.ts`): groups this one is after that are not started here; nothing starts while any. */
  private waitingFor: readonly string[];
  /** Order: groups after this one that still run here; nothing stops while any (unless blocked). */
  private heldBy: readonly string[] = [];
  private heldByBlocked = false;

  constructor(readonly spec: GroupSpec, initial: { moved?: boolean } = {}) {
    if (spec.members.length === 0) throw new Error(`group ${spec.id} has no members`);
    this.moved = initial.moved ?? false;
    this.fencing = new GroupFencing(spec);
    this.members = spec.members.map(newMember);
    // Closed until the shell says the groups before it run: never a start out of order.
    this.waitingFor = spec.after ?? [];
  }

  get isMoved(): boolean {
    return this.moved;
  }

  /** Effects to start with (the initial probes; standby when a persisted move is in force). */
  begin(now: number): GroupEffect[] {
    const fx: GroupEffect[] = [];
    this.plan(now, fx);
    return fx;
  }

  step(input: GroupInput, now: number): GroupEffect[] {
    const fx: GroupEffect[] = [];
    switch (input.type) {
      case 'instance':
        if (input.state !== this.instanceState) {
          const was = this.instanceState;
          this.instanceState = input.state;
          if (input.state === 'MASTER') fx.push(logEffect('info', `${this.spec.id}: instance ${this.spec.instance} is MASTER here`));
          else if (was === 'MASTER') fx.push(logEffect('info', `${this.spec.id}: instance ${this.spec.instance} left MASTER (${input.state}): stopping the group`));
          this.fencing.onInstance(input.state, input.reason ?? '', input.peer, fx);
        }
        break;
      case 'fenceResult':
        this.fencing.onResult(input, fx);
        break;
      case 'result': {
        const m = this.members.find((x) => x.inflight?.callId === input.callId);
        if (m) applyResult(this.spec.id, m, input, now, fx); // else cancelled or unknown: stale
        break;
      }
      case 'tick':
        this.expireFailures(now, fx);
        break;
      case 'cleanup':
        this.handleCleanup(input.resource, fx);
        break;
      case 'move':
        if (!this.moved) {
          this.moved = true;
          fx.push(logEffect('notice', `${this.spec.id}: moved away from this node by the operator (until \`carpool resource clear ${this.spec.id}\`)`));
        }
        break;
      case 'clear':
        if (this.moved) {
          this.moved = false;
          fx.push(logEffect('notice', `${this.spec.id}: operator move cleared; this node may run the group again`));
        }
        break;
      case 'restart':
        this.handleRestart(input.resource, fx);
        break;
      case 'order':
        if (input.waitingFor.length && !this.waitingFor.length && this.wantRunning()) {
          fx.push(logEffect('info', `${this.spec.id}: group ${input.waitingFor.join(', ')} is not started here: stopping (order)`));
        }
        if (input.heldBy.join() !== this.heldBy.join()) this.stuckLogged = undefined;
        this.waitingFor = input.waitingFor;
        this.heldBy = input.heldBy;
        this.heldByBlocked = input.heldByBlocked;
        break;
      case 'shutdown':
        if (!this.shuttingDown) {
          this.shuttingDown = true;
          this.fencing.cancel(fx);
          fx.push(logEffect('info', `${this.spec.id}: stopping the group (daemon exit)`));
        }
        break;
    }
    this.plan(now, fx);
    return fx;
  }

  /** The earliest time a `tick` has something to do (a monitor is due, a failure expires, a restart backoff ends). */
  nextDeadline(): number | undefined {
    let d: number | undefined;
    const at = (t: number | undefined) => { if (t !== undefined && (d === undefined || t < d)) d = t; };
    const target = this.wantRunning();
    this.members.forEach((m, i) => {
      // Same condition as the planner uses, so a deadline is never one that a tick would not consume.
      if (this.monitorWanted(m) && !this.mustBeDown(i, target)) at(m.nextMonitorAt);
      if (m.spec.failureTimeoutMs > 0 && m.lastFailureAt !== undefined) at(m.lastFailureAt + m.spec.failureTimeoutMs);
      at(m.restartAt);
    });
    return d;
  }

  // --- eligibility ----------------------------------------------------------------------

  /** Why this node cannot run the group, or undefined when it can. */
  ineligibleReason(): string | undefined {
    if (this.moved) return 'moved away by the operator';
    for (const m of this.members) {
      if (m.banned) return `${m.spec.id}: ${m.banned}`;
      const t = m.spec.migrationThreshold;
      if (t > 0 && m.failcount >= t) return `${m.spec.id} failed ${m.failcount} times (migration-threshold ${t})`;
    }
    return undefined;
  }

  private wantRunning(): boolean {
    return this.instanceState === 'MASTER' && !this.shuttingDown && this.ineligibleReason() === undefined && this.waitingFor.length === 0;
  }

  /**
   * Fully started and meant to stay so: the groups after this one may start (`order.ts`). A
   * member failing, restarting or being stopped makes it false, so they stop first.
   */
  get ready(): boolean {
    if (!this.wantRunning()) return false;
    return this.members.every((m, i) => m.role === 'started' && !this.mustBeDown(i, true) && !m.blocked && (!m.inflight || m.inflight.action === 'monitor'));
  }

  /** Member i must be (or get) stopped: the group must not run, or it needs recovery or is kept down. */
  private mustBeDown(i: number, target: boolean): boolean {
    if (!target) return true;
    for (let j = 0; j <= i; j++) {
      const m = this.members[j]!;
      // Everything after a member that is failed, restarting or held must be down too.
      if (m.role === 'failed' || m.restartPending || m.held) return true;
    }
    return false;
  }

  private monitorWanted(m: Member): boolean {
    return m.role === 'started' && !m.blocked && m.spec.monitor !== undefined && m.inflight === undefined;
  }

  // --- the planner: one place decides the next actions ---------------------------------

  private plan(now: number, fx: GroupEffect[]): void {
    // A backoff that is over is forgotten, so a deadline is never one that is already past.
    for (const m of this.members) if (m.restartAt !== undefined && now >= m.restartAt) m.restartAt = undefined;
    // 1. Learn the state first: probe whatever is unknown (in parallel, like Pacemaker's probes).
    let unknown = false;
    for (const m of this.members) {
      if (m.role !== 'unknown') continue;
      unknown = true;
      if (!m.inflight && !m.blocked) this.run(m, 'probe', now, fx);
    }
    const target = this.wantRunning();
    const sequencing = this.members.some((m) => m.inflight && (m.inflight.action === 'start' || m.inflight.action === 'stop'));
    if (!unknown && !sequencing) this.sequence(target, now, fx);
    // 3. Recurring monitors of started members that are meant to stay up.
    this.members.forEach((m, i) => {
      if (this.monitorWanted(m) && !this.mustBeDown(i, target) && m.nextMonitorAt !== undefined && now >= m.nextMonitorAt) {
        this.run(m, 'monitor', now, fx);
      }
    });
    this.updateStandby(fx);
    this.maybeStopped(fx);
  }

  /** 2. One start or stop at a time: stops from the end first, then starts from the front. */
  private sequence(target: boolean, now: number, fx: GroupEffect[]): void {
    const n = this.members.length;
    let k = n;
    for (let i = 0; i < n; i++) if (this.mustBeDown(i, target)) { k = i; break; }
    if (this.heldBy.length && this.members.slice(k).some((m) => m.role !== 'stopped')) {
      // Reverse order across groups: the groups after this one stop first.
      this.stuck(`${this.spec.id}: waiting for group ${this.heldBy.join(', ')} to stop first (order)`, fx, this.heldByBlocked ? 'error' : 'info');
      return;
    }
    for (let j = n - 1; j >= k; j--) {
      const m = this.members[j]!;
      if (m.role === 'stopped') continue;
      if (m.blocked) {
        this.stuck(`${this.spec.id}: cannot stop ${m.spec.id}: it is blocked (${m.lastFailure?.text ?? 'on-fail=block'}); ` +
          `members before it stay as they are — \`carpool resource cleanup ${m.spec.id}\` retries`, fx);
        return;
      }
      if (m.inflight) {
        // A monitor of a member that must stop now is cancelled (Pacemaker cancels recurring ops before a stop).
        fx.push({ type: 'cancel', callId: m.inflight.callId, resource: m.spec.id });
        m.inflight = undefined;
      }
      this.run(m, 'stop', now, fx);
      return;
    }
    if (!target) return;
    for (const m of this.members) {
      if (m.role === 'started') continue;
      if (m.held || m.blocked) {
        this.stuck(`${this.spec.id}: ${m.spec.id} is ${m.blocked ? 'blocked' : 'kept stopped (on-fail=stop)'}; ` +
          `the members after it stay stopped — \`carpool resource cleanup ${m.spec.id}\` retries`, fx);
        return;
      }
      // Restart backoff: this member and the ones after it wait (nextDeadline() wakes us up).
      if (m.restartAt !== undefined) return;
      // Fencing first: nothing starts while the peer may still run the group.
      if (this.fencing.state === 'needed') { this.fencing.start(this.nextCallId++, now, fx); return; }
      if (this.fencing.state === 'running') return;
      if (this.fencing.state === 'failed') {
        this.stuck(`${this.spec.id}: not starting: fencing failed (${this.fencing.failureText ?? 'unknown'}), the peer may still run it — ` +
          `fix the fence, then \`carpool resource cleanup ${this.spec.id}\` fences again`, fx);
        return;
      }
      this.run(m, 'start', now, fx);
      return;
    }
    this.stuckLogged = undefined;
  }

  private stuck(message: string, fx: GroupEffect[], level: 'error' | 'info' = 'error'): void {
    if (this.stuckLogged === message) return;
    this.stuckLogged = message;
    fx.push(logEffect(level, message));
  }

  private run(m: Member, action: JudgedAction, now: number, fx: GroupEffect[]): void {
    const callId = this.nextCallId++;
    m.inflight = { callId, action, startedAt: now };
    const mon = m.spec.monitor;
    let call: ActionCall;
    switch (action) {
      case 'probe':
        call = { callId, resource: m.spec.id, action: 'monitor', intervalMs: 0, timeoutMs: m.spec.probeTimeoutMs,
          ...(mon?.checkLevel !== undefined ? { checkLevel: mon.checkLevel } : {}) };
        break;
      case 'monitor':
        call = { callId, resource: m.spec.id, action: 'monitor', intervalMs: mon!.intervalMs, timeoutMs: mon!.timeoutMs,
          ...(mon!.checkLevel !== undefined ? { checkLevel: mon!.checkLevel } : {}) };
        break;
      default:
        call = { callId, resource: m.spec.id, action, intervalMs: 0, timeoutMs: m.spec[action].timeoutMs };
        fx.push(logEffect('info', `${this.spec.id}: ${action === 'start' ? 'starting' : 'stopping'} ${m.spec.id} (${m.spec.agent})`));
    }
    fx.push({ type: 'run', call });
  }

  /** Standby on once the group is fully stopped and cannot run here; off as soon as it can. */
  private updateStandby(fx: GroupEffect[]): void {
    if (this.shuttingDown) return;
    const reason = this.ineligibleReason();
    if (reason !== undefined && !this.standbyOn) {
      if (this.members.every((m) => m.role === 'stopped' && !m.inflight)) {
        this.standbyOn = true;
        fx.push({ type: 'standby', on: true, reason: `group ${this.spec.id} cannot run here: ${reason}` });
      }
    } else if (reason === undefined && this.standbyOn) {
      this.standbyOn = false;
      fx.push({ type: 'standby', on: false, reason: `group ${this.spec.id} may run here again` });
    }
  }

  private maybeStopped(fx: GroupEffect[]): void {
    if (!this.shuttingDown || this.stoppedEmitted) return;
    // The planner has just run: with nothing in flight, nothing more can be done (all stopped,
    // or the last one still up is blocked and holds the ones before it).
    if (this.members.some((m) => m.inflight)) return;
    const left = this.members.filter((m) => m.role !== 'stopped');
    // Groups after this one are still stopping: this one stops after them.
    if (left.length > 0 && this.heldBy.length > 0 && !this.heldByBlocked) return;
    this.stoppedEmitted = true;
    if (left.length > 0) {
      // Nothing proves the service is down: the instance must not be handed over (issue 11).
      fx.push(logEffect('error', `${this.spec.id}: could not stop ${left.map((m) => m.spec.id).join(', ')} (${this.heldByBlocked ? `group ${this.heldBy.join(', ')} after it is blocked` : 'blocked'}): ` +
        `instance ${this.spec.instance} is not handed over; \`carpool resource cleanup ${this.spec.id}\` retries the stop`));
    }
    fx.push({ type: 'stopped' });
  }

  private expireFailures(now: number, fx: GroupEffect[]): void {
    for (const m of this.members) {
      const t = m.spec.failureTimeoutMs;
      if (t > 0 && m.lastFailureAt !== undefined && now >= m.lastFailureAt + t) {
        fx.push(logEffect('notice', `${this.spec.id}: failures of ${m.spec.id} expired (failure-timeout ${t} ms)`));
        m.failcount = 0;
        m.banned = undefined;
        m.lastFailureAt = undefined;
      }
    }
  }

  private targets(resource: string | undefined): Member[] | undefined {
    if (resource === undefined || resource === this.spec.id) return this.members;
    const m = this.members.find((x) => x.spec.id === resource);
    return m ? [m] : undefined;
  }

  private handleCleanup(resource: string | undefined, fx: GroupEffect[]): void {
    const ms = this.targets(resource);
    if (!ms) return;
    for (const m of ms) {
      m.failcount = 0;
      m.banned = undefined;
      m.blocked = false;
      m.held = false;
      m.lastFailure = undefined;
      m.lastFailureAt = undefined;
      m.streak = 0;
      m.restartAt = undefined;
      // Probe again (Pacemaker's cleanup re-detects the state), unless an action is running.
      if (!m.inflight) m.role = 'unknown';
    }
    this.stuckLogged = undefined;
    // A failed fence is retried by a cleanup of the group (while MASTER: at once).
    if (ms === this.members) this.fencing.retry(this.instanceState === 'MASTER');
    // During shutdown: the stop is retried, and `stopped` comes again when it is done (or blocked again).
    this.stoppedEmitted = false;
    fx.push(logEffect('notice', `${this.spec.id}: cleaned up ${ms.map((m) => m.spec.id).join(', ')}`));
  }

  private handleRestart(resource: string | undefined, fx: GroupEffect[]): void {
    const ms = this.targets(resource);
    if (!ms) return;
    const first = ms[0]!;
    if (first.role !== 'started') return;
    first.restartPending = true;
    fx.push(logEffect('notice', `${this.spec.id}: restarting ${resource === undefined || resource === this.spec.id ? 'the group' : first.spec.id}`));
  }

  // --- status ----------------------------------------------------------------------------

  /** Does the group hold any member that is not stopped (or not known to be)? */
  get active(): boolean {
    return this.members.some((m) => m.role !== 'stopped');
  }

  /** A member is blocked and not known to be stopped: its service may run here until cleanup. */
  get blocked(): boolean {
    return this.members.some((m) => m.blocked && m.role !== 'stopped');
  }

  hasMember(id: string): boolean {
    return this.members.some((m) => m.spec.id === id);
  }

  status(now: number): GroupStatus {
    const members: MemberStatus[] = this.members.map((m) => memberStatus(m, now));
    const reason = this.ineligibleReason();
    const started = members.filter((m) => m.state === 'Started').length;
    let state: string;
    if (members.some((m) => m.blocked)) state = 'Blocked';
    else if (this.fencing.state === 'failed' && started === 0) state = 'Fencing failed';
    else if (this.fencing.state === 'running') state = 'Fencing';
    else if (members.some((m) => m.state === 'Starting')) state = 'Starting';
    else if (members.some((m) => m.state === 'Stopping')) state = 'Stopping';
    else if (started === members.length) state = 'Started';
    else if (started === 0 && members.every((m) => m.state === 'Stopped')) state = 'Stopped';
    else state = started > 0 ? 'Partially started' : members.some((m) => m.state === 'FAILED') ? 'FAILED' : 'Unknown';
    return {
      id: this.spec.id, instance: this.spec.instance, instanceState: this.instanceState, state,
      eligible: reason === undefined, ineligibleReason: reason ?? null, standby: this.standbyOn, moved: this.moved, members,
      ...(this.spec.fence ? { fence: this.fencing.status(now) } : {}),
      ...(this.spec.after?.length || this.heldBy.length ? { order: { after: this.spec.after ?? [], waitingFor: this.waitingFor, heldBy: this.heldBy } } : {}),
    };
  }
}
