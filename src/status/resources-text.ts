/**
 * Text rendering of the resource section, in crm_mon's words (notes §4.1) so Pacemaker
 * users read it at a glance: groups with their members, the migration summary (failcounts)
 * and the failed resource actions with the agent's exit reason and output.
 */
import { INFINITY, type FailedAction, type GroupStatus, type MemberStatus, type ResourcesStatus } from '../resources/core/status.js';

export function failcountText(n: number): string {
  return n >= INFINITY ? 'INFINITY' : String(n);
}

export function memberStateText(m: MemberStatus): string {
  const flags = [m.blocked ? 'blocked' : '', m.held ? 'kept stopped' : '', m.degraded ? 'degraded' : ''].filter(Boolean);
  const pending = m.pending && !['Starting', 'Stopping', 'Probing'].includes(m.state) ? ` (${m.pending})` : m.pending ? ` (${m.pending.replace(/^\w+ /, '')})` : '';
  return `${m.state}${pending}${flags.length ? ` (${flags.join(', ')})` : ''}`;
}

/** The group's fencing when it matters now (needed, running, failed), else ''. */
export function fenceText(g: GroupStatus): string {
  const f = g.fence;
  if (!f || f.state === 'none') return '';
  const why = f.why ? ` (${f.why})` : '';
  if (f.state === 'failed') {
    return `FENCING FAILED${why}: ${f.lastFailure?.text ?? ''} — not started until \`carpool resource cleanup ${g.id}\``;
  }
  return `${f.state === 'running' ? 'fencing the peer' : 'fencing needed before start'}${why}`;
}

/** What the order between groups holds up, empty when nothing. */
export function orderText(g: GroupStatus): string {
  const o = g.order;
  if (!o) return '';
  if (o.waitingFor.length && g.instanceState === 'MASTER') return `waiting for group ${o.waitingFor.join(', ')} (order)`;
  if (o.heldBy.length && g.instanceState !== 'MASTER') return `stops after group ${o.heldBy.join(', ')} (order)`;
  return '';
}

export function groupHeadline(g: GroupStatus): string {
  const where = g.instanceState === 'MASTER' ? 'MASTER here' : `${g.instanceState} here`;
  const extra = [g.moved ? 'moved away' : '', g.standby ? 'standby' : '', !g.eligible && g.ineligibleReason ? `cannot run here: ${g.ineligibleReason}` : '',
    fenceText(g), orderText(g)].filter(Boolean);
  return `Resource Group: ${g.id} (instance ${g.instance}: ${where}${extra.length ? `; ${extra.join('; ')}` : ''}): ${g.state}`;
}

export function failedActionText(f: FailedAction, node: string): string {
  const parts = [`status='${f.status}'`];
  if (f.exitReason) parts.push(`exitreason='${f.exitReason}'`);
  parts.push(`last-rc-change='${f.at}'`, `exec=${f.execMs}ms`);
  if (f.status === 'Timed Out') parts.push(`timeout=${f.timeoutMs}ms`);
  return `${f.key} on ${node} ${f.text}: ${parts.join(', ')}`;
}

/** Lines (without indentation) for `carpool status`. */
export function formatResources(st: ResourcesStatus): string[] {
  const lines: string[] = [];
  for (const g of st.groups) {
    lines.push(`* ${groupHeadline(g)}`);
    const w = Math.max(...g.members.map((m) => m.id.length));
    const a = Math.max(...g.members.map((m) => m.agent.length));
    for (const m of g.members) lines.push(`  * ${m.id.padEnd(w)}  (${m.agent}):${' '.repeat(a - m.agent.length)}  ${memberStateText(m)}`);
  }
  const failing = st.groups.flatMap((g) => g.members.filter((m) => m.failcount > 0));
  if (failing.length) {
    lines.push(`Migration Summary (node ${st.node}):`);
    for (const m of failing) {
      lines.push(`  * ${m.id}: migration-threshold=${m.migrationThreshold === 0 ? 'INFINITY' : m.migrationThreshold} fail-count=${failcountText(m.failcount)}` +
        `${m.lastFailure ? ` last-failure='${m.lastFailure.at}'` : ''}`);
    }
  }
  if (st.failedActions.length) {
    lines.push('Failed Resource Actions:');
    for (const f of st.failedActions) {
      lines.push(`  * ${failedActionText(f, st.node)}`);
      const out = f.output.split('\n').filter((l) => l.trim()).slice(-3);
      for (const l of out) lines.push(`      | ${l}`);
    }
  }
  return lines;
}
