/**
 * Text of the `balancers` status section (`carpool status`), like `ipvsadm -L -n`: one line
 * per virtual server, one per real server with health, weight, active/inactive connections
 * and the last checker result, and under it (when counted) totals since start and rates over
 * the last count period, as `ipvsadm --stats` / `--rate` give them.
 */
import type { BalancerServerStatus, BalancersStatus } from '../control/status.js';

/** 1234567 → `1.2M` (SI, as ipvsadm's non-exact output). */
export function si(n: number): string {
  const a = Math.abs(n);
  for (const [div, unit] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']] as const) {
    if (a >= div) return `${(n / div).toFixed(1).replace(/\.0$/, '')}${unit}`;
  }
  return `${Math.round(n * 10) / 10}`;
}

/** `total 120 conn, 2.4K pkt, 1.2MB; rate 2 conn/s, 40 pkt/s, 20.1KB/s`, or undefined when not counted. */
export function trafficText(r: BalancerServerStatus): string | undefined {
  const parts: string[] = [];
  if (r.stats) parts.push(`total ${si(r.stats.connections)} conn, ${si(r.stats.packets)} pkt, ${si(r.stats.bytes)}B`);
  if (r.rates) parts.push(`rate ${si(r.rates.cps)} conn/s, ${si(r.rates.pps)} pkt/s, ${si(r.rates.bps)}B/s`);
  return parts.length ? parts.join('; ') : undefined;
}

/** The packet/byte totals' source when it is not complete: accounting off, or events lost. */
export function accountingText(b: BalancersStatus): string | undefined {
  const a = b.accounting;
  if (!a) return undefined;
  if (!a.on) return 'packet/byte totals: off (conntrack accounting unavailable, see the log)';
  return a.lostEvents > 0 ? `stats incomplete (${a.lostEvents} events lost)` : undefined;
}

export function formatBalancers(b: BalancersStatus): string[] {
  const lines: string[] = [];
  const p = b.plane;
  lines.push(`load balancer: nftables ${p.inForce ? 'in force' : 'NOT in force'}${p.pending ? ', the latest change NOT yet (retrying)' : ''} (${p.applies} transaction(s), ${p.failures} failed)`
    + (p.lastError ? `; last error: ${p.lastError}` : ''));
  const acct = accountingText(b);
  if (acct) lines.push(`  ${acct}`);
  for (const s of b.services) {
    lines.push(`  ${s.name} ${s.scheduler} ${s.method}${s.quorumUp ? '' : ' (quorum lost)'}${s.suspended ? ' (ha_suspend: checkers suspended, VIP not here)' : ''}`);
    for (const r of s.servers) {
      const weight = r.weight === null ? 'out' : r.weight === r.configuredWeight ? String(r.weight) : `${r.weight}/${r.configuredWeight}`;
      const checks = r.checkers.map((c) => `${c.name} ${c.last ? `${c.last.ok ? 'ok' : 'FAIL'}: ${c.last.detail}` : 'not run yet'}`);
      const conns = r.active !== undefined ? `  active ${r.active}  inactive ${r.inactive ?? 0}` : '';
      lines.push(`    -> ${r.key}  ${r.health}${r.admin !== 'enabled' ? ` (${r.admin})` : ''}  weight ${weight}${conns}${checks.length ? `  ${checks.join('; ')}` : ''}`);
      const traffic = trafficText(r);
      if (traffic) lines.push(`       ${traffic}`);
    }
  }
  return lines;
}
