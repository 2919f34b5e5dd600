import { describe, expect, it } from 'vitest';
import { clusterView } from '../../src/coordination/core/cluster-view.js';
import { renderDashboard, slimCluster } from '../../src/status/dashboard.js';
import { status } from './fixtures.js';

describe('the dashboard with the cluster view', () => {
  const now = Date.parse('2026-12-07T12:00:10Z');
  const doc = (node: string) => JSON.stringify({ format: 1, node, publishedAt: '2026-12-07T12:00:09Z', status });
  const view = clusterView({
    prefix: '/c', now, staleAfterMs: 6000,
    nodes: [{ key: '/c/nodes/n1', value: doc('n1'), modRevision: 5 }],
    seen: [{ key: '/c/seen/n1', value: JSON.stringify({ node: 'n1', lastSeen: '2026-12-07T12:00:09Z' }), modRevision: 6 },
      { key: '/c/seen/n2', value: JSON.stringify({ node: 'n2', lastSeen: '2026-12-07T11:59:00Z' }), modRevision: 4 }],
  });

  it('leaves out the nodes\' documents, keeps the states and the instances', () => {
    const slim = slimCluster(view);
    expect('error' in slim).toBe(false);
    if ('error' in slim) return;
    expect(slim.nodes.map((n) => [n.name, n.state, 'status' in n])).toEqual([['n1', 'online', false], ['n2', 'gone', false]]);
    expect(slim.instances).toEqual(view.instances);
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(view).length);
  });

  it('embeds the cluster in the page, readable back, and renders it in the browser half', () => {
    const cluster = slimCluster(view);
    const html = renderDashboard({ status, timeline: [], cluster });
    const json = /<script type="application\/json" id="initial-view">(.*?)<\/script>/s.exec(html)![1]!;
    expect(JSON.parse(json).cluster).toEqual(cluster);
    expect(html).toContain('id="cluster-nodes"');
  });
});
