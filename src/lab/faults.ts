/**
 * Faults on a lab LAN, all made in the switch namespace so the hosts cannot tell them from
 * a real network problem: a pulled cable (the host's switch port goes down), a partition
 * (nftables bridge rules between two sets of ports) and advert loss (a random share of IP
 * protocol 112 frames dropped at the bridge, per receiving port; this kernel has no netem).
 * Every fault is a named nftables table, so `heal` / `clearLoss` remove exactly theirs.
 */
import { run, inNs } from '../lib/exec.js';
import type { Lan, LabHost } from './netns.js';

export { cutLink, restoreLink } from './netns.js';

const PARTITION_TABLE = 'carpool_lab_partition';
const LOSS_TABLE = 'carpool_lab_loss';

async function nft(lan: Lan, script: string): Promise<void> {
  await run(inNs(lan.switchNs, ['nft', '-f', '-']), { input: script });
}

async function dropTable(lan: Lan, table: string): Promise<void> {
  await run(inNs(lan.switchNs, ['nft', 'delete', 'table', 'bridge', table]), { allowFail: true });
}

const portSet = (hosts: readonly LabHost[]): string => `{ ${hosts.map((h) => `"${h.port}"`).join(', ')} }`;

/**
 * Split the LAN: `side` (host names or hosts) on one side, every other port (the other
 * hosts and the client) on the other. Frames between the sides are dropped both ways.
 * Replaces an earlier partition.
 */
export async function partition(lan: Lan, side: readonly LabHost[]): Promise<void> {
  if (side.length === 0) throw new Error('partition: name at least one host');
  const rest = [...lan.hosts, ...(lan.client ? [lan.client] : [])].filter((h) => !side.some((s) => s.port === h.port));
  if (rest.length === 0) throw new Error('partition: every port is on one side; nothing to cut');
  await dropTable(lan, PARTITION_TABLE);
  await nft(lan, [
    `table bridge ${PARTITION_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    iifname ${portSet(side)} oifname ${portSet(rest)} counter drop`,
    `    iifname ${portSet(rest)} oifname ${portSet(side)} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n'));
}

/** Remove the partition (no-op when there is none). */
export async function heal(lan: Lan): Promise<void> {
  await dropTable(lan, PARTITION_TABLE);
}

/**
 * Drop `percent` % of adverts (IPv4 protocol 112 and IPv6 next header 112: CARP and VRRP),
 * decided independently for every frame the bridge forwards to a port. With `from`, only
 * adverts sent by those hosts are dropped. Replaces an earlier loss rule.
 */
export async function dropAdverts(lan: Lan, percent: number, from?: readonly LabHost[]): Promise<void> {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new Error(`loss must be an integer percentage 0..100, got ${percent}`);
  await dropTable(lan, LOSS_TABLE);
  const src = from && from.length > 0 ? `iifname ${portSet(from)} ` : '';
  await nft(lan, [
    `table bridge ${LOSS_TABLE} {`,
    '  counter dropped { }',
    '  counter passed { }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    ${src}ip protocol 112 numgen random mod 100 < ${percent} counter name dropped drop`,
    `    ${src}ip6 nexthdr 112 numgen random mod 100 < ${percent} counter name dropped drop`,
    `    ${src}ip protocol 112 counter name passed`,
    `    ${src}ip6 nexthdr 112 counter name passed`,
    '  }',
    '}',
    '',
  ].join('\n'));
}

export interface LossCounters {
  readonly dropped: number;
  readonly passed: number;
}

/** Adverts dropped and passed since `dropAdverts`; undefined when no loss rule is active. */
export async function lossCounters(lan: Lan): Promise<LossCounters | undefined> {
  const res = await run(inNs(lan.switchNs, ['nft', '-j', 'list', 'table', 'bridge', LOSS_TABLE]), { allowFail: true });
  if (res.code !== 0) return undefined;
  const counts: Record<string, number> = {};
  const doc = JSON.parse(res.stdout) as { nftables: { counter?: { name: string; packets: number } }[] };
  for (const item of doc.nftables) if (item.counter) counts[item.counter.name] = item.counter.packets;
  return { dropped: counts.dropped ?? 0, passed: counts.passed ?? 0 };
}

/** Stop dropping adverts (no-op when no loss rule is active). */
export async function clearLoss(lan: Lan): Promise<void> {
  await dropTable(lan, LOSS_TABLE);
}

/** What faults are active right now (for `carpool lab status`). */
export async function activeFaults(lan: Lan): Promise<string[]> {
  const out: string[] = [];
  const tables = await run(inNs(lan.switchNs, ['nft', 'list', 'tables', 'bridge']), { allowFail: true });
  if (tables.stdout.includes(PARTITION_TABLE)) {
    const t = await run(inNs(lan.switchNs, ['nft', 'list', 'table', 'bridge', PARTITION_TABLE]), { allowFail: true });
    const m = /iifname \{?\s*([^}]*?)\s*\}? oifname/.exec(t.stdout);
    out.push(`partition: ${m ? m[1]!.replace(/"/g, '') : '?'} | rest`);
  }
  if (tables.stdout.includes(LOSS_TABLE)) {
    const t = await run(inNs(lan.switchNs, ['nft', 'list', 'table', 'bridge', LOSS_TABLE]), { allowFail: true });
    const m = /mod 100 < (\d+)/.exec(t.stdout);
    const c = await lossCounters(lan);
    out.push(`advert loss ${m?.[1] ?? '?'} %` + (c ? ` (dropped ${c.dropped}, passed ${c.passed})` : ''));
  }
  const links = await run(inNs(lan.switchNs, ['ip', '-o', 'link', 'show']), { allowFail: true });
  for (const h of lan.hosts) {
    const line = links.stdout.split('\n').find((l) => new RegExp(`^\\d+: ${h.port}@`).test(l));
    if (line && !/[<,]UP[,>]/.test(line)) out.push(`link cut: ${h.name}`);
  }
  return out;
}
