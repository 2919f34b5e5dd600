/**
 * What the election machines share: log levels, the drop-verdict type and its counters,
 * the transition record.
 */
export type { Verdict } from '../protocol/verdict.js';
export { countDrop, dropCounters } from '../protocol/verdict.js';

export type { LogLevel } from '../lib/log-level.js';

/** The last state change of a machine, for status output. */
export interface TransitionRecord<S extends string> {
  readonly from: S;
  readonly to: S;
  readonly reason: string;
  /** Monotonic ms, as handed to `step`. */
  readonly at: number;
}

/** Bytewise (numeric, big-endian) address order: the VRRP tie-break key (RFC 5798 §6.4.3). */
export function compareAddresses(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Consecutive failed advert sends before the machine reacts (ucarp: skew 240), and successes to recover. */
export const SEND_ERROR_THRESHOLD = 3;
/** Adverts a master repeats, unicast, after yielding to a preferred one (see the machines' `yieldEchoes`). */
export const YIELD_ECHOES = 3;

/**
 * Send health with hysteresis: `SEND_ERROR_THRESHOLD` failures in a row make it failing,
 * as many successes in a row make it healthy again. Pure bookkeeping; the machines decide
 * what failing means (CARP advertises skew 240, VRRP only warns).
 */
export class SendHealth {
  private errors = 0;
  private oks = 0;
  private failing = false;

  /** Consecutive failed sends (0 after any success). */
  get consecutiveErrors(): number {
    return this.errors;
  }

  get isFailing(): boolean {
    return this.failing;
  }

  /** Record one send's outcome; says when the health flips, else undefined. */
  record(ok: boolean): 'failing' | 'recovered' | undefined {
    if (ok) {
      this.errors = 0;
      if (this.failing && ++this.oks >= SEND_ERROR_THRESHOLD) {
        this.failing = false;
        this.oks = 0;
        return 'recovered';
      }
      return undefined;
    }
    this.oks = 0;
    this.errors++;
    if (!this.failing && this.errors >= SEND_ERROR_THRESHOLD) {
      this.failing = true;
      return 'failing';
    }
    return undefined;
  }
}
