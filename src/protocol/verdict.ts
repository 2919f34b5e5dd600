/**
 * The result of a receive check: a value, or the reason it was dropped. Dropped packets
 * are results, never exceptions (house style: OpenBSD `carp_proto_input`), so every
 * reason can have its own counter. Structurally identical to the CARP codec's `Verdict`.
 */
export type Verdict<T, R> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: R };

/** A zeroed counter per reason, in ladder order (for status output and metrics). */
export function dropCounters<R extends string>(reasons: readonly R[]): Record<R, number> {
  const out = {} as Record<R, number>;
  for (const r of reasons) out[r] = 0;
  return out;
}

/** Bump the counter for a failed verdict; returns true when the verdict was a drop. */
export function countDrop<T, R extends string>(counters: Record<R, number>, v: Verdict<T, R>): v is { readonly ok: false; readonly reason: R } {
  if (v.ok) return false;
  counters[v.reason] = (counters[v.reason] ?? 0) + 1;
  return true;
}
