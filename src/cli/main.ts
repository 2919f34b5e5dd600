/**
 * carpool's entry point (bin/carpool). `carpool ucarp ...` loads only what a ucarp-style daemon
 * needs — no YAML parser, no commander, no keepalived front end — so the process most ucarp
 * users run stays small (bench `idle`); so does `ucarp ...` through a symlink named `ucarp`.
 * Everything else is in commands.ts.
 */
export async function main(argv: readonly string[], invokedAs: string = process.argv[1] ?? ''): Promise<number> {
  quietOnClosedOutput();
  // Called by the name `ucarp` (a symlink /usr/sbin/ucarp -> carpool, or a diversion), carpool is
  // ucarp: `ucarp -i eth0 ...` is `carpool ucarp -i eth0 ...`, so init scripts and Debian's
  // ifupdown hook that run /usr/sbin/ucarp work unchanged.
  if (invokedAs.slice(invokedAs.lastIndexOf('/') + 1) === 'ucarp') {
    const { ucarpCommand } = await import('./ucarp-cmd.js');
    return ucarpCommand(argv, []);
  }
  if (argv[0] === 'ucarp') {
    const { ucarpCommand } = await import('./ucarp-cmd.js');
    return ucarpCommand(argv.slice(1), ['ucarp']);
  }
  // The daemon of `carpool run` leaves reading the file to a short-lived child (run-cmd.ts), so
  // the YAML parser and commander never load here; that child (CARPOOL_CONFIG_CHILD) parses.
  if (argv[0] === 'run' && process.env.CARPOOL_CONFIG_CHILD === undefined) {
    const { runCommand } = await import('./run-cmd.js');
    return runCommand(argv);
  }
  const { commandLine } = await import('./commands.js');
  return commandLine(argv);
}

/**
 * Client commands (`carpool status | head`) end quietly, with the exit code so far, when the
 * reader goes away, as other Unix tools do. A daemon must not: `runDaemon` removes this and
 * its Logger turns the console off instead (src/daemon/logger.ts).
 */
function quietOnClosedOutput(): void {
  const onError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE' || err.code === 'EIO') process.exit(process.exitCode ?? 0);
    throw err;
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', onError);
}
