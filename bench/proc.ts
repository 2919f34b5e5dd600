/**
 * Processes the benchmark starts: spawned in their own process group (so a daemon that
 * forks, like keepalived, is stopped or killed as a whole by the PID we started), every
 * output line kept with the time it arrived, waited on by pattern.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root (every process starts there, so `node --import tsx` resolves). */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Wall-clock epoch milliseconds with sub-millisecond resolution; comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Line {
  readonly t: number;
  readonly text: string;
}

/** Every process started and not yet reaped, so the SIGINT handler can stop them. */
const live = new Set<Proc>();

export class Proc {
  readonly lines: Line[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { re: RegExp; from: number; resolve: (l: Line) => void }[] = [];
  private partial = '';

  constructor(readonly name: string, argv: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true, cwd: ROOT });
    live.add(this);
    const onData = (buf: Buffer): void => {
      const t = now();
      const text = this.partial + buf.toString();
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const l of parts) this.push({ t, text: l });
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      live.delete(this);
      if (this.partial) this.push({ t: now(), text: this.partial });
      this.partial = '';
      resolve({ code, signal });
    }));
    if (process.env.BENCH_VERBOSE) this.child.stderr!.on('data', (b: Buffer) => process.stderr.write(`[${name}] ${b.toString()}`));
  }

  private push(line: Line): void {
    if (!line.text) return;
    this.lines.push(line);
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[${this.name}] ${line.text}\n`);
    this.waiters = this.waiters.filter((w) => {
      if (!w.re.test(line.text)) return true;
      w.resolve(line);
      return false;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first line matching `re` at index >= `from` (already seen or future). */
  waitFor(re: RegExp, timeoutMs = 10_000, from = 0): Promise<Line> {
    const seen = this.lines.slice(from).find((l) => re.test(l.text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms; last output:\n${this.lines.slice(-15).map((l) => l.text).join('\n')}`)), timeoutMs);
      this.waiters.push({ re, from, resolve: (l) => { clearTimeout(timer); resolve(l); } });
    });
  }

  /** Lines matching `re` that arrived at or after time `since`. */
  matches(re: RegExp, since = 0): Line[] {
    return this.lines.filter((l) => l.t >= since && re.test(l.text));
  }

  /** Signal the process we started (not its group). */
  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** Signal the whole process group we created (the daemon and anything it forked). */
  signalGroup(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      this.signal(sig);
    }
  }

  /** Stop with `sig`, escalate to SIGKILL of the group after `graceMs`. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    if (this.running) {
      this.signal(sig);
      const t = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    // Children of the group (keepalived's VRRP process, a hook script) must not outlive it.
    try { process.kill(-this.pid, 'SIGKILL'); } catch { /* group already gone */ }
  }
}

/** Kill every process still running (SIGINT handler, final cleanup). */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGKILL', 500)));
}

/** Direct children of `pid` (from /proc; empty when it has none or is gone). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Resident set size in kB (VmRSS), or undefined when the process is gone. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of `pid` in clock ticks (1/100 s on Linux), or undefined when gone. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
