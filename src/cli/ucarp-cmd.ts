/**
 * `carpool ucarp [options]`: ucarp's command line, unchanged, driving carpool's daemon.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseUcarpArgs, ucarpUsage } from '../config/ucarp/args.js';
import { interfaceInfo, listAddresses } from '../net/link.js';
import { daemonize, inheritedArgs, runDaemon } from './daemon-cmd.js';
import { RUN_DIR } from './paths.js';
import { networkInterfaces } from 'node:os';

/** ucarp's pcap_lookupdev(): the first up, non-loopback interface with an IPv4 address. */
function defaultInterface(): string | undefined {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (addrs?.some((a) => a.family === 'IPv4' && !a.internal)) return name;
  }
  return undefined;
}

/**
 * Run ucarp's command line. `command` is what comes before it when carpool runs itself again
 * (`-B`): `['ucarp']` for `carpool ucarp ...`, `[]` when called by the name `ucarp`.
 */
export async function ucarpCommand(shownArgv: readonly string[], command: readonly string[] = ['ucarp']): Promise<number> {
  // A daemonized child (-B) shows the password masked; the real arguments come through a pipe.
  const argv = inheritedArgs() ?? shownArgv;
  const dflt = defaultInterface();
  const res = parseUcarpArgs(argv, { ...(dflt ? { defaultInterface: dflt } : {}), readFile: (p) => readFileSync(p, 'utf8'),
    statMode: (p) => { try { return statSync(p).mode; } catch { return undefined; } }, runDir: RUN_DIR });
  // Hide the password from `ps` as early as possible (ucarp shows it to every user).
  process.title = ['carpool', 'ucarp', ...res.sanitizedArgv].join(' ');
  if (res.kind === 'help') {
    process.stdout.write(ucarpUsage());
    return 0;
  }
  for (const w of res.warnings) {
    if (w.code === 'NO_UPSCRIPT' || w.code === 'NO_DOWNSCRIPT') continue; // the daemon logs these like ucarp
    const line = `[${w.level.toUpperCase()}] ${w.message}\n`;
    if (w.level === 'info') process.stdout.write(line);
    else process.stderr.write(line);
  }
  if (res.kind === 'error') {
    for (const e of res.errors) {
      process.stderr.write(`carpool ucarp: ${e.message}${e.expected ? ` (expected ${e.expected})` : ''}\n`);
      if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    }
    process.stderr.write('Try `carpool ucarp --help` for the list of options.\n');
    return res.exitCode;
  }
  const inst = res.instance;
  // ucarp exits 2 when the interface is unusable; check before daemonizing so the error is seen.
  const dev = inst.interface.split(':')[0]!;
  const info = interfaceInfo(dev);
  if (!info) {
    process.stderr.write(`[ERROR] Unable to find MAC address of [${inst.interface}]: no such interface (see \`ip link\`)\n`);
    return 2;
  }
  if (inst.srcip && !listAddresses(info.index).some((a) => a.address === inst.srcip)) {
    process.stderr.write(`[WARNING] --srcip ${inst.srcip} is not an address of ${dev}\n`);
  }
  // The re-executed child sees CARPOOL_DAEMONIZED and does not fork again.
  // The pipe's copy always starts with a command name: inheritedArgs() drops it.
  if (res.daemonize && daemonize(['ucarp', ...argv], [...command, ...res.sanitizedArgv])) return 0;
  return runDaemon(res.config, 'ucarp');
}
