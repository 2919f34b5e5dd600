/**
 * `carpool balancer list`: the balancers section of the status document in the layout of
 * `ipvsadm -L -n` (and `--stats`, `--rate`), so eyes and scripts used to IPVS read it as is.
 * Differences: a Health column (the checkers' verdict and the operator's overrides), servers
 * out of the pool are listed with weight `-`, numbers are exact (ipvsadm -n scales them to
 * K/M/G without --exact), counts a daemon does not report are `-`. Pure.
 */
import type { BalancersStatus, BalancerServerStatus, BalancerServiceStatus } from '../control/status.js';
import { accountingText } from './balancers-text.js';

export interface ListOptions {
  /** `--stats`: connections, packets and bytes since each server entered the plane. */
  readonly stats?: boolean;
  /** `--rate`: per second over the last period. */
  readonly rate?: boolean;
}

const FORWARD: Readonly<Record<string, string>> = { nat: 'Masq', dr: 'Route', tun: 'Tunnel' };

/** `TCP  10.0.0.1:80` / `FWM  5` for an entry name (`10.0.0.1:80/tcp`, `fwmark:5`). */
function entryText(entry: string): string {
  if (entry.startsWith('fwmark:')) return `FWM  ${entry.slice('fwmark:'.length)}`;
  const slash = entry.lastIndexOf('/');
  return slash < 0 ? entry : `${entry.slice(slash + 1).toUpperCase().padEnd(4)} ${entry.slice(0, slash)}`;
}

function entriesOf(s: BalancerServiceStatus): readonly string[] {
  return s.entries?.length ? s.entries : [s.name];
}

/** The Health column: verdict, then what the operator or a failure did to the weight. */
function health(r: BalancerServerStatus): string {
  const notes: string[] = [];
  if (r.admin !== 'enabled') notes.push(r.admin);
  if (r.weightOverride !== undefined) notes.push(`operator weight ${r.weightOverride}, configured ${r.configuredWeight}`);
  if (r.runtime) notes.push('added at runtime');
  if (r.health === 'down' && r.weight === 0) notes.push('inhibited');
  return notes.length ? `${r.health} (${notes.join(', ')})` : r.health;
}

const num = (n: number | undefined): string => (n === undefined ? '-' : String(Math.round(n)));
const sum = (xs: readonly (number | undefined)[]): number | undefined => (xs.some((x) => x !== undefined) ? xs.reduce<number>((a, x) => a + (x ?? 0), 0) : undefined);

export function formatBalancerList(b: BalancersStatus, o: ListOptions = {}): string[] {
  const p = b.plane;
  const lines = [`carpool load balancer: nftables ${p.inForce ? 'in force' : 'NOT in force'}${p.pending ? ', the latest change NOT yet (retrying)' : ''} (${p.applies} transaction(s), ${p.failures} failed)`
    + (p.lastError ? `; last error: ${p.lastError}` : '')];
  const cols = (a: string, vals: readonly string[]) => `${a.padEnd(33)} ${vals.map((v) => v.padStart(8)).join(' ')}`.trimEnd();
  if (o.stats || o.rate) {
    const head = o.stats ? ['Conns', 'Pkts', 'Bytes'] : ['CPS', 'PPS', 'BPS'];
    const acct = accountingText(b);
    if (acct) lines.push(acct);
    lines.push(cols('Prot LocalAddress:Port', head), '  -> RemoteAddress:Port');
    for (const s of b.services) {
      const vals = (r: BalancerServerStatus): (number | undefined)[] => (o.stats
        ? [r.stats?.connections, r.stats?.packets, r.stats?.bytes] : [r.rates?.cps, r.rates?.pps, r.rates?.bps]);
      const totals = [0, 1, 2].map((k) => sum(s.servers.map((r) => vals(r)[k])));
      for (const e of entriesOf(s)) lines.push(cols(entryText(e), totals.map(num)));
      for (const r of s.servers) lines.push(cols(`  -> ${r.key}`, vals(r).map(num)));
    }
    return lines;
  }
  lines.push('Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health');
  for (const s of b.services) {
    const flags = [
      ...(s.persistenceSeconds !== undefined ? [`persistent ${s.persistenceSeconds}`] : []),
      ...(s.quorumUp ? [] : ['quorum lost']),
      ...(s.suspended ? ['checkers-suspended'] : []),
      ...(s.entries && s.entries.length > 1 && s.configName ? [`(${s.configName})`] : []),
    ];
    for (const e of entriesOf(s)) lines.push(`${entryText(e)} ${s.scheduler}${flags.length ? ` ${flags.join(' ')}` : ''}`);
    for (const r of s.servers) {
      lines.push(`  -> ${r.key.padEnd(28)} ${(FORWARD[s.method] ?? s.method).padEnd(7)} ${(r.weight === null ? '-' : String(r.weight)).padEnd(6)} `
        + `${num(r.active).padEnd(10)} ${num(r.inactive).padEnd(10)} ${health(r)}`);
    }
    if (s.removed?.length) lines.push(`  (removed by the operator: ${s.removed.join(', ')})`);
  }
  return lines;
}
