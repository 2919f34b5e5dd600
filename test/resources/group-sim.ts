/**
 * A scripted world for the pure group machine: fake agents with a `running` flag and
 * scripted misbehaviour, a clock, and a transcript of every action, result and standby
 * request. Results are delivered `latency` ms after the action (or never, for a hang).
 */
import { GroupMachine } from '../../src/resources/core/machine.js';
import type { ActionCall, GroupEffect, GroupInput, GroupSpec, MemberSpec } from '../../src/resources/core/group-model.js';
import type { AgentOutcome } from '../../src/resources/core/ocf.js';

export interface FakeAgent {
  running: boolean;
  /** Exit codes the next starts/monitors/stops return instead of the honest answer (consumed). */
  startRc: number[];
  monitorRc: number[];
  stopRc: number[];
  /** Never answer start (the shell would time it out). */
  hangStart: boolean;
}

export function member(id: string, over: Partial<MemberSpec> = {}): MemberSpec {
  return {
    id, agent: `ocf:heartbeat:${id}`,
    start: { timeoutMs: 20_000, onFail: 'restart' },
    stop: { timeoutMs: 20_000, onFail: 'block' },
    monitor: { timeoutMs: 20_000, onFail: 'restart', intervalMs: 10_000 },
    probeTimeoutMs: 20_000, migrationThreshold: 3, failureTimeoutMs: 0,
    ...over,
  };
}

interface Pending { call: ActionCall; due: number; outcome: AgentOutcome }

export class GroupSim {
  readonly m: GroupMachine;
  now = 0;
  readonly transcript: string[] = [];
  readonly effects: { t: number; e: GroupEffect }[] = [];
  readonly agents = new Map<string, FakeAgent>();
  readonly pending: Pending[] = [];
  standby = false;
  stopped = false;
  latency = 100;
  instance = 'INIT';

  /** Called for every effect before it is carried out, and for every result before the machine sees it. */
  onEffect: ((e: GroupEffect) => void) | undefined;
  onResult: ((call: ActionCall, rc: number | string) => void) | undefined;

  constructor(spec: GroupSpec, opts: { moved?: boolean; running?: readonly string[] } = {}) {
    for (const mem of spec.members) {
      this.agents.set(mem.id, { running: opts.running?.includes(mem.id) ?? false, startRc: [], monitorRc: [], stopRc: [], hangStart: false });
    }
    this.m = new GroupMachine(spec, opts);
    this.apply(this.m.begin(this.now));
  }

  agent(id: string): FakeAgent {
    return this.agents.get(id)!;
  }

  private note(text: string): void {
    this.transcript.push(`${this.now.toFixed(0).padStart(8)} ${text}`);
  }

  input(inp: GroupInput): void {
    if (inp.type === 'instance') {
      this.instance = inp.state;
      this.note(`instance ${inp.state}${inp.reason ? ` (${inp.reason})` : ''}`);
    } else if (inp.type === 'fenceResult') {
      this.note(`  fence -> ${inp.outcome.kind === 'exited' ? inp.outcome.rc : inp.outcome.kind}`);
    } else if (inp.type !== 'result' && inp.type !== 'tick') this.note(`command ${inp.type}${'resource' in inp && inp.resource ? ` ${inp.resource}` : ''}`);
    this.apply(this.m.step(inp, this.now));
  }

  private apply(fx: GroupEffect[]): void {
    for (const e of fx) {
      this.onEffect?.(e);
      this.effects.push({ t: this.now, e });
      switch (e.type) {
        case 'run': {
          const c = e.call;
          this.note(`run ${c.resource} ${c.action === 'monitor' && c.intervalMs === 0 ? 'probe' : c.action}`);
          const o = this.outcome(c);
          if (o) this.pending.push({ call: c, due: this.now + this.latency, outcome: o });
          break;
        }
        case 'cancel': {
          this.note(`cancel ${e.resource}`);
          const i = this.pending.findIndex((p) => p.call.callId === e.callId);
          if (i >= 0) this.pending.splice(i, 1);
          break;
        }
        case 'standby':
          this.standby = e.on;
          this.note(`standby ${e.on ? 'on' : 'off'}: ${e.reason}`);
          break;
        case 'fence':
          this.note(`fence (${e.reason}${e.peer ? `, peer ${e.peer}` : ''})`);
          break;
        case 'stopped':
          this.stopped = true;
          this.note('stopped');
          break;
        case 'log':
          break;
      }
    }
  }

  /** What the fake agent does; undefined = hangs. */
  private outcome(c: ActionCall): AgentOutcome | undefined {
    const a = this.agent(c.resource);
    const exited = (rc: number): AgentOutcome => ({ kind: 'exited', rc });
    switch (c.action) {
      case 'start': {
        if (a.hangStart) return undefined;
        const rc = a.startRc.shift();
        if (rc !== undefined) return exited(rc);
        a.running = true;
        return exited(0);
      }
      case 'stop': {
        const rc = a.stopRc.shift();
        if (rc !== undefined) return exited(rc);
        a.running = false;
        return exited(0);
      }
      case 'monitor': {
        const rc = c.intervalMs > 0 ? a.monitorRc.shift() : undefined;
        if (rc !== undefined) return exited(rc);
        return exited(a.running ? 0 : 7);
      }
    }
  }

  /** Deliver one pending result (the earliest due, or the one at index `i`). */
  deliver(i = 0): void {
    const p = this.pending.splice(i, 1)[0];
    if (!p) return;
    this.now = Math.max(this.now, p.due);
    const rc = p.outcome.kind === 'exited' ? p.outcome.rc : p.outcome.kind;
    this.note(`  ${p.call.resource} ${p.call.action === 'monitor' && p.call.intervalMs === 0 ? 'probe' : p.call.action} -> ${rc}`);
    this.onResult?.(p.call, rc);
    this.apply(this.m.step({ type: 'result', callId: p.call.callId, outcome: p.outcome, exitReason: '', output: '', execMs: this.latency, at: '2026-01-01T00:00:00.000Z' }, this.now));
  }

  /** Time a hung action out, as the shell would. */
  timeout(resource: string, call: ActionCall): void {
    this.note(`  ${resource} ${call.action} -> timeout`);
    this.apply(this.m.step({ type: 'result', callId: call.callId, outcome: { kind: 'timeout' }, exitReason: '', output: 'still starting...', execMs: call.timeoutMs, at: '2026-01-01T00:00:00.000Z' }, this.now));
  }

  /** Run until `until`: results in due order, ticks at the machine's deadlines. */
  runUntil(until: number): void {
    let sameTime = 0;
    let last = this.now;
    for (let guard = 0; guard < 100_000; guard++) {
      if (this.now === last) {
        if (++sameTime > 1000) throw new Error(`the machine spins at t=${this.now} (deadline ${this.m.nextDeadline()})`);
      } else { sameTime = 0; last = this.now; }
      this.pending.sort((a, b) => a.due - b.due);
      const nextResult = this.pending[0]?.due;
      const nextTick = this.m.nextDeadline();
      const next = Math.min(nextResult ?? Infinity, nextTick ?? Infinity);
      if (next > until) break;
      if (nextResult !== undefined && nextResult <= (nextTick ?? Infinity)) {
        this.deliver(0);
      } else {
        this.now = Math.max(this.now, nextTick!);
        this.apply(this.m.step({ type: 'tick' }, this.now));
      }
    }
    this.now = Math.max(this.now, until);
  }

  settle(ms = 1000): void {
    this.runUntil(this.now + ms);
  }

  /** Transcript lines of actions (start/stop only), e.g. `start a`. */
  actions(kinds: readonly string[] = ['start', 'stop']): string[] {
    return this.effects.flatMap(({ e }) => (e.type === 'run' && kinds.includes(e.call.action) ? [`${e.call.action} ${e.call.resource}`] : []));
  }

  runningSet(): string[] {
    return [...this.agents].filter(([, a]) => a.running).map(([id]) => id);
  }
}
