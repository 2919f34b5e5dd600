/**
 * What a node does when some nodes of its list have a different node list or bucket count
 * (load sharing, issue 15). Pure.
 *
 * The bucket elections' key covers the layout's fingerprint, so such nodes drop each other's
 * adverts as bad digests: each side thinks the other is down and takes its buckets, so both
 * would accept the same connections (two SYN-ACKs, resets) while `carpool check` on one host
 * cannot see it. The rule: a node keeps serving only when the nodes that agree with it (itself
 * and the peers whose bucket adverts it accepts) outnumber the nodes it hears disagreeing; on a
 * tie the side with the lowest address keeps serving. Every node applies the same rule to what
 * it hears, so of two groups at most one serves (a group serves only with at least half of the
 * nodes heard; of two halves, only the one with the lowest address), and with three or more
 * groups none may: no connection is ever accepted twice, and the
 * mismatch is loud (log, status, metrics). The price: during a rolling change of the node list
 * the nodes already changed stop serving until they are the larger group, and a lone node
 * whose list differs from everyone's serves nothing.
 */

function ipv4Number(address: string): number {
  return address.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

const lowest = (addresses: readonly string[]): number => Math.min(...addresses.map(ipv4Number));

/**
 * Should this node keep serving its buckets? `agreeing`: peers whose bucket adverts verify;
 * `differing`: peers of the node list whose bucket adverts failed the digest lately.
 */
export function keepServing(self: string, agreeing: readonly string[], differing: readonly string[]): boolean {
  const ours = new Set([self, ...agreeing]);
  const theirs = [...new Set(differing)].filter((a) => !ours.has(a));
  if (theirs.length === 0) return true;
  if (ours.size !== theirs.length) return ours.size > theirs.length;
  return lowest([...ours]) < lowest(theirs);
}
