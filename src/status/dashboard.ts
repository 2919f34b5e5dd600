/**
 * The live dashboard the HTTP listener serves at `/`: instance states, the last transitions as a
 * timeline, resource groups and their failures; with `cluster:`, every node and where each
 * instance is MASTER, as etcd has it (a gone node shown as gone). One self-contained page (inline CSS and script, no
 * external assets): it renders the view embedded at load, then every view the daemon pushes as a
 * Server-Sent Event (`status` events on `events`, relative to the page) without reloading. Pure:
 * view in, HTML out; the clock is read by the browser only (for "5 s ago").
 */
import type { DaemonStatus } from '../control/status.js';
import type { ClusterNode, ClusterView } from '../coordination/core/cluster-view.js';

/** One state change, as the daemon saw it happen. */
export interface TimelineEntry {
  /** ISO time. */
  readonly at: string;
  readonly instance: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

/**
 * With `cluster:`, the whole cluster as etcd has it (`carpool status --cluster`), without each
 * node's status document (the instances' summary has what the page shows), or why it could not
 * be read.
 */
export type DashboardCluster =
  | (Omit<ClusterView, 'nodes'> & { readonly nodes: readonly Omit<ClusterNode, 'status'>[] })
  | { readonly error: string; readonly at: string };

/** What the page shows: the status document and the last transitions, newest first; the cluster. */
export interface DashboardView {
  readonly status: DaemonStatus;
  readonly timeline: readonly TimelineEntry[];
  readonly cluster?: DashboardCluster;
}

/** The cluster view without the nodes' documents: what the page needs, pushed every second. */
export function slimCluster(view: ClusterView): DashboardCluster {
  return { ...view, nodes: view.nodes.map(({ status: _status, ...rest }) => rest) };
}

/** JSON safe inside a `<script>` element: no `</script>`, no `<!--`, no U+2028/9 surprises. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f3f4f7}
header{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap;padding:14px 24px;background:#1d2330;color:#e8eaf0}
header h1{font-size:19px;margin:0}header .meta{color:#aab2c2}
#conn{margin-left:auto;font-weight:600}#conn.live{color:#6ee79a}#conn.lost{color:#ff8a8a}
main{padding:8px 24px 24px}
h2{font-size:15px;margin:20px 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#5b6475}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px #0002;padding:12px 14px;border-top:6px solid #9aa3b2}
.card.s-MASTER{border-top-color:#0a7a2f}.card.s-BACKUP{border-top-color:#2f6fd0}.card.s-FAULT{border-top-color:#b3001b}
.card .top{display:flex;justify-content:space-between;align-items:center}
.card .name{font-size:17px;font-weight:700}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:700;font-size:13px;color:#fff;background:#7b8494}
.b-MASTER{background:#0a7a2f}.b-BACKUP{background:#2f6fd0}.b-FAULT{background:#b3001b}.b-INIT{background:#7b8494}
.b-Started{background:#0a7a2f}.b-FAILED{background:#b3001b}.b-Stopped{background:#7b8494}
.b-Starting,.b-Stopping,.b-Probing{background:#a05a00}
.kv{display:grid;grid-template-columns:110px 1fr;gap:1px 8px;margin-top:8px;font-size:13px}
.kv dt{color:#5b6475}.kv dd{margin:0;overflow-wrap:anywhere}
.warn{color:#b3001b;font-weight:600}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 3px #0002;border-radius:6px;width:100%}
th,td{padding:5px 10px;border-bottom:1px solid #e6e8ec;text-align:left;vertical-align:top;font-size:13px}
th{background:#eef0f4;font-weight:600}
tr.fresh td{background:#fff6d6}
.arrow{color:#5b6475}.muted{color:#5b6475}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
#cluster-nodes{margin-top:10px}
pre{margin:4px 0 0;padding:6px 8px;background:#1d2330;color:#e8eaf0;font-size:12px;white-space:pre-wrap}
`;

/*
 * The browser half: renders a view into #app; no template literals here (this text is one).
 * Times shown in the viewer's local time; "fresh" rows are under 10 s old.
 */
const SCRIPT = `
(function () {
  'use strict';
  var view = JSON.parse(document.getElementById('initial-view').textContent);
  var app = document.getElementById('app');
  var conn = document.getElementById('conn');
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function token(s) { return String(s).replace(/[^A-Za-z]/g, ''); }
  function badge(state) { return '<span class="badge b-' + token(state) + '">' + esc(state) + '</span>'; }
  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 172800) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min ago';
    return Math.floor(s / 86400) + ' days ago';
  }
  function clock(iso) {
    var d = new Date(iso);
    function two(n) { return (n < 10 ? '0' : '') + n; }
    return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds()) + '.' + String(d.getMilliseconds() + 1000).slice(1);
  }
  function sum(o) { var n = 0; for (var k in o) n += o[k]; return n; }
  function pref(i) {
    var p = i.priority;
    if (i.etcd) {
      return 'etcd lease, ttl ' + p.ttl + ' s' + (i.etcd.leaseLeftMs === null ? '' : ', ' + (i.etcd.leaseLeftMs / 1000).toFixed(1) + ' s left');
    }
    if (i.protocol === 'carp') {
      return 'advbase ' + p.advbase + ' s, advskew ' + (p.advskewEffective !== undefined && p.advskewEffective !== p.advskew ? p.advskewEffective + ' (configured ' + p.advskew + ')' : p.advskew);
    }
    return 'priority ' + (p.effective !== p.base ? p.effective + ' (configured ' + p.base + ')' : p.base);
  }
  function card(i) {
    var flags = [];
    if (!i.linkUp) flags.push('no carrier');
    if (i.priority.demoted) flags.push('demoted');
    if (i.priority.standby) flags.push('standby');
    var drops = sum(i.counters.drops);
    var rows = [
      ['protocol', esc(i.protocol.toUpperCase()) + ' on ' + esc(i.interface) + ', ' + (i.etcd ? 'key ' + esc(i.etcd.key) + (i.etcd.revision === null ? '' : ' (revision ' + i.etcd.revision + ')') : (i.protocol === 'carp' ? 'vhid ' : 'VRID ') + i.vhid)],
      ['master', esc(i.master === null ? 'unknown' : i.master)],
      ['addresses', esc(i.addresses.join(', ')) + (i.holdsAddresses ? ' <b>(held here)</b>' : '')],
      ['preference', esc(pref(i))],
      ['adverts', i.counters.advertsSent + ' sent, ' + i.counters.advertsReceived + ' received' +
        (drops ? ', <span class="warn">' + drops + ' dropped</span>' : '') +
        (i.counters.sendErrors ? ', <span class="warn">' + i.counters.sendErrors + ' send errors</span>' : '')],
      ['last change', i.lastTransition ? esc(i.lastTransition.from + ' \\u2192 ' + i.lastTransition.to + ' (' + i.lastTransition.reason + '), ' + ago(i.lastTransition.at)) : '-'],
    ];
    if (flags.length) rows.push(['flags', '<span class="warn">' + esc(flags.join(', ')) + '</span>']);
    return '<div class="card s-' + token(i.state) + '" data-instance="' + esc(i.name) + '"><div class="top"><span class="name">' + esc(i.name) +
      '</span><span class="state">' + badge(i.state) + '</span></div><dl class="kv">' +
      rows.map(function (r) { return '<dt>' + r[0] + '</dt><dd>' + r[1] + '</dd>'; }).join('') + '</dl></div>';
  }
  function timeline(entries) {
    if (!entries.length) return '<p class="muted">No transitions yet.</p>';
    return '<table id="timeline"><tr><th>Time</th><th>Instance</th><th>Change</th><th>Reason</th></tr>' + entries.map(function (t) {
      var fresh = Date.now() - Date.parse(t.at) < 10000;
      return '<tr' + (fresh ? ' class="fresh"' : '') + '><td><code>' + esc(clock(t.at)) + '</code> <span class="muted">' + esc(ago(t.at)) + '</span></td><td>' +
        esc(t.instance) + '</td><td>' + badge(t.from) + ' <span class="arrow">\\u2192</span> ' + badge(t.to) + '</td><td>' + esc(t.reason) + '</td></tr>';
    }).join('') + '</table>';
  }
  function resources(res) {
    if (!res) return '';
    var out = '<h2>Resources on ' + esc(res.node) + '</h2>';
    res.groups.forEach(function (g) {
      var notes = [];
      if (g.moved) notes.push('moved away by the operator');
      if (g.standby) notes.push('instance in standby for this group');
      if (!g.eligible && g.ineligibleReason) notes.push('cannot run here: ' + g.ineligibleReason);
      out += '<p><b>Group ' + esc(g.id) + '</b> follows ' + esc(g.instance) + ' (' + esc(g.instanceState) + ' here): ' + badge(g.state) +
        (notes.length ? ' <span class="warn">' + esc(notes.join('; ')) + '</span>' : '') + '</p>';
      out += '<table><tr><th>Resource</th><th>Agent</th><th>State</th><th>Fail-count / threshold</th><th>Last failure</th></tr>' + g.members.map(function (m) {
        return '<tr><td>' + esc(m.id) + '</td><td><code>' + esc(m.agent) + '</code></td><td>' + badge(m.state) + (m.pending ? ' <span class="muted">' + esc(m.pending) + '</span>' : '') +
          (m.blocked ? ' <span class="warn">blocked</span>' : '') + '</td><td' + (m.failcount ? ' class="warn"' : '') + '>' +
          (m.failcount >= 1000000 ? 'INFINITY' : m.failcount) + (m.migrationThreshold ? ' / ' + m.migrationThreshold : '') + '</td><td>' +
          (m.lastFailure ? esc(m.lastFailure.key + ' ' + m.lastFailure.text + ', ' + ago(m.lastFailure.at)) : '-') + '</td></tr>';
      }).join('') + '</table>';
    });
    if (res.failedActions.length) {
      out += '<h2>Failed resource actions</h2><table><tr><th>Operation</th><th>Result</th><th>Exit reason / output</th><th>When</th><th>Took</th></tr>' +
        res.failedActions.map(function (f) {
          return '<tr><td><code>' + esc(f.key) + '</code></td><td class="warn">' + esc(f.text) + ' ' + esc(f.status) + '</td><td>' + esc(f.exitReason || '-') +
            (f.output ? '<pre>' + esc(f.output.split('\\n').slice(-6).join('\\n')) + '</pre>' : '') + '</td><td>' + esc(clock(f.at)) + ' <span class="muted">' + esc(ago(f.at)) + '</span></td><td>' + f.execMs + ' ms</td></tr>';
        }).join('') + '</table>';
    }
    return out;
  }
  function isBucket(shared, name) {
    return shared.some(function (x) { return name.indexOf(x.name + '/b') === 0 && /^\\d+$/.test(name.slice(x.name.length + 2)); });
  }
  function sharing(shared) {
    if (!shared.length) return '';
    return '<h2>Load sharing</h2>' + shared.map(function (x) {
      var per = {}, order = [];
      x.servedBy.forEach(function (n, b) {
        if (!per[n]) { per[n] = []; order.push(n); }
        per[n].push(b);
      });
      var notes = [];
      if (x.serving === false) notes.push('NOT serving any bucket: the nodes with another node list or bucket count are the larger group');
      (x.mismatches || []).forEach(function (m) {
        notes.push('node list or bucket count differs from ' + m.node + "'s (" + m.address + '): ' + m.drops + ' bad digest(s), last ' + m.agoSeconds + ' s ago');
      });
      if (x.lastError) notes.push('last nft error: ' + x.lastError);
      var where = x.outside ? 'gateway ' + x.address + ' (inside) / ' + x.outside + ' (outside), hash ' + x.hash : x.address;
      return '<p data-sharing="' + esc(x.name) + '"><b>' + esc(where) + '</b> (' + esc(x.name) + '): node ' + esc(x.node) + ' serves ' +
        '<span class="' + (x.local.length ? '' : 'warn') + '">' + x.local.length + '/' + x.buckets + '</span> buckets here; nft updates ' + x.applies +
        (x.failures ? ', <span class="warn">' + x.failures + ' failed</span>' : '') + '</p>' +
        notes.map(function (n) { return '<p class="warn">' + esc(n) + '</p>'; }).join('') +
        '<table><tr><th>Node</th><th>Buckets</th><th>Which (as this node sees the elections)</th></tr>' + order.map(function (n) {
          return '<tr><td>' + esc(n) + (n === x.node ? ' <b>(this node)</b>' : '') + '</td><td>' + per[n].length + '</td><td><code>' + per[n].join(' ') + '</code></td></tr>';
        }).join('') + '</table>';
    }).join('');
  }
  function cluster(c) {
    if (!c) return '';
    if (c.error) return '<h2>Cluster</h2><p class="warn" id="cluster-error">' + esc(c.error) + ' (' + esc(clock(c.at)) + ')</p>';
    var online = c.nodes.filter(function (n) { return n.state === 'online'; }).length;
    var out = '<h2>Cluster</h2><p class="muted">etcd prefix <code>' + esc(c.prefix) + '</code>: ' + c.nodes.length + ' node(s), ' + online + ' online' +
      (c.nodes.length - online ? ', <span class="warn">' + (c.nodes.length - online) + ' not online</span>' : '') + ', read ' + esc(clock(c.at)) + '</p>';
    out += '<table id="cluster-instances"><tr><th>Instance</th><th>Proto</th><th>Addresses</th><th>Master</th><th>State per node</th></tr>' + c.instances.map(function (i) {
      var verdict = i.verdict === 'ok' ? 'MASTER on ' + esc(i.masters[0]) : i.verdict === 'none' ? '<span class="warn">NO MASTER</span>'
        : '<span class="warn">MASTER ON ' + i.masters.length + ' NODES: ' + esc(i.masters.join(', ')) + '</span>';
      return '<tr data-instance="' + esc(i.name) + '"><td>' + esc(i.name) + '</td><td>' + esc(i.protocol) + '</td><td>' + esc(i.addresses.join(', ')) + '</td><td class="verdict">' + verdict +
        '</td><td>' + i.nodes.map(function (n) { return esc(n.node) + ' ' + badge(n.state) + (n.holdsAddresses ? ' *' : ''); }).join(', ') + '</td></tr>';
    }).join('') + '</table>';
    out += '<table id="cluster-nodes"><tr><th>Node</th><th>State</th><th>Last seen / published</th><th>Note</th></tr>' + c.nodes.map(function (n) {
      var state = n.state === 'online' ? '<span class="badge b-MASTER">online</span>' : '<span class="badge b-FAULT">' + esc(n.state.toUpperCase()) + '</span>';
      var note = n.state === 'gone' ? (n.stopped ? 'stopped' : 'stopped publishing') : (n.problem || '');
      return '<tr data-node="' + esc(n.name) + '" class="n-' + token(n.state) + '"><td>' + esc(n.name) + '</td><td class="state">' + state + '</td><td>' +
        (n.lastSeen ? esc(clock(n.lastSeen)) + ' <span class="muted">' + esc(ago(n.lastSeen)) + '</span>' : '-') + '</td><td' + (note ? ' class="warn"' : '') + '>' + esc(note) + '</td></tr>';
    }).join('') + '</table>';
    if (c.problems.length) out += c.problems.map(function (p) { return '<p class="warn">' + esc(p) + '</p>'; }).join('');
    return out;
  }
  function render(v) {
    var st = v.status;
    var shared = st.sharing || [];
    var insts = st.instances.filter(function (i) { return !isBucket(shared, i.name); });
    document.getElementById('meta').textContent = 'carpool ' + st.version + ' (' + st.mode + '), pid ' + st.pid + ', up ' + Math.round(st.uptimeSeconds) + ' s, ' + st.config;
    document.title = insts.map(function (i) { return i.name + ' ' + i.state; }).join(', ') + ' \\u2014 carpool';
    app.innerHTML = cluster(v.cluster) + '<h2>Instances' + (v.cluster ? ' on this node' : '') + '</h2><div class="cards">' + (insts.length ? insts.map(card).join('') : '<p class="muted">No instances' + (shared.length ? ' besides the bucket elections of load sharing' : '') + '.</p>') + '</div>' +
      sharing(shared) + '<h2>Last transitions</h2>' + timeline(v.timeline.filter(function (t) { return !isBucket(shared, t.instance); })) + resources(st.resources);
  }
  render(view);
  var source;
  try {
    source = new EventSource('events');
  } catch (e) {
    conn.textContent = 'no live updates here (' + e.message + ')';
    return;
  }
  source.addEventListener('status', function (ev) {
    view = JSON.parse(ev.data);
    render(view);
    conn.className = 'live';
    conn.textContent = '\\u25cf live, updated ' + clock(new Date().toISOString());
  });
  source.onerror = function () {
    conn.className = 'lost';
    conn.textContent = '\\u25cf connection lost, retrying\\u2026';
  };
})();
`;

/** The page, with `view` embedded so it shows at once, before the first pushed update. */
export function renderDashboard(view: DashboardView): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>carpool</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body><header><h1>carpool</h1><span class="meta" id="meta"></span><span id="conn">connecting\u2026</span></header>
<main id="app"><noscript>This page needs JavaScript; the same data is at <a href="status">status</a> (JSON) and <a href="metrics">metrics</a>.</noscript></main>
<script type="application/json" id="initial-view">${scriptJson(view)}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
