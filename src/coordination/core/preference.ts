/**
 * Preference among the nodes of an etcd instance (issue 16, docs/etcd.md "Preference"), pure:
 * like VRRP's priority + preempt (or CARP's advskew + preempt), but decided by the holder. Each
 * node that has a preference publishes its candidacy (priority, preempt, preempt delay, whether
 * it is demoted) under `<key>/candidates/<node>`, attached to its own lease, so a dead node's
 * candidacy vanishes with its lease. The holder hands the key over (make-before-break, reserved
 * for that node) to a candidate with a strictly higher priority that asks to preempt, once it
 * has seen that candidacy unchanged for the candidate's preempt delay (a flapping node registers
 * anew each time it comes back, and its delay starts over).
 */

export interface Preference {
  /** 1..254, higher wins (VRRP's sense). */
  readonly priority: number;
  /** Whether this node takes the role back from a holder with a lower priority. */
  readonly preempt: boolean;
  /** How long a holder must have seen this node's candidacy before handing over to it. */
  readonly preemptDelayMs: number;
}

/** A candidacy as read from etcd. `id` changes when the node registers again. */
export interface Candidate extends Preference {
  readonly node: string;
  readonly demoted: boolean;
  readonly id: string;
}

export const PRIORITY_MIN = 1;
export const PRIORITY_MAX = 254;
export const DEFAULT_PRIORITY = 100;

/** The document a node publishes under `<key>/candidates/<node>`. */
export function candidacyDocument(p: Preference, demoted: boolean): string {
  return JSON.stringify({ priority: p.priority, preempt: p.preempt, preemptDelayMs: p.preemptDelayMs, demoted });
}

/**
 * One candidacy read from etcd, or an error saying what is wrong with it (another carpool
 * version, or a key written by hand): it is then left out, never guessed at.
 */
export function parseCandidacy(node: string, value: string, id: string): Candidate | { error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch {
    return { error: `candidacy of ${node}: not JSON` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { error: `candidacy of ${node}: not an object` };
  const d = doc as Record<string, unknown>;
  const { priority, preempt, preemptDelayMs, demoted } = d;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    return { error: `candidacy of ${node}: priority ${JSON.stringify(priority)} is not an integer ${PRIORITY_MIN}..${PRIORITY_MAX}` };
  }
  if (typeof preempt !== 'boolean') return { error: `candidacy of ${node}: preempt is not true or false` };
  if (typeof preemptDelayMs !== 'number' || !Number.isFinite(preemptDelayMs) || preemptDelayMs < 0) return { error: `candidacy of ${node}: preemptDelayMs is not a duration` };
  if (demoted !== undefined && typeof demoted !== 'boolean') return { error: `candidacy of ${node}: demoted is not true or false` };
  if (node === '' || /[\s\0/]/.test(node)) return { error: `candidacy key: '${node}' is not a node name` };
  return { node, priority, preempt, preemptDelayMs, demoted: demoted === true, id };
}

/** Since when (holder's clock) each candidacy has been seen unchanged: new ids start now, gone ones are forgotten. */
export function trackCandidates(prev: ReadonlyMap<string, { id: string; since: number }>, list: readonly Candidate[], now: number): Map<string, { id: string; since: number }> {
  const next = new Map<string, { id: string; since: number }>();
  for (const c of list) {
    const p = prev.get(c.node);
    next.set(c.node, p && p.id === c.id ? p : { id: c.id, since: now });
  }
  return next;
}

/** Candidates that would take the role from a holder `self` of priority `selfPriority`: better, preempting, not demoted. */
function contenders(self: string, selfPriority: number, list: readonly Candidate[]): Candidate[] {
  return list.filter((c) => c.node !== self && c.preempt && !c.demoted && c.priority > selfPriority)
    .sort((a, b) => b.priority - a.priority || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/**
 * The node the holder should hand over to now, if any: the best contender whose hold-down has
 * passed. Only the best one counts: a better node still in its hold-down is waited for, rather
 * than moving the role twice.
 */
export function preferredSuccessor(self: string, selfPriority: number, list: readonly Candidate[],
  seen: ReadonlyMap<string, { id: string; since: number }>, now: number): string | undefined {
  const best = contenders(self, selfPriority, list)[0];
  if (!best) return undefined;
  const since = seen.get(best.node)?.since ?? now;
  return now - since >= best.preemptDelayMs ? best.node : undefined;
}

/** When the best contender's hold-down ends (a deadline for the holder's timer), if one is waiting. */
export function preemptionDue(self: string, selfPriority: number, list: readonly Candidate[],
  seen: ReadonlyMap<string, { id: string; since: number }>): number | undefined {
  const best = contenders(self, selfPriority, list)[0];
  const since = best ? seen.get(best.node)?.since : undefined;
  return best && since !== undefined ? since + best.preemptDelayMs : undefined;
}
