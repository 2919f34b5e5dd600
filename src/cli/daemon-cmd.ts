/**
 * Starting a daemon from the command line: foreground or daemonized (ucarp `-B`: Node
 * cannot fork, so the process re-executes itself detached and the parent exits 0), with
 * errors reported as ucarp-style exit codes (2 for start-up failures).
 */
import { spawn } from 'node:child_process';
import type { CarpoolConfig } from '../config/model.js';
import { CarpoolError } from '../lib/errors.js';
import { Daemon, type DaemonOptions } from '../daemon/daemon.js';

const DAEMONIZED = 'CARPOOL_DAEMONIZED';

/** Re-run this command detached from the terminal; returns true in the parent (which should exit). */
export function daemonize(args: readonly string[]): boolean {
  if (process.env[DAEMONIZED] === '1') return false;
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
    env: { ...process.env, [DAEMONIZED]: '1' },
  });
  child.unref();
  return true;
}

export function isDaemonized(): boolean {
  return process.env[DAEMONIZED] === '1';
}

/** How long a fatal error may take to release what the daemon holds before it exits anyway. */
const FATAL_STOP_MS = 45_000;

/** Run the daemon until a signal stops it (run mode: `loadConfig` reads the file again on reload). Resolves with the exit code. */
export async function runDaemon(config: CarpoolConfig, mode: 'run' | 'ucarp', loadConfig?: DaemonOptions['loadConfig']): Promise<number> {
  // The client's "exit quietly on EPIPE" (main.ts) must not apply to a daemon: its Logger
  // handles output errors (console off, daemon goes on).
  for (const s of [process.stdout, process.stderr]) s.removeAllListeners('error');
  const daemon = new Daemon({ config, mode, console: !isDaemonized(), ...(loadConfig ? { loadConfig } : {}) });
  try {
    await daemon.start();
  } catch (err) {
    const msg = err instanceof CarpoolError ? err.describe() : (err as Error).stack ?? String(err);
    daemon.log.error(msg);
    await daemon.stop('start-up failed').catch(() => undefined);
    return 2;
  }
  // A daemon dies only on purpose and never silently: a fatal error releases what it holds
  // (down hooks, addresses; bounded) and exits non-zero, so a supervisor restarts it.
  process.on('uncaughtException', (err) => {
    daemon.log.error(`internal error: ${err.stack ?? err.message}; releasing addresses and exiting`);
    setTimeout(() => process.exit(1), FATAL_STOP_MS);
    void daemon.stop('internal error').finally(() => process.exit(1));
  });
  // The daemon's signal handlers exit the process; keep the event loop alive until then.
  return new Promise<number>(() => undefined);
}
