/**
 * The `vrrp_sync_group` coordinator (keepalived notes §2 "Sync groups", vrrp_sync.c), pure.
 * Its members are ordinary VRRP machines built with `syncGroup: true`; they never decide
 * group matters alone, they report and are told:
 *
 *   member effect                 -> coordinator input
 *   { transition from to }        -> { type: 'transition', member, from, to }
 *   { syncWant want }             -> { type: 'want', member, want }     (master-down fired / no longer)
 *   { syncFault fault }           -> { type: 'fault', member, fault }   (the member's own trackers)
 *   { garp kind: 'lower-prio' }   -> { type: 'reannounce', member }
 *
 *   coordinator effect            -> member input
 *   { deliver member groupFault } -> any member has its own FAULT ⇒ every member FAULT; cleared ⇒ all leave
 *   { deliver member groupBackup }-> a member went BACKUP ⇒ every MASTER member steps down (priority 0,
 *                                    make before break)
 *   { deliver member groupMaster }-> every member wants MASTER (or is MASTER) ⇒ the wanting ones go
 *   { deliver member groupReannounce } -> a member re-announced after a lower-priority advert ⇒
 *                                    the other MASTER members send their GARPs too (keepalived)
 *
 * Members go MASTER only when all want to; otherwise they stay BACKUP (keepalived prefers
 * backup to avoid thrashing). Inputs are delivered after the step that caused them has
 * finished (a queue), and member effects reach the coordinator in order; the exchange
 * settles because every delivered input either changes a member's state once or is
 * ignored. `stepMembers` below does exactly that: the shell calls it instead of
 * `machine.step` and carries out the returned effects.
 */
import type { LogLevel } from './common.js';
import type { VrrpMachine } from './vrrp.js';
import type { VrrpEffect, VrrpInput, VrrpState } from './vrrp-model.js';

export type SyncInput =
  | { readonly type: 'transition'; readonly member: string; readonly from: VrrpState; readonly to: VrrpState; readonly reason: string }
  | { readonly type: 'want'; readonly member: string; readonly want: boolean }
  | { readonly type: 'fault'; readonly member: string; readonly fault: boolean; readonly reason: string }
  /** The member re-announced itself after hearing a lower priority (keepalived re-announces the group). */
  | { readonly type: 'reannounce'; readonly member: string };

export type SyncGroupState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';

export type SyncEffect =
  | { readonly type: 'deliver'; readonly member: string; readonly input: Extract<VrrpInput, { type: 'groupFault' | 'groupBackup' | 'groupMaster' | 'groupReannounce' }> }
  /** Group notify (`notify_master` of the group, generic `GROUP name STATE 0`). */
  | { readonly type: 'notify'; readonly which: 'master' | 'backup' | 'fault' | 'stop' }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string };

interface Member {
  state: VrrpState;
  want: boolean;
  ownFault: boolean;
  faultReason: string;
}

export interface SyncGroupStatus {
  readonly name: string;
  readonly state: SyncGroupState;
  readonly fault: boolean;
  readonly members: readonly { readonly name: string; readonly state: VrrpState; readonly want: boolean; readonly ownFault: boolean }[];
}

export class SyncGroupCoordinator {
  private readonly members = new Map<string, Member>();
  private groupFault = false;
  private gstate: SyncGroupState = 'INIT';

  constructor(readonly name: string, members: readonly string[]) {
    for (const m of members) this.members.set(m, { state: 'INIT', want: false, ownFault: false, faultReason: '' });
  }

  get state(): SyncGroupState {
    return this.gstate;
  }

  status(): SyncGroupStatus {
    return {
      name: this.name,
      state: this.gstate,
      fault: this.groupFault,
      members: [...this.members].map(([name, m]) => ({ name, state: m.state, want: m.want, ownFault: m.ownFault })),
    };
  }

  step(input: SyncInput): SyncEffect[] {
    const fx: SyncEffect[] = [];
    const m = this.members.get(input.member);
    if (!m) return fx;
    switch (input.type) {
      case 'fault':
        m.ownFault = input.fault;
        if (input.fault) m.faultReason = input.reason;
        this.updateFault(input.member, fx);
        break;
      case 'want':
        m.want = input.want;
        if (input.want) this.maybeGoMaster(fx);
        break;
      case 'reannounce':
        for (const [name, other] of this.members) {
          if (name !== input.member && other.state === 'MASTER') {
            fx.push({ type: 'deliver', member: name, input: { type: 'groupReannounce', reason: `member ${input.member} heard a lower priority` } });
          }
        }
        break;
      case 'transition':
        m.state = input.to;
        if (input.to !== 'BACKUP') m.want = false;
        if (input.to === 'BACKUP' && input.from === 'MASTER') {
          // keepalived vrrp_sync_backup: one member leaving MASTER takes the others along.
          for (const [name, other] of this.members) {
            if (name !== input.member && other.state === 'MASTER') {
              fx.push({ type: 'deliver', member: name, input: { type: 'groupBackup', reason: `member ${input.member} went BACKUP (${input.reason})` } });
            }
          }
        }
        if (input.to === 'MASTER') this.maybeGoMaster(fx);
        break;
    }
    this.updateGroupState(fx);
    return fx;
  }

  private updateFault(by: string, fx: SyncEffect[]): void {
    const faulty = [...this.members].filter(([, m]) => m.ownFault);
    const fault = faulty.length > 0;
    if (fault === this.groupFault) return;
    this.groupFault = fault;
    const reason = fault ? `member ${by} in FAULT (${this.members.get(by)?.faultReason ?? ''})` : `member ${by} left FAULT`;
    fx.push({ type: 'log', level: fault ? 'warning' : 'info', message: `Sync group ${this.name}: ${fault ? 'FAULT' : 'fault cleared'}: ${reason}` });
    for (const name of this.members.keys()) fx.push({ type: 'deliver', member: name, input: { type: 'groupFault', fault, reason } });
  }

  /** All members want MASTER (or already are): let the wanting ones go. */
  private maybeGoMaster(fx: SyncEffect[]): void {
    if (this.groupFault) return;
    const all = [...this.members.values()];
    if (!all.every((m) => m.want || m.state === 'MASTER') || !all.some((m) => m.want)) return;
    for (const [name, m] of this.members) {
      if (m.want) fx.push({ type: 'deliver', member: name, input: { type: 'groupMaster', reason: `all members of ${this.name} want MASTER` } });
    }
  }

  private updateGroupState(fx: SyncEffect[]): void {
    const states = [...this.members.values()].map((m) => m.state);
    let next: SyncGroupState = this.gstate;
    if (states.some((s) => s === 'FAULT')) next = 'FAULT';
    else if (states.every((s) => s === 'MASTER')) next = 'MASTER';
    else if (states.every((s) => s === 'BACKUP')) next = 'BACKUP';
    else if (states.every((s) => s === 'INIT')) next = this.gstate === 'INIT' ? 'INIT' : 'STOP';
    if (next === this.gstate) return;
    this.gstate = next;
    fx.push({ type: 'log', level: 'info', message: `Sync group ${this.name}: entering ${next} state` });
    if (next !== 'INIT') fx.push({ type: 'notify', which: next === 'STOP' ? 'stop' : (next.toLowerCase() as 'master' | 'backup' | 'fault') });
  }
}

/** An effect of one member, as `stepMembers` returns them. */
export interface MemberEffect {
  readonly member: string;
  readonly effect: VrrpEffect;
}

/**
 * The wiring the shell needs, pure: step one member, forward its transition / syncWant /
 * syncFault effects to the coordinator (if the member is in a group), deliver what the
 * coordinator decides to the other members, and repeat until nothing is left. Returns
 * every member effect in the order it happened (for the shell to carry out) and the
 * group's own effects (notify, log). Members not in a group are simply stepped.
 */
export function stepMembers(
  machines: ReadonlyMap<string, VrrpMachine>,
  groupOf: (member: string) => SyncGroupCoordinator | undefined,
  member: string,
  input: VrrpInput,
  now: number,
): { effects: MemberEffect[]; group: { group: string; effect: SyncEffect }[] } {
  const effects: MemberEffect[] = [];
  const group: { group: string; effect: SyncEffect }[] = [];
  const work: [string, VrrpInput][] = [[member, input]];
  // Each delivered input changes a member's state at most once or is ignored, so this
  // settles; the bound only guards against a future bug turning it into a livelock.
  for (let budget = 64 * (machines.size + 1); work.length > 0 && budget > 0; budget--) {
    const [name, inp] = work.shift()!;
    const m = machines.get(name);
    if (!m) continue;
    for (const effect of m.step(inp, now)) {
      effects.push({ member: name, effect });
      const coord = groupOf(name);
      if (!coord) continue;
      const sin: SyncInput | undefined =
        effect.type === 'transition' ? { type: 'transition', member: name, from: effect.from, to: effect.to, reason: effect.reason }
          : effect.type === 'syncWant' ? { type: 'want', member: name, want: effect.want }
            : effect.type === 'syncFault' ? { type: 'fault', member: name, fault: effect.fault, reason: effect.reason }
              : effect.type === 'garp' && effect.kind === 'lower-prio' ? { type: 'reannounce', member: name } : undefined;
      if (!sin) continue;
      for (const s of coord.step(sin)) {
        if (s.type === 'deliver') work.push([s.member, s.input]);
        else group.push({ group: coord.name, effect: s });
      }
    }
  }
  return { effects, group };
}
