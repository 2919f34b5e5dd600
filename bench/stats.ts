/** Small statistics and the client-side outage measure. */
import type { ProbeRecords } from './lab.js';

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(xs: readonly number[], p: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface Outage {
  /** Last answered probe before the fault to the first answered after (ms); 0 when no probe was lost. */
  readonly outageMs: number;
  /** Probes sent in [from, to] that got no answer. */
  readonly lost: number;
  readonly sent: number;
  /** The client had no answer again by `to`: the outage is at least `outageMs`. */
  readonly unresolved: boolean;
}

/**
 * The client's outage caused by a fault at `from`, looking until `to`: the longest gap
 * between two consecutive answered probes that ends after `from` and has unanswered probes
 * in between. A probe counts as answered when any answer came (late answers included).
 */
export function outageOf(rec: ProbeRecords, from: number, to: number): Outage {
  let last: number | undefined;
  let lostRun = 0;
  let outageMs = 0;
  let lost = 0;
  let sent = 0;
  for (const [t, rtt] of rec.r) {
    if (t > to) break;
    if (t >= from) {
      sent++;
      if (rtt === null) lost++;
    }
    if (rtt === null) {
      if (last !== undefined) lostRun++;
      continue;
    }
    if (last !== undefined && lostRun > 0 && t > from) outageMs = Math.max(outageMs, t - last);
    last = t;
    lostRun = 0;
  }
  const unresolved = lostRun > 0 && last !== undefined;
  if (unresolved) outageMs = Math.max(outageMs, to - last!);
  return { outageMs, lost, sent, unresolved };
}
