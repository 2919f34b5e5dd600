/**
 * The load sharing section of the status document in words (issue 15, docs/sharing.md), for
 * `carpool status`, the HTML page and /metrics. The bucket elections are summarised here, not
 * shown as one instance row each. Pure.
 */
import type { DaemonStatus } from '../control/status.js';
import type { SharingStatus } from '../sharing/core/model.js';

export function sharingOf(st: DaemonStatus): readonly SharingStatus[] {
  return (st.sharing ?? []) as SharingStatus[];
}

/** Is this instance one of the bucket elections (`<name>/b<k>`) of a shared address? */
export function isBucketInstance(sharing: readonly SharingStatus[], instance: string): boolean {
  return sharing.some((x) => instance.startsWith(`${x.name}/b`) && /^\d+$/.test(instance.slice(x.name.length + 2)));
}

/** How many buckets each node serves as this node sees it, in first-seen order (`?` = unknown). */
export function servedCounts(x: SharingStatus): [string, number][] {
  const per = new Map<string, number>();
  for (const n of x.servedBy) per.set(n, (per.get(n) ?? 0) + 1);
  return [...per];
}

/** One line per mismatching node: who, how many bad digests, how long ago. */
export function mismatchText(x: SharingStatus): string[] {
  return (x.mismatches ?? []).map((m) => `node list or bucket count differs from ${m.node}'s (${m.address}): ${m.drops} bad digest(s), last ${m.agoSeconds} s ago`);
}

/** The address part of a shared address's headline: the address, or a gateway's two sides and its hash. */
export function sharingWhere(x: SharingStatus): string {
  return x.outside ? `gateway ${x.address} (inside) / ${x.outside} (outside), hash ${x.hash ?? '?'}` : x.address;
}

/** `carpool status` lines. */
export function formatSharing(x: SharingStatus): string[] {
  const lines = [`sharing ${x.name} ${sharingWhere(x)}: node ${x.node} serves ${x.local.length}/${x.buckets} buckets`
    + ` (${servedCounts(x).map(([n, k]) => `${n} ${k}`).join(', ')})${x.failures ? `, ${x.failures} nft failures` : ''}`];
  if (x.serving === false) lines.push('  NOT SERVING: the nodes with another node list or bucket count are the larger group (see below)');
  lines.push(...mismatchText(x).map((l) => `  ${l}`));
  if (x.ndSkipped) lines.push(`  ND: ${x.ndSkipped} packet(s) left with this node's own MAC, not the shared one (see docs/sharing.md "IPv6")`);
  lines.push(`  here: ${x.local.length ? x.local.join(',') : '-'}`);
  return lines;
}
