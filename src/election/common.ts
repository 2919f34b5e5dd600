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
