/**
 * The shell around the CARP group core (src/election/carp-group.ts): CARP shells report their
 * carrier here, the core decides which members advertise demoted, and one timer ends the
 * make-before-break hold after a link returns.
 */
import type { CarpGroup } from '../config/model.js';
import { CarpGroups, type CarpGroupEffect, type CarpGroupStatus } from '../election/carp-group.js';
import { assertNever } from '../lib/assert-never.js';
import type { CarpShell } from './carp-shell.js';
import type { Logger } from './logger.js';

export class CarpGroupShell {
  private readonly core: CarpGroups;
  private readonly shells = new Map<string, CarpShell>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly groups: readonly CarpGroup[], private readonly log: Logger, private readonly now: () => number) {
    this.core = new CarpGroups(groups);
  }

  has(name: string): boolean {
    return this.core.has(name);
  }

  add(shell: CarpShell): void {
    this.shells.set(shell.name, shell);
  }

  /** A member's carrier changed (or is down at start). */
  link(name: string, up: boolean): void {
    const shell = this.shells.get(name);
    if (!shell) return;
    this.apply(this.core.step({ type: 'link', member: name, up, holdMs: shell.machine.masterDownMs() }, this.now()));
  }

  status(): CarpGroupStatus[] {
    return this.core.status(this.now());
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private apply(effects: CarpGroupEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'demote':
          this.shells.get(e.member)?.groupDemote(e.demoted, e.reason);
          break;
        case 'log':
          this.log.log(e.level, e.message);
          break;
        default:
          assertNever(e);
      }
    }
    this.rearm();
  }

  private rearm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const at = this.core.nextDeadline();
    if (at === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.apply(this.core.step({ type: 'tick' }, this.now()));
    }, Math.max(0, at - this.now()));
  }
}
