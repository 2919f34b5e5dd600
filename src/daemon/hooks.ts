/**
 * Runs up/down hooks the way ucarp calls its scripts — `script <interface> <vip> [xparam]`,
 * exec'd directly, no shell (notes §4.1) — but never blocking the daemon: ucarp waits in
 * `waitpid` while a script runs, so adverts stop and a peer takes over (a known cause of
 * double masters). Here hooks of one instance run one after another in order (an up hook
 * never overlaps a down hook), while the event loop keeps advertising.
 */
import { spawn } from 'node:child_process';
import type { Hook } from '../config/model.js';
import type { Logger } from './logger.js';

/** A hook that runs longer than this is killed (with its process group) and reported. */
export const DEFAULT_HOOK_TIMEOUT_MS = 120_000;

export interface HookCall {
  readonly hook: Hook;
  /** Arguments appended after the hook's own argv (ucarp: interface, vip, [xparam]). */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** What to show in the log line. */
  readonly label: string;
}

export interface HookResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly error?: string;
  readonly durationMs: number;
}

export class HookQueue {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly running = new Set<number>();

  constructor(private readonly log: Logger, private readonly timeoutMs = DEFAULT_HOOK_TIMEOUT_MS) {}

  /** Number of hooks queued or running. */
  get busy(): number {
    return this.pending;
  }

  /** Queue a hook; resolves when it has finished (never rejects). */
  enqueue(call: HookCall): Promise<HookResult> {
    this.pending++;
    const done = this.chain.then(() => this.execute(call));
    this.chain = done.then(() => { this.pending--; }, () => { this.pending--; });
    return done;
  }

  /** Resolves when everything queued so far has finished. */
  async drain(): Promise<void> {
    await this.chain;
  }

  /** Kill running hooks (daemon exit after a timeout). */
  killAll(): void {
    for (const pid of this.running) {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }

  private execute(call: HookCall): Promise<HookResult> {
    const argv = call.hook.shell
      ? ['/bin/sh', '-c', [call.hook.argv.join(' '), ...call.args.map(shellQuote)].join(' ')]
      : [...call.hook.argv, ...call.args];
    // ucarp: "Spawning [script iface vip[ xparam]]"
    this.log.warning(`Spawning [${[...call.hook.argv, ...call.args].join(' ')}]`);
    const started = performance.now();
    return new Promise<HookResult>((resolve) => {
      let timedOut = false;
      let settled = false;
      const child = spawn(argv[0]!, argv.slice(1), {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, ...call.env },
        detached: true, // own process group, so a timeout kills the whole script tree
      });
      const finish = (r: Omit<HookResult, 'durationMs' | 'timedOut'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (child.pid) this.running.delete(child.pid);
        const res: HookResult = { ...r, timedOut, durationMs: performance.now() - started };
        if (r.error) this.log.error(`Unable to exec ${call.hook.argv[0]}: ${r.error}`);
        else if (timedOut) this.log.error(`${call.label} hook ${call.hook.argv[0]} timed out after ${this.timeoutMs} ms and was killed`);
        else if (r.code !== 0) this.log.warning(`${call.label} hook ${call.hook.argv[0]} exited with ${r.signal ?? r.code}`);
        else this.log.debug(`${call.label} hook finished in ${res.durationMs.toFixed(1)} ms`);
        resolve(res);
      };
      const timer = setTimeout(() => {
        timedOut = true;
        try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      }, this.timeoutMs);
      if (child.pid) this.running.add(child.pid);
      child.once('error', (err) => finish({ code: null, signal: null, error: err.message }));
      child.once('exit', (code, signal) => finish({ code, signal }));
    });
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
