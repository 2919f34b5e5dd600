/**
 * Starting a daemon from the command line: foreground or daemonized (ucarp `-B`: Node
 * cannot fork, so the process re-executes itself detached and the parent exits 0), with
 * errors reported as ucarp-style exit codes (2 for start-up failures).
 */
import { enterNetNamespace } from '../net/realtime.js';
import { spawn } from 'node:child_process';
import { closeSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { CarpoolConfig } from '../config/model.js';
import { CarpoolError } from '../lib/errors.js';
import { Daemon, type DaemonOptions } from '../daemon/daemon.js';
import { JOURNAL_SOCKET, Notifier, statusText, underSystemd } from '../daemon/systemd.js';

const DAEMONIZED = 'CARPOOL_DAEMONIZED';
/** Names the inherited file descriptor that carries the real arguments to a daemonized child. */
const ARGS_FD = 'CARPOOL_ARGS_FD';

/**
 * Re-run this command detached from the terminal; returns true in the parent (which should
 * exit). `args` are what the child runs; `shown` what its command line shows. When they differ
 * (a `--pass` password masked), the real arguments go through an inherited pipe (fd 3), read
 * by `inheritedArgs()` — never through argv (/proc/PID/cmdline is readable by every user) nor
 * the environment (/proc/PID/environ, readable by root) (issue 11).
 */
export function daemonize(args: readonly string[], shown: readonly string[] = args): boolean {
  if (process.env[DAEMONIZED] === '1') return false;
  const secret = shown.length !== args.length || shown.some((a, i) => a !== args[i]);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...shown], {
    detached: true,
    stdio: secret ? ['ignore', 'ignore', 'ignore', 'pipe'] : 'ignore',
    cwd: '/',
    env: { ...process.env, [DAEMONIZED]: '1', ...(secret ? { [ARGS_FD]: '3' } : {}) },
  });
  if (secret) {
    const pipe = child.stdio[3] as Writable;
    // A socket pair: the child closing its end after reading shows here as ECONNRESET.
    pipe.on('error', () => undefined);
    pipe.end(JSON.stringify(args));
  }
  child.unref();
  return true;
}

/**
 * In a daemonized child: the real arguments the parent wrote to the inherited pipe (without
 * the leading command name), or undefined when there is none.
 */
export function inheritedArgs(): string[] | undefined {
  if (process.env[DAEMONIZED] !== '1' || process.env[ARGS_FD] !== '3') return undefined;
  delete process.env[ARGS_FD]; // not handed on to hooks
  let args: unknown;
  try {
    args = JSON.parse(readFileSync(3, 'utf8'));
    closeSync(3);
  } catch (err) {
    throw new CarpoolError('DAEMONIZE_ARGS', `cannot read the arguments from the parent process: ${(err as Error).message}`,
      'start it again; the parent writes them to file descriptor 3 right after starting the daemon');
  }
  if (!Array.isArray(args) || !args.every((a): a is string => typeof a === 'string')) {
    throw new CarpoolError('DAEMONIZE_ARGS', 'the arguments from the parent process are not a list of strings', 'start it again');
  }
  return args.slice(1);
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
  // Under systemd every line goes to the journal once, with fields (decided before the notify
  // variables are taken out of the environment, before anything runs a hook or an agent).
  const journal = underSystemd() ? { journalSocket: JOURNAL_SOCKET } : {};
  const notifier = Notifier.fromEnv();
  // systemd: the daemon says RELOADING=1 ... READY=1 around a reload (SIGHUP, systemctl reload).
  const daemon = new Daemon({ config, mode, console: !isDaemonized(), notifier, ...journal, ...(loadConfig ? { loadConfig } : {}) });
  notifier.useLog((text, key) => daemon.log.logLimited('warning', text, key));
  try {
    // keepalived `net_namespace`: after the sd_notify and syslog sockets (they stay where systemd
    // is), before every socket of the daemon.
    if (config.netNamespace) {
      enterNetNamespace(config.netNamespace);
      daemon.log.info(`running in network namespace ${config.netNamespace}`);
    }
    await daemon.start();
  } catch (err) {
    const msg = err instanceof CarpoolError ? err.describe() : (err as Error).stack ?? String(err);
    daemon.log.error(msg);
    await daemon.stop('start-up failed').catch(() => undefined);
    notifier.close();
    return 2;
  }
  // Sockets are open and every instance runs (BACKUP/INIT until it decides).
  notifier.ready(statusText(daemon.status().instances));
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
