/**
 * Idle memory, quickly (`npm run bench:rss -- [--runs N]`, root): VmRSS, RssAnon and RssFile of
 * an empty Node process (`node -e 'setInterval(()=>{},1e3)'`), of `carpool run` with one CARP
 * instance and of `carpool ucarp`, each alone on a one-host namespace LAN, read 6 s after start
 * (master by then), N runs interleaved, medians printed. The acceptance of issue 13: `carpool run`
 * ≤ Node's baseline + 15 MB. `bench:failover --scenario idle` measures the same with a peer and
 * with 50 instances; this one needs no peers and takes a minute. `--bin PATH` measures another
 * build (e.g. an older commit's `git archive` with this checkout's node_modules and build/).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLan, destroyLan } from '../src/lab/netns.js';
import { inNs } from '../src/lib/exec.js';
import { Proc, ROOT, sleep } from './proc.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, bin: { type: 'string' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);

/** VmRSS, RssAnon, RssFile of `pid` in kB. */
function memory(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(VmRSS|RssAnon|RssFile):\s+(\d+) kB/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (kb: number): string => (kb / 1024).toFixed(1);

const prefix = `rss${process.pid % 10000}`;
const dir = mkdtempSync(join(tmpdir(), 'carpool-rss-'));
const lan = await createLan({ prefix, hosts: 1, subnet: '10.241.0', client: false });
try {
  const h = lan.hosts[0]!;
  const config = join(dir, 'carpool.yaml');
  writeFileSync(config, `control_socket: ${dir}/run.sock\nstate_dir: ${dir}\nlogging: { facility: none }\ninstances:\n` +
    `  - { name: web, interface: ${h.ifname}, vhid: 1, password: pw, addresses: [10.241.0.100/24] }\n`, { mode: 0o600 });
  const bin = values.bin ?? join(ROOT, 'bin/carpool'); // --bin: another build's bin/carpool (a before/after comparison)
  const subjects: Record<string, string[]> = {
    'node baseline': [process.execPath, '-e', 'setInterval(()=>{},1e3)'],
    'carpool run, 1 instance': [process.execPath, bin, 'run', '-c', config],
    'carpool ucarp': [process.execPath, bin, 'ucarp', '-i', h.ifname, '-s', h.address, '-v', '2', '-p', 'pw', '-a', '10.241.0.101', '-f', 'none'],
  };
  const seen: Record<string, Record<string, number>[]> = {};
  for (let r = 0; r < runs; r++) {
    for (const [name, argv] of Object.entries(subjects)) {
      const p = new Proc(name, inNs(h.ns, argv), { CARPOOL_RUN_DIR: dir });
      await sleep(6000);
      (seen[name] ??= []).push(memory(p.child.pid!));
      await p.stop('SIGKILL');
    }
  }
  const base = median(seen['node baseline']!.map((m) => m.VmRSS!));
  console.log(`| process (${runs} runs, medians) | VmRSS MB | over baseline | RssAnon MB | RssFile MB |\n|---|---|---|---|---|`);
  for (const [name, ms] of Object.entries(seen)) {
    const rss = median(ms.map((m) => m.VmRSS!));
    console.log(`| ${name} | ${mb(rss)} | ${name === 'node baseline' ? '–' : `+${mb(rss - base)}`} | ${mb(median(ms.map((m) => m.RssAnon!)))} | ${mb(median(ms.map((m) => m.RssFile!)))} |`);
  }
} finally {
  await destroyLan(prefix);
  rmSync(dir, { recursive: true, force: true });
}
