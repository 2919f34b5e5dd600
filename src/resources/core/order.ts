/**
 * Order between groups (`after:`, Pacemaker's mandatory `rsc_order first=A then=B`), kept on
 * the node that runs both: B starts only once every group it is after is fully started here,
 * and A stops only once every group after it has stopped here — stop order is the reverse of
 * start order, as within a group. A group that cannot stop (blocked) keeps the groups it is
 * after up, as Pacemaker blocks the stop of A while B is unmanaged. Pure: the shell hands in
 * what each group's machine says and feeds the gates back as `order` inputs.
 */

/** What the order needs to know of one group. */
export interface OrderNode {
  readonly id: string;
  /** Groups this one starts after. */
  readonly after: readonly string[];
  /** Fully started and meant to stay so (`GroupMachine.ready`). */
  readonly ready: boolean;
  /** Any member not known to be stopped (`GroupMachine.active`). */
  readonly active: boolean;
  /** A member could not be stopped (`GroupMachine.blocked`). */
  readonly blocked: boolean;
}

/** The gates of one group, as its `order` input carries them. */
export interface OrderGate {
  /** Groups it is after that are not fully started here: it must not run yet. */
  readonly waitingFor: readonly string[];
  /** Groups after it that still run here: it must not stop yet. */
  readonly heldBy: readonly string[];
  /** One of `heldBy` is blocked: the wait will not end by itself. */
  readonly heldByBlocked: boolean;
}

/** The gates of every group of `nodes` (ids in `after` that are not in `nodes` count as not ready). */
export function orderGates(nodes: readonly OrderNode[]): Map<string, OrderGate> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out = new Map<string, OrderGate>();
  for (const n of nodes) {
    const heldByNodes = nodes.filter((m) => m.after.includes(n.id) && m.active);
    out.set(n.id, {
      waitingFor: n.after.filter((a) => !byId.get(a)?.ready),
      heldBy: heldByNodes.map((m) => m.id),
      heldByBlocked: heldByNodes.some((m) => m.blocked),
    });
  }
  return out;
}
