/**
 * Load sharing (issue 15, the ClusterIP successor): which node serves which bucket. Pure.
 *
 * Every node of a shared address accepts only the connections whose hash falls into one of
 * its buckets. Each bucket is an election of its own (one CARP instance per bucket, as
 * OpenBSD's `carpnodes`); its preference order over the nodes is this layout:
 * - the first choices are spread evenly: node i is first for buckets i, i+N, i+2N, ...;
 * - the second choices of one node's buckets are spread evenly over the other nodes, so a
 *   dead node's buckets go to every survivor, not all to one (and so on for later ranks).
 * All nodes compute the same layout from the same ordered node list and bucket count; a
 * fingerprint of both goes into the bucket elections' key, so nodes that disagree never
 * accept each other's adverts (counted as bad digests and reported).
 */

export interface LayoutIssue {
  readonly code: 'TOO_FEW_BUCKETS' | 'DUPLICATE_NODE' | 'NO_NODES' | 'TOO_MANY_NODES';
  readonly message: string;
}

/** Most nodes one shared address can have: a rank must fit in CARP's advskew (rank × 16 ≤ 240). */
export const MAX_NODES = 16;
/** advskew step between two ranks (1/16 s at advbase 1). */
export const RANK_SKEW = 16;

export function checkLayout(nodes: readonly string[], buckets: number): LayoutIssue[] {
  const issues: LayoutIssue[] = [];
  if (nodes.length === 0) issues.push({ code: 'NO_NODES', message: 'no nodes' });
  if (nodes.length > MAX_NODES) issues.push({ code: 'TOO_MANY_NODES', message: `${nodes.length} nodes; at most ${MAX_NODES} share one address` });
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n)) issues.push({ code: 'DUPLICATE_NODE', message: `node ${n} is listed twice` });
    seen.add(n);
  }
  if (buckets < nodes.length) {
    issues.push({ code: 'TOO_FEW_BUCKETS', message: `${buckets} buckets for ${nodes.length} nodes: every node needs at least one (use many more, e.g. 64, so a dead node's buckets spread over all survivors)` });
  }
  return issues;
}

/**
 * The preference order of every bucket: `ranking[b]` lists node indexes, best first.
 * Bucket b: first choice p = b mod N; the remaining nodes in rotation starting at an offset
 * that cycles with b div N, so each node's buckets cycle through all other nodes as second
 * (and third...) choice.
 */
export function bucketRanking(nodeCount: number, buckets: number): number[][] {
  const out: number[][] = [];
  for (let b = 0; b < buckets; b++) {
    const first = b % nodeCount;
    const others = Array.from({ length: nodeCount - 1 }, (_, i) => (first + 1 + i) % nodeCount);
    const shift = others.length ? Math.floor(b / nodeCount) % others.length : 0;
    out.push([first, ...others.slice(shift), ...others.slice(0, shift)]);
  }
  return out;
}

/** Which node serves each bucket when only `alive` nodes (indexes) are up: the best ranked alive one. */
export function owners(ranking: readonly (readonly number[])[], alive: ReadonlySet<number>): (number | undefined)[] {
  return ranking.map((r) => r.find((n) => alive.has(n)));
}

/** A short, stable fingerprint of the layout (FNV-1a 32 over the node list and bucket count). */
export function layoutFingerprint(nodes: readonly string[], buckets: number): string {
  let h = 0x811c9dc5;
  for (const ch of `${buckets}|${nodes.join(',')}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
