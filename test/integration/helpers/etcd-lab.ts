/**
 * Pieces shared by the etcd integration tests of the failure cases (watch stalled, bad input):
 * one etcd member (Debian's etcd-server) in a lab namespace, and two independent witnesses of
 * who holds an address — the kernel's own address events (`ip -ts monitor address`, exact
 * times) and a sampler that reads every node's addresses every ~20 ms — so that a second holder
 * would show up in either.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { LabHost } from '../../../src/lab/netns.js';
import { Proc, inNs, type ProcSet } from './procs.js';
import type { Workdir } from './carp.js';

export const hasEtcd = spawnSync('etcd', ['--version']).status === 0 && spawnSync('etcdctl', ['version']).status === 0;

/** One `protocol: etcd` instance of a lab node's configuration. */
export interface EtcdInstanceSpec {
  readonly name: string;
  readonly interface: string;
  /** As written in `addresses: [...]` (`10.0.0.1/24`). */
  readonly addresses: readonly string[];
  /** The instance's `node:`. */
  readonly node: string;
  /** The inside of the `etcd: { ... }` block. */
  readonly etcd: string;
  /** More instance lines (`priority: 200`), written before `etcd:`. */
  readonly extra?: readonly string[];
}

/**
 * The configuration of one lab node running etcd instances, written private to `<dir>.yaml` in
 * the work directory (its control socket given, its state in `<dir>/state`); the path.
 */
export function writeEtcdConfig(wd: Workdir, dir: string, socket: string, instances: readonly EtcdInstanceSpec[]): string {
  mkdirSync(wd.path(dir), { recursive: true });
  return wd.write(`${dir}.yaml`, [
    `control_socket: ${socket}`, `state_dir: ${wd.path(`${dir}/state`)}`, 'instances:',
    ...instances.flatMap((i) => [
      `  - name: ${i.name}`, '    protocol: etcd', `    interface: ${i.interface}`, `    addresses: [${i.addresses.join(', ')}]`, `    node: ${i.node}`,
      ...(i.extra ?? []).map((l) => `    ${l}`), `    etcd: { ${i.etcd} }`,
    ]),
    '',
  ].join('\n'), 0o600);
}

/** A single-member etcd listening on `host`'s lab address (client port 2379). */
export function startEtcd(procs: ProcSet, wd: Workdir, host: LabHost, name = 'e1'): Proc {
  const url = `http://${host.address}:2379`;
  return procs.add(new Proc(`etcd-${name}`, inNs(host.ns, ['etcd', '--name', name, '--data-dir', wd.path(`etcd-${name}`), '--listen-client-urls', url,
    '--advertise-client-urls', url, '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
    '--initial-cluster', `${name}=http://127.0.0.1:2380`, '--log-level', 'warn'])));
}

/** Kernel address events of `vip` (`a.b.c.d/len`) on each node: who gained / lost it, when (ms since the epoch). */
export class AddressLog {
  readonly events: { node: string; at: number; added: boolean }[] = [];
  constructor(procs: ProcSet, nodes: readonly LabHost[], readonly vip: string) {
    for (const h of nodes) {
      const p = procs.add(new Proc(`mon-${h.name}`, inNs(h.ns, ['ip', '-ts', '-o', 'monitor', 'address'])));
      p.child.stdout!.on('data', (buf: Buffer) => {
        for (const line of buf.toString().split('\n')) {
          const m = /^\[(\S+)\] (Deleted )?\d+: \S+\s+inet (\S+)/.exec(line);
          if (m && m[3] === vip) this.events.push({ node: h.name, at: Date.parse(`${m[1]!.slice(0, 23)}Z`), added: !m[2] });
        }
      });
    }
  }

  /** How often two or more nodes held the address together since `from`, and the longest time. */
  overlap(from = 0): { times: number; ms: number } {
    const held = new Set<string>();
    let since: number | undefined;
    let times = 0;
    let ms = 0;
    for (const e of [...this.events].sort((a, b) => a.at - b.at)) {
      if (e.added) held.add(e.node); else held.delete(e.node);
      if (held.size > 1 && since === undefined) { since = e.at; if (e.at >= from) times++; }
      if (held.size <= 1 && since !== undefined) { if (e.at >= from) ms = Math.max(ms, e.at - Math.max(since, from)); since = undefined; }
    }
    return { times, ms };
  }

  first(node: string | undefined, added: boolean, after: number): number | undefined {
    return this.events.find((e) => (node === undefined || e.node === node) && e.added === added && e.at >= after)?.at;
  }
}

/**
 * Every node's addresses read every ~20 ms (a 10 ms pause, plus the reading) by a bash loop inside its namespace (`ip -o addr`),
 * each sample stamped with the wall clock; `doubleHolders` lists the samples where two nodes held
 * the address at once.
 */
export class AddressSampler {
  private readonly samples = new Map<string, { at: number; holds: boolean }[]>();
  constructor(procs: ProcSet, nodes: readonly LabHost[], readonly vip: string, everyMs = 10) {
    // bash: the clock and the match without a fork; the pause is a read on a pipe nobody writes.
    const script = `exec 3<> <(:); while :; do out=$(ip -o -4 addr show dev "$1"); t=\${EPOCHREALTIME/./}; `
      + `if [[ $out == *" $2 "* ]]; then echo "\${t:0:13} 1"; else echo "\${t:0:13} 0"; fi; read -t ${everyMs / 1000} -u 3 || :; done`;
    for (const h of nodes) {
      const list: { at: number; holds: boolean }[] = [];
      this.samples.set(h.name, list);
      const p = procs.add(new Proc(`sample-${h.name}`, inNs(h.ns, ['bash', '-c', script, 'sampler', h.ifname, vip])));
      p.child.stdout!.on('data', (buf: Buffer) => {
        for (const line of buf.toString().split('\n')) {
          const m = /^(\d+) ([01])$/.exec(line);
          if (m) list.push({ at: Number(m[1]), holds: m[2] === '1' });
        }
      });
    }
  }

  /** Samples taken since `from`, and the longest gap between two samples of one node (ms). */
  coverage(from: number): { samples: number; maxGapMs: number } {
    let samples = 0;
    let maxGapMs = 0;
    for (const list of this.samples.values()) {
      const s = list.filter((x) => x.at >= from);
      samples += s.length;
      for (let i = 1; i < s.length; i++) maxGapMs = Math.max(maxGapMs, s[i]!.at - s[i - 1]!.at);
    }
    return { samples, maxGapMs };
  }

  /** The nodes whose latest sample shows the address. */
  holdersNow(): string[] {
    return [...this.samples].filter(([, list]) => list[list.length - 1]?.holds).map(([node]) => node);
  }

  /**
   * Instants since `from` at which a sample showed a node holding the address while the latest
   * sample of another node (taken at most `windowMs` before) showed it holding too.
   */
  doubleHolders(from: number, windowMs = 50): string[] {
    const out: string[] = [];
    for (const [node, list] of this.samples) {
      for (const x of list) {
        if (x.at < from || !x.holds) continue;
        for (const [other, olist] of this.samples) {
          if (other === node) continue;
          const last = latestAtOrBefore(olist, x.at);
          if (last?.holds && x.at - last.at <= windowMs) out.push(`${node} and ${other} at ${new Date(x.at).toISOString()}`);
        }
      }
    }
    return out;
  }
}

function latestAtOrBefore(list: readonly { at: number; holds: boolean }[], at: number): { at: number; holds: boolean } | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.at <= at) return list[i];
  return undefined;
}
