/**
 * CARP group failover in carpool.yaml (BSD carp, seed 004): `sync_groups` whose members are
 * CARP instances, and `carp_preempt: true`, BSD's `net.inet.carp.preempt=1` for the host
 * (every CARP instance preempts and all of them form one group). The election side is
 * src/election/carp-group.ts. A sync group holds either CARP or VRRP instances: the two
 * protocols synchronise differently (VRRP: keepalived's all-or-nothing sync group; CARP:
 * demotion, the peer preempts).
 */
import type { CarpGroup } from '../model.js';
import type { SyncGroupSpec } from '../vrrp/spec.js';
import type { Checker } from './checker.js';

/** The implicit group of `carp_preempt: true` (OpenBSD puts every carp interface in group "carp"). */
export const HOST_CARP_GROUP = 'carp';

/**
 * Split `sync_groups` into the VRRP ones (for the VRRP builder) and the CARP groups; a group
 * mixing both protocols, or a CARP group with VRRP-only settings, is an error.
 */
export function splitSyncGroups(c: Checker, groups: readonly SyncGroupSpec[], carpNames: ReadonlySet<string>,
  carpPreempt: boolean): { vrrp: SyncGroupSpec[]; carp: CarpGroup[] } {
  const vrrp: SyncGroupSpec[] = [];
  const carp: CarpGroup[] = [];
  for (const g of groups) {
    const carpMembers = g.members.filter((m) => carpNames.has(m.value));
    if (carpMembers.length === 0) {
      vrrp.push(g);
      continue;
    }
    const at = (x: { at: { line: number; column: number } }) => ({ file: c.file, line: x.at.line, column: x.at.column });
    const others = g.members.filter((m) => !carpNames.has(m.value));
    if (others.length > 0) {
      c.errors.push({ ...at(others[0]!), severity: 'error', code: 'SYNC_GROUP',
        message: `sync group '${g.name.value}' mixes CARP instances (${carpMembers.map((m) => m.value).join(', ')}) with '${others[0]!.value}', which is not a CARP instance`,
        expected: 'only CARP or only VRRP instances in one sync group' });
      continue;
    }
    const vrrpOnly = [g.notify.master, g.notify.backup, g.notify.fault, g.notify.stop, g.notify.generic].some((h) => h !== undefined)
      || g.trackInterfaces.length + g.trackScripts.length + g.trackFiles.length > 0 || g.trackingWeight !== undefined;
    if (vrrpOnly) {
      c.errors.push({ ...at(g.name), severity: 'error', code: 'SYNC_GROUP',
        message: `sync group '${g.name.value}' of CARP instances takes only 'name' and 'members' (notify and track_* belong to VRRP sync groups)`,
        expected: 'name and members; hooks on the CARP instances themselves' });
      continue;
    }
    if (carpPreempt) {
      c.warnings.push({ ...at(g.name), severity: 'warning', code: 'SYNC_GROUP',
        message: `sync group '${g.name.value}' is redundant: carp_preempt already puts every CARP instance in one group`,
        expected: 'either carp_preempt or CARP sync groups' });
    }
    carp.push({ name: g.name.value, members: g.members.map((m) => m.value) });
  }
  return { vrrp, carp };
}
