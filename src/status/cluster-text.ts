/**
 * `carpool status --cluster` in text, like crm_mon: where each instance is MASTER (none, or
 * two or more nodes, flagged with !!), then one block per node — its daemon's status as
 * `carpool status` shows it there, or GONE with when it was last seen. Pure.
 */
import type { ClusterNode, ClusterView } from '../coordination/core/cluster-view.js';
import { formatStatus } from './text.js';

function when(n: ClusterNode): string {
  if (!n.lastSeen) return 'never';
  return `${n.lastSeen}${n.agoSeconds !== null ? `, ${n.agoSeconds}s ago` : ''}`;
}

export function formatCluster(view: ClusterView, now: Date): string {
  const count = (s: string) => view.nodes.filter((n) => n.state === s).length;
  const lines = [`Cluster ${view.prefix} at ${view.at}: ${view.nodes.length} node(s), ${count('online')} online`
    + `${count('gone') ? `, ${count('gone')} gone` : ''}${count('stale') ? `, ${count('stale')} stale` : ''}${count('invalid') ? `, ${count('invalid')} invalid` : ''}`];
  lines.push('', 'Instances:');
  if (view.instances.length === 0) lines.push('  none published');
  const rows = view.instances.map((i) => [
    i.name, i.protocol, i.addresses.join(','),
    i.verdict === 'ok' ? `MASTER on ${i.masters[0]!}` : i.verdict === 'none' ? 'NO MASTER !!' : `MASTER ON ${i.masters.length} NODES: ${i.masters.join(', ')} !!`,
    i.nodes.map((n) => `${n.node} ${n.state}${n.holdsAddresses ? '*' : ''}`).join(', '),
  ]);
  const widths = [0, 1, 2, 3].map((k) => Math.max(0, ...rows.map((r) => r[k]!.length)));
  for (const r of rows) lines.push(`  ${r.map((c, k) => (k < 4 ? c.padEnd(widths[k]!) : c)).join('  ').trimEnd()}`);
  if (view.problems.length) lines.push('', 'Problems:', ...view.problems.map((p) => `  ${p}`));
  for (const n of view.nodes) {
    lines.push('');
    if (n.state === 'gone') {
      lines.push(`Node ${n.name}: GONE (${n.stopped ? 'stopped' : 'stopped publishing'}; last seen ${when(n)})`);
      continue;
    }
    if (!n.status) {
      lines.push(`Node ${n.name}: ${n.state.toUpperCase()} (${n.problem ?? '?'})`);
      continue;
    }
    lines.push(`Node ${n.name}: ${n.state === 'online' ? 'online' : n.state.toUpperCase()} (published ${when(n)})${n.problem ? ` — ${n.problem}` : ''}`);
    if (n.truncated?.length) lines.push(`  left out to fit the size bound: ${n.truncated.join(', ')}`);
    lines.push(...formatStatus(n.status, now).split('\n').map((l) => `  ${l}`));
  }
  return lines.join('\n');
}
