/**
 * The failover benchmark (`npm run bench:failover -- --help`): carpool (CARP and VRRP)
 * against Debian's ucarp and keepalived in a namespace LAN, at equal protocol settings.
 * Prints a Markdown report, writes bench/results/failover-<timestamp>.json and .svg.
 * Needs root (network namespaces, raw sockets). Benchmarks are not tests: nothing here
 * asserts a time; the targets are reported as met or missed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { IMPLS, type ImplName } from './impls.js';
import { setupLab, teardownLab, type Ctx } from './lab.js';
import { ROOT, killAll, now } from './proc.js';
import {
  DEFAULT_SCENARIOS, SCENARIOS, faultScenario, fastestScenario, healScenario, idleScenario, lossyScenario, nodeBaselineKb,
  type Options, type RunRecord, type ScenarioName,
} from './scenarios.js';
import { renderMarkdown, renderSvg, type Report } from './report.js';
import { benchArgs } from './args.js';

const HELP = `usage: npm run bench:failover -- [options]

Client-side failover outage of carpool vs ucarp and keepalived, in network namespaces (root).

  --runs N                runs per scenario and implementation (default 5; --quick: 2)
  --scenario a[,b]        scenarios (default: all): ${SCENARIOS.join(', ')}
  --impl a[,b]            implementations (default: all): ${IMPLS.join(', ')}
  --quick                 2 runs, 8 s lossy, 5 s CPU, 8 s per skew in fastest (a smoke run)
  --duration S            seconds of advert loss (lossy) and per skew (fastest)
                          (defaults: lossy 15, fastest 20; the issue's full runs are
                          --scenario lossy --duration 60 and --scenario fastest --duration 300)
  --skews k[,k]           advskews tried by fastest (default 1,2,3)
  --cpu-seconds S         CPU sampling window of idle (default 20)
  --no-write              do not write bench/results/*
  -h, --help              this text

Set BENCH_VERBOSE=1 to see every daemon's output.`;

interface Args {
  readonly scenarios: ScenarioName[];
  readonly impls: ImplName[];
  readonly opts: Options;
  readonly write: boolean;
}

function list<T extends string>(value: string | undefined, all: readonly T[], what: string): T[] {
  if (!value) return [...all];
  const names = value.split(',').map((x) => x.trim()).filter(Boolean);
  for (const n of names) if (!all.includes(n as T)) throw new Error(`unknown ${what} "${n}" (expected one of: ${all.join(', ')})`);
  return names as T[];
}

function parse(argv: readonly string[]): Args | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: 'string' }, scenario: { type: 'string' }, impl: { type: 'string' }, quick: { type: 'boolean' },
      duration: { type: 'string' }, skews: { type: 'string' }, 'cpu-seconds': { type: 'string' }, 'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const num = (v: string | undefined, name: string, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${v}"`);
    return n;
  };
  const quick = !!values.quick;
  const duration = values.duration === undefined ? undefined : num(values.duration, 'duration', 20);
  return {
    scenarios: list(values.scenario, DEFAULT_SCENARIOS, 'scenario'),
    impls: list(values.impl, IMPLS, 'implementation'),
    write: !values['no-write'],
    opts: {
      runs: Math.round(num(values.runs, 'runs', quick ? 2 : 5)),
      lossySeconds: duration ?? (quick ? 8 : 15),
      lossLevels: [10, 30],
      cpuSeconds: num(values['cpu-seconds'], 'cpu-seconds', quick ? 5 : 20),
      idleInstances: 50,
      fastestSeconds: duration ?? (quick ? 8 : 20),
      fastestSkews: values.skews ? values.skews.split(',').map((k) => Math.round(num(k, 'skews', 1))) : [1, 2, 3],
      probeMs: 10,
      log: (m) => process.stderr.write(`${m}\n`),
    },
  };
}

function machine(): Report['machine'] {
  const sh = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  return {
    nproc: Number(sh('nproc', [])),
    cpu: cpus()[0]?.model ?? '?',
    kernel: sh('uname', ['-r']),
    node: process.version,
    ucarp: sh('sh', ['-c', 'ucarp --help 2>&1 | grep -m1 ucarp']),
    keepalived: sh('sh', ['-c', 'keepalived --version 2>&1 | head -1']),
    carpool: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}

async function main(): Promise<number> {
  const args = benchArgs('bench:failover', HELP, parse);
  if (typeof args === 'number') return args;
  const { scenarios, impls, opts } = args;
  const prefix = `cpb${process.pid % 10000}`;
  let ctx: Ctx | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping daemons and removing the lab...\n');
    void killAll().then(() => teardownLab(ctx, prefix)).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = now();
  const records: RunRecord[] = [];
  let baselineKb: number | undefined;
  try {
    ctx = await setupLab(prefix);
    for (const scenario of scenarios) {
      const t = now();
      opts.log(`# ${scenario} (at ${((t - started) / 1000).toFixed(0)} s)`);
      if (scenario === 'fastest') {
        records.push(...await fastestScenario(ctx, opts));
        continue;
      }
      if (scenario === 'idle') baselineKb = await nodeBaselineKb();
      for (const impl of impls) {
        if (interrupted) break;
        if (scenario === 'heal') records.push(...await healScenario(ctx, impl, opts));
        else if (scenario === 'lossy') records.push(...await lossyScenario(ctx, impl, opts));
        else if (scenario === 'idle') records.push(...await idleScenario(ctx, impl, opts));
        else records.push(...await faultScenario(ctx, scenario, impl, opts));
      }
    }
  } finally {
    await killAll();
    await teardownLab(ctx, prefix);
  }
  const report: Report = {
    startedAt: new Date(started).toISOString(),
    seconds: (now() - started) / 1000,
    machine: machine(),
    options: { ...opts, log: undefined },
    scenarios, impls, nodeBaselineKb: baselineKb, records,
  };
  const md = renderMarkdown(report);
  process.stdout.write(md);
  if (args.write) {
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const stamp = report.startedAt.replace(/[:.]/g, '-').replace(/-\d\d\dZ$/, 'Z');
    writeFileSync(join(dir, `failover-${stamp}.json`), JSON.stringify(report, null, 1) + '\n');
    writeFileSync(join(dir, `failover-${stamp}.svg`), renderSvg(report));
    writeFileSync(join(dir, `failover-${stamp}.md`), md);
    process.stderr.write(`wrote bench/results/failover-${stamp}.{json,svg,md}\n`);
  }
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  void killAll().finally(() => process.exit(1));
});
