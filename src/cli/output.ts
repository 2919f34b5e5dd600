/**
 * What a closed or failing stdout/stderr means depends on who we are. A client command
 * (`carpool status | head`) ends quietly, as other Unix tools do. A daemon must not: its
 * Logger turns the console off and goes on (src/daemon/logger.ts), so `runDaemon` takes
 * the streams over with `daemonOwnsConsole()` before the first log line.
 */
let daemon = false;
let installed = false;

function onClientError(err: NodeJS.ErrnoException): void {
  if (daemon) return; // the daemon's Logger has its own listener
  if (err.code === 'EPIPE' || err.code === 'EIO') process.exit(process.exitCode ?? 0);
  throw err;
}

/** Client behaviour: exit quietly (with the exit code so far) when the reader goes away. */
export function quietOnClosedOutput(): void {
  if (installed) return;
  installed = true;
  process.stdout.on('error', onClientError);
  process.stderr.on('error', onClientError);
}

/** Daemon behaviour: output errors never end the process (the Logger handles them). */
export function daemonOwnsConsole(): void {
  daemon = true;
}
