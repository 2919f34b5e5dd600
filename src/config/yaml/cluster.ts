/**
 * The top-level `cluster:` block (docs/etcd.md, "Cluster view"): how this daemon publishes its
 * status document to etcd for `carpool status --cluster`. The `etcd:` mapping is read by the
 * same code as an etcd instance's (endpoints, prefix, ttl, request_timeout, TLS, user and
 * password file), so one set of connection settings serves both: an etcd instance may say
 * `etcd: cluster` to use it.
 */
import type { ClusterConfig } from '../model.js';
import { Reader, type Checker, type Entry, type YamlConfigOptions } from './checker.js';
import { CLUSTER_ETCD_KEYS, readEtcdSettings } from './etcd.js';

const CLUSTER_KEYS = ['etcd', 'node'] as const;

/** The block, or `undefined` (errors reported) / `null` (absent). */
export function readClusterSection(c: Checker, entry: Entry | undefined, options: YamlConfigOptions): ClusterConfig | undefined | null {
  if (!entry) return null;
  const where = 'cluster';
  const entries = c.entries(entry.value, where, entry.keyNode);
  if (!entries) return undefined;
  c.unknownKeys(entries, CLUSTER_KEYS, where, { endpoints: 'etcd: { endpoints: ... }', name: 'node', node_name: 'node' });
  const r = new Reader(c, where, entries);
  const before = c.errors.length;
  let node: string | undefined;
  if (r.has('node')) {
    const n = r.string('node', "this node's name, unique in the cluster (default: the host name)");
    if (n && (n.value === '' || /[\s\0/]/.test(n.value))) c.error(n.node, 'INVALID_VALUE', `node in cluster: '${n.value}' is not a usable node name`, 'a non-empty name without blanks or /');
    else node = n?.value;
  }
  let etcd;
  if (!r.has('etcd')) c.error(entry.keyNode, 'MISSING_KEY', "missing 'etcd' in cluster", 'cluster: { etcd: { endpoints: [http://10.0.0.1:2379] } }');
  else etcd = readEtcdSettings(c, r, where, '(cluster)', options, CLUSTER_ETCD_KEYS);
  if (c.errors.length > before || !etcd) return undefined;
  return { etcd, ...(node !== undefined ? { node } : {}) };
}
