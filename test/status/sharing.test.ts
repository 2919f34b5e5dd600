/** The load sharing section in every status renderer: text, HTML page, live dashboard, /metrics. */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { DaemonStatus, InstanceStatus } from '../../src/control/status.js';
import type { SharingStatus } from '../../src/sharing/core/model.js';
import { renderDashboard } from '../../src/status/dashboard.js';
import { renderStatusHtml } from '../../src/status/html.js';
import { renderMetrics } from '../../src/status/metrics.js';
import { formatStatus } from '../../src/status/text.js';
import { carp, status } from './fixtures.js';

const web: SharingStatus = {
  name: 'web', address: '10.9.0.50/24', node: 'n1', buckets: 6, local: [0, 3], servedBy: ['n1', 'n2', 'n3', 'n1', 'n2', '?'],
  applies: 3, failures: 1, lastError: 'Error: <no such set>', serving: true,
  mismatches: [{ node: 'n3', address: '10.9.0.3', drops: 12, agoSeconds: 0.4 }],
};
const bucket = (b: number): InstanceStatus => ({ ...carp, name: `web/b${b}`, vhid: 100 + b, addresses: [] });
const doc: DaemonStatus = { ...status, instances: [carp, bucket(0), bucket(1)], sharing: [web] };

describe('status renderers: load sharing', () => {
  it('text: who serves how many buckets, the mismatch, the buckets here; no row per bucket election', () => {
    const text = formatStatus(doc, new Date('2026-11-23T10:00:00Z'));
    expect(text).toContain('sharing web 10.9.0.50/24: node n1 serves 2/6 buckets (n1 2, n2 2, n3 1, ? 1), 1 nft failures');
    expect(text).toContain("    node list or bucket count differs from n3's (10.9.0.3): 12 bad digest(s), last 0.4 s ago");
    expect(text).toContain('    here: 0,3');
    expect(text).not.toMatch(/^\s+web\/b0\s/m);
    expect(formatStatus({ ...doc, sharing: [{ ...web, serving: false }] }, new Date())).toContain('NOT SERVING');
  });

  it('IPv6: ND packets not rewritten, in the text (when any) and in /metrics', () => {
    const six: SharingStatus = { ...web, name: 'six', address: 'fd00::50/64', mismatches: [], ndSkipped: 3 };
    expect(formatStatus({ ...doc, sharing: [six] }, new Date())).toContain("  ND: 3 packet(s) left with this node's own MAC, not the shared one (see docs/sharing.md \"IPv6\")");
    expect(formatStatus({ ...doc, sharing: [{ ...six, ndSkipped: 0 }] }, new Date())).not.toContain('ND:');
    expect(renderMetrics(({ ...doc, sharing: [six] }))).toContain('carpool_sharing_nd_unrewritten_total{sharing="six",address="fd00::50/64"} 3');
    expect(renderMetrics(doc)).not.toContain('carpool_sharing_nd_unrewritten_total');
  });

  it('a gateway: both sides and the hash in the text and the HTML page', () => {
    const fw: SharingStatus = { ...web, name: 'fw', address: '10.7.0.254/24', outside: '10.7.1.254/24 on eth1', hash: 'symmetric-ports', mismatches: [], failures: 0 };
    expect(formatStatus({ ...doc, sharing: [fw] }, new Date())).toContain(
      'sharing fw gateway 10.7.0.254/24 (inside) / 10.7.1.254/24 on eth1 (outside), hash symmetric-ports: node n1 serves 2/6 buckets');
    expect(renderStatusHtml([{ ...doc, sharing: [fw] }], new Date())).toContain('Load-shared <code>gateway 10.7.0.254/24 (inside) / 10.7.1.254/24 on eth1 (outside), hash symmetric-ports</code>');
  });

  it('HTML page: a section per shared address with its buckets per node, escaped; bucket elections not in the instance table', () => {
    const html = renderStatusHtml([doc], new Date('2026-11-23T10:00:00Z'));
    expect(html).toContain('<h2>Load sharing</h2>');
    expect(html).toContain('Shared address <code>10.9.0.50/24</code> (<code>web</code>) — node n1 serves <span class="good">2/6</span> buckets here');
    expect(html).toContain('<tr><td>n1 <b>(this node)</b></td><td>2</td><td><code>0 3</code></td></tr>');
    expect(html).toContain('<tr><td>?</td><td>1</td><td><code>5</code></td></tr>');
    expect(html).toContain('<div class="note">node list or bucket count differs from n3&#39;s (10.9.0.3): 12 bad digest(s), last 0.4 s ago</div>');
    expect(html).toContain('last nft error: Error: &lt;no such set&gt;');
    expect(html).toContain('<td>web</td>');
    expect(html).not.toContain('<td>web/b0</td>');
    expect(renderStatusHtml([{ ...doc, sharing: [{ ...web, serving: false }] }], new Date())).toContain('NOT serving any bucket');
    expect(renderStatusHtml([status], new Date())).not.toContain('Load sharing');
  });

  it('dashboard: the page script renders the sharing section and no card per bucket election', () => {
    const page = renderDashboard({ status: doc, timeline: [
      { at: '2026-11-23T10:00:00.250Z', instance: 'web/b1', from: 'BACKUP', to: 'MASTER', reason: 'master-down timeout' },
      { at: '2026-11-23T10:00:00.250Z', instance: 'web', from: 'BACKUP', to: 'MASTER', reason: 'preempt' },
    ] });
    const json = /<script type="application\/json" id="initial-view">(.*?)<\/script>/s.exec(page)![1]!;
    const script = /<script>([^]*?)<\/script>/.exec(page.slice(page.indexOf('id="initial-view"')))![1]!;
    // A minimal DOM: the elements the script reads and writes; no EventSource (it says so and stops).
    const el = (text = '') => ({ textContent: text, innerHTML: '', className: '' });
    const els: Record<string, ReturnType<typeof el>> = { 'initial-view': el(json), app: el(), conn: el(), meta: el() };
    const document = { getElementById: (id: string) => els[id], title: '' };
    runInNewContext(script, { document, Date, JSON, String, Math });
    const app = els.app!.innerHTML;
    expect(app).toContain('<h2>Load sharing</h2>');
    expect(app).toContain('<b>10.9.0.50/24</b> (web): node n1 serves <span class="">2/6</span> buckets here; nft updates 3, <span class="warn">1 failed</span>');
    expect(app).toContain('<tr><td>n2</td><td>2</td><td><code>1 4</code></td></tr>');
    expect(app).toContain('<p class="warn">node list or bucket count differs from n3&#39;s (10.9.0.3): 12 bad digest(s), last 0.4 s ago</p>');
    expect(app).toContain('data-instance="web"');
    expect(app).not.toContain('data-instance="web/b');
    expect(app).not.toContain('<td>web/b1</td>'); // the bucket transitions are summarised, not listed
    expect(document.title).not.toContain('web/b');
  });

  it('metrics: per shared address, buckets here and per node, serving, nft updates and failures, mismatching nodes', () => {
    const text = renderMetrics(doc);
    const l = 'sharing="web",address="10.9.0.50/24"';
    expect(text).toContain(`carpool_sharing_buckets{${l}} 6\n`);
    expect(text).toContain(`carpool_sharing_buckets_local{${l}} 2\n`);
    expect(text).toContain(`carpool_sharing_buckets_served{${l},node="n2"} 2\n`);
    expect(text).toContain(`carpool_sharing_buckets_served{${l},node="?"} 1\n`);
    expect(text).toContain(`carpool_sharing_serving{${l}} 1\n`);
    expect(text).toContain(`carpool_sharing_layout_mismatch_nodes{${l}} 1\n`);
    expect(text).toContain(`# TYPE carpool_sharing_nft_failures_total counter\ncarpool_sharing_nft_failures_total{${l}} 1\n`);
    expect(text).toContain(`carpool_sharing_nft_updates_total{${l}} 3\n`);
    expect(renderMetrics({ ...doc, sharing: [{ ...web, serving: false }] })).toContain(`carpool_sharing_serving{${l}} 0\n`);
    expect(renderMetrics(status)).not.toContain('carpool_sharing');
  });
});
