/** The pure merge of the cluster view: documents and seen records in, nodes and masters per instance out. */
import { describe, expect, it } from 'vitest';
import type { DaemonStatus, InstanceStatus } from '../../src/control/status.js';
import { clusterView, fingerprint, nodeDocument, parseNodeDocument, type StoredEntry } from '../../src/coordination/core/cluster-view.js';
import { formatCluster } from '../../src/status/cluster-text.js';
import { renderClusterHtml } from '../../src/status/html.js';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const iso = (agoMs: number) => new Date(NOW - agoMs).toISOString();

function inst(name: string, state: string, extra: Partial<InstanceStatus> = {}): InstanceStatus {
  return {
    name, protocol: 'carp', interface: 'eth0', vhid: 1, state, master: null, source: '10.0.0.1', addresses: ['10.0.0.100'],
    holdsAddresses: state === 'MASTER', linkUp: true, priority: { advbase: 1, advskew: 0 }, lastTransition: null, transitions: 0,
    becameMasterAt: null, counters: { advertsSent: 1, advertsReceived: 2, sendErrors: 0, drops: {} }, ...extra,
  };
}
function status(instances: InstanceStatus[], extra: Record<string, unknown> = {}): DaemonStatus {
  return { version: '1.0.0', pid: 42, mode: 'run', config: '/etc/carpool/carpool.yaml', startedAt: iso(60_000), uptimeSeconds: 60, instances, interfaces: [], ...extra };
}
let rev = 10;
const doc = (node: string, st: DaemonStatus, agoMs = 1000, key = node): StoredEntry => ({ key: `/c/nodes/${key}`, value: nodeDocument(node, st, iso(agoMs)).text, modRevision: rev++ });
const seen = (node: string, agoMs: number, stopped = false): StoredEntry => ({ key: `/c/seen/${node}`, value: JSON.stringify({ node, lastSeen: iso(agoMs), ...(stopped ? { stopped } : {}) }), modRevision: rev++ });
const view = (nodes: StoredEntry[], seenList: StoredEntry[] = []) => clusterView({ prefix: '/c', nodes, seen: seenList, now: NOW, staleAfterMs: 6000 });

describe('cluster view', () => {
  it('one master per instance across online nodes', () => {
    const v = view([doc('b', status([inst('web', 'BACKUP')])), doc('a', status([inst('web', 'MASTER')]))], [seen('a', 1000), seen('b', 1000)]);
    expect(v.nodes.map((n) => [n.name, n.state, n.agoSeconds])).toEqual([['a', 'online', 1], ['b', 'online', 1]]);
    expect(v.instances).toEqual([{ name: 'web', protocol: 'carp', addresses: ['10.0.0.100'], masters: ['a'], verdict: 'ok',
      nodes: [{ node: 'a', state: 'MASTER', holdsAddresses: true }, { node: 'b', state: 'BACKUP', holdsAddresses: false }] }]);
    expect(v.problems).toEqual([]);
  });

  it('flags MASTER on two nodes and on none', () => {
    const v = view([doc('a', status([inst('web', 'MASTER'), inst('db', 'BACKUP')])), doc('b', status([inst('web', 'MASTER'), inst('db', 'INIT')]))]);
    expect(v.instances.map((i) => [i.name, i.verdict, i.masters])).toEqual([['db', 'none', []], ['web', 'split', ['a', 'b']]]);
    const text = formatCluster(v, new Date(NOW));
    expect(text).toMatch(/^ {2}db +carp +10\.0\.0\.100 +NO MASTER !! +a BACKUP, b INIT$/m);
    expect(text).toMatch(/^ {2}web +carp +10\.0\.0\.100 +MASTER ON 2 NODES: a, b !!/m);
  });

  it('a node with a seen record and no document is gone, with when it was last seen; its instances do not count', () => {
    const v = view([doc('a', status([inst('web', 'BACKUP')]))], [seen('a', 1000), seen('b', 30_000), seen('c', 5000, true)]);
    expect(v.nodes.map((n) => [n.name, n.state, n.lastSeen, n.agoSeconds, n.stopped ?? false])).toEqual([
      ['a', 'online', iso(1000), 1, false], ['b', 'gone', iso(30_000), 30, false], ['c', 'gone', iso(5000), 5, true]]);
    expect(v.instances[0]!.verdict).toBe('none');
    const text = formatCluster(v, new Date(NOW));
    expect(text).toContain('3 node(s), 1 online, 2 gone');
    expect(text).toContain(`Node b: GONE (stopped publishing; last seen ${iso(30_000)}, 30s ago)`);
    expect(text).toContain('Node c: GONE (stopped;');
    expect(renderClusterHtml(v, new Date(NOW))).toContain('Node b — <span class="bad">GONE</span>');
  });

  it('a document older than the stale bound is stale, still counted, and says why', () => {
    const v = view([doc('a', status([inst('web', 'MASTER')]), 20_000)]);
    expect(v.nodes[0]!.state).toBe('stale');
    expect(v.nodes[0]!.problem).toContain('last published 20s ago');
    expect(v.instances[0]!.verdict).toBe('ok');
  });

  it('duplicates: two documents naming one node keep the later write and say so; a key naming another node is reported', () => {
    const older = doc('a', status([inst('web', 'BACKUP')]), 1000, 'x');
    const newer = doc('a', status([inst('web', 'MASTER')]), 1000, 'a');
    for (const order of [[older, newer], [newer, older]]) {
      const v = view(order);
      expect(v.nodes.map((n) => n.name)).toEqual(['a']);
      expect(v.instances[0]!.masters).toEqual(['a']);
      expect(v.problems.join('\n')).toContain("/c/nodes/x holds the document of node 'a'");
      expect(v.problems.join('\n')).toContain("two documents for node 'a'");
    }
    const twice = view([doc('a', status([inst('web', 'MASTER'), inst('web', 'BACKUP')]))]);
    expect(twice.instances[0]!.nodes).toHaveLength(1);
    expect(twice.problems).toEqual(["node 'a' lists instance 'web' twice: the first is shown"]);
  });

  it('version skew: unknown fields are ignored, missing ones defaulted; garbage is invalid, not fatal', () => {
    const future = JSON.stringify({ format: 9, node: 'n', publishedAt: iso(0), wholeNewThing: { x: 1 },
      status: { version: '9.0', flux: true, instances: [{ name: 'web', state: 'MASTER', quantum: 3 }, { nope: 1 }] } });
    const v = view([{ key: '/c/nodes/n', value: future, modRevision: 1 }, { key: '/c/nodes/z', value: '{not json', modRevision: 2 }], [seen('z', 9000)]);
    expect(v.nodes.map((n) => [n.name, n.state])).toEqual([['n', 'online'], ['z', 'invalid']]);
    const n = v.nodes[0]!.status!;
    expect(n.instances).toHaveLength(1);
    expect(n.instances[0]!).toMatchObject({ name: 'web', state: 'MASTER', protocol: '?', addresses: [], counters: { drops: {} } });
    expect(v.instances[0]!.verdict).toBe('ok');
    expect(v.problems).toEqual(['/c/nodes/z: unreadable document (not JSON)']);
    // Rendering a skewed document does not throw.
    expect(formatCluster(v, new Date(NOW))).toContain('Node z: INVALID (/c/nodes/z: not JSON)');
    expect(() => parseNodeDocument('{"node":"a"}')).toThrow("no 'status' object");
  });

  it('bucket elections of load sharing are not listed as instances', () => {
    const st = status([inst('web', 'MASTER'), inst('sh/b0', 'MASTER'), inst('sh/b1', 'MASTER')], { sharing: [{ name: 'sh' }] });
    expect(view([doc('a', st), doc('b', st)]).instances.map((i) => i.name)).toEqual(['web']);
  });
});

describe('published document', () => {
  it('stays under the size bound by dropping the big sections first, and lists them', () => {
    const big = status([inst('web', 'MASTER')], { balancers: { services: 'x'.repeat(5000) }, resources: { groups: [] } });
    const { doc: d, text } = nodeDocument('a', big, iso(0), 2000);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2000);
    expect(d.truncated).toEqual(['balancers']);
    expect(d.status.resources).toEqual({ groups: [] });
    const many = status(Array.from({ length: 200 }, (_, k) => inst(`i${k}`, 'BACKUP')));
    const cut = nodeDocument('a', many, iso(0), 8000);
    expect(Buffer.byteLength(cut.text)).toBeLessThanOrEqual(8000);
    expect(cut.doc.truncated).toContain('instances');
    expect(cut.doc.status.instances.length).toBeGreaterThan(0);
  });

  it('fingerprint ignores counters and ages, not states', () => {
    const a = status([inst('web', 'MASTER')]);
    const b = { ...a, uptimeSeconds: 99, instances: [inst('web', 'MASTER', { counters: { advertsSent: 9, advertsReceived: 9, sendErrors: 0, drops: {} } })] };
    expect(fingerprint(b)).toBe(fingerprint(a));
    expect(fingerprint(status([inst('web', 'BACKUP')]))).not.toBe(fingerprint(a));
  });
});
