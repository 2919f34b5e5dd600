/**
 * Running external commands (ip, nft, ucarp, keepalived...) without a shell.
 * Used by the lab, tests, benchmarks and the daemon's one-off `ip` calls (VMAC set-up); hooks
 * and agents have their own runners.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { CarpoolError } from './errors.js';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Do not throw on a non-zero exit. */
  readonly allowFail?: boolean;
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Run argv to completion and collect its output; throws CMD_FAILED on non-zero exit. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new CarpoolError('CMD_EMPTY', 'empty command');
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env };
    const child = spawn(cmd, args, spawnOpts);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new CarpoolError('CMD_SPAWN', `cannot run ${cmd}: ${err.message}`, `is ${cmd} installed and on PATH?`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const res = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (res.code !== 0 && !opts.allowFail) {
        reject(new CarpoolError('CMD_FAILED', `${argv.join(' ')} exited with ${signal ?? res.code}: ${stderr.trim() || stdout.trim()}`));
      } else {
        resolve(res);
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** argv prefix that runs a command inside network namespace `ns` (or as is when undefined). */
export function inNs(ns: string | undefined, argv: readonly string[]): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, ...argv] : [...argv];
}
