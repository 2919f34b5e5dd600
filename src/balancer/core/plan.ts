/**
 * From a virtual service and its pool (health.ts `pool`) to what the nftables plane holds
 * (nft.ts `PlaneService`): the scheduler's slot table over the pool, servers with stable ids.
 * The shell calls this after every verdict, operator command or, for the count-based
 * schedulers, every period with fresh counts, then applies `diffPlane(inForce, desired)`.
 */
import type { PoolMember } from './health.js';
import type { Candidate, VirtualService } from './model.js';
import type { PlaneService } from './nft.js';
import { localityOverloaded, slotTable } from './schedulers.js';
import { available } from './model.js';

/** lblc/lblcr: how long a destination keeps its server without a new connection (IPVS: lblc_expiration, 24 h). */
export const LOCALITY_TIMEOUT_MS = 24 * 3600 * 1000;

/** Connection counts of one real server, as the shell reads them from conntrack. */
export interface ConnCounts {
  /** TCP ESTABLISHED (IPVS activeconns); UDP/SCTP flows count here too. */
  readonly active: number;
  /** Other TCP states (IPVS inactconns). */
  readonly inactive: number;
}

export interface PlanOptions {
  /** The service's stable id (assignIds over service names). */
  readonly id: number;
  /** Stable ids of real servers by key (assignIds over the pool's keys, kept across updates). */
  readonly serverIds: ReadonlyMap<string, number>;
  readonly members: readonly PoolMember[];
  /** lc/wlc/sed/nq/ovf: counts per server key (missing = 0). */
  readonly counts?: ReadonlyMap<string, ConnCounts>;
  /** lc/wlc/sed/nq: new connections expected in the next period (default: one per server). */
  readonly expected?: number;
  /** TUN: the ipip device towards each server key. */
  readonly tunnelDevices?: ReadonlyMap<string, string>;
}

export function planService(vs: VirtualService, o: PlanOptions): PlaneService {
  const thresholds = new Map(vs.realServers.map((rs) => [rs.address + '|' + (rs.port ?? ''), rs.upperThreshold ?? 0]));
  const candidates: Candidate[] = o.members.map((m) => {
    const c = o.counts?.get(m.key) ?? { active: 0, inactive: 0 };
    const upper = thresholds.get(m.address + '|' + (m.port ?? '')) ?? 0;
    return { key: m.key, weight: m.weight, active: c.active, inactive: c.inactive, overloaded: upper > 0 && c.active + c.inactive > upper };
  });
  const table = slotTable(vs.scheduler, candidates, {
    configured: vs.realServers.length, hashPort: vs.hashPort, hashFallback: vs.hashFallback, expected: o.expected,
  });
  const servers = o.members.map((m) => {
    const id = o.serverIds.get(m.key);
    if (id === undefined) throw new RangeError(`no id for real server ${m.key} of ${vs.name}: assign ids over the pool first (assignIds)`);
    const tunnelDevice = o.tunnelDevices?.get(m.key);
    return { id, key: m.key, address: m.address, ...(m.port !== undefined ? { port: m.port } : {}), ...(tunnelDevice ? { tunnelDevice } : {}) };
  });
  // lblc/lblcr: the destinations' servers stay while available and not overloaded; when one
  // becomes either, the map is flushed (every destination is scheduled afresh: IPVS moves only
  // that server's destinations).
  const locality = vs.scheduler === 'lblc' || vs.scheduler === 'lblcr'
    ? { timeoutMs: LOCALITY_TIMEOUT_MS, servers: candidates.filter((c) => available(c) && !localityOverloaded(c, candidates)).map((c) => c.key) }
    : undefined;
  return {
    ...(locality && vs.method === 'nat' ? { locality } : {}),
    id: o.id, family: vs.family, match: vs.match, protocol: vs.protocol, method: vs.method, servers, table,
    ...(vs.persistence ? { persistence: vs.persistence } : {}),
    ...(vs.ingressDevice ? { ingressDevice: vs.ingressDevice } : {}),
    ...(vs.egressDevice ? { egressDevice: vs.egressDevice } : {}),
  };
}
