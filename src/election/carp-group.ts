/**
 * Group failover for CARP instances, as BSD carp does it (seed 004, carp-protocol notes
 * §3.6), pure. With FreeBSD's `net.inet.carp.preempt=1`, or OpenBSD's demotion counter of
 * an interface group, a host whose carp interface loses its link makes *every* carp
 * instance of the group advertise as slow (skew 240): the peer, which preempts, takes all
 * of them over, not just the one whose cable was cut. Otherwise a firewall pair ends up
 * with the WAN address on one host and the LAN address on the other.
 *
 *   member link down          -> every member of its groups demoted (effective skew 240)
 *   member link back          -> demotion kept for `holdMs` more ("make before break": the
 *                                member first hears the current master, then all members
 *                                lift together and preempt within one advert interval)
 *
 * A demoted master is not stepped down here: it keeps the addresses and advertises skew 240,
 * and a preempting peer takes over (BSD). Without a peer, or with a peer that does not
 * preempt, it stays master — the same as BSD. Operator demotion (`carpool demote`) is a
 * separate, stronger input of the machine.
 */
import type { LogLevel } from '../lib/log-level.js';

export interface CarpGroupDef {
  readonly name: string;
  readonly members: readonly string[];
}

export type CarpGroupInput =
  /** A member's carrier changed; `holdMs`: how long to stay demoted after it returns. */
  | { readonly type: 'link'; readonly member: string; readonly up: boolean; readonly holdMs: number }
  | { readonly type: 'tick' };

export type CarpGroupEffect =
  | { readonly type: 'demote'; readonly member: string; readonly demoted: boolean; readonly reason: string }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string };

export interface CarpGroupStatus {
  readonly name: string;
  readonly members: readonly string[];
  /** Demotion counter: members that are down or still recovering (OpenBSD's carpdemote). */
  readonly demote: number;
  /** Why, one entry per member counted. */
  readonly reasons: readonly string[];
}

interface MemberState {
  up: boolean;
  /** Link back up, demotion held until this time. */
  recoverUntil: number | undefined;
}

export class CarpGroups {
  private readonly members = new Map<string, MemberState>();
  /** Whether each member is demoted now (as last delivered). */
  private readonly delivered = new Map<string, boolean>();

  constructor(private readonly groups: readonly CarpGroupDef[]) {
    for (const g of groups) {
      for (const m of g.members) {
        this.members.set(m, { up: true, recoverUntil: undefined });
        this.delivered.set(m, false);
      }
    }
  }

  /** Is this instance in any group? */
  has(member: string): boolean {
    return this.members.has(member);
  }

  step(input: CarpGroupInput, now: number): CarpGroupEffect[] {
    const fx: CarpGroupEffect[] = [];
    if (input.type === 'link') {
      const m = this.members.get(input.member);
      if (!m || m.up === input.up) return fx;
      m.up = input.up;
      m.recoverUntil = input.up ? now + input.holdMs : undefined;
      fx.push({
        type: 'log', level: input.up ? 'info' : 'warning',
        message: input.up
          ? `CARP group: ${input.member} link is back; keeping the group demoted ${(input.holdMs / 1000).toFixed(1)} s more (make before break)`
          : `CARP group: ${input.member} link is down; demoting ${this.groupNamesOf(input.member).join(', ')}`,
      });
    } else {
      for (const m of this.members.values()) if (m.recoverUntil !== undefined && now >= m.recoverUntil) m.recoverUntil = undefined;
    }
    this.deliver(now, fx);
    return fx;
  }

  /** The earliest end of a recovery hold, or undefined. */
  nextDeadline(): number | undefined {
    const ds = [...this.members.values()].flatMap((m) => (m.recoverUntil !== undefined ? [m.recoverUntil] : []));
    return ds.length ? Math.min(...ds) : undefined;
  }

  status(now: number): CarpGroupStatus[] {
    return this.groups.map((g) => {
      const reasons = this.reasons(g, now);
      return { name: g.name, members: g.members, demote: reasons.length, reasons };
    });
  }

  private reasons(g: CarpGroupDef, now: number): string[] {
    return g.members.flatMap((name) => {
      const m = this.members.get(name)!;
      if (!m.up) return [`${name} link down`];
      if (m.recoverUntil !== undefined && now < m.recoverUntil) return [`${name} link back, settling`];
      return [];
    });
  }

  private groupNamesOf(member: string): string[] {
    return this.groups.filter((g) => g.members.includes(member)).map((g) => g.name);
  }

  private deliver(now: number, fx: CarpGroupEffect[]): void {
    for (const [member, was] of this.delivered) {
      const why = this.groups.filter((g) => g.members.includes(member)).flatMap((g) => this.reasons(g, now).map((r) => `group ${g.name}: ${r}`));
      const demoted = why.length > 0;
      if (demoted === was) continue;
      this.delivered.set(member, demoted);
      fx.push({ type: 'demote', member, demoted, reason: demoted ? why.join('; ') : 'every member of its groups is up' });
    }
  }
}
