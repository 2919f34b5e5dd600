/**
 * When a group that requires fencing (a `fence` command) must be fenced before it starts
 * (docs/resources.md, "Failed stops and fencing"). Pure.
 *
 * The survivor cannot learn over the wire whether the peer's stop failed, but it knows how
 * it became MASTER, from the reason of the transition:
 * - the peer **vanished** — master-down timeout (crash, SIGKILL, hung host, partition; also at
 *   start-up with no peer heard) or a VRRP address owner taking over at start: nothing is
 *   known about the peer's services → fence first;
 * - a **planned hand-over** — the peer bowed out (CARP advbase = advskew = 255, VRRP priority 0),
 *   after stopping its groups (or an operator forced it, and owns the outcome), or a
 *   preemption / sync-group move while the peer is alive and stops its groups → no fence.
 */

/** Reasons (as the election machines give them) after which the peer's services are unknown. */
const PEER_VANISHED = [/master-down timeout/, /address owner/];

/** Must a group that requires fencing be fenced before it starts, after becoming MASTER for `reason`? */
export function fenceNeeded(reason: string): boolean {
  return PEER_VANISHED.some((re) => re.test(reason));
}
