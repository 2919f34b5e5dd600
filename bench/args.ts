/**
 * How every bench command starts: parse its arguments (or print its help) and refuse to run
 * without root, which the namespace labs need.
 */

/** The parsed arguments, or the exit code when the command should end now. */
export function benchArgs<A>(name: string, help: string, parse: (argv: readonly string[]) => A | undefined): A | number {
  let args: A | undefined;
  try {
    args = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${help}\n`);
    return 2;
  }
  if (!args) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(`${name} needs root (network namespaces, raw sockets); run it with sudo\n`);
    return 1;
  }
  return args;
}
