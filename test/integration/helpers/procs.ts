/**
 * Processes started by integration tests: spawned (usually inside a lab namespace),
 * output collected line by line, waited on by pattern, stopped by the PID we started.
 * Each runs in its own process group (`detached`), and is stopped by signalling that group
 * (`process.kill(-pid)`): a forking server (nginx's master and its workers, a daemon's scripts)
 * leaves no orphan behind. Never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inNs } from '../../../src/lib/exec.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CARPOOL = `${ROOT}bin/carpool`;

export const isRoot = process.getuid?.() === 0;
export const skipReason = 'integration tests need root (network namespaces, raw sockets)';

export class Proc {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { re: RegExp; from: number; resolve: (l: string) => void }[] = [];

  constructor(readonly name: string, argv: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true });
    const onData = (buf: Buffer) => {
      for (const line of buf.toString().split('\n')) {
        if (!line) continue;
        this.lines.push(line);
        if (process.env.CARPOOL_TEST_VERBOSE) process.stderr.write(`[${this.name}] ${line}\n`);
        this.waiters = this.waiters.filter((w) => {
          if (!w.re.test(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolve with the first line (already seen after index `from`, or future) matching `re`. */
  waitFor(re: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms; output:\n${this.lines.slice(-30).join('\n')}`)), timeoutMs);
      this.waiters.push({ re, from, resolve: (l) => { clearTimeout(timer); resolve(l); } });
    });
  }

  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }

  /** Signal the process we started (only it: `reload`, `SIGUSR1`...). */
  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** Signal its whole process group (the PID we started leads it); false when the group is gone. */
  signalGroup(sig: NodeJS.Signals): boolean {
    try {
      process.kill(-this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stop with `sig` (to the PID we started, so its own shutdown runs as in production), escalate to
   * SIGKILL of its group after `graceMs`; then SIGKILL what is left of the group (nginx workers whose
   * master was killed, scripts a daemon had running).
   */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) {
      this.signalGroup('SIGKILL');
      return this.exited;
    }
    this.signal(sig);
    const t = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    const res = await this.exited;
    clearTimeout(t);
    this.signalGroup('SIGKILL');
    return res;
  }
}

/** Tracks every process a test file starts so `afterAll` can kill them all. */
export class ProcSet {
  private readonly procs: Proc[] = [];
  /** Processes started outside a Proc (a daemon that detached itself), by PID. */
  private readonly pids: number[] = [];
  add(p: Proc): Proc {
    this.procs.push(p);
    return p;
  }
  /** Kill the process with this PID too in `killAll`; returns the PID. */
  adopt(pid: number): number {
    this.pids.push(pid);
    return pid;
  }
  async killAll(): Promise<void> {
    for (const pid of this.pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await Promise.all(this.procs.map((p) => p.stop('SIGKILL', 1000)));
  }
}

export { inNs };

export function carpoolArgv(ns: string, args: readonly string[]): string[] {
  return inNs(ns, [process.execPath, CARPOOL, ...args]);
}

export function ucarpArgv(ns: string, args: readonly string[]): string[] {
  return inNs(ns, ['stdbuf', '-oL', '-eL', 'ucarp', ...args]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value or the time is up. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 50, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}
