/**
 * A self-contained HTML status page (`carpool status --output html FILE`), the successor of
 * Heartbeat's `crm_mon --daemonize --as-html FILE` (seed 002 §5.2.4): nodes, instances,
 * groups with their resources, failcounts and failed actions with the agent's message. No
 * scripts, no external assets: inline CSS only, so it can be served from any web server.
 */
import type { BalancersStatus, DaemonStatus, InstanceStatus } from '../control/status.js';
import { trafficText } from './balancers-text.js';
import type { ResourcesStatus } from '../resources/core/status.js';
import { failcountText, fenceText, memberStateText } from './resources-text.js';
import { isBucketInstance, mismatchText, servedCounts, sharingOf, sharingWhere } from './sharing-text.js';
import type { SharingStatus } from '../sharing/core/model.js';
import type { ClusterView } from '../coordination/core/cluster-view.js';

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function stateClass(state: string): string {
  if (/FAILED|Blocked/i.test(state)) return 'bad';
  if (/^(Started|MASTER)/.test(state)) return 'good';
  if (/Starting|Stopping|Probing|Partially|Fencing/.test(state)) return 'busy';
  return 'idle';
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px}
.meta{color:#5b6475;margin-bottom:12px}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0001;margin-bottom:8px;min-width:60%}
th,td{padding:5px 10px;border-bottom:1px solid #e6e8ec;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}
.good{color:#0a7a2f;font-weight:600}.bad{color:#b3001b;font-weight:700}.busy{color:#a05a00;font-weight:600}.idle{color:#5b6475}
.group{background:#fff;box-shadow:0 1px 2px #0001;padding:10px 14px;margin-bottom:12px;border-left:4px solid #9aa3b2}
.group.g-good{border-left-color:#0a7a2f}.group.g-bad{border-left-color:#b3001b}.group.g-busy{border-left-color:#a05a00}
.group h3{font-size:15px;margin:0 0 6px;color:#1d2330}
.note{color:#b3001b}
pre{margin:4px 0 0;padding:6px 8px;background:#1d2330;color:#e8eaf0;font-size:12px;white-space:pre-wrap;max-width:900px}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
`;

function instancesTable(insts: readonly InstanceStatus[]): string {
  const rows = insts.map((i) => `<tr><td>${esc(i.name)}</td><td>${esc(i.protocol)}</td><td>${esc(i.interface)}</td><td>${i.vhid}</td>` +
    `<td class="${stateClass(i.state)}">${esc(i.state)}${i.linkUp ? '' : ' (no carrier)'}</td><td>${esc(i.master ?? '-')}</td>` +
    `<td>${esc(i.addresses.join(', '))}${i.holdsAddresses ? ' <b>(held here)</b>' : ''}</td>` +
    `<td>${i.lastTransition ? esc(`${i.lastTransition.from} → ${i.lastTransition.to} (${i.lastTransition.reason}) at ${i.lastTransition.at}`) : '-'}</td></tr>`);
  return `<table><tr><th>Instance</th><th>Proto</th><th>Interface</th><th>ID</th><th>State</th><th>Master</th><th>Addresses</th><th>Last change</th></tr>${rows.join('')}</table>`;
}

function resourcesSection(res: ResourcesStatus): string {
  const parts: string[] = [];
  for (const g of res.groups) {
    const cls = stateClass(g.state === 'Stopped' && !g.eligible ? 'FAILED' : g.state);
    const notes = [g.moved ? 'moved away by the operator' : '', g.standby ? 'instance in standby for this group' : '',
      !g.eligible && g.ineligibleReason ? `cannot run here: ${g.ineligibleReason}` : '', fenceText(g)].filter(Boolean);
    const rows = g.members.map((m) => `<tr><td>${esc(m.id)}</td><td><code>${esc(m.agent)}</code></td>` +
      `<td class="${stateClass(m.state)}">${esc(memberStateText(m))}</td><td${m.failcount > 0 ? ' class="bad"' : ''}>${failcountText(m.failcount)}` +
      `${m.migrationThreshold ? ` / ${m.migrationThreshold}` : ''}</td><td>${m.lastFailure ? esc(`${m.lastFailure.key} ${m.lastFailure.text}`) : '-'}</td></tr>`);
    parts.push(`<div class="group g-${cls}"><h3>Resource group <code>${esc(g.id)}</code> — instance <code>${esc(g.instance)}</code> is ` +
      `${esc(g.instanceState)} here — <span class="${cls}">${esc(g.state)}</span></h3>` +
      `${notes.map((n) => `<div class="note">${esc(n)}</div>`).join('')}` +
      `<table><tr><th>Resource</th><th>Agent</th><th>State</th><th>Fail-count / threshold</th><th>Last failure</th></tr>${rows.join('')}</table></div>`);
  }
  if (res.failedActions.length) {
    const rows = res.failedActions.map((f) => `<tr><td><code>${esc(f.key)}</code></td><td>${esc(res.node)}</td><td class="bad">${esc(f.text)}</td>` +
      `<td>${esc(f.status)}</td><td>${esc(f.exitReason || '-')}${f.output ? `<pre>${esc(f.output.split('\n').slice(-6).join('\n'))}</pre>` : ''}</td>` +
      `<td>${esc(f.at)}</td><td>${f.execMs} ms${f.status === 'Timed Out' ? ` (timeout ${f.timeoutMs} ms)` : ''}</td></tr>`);
    parts.push(`<h2>Failed resource actions</h2><table><tr><th>Operation</th><th>Node</th><th>Result</th><th>Status</th><th>Exit reason / agent output</th><th>When</th><th>Took</th></tr>${rows.join('')}</table>`);
  }
  return parts.join('\n');
}

/** Virtual servers, one table each: real servers with health, weight, connections, totals and rates, last check. */
function balancersSection(b: BalancersStatus): string {
  const plane = `<div class="meta">nftables ${b.plane.inForce ? 'in force' : '<span class="bad">NOT in force</span>'}${b.plane.pending ? ', <span class="bad">the latest change NOT yet (retrying)</span>' : ''} (${b.plane.applies} transaction(s), ${b.plane.failures} failed)` +
    `${b.plane.lastError ? ` — last error: <span class="bad">${esc(b.plane.lastError)}</span>` : ''}</div>`;
  const services = b.services.map((s) => {
    const rows = s.servers.map((r) => {
      const weight = r.weight === null ? 'out' : r.weight === r.configuredWeight ? String(r.weight) : `${r.weight}/${r.configuredWeight}`;
      const check = r.checkers.map((c) => `${esc(c.name)} ${c.last ? `${c.last.ok ? 'ok' : '<span class="bad">FAIL</span>'}: ${esc(c.last.detail)}` : 'not run yet'}`).join('<br>');
      return `<tr><td><code>${esc(r.key)}</code></td><td class="${r.health === 'up' ? 'good' : 'bad'}">${esc(r.health)}${r.admin !== 'enabled' ? ` (${esc(r.admin)})` : ''}</td>` +
        `<td>${esc(weight)}</td><td>${r.active ?? '-'}</td><td>${r.inactive ?? '-'}</td><td>${esc(trafficText(r) ?? '-')}</td><td>${check || '-'}</td></tr>`;
    });
    return `<div class="group g-${s.quorumUp ? 'good' : 'bad'}"><h3>Virtual server <code>${esc(s.name)}</code> — ${esc(s.scheduler)} ${esc(s.method)}${s.quorumUp ? '' : ' — <span class="bad">quorum lost</span>'}${s.suspended ? ' — checkers suspended (ha_suspend: VIP not here)' : ''}</h3>` +
      `<table><tr><th>Real server</th><th>Health</th><th>Weight</th><th>Active</th><th>Inactive</th><th>Traffic</th><th>Last check</th></tr>${rows.join('')}</table></div>`;
  });
  return plane + services.join('\n');
}

/** Shared addresses: buckets served here and by each node, the nft plane, layout mismatches (the bucket elections are not listed one by one). */
function sharingSection(list: readonly SharingStatus[]): string {
  return list.map((x) => {
    const bad = x.serving === false || (x.mismatches ?? []).length > 0 || x.failures > 0;
    const rows = servedCounts(x).map(([n, k]) => {
      const buckets = x.servedBy.flatMap((m, b) => (m === n ? [b] : []));
      return `<tr><td>${esc(n)}${n === x.node ? ' <b>(this node)</b>' : ''}</td><td>${k}</td><td><code>${esc(buckets.join(' '))}</code></td></tr>`;
    });
    const notes = [
      x.serving === false ? '<div class="note">NOT serving any bucket: the nodes with another node list or bucket count are the larger group</div>' : '',
      ...mismatchText(x).map((m) => `<div class="note">${esc(m)}</div>`),
      x.lastError ? `<div class="note">last nft error: ${esc(x.lastError)}</div>` : '',
    ].join('');
    return `<div class="group g-${bad ? 'bad' : 'good'}"><h3>${x.outside ? 'Load-shared' : 'Shared address'} <code>${esc(sharingWhere(x))}</code> (<code>${esc(x.name)}</code>) — node ${esc(x.node)} ` +
      `serves <span class="${x.local.length ? 'good' : 'bad'}">${x.local.length}/${x.buckets}</span> buckets here</h3>${notes}` +
      `<div class="meta">nft bucket updates: ${x.applies}, failed ${x.failures}; accepted here: ${esc(x.local.join(' ') || '-')}</div>` +
      `<table><tr><th>Node</th><th>Buckets</th><th>Which (as this node sees the elections)</th></tr>${rows.join('')}</table></div>`;
  }).join('\n');
}

/** One daemon's section; `node` names it (the cluster view), else the resources' node or the pid. */
function daemonSection(d: DaemonStatus, node?: string, note = ''): string {
  const res = d.resources as ResourcesStatus | undefined;
  const lb = d.balancers as BalancersStatus | undefined;
  const name = node ?? res?.node ?? `pid ${d.pid}`;
  const sharing = sharingOf(d);
  const insts = d.instances.filter((i) => !isBucketInstance(sharing, i.name));
  return `<section><h2>Node ${esc(name)}${note}</h2><div class="meta">carpool ${esc(d.version)} (${esc(d.mode)}), pid ${d.pid}, up ${Math.round(d.uptimeSeconds)} s, config <code>${esc(d.config)}</code></div>` +
    `${insts.length ? instancesTable(insts) : sharing.length ? '' : '<p>No instances.</p>'}` +
    `${sharing.length ? `<h2>Load sharing</h2>${sharingSection(sharing)}` : ''}` +
    `${res ? `<h2>Resources</h2>${resourcesSection(res)}` : ''}${lb ? `<h2>Load balancer</h2>${balancersSection(lb)}` : ''}</section>`;
}

/** The whole page for one or more daemons (one per node or per `carpool ucarp`). */
export function renderStatusHtml(daemons: readonly DaemonStatus[], generatedAt: Date, refreshSeconds?: number): string {
  return page(daemons.map((d) => daemonSection(d)).join('\n') || '<p>No daemon answered.</p>', generatedAt, refreshSeconds);
}

/** `carpool status --cluster --output html FILE`: every node as etcd has it, gone ones included, and where each instance is MASTER. */
export function renderClusterHtml(view: ClusterView, generatedAt: Date, refreshSeconds?: number): string {
  const rows = view.instances.map((i) => {
    const verdict = i.verdict === 'ok' ? `<span class="good">MASTER on ${esc(i.masters[0]!)}</span>`
      : i.verdict === 'none' ? '<span class="bad">NO MASTER</span>' : `<span class="bad">MASTER ON ${i.masters.length} NODES: ${esc(i.masters.join(', '))}</span>`;
    return `<tr><td>${esc(i.name)}</td><td>${esc(i.protocol)}</td><td>${esc(i.addresses.join(', '))}</td><td>${verdict}</td>` +
      `<td>${i.nodes.map((n) => `${esc(n.node)} <span class="${stateClass(n.state)}">${esc(n.state)}</span>`).join(', ')}</td></tr>`;
  });
  const summary = `<table><tr><th>Instance</th><th>Proto</th><th>Addresses</th><th>Master</th><th>State per node</th></tr>${rows.join('')}</table>`;
  const nodes = view.nodes.map((n) => {
    const when = n.lastSeen ? ` ${esc(n.lastSeen)}${n.agoSeconds !== null ? ` (${n.agoSeconds} s ago)` : ''}` : '';
    if (n.state === 'gone') return `<section><h2>Node ${esc(n.name)} — <span class="bad">GONE</span></h2><div class="meta">${n.stopped ? 'stopped' : 'stopped publishing'}; last seen${when}</div></section>`;
    if (!n.status) return `<section><h2>Node ${esc(n.name)} — <span class="bad">${esc(n.state.toUpperCase())}</span></h2><div class="note">${esc(n.problem ?? '')}</div></section>`;
    const note = n.state === 'online' ? ` — <span class="good">online</span>` : ` — <span class="bad">${esc(n.state.toUpperCase())}</span>`;
    const extra = [n.problem ?? '', n.truncated?.length ? `left out to fit the size bound: ${n.truncated.join(', ')}` : ''].filter(Boolean).map((x) => `<div class="note">${esc(x)}</div>`).join('');
    return daemonSection(n.status, n.name, note).replace('</h2>', `</h2>${extra}<div class="meta">published${when}</div>`);
  });
  const problems = view.problems.length ? `<h2>Problems</h2>${view.problems.map((p) => `<div class="note">${esc(p)}</div>`).join('')}` : '';
  const online = view.nodes.filter((n) => n.state === 'online').length;
  return page(`<div class="meta">etcd prefix <code>${esc(view.prefix)}</code>: ${view.nodes.length} node(s), ${online} online</div><h2>Instances</h2>${summary}${problems}\n${nodes.join('\n')}`,
    generatedAt, refreshSeconds);
}

function page(body: string, generatedAt: Date, refreshSeconds?: number): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>carpool status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">${refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : ''}
<style>${CSS}</style></head>
<body><h1>carpool cluster status</h1><div class="meta">Last updated ${esc(generatedAt.toISOString())}</div>
${body}
</body></html>
`;
}
