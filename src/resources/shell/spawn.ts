/**
 * Running one agent process: no shell, its own process group, a hard timeout that kills the
 * whole group (SIGKILL, as Pacemaker's executor does), output collected with a bound.
 *
 * Agents that start daemons (nginx, IPaddr2's background send_arp) often leave the daemon
 * holding the agent's stdout/stderr, so the pipes do not close when the agent exits. The
 * result is therefore taken at the agent's `exit`, not at `close`: after a short drain the
 * pipes are only drained (unref'd), and the daemon keeps running undisturbed.
 */
import { spawn } from 'node:child_process';
import type { AgentOutcome } from '../core/ocf.js';

export interface SpawnSpec {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  /** Aborting kills the process group; the promise still resolves (with a `signal` outcome). */
  readonly signal?: AbortSignal;
  /** Bytes of stdout kept (meta-data needs it whole). Default 256 KiB. */
  readonly maxStdout?: number;
  readonly cwd?: string;
}

export interface SpawnResult {
  readonly outcome: AgentOutcome;
  readonly stdout: string;
  /** The last lines of stderr, control characters replaced. */
  readonly stderrTail: string;
  /** The last `ocf-exit-reason:` line's text (OCF_EXIT_REASON_PREFIX honoured). */
  readonly exitReason: string;
  readonly execMs: number;
  readonly pid: number | undefined;
}

const STDERR_KEEP = 8 * 1024;
const TAIL_CHARS = 1500;
const DRAIN_MS = 100;

/** Replace control characters (an agent may print anything) except newline and tab. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\r\n/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f\ufffd]/g, '?');
}

export function exitReasonOf(stderr: string, prefix = 'ocf-exit-reason:'): string {
  let reason = '';
  for (const line of stderr.split('\n')) {
    const i = line.indexOf(prefix);
    if (i >= 0) reason = line.slice(i + prefix.length).trim();
  }
  return printable(reason).slice(0, 500);
}

export function tail(text: string, chars = TAIL_CHARS): string {
  const t = printable(text).trimEnd();
  if (t.length <= chars) return t;
  const cut = t.slice(t.length - chars);
  const nl = cut.indexOf('\n');
  return `…${nl >= 0 && nl < chars / 2 ? cut.slice(nl + 1) : cut}`;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

export function spawnAgent(spec: SpawnSpec): Promise<SpawnResult> {
  const started = performance.now();
  const maxStdout = spec.maxStdout ?? 256 * 1024;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    let timedOut = false;
    let aborted = false;
    const finish = (outcome: AgentOutcome, pid: number | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
      resolve({
        outcome, stdout, stderrTail: tail(stderr), exitReason: exitReasonOf(stderr, spec.env.OCF_EXIT_REASON_PREFIX || undefined),
        execMs: Math.round(performance.now() - started), pid,
      });
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(spec.file, [...spec.args], {
        cwd: spec.cwd ?? '/', env: spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EINVAL';
      stderr = (err as Error).message;
      resolve({ outcome: { kind: 'spawn-error', code }, stdout: '', stderrTail: tail(stderr), exitReason: '', execMs: 0, pid: undefined });
      return;
    }
    const pid = child.pid;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid);
    }, spec.timeoutMs);
    const onAbort = () => {
      aborted = true;
      killGroup(pid);
    };
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    if (spec.signal?.aborted) onAbort();
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < maxStdout) stdout += d.slice(0, maxStdout - stdout.length);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 2 * STDERR_KEEP) stderr = stderr.slice(stderr.length - STDERR_KEEP);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      stderr += err.message;
      finish({ kind: 'spawn-error', code: err.code ?? 'EINVAL' }, pid);
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      const outcome: AgentOutcome = timedOut ? { kind: 'timeout' }
        : sig ? { kind: 'signal', signal: aborted ? `${sig} (cancelled)` : sig }
          : { kind: 'exited', rc: code ?? 1 };
      // Give the pipes a moment to deliver what the agent wrote, then stop waiting for them: a
      // daemon the agent started may hold them open for its whole life. They are drained (not
      // closed, so a background helper such as IPaddr2's send_arp logger gets no SIGPIPE) and
      // unref'd, so they keep nothing alive.
      const drop = setTimeout(() => {
        for (const s of [child.stdout, child.stderr]) {
          if (!s) continue;
          s.removeAllListeners('data');
          s.on('data', () => undefined);
          s.on('error', () => undefined);
          (s as unknown as { unref?: () => void }).unref?.();
        }
        finish(outcome, pid);
      }, DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drop);
        finish(outcome, pid);
      });
      if (timedOut || aborted) killGroup(pid); // stragglers of the group
    });
  });
}
