/**
 * carpool's entry point (bin/carpool). `carpool ucarp ...` loads only what a ucarp-style daemon
 * needs — no YAML parser, no commander, no keepalived front end — so the process most ucarp
 * users run stays small (bench `idle`). Everything else is in commands.ts.
 */
import { quietOnClosedOutput } from './output.js';

export async function main(argv: readonly string[]): Promise<number> {
  quietOnClosedOutput();
  if (argv[0] === 'ucarp') {
    const { ucarpCommand } = await import('./ucarp-cmd.js');
    return ucarpCommand(argv.slice(1));
  }
  const { commandLine } = await import('./commands.js');
  return commandLine(argv);
}
