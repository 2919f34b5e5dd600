/**
 * The value under an etcd instance's key (issue 16, docs/etcd.md "Two clusters on one prefix"):
 * the holder's node name and a fingerprint of the instance's configuration,
 * `<node> config=<12 hex>`. Nodes of one cluster share the fingerprint; a node that finds
 * another one under the key is looking at another cluster's instance of the same name (a key
 * prefix shared by mistake) and must neither take the key nor trust it as its own cluster's.
 * A value without a fingerprint (an older carpool) is taken as the node name alone.
 */
import { createHash } from 'node:crypto';
import type { VirtualAddress } from '../../config/model.js';

/** Marks a holder of another configuration in what the lease core and `carpool status` see. */
export const FOREIGN_MARK = 'OTHER CONFIGURATION';

/** What every node of the instance must agree on: its addresses (interfaces may differ per node). */
export function configFingerprint(addresses: readonly VirtualAddress[]): string {
  const text = addresses.map((a) => `${a.address}/${a.prefix}`).sort().join(',');
  return createHash('sha256').update(`carpool etcd instance v1|${text}`).digest('hex').slice(0, 12);
}

export function encodeHolder(node: string, fingerprint: string): string {
  return `${node} config=${fingerprint}`;
}

/** The node name and fingerprint of a value (fingerprint undefined: none written). */
export function decodeHolder(value: string): { node: string; fingerprint: string | undefined } {
  const m = /^(\S+) config=([0-9a-f]+)$/.exec(value);
  return m ? { node: m[1]!, fingerprint: m[2]! } : { node: value, fingerprint: undefined };
}
