/**
 * The load-balancer benchmark (`npm run bench:balancer -- --help`), by hand, never in CI. One
 * namespace lab: a client, a director, two nginx backends behind it (one worker each); the
 * same `wrk` run against each data plane in turn, interleaved over rounds: direct to one
 * backend (routed by the director, no NAT), a hand-written nftables DNAT ruleset (the limit of
 * this plane), carpool NAT, carpool DR (when this build runs DR), Debian's nftlb (dnat, rr) and
 * HAProxy in TCP mode (one thread). Then carpool alone: the time from a checker verdict (its
 * log line) to the ruleset in force (the kernel's NFT_MSG_NEWGEN in the director's namespace) over many
 * flips of a backend port, and at scale (N virtual servers × 10 real servers): start-up
 * time, one-server-change update time at 10/100/1000 services, daemon RSS. Prints a Markdown
 * report, writes bench/results/balancer-<timestamp>.{md,json}. Benchmarks are not tests:
 * nothing here asserts; the issue's targets are reported as met or missed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { createLan, destroyLan, type Lan } from '../src/lab/netns.js';
import { inNs, run } from '../src/lib/exec.js';
import { mapBalancers } from '../src/balancer/from-config.js';
import { parseKeepalivedConf } from '../src/config/keepalived/parse.js';
import { parseConsoleTimestamp } from '../src/daemon/logger.js';
import { Proc, ROOT, killAll, now, rssKb, sleep } from './proc.js';
import { median, percentile } from './stats.js';
import { benchArgs } from './args.js';

const HELP = `usage: npm run bench:balancer -- [options]

Throughput and latency of carpool's nftables load balancer against a hand-written nftables
ruleset, nftlb and HAProxy (TCP mode), same backends (nginx), same client (wrk), in network
namespaces (root); then carpool's verdict-to-ruleset time and its behaviour at scale.

  --duration S      seconds per wrk run (default 10)
  --connections N   wrk connections (default 64, 2 threads)
  --rounds N        rounds over all data planes, interleaved (default 2; the median is reported)
  --flips N         checker verdicts timed (default 100: 50 down, 50 up; 0 skips)
  --scale a[,b]     numbers of virtual servers for the scale part (default 10,100,1000; none skips)
  --planes a[,b]    data planes (default all; none skips): direct, nft, carpool-nat, carpool-dr, nftlb, haproxy
  --pairs N         paired NAT rounds (default 12; 0 skips): carpool NAT's ruleset against the
                    hand-written rule, swapped under the running daemon, alternating order
  --pair-duration S seconds per wrk run in the paired rounds (default 4)
  --no-perf         paired rounds without \`perf record -a\` (CPU time per request, nftables' share)
  --pair-copies N   also run carpool's table with each per-packet filter chain copied to N
                    chains (default 1: no such variant), to measure one chain's cost apart
  --quick           --duration 3 --rounds 1 --flips 20 --scale 10,100
  --no-write        do not write bench/results/*
  --render FILE     print the report of a results .json again (no lab, no root)
  -h, --help        this text

Set BENCH_VERBOSE=1 to see every process's output.`;

interface Args {
  readonly duration: number;
  readonly connections: number;
  readonly rounds: number;
  readonly flips: number;
  readonly scale: number[];
  readonly planes: PlaneName[];
  readonly pairs: number;
  readonly pairDuration: number;
  readonly pairCopies: number;
  readonly perf: boolean;
  readonly write: boolean;
}

function parse(argv: readonly string[]): Args | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' }, connections: { type: 'string' }, rounds: { type: 'string' }, flips: { type: 'string' },
      scale: { type: 'string' }, planes: { type: 'string' }, pairs: { type: 'string' }, 'pair-duration': { type: 'string' }, 'pair-copies': { type: 'string' }, 'no-perf': { type: 'boolean' }, quick: { type: 'boolean' }, 'no-write': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
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
  const q = !!values.quick;
  return {
    duration: num(values.duration, 'duration', q ? 3 : 10),
    connections: num(values.connections, 'connections', 64),
    rounds: num(values.rounds, 'rounds', q ? 1 : 2),
    flips: num(values.flips, 'flips', q ? 20 : 100, 0),
    scale: values.scale === 'none' ? [] : values.scale ? values.scale.split(',').map((s) => num(s.trim(), 'scale', 10)) : q ? [10, 100] : [10, 100, 1000],
    planes: values.planes === 'none' ? [] : values.planes ? values.planes.split(',').map((p) => {
      if (!(PLANES as readonly string[]).includes(p.trim())) throw new Error(`unknown data plane "${p}" (expected one of: ${PLANES.join(', ')})`);
      return p.trim() as PlaneName;
    }) : [...PLANES],
    pairs: num(values.pairs, 'pairs', q ? 4 : 12, 0),
    pairDuration: num(values['pair-duration'], 'pair-duration', q ? 2 : 4),
    pairCopies: num(values['pair-copies'], 'pair-copies', 1),
    perf: !values['no-perf'],
    write: !values['no-write'],
  };
}

// ---------------------------------------------------------------------------------------------
// The lab: h1 director (eth0 public, eth1 private), h2/h3 backends (private only for NAT;
// public too for DR, where they answer the client directly), c the client.

const PUB = '10.126.0';
const PRIV = '10.126.1';
const VIP = `${PUB}.100`;
const BACKENDS = [`${PRIV}.2`, `${PRIV}.3`] as const;
const CARPOOL = join(ROOT, 'bin/carpool');

interface Lab {
  readonly lan: Lan;
  readonly dir: string;
  readonly ns: { readonly director: string; readonly client: string; readonly backends: readonly string[] };
}

async function sh(ns: string, argv: string[], allowFail = false): Promise<string> {
  return (await run(inNs(ns, argv), { allowFail })).stdout;
}

/** The backends' nginx masters: stopped by SIGTERM first, so each takes its worker along. */
const nginx: Proc[] = [];

async function setup(prefix: string): Promise<Lab> {
  const lan = await createLan({ prefix, hosts: 3, subnet: PUB, lans: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'carpool-bench-lb-'));
  const ns = { director: lan.hosts[0]!.ns, client: lan.client!.ns, backends: [lan.hosts[1]!.ns, lan.hosts[2]!.ns] };
  await sh(ns.director, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  await sh(ns.client, ['ip', 'route', 'add', `${PRIV}.0/24`, 'via', `${PUB}.1`]);
  for (const [i, b] of ns.backends.entries()) {
    await sh(b, ['ip', 'link', 'set', 'eth0', 'down']);
    await sh(b, ['ip', 'route', 'add', 'default', 'via', `${PRIV}.1`]);
    const d = join(dir, `nginx${i}`);
    mkdirSync(d, { recursive: true });
    for (const t of ['body', 'proxy', 'fcgi', 'uwsgi', 'scgi']) mkdirSync(join(d, t), { recursive: true });
    const conf = join(d, 'nginx.conf');
    writeFileSync(conf, `worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fcgi; uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
  server { listen 80; location / { return 200 "b${i}\\n"; } }
}
`);
    nginx.push(new Proc(`nginx${i}`, inNs(b, ['nginx', '-c', conf, '-g', 'daemon off;'])));
  }
  for (const a of BACKENDS) await until(async () => (await curl(ns.client, `http://${a}/`)) !== undefined, 5000, `nginx on ${a}`);
  return { lan, dir, ns };
}

async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function curl(ns: string, url: string): Promise<string | undefined> {
  const r = await run(inNs(ns, ['curl', '-s', '--max-time', '1', url]), { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

// ---------------------------------------------------------------------------------------------
// Data planes: each brings itself up, and returns how to take itself down.

type PlaneName = 'direct' | 'nft' | 'carpool-nat' | 'carpool-dr' | 'nftlb' | 'haproxy';
const PLANES: readonly PlaneName[] = ['direct', 'nft', 'carpool-nat', 'carpool-dr', 'nftlb', 'haproxy'];

interface Up { readonly url: string; down(): Promise<void> }

const addVip = (lab: Lab) => sh(lab.ns.director, ['ip', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
const delVip = (lab: Lab) => sh(lab.ns.director, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);

function carpoolConf(kind: 'NAT' | 'DR', checker: string): string {
  return `global_defs {
  router_id bench
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
virtual_server ${VIP} 80 {
  delay_loop 5
  lb_algo rr
  lb_kind ${kind}
  protocol TCP
${BACKENDS.map((a) => `  real_server ${a} 80 {\n    weight 1\n${checker}  }`).join('\n')}
}
`;
}

/** Does this build run lb_kind DR? (Another part of issue 12; the bench adapts.) */
function drAvailable(): boolean {
  try {
    const { config } = parseKeepalivedConf(carpoolConf('DR', ''), { file: 'dr.conf' });
    mapBalancers(config.balancers!, config.instances);
    return true;
  } catch {
    return false;
  }
}

function startCarpool(lab: Lab, name: string, conf: string): Proc {
  const runDir = join(lab.dir, `run-${name}`);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const file = join(lab.dir, `${name}.conf`);
  writeFileSync(file, conf, { mode: 0o600 });
  return new Proc(name, inNs(lab.ns.director, [process.execPath, CARPOOL, 'run', '-c', file]), { CARPOOL_RUN_DIR: runDir });
}

async function stopProc(p: Proc): Promise<void> {
  p.signal('SIGTERM');
  const t = setTimeout(() => p.signal('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(t);
}

const PLANE_UP: Record<PlaneName, (lab: Lab) => Promise<Up>> = {
  direct: () => Promise.resolve({ url: `http://${BACKENDS[0]}/`, down: () => Promise.resolve() }),
  nft: async (lab) => {
    await addVip(lab);
    const rules = `table ip benchlb {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr ${VIP} tcp dport 80 dnat to numgen inc mod 2 map { 0 : ${BACKENDS[0]}, 1 : ${BACKENDS[1]} }
  }
}
`;
    writeFileSync(join(lab.dir, 'hand.nft'), rules);
    await sh(lab.ns.director, ['nft', '-f', join(lab.dir, 'hand.nft')]);
    return { url: `http://${VIP}/`, down: async () => { await sh(lab.ns.director, ['nft', 'delete', 'table', 'ip', 'benchlb']); await delVip(lab); } };
  },
  'carpool-nat': async (lab) => {
    const p = startCarpool(lab, 'carpool-nat', carpoolConf('NAT', '    TCP_CHECK {\n      connect_timeout 1\n    }\n'));
    await p.waitFor(/Load balancer: .* real server\(s\)/, 15_000);
    await until(async () => (await sh(lab.ns.director, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).includes(VIP), 10_000, 'carpool VIP');
    return { url: `http://${VIP}/`, down: () => stopProc(p) };
  },
  'carpool-dr': async (lab) => {
    // DR: the backends hold the VIP on lo (no ARP for it; nginx listens on every address) and answer
    // the client directly on the public LAN.
    for (const b of lab.ns.backends) {
      // The client's packets arrive on eth1, their replies leave by eth0: no reverse-path filter.
      await sh(b, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.eth1.rp_filter=0']);
      await sh(b, ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
      await sh(b, ['ip', 'link', 'set', 'eth0', 'up']);
    }
    const p = startCarpool(lab, 'carpool-dr', carpoolConf('DR', '    TCP_CHECK {\n      connect_timeout 1\n    }\n'));
    await p.waitFor(/Load balancer: .* real server\(s\)/, 15_000);
    await until(async () => (await sh(lab.ns.director, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).includes(VIP), 10_000, 'carpool VIP');
    return {
      url: `http://${VIP}/`,
      down: async () => {
        await stopProc(p);
        for (const b of lab.ns.backends) {
          await sh(b, ['ip', 'addr', 'del', `${VIP}/32`, 'dev', 'lo'], true);
          await sh(b, ['ip', 'link', 'set', 'eth0', 'down']);
          await sh(b, ['ip', 'route', 'replace', 'default', 'via', `${PRIV}.1`]);
        }
      },
    };
  },
  nftlb: async (lab) => {
    await addVip(lab);
    const farm = {
      farms: [{
        name: 'bench', family: 'ipv4', 'virtual-addr': VIP, 'virtual-ports': '80', mode: 'dnat', protocol: 'tcp', scheduler: 'rr', state: 'up',
        iface: 'eth0', oface: 'eth1',
        backends: BACKENDS.map((a, i) => ({ name: `b${i}`, 'ip-addr': a, state: 'up' })),
      }],
    };
    const file = join(lab.dir, 'nftlb.json');
    writeFileSync(file, JSON.stringify(farm, null, 1));
    // -e: load the farm and exit (no API server, so no key or port of the host is used).
    const out = await run(inNs(lab.ns.director, ['nftlb', '-e', '-c', file, '-L', 'stdout']), { allowFail: true });
    if (out.code !== 0) throw new Error(`nftlb failed (${out.code}): ${out.stderr || out.stdout}`);
    return {
      url: `http://${VIP}/`,
      down: async () => {
        for (const t of (await sh(lab.ns.director, ['nft', 'list', 'tables'])).split('\n').filter(Boolean)) {
          const [, fam, name] = t.split(' ');
          if (fam && name) await sh(lab.ns.director, ['nft', 'delete', 'table', fam, name], true);
        }
        await delVip(lab);
      },
    };
  },
  haproxy: async (lab) => {
    await addVip(lab);
    const conf = join(lab.dir, 'haproxy.cfg');
    writeFileSync(conf, `global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend fe
  bind ${VIP}:80
  default_backend be
backend be
  balance roundrobin
${BACKENDS.map((a, i) => `  server b${i} ${a}:80`).join('\n')}
`);
    const p = new Proc('haproxy', inNs(lab.ns.director, ['haproxy', '-db', '-f', conf]));
    await until(async () => (await curl(lab.ns.client, `http://${VIP}/`)) !== undefined, 5000, 'haproxy');
    return { url: `http://${VIP}/`, down: async () => { await stopProc(p); await delVip(lab); } };
  },
};

interface WrkResult {
  readonly rps: number; readonly p50Ms: number; readonly p99Ms: number; readonly errors: number;
  /** --perf (paired rounds): CPU time of the lab's work per request, and the shares in nftables and in conntrack/NAT. */
  readonly cpuUsPerReq?: number; readonly nftShare?: number; readonly ctShare?: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

async function wrk(lab: Lab, url: string, a: Args, seconds = a.duration): Promise<WrkResult> {
  const out = await sh(lab.ns.client, ['wrk', '-t2', `-c${a.connections}`, `-d${seconds}s`, '--latency', url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1] ?? '';
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1] ?? '';
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = (sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0) + non2xx;
  return { rps, p50Ms: toMs(p50), p99Ms: toMs(p99), errors };
}

// ---------------------------------------------------------------------------------------------
// Paired NAT rounds: carpool's NAT ruleset against the hand-written rule in the same minute.
// The load of a shared machine drifts by tens of percent between 10-second runs, more than the
// difference between these planes; so the daemon runs once, its table is captured, and the
// director's ruleset is swapped (one `nft -f` transaction each) between the hand-written table
// and carpool's under the running daemon, in short runs, the order alternating every round.
// The ratio is taken within each round; the report gives their median and spread.

/** The hand-written DNAT rule: one nat chain, one rule, no per-packet work besides conntrack. */
const HAND_TABLE = `table ip benchlb {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr ${VIP} tcp dport 80 dnat to numgen inc mod 2 map { 0 : ${BACKENDS[0]}, 1 : ${BACKENDS[1]} }
  }
}
`;

interface PairVariant { readonly name: string; readonly table: string }

interface PairReport {
  readonly variants: string[];
  /** runs[variant][round] */
  readonly runs: Record<string, WrkResult[]>;
  /** The per-packet filter chains of carpool's table as captured (for the record). */
  readonly carpoolTable: string;
}

/** Chains of `table` hooked as filter (they run for every packet of their hook). */
function filterBaseChains(table: string): string[] {
  return [...table.matchAll(/chain (\S+) \{\s*\n\s*type filter hook/g)].map((m) => m[1]!);
}

/** `table` without the named chain (a chain's block ends at the first line closing it at its indentation). */
function withoutChain(table: string, chain: string): string {
  return table.replace(new RegExp(`\\n(\\t| +)chain ${chain} \\{[\\s\\S]*?\\n\\1\\}`), '');
}

/** `table` with `n` more copies of the named chain (named `<chain>_copy<i>`), each hooked like it. */
function withChainCopies(table: string, chain: string, n: number): string {
  const m = new RegExp(`\\n(\\t| +)chain ${chain} \\{[\\s\\S]*?\\n\\1\\}`).exec(table);
  if (!m) return table;
  const copies = Array.from({ length: n }, (_, i) => m[0].replace(`chain ${chain} {`, `chain ${chain}_copy${i + 1} {`)).join('');
  return table.slice(0, m.index + m[0].length) + copies + table.slice(m.index + m[0].length);
}

const PERF_HZ = 2000;

/**
 * `perf record -a` (cpu-clock, PERF_HZ) over `seconds`, then the samples of the lab's work:
 * wrk, nginx, softirq threads and softirq on idle CPUs (the swapper task outside its idle
 * loop); `nft` = samples in nftables' evaluation, `ct` = in conntrack and NAT. CPU time per
 * request is far steadier than requests/s on a shared machine: it counts work, not turns.
 */
async function perfRecord(file: string, seconds: number): Promise<{ samples: number; nft: number; ct: number }> {
  await run(['perf', 'record', '-q', '-a', '-e', 'cpu-clock', '-F', String(PERF_HZ), '-o', file, '--', 'sleep', String(seconds)], { allowFail: true });
  const out = (await run(['perf', 'script', '-i', file, '-F', 'comm,tid,ip,sym'], { allowFail: true })).stdout;
  let samples = 0;
  let nft = 0;
  let ct = 0;
  for (const line of out.split('\n')) {
    const m = /^\s*(.+?)\s+\d+\s+[0-9a-f]+\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, comm, sym] = m as unknown as [string, string, string];
    const ours = comm === 'wrk' || comm === 'nginx' || comm.startsWith('ksoftirqd') || (comm === 'swapper' && !/idle|halt|mwait|poll|cpu_startup/.test(sym));
    if (!ours) continue;
    samples++;
    if (/^(__)?nft_|^nf_tables_|^jhash|^nft_do_chain/.test(sym)) nft++;
    else if (/^(__)?nf_(conntrack|ct|nat)_|^(__)?nf_ct|^tcp_packet|^nf_nat/.test(sym)) ct++;
  }
  return { samples, nft, ct };
}

async function pairedNat(lab: Lab, a: Args, log: (m: string) => void): Promise<PairReport> {
  const p = startCarpool(lab, 'carpool-pair', carpoolConf('NAT', '    TCP_CHECK {\n      connect_timeout 1\n    }\n'));
  try {
    await p.waitFor(/Load balancer: .* real server\(s\)/, 15_000);
    await until(async () => (await sh(lab.ns.director, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).includes(VIP), 10_000, 'carpool VIP');
    await sleep(500);
    const carpoolTable = await sh(lab.ns.director, ['nft', 'list', 'table', 'ip', 'carpool']);
    const variants: PairVariant[] = [{ name: 'nft', table: HAND_TABLE }, { name: 'carpool-nat', table: carpoolTable }];
    // Each per-packet filter chain of carpool's table left out by hand, and copied ten times
    // (the cost of one copy, ×10, stands out of the noise better), to measure it apart.
    for (const c of filterBaseChains(carpoolTable)) {
      variants.push({ name: `carpool-nat without ${c}`, table: withoutChain(carpoolTable, c) });
      if (a.pairCopies > 1) variants.push({ name: `carpool-nat with ${c} ×${a.pairCopies}`, table: withChainCopies(carpoolTable, c, a.pairCopies - 1) });
    }
    const runs: Record<string, WrkResult[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
    const clear = 'add table ip carpool\ndelete table ip carpool\nadd table ip benchlb\ndelete table ip benchlb\n';
    for (let round = 0; round < a.pairs; round++) {
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const file = join(lab.dir, 'pair.nft');
        writeFileSync(file, clear + v.table);
        await sh(lab.ns.director, ['nft', '-f', file]);
        await sh(lab.ns.director, ['conntrack', '-F'], true);
        if ((await curl(lab.ns.client, `http://${VIP}/`)) === undefined) throw new Error(`paired NAT: no answer through ${v.name}`);
        const prof = a.perf ? perfRecord(join(lab.dir, 'perf.data'), a.pairDuration) : undefined;
        const res = await wrk(lab, `http://${VIP}/`, a, a.pairDuration);
        const cpu = prof ? await prof : undefined;
        const withCpu = cpu ? { ...res, cpuUsPerReq: (cpu.samples / PERF_HZ) * 1e6 / (res.rps * a.pairDuration), nftShare: cpu.nft / cpu.samples, ctShare: cpu.ct / cpu.samples } : res;
        runs[v.name]!.push(withCpu);
        log(`# pair ${round + 1}: ${v.name}: ${f(res.rps)} req/s, p50 ${f(res.p50Ms, 3)} ms, p99 ${f(res.p99Ms, 3)} ms, errors ${res.errors}` +
          (cpu ? `, CPU ${f(withCpu.cpuUsPerReq, 2)} µs/request, nftables ${f(100 * cpu.nft / cpu.samples, 2)} %, conntrack/nat ${f(100 * cpu.ct / cpu.samples, 2)} %` : ''));
      }
    }
    // Leave the daemon's own table in force for its clean stop.
    writeFileSync(join(lab.dir, 'pair.nft'), clear + carpoolTable);
    await sh(lab.ns.director, ['nft', '-f', join(lab.dir, 'pair.nft')]);
    return { variants: variants.map((v) => v.name), runs, carpoolTable };
  } finally {
    await stopProc(p);
  }
}

const defined = (xs: readonly (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
const cpuCell = (xs: readonly (number | undefined)[]): string => (defined(xs).length ? f(median(defined(xs)), 2) : '—');

/** Median (min–max) of per-round ratios of CPU time per request. */
function cpuRatio(a: readonly WrkResult[], b: readonly WrkResult[]): string {
  const xs = defined(a.map((x, i) => (x.cpuUsPerReq !== undefined && b[i]?.cpuUsPerReq ? x.cpuUsPerReq / b[i].cpuUsPerReq : undefined)));
  return xs.length ? `${f(median(xs), 3)} (${f(Math.min(...xs), 2)}–${f(Math.max(...xs), 2)})` : '—';
}

/** Median, min–max and interquartile range of per-round ratios a/b. */
function pairedRatios(a: readonly WrkResult[], b: readonly WrkResult[]): { median: number; min: number; max: number; q1: number; q3: number; n: number } | undefined {
  const xs = a.map((x, i) => (b[i] ? x.rps / b[i].rps : NaN)).filter(Number.isFinite);
  if (xs.length === 0) return undefined;
  return { median: median(xs)!, min: Math.min(...xs), max: Math.max(...xs), q1: percentile(xs, 25)!, q3: percentile(xs, 75)!, n: xs.length };
}

// ---------------------------------------------------------------------------------------------
// carpool alone: verdict → ruleset in force, and scale.

/** Make the backend's port 80 refuse (TCP reset) or accept again, in its own namespace. */
async function blockPort(ns: string, blocked: boolean): Promise<void> {
  if (blocked) {
    await run(inNs(ns, ['nft', 'add table inet benchblk; add chain inet benchblk in { type filter hook input priority 0 ; }; add rule inet benchblk in tcp dport 80 reject with tcp reset']));
  } else {
    await run(inNs(ns, ['nft', 'delete table inet benchblk']), { allowFail: true });
  }
}

/**
 * Flip the checked backend `flips` times (down, up, ...) and time each verdict, by the daemon's
 * own console timestamp of its "real server … down/up" line, to the commit of the transaction
 * that puts it in force: the kernel's NFT_MSG_NEWGEN in the director's namespace, received by
 * bench/nft-commits-child.ts (the daemon is the only process changing that namespace's ruleset
 * while this runs). Both are wall-clock times of this host; no pipe sits between either event
 * and its time.
 */
async function verdictLatencies(lab: Lab, daemon: Proc, server: string, flips: number): Promise<{ down: number[]; up: number[]; missed: number }> {
  const commits = new Proc('nft-commits', inNs(lab.ns.director, [process.execPath, '--import', 'tsx', 'bench/nft-commits-child.ts']));
  const down: number[] = [];
  const up: number[] = [];
  let missed = 0;
  const backendNs = lab.ns.backends[1]!;
  try {
    await commits.waitFor(/"event":"ready"/, 20_000);
    for (let i = 0; i < flips; i++) {
      const goDown = i % 2 === 0;
      const from = now();
      await blockPort(backendNs, goDown);
      const re = new RegExp(`real server ${server.replace(/\./g, '\\.')} ${goDown ? 'down' : 'up'}`);
      try {
        const verdict = await waitSince(daemon, re, from, 10_000);
        const at = parseConsoleTimestamp(verdict.text) ?? verdict.t;
        const commit = await waitSince(commits, (l) => (commitOf(l)?.t ?? 0) > at, from, 5000);
        (goDown ? down : up).push(commitOf(commit.text)!.t - at);
      } catch {
        missed++;
      }
      await sleep(50);
    }
    if (commits.lines.some((l) => l.text.includes('"overrun"'))) process.stderr.write('nft-commits: the kernel dropped nf_tables events (overrun)\n');
  } finally {
    await blockPort(backendNs, false);
    await stopProc(commits);
  }
  return { down, up, missed };
}

/** A commit line of bench/nft-commits-child.ts. */
function commitOf(text: string): { t: number; gen: number } | undefined {
  if (!text.startsWith('{"event":"commit"')) return undefined;
  return JSON.parse(text) as { t: number; gen: number };
}

async function waitSince(p: Proc, re: RegExp | ((text: string) => boolean), since: number, timeoutMs: number): Promise<{ t: number; text: string }> {
  const end = Date.now() + timeoutMs;
  const match = typeof re === 'function' ? re : (t: string) => re.test(t);
  for (;;) {
    const hit = p.lines.find((l) => l.t >= since && match(l.text));
    if (hit) return hit;
    if (Date.now() > end) throw new Error(`${p.name}: nothing matching ${typeof re === 'function' ? 'the expected event' : String(re)}`);
    await sleep(2);
  }
}

const FLIP_CHECKER = '    TCP_CHECK {\n      connect_timeout 0.5\n      delay_loop 0.05\n      retry 0\n    }\n';

function scaleConf(services: number): string {
  const vs: string[] = [];
  for (let i = 0; i < services; i++) {
    const vip = `10.200.${i >> 8}.${i & 255}`;
    const reals = Array.from({ length: 10 }, (_, j) => (i === 0 && j === 0
      ? `  real_server ${BACKENDS[1]} 80 {\n    weight 1\n${FLIP_CHECKER}  }`
      : `  real_server ${PRIV}.${10 + j} 80 {\n    weight 1\n  }`));
    vs.push(`virtual_server ${vip} 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n${reals.join('\n')}\n}`);
  }
  return `global_defs {
  router_id bench
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
${vs.join('\n')}
`;
}

interface ScaleRecord {
  readonly services: number;
  readonly startupMs: number;
  readonly rssKb: number | undefined;
  readonly updateP50Ms: number | undefined;
  readonly updateP99Ms: number | undefined;
  readonly updates: number;
  readonly missed: number;
}

async function scaleRun(lab: Lab, services: number, flips: number): Promise<ScaleRecord> {
  const t0 = now();
  const p = startCarpool(lab, `carpool-scale${services}`, scaleConf(services));
  try {
    const first = await p.waitFor(/Load balancer: .* real server\(s\)/, 120_000);
    const startupMs = first.t - t0;
    await sleep(2000);
    const rss = rssKb(p.pid);
    const r = await verdictLatencies(lab, p, `${BACKENDS[1]}:80`, flips);
    const all = [...r.down, ...r.up];
    return { services, startupMs, rssKb: rss, updateP50Ms: median(all), updateP99Ms: percentile(all, 99), updates: all.length, missed: r.missed };
  } finally {
    await stopProc(p);
  }
}

// ---------------------------------------------------------------------------------------------

interface Report {
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: Record<string, string | number>;
  readonly args: Args;
  readonly throughput: { readonly plane: PlaneName; readonly runs: WrkResult[]; readonly error?: string }[];
  readonly pairs?: PairReport;
  readonly verdict?: { readonly down: number[]; readonly up: number[]; readonly missed: number };
  readonly scale: ScaleRecord[];
}

function machine(): Record<string, string | number> {
  const x = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? '?';
    } catch (e) {
      return (e as { stdout?: string }).stdout?.trim().split('\n')[0] ?? '?';
    }
  };
  return {
    nproc: Number(x('nproc', [])), cpu: cpus()[0]?.model ?? '?', kernel: x('uname', ['-r']), node: process.version,
    nft: x('nft', ['--version']), nftlb: x('sh', ['-c', 'nftlb -h 2>&1 | head -1']), haproxy: x('sh', ['-c', 'haproxy -v | head -1']),
    nginx: x('sh', ['-c', 'nginx -v 2>&1']), wrk: x('sh', ['-c', 'wrk -v 2>&1 | head -1']), carpool: x('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}

const f = (n: number | undefined, d = 0): string => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(d));

function renderMarkdown(r: Report): string {
  const med = (p: PlaneName, k: 'rps' | 'p50Ms' | 'p99Ms') => median((r.throughput.find((t) => t.plane === p)?.runs ?? []).map((x) => x[k]));
  const out: string[] = [
    `# Load balancer bench, ${r.startedAt}`, '',
    `${r.machine.nproc} CPU (${r.machine.cpu}), kernel ${r.machine.kernel}, ${r.machine.nft}, ${r.machine.nftlb}, ${r.machine.haproxy}, ${r.machine.nginx}, carpool ${r.machine.carpool}. ` +
    `wrk -t2 -c${r.args.connections} -d${r.args.duration}s, ${r.args.rounds} round(s) interleaved, median shown; two nginx backends (1 worker each). Run took ${f(r.seconds)} s.`, '',
    '| data plane | requests/s | p50 ms | p99 ms | errors | vs hand-written nft | vs nftlb | vs HAProxy |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const base = { nft: med('nft', 'rps'), nftlb: med('nftlb', 'rps'), haproxy: med('haproxy', 'rps') };
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? (a / b).toFixed(3) : '—');
  for (const t of r.throughput) {
    if (t.error) {
      out.push(`| ${t.plane} | ${t.error} | | | | | | |`);
      continue;
    }
    const rps = med(t.plane, 'rps');
    out.push(`| ${t.plane} | ${f(rps)} | ${f(med(t.plane, 'p50Ms'), 3)} | ${f(med(t.plane, 'p99Ms'), 3)} | ${t.runs.reduce((s, x) => s + x.errors, 0)} | ` +
      `${ratio(rps, base.nft)} | ${ratio(rps, base.nftlb)} | ${ratio(rps, base.haproxy)} |`);
  }
  const nat = med('carpool-nat', 'rps');
  const dr = med('carpool-dr', 'rps');
  // On a shared machine the load drifts between rounds; a ratio within one round (the planes ran
  // back to back) is steadier than a ratio of medians, so the targets are decided on those.
  const runs = (p: PlaneName) => r.throughput.find((t) => t.plane === p)?.runs ?? [];
  const perRound = (a: PlaneName, b: PlaneName) => runs(a).map((x, i) => (runs(b)[i] ? x.rps / runs(b)[i]!.rps : NaN)).filter(Number.isFinite);
  const decide = (a: PlaneName, b: PlaneName, k: number) => {
    const xs = perRound(a, b);
    return xs.length ? `${median(xs)! >= k ? 'met' : 'missed'} (${f(median(xs), 3)})` : 'not measured';
  };
  const paired = (a: PlaneName, b: PlaneName) => {
    const xs = perRound(a, b);
    return xs.length ? `${f(median(xs), 3)} (rounds: ${xs.map((x) => x.toFixed(2)).join(', ')})` : '—';
  };
  const pq = r.pairs ? pairedRatios(r.pairs.runs['carpool-nat'] ?? [], r.pairs.runs.nft ?? []) : undefined;
  out.push('', 'Targets (issue 12), on the median of per-round ratios (each round runs the planes back to back, so the drift of a shared machine ' +
    'between rounds cancels): carpool NAT ≥ 0.97 × hand-written nft: ' + decide('carpool-nat', 'nft', 0.97) +
    (pq ? ` — paired rounds below: ${pq.median >= 0.97 ? 'met' : 'missed'} (${f(pq.median, 3)})` : '') +
    '; ≥ 1.0 × nftlb: ' + decide('carpool-nat', 'nftlb', 1) + '; ≥ 1.0 × HAProxy: ' + decide('carpool-nat', 'haproxy', 1) +
    '; DR ≥ NAT: ' + (dr === undefined ? 'DR not available in this build' : decide('carpool-dr', 'carpool-nat', 1)) + '.');
  out.push('', 'Per-round ratios: ' +
    `carpool NAT / nft ${paired('carpool-nat', 'nft')}; / nftlb ${paired('carpool-nat', 'nftlb')}; / HAProxy ${paired('carpool-nat', 'haproxy')}` +
    (dr === undefined ? '.' : `; DR / NAT ${paired('carpool-dr', 'carpool-nat')}.`) +
    ' On the medians of requests/s: NAT / nft ' + ratioOf(nat, base.nft) + ', / nftlb ' + ratioOf(nat, base.nftlb) + ', / HAProxy ' + ratioOf(nat, base.haproxy) +
    ', DR / NAT ' + ratioOf(dr, nat) + '.');
  if (r.pairs) {
    const pr = r.pairs;
    const n = pr.runs.nft?.length ?? 0;
    out.push('', '## carpool NAT against the hand-written rule, paired', '',
      `One carpool daemon; its table captured and swapped with the hand-written table (one \`nft -f\` each, conntrack flushed) under it, ` +
      `${n} rounds of ${r.args.pairDuration} s runs, the order alternating every round. Variants "without X" leave carpool's filter chain X out by hand, "with X ×N" copy it ` +
      `(to measure it apart; not planes carpool writes). Requests/s: median (min–max) over rounds; ratio to nft: median of per-round ratios, interquartile range and min–max. ` +
      `CPU: \`perf record -a\` samples of wrk, nginx and softirq per request (medians over rounds); nftables µs/request = that × nftables' share, the steadiest figure on a shared machine.`, '',
      '| variant | requests/s | p50 ms | p99 ms | errors | / nft per round: median | IQR | min–max | CPU µs/request | / nft per round | nftables % | nftables µs/request | conntrack+NAT % |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const v of pr.variants) {
      const xs = pr.runs[v] ?? [];
      const rps = xs.map((x) => x.rps);
      const q = v === 'nft' ? undefined : pairedRatios(xs, pr.runs.nft ?? []);
      out.push(`| ${v} | ${f(median(rps))} (${f(Math.min(...rps))}–${f(Math.max(...rps))}) | ${f(median(xs.map((x) => x.p50Ms)), 3)} | ${f(median(xs.map((x) => x.p99Ms)), 3)} | ` +
        `${xs.reduce((s, x) => s + x.errors, 0)} | ${q ? f(q.median, 3) : '1'} | ${q ? `${f(q.q1, 3)}–${f(q.q3, 3)}` : ''} | ${q ? `${f(q.min, 2)}–${f(q.max, 2)}` : ''} | ` +
        `${cpuCell(xs.map((x) => x.cpuUsPerReq))} | ${v === 'nft' ? '1' : cpuRatio(xs, pr.runs.nft ?? [])} | ${cpuCell(xs.map((x) => x.nftShare === undefined ? undefined : 100 * x.nftShare))} | ` +
        `${cpuCell(xs.map((x) => x.nftShare === undefined || x.cpuUsPerReq === undefined ? undefined : x.nftShare * x.cpuUsPerReq))} | ` +
        `${cpuCell(xs.map((x) => x.ctShare === undefined ? undefined : 100 * x.ctShare))} |`);
    }
    const cq = pairedRatios(pr.runs['carpool-nat'] ?? [], pr.runs.nft ?? []);
    out.push('', `Target carpool NAT ≥ 0.97 × hand-written nft (median of paired per-round ratios): ${cq ? `${cq.median >= 0.97 ? 'met' : 'missed'} (${f(cq.median, 3)})` : 'not measured'}.`);
  }
  if (r.verdict) {
    const all = [...r.verdict.down, ...r.verdict.up];
    out.push('', '## Checker verdict → ruleset in force', '',
      `carpool NAT, rr, one TCP_CHECK (delay_loop 0.05 s, retry 0) on a backend whose port 80 is made to refuse and accept again ${r.args.flips} times; ` +
      'from the daemon\'s "real server … down/up" log line (its own timestamp) to the kernel\'s commit of the next transaction in the director\'s namespace (NFT_MSG_NEWGEN, received by bench/nft-commits-child.ts).', '',
      '| verdicts | p50 ms | p99 ms | max ms | missed |', '|---|---|---|---|---|',
      `| ${all.length} (${r.verdict.down.length} down, ${r.verdict.up.length} up) | ${f(median(all), 1)} | ${f(percentile(all, 99), 1)} | ${f(Math.max(...all), 1)} | ${r.verdict.missed} |`,
      '', `Target p99 ≤ 50 ms: ${(percentile(all, 99) ?? Infinity) <= 50 ? 'met' : 'missed'}.`);
  }
  if (r.scale.length) {
    out.push('', '## Scale: N virtual servers × 10 real servers (NAT, rr)', '',
      'Start-up: from spawning `carpool run` to the first ruleset in force (its first "Load balancer: … real server(s)" line). ' +
      'Update: one real server of one service goes down or up (as above); the transaction touches only that service.', '',
      '| services | real servers | start-up ms | RSS MiB | update p50 ms | update p99 ms | updates | missed |', '|---|---|---|---|---|---|---|---|');
    for (const s of r.scale) {
      out.push(`| ${s.services} | ${s.services * 10} | ${f(s.startupMs)} | ${s.rssKb === undefined ? '—' : (s.rssKb / 1024).toFixed(1)} | ${f(s.updateP50Ms, 1)} | ${f(s.updateP99Ms, 1)} | ${s.updates} | ${s.missed} |`);
    }
  }
  return out.join('\n') + '\n';
}

function ratioOf(a: number | undefined, b: number | undefined): string {
  return a === undefined || !b ? '—' : (a / b).toFixed(3);
}

async function main(): Promise<number> {
  const at = process.argv.indexOf('--render');
  if (at > 0) {
    const file = process.argv[at + 1];
    if (!file) throw new Error('--render needs a results .json');
    process.stdout.write(renderMarkdown(JSON.parse(readFileSync(file, 'utf8')) as Report));
    return 0;
  }
  const args = benchArgs('bench:balancer', HELP, parse);
  if (typeof args === 'number') return args;
  const prefix = `cpl${process.pid % 10000}`;
  const log = (m: string) => process.stderr.write(`${m}\n`);
  let lab: Lab | undefined;
  let interrupted = false;
  const cleanup = async () => {
    await Promise.all(nginx.map((p) => p.stop('SIGTERM', 3000)));
    await killAll();
    await destroyLan(prefix);
    if (lab) rmSync(lab.dir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping processes and removing the lab...\n');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = now();
  const throughput: Report['throughput'] = args.planes.map((plane) => ({ plane, runs: [] as WrkResult[] }));
  const errors = new Map<PlaneName, string>();
  const dr = drAvailable();
  if (!dr) {
    errors.set('carpool-dr', 'DR: not available in this build');
    log('DR: not available in this build');
  }
  let verdict: Report['verdict'];
  let pairs: PairReport | undefined;
  const scale: ScaleRecord[] = [];
  try {
    lab = await setup(prefix);
    for (let round = 0; round < args.rounds && !interrupted; round++) {
      for (const plane of args.planes) {
        if (errors.has(plane) || interrupted) continue;
        log(`# round ${round + 1}: ${plane}`);
        let up: Up | undefined;
        try {
          up = await PLANE_UP[plane](lab);
          const seen = await curl(lab.ns.client, up.url);
          if (seen === undefined) throw new Error(`no answer from ${up.url}`);
          const res = await wrk(lab, up.url, args);
          log(`  ${f(res.rps)} req/s, p50 ${f(res.p50Ms, 3)} ms, p99 ${f(res.p99Ms, 3)} ms, errors ${res.errors}`);
          throughput.find((t) => t.plane === plane)!.runs.push(res);
        } catch (e) {
          const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
          log(`  ${plane} failed: ${msg}`);
          errors.set(plane, `failed: ${msg}`);
        } finally {
          await up?.down().catch(() => undefined);
          await delVip(lab); // also when the plane failed half-way up
        }
      }
    }
    if (!interrupted && args.pairs > 0) {
      log('# paired NAT rounds');
      pairs = await pairedNat(lab, args, log);
    }
    if (!interrupted && args.flips > 0) {
      log('# verdict → ruleset in force');
      const p = startCarpool(lab, 'carpool-flips', carpoolConf('NAT', FLIP_CHECKER));
      try {
        await p.waitFor(/Load balancer: .* real server\(s\)/, 15_000);
        await sleep(500);
        verdict = await verdictLatencies(lab, p, `${BACKENDS[1]}:80`, args.flips);
      } finally {
        await stopProc(p);
      }
    }
    for (const n of args.scale) {
      if (interrupted) break;
      log(`# scale: ${n} services × 10 real servers`);
      scale.push(await scaleRun(lab, n, args.flips));
      const s = scale[scale.length - 1]!;
      log(`  start-up ${f(s.startupMs)} ms, RSS ${f((s.rssKb ?? NaN) / 1024, 1)} MiB, update p50 ${f(s.updateP50Ms, 1)} ms p99 ${f(s.updateP99Ms, 1)} ms`);
    }
  } finally {
    await cleanup();
  }
  const report: Report = {
    startedAt: new Date(started).toISOString(), seconds: (now() - started) / 1000, machine: machine(), args,
    throughput: throughput.map((t) => (errors.has(t.plane) ? { ...t, error: errors.get(t.plane)! } : t)), ...(pairs ? { pairs } : {}), ...(verdict ? { verdict } : {}), scale,
  };
  const md = renderMarkdown(report);
  process.stdout.write(md);
  if (args.write) {
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const stamp = report.startedAt.replace(/[:.]/g, '-').replace(/-\d\d\dZ$/, 'Z');
    writeFileSync(join(dir, `balancer-${stamp}.json`), JSON.stringify(report, null, 1) + '\n');
    writeFileSync(join(dir, `balancer-${stamp}.md`), md);
    process.stderr.write(`wrote bench/results/balancer-${stamp}.{json,md}\n`);
  }
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  void killAll().finally(() => process.exit(1));
});
