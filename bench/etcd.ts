/**
 * The etcd instance benchmark (`npm run bench:etcd -- --help`, issue 16, docs/etcd.md): a
 * carpool `protocol: etcd` instance against Debian's vip-manager in the same lab and run.
 *
 * Lab: a router namespace joins three etcd members (Debian's etcd-server, own subnets), three
 * nodes (own subnets: no common LAN) and a client. The VIP is a /32 outside every subnet; the
 * router reaches it through a host route that follows the node holding it: a monitor of each
 * node's addresses (`ip monitor address`) replaces the route as soon as a node adds the VIP
 * (what a cloud route table or a BGP announcement does). Both implementations are measured
 * through the same route follower, so its few milliseconds count on both sides.
 *
 * Scenarios (each implementation in turn, --runs times each):
 *   - hard failure: SIGKILL of the holder's processes and its link down; the client-visible
 *     outage (ICMP echo every 10 ms from the client, through the router);
 *   - planned switchover: `carpool demote web` on the holder; for vip-manager, the emulated
 *     Patroni (bench/etcd-patroni.ts) on the holder deletes the leader key and stays out;
 *   - scale (carpool only): --instances etcd instances on each of the 3 nodes through the one
 *     etcd cluster: time until each has exactly one holder, then etcd requests/s (the members'
 *     grpc_server_handled_total), leases and watchers, daemons' CPU and RSS over --window s.
 * Needs root. Benchmarks are not tests: nothing here asserts; figures are reported.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { destroyLan } from '../src/lab/netns.js';
import { inNs, run } from '../src/lib/exec.js';
import { benchArgs } from './args.js';
import type { ProbeRecords } from './lab.js';
import { Proc, ROOT, cpuTicks, killAll, now, rssKb, sleep } from './proc.js';
import { median, outageOf } from './stats.js';

const HELP = `usage: npm run bench:etcd -- [options]

carpool etcd instances against Debian's vip-manager (network namespaces, root): a 3-member
etcd cluster, 3 nodes in 3 subnets behind a router, a client probing the VIP every 10 ms.

  --ttl S           lease / key TTL in seconds, both sides (default 3)
  --loop MS         carpool renew and poll, vip-manager --interval, Patroni loop (default 1000)
  --runs N          hard failures and switchovers per implementation (default 5; 0: scale only)
  --instances K     etcd instances per node in the scale part (default 1000; 0 skips it)
  --window S        seconds of steady state measured at scale (default 30)
  --settle S        give up waiting for one holder per instance after S seconds (default 300)
  --no-write        do not write bench/results/etcd-*
  -h, --help        this text

Set BENCH_VERBOSE=1 to see every daemon's output.`;

export interface Args { ttl: number; loop: number; runs: number; instances: number; window: number; settle: number; write: boolean }

export function parse(argv: readonly string[]): Args | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ttl: { type: 'string' }, loop: { type: 'string' }, runs: { type: 'string' }, instances: { type: 'string' }, window: { type: 'string' }, settle: { type: 'string' },
      'no-write': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const num = (v: string | undefined, name: string, dflt: number, min = 1): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${v}"`);
    return n;
  };
  const a: Args = {
    ttl: num(values.ttl, 'ttl', 3, 2), loop: num(values.loop, 'loop', 1000, 100), runs: num(values.runs, 'runs', 5, 0),
    instances: num(values.instances, 'instances', 1000, 0), window: num(values.window, 'window', 30), settle: num(values.settle, 'settle', 300), write: !values['no-write'],
  };
  if (a.instances > 4000) throw new Error(`--instances must be ≤ 4000 (addresses 10.215.128.0/20), got ${a.instances}`);
  // carpool check's rule with request_timeout = ttl/5 and margin = ttl/10 (docs/etcd.md).
  if (a.loop + 0.4 * a.ttl * 1000 > 0.9 * a.ttl * 1000) throw new Error(`--loop ${a.loop} too long for --ttl ${a.ttl}: carpool needs loop + 2 × ttl/5 ≤ ttl − ttl/10`);
  return a;
}

const NET = '10.215';
const VIP = `${NET}.100.1`;
const PROBE_MS = 10;
const KEY = '/service/bench/leader';
const log = (m: string): void => { process.stderr.write(`${m}\n`); };

interface Host { name: string; ns: string; address: string; gw: string; port: string }
type Impl = 'carpool' | 'vip-manager';
export interface Failure { impl: Impl; run: number; outageMs: number; lost: number; sent: number; unresolved: boolean; from: string; to: string }
export interface Switchover { impl: Impl; run: number; available: boolean; note?: string; outageMs?: number; lost?: number; sent?: number; from?: string; to?: string; twoHoldersMs?: number }
export interface Scale {
  instances: number; nodes: number; settleMs: number | undefined; heldPerNode: Record<string, number>; leases: number | undefined;
  windowS: number; requestsPerS: number; handledPerS?: number; requestsByMethod: Record<string, number>; watchers: number | undefined; watchStreams: number | undefined;
  cpuPct: Record<string, number>; rssMb: Record<string, number>; keysUnderPrefix: number | undefined; error?: string;
}

class Lab {
  readonly router: string;
  readonly members: Host[];
  readonly nodes: Host[];
  readonly client: Host;
  readonly endpoints: string[];
  private readonly followers: Proc[] = [];
  readonly procs = new Map<string, Proc[]>();
  routeChanges = 0;

  constructor(readonly prefix: string, readonly dir: string, readonly a: Args) {
    this.router = `${prefix}-r`;
    const host = (name: string, k: number): Host => ({ name, ns: `${prefix}-${name}`, address: `${NET}.${k}.2`, gw: `${NET}.${k}.1`, port: `r${k}` });
    this.members = [1, 2, 3].map((k) => host(`e${k}`, k));
    this.nodes = [1, 2, 3].map((k) => host(`n${k}`, 10 + k));
    this.client = host('c', 20);
    this.endpoints = this.members.map((m) => `http://${m.address}:2379`);
  }

  path(name: string): string { return join(this.dir, name); }

  async create(): Promise<void> {
    await destroyLan(this.prefix);
    await run(['ip', 'netns', 'add', this.router]);
    await run(inNs(this.router, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    await run(inNs(this.router, ['ip', 'link', 'set', 'lo', 'up']));
    for (const h of [...this.members, ...this.nodes, this.client]) {
      await run(['ip', 'netns', 'add', h.ns]);
      await run(inNs(h.ns, ['ip', 'link', 'set', 'lo', 'up']));
      await run(['ip', 'link', 'add', h.port, 'netns', this.router, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
      await run(inNs(this.router, ['ip', 'addr', 'add', `${h.gw}/24`, 'dev', h.port]));
      await run(inNs(this.router, ['ip', 'link', 'set', h.port, 'up']));
      await run(inNs(h.ns, ['ip', 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']));
      await run(inNs(h.ns, ['ip', 'link', 'set', 'eth0', 'up']));
      await run(inNs(h.ns, ['ip', 'route', 'add', 'default', 'via', h.gw]));
    }
    // The route follower: the router's host route to the VIP points at the node that last added it.
    for (const h of this.nodes) {
      const p = new Proc(`follow-${h.name}`, inNs(h.ns, ['ip', '-o', 'monitor', 'address']));
      p.child.stdout!.on('data', (b: Buffer) => {
        for (const l of b.toString().split('\n')) {
          if (!l.startsWith('Deleted') && l.includes(` ${VIP}/32 `)) {
            this.routeChanges++;
            void run(inNs(this.router, ['ip', 'route', 'replace', `${VIP}/32`, 'via', h.address]), { allowFail: true });
          }
        }
      });
      this.followers.push(p);
    }
    const cluster = this.members.map((m) => `${m.name}=http://${m.address}:2380`).join(',');
    for (const m of this.members) {
      this.add(m.name, new Proc(m.name, inNs(m.ns, ['etcd', '--name', m.name, '--data-dir', this.path(m.name), '--enable-v2=true',
        '--listen-client-urls', `http://${m.address}:2379`, '--advertise-client-urls', `http://${m.address}:2379`,
        '--listen-peer-urls', `http://${m.address}:2380`, '--initial-advertise-peer-urls', `http://${m.address}:2380`,
        '--initial-cluster', cluster, '--initial-cluster-token', this.prefix, '--log-level', 'warn'])));
    }
    await this.etcdctl(['endpoint', 'health'], 30_000);
  }

  add(key: string, p: Proc): Proc {
    this.procs.set(key, [...(this.procs.get(key) ?? []), p]);
    return p;
  }

  async stopKey(key: string, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all((this.procs.get(key) ?? []).map((p) => p.stop(sig, 3000)));
    this.procs.delete(key);
  }

  async etcdctl(args: string[], retryMs = 0): Promise<string> {
    const t0 = now();
    for (;;) {
      const r = await run(inNs(this.client.ns, ['etcdctl', `--endpoints=${this.endpoints.join(',')}`, ...args]), { allowFail: true, env: { ...process.env, ETCDCTL_API: '3' }, timeoutMs: 60_000 });
      if (r.code === 0) return r.stdout;
      if (now() - t0 > retryMs) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr.trim()}`);
      await sleep(300);
    }
  }

  async addrs(h: Host): Promise<string> {
    return (await run(inNs(h.ns, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']), { allowFail: true })).stdout;
  }

  /** Nodes holding the VIP, leaving out `not` (a node cut off keeps its stale VIP until restored). */
  async holders(not?: string): Promise<string[]> {
    const out: string[] = [];
    for (const h of this.nodes) if (h.name !== not && (await this.addrs(h)).includes(` ${VIP}/32 `)) out.push(h.name);
    return out;
  }

  /** Wait until exactly one node holds the VIP (and the router routes to it), other than `not`. */
  async oneHolder(timeoutMs: number, not?: string): Promise<string> {
    const t0 = now();
    while (now() - t0 < timeoutMs) {
      const hs = await this.holders(not);
      if (hs.length === 1) return hs[0]!;
      await sleep(20);
    }
    throw new Error(`no single VIP holder${not ? ` other than ${not}` : ''} within ${timeoutMs} ms (holders: ${(await this.holders(not)).join(', ') || 'none'})`);
  }

  node(name: string): Host { return this.nodes.find((h) => h.name === name)!; }

  carpoolConfig(h: Host, instances: number, prefix: string): string {
    const inst = (name: string, addr: string): string[] => [
      `  - name: ${name}`, '    protocol: etcd', '    interface: eth0', `    addresses: [${addr}/32]`, `    node: ${h.name}`,
      `    etcd: { endpoints: [${this.endpoints.map((e) => `"${e}"`).join(', ')}], prefix: ${prefix}, ttl: ${this.a.ttl}s, renew: ${this.a.loop}ms, poll: ${this.a.loop}ms }`,
    ];
    const lines = [`control_socket: ${this.path(`${h.name}.sock`)}`, `state_dir: ${this.path(`${h.name}-state`)}`, 'instances:'];
    if (instances === 0) lines.push(...inst('web', VIP));
    for (let i = 0; i < instances; i++) lines.push(...inst(`s${i}`, scaleAddr(i)));
    const p = this.path(`${h.name}-${instances}.yaml`);
    writeFileSync(p, `${lines.join('\n')}\n`, { mode: 0o600 });
    return p;
  }

  startCarpool(h: Host, instances = 0, prefix = '/bench'): Proc {
    return this.add(h.name, new Proc(`carpool-${h.name}`, inNs(h.ns, [process.execPath, join(ROOT, 'bin/carpool'), 'run', '-c', this.carpoolConfig(h, instances, prefix)])));
  }

  startVipManager(h: Host): void {
    this.add(h.name, new Proc(`patroni-${h.name}`, inNs(h.ns, [process.execPath, '--import', 'tsx', 'bench/etcd-patroni.ts', this.endpoints.join(','), KEY, h.name, String(this.a.ttl), String(this.a.loop)])));
    this.add(h.name, new Proc(`vip-manager-${h.name}`, inNs(h.ns, ['vip-manager', '--dcs-type', 'etcd', '--dcs-endpoints', this.endpoints.join(','), '--trigger-key', KEY, '--trigger-value', h.name,
      '--ip', VIP, '--netmask', '32', '--interface', 'eth0', '--interval', String(this.a.loop)])));
  }

  start(impl: Impl, h: Host): void {
    if (impl === 'carpool') this.startCarpool(h);
    else this.startVipManager(h);
  }

  async probe(): Promise<{ stop: () => Promise<ProbeRecords> }> {
    const p = new Proc('probe', inNs(this.client.ns, [process.execPath, '--import', 'tsx', 'bench/probe-child.ts', VIP, 'eth0', String(PROBE_MS)]));
    await p.waitFor(/"ready"/, 15_000);
    return {
      stop: async () => {
        p.signal('SIGINT');
        await Promise.race([p.exited, sleep(5000)]);
        await p.stop('SIGKILL', 500);
        const line = p.lines.find((l) => l.text.includes('"records"'));
        if (!line) throw new Error(`probe printed no records:\n${p.lines.map((l) => l.text).join('\n')}`);
        return JSON.parse(line.text) as ProbeRecords;
      },
    };
  }

  async linkDown(h: Host): Promise<void> { await run(inNs(h.ns, ['ip', 'link', 'set', 'eth0', 'down'])); }

  async linkUp(h: Host): Promise<void> {
    await run(inNs(h.ns, ['ip', 'addr', 'del', `${VIP}/32`, 'dev', 'eth0']), { allowFail: true });
    await run(inNs(h.ns, ['ip', 'link', 'set', 'eth0', 'up']));
    await run(inNs(h.ns, ['ip', 'route', 'replace', 'default', 'via', h.gw]));
  }

  /**
   * Longest time (ms) in [since, until] that two nodes held the VIP, from the followers' address
   * events (arrival times), `initial` holding it at `since`.
   */
  overlapMs(initial: string, since: number, until: number): number {
    const ev = this.followers.flatMap((p, i) => p.lines
      .filter((l) => l.t >= since && l.t <= until && l.text.includes(` ${VIP}/32 `))
      .map((l) => ({ t: l.t, host: this.nodes[i]!.name, added: !l.text.startsWith('Deleted') })));
    return overlapOf(ev.sort((a, b) => a.t - b.t), [initial], until);
  }

  async stopFollowers(): Promise<void> { await Promise.all(this.followers.map((p) => p.stop('SIGTERM', 500))); }
}

/** Longest time two or more hosts held the address, from add/delete events in time order. */
export function overlapOf(ev: readonly { t: number; host: string; added: boolean }[], initial: readonly string[], until: number): number {
  const held = new Set(initial);
  let since: number | undefined;
  let max = 0;
  for (const e of ev) {
    if (e.added) held.add(e.host); else held.delete(e.host);
    if (held.size > 1 && since === undefined) since = e.t;
    if (held.size <= 1 && since !== undefined) { max = Math.max(max, e.t - since); since = undefined; }
  }
  return since === undefined ? max : Math.max(max, until - since);
}

/** Scale instance i's address: /32s in 10.215.128.0/20, never routed (only counted). */
export function scaleAddr(i: number): string {
  return `${NET}.${128 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

async function failures(lab: Lab, impl: Impl): Promise<Failure[]> {
  const out: Failure[] = [];
  for (let r = 1; r <= lab.a.runs; r++) {
    const from = await lab.oneHolder(30_000);
    await sleep(1500 + ((r - 0.5) / lab.a.runs) * lab.a.loop); // spread the fault over the loop
    const probe = await lab.probe();
    await sleep(1000);
    const h = lab.node(from);
    const t = now();
    for (const p of lab.procs.get(from) ?? []) p.signalGroup('SIGKILL');
    await lab.linkDown(h);
    let to = '';
    try {
      to = await lab.oneHolder(4 * lab.a.ttl * 1000 + 10_000, from);
      await sleep(1000);
    } finally {
      const rec = await probe.stop();
      const o = outageOf(rec, t, now());
      out.push({ impl, run: r, ...o, from, to });
      log(`${impl} hard failure ${r}: ${from} -> ${to || '?'}: outage ${o.outageMs.toFixed(0)} ms, ${o.lost}/${o.sent} probes lost${o.unresolved ? ' (unresolved)' : ''}`);
      await lab.stopKey(from, 'SIGKILL');
      await lab.linkUp(h);
      lab.start(impl, h);
      await sleep(2000);
    }
  }
  return out;
}

async function switchovers(lab: Lab, impl: Impl): Promise<Switchover[]> {
  const out: Switchover[] = [];
  for (let r = 1; r <= lab.a.runs; r++) {
    const from = await lab.oneHolder(30_000);
    await sleep(1500);
    const probe = await lab.probe();
    await sleep(1000);
    const t = now();
    if (impl === 'carpool') {
      const h = lab.node(from);
      const res = await run(inNs(h.ns, [process.execPath, join(ROOT, 'bin/carpool'), 'demote', 'web', '--socket', lab.path(`${h.name}.sock`)]), { allowFail: true });
      if (res.code !== 0) {
        await probe.stop();
        const note = `carpool demote web failed (exit ${res.code}): ${(res.stderr || res.stdout).trim().split('\n')[0]}`;
        log(`carpool switchover: not available: ${note}`);
        return [{ impl, run: r, available: false, note }];
      }
    } else {
      for (const p of lab.procs.get(from) ?? []) if (p.name.startsWith('patroni-')) p.signal('SIGUSR1');
    }
    let to = '';
    try {
      to = await lab.oneHolder(4 * lab.a.ttl * 1000 + 10_000, from);
      await sleep(1000);
    } finally {
      const rec = await probe.stop();
      const end = now();
      const o = outageOf(rec, t, end);
      const twoHoldersMs = lab.overlapMs(from, t, end);
      out.push({ impl, run: r, available: true, outageMs: o.outageMs, lost: o.lost, sent: o.sent, from, to, twoHoldersMs });
      log(`${impl} switchover ${r}: ${from} -> ${to || '?'}: ${o.lost}/${o.sent} probes lost, outage ${o.outageMs.toFixed(0)} ms, two holders for ${twoHoldersMs.toFixed(0)} ms`);
    }
    if (impl === 'carpool') {
      // A demoted carpool node may stay out (as CARP's demote does); lift it before the next run.
      const h = lab.node(from);
      await run(inNs(h.ns, [process.execPath, join(ROOT, 'bin/carpool'), 'demote', 'web', '--clear', '--socket', lab.path(`${h.name}.sock`)]), { allowFail: true });
    }
    await sleep(3 * lab.a.ttl * 1000); // the emulated Patroni's pause ends; every node contends again
  }
  return out;
}

/** Sum of each metric family's samples in etcd's Prometheus text, by name{labels}. */
export function metrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (!l || l.startsWith('#')) continue;
    const sp = l.lastIndexOf(' ');
    m.set(l.slice(0, sp), Number(l.slice(sp + 1)));
  }
  return m;
}

function sumOf(ms: Map<string, number>[], name: string, labelRe?: RegExp): number {
  let s = 0;
  for (const m of ms) for (const [k, v] of m) if ((k === name || k.startsWith(`${name}{`)) && (!labelRe || labelRe.test(k))) s += v;
  return s;
}

function byMethod(ms: Map<string, number>[], family = 'grpc_server_msg_received_total'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of ms) {
    for (const [k, v] of m) {
      if (!k.startsWith(`${family}{`)) continue;
      const meth = /grpc_method="([^"]+)"/.exec(k)?.[1] ?? '?';
      out[meth] = (out[meth] ?? 0) + v;
    }
  }
  return out;
}

async function scrape(lab: Lab): Promise<Map<string, number>[]> {
  return Promise.all(lab.members.map(async (m) => metrics((await run(inNs(lab.client.ns, ['curl', '-s', '--max-time', '10', `http://${m.address}:2379/metrics`]), { allowFail: true })).stdout)));
}

async function scale(lab: Lab): Promise<Scale> {
  const k = lab.a.instances;
  const res: Scale = {
    instances: k, nodes: 3, settleMs: undefined, heldPerNode: {}, leases: undefined, windowS: lab.a.window, requestsPerS: NaN, requestsByMethod: {},
    watchers: undefined, watchStreams: undefined, cpuPct: {}, rssMb: {}, keysUnderPrefix: undefined,
  };
  const t0 = now();
  const daemons = lab.nodes.map((h) => lab.startCarpool(h, k, '/scale'));
  const held = async (): Promise<string[][]> => Promise.all(lab.nodes.map(async (h) => {
    const txt = await lab.addrs(h);
    return [...txt.matchAll(/inet (10\.215\.(?:1[2-9]\d|2[0-5]\d)\.\d+)\/32/g)].map((x) => x[1]!);
  }));
  let last: string[][] = [];
  while (now() - t0 < lab.a.settle * 1000) {
    last = await held();
    const all = last.flat();
    if (all.length === k && new Set(all).size === k) { res.settleMs = now() - t0; break; }
    if (daemons.some((d) => !d.running)) break;
    await sleep(250);
  }
  lab.nodes.forEach((h, i) => { res.heldPerNode[h.name] = last[i]?.length ?? 0; });
  if (res.settleMs === undefined) {
    res.error = `not settled within ${lab.a.settle} s: ${last.flat().length} addresses held, ${new Set(last.flat()).size} distinct; daemons running: ${daemons.map((d) => d.running).join(', ')}; last output: ${daemons.map((d) => d.lines.slice(-2).map((l) => l.text).join(' / ')).join(' | ')}`;
    log(`scale: ${res.error}`);
  } else log(`scale: ${k} instances × 3 nodes settled (one holder each) ${(res.settleMs / 1000).toFixed(1)} s after start`);
  await sleep(3000);
  const m0 = await scrape(lab);
  const c0 = daemons.map((d) => cpuTicks(d.pid) ?? NaN);
  const w0 = now();
  await sleep(lab.a.window * 1000);
  const m1 = await scrape(lab);
  const c1 = daemons.map((d) => cpuTicks(d.pid) ?? NaN);
  const secs = (now() - w0) / 1000;
  res.requestsPerS = (sumOf(m1, 'grpc_server_msg_received_total') - sumOf(m0, 'grpc_server_msg_received_total')) / secs;
  res.handledPerS = (sumOf(m1, 'grpc_server_handled_total') - sumOf(m0, 'grpc_server_handled_total')) / secs;
  const b0 = byMethod(m0);
  for (const [meth, v] of Object.entries(byMethod(m1))) { const d = (v - (b0[meth] ?? 0)) / secs; if (d > 0.05) res.requestsByMethod[meth] = Math.round(d * 10) / 10; }
  res.watchers = sumOf(m1, 'etcd_debugging_mvcc_watcher_total');
  res.watchStreams = sumOf(m1, 'etcd_debugging_mvcc_watch_stream_total');
  lab.nodes.forEach((h, i) => {
    res.cpuPct[h.name] = Math.round(((c1[i]! - c0[i]!) / 100 / secs) * 1000) / 10;
    res.rssMb[h.name] = Math.round((rssKb(daemons[i]!.pid) ?? NaN) / 102.4) / 10;
  });
  try { res.leases = (await lab.etcdctl(['lease', 'list'])).split('\n').filter((l) => /^[0-9a-f]+$/.test(l.trim())).length; } catch { /* reported as unknown */ }
  try { res.keysUnderPrefix = (await lab.etcdctl(['get', '--prefix', '/scale/', '--keys-only'])).split('\n').filter((l) => l.startsWith('/scale/')).length; } catch { /* unknown */ }
  log(`scale: ${res.requestsPerS.toFixed(0)} etcd requests/s (${JSON.stringify(res.requestsByMethod)}), ${res.leases} leases, ${res.watchers} watchers in ${res.watchStreams} streams; CPU ${JSON.stringify(res.cpuPct)} %, RSS ${JSON.stringify(res.rssMb)} MB`);
  for (const h of lab.nodes) await lab.stopKey(h.name, 'SIGTERM');
  return res;
}

const f0 = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(0));
const mmm = (xs: number[]): string => (xs.length ? `${f0(Math.min(...xs))} / ${f0(median(xs))} / ${f0(Math.max(...xs))}` : '–');
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !b ? '–' : `${(a / b).toFixed(2)}×`);

export interface Result { started: string; args: Args; failures: Failure[]; switchovers: Switchover[]; scale?: Scale; tookS: number }

export function markdown(res: Result): string {
  const a = res.args;
  const sh = (cmd: string): string => { try { return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim(); } catch { return '?'; } };
  const fo = (impl: Impl): number[] => res.failures.filter((x) => x.impl === impl).map((x) => x.outageMs);
  const so = (impl: Impl): Switchover[] => res.switchovers.filter((x) => x.impl === impl);
  const bound = a.ttl * 1000 + a.loop;
  const cm = median(fo('carpool'));
  const vm = median(fo('vip-manager'));
  const cs = so('carpool');
  const vs = so('vip-manager');
  const lostList = (xs: Switchover[]): string => (xs.length && xs[0]!.available ? xs.map((x) => x.lost).join(', ') : `not available (${xs[0]?.note ?? 'not run'})`);
  const maxOf = (xs: Switchover[]): number | undefined => { const v = xs.filter((x) => x.twoHoldersMs !== undefined).map((x) => x.twoHoldersMs!); return v.length ? Math.max(...v) : undefined; };
  const outs = (xs: Switchover[]): number[] => xs.filter((x) => x.available).map((x) => x.outageMs!);
  const lines = [
    `# carpool etcd instance vs vip-manager — ${res.started}`, '',
    `Machine: ${sh('nproc')} CPUs (${cpus()[0]?.model ?? '?'}), kernel ${sh('uname -r')}, Node ${process.version}, ${sh('etcd --version | head -1')}, vip-manager ${sh('vip-manager --version 2>&1 | head -1')}, carpool ${sh(`git -C ${ROOT} rev-parse --short HEAD`)}; took ${(res.tookS / 60).toFixed(1)} min.`,
    'The machine is shared with other jobs (2 cores): timings carry that noise.',
    `Command: \`npm run bench:etcd -- --ttl ${a.ttl} --loop ${a.loop} --runs ${a.runs} --instances ${a.instances} --window ${a.window} --settle ${a.settle}\``, '',
    `Lab: 3 etcd members (etcd-server, \`--enable-v2\` for vip-manager), 3 nodes in 3 subnets and a client, all behind one router namespace. VIP ${VIP}/32; the router's host route to it follows the node that adds it (address monitor → \`ip route replace\`), the same for both. Client: ICMP echo to the VIP every ${PROBE_MS} ms through the router.`,
    `Equal settings: carpool \`ttl: ${a.ttl}s, renew: ${a.loop}ms, poll: ${a.loop}ms\`; vip-manager \`--interval ${a.loop}\`, its trigger key written by bench/etcd-patroni.ts (Patroni's etcd v2 loop: create-if-absent / compare-and-swap refresh of the key with ttl ${a.ttl} s every ${a.loop} ms, non-holders wait on a v2 watch for ≤ ${a.loop} ms).`, '',
    '## Hard failure of the holder (SIGKILL + link down)', '',
    `Client-visible outage: last answered probe before the fault → first answered after. Goal: carpool ≤ vip-manager and ≤ ttl + 1 loop = ${bound} ms.`, '',
    '| implementation | runs | outage min / median / max (ms) | probes lost (each run) | ratio of medians to vip-manager |', '|---|---:|---:|---|---:|',
    ...(['carpool', 'vip-manager'] as Impl[]).map((impl) => `| ${impl} | ${fo(impl).length} | ${mmm(fo(impl))} | ${res.failures.filter((x) => x.impl === impl).map((x) => `${x.lost}${x.unresolved ? '+' : ''}`).join(', ')} | ${ratio(median(fo(impl)), vm)} |`),
    '', `carpool median ${f0(cm)} ms ${cm !== undefined && vm !== undefined && cm <= vm ? '≤' : '>'} vip-manager ${f0(vm)} ms; ${cm !== undefined && cm <= bound ? '≤' : '>'} ttl + 1 loop (${bound} ms).`,
    '', '## Planned switchover', '',
    'carpool: `carpool demote web` on the holder. vip-manager (closest equivalent): the emulated Patroni on the holder deletes the leader key (as a Patroni switchover releases it) and stays out; another node takes the key at its next loop and its vip-manager adds the VIP at its next scan. Goal: 0 lost probes for carpool.', '',
    'Two holders: longest time two nodes had the VIP at once (address events); the route follower moves the traffic when the new holder adds it, so a make-before-break overlap loses no probe here, but on a shared LAN it is a time with two claimants.', '',
    '| implementation | probes lost (each run) | outage min / median / max (ms) | two holders max (ms) |', '|---|---|---:|---:|',
    `| carpool | ${lostList(cs)} | ${mmm(outs(cs))} | ${f0(maxOf(cs))} |`,
    `| vip-manager | ${lostList(vs)} | ${mmm(outs(vs))} | ${f0(maxOf(vs))} |`,
  ];
  const s = res.scale;
  if (s) {
    const cpu = Object.values(s.cpuPct);
    const rss = Object.values(s.rssMb);
    lines.push('', `## Scale: ${s.instances} etcd instances on each of 3 nodes, one etcd cluster`, '',
      s.error ? `**Did not settle**: ${s.error}` : `All ${s.instances} instances had exactly one holder (addresses counted on every node: ${Object.entries(s.heldPerNode).map(([k, v]) => `${k} ${v}`).join(', ')}) ${((s.settleMs ?? NaN) / 1000).toFixed(1)} s after the daemons started.`, '',
      `Steady state over ${s.windowS} s (etcd's /metrics on all 3 members before and after; daemon CPU from /proc/PID/stat):`, '',
      '| figure | value |', '|---|---:|',
      `| etcd requests/s (grpc_server_msg_received_total: unary calls and stream messages such as keep-alives, all members) | ${s.requestsPerS.toFixed(0)} |`,
      `| RPCs completed/s (grpc_server_handled_total; a stream counts when it ends) | ${s.handledPerS?.toFixed(0) ?? '–'} |`,
      `| … by method | ${Object.entries(s.requestsByMethod).map(([k, v]) => `${k} ${v}`).join(', ')} |`,
      `| leases granted (etcdctl lease list) | ${s.leases ?? '–'} |`,
      `| watchers / watch streams (etcd_debugging_mvcc_*) | ${s.watchers ?? '–'} / ${s.watchStreams ?? '–'} |`,
      `| keys under /scale/ | ${s.keysUnderPrefix ?? '–'} |`,
      `| daemon CPU per node (% of one core) | ${Object.entries(s.cpuPct).map(([k, v]) => `${k} ${v}`).join(', ')} (mean ${(cpu.reduce((x, y) => x + y, 0) / cpu.length).toFixed(1)}) |`,
      `| daemon RSS per node (MB) | ${Object.entries(s.rssMb).map(([k, v]) => `${k} ${v}`).join(', ')} (max ${Math.max(...rss)}) |`);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const args = benchArgs('bench:etcd', HELP, parse);
  if (typeof args === 'number') return args;
  for (const bin of ['etcd', 'etcdctl', 'vip-manager', 'curl']) {
    try { execFileSync('sh', ['-c', `command -v ${bin}`]); } catch { process.stderr.write(`bench:etcd needs ${bin} (Debian: etcd-server, etcd-client, vip-manager, curl)\n`); return 1; }
  }
  const prefix = `etb${process.pid % 10000}`;
  const dir = execFileSync('mktemp', ['-d', '/tmp/carpool-bench-etcd-XXXXXX'], { encoding: 'utf8' }).trim();
  chmodSync(dir, 0o700);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping daemons and removing the lab...\n');
    void killAll().then(() => destroyLan(prefix)).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = new Date();
  const res: Result = { started: started.toISOString(), args, failures: [], switchovers: [], tookS: 0 };
  try {
    const lab = new Lab(prefix, dir, args);
    await lab.create();
    log(`lab ${prefix} up: etcd ${lab.endpoints.join(', ')}`);
    for (const impl of (args.runs > 0 ? ['carpool', 'vip-manager'] : []) as Impl[]) {
      for (const h of lab.nodes) lab.start(impl, h);
      await lab.oneHolder(30_000);
      res.failures.push(...await failures(lab, impl));
      res.switchovers.push(...await switchovers(lab, impl));
      for (const h of lab.nodes) await lab.stopKey(h.name, 'SIGTERM');
      for (const h of lab.nodes) await run(inNs(h.ns, ['ip', 'addr', 'del', `${VIP}/32`, 'dev', 'eth0']), { allowFail: true });
    }
    if (args.instances > 0) res.scale = await scale(lab);
    await lab.stopFollowers();
  } finally {
    await killAll();
    await destroyLan(prefix);
    execFileSync('rm', ['-rf', dir]);
  }
  res.tookS = (Date.now() - started.getTime()) / 1000;
  const md = markdown(res);
  process.stdout.write(md);
  if (args.write) {
    const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
    const base = join(ROOT, 'bench/results', `etcd-${stamp}`);
    writeFileSync(`${base}.md`, md);
    writeFileSync(`${base}.json`, `${JSON.stringify(res, null, 2)}\n`);
    log(`wrote ${base}.md and .json`);
  }
  return 0;
}

if (process.argv[1]?.endsWith('etcd.ts')) {
  main().then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    void killAll().finally(() => process.exit(1));
  });
}
