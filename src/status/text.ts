/**
 * Text rendering of a daemon's status document (`carpool status`): one table of instances,
 * drop counters, sync groups, the resource section in crm_mon's words and the load balancer.
 */
import type { BalancersStatus, DaemonStatus, EtcdFailsafeStatus, InstanceStatus, TransitionInfo } from '../control/status.js';
import type { ResourcesStatus } from '../resources/core/status.js';
import { formatResources } from './resources-text.js';
import { formatBalancers } from './balancers-text.js';
import { formatSharing, isBucketInstance, sharingOf } from './sharing-text.js';

/** The transition's age: the daemon's monotonic `agoSeconds`; from `at` and `now` only for daemons without it. */
function ago(t: TransitionInfo, now: Date): string {
  // eslint-disable-next-line no-restricted-globals -- parsing a timestamp string reads no clock
  const s = Math.max(0, Math.round(t.agoSeconds ?? (now.getTime() - Date.parse(t.at)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60}s ago` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m ago`;
}

/** CARP: advbase/advskew (effective skew when demoted); VRRP: priority (effective/base when tracking moved it). */
function preference(i: InstanceStatus): string {
  const p = i.priority;
  if (i.protocol === 'etcd') return '-';
  if (i.protocol === 'carp') {
    const skew = p.advskewEffective !== undefined && p.advskewEffective !== p.advskew ? `${String(p.advskewEffective)}!` : String(p.advskew);
    return `${String(p.advbase)}/${skew}`;
  }
  return p.effective !== p.base ? `${String(p.effective)}/${String(p.base)}` : String(p.base);
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** Human rendering, one block per daemon. */
export function formatStatus(st: DaemonStatus, now: Date): string {
  const lines: string[] = [];
  lines.push(`carpool ${st.version} (${st.mode}) pid ${st.pid}, up ${Math.round(st.uptimeSeconds)}s, config ${st.config}`
    + `${st.scheduling && st.scheduling !== 'normal' ? `, ${st.scheduling}` : ''}`);
  const lb = st.balancers as BalancersStatus | undefined;
  if (st.instances.length === 0) {
    lines.push('  no instances');
    if (lb) lines.push(...formatBalancers(lb).map((l) => `  ${l}`));
    return lines.join('\n');
  }
  // Bucket elections of load sharing are summarised in their own section, not one row each.
  const sharing = sharingOf(st);
  const isBucket = (name: string) => isBucketInstance(sharing, name);
  const rows = [['INSTANCE', 'PROTO', 'IFACE', 'ID', 'PRIO', 'STATE', 'MASTER', 'ADDRESSES', 'LAST CHANGE']];
  for (const i of st.instances.filter((x) => !isBucket(x.name))) {
    const flags = [i.linkUp ? '' : 'no carrier', i.priority.standby ? 'standby' : '', i.priority.demoted ? 'demoted' : '', i.groupDemotion ? 'group demoted' : ''].filter(Boolean);
    const state = flags.length ? `${i.state} (${flags.join(', ')})` : i.state;
    const last = i.lastTransition ? `${i.lastTransition.from} -> ${i.lastTransition.to} (${i.lastTransition.reason}) ${ago(i.lastTransition, now)}` : '-';
    rows.push([i.name, i.protocol, i.interface, String(i.vhid), preference(i), state, i.master ?? '-', i.addresses.join(',') + (i.holdsAddresses ? ' *' : ''), last]);
  }
  lines.push(...table(rows).map((l) => `  ${l}`));
  const drops = st.instances.filter((i) => Object.values(i.counters.drops).some((n) => n > 0) || i.counters.sendErrors > 0);
  for (const i of drops) {
    const parts = Object.entries(i.counters.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
    if (i.counters.sendErrors) parts.push(`send-errors=${i.counters.sendErrors}`);
    lines.push(`  ${i.name}: dropped ${parts.join(' ')}`);
  }
  for (const f of st.interfaces) {
    const parts = Object.entries(f.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
    if (parts.length) lines.push(`  ${f.name}: dropped (no instance) ${parts.join(' ')}`);
  }
  for (const i of st.instances) {
    const e = i.etcd;
    if (!e) continue;
    lines.push(`  ${i.name}: etcd key ${e.key} held by ${e.holder ?? 'nobody'}${e.revision !== null ? ` (revision ${e.revision})` : ''}, node ${e.node}`
      + `, lease left ${e.leaseLeftMs === null ? '-' : `${(e.leaseLeftMs / 1000).toFixed(1)}s`}${e.failures ? `, ${e.failures} failed requests (last: ${e.lastError ?? '?'})` : ''}`
      + `${e.handingOver ? `, handing over${e.handoverTo ? ` to ${e.handoverTo}` : ''}` : ''}${e.demoted ? ', demoted (carpool demote --clear lifts it)' : ''}`);
    if (e.preference) {
      const pref = (p: { priority: number; preempt: boolean; preemptDelayMs: number }) => `priority ${p.priority}${p.preempt ? `, preempt after ${(p.preemptDelayMs / 1000).toFixed(1)}s` : ', no preempt'}`;
      const cands = (e.candidates ?? []).map((c) => `${c.node} (${pref(c)}${c.demoted ? ', demoted' : ''}, seen ${(c.seenMs / 1000).toFixed(1)}s)`);
      lines.push(`  ${i.name}: preference ${pref(e.preference)}; candidates: ${cands.length ? cands.join(', ') : 'none read yet'}${e.badCandidacies ? `; ${e.badCandidacies} malformed left out` : ''}`);
    }
    if (e.unreachable) lines.push(`  ${i.name}: etcd unreachable policy ${e.unreachable}${e.failsafe ? failsafeText(e.failsafe) : ''}`);
  }
  lines.push(`  adverts sent/received: ${st.instances.map((i) => `${i.name} ${i.counters.advertsSent}/${i.counters.advertsReceived}`).join(', ')}`);
  lines.push('  (* = this host holds the addresses)');
  const groups = (st.syncGroups ?? []) as { name: string; state: string; members: { name: string; state: string }[] }[];
  for (const g of groups) lines.push(`  sync group ${g.name}: ${g.state} (${g.members.map((m) => `${m.name} ${m.state}`).join(', ')})`);
  const carpGroups = (st.carpGroups ?? []) as { name: string; members: string[]; demote: number; reasons: string[] }[];
  for (const g of carpGroups) {
    lines.push(`  CARP group ${g.name}: ${g.demote === 0 ? 'all links up' : `demoted (${g.reasons.join(', ')})`} (${g.members.join(', ')})`);
  }
  for (const x of sharing) lines.push(...formatSharing(x).map((l) => `  ${l}`));
  const res = st.resources as ResourcesStatus | undefined;
  if (res) lines.push(...formatResources(res).map((l) => `  ${l}`));
  if (lb) lines.push(...formatBalancers(lb).map((l) => `  ${l}`));
  return lines.join('\n');
}

function failsafeText(f: EtcdFailsafeStatus): string {
  const drops = Object.entries(f.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
  const conf = f.confirmations.map((c) => `${c.node} (${c.peer}) ${c.confirms ? 'confirms' : 'refuses'} ${(c.agoMs / 1000).toFixed(1)}s ago: ${c.why}`);
  return ` (${f.needed} of ${f.members} members)${f.active ? `, HOLDING ON CONFIRMATIONS ${((f.leftMs ?? 0) / 1000).toFixed(1)}s left` : f.leftMs !== null ? `, confirmed for ${(f.leftMs / 1000).toFixed(1)}s` : ''}`
    + `${f.promisedMs !== null ? `, promised a failsafe master: not contending for ${(f.promisedMs / 1000).toFixed(1)}s` : ''}`
    + `, questions ${f.questionsSent}, answers ${f.answered}${drops.length ? `, dropped ${drops.join(' ')}` : ''}${f.error ? `, socket error: ${f.error}` : ''}`
    + `${conf.length ? `; last answers: ${conf.join('; ')}` : ''}`;
}
