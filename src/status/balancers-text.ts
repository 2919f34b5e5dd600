/**
 * Text of the `balancers` status section (`carpool status`), like `ipvsadm -L -n`: one line
 * per virtual server, one per real server with health, weight and the last checker result.
 */
import type { BalancersStatus } from '../control/status.js';

export function formatBalancers(b: BalancersStatus): string[] {
  const lines: string[] = [];
  const p = b.plane;
  lines.push(`load balancer: nftables ${p.inForce ? 'in force' : 'NOT in force'} (${p.applies} transaction(s), ${p.failures} failed)`
    + (p.lastError ? `; last error: ${p.lastError}` : ''));
  for (const s of b.services) {
    lines.push(`  ${s.name} ${s.scheduler} ${s.method}${s.quorumUp ? '' : ' (quorum lost)'}`);
    for (const r of s.servers) {
      const weight = r.weight === null ? 'out' : r.weight === r.configuredWeight ? String(r.weight) : `${r.weight}/${r.configuredWeight}`;
      const checks = r.checkers.map((c) => `${c.name} ${c.last ? `${c.last.ok ? 'ok' : 'FAIL'}: ${c.last.detail}` : 'not run yet'}`);
      lines.push(`    -> ${r.key}  ${r.health}${r.admin !== 'enabled' ? ` (${r.admin})` : ''}  weight ${weight}${checks.length ? `  ${checks.join('; ')}` : ''}`);
    }
  }
  return lines;
}
