/**
 * Runs up/down hooks the way ucarp calls its scripts — `script <interface> <vip> [xparam]`,
 * exec'd directly, no shell (notes §4.1) — but never blocking the daemon: ucarp waits in
 * `waitpid` while a script runs, so adverts stop and a peer takes over (a known cause of
 * double masters). Here hooks of one instance run one after another in order (an up hook
 * never overlaps a down hook), while the event loop keeps advertising. Each instance has its
 * own queue (`HookQueues`): a hanging hook of one instance delays only that instance's later
 * hooks, never another's down hook (issue 11).
 */
import { spawn } from 'node:child_process';
import type { Hook } from '../config/model.js';
import type { LogFields, Logger } from './logger.js';

/** A hook that runs longer than this is killed (with its process group) and reported; `hook_timeout` changes it. */
export const DEFAULT_HOOK_TIMEOUT_MS = 120_000;
/** Hook output kept for the log per run; the rest is read, counted and dropped. */
export const HOOK_OUTPUT_KEEP_BYTES = 4096;
/** ... and at most this many lines of it. */
export const HOOK_OUTPUT_KEEP_LINES = 40;
/** After a hook exits, how long to wait for the rest of its output (a child it left running may hold the pipe). */
const OUTPUT_GRACE_MS = 200;

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

/** The hooks of one instance (or one sync group), in order. */
export class HookQueue {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly running = new Set<number>();

  /** `fields`: what the journal records about its log lines (the instance the hooks belong to). */
  constructor(private readonly log: Logger, readonly timeoutMs = DEFAULT_HOOK_TIMEOUT_MS, private readonly fields: LogFields = {}) {}

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
    this.log.warning(`Spawning [${[...call.hook.argv, ...call.args].join(' ')}]`, { ...this.fields, event: 'hook' });
    const started = performance.now();
    return new Promise<HookResult>((resolve) => {
      let timedOut = false;
      let settled = false;
      const child = spawn(argv[0]!, argv.slice(1), {
        // Captured, not inherited: a hook must neither block on nor die of the daemon's own
        // stdout (a stalled or closed reader), and its output lands in the log capped.
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...call.env },
        detached: true, // own process group, so a timeout kills the whole script tree
      });
      const output = new CappedOutput();
      child.stdout?.on('data', (b: Buffer) => output.add(b));
      child.stderr?.on('data', (b: Buffer) => output.add(b));
      let open = (child.stdout ? 1 : 0) + (child.stderr ? 1 : 0);
      let flushed: (() => void) | undefined;
      const closed = () => { if (--open <= 0) flushed?.(); };
      child.stdout?.once('close', closed);
      child.stderr?.once('close', closed);
      const finish = (r: Omit<HookResult, 'durationMs' | 'timedOut'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (open > 0 && !r.error) {
          // The output may still be in the pipes: log it first, then the result (bounded wait).
          const grace = setTimeout(() => flushed?.(), OUTPUT_GRACE_MS);
          flushed = () => { flushed = undefined; clearTimeout(grace); report(r); };
        } else {
          report(r);
        }
      };
      const report = (r: Omit<HookResult, 'durationMs' | 'timedOut'>) => {
        output.logTo(this.log, `${call.label} hook ${call.hook.argv[0]}`, this.fields);
        if (child.pid) this.running.delete(child.pid);
        const res: HookResult = { ...r, timedOut, durationMs: performance.now() - started };
        const failed = { ...this.fields, event: 'hook-failed' };
        if (r.error) this.log.error(`Unable to exec ${call.hook.argv[0]}: ${r.error}`, failed);
        else if (timedOut) this.log.error(`${call.label} hook ${call.hook.argv[0]} timed out after ${this.timeoutMs} ms and was killed`, failed);
        else if (r.code !== 0) this.log.warning(`${call.label} hook ${call.hook.argv[0]} exited with ${r.signal ?? r.code}`, failed);
        else this.log.debug(`${call.label} hook finished in ${res.durationMs.toFixed(1)} ms`, this.fields);
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

/**
 * The daemon's hook queues, one per owner (instance or sync group): order is kept within an
 * owner, owners never wait for each other. `drain`/`killAll` act on all of them (daemon exit).
 */
export class HookQueues {
  private readonly queues = new Map<string, HookQueue>();

  constructor(private readonly log: Logger) {}

  /**
   * The queue of `owner`, created on first use with `timeoutMs` and the journal's `fields` of its
   * lines (later calls return the same queue).
   */
  queue(owner: string, timeoutMs = DEFAULT_HOOK_TIMEOUT_MS, fields: LogFields = {}): HookQueue {
    let q = this.queues.get(owner);
    if (!q) this.queues.set(owner, (q = new HookQueue(this.log, timeoutMs, fields)));
    return q;
  }

  /** Hooks queued or running, over all owners. */
  get busy(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.busy;
    return n;
  }

  /** Resolves when everything queued so far, in every queue, has finished. */
  async drain(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.drain()));
  }

  killAll(): void {
    for (const q of this.queues.values()) q.killAll();
  }
}

/**
 * A hook's stdout and stderr together: the first HOOK_OUTPUT_KEEP_BYTES are kept and logged
 * line by line, the rest only counted ("... N bytes more"), so a hook printing 50 MB
 * leaves a few lines in the log, not 50 MB.
 */
export class CappedOutput {
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private logged = false;
  /** Bytes read but not kept. */
  dropped = 0;

  add(chunk: Buffer): void {
    if (this.logged) return; // after the summary (a child the hook left running): read and drop
    const room = HOOK_OUTPUT_KEEP_BYTES - this.keptBytes;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.kept.push(Buffer.from(part));
      this.keptBytes += part.length;
    }
    this.dropped += Math.max(0, chunk.length - Math.max(0, room));
  }

  logTo(log: Logger, what: string, fields?: LogFields): void {
    if (this.logged) return;
    this.logged = true;
    const lines = Buffer.concat(this.kept).toString('utf8').split('\n');
    let more = this.dropped;
    let shown = 0;
    lines.forEach((line, i) => {
      const clean = printable(line).trimEnd();
      if (!clean) return;
      if (shown++ < HOOK_OUTPUT_KEEP_LINES) log.info(`${what}: ${clean}`, fields);
      else more += Buffer.byteLength(line) + (i < lines.length - 1 ? 1 : 0);
    });
    if (more > 0) log.info(`${what}: ... ${more} bytes more (not logged)`, fields);
    this.kept.length = 0;
  }
}

/** Control characters (a hook printing escape sequences) shown as `?`. */
function printable(s: string): string {
  let out = '';
  for (const ch of s) out += ch === '\t' || (ch >= ' ' && ch !== '\x7f') ? ch : '?';
  return out;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
