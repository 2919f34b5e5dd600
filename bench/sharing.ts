/**
 * The load sharing benchmark (`npm run bench:sharing -- --help`, issue 15, docs/sharing.md):
 * three nodes share one address (64 buckets, `sourceip-sourceport`), each with a real nginx
 * whose service rate is capped by `limit_req` (requests over the rate wait in nginx's queue,
 * none is refused), so each node's capacity is fixed and the 2-core machine is not the limit.
 *   1. Throughput: wrk from the client with many connections (one source address; the hash
 *      includes the source port, so the connections spread over the buckets) against 1, then
 *      2, then 3 running nodes; aggregate requests/s, per node counts (access logs), scaling
 *      efficiency = rps(k) / (k × rps(1)).
 *   2. Node failure: probes (a new connection every 5 ms, rotating source addresses and ports,
 *      so over all buckets) while node 3's link is cut; the outage of its buckets as the
 *      client sees it, against the bucket elections' bound and bench/results/failover-*.md.
 * Needs root. Benchmarks are not tests: nothing here asserts; figures are reported.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { createLan, cutLink, destroyLan, restoreLink, type Lan } from '../src/lab/netns.js';
import { inNs, run } from '../src/lib/exec.js';
import { benchArgs } from './args.js';
import { Proc, ROOT, killAll, now, sleep } from './proc.js';

const HELP = `usage: npm run bench:sharing -- [options]

Load sharing (one address, every node serving its buckets) in network namespaces (root):
aggregate requests/s with 1, 2 and 3 nodes, each node capped by nginx limit_req, and the
client-visible outage when a node fails.

  --rate R          requests/s each node's nginx serves at most (default 300)
  --connections C   wrk connections (default 64)
  --duration S      seconds of wrk per node count (default 10)
  --runs N          node failures (default 3)
  --no-write        do not write bench/results/sharing-*
  -h, --help        this text

Set BENCH_VERBOSE=1 to see every daemon's output.`;

interface Args { rate: number; connections: number; duration: number; runs: number; write: boolean }

function parse(argv: readonly string[]): Args | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rate: { type: 'string' }, connections: { type: 'string' }, duration: { type: 'string' }, runs: { type: 'string' },
      'no-write': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const num = (v: string | undefined, name: string, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${v}"`);
    return n;
  };
  return {
    rate: num(values.rate, 'rate', 500), connections: num(values.connections, 'connections', 64),
    duration: num(values.duration, 'duration', 10), runs: num(values.runs, 'runs', 3), write: !values['no-write'],
  };
}

const SUBNET = '10.214.0';
const VIP = `${SUBNET}.50`;
const BUCKETS = 64;
const ADVBASE = 1;
const PROBE_MS = 5;
const PROBE_TIMEOUT_MS = 150;
const SOURCES = 40; // client addresses SUBNET.101..140
const log = (m: string): void => { process.stderr.write(`${m}\n`); };

interface Throughput { nodes: number; rps: number; requests: number; non2xx: number; errors: string; perNode: Record<string, number>; efficiency: number; p50ms: number; p99ms: number }
interface Failure { run: number; outageMs: number; failedProbes: number; probesInWindow: number; firstFailMs: number; lastFailMs: number; n3ShareBefore: number; takeoverMs: number }

class Bench {
  readonly daemons = new Map<number, Proc>();
  constructor(readonly lan: Lan, readonly dir: string, readonly a: Args) {}

  path(name: string): string { return join(this.dir, name); }

  config(n: number): string {
    const p = this.path(`n${n}.yaml`);
    writeFileSync(p, [
      `control_socket: ${this.path(`n${n}.sock`)}`, `state_dir: ${this.path(`n${n}`)}`, 'instances: []', 'sharing:',
      '  - name: web', `    address: ${VIP}/24`, '    interface: eth0', '    vhid_base: 100', `    buckets: ${BUCKETS}`,
      '    hash: sourceip-sourceport', '    password: bench', `    advbase: ${ADVBASE}`,
      `    nodes: [${[1, 2, 3].map((i) => `{ name: n${i}, address: ${SUBNET}.${i} }`).join(', ')}]`, '',
    ].join('\n'), { mode: 0o600 });
    return p;
  }

  startNginx(n: number): Proc {
    const dir = this.path(`nginx${n}`);
    mkdirSync(`${dir}/www`, { recursive: true });
    writeFileSync(`${dir}/www/index.html`, `n${n}\n`);
    // A static file (limit_req runs in the preaccess phase, which `return` would skip), behind
    // limit_req keyed on the (constant) server address: one leaky bucket per node at `rate`
    // requests/s; excess requests wait in nginx (burst, no nodelay) instead of being refused.
    writeFileSync(`${dir}/nginx.conf`, `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 4096; }\n`
      + `http { access_log ${dir}/access.log; keepalive_timeout 300s; keepalive_requests 1000000; client_body_temp_path ${dir};\n`
      + `  limit_req_zone $server_addr zone=cap:1m rate=${this.a.rate}r/s;\n`
      + `  server { listen 80 reuseport;\n`
      + `    location / { limit_req zone=cap burst=100000; root ${dir}/www; }\n`
      + `    location = /probe { access_log off; return 200 "n${n}\\n"; } } }\n`);
    return new Proc(`nginx${n}`, inNs(this.lan.hosts[n - 1]!.ns, ['nginx', '-c', `${dir}/nginx.conf`, '-g', 'daemon off;']));
  }

  served(n: number): number {
    try {
      return readFileSync(this.path(`nginx${n}/access.log`), 'utf8').split('\n').filter(Boolean).length;
    } catch {
      return 0;
    }
  }

  startDaemon(n: number): void {
    this.daemons.set(n, new Proc(`n${n}`, inNs(this.lan.hosts[n - 1]!.ns, [process.execPath, join(ROOT, 'bin/carpool'), 'run', '-c', this.config(n)])));
  }

  async local(n: number): Promise<number[] | undefined> {
    const r = await run(inNs(this.lan.hosts[n - 1]!.ns, [process.execPath, join(ROOT, 'bin/carpool'), 'status', '--json', '--socket', this.path(`n${n}.sock`)]), { allowFail: true });
    if (r.code !== 0) return undefined;
    const doc = JSON.parse(r.stdout) as { sharing?: { local: number[] }[] } | { sharing?: { local: number[] }[] }[];
    return (Array.isArray(doc) ? doc[0] : doc)?.sharing?.[0]?.local;
  }

  /** Wait until the buckets are partitioned among exactly `nodes`, each serving some. */
  async partitioned(nodes: number[], timeoutMs = 30_000): Promise<number> {
    const t0 = now();
    while (now() - t0 < timeoutMs) {
      const sets = await Promise.all(nodes.map((n) => this.local(n)));
      const all = sets.flatMap((s) => s ?? []);
      if (sets.every((s) => s && s.length > 0) && all.length === BUCKETS && new Set(all).size === BUCKETS) return now() - t0;
      await sleep(100);
    }
    throw new Error(`buckets not partitioned among n${nodes.join(', n')} within ${timeoutMs} ms`);
  }

  async wrk(): Promise<Omit<Throughput, 'nodes' | 'perNode' | 'efficiency'>> {
    const r = await run(inNs(this.lan.client!.ns, ['wrk', '-t2', `-c${this.a.connections}`, `-d${this.a.duration}s`, '--latency', '--timeout', '10s', `http://${VIP}/`]), { timeoutMs: (this.a.duration + 30) * 1000 });
    const out = r.stdout;
    const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
    const ms = (re: RegExp): number => {
      const m = re.exec(out);
      if (!m) return NaN;
      const v = Number(m[1]);
      return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
    };
    return {
      rps: num(/Requests\/sec:\s+([\d.]+)/), requests: num(/(\d+) requests in/), non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
      errors: /Socket errors:.*/.exec(out)?.[0] ?? 'none', p50ms: ms(/50%\s+([\d.]+)(us|ms|s)/), p99ms: ms(/99%\s+([\d.]+)(us|ms|s)/),
    };
  }
}

async function throughput(b: Bench): Promise<Throughput[]> {
  const out: Throughput[] = [];
  for (const k of [1, 2, 3]) {
    b.startDaemon(k);
    const took = await b.partitioned(Array.from({ length: k }, (_, i) => i + 1), 30_000);
    log(`${k} node(s) serve all ${BUCKETS} buckets (${(took / 1000).toFixed(1)} s after start)`);
    await sleep(1000);
    const before = [1, 2, 3].map((n) => b.served(n));
    const w = await b.wrk();
    const perNode = Object.fromEntries([1, 2, 3].map((n, i) => [`n${n}`, b.served(n) - before[i]!]).filter(([, v]) => (v as number) > 0)) as Record<string, number>;
    const efficiency = out.length ? w.rps / (k * out[0]!.rps) : 1;
    out.push({ nodes: k, ...w, perNode, efficiency });
    log(`${k} node(s): ${w.rps.toFixed(1)} requests/s, per node ${JSON.stringify(perNode)}, efficiency ${(efficiency * 100).toFixed(1)} %`);
  }
  return out;
}

async function failures(b: Bench): Promise<Failure[]> {
  const c = b.lan.client!;
  const n3 = b.lan.hosts[2]!;
  const out: Failure[] = [];
  for (let r = 1; r <= b.a.runs; r++) {
    const probe = new Proc('probe', inNs(c.ns, [process.execPath, '--import', 'tsx', 'bench/sharing-probe.ts', VIP, String(PROBE_MS), String(PROBE_TIMEOUT_MS), SUBNET, '101', String(SOURCES)]));
    await probe.waitFor(/"ready"/, 15_000);
    // Spread the cut over the advert interval: run r cuts at a different phase.
    await sleep(2000 + ((r - 0.5) / b.a.runs) * ADVBASE * 1000);
    const cut = now();
    await cutLink(b.lan, n3);
    const takeover = await b.partitioned([1, 2], 15_000);
    await sleep(1000);
    probe.signal('SIGINT');
    await probe.exited;
    const line = probe.lines.find((l) => l.text.includes('"records"'));
    if (!line) throw new Error(`probe printed no records:\n${probe.lines.map((l) => l.text).join('\n')}`);
    const recs = (JSON.parse(line.text) as { records: [number, string | null][] }).records;
    const before = recs.filter(([t]) => t < cut);
    const lastN3 = Math.max(...before.filter(([, n]) => n === 'n3').map(([t]) => t));
    const failed = recs.filter(([t, n]) => t >= cut - PROBE_TIMEOUT_MS && n === null);
    const lastFail = failed.length ? Math.max(...failed.map(([t]) => t)) : cut;
    const firstFail = failed.length ? Math.min(...failed.map(([t]) => t)) : cut;
    // Outage: last probe answered by the dead node → first answered probe after the last failed one.
    const nextOk = recs.find(([t, n]) => t > lastFail && n !== null)?.[0] ?? lastFail;
    const inWindow = recs.filter(([t]) => t >= firstFail && t <= lastFail).length;
    const f: Failure = {
      run: r, outageMs: nextOk - lastN3, failedProbes: failed.length, probesInWindow: inWindow,
      firstFailMs: firstFail - cut, lastFailMs: lastFail - cut, n3ShareBefore: before.filter(([, n]) => n === 'n3').length / before.length, takeoverMs: takeover,
    };
    out.push(f);
    log(`failure ${r}: outage ${f.outageMs.toFixed(1)} ms, ${f.failedProbes}/${f.probesInWindow} probes failed in the window (n3 had ${(f.n3ShareBefore * 100).toFixed(1)} % before), last failure ${f.lastFailMs.toFixed(0)} ms after the cut`);
    await restoreLink(b.lan, n3);
    await b.partitioned([1, 2, 3], 20_000);
    const stray = recs.filter(([t, n]) => t < cut && n === null).length;
    if (stray) log(`  (${stray} probes failed before the cut)`);
  }
  return out;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

function failoverReference(): string {
  const dir = join(ROOT, 'bench/results');
  try {
    const files = execFileSync('ls', [dir], { encoding: 'utf8' }).split('\n').filter((f) => /^failover-.*\.md$/.test(f)).sort();
    for (const f of files.reverse()) {
      const row = readFileSync(join(dir, f), 'utf8').split('\n').find((l) => l.startsWith('| cut-1s | carpool-carp |'));
      if (row) {
        const cells = row.split('|').map((x) => x.trim());
        return `bench/results/${f}: cut-1s carpool-carp (one CARP instance, advbase 1, advskew 0 vs backup): bound ${cells[4]}, outage median ${cells[5]} (${cells[6]})`;
      }
    }
  } catch { /* no reference */ }
  return 'no failover-*.md with a cut-1s row found';
}

function markdown(a: Args, tp: Throughput[], fl: Failure[], started: Date, took: number): string {
  const sh = (cmd: string): string => { try { return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim(); } catch { return '?'; } };
  const bound = 3 * (ADVBASE + 16 / 256) * 1000;
  return [
    `# carpool load sharing benchmark — ${started.toISOString()}`, '',
    `Machine: ${sh('nproc')} CPUs (${cpus()[0]?.model ?? '?'}), kernel ${sh('uname -r')}, Node ${process.version}, ${sh('nginx -v 2>&1')}, carpool ${sh(`git -C ${ROOT} rev-parse --short HEAD`)}; took ${(took / 60000).toFixed(1)} min.`,
    `Command: \`npm run bench:sharing -- --rate ${a.rate} --connections ${a.connections} --duration ${a.duration} --runs ${a.runs}\``, '',
    `Three nodes share ${VIP} (${BUCKETS} buckets, hash sourceip-sourceport, advbase ${ADVBASE}). Each node runs nginx (1 worker) serving a static file behind \`limit_req\` at ${a.rate} requests/s`
      + ' (keyed on the server address: one queue per node; excess requests wait, none is refused), so a node\'s capacity is fixed and far below what the machine can do.',
    '', '## Aggregate requests/s', '',
    `wrk -t2 -c${a.connections} -d${a.duration}s from the client (one source address; the source port is in the hash, so the connections spread over the buckets). Nodes are started one after the other; each count is measured once every bucket is served by exactly one running node.`, '',
    '| nodes | requests/s | requests | per node (access logs) | non-2xx | socket errors | latency p50 / p99 | scaling efficiency |', '|---:|---:|---:|---|---:|---|---:|---:|',
    ...tp.map((t) => `| ${t.nodes} | ${t.rps.toFixed(1)} | ${t.requests} | ${Object.entries(t.perNode).map(([k, v]) => `${k} ${v}`).join(', ')} | ${t.non2xx} | ${t.errors} | ${t.p50ms.toFixed(1)} / ${t.p99ms.toFixed(1)} ms | ${(t.efficiency * 100).toFixed(1)} % |`),
    '', 'Scaling efficiency = requests/s with k nodes ÷ (k × requests/s with 1 node). Per node counts include the requests still queued in nginx when wrk stopped (wrk counts only the completed ones).',
    '', '## Client-visible outage of a node failure', '',
    `A probe every ${PROBE_MS} ms: a new connection from one of ${SOURCES} client addresses and a fresh port (so spread over all buckets), aborted after ${PROBE_TIMEOUT_MS} ms. Node 3's link is cut (run i at phase (i − ½)/N of an advert interval after 2 s of probing). Outage = last probe answered by n3 before the cut → first answered probe after the last failed one, i.e. the outage of n3's slowest bucket; probes in n3's other buckets recover earlier (first/last failure). Bound = master-down of a rank-1 bucket backup: 3 × (advbase + 16/256 s) = ${bound.toFixed(1)} ms.`, '',
    '| run | outage | failed probes / probes in window | n3 share before | first / last failure after cut | all 64 buckets on n1+n2 (status poll) |', '|---:|---:|---:|---:|---:|---:|',
    ...fl.map((f) => `| ${f.run} | ${f.outageMs.toFixed(1)} ms | ${f.failedProbes} / ${f.probesInWindow} | ${(f.n3ShareBefore * 100).toFixed(1)} % | ${f.firstFailMs.toFixed(0)} / ${f.lastFailMs.toFixed(0)} ms | ${(f.takeoverMs / 1000).toFixed(2)} s |`),
    '', `Median outage ${fl.length ? median(fl.map((f) => f.outageMs)).toFixed(1) : '-'} ms against the bound ${bound.toFixed(1)} ms. Reference: ${failoverReference()}.`,
    'Only new connections to the dead node\'s buckets fail during the outage; the other buckets\' probes keep succeeding (the failed share in the window ≈ n3\'s share).', '',
  ].join('\n');
}

async function main(): Promise<number> {
  const args = benchArgs('bench:sharing', HELP, parse);
  if (typeof args === 'number') return args;
  const prefix = `shb${process.pid % 10000}`;
  const dir = execFileSync('mktemp', ['-d', '/tmp/carpool-bench-sharing-XXXXXX'], { encoding: 'utf8' }).trim();
  chmodSync(dir, 0o755); // nginx's workers (nobody) read the static file below it
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
  let tp: Throughput[];
  let fl: Failure[];
  try {
    const lan = await createLan({ prefix, hosts: 3, subnet: SUBNET });
    for (let k = 101; k < 101 + SOURCES; k++) await run(inNs(lan.client!.ns, ['ip', 'addr', 'add', `${SUBNET}.${k}/24`, 'dev', lan.client!.ifname]));
    const b = new Bench(lan, dir, args);
    for (const n of [1, 2, 3]) b.startNginx(n);
    tp = await throughput(b);
    fl = await failures(b);
  } finally {
    await killAll();
    await destroyLan(prefix);
    execFileSync('rm', ['-rf', dir]);
  }
  const md = markdown(args, tp, fl, started, Date.now() - started.getTime());
  process.stdout.write(md);
  if (args.write) {
    const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
    const base = join(ROOT, 'bench/results', `sharing-${stamp}`);
    writeFileSync(`${base}.md`, md);
    writeFileSync(`${base}.json`, `${JSON.stringify({ started: started.toISOString(), args, throughput: tp, failures: fl }, null, 2)}\n`);
    log(`wrote ${base}.md and .json`);
  }
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  void killAll().finally(() => process.exit(1));
});
