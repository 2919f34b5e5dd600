/**
 * carpool's command line. `carpool ucarp ...` takes ucarp's own options verbatim (parsed by
 * our getopt work-alike); everything else is a carpool command parsed by commander.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { detectConfigFormat, loadConfigFile, readConfigText, type LoadOptions } from '../config/load.js';
import { clipLines } from '../config/input-guard.js';
import type { CarpoolConfig } from '../config/model.js';
import { checkBalancersHere, loadCheckedConfig } from './load-config.js';
import { preflight, refuseBeforeRun } from './preflight.js';
import { emitCarpoolYaml } from '../config/emit-yaml.js';
import { sharingLines } from '../config/yaml/sharing.js';
import { compareSharing, type SharingFile } from '../sharing/core/compare.js';
import { describeShared } from '../sharing/core/model.js';
import type { ConfigDiagnostic } from '../config/diagnostics.js';
import { formatDiagnostic } from '../lib/errors.js';
import { RUN_DIR } from './paths.js';
import { CarpoolError, ConfigError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';
import { controlRequest } from '../control/client.js';
import type { DaemonStatus } from '../control/status.js';
import { formatStatus } from '../status/text.js';
import { runDaemon, daemonize } from './daemon-cmd.js';
import { answerParent, configChildMode } from './run-cmd.js';
import { LAB_DESCRIPTION } from './lab-description.js';
import type { ResourcesStatus } from '../resources/core/status.js';
import type { ResourceListEntry } from '../resources/shell/manager.js';
import type { ReloadResult } from '../daemon/reload.js';
import { formatDuration } from '../resources/core/duration.js';
import { formatResources } from '../status/resources-text.js';
import type { BalancersStatus } from '../control/status.js';
import type { BalancerCommandResult } from '../balancer/shell/balancer.js';
import { formatBalancerList } from '../status/balancer-list.js';
import { setTimeout as sleep } from 'node:timers/promises';

async function probeCommand(target: string, ifname: string, intervalMs: number, events: boolean): Promise<number> {
  const { Prober, summarize } = await import('../lab/probe.js');
  // Event lines (with --events): "ok" on the first answer, "lost" when the first probe of a gap is declared lost,
  // "recovered" (lost probes, outage ms) on the first answer after a gap, "stats" twice a second.
  const out = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
  let down = false;
  let answered = false;
  const prober = new Prober({
    target, ifname, intervalMs, lossAfterMs: Math.max(50, 5 * intervalMs),
    onResult: (r, ok) => {
      if (ok && !answered && events) out({ event: 'ok', seq: r.seq, at: r.sentAt });
      if (ok) answered = true;
      if (!ok && !down && events) out({ event: 'lost', seq: r.seq, at: r.sentAt });
      down = !ok;
    },
    onRecovered: (g) => { down = false; if (events) out({ event: 'recovered', ...g }); },
  });
  prober.start();
  out({ event: 'started', target, intervalMs });
  const stats = events ? setInterval(() => out({ event: 'stats', ...prober.counts() }), 500) : undefined;
  await new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve); });
  if (stats) clearInterval(stats);
  const records = prober.stop();
  out({ event: 'summary', ...summarize(records, intervalMs) });
  return 0;
}

interface FormatOpts {
  format?: 'keepalived' | 'yaml';
  vrrpOnly?: boolean;
  configId?: string;
}

function fail(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  if (err instanceof CarpoolError) {
    process.stderr.write(`carpool: ${err.describe()}\n`);
    return 1;
  }
  throw err;
}

/** Control sockets of every daemon on this host (`run` default plus one per `carpool ucarp`). */
function allSockets(): string[] {
  try {
    return readdirSync(RUN_DIR).filter((f) => f.endsWith('.sock')).map((f) => join(RUN_DIR, f)).sort();
  } catch {
    return [];
  }
}

/** The hint when no daemon runs in this namespace. */
function noDaemon(): CarpoolError {
  return new CarpoolError('NO_DAEMON', `no running daemon found (no control socket in ${RUN_DIR})`,
    'start one with `carpool run -c FILE` or `carpool ucarp ...` (in this network namespace), or name its socket with --socket PATH');
}

/**
 * The daemon a command talks to: --socket, else the only daemon of this namespace, else the only
 * one that `fits` (has the instance, runs resources); `what` names what fits, for the errors.
 */
async function pickSocket(explicit: string | undefined, fits: (st: DaemonStatus) => boolean, what: string,
  hint = 'choose one with --socket PATH (`carpool status` shows each daemon and its instances)'): Promise<string> {
  if (explicit) return explicit;
  const sockets = allSockets();
  if (sockets.length === 0) throw noDaemon();
  if (sockets.length === 1) return sockets[0]!;
  const found: string[] = [];
  for (const s of sockets) {
    try {
      if (fits(await controlRequest(s, { cmd: 'status' }) as DaemonStatus)) found.push(s);
    } catch {
      // a stale socket of a killed daemon
    }
  }
  if (found.length === 1) return found[0]!;
  throw new CarpoolError('DAEMON_AMBIGUOUS', found.length === 0
    ? `none of the ${sockets.length} daemons in ${RUN_DIR} has ${what}`
    : `${found.length} daemons in ${RUN_DIR} have ${what}: ${found.join(', ')}`, hint);
}

/** `--watch` seconds: a positive number (0, negatives and words would spin without pause). */
export function parseWatchSeconds(value: string): string {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds, e.g. --watch 2 or --watch 0.5');
  return value;
}

/**
 * Report an unknown option (with commander's "did you mean") before a missing mandatory one:
 * commander checks mandatory options first, so `run --conifg x` only said "required option '-c'
 * not specified". Mandatory options are checked in a preAction hook instead, which runs after
 * the unknown-option check.
 */
function unknownOptionsFirst(cmd: Command): void {
  const mandatory = cmd.options.filter((o) => o.mandatory);
  for (const o of mandatory) o.makeOptionMandatory(false);
  if (mandatory.length) {
    cmd.hook('preAction', (self) => {
      const missing = mandatory.find((o) => self.getOptionValue(o.attributeName()) === undefined);
      if (missing) self.error(`error: required option '${missing.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
    });
  }
  for (const sub of cmd.commands) unknownOptionsFirst(sub);
}

/** Write `text` to `file` atomically (a web server never serves half a page). */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
}

/** The configuration file `carpool status --cluster` reads its `cluster:` block from when `-c` is not given. */
export const DEFAULT_CONFIG = '/etc/carpool/carpool.yaml';

/**
 * `carpool status --cluster`: every node's document read from etcd with the configuration's
 * `cluster:` block (works while the local daemon is down). Exit 0 when every node is online and
 * every instance has exactly one master, 1 otherwise (a gone node, none or two masters).
 */
async function clusterStatus(opts: { config?: string; json?: boolean; watch?: boolean | string }, html: string | undefined, load: (file: string) => CarpoolConfig): Promise<number> {
  const file = opts.config ?? DEFAULT_CONFIG;
  const cfg = load(file);
  if (!cfg.cluster) throw new CarpoolError('NO_CLUSTER', `${file} has no cluster: block`, 'add cluster: { etcd: { endpoints: [http://10.0.0.1:2379] } } (docs/etcd.md, "Cluster view"), or pass -c FILE');
  const [{ readCluster }, { clusterView }] = await Promise.all([import('../coordination/shell/cluster-publisher.js'), import('../coordination/core/cluster-view.js')]);
  let read;
  try {
    read = await readCluster(cfg.cluster.etcd);
  } catch (err) {
    throw new CarpoolError('ETCD_UNREACHABLE', `cannot read the cluster from etcd (${cfg.cluster.etcd.endpoints.join(', ')}): ${(err as Error).message}`,
      'is etcd running and reachable from here? check cluster.etcd in the configuration (endpoints, tls, user/password_file)');
  }
  const now = new Date();
  const view = clusterView({ prefix: cfg.cluster.etcd.prefix, ...read, now: now.getTime(), staleAfterMs: 2 * cfg.cluster.etcd.ttlMs });
  const every = typeof opts.watch === 'string' ? Number(opts.watch) : undefined;
  if (html) writeAtomic(html, (await import('../status/html.js')).renderClusterHtml(view, now, opts.watch ? every ?? 1 : undefined));
  else if (opts.json) process.stdout.write(JSON.stringify(view, null, 2) + '\n');
  else process.stdout.write((await import('../status/cluster-text.js')).formatCluster(view, now) + '\n');
  const healthy = view.nodes.every((n) => n.state === 'online') && view.instances.every((i) => i.verdict === 'ok');
  return healthy ? 0 : 1;
}

async function statusCommand(opts: { socket?: string; json?: boolean; watch?: boolean | string; output?: string[]; cluster?: boolean; config?: string },
  load: (file: string) => CarpoolConfig): Promise<number> {
  const html = opts.output ? (opts.output[0] === 'html' ? opts.output[1] : undefined) : undefined;
  if (opts.output && (opts.output[0] !== 'html' || !html)) {
    throw new CarpoolError('USAGE', `--output takes 'html FILE', got '${opts.output.join(' ')}'`, 'carpool status --output html /var/www/cluster.html [--watch 15]');
  }
  if (opts.config && !opts.cluster) throw new CarpoolError('USAGE', '-c/--config is read only with --cluster', 'carpool status --cluster -c /etc/carpool/carpool.yaml');
  if (opts.cluster && opts.socket) throw new CarpoolError('USAGE', '--cluster reads etcd, not a control socket: leave out --socket', 'carpool status --cluster [-c FILE]');
  const once = async (): Promise<number> => {
    if (opts.cluster) return clusterStatus(opts, html, load);
    const sockets = opts.socket ? [opts.socket] : allSockets();
    if (sockets.length === 0) {
      process.stderr.write(`carpool: ${noDaemon().describe()}\n`);
      return 3;
    }
    const results: DaemonStatus[] = [];
    let failed = 0;
    const dead: string[] = [];
    for (const s of sockets) {
      try {
        results.push(await controlRequest(s, { cmd: 'status' }) as DaemonStatus);
      } catch (err) {
        failed++;
        if (opts.socket || !(err instanceof CarpoolError && err.code === 'CONTROL_UNREACHABLE')) fail(err);
        else dead.push(`${s} (${/: (\w+)$/.exec(err.message)?.[1] ?? 'no answer'})`);
      }
    }
    if (results.length === 0 && dead.length > 0) {
      // Only sockets left behind by daemons that are gone (killed, or a crash): say so, not an empty line.
      process.stderr.write(`carpool: no running daemon answers: ${dead.length === 1 ? 'the control socket' : `none of the ${dead.length} control sockets`} in ${RUN_DIR} ` +
        `(${dead.join(', ')}) ${dead.length === 1 ? 'is' : 'are'} left by a daemon that stopped\n` +
        '  hint: start one with `carpool run -c FILE` or `carpool ucarp ...` (in this network namespace); the stale socket is replaced when it starts\n');
      if (opts.json) process.stdout.write('[]\n');
      return 3;
    }
    const every = typeof opts.watch === 'string' ? Number(opts.watch) : undefined;
    const now = new Date();
    if (html) writeAtomic(html, (await import('../status/html.js')).renderStatusHtml(results, now, opts.watch ? every ?? 1 : undefined));
    else if (opts.json) process.stdout.write(JSON.stringify(opts.socket ? results[0] ?? null : results, null, 2) + '\n');
    else process.stdout.write(results.map((r) => formatStatus(r, now)).join('\n\n') + '\n');
    return results.length === 0 || (opts.socket && failed) ? 3 : 0;
  };
  if (!opts.watch) return once();
  const every = typeof opts.watch === 'string' ? Number(opts.watch) * 1000 : 1000;
  for (;;) {
    if (!html) process.stdout.write('\x1b[H\x1b[2J');
    await once();
    await sleep(every);
  }
}

/** Every command except `carpool ucarp` (see main.ts). */
export async function commandLine(argv: readonly string[]): Promise<number> {

  const program = new Command('carpool')
    .version(VERSION)
    .description('High availability for Linux: virtual IP failover with CARP (ucarp-compatible) and VRRP (keepalived-compatible).\n\n' +
      'Drop-in for ucarp:   carpool ucarp -i eth0 -s 10.0.0.11 -v 1 -p secret -a 10.0.0.100 -u up.sh -d down.sh\n' +
      'keepalived.conf:     carpool check -c /etc/keepalived/keepalived.conf; carpool convert /etc/keepalived/keepalived.conf\n' +
      'Native:              carpool run -c /etc/carpool/carpool.yaml; after editing it: carpool reload')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let code = 0;

  program.command('ucarp')
    .description('run as ucarp with ucarp\'s options (`carpool ucarp --help` lists them)')
    .allowUnknownOption()
    .helpOption(false);

  const formatOptions = (cmd: Command): Command => cmd
    .addOption(new Option('--format <format>', 'configuration format (default: recognised by content)').choices(['keepalived', 'yaml']))
    .option('--vrrp-only', 'keepalived.conf: skip the LVS part (virtual_server ...) with a warning, like `keepalived --vrrp`')
    .option('-i, --config-id <id>', 'keepalived.conf: config id for @id lines (keepalived -i; default: the host name)');
  const loadOptions = (o: FormatOpts): LoadOptions => ({
    runDir: RUN_DIR,
    ...(o.format ? { format: o.format } : {}), ...(o.vrrpOnly ? { vrrpOnly: true } : {}), ...(o.configId !== undefined ? { configId: o.configId } : {}),
  });
  const formatArgs = (o: FormatOpts): string[] => [
    ...(o.format ? ['--format', o.format] : []), ...(o.vrrpOnly ? ['--vrrp-only'] : []), ...(o.configId !== undefined ? ['--config-id', o.configId] : []),
  ];

  formatOptions(program.command('run')
    .description('run the daemon with a configuration file (carpool YAML or keepalived.conf)')
    .requiredOption('-c, --config <file>', 'configuration file (carpool YAML or keepalived.conf)')
    .option('-B, --daemonize', 'detach from the terminal and log to syslog only'))
    .action(async (o: FormatOpts & { config: string; daemonize?: boolean }) => {
      const child = configChildMode();
      if (child === 'reload') {
        // A reload of the daemon that started this process (run-cmd.ts): warnings and errors go back as text.
        const warnings: string[] = [];
        try {
          const config = loadCheckedConfig(o.config, { ...loadOptions(o), onWarning: (w) => warnings.push(formatDiagnostic(w)) });
          // What `run` and `check` refuse, a reload refuses too, at the same lines, before anything changes.
          await refuseBeforeRun(config, o.config, o.format);
          answerParent({ ok: true, config, warnings });
        } catch (err) {
          if (!(err instanceof Error)) throw err;
          const { code: c, hint } = err instanceof CarpoolError ? err : { code: undefined, hint: undefined };
          answerParent({ ok: false, error: { message: err.message, ...(c !== undefined ? { code: c } : {}), ...(hint !== undefined ? { hint } : {}) } });
        }
        return;
      }
      let config;
      try {
        config = loadCheckedConfig(o.config, loadOptions(o));
        await refuseBeforeRun(config, o.config, o.format);
      } catch (err) {
        code = fail(err);
        return;
      }
      if (child === 'start') {
        // The daemon is the parent (run-cmd.ts), which never loads the parsers.
        answerParent({ ok: true, config, warnings: [], ...(o.daemonize ? { daemonize: ['run', '-c', o.config, ...formatArgs(o)] } : {}) });
        return;
      }
      if (o.daemonize && daemonize(['run', '-c', o.config, ...formatArgs(o)])) return;
      // SIGHUP / `carpool reload`: the same file, the same options, read again. The balancers
      // are mapped again by the reload (an unsupported one refuses the reload, nothing changes).
      const reload = (onWarning: (text: string) => void) =>
        loadCheckedConfig(o.config, { ...loadOptions(o), onWarning: (w) => onWarning(formatDiagnostic(w)) });
      code = await runDaemon(config, 'run', reload);
    });

  formatOptions(program.command('check')
    .description('validate a configuration file without touching the network, like `keepalived -t`: the file, and everything ' +
      '`carpool run` refuses before it changes anything (virtual servers the balancer cannot run, what its nftables ruleset ' +
      'cannot hold, CARP/VRRPv2 ids alike on an interface); with virtual servers also what this host lacks for them ' +
      '(DR routes, ipip for TUN, nft -c as root).\n' +
      'Exit: 0 valid; 1 refused (YAML), or with --host a problem on this host; keepalived.conf as keepalived -t: ' +
      '3 cannot be run, 4 valid but with what keepalived logs and skips (--strict: 3)')
    .option('-c, --config <file>', 'configuration file (carpool YAML or keepalived.conf)')
    .argument('[files...]', 'more configuration files, one per node (as --peer-config)')
    .option('--peer-config <file>', "another node's file: each is checked too, and every `sharing:` section must be the same in all (node list, buckets, hash, mode, vhid_base, password, a gateway's outside address), reported with file:line; repeatable",
      (v: string, prev: string[] = []) => [...prev, v])
    .option('--validate', "also run each OCF agent's validate-all on this host (OCF_CHECK_LEVEL=10)")
    .option('--host', 'the file is for this host: check interfaces, agents (errors, with did-you-mean), scripts and their permissions, the control socket and state directories, nft for balancers, sharing: (interfaces, this host a node, the shared MAC, nft -c as root)')
    .option('--strict', 'keepalived.conf: refuse what keepalived only logs and skips (unknown keywords, ignored words, duplicate addresses...)'))
    .action(async (more: string[], o: FormatOpts & { config?: string; validate?: boolean; strict?: boolean; host?: boolean; peerConfig?: string[] }) => {
      const files = [...(o.config ? [o.config] : []), ...more, ...(o.peerConfig ?? [])];
      if (files.length === 0) {
        process.stderr.write("error: required option '-c, --config <file>' not specified (or several files, one per node: carpool check n1.yaml n2.yaml)\n");
        code = 1;
        return;
      }
      for (const file of files) code = Math.max(code, await checkOne({ ...o, config: file }));
      if (files.length > 1 && code === 0) code = comparePeers(files, o);
    });

  /**
   * `carpool check` of one file (the diagnostics are printed): 0 when valid; when `carpool run`
   * would refuse it (or this host, with --host), 1 — for keepalived.conf 3, and 4 when only what
   * keepalived itself logs and skips was found, as `keepalived -t` (man keepalived, "Exit status").
   */
  async function checkOne(o: FormatOpts & { config: string; validate?: boolean; strict?: boolean; host?: boolean }): Promise<number> {
      let code = 0;
      let keepalived = false;
      try {
        keepalived = (o.format ?? detectConfigFormat(readFileSync(o.config, 'utf8'))) === 'keepalived';
      } catch { /* unreadable: the loader says why */ }
      const refusedCode = keepalived ? 3 : 1;
      let skipped = 0;
      try {
        let warnings = 0;
        const cfg = loadCheckedConfig(o.config, {
          ...loadOptions(o),
          strict: o.strict ?? false,
          validateAgents: o.validate ?? false,
          skipAgents: o.host ?? false,
          onWarning: (w) => {
            warnings++;
            if ('keepalivedSkips' in w && w.keepalivedSkips) skipped++;
            process.stderr.write(`${formatDiagnostic({ ...w, message: `warning: ${w.message}` })}\n`);
          },
        });
        // What `carpool run` refuses before it changes anything (the same function: preflight.ts).
        const refused = await preflight(cfg);
        if (refused.length) {
          for (const d of refused) process.stderr.write(`${formatDiagnostic({ ...d, message: `error: ${d.message}` })}\n`);
          process.stderr.write(`${o.config}: carpool run refuses it: ${refused.length} problem${refused.length === 1 ? '' : 's'}\n`);
          return refusedCode;
        }
        if (o.host) {
          // The agents, then the rest of the host: every problem at once, as errors.
          const { checkResourceAgents } = await import('../resources/shell/agent-check.js');
          const { checkHost, systemProbe } = await import('./host-check.js');
          const agents = checkResourceAgents(cfg, undefined, { validate: o.validate ?? false, host: true });
          for (const d of agents) process.stderr.write(`${formatDiagnostic({ ...d, message: `${d.severity}: ${d.message}` })}\n`);
          const findings = checkHost(cfg, systemProbe());
          for (const f of findings) process.stderr.write(`${o.config}: this host: ${f.level}: ${f.what}: ${f.message} (expected: ${f.hint})\n`);
          warnings += findings.filter((f) => f.level === 'warning').length + agents.filter((d) => d.severity === 'warning').length;
          const errors = findings.filter((f) => f.level === 'error').length + agents.filter((d) => d.severity === 'error').length;
          if (errors) {
            process.stderr.write(`${o.config}: valid, but ${errors} problem${errors === 1 ? '' : 's'} on this host\n`);
            return refusedCode;
          }
        }
        const rs = cfg.resources;
        const resText = rs ? `; ${rs.resources.length} resource${rs.resources.length === 1 ? '' : 's'} in ${rs.groups.length} group${rs.groups.length === 1 ? '' : 's'}: ${rs.groups.map((g) => g.id).join(', ')}` : '';
        const vss = cfg.balancers?.virtualServers ?? [];
        const mapped = vss.length ? (await import('../balancer/from-config.js')).mapBalancers(cfg.balancers!, cfg.instances) : undefined;
        for (const w of mapped?.services.flatMap((m) => m.warnings) ?? []) {
          warnings++;
          process.stderr.write(`warning: ${w}\n`);
        }
        // What this host lacks for it (DR routes, ipip, nft -c) is an error, with the fix.
        const here = mapped ? await checkBalancersHere(cfg) : '';
        const lbText = vss.length ? `; ${vss.length} virtual server${vss.length === 1 ? '' : 's'} (load balancer: runs on nftables${here ? `, ${here}` : ''})` : '';
        const names = [...cfg.instances, ...(cfg.etcdInstances ?? [])].map((i) => i.name);
        const instText = names.length ? `${names.length} instance${names.length === 1 ? '' : 's'}: ${names.join(', ')}` : 'no instances';
        const shared = cfg.sharing ?? [];
        const shareText = shared.length ? `; ${shared.length} shared address${shared.length === 1 ? '' : 'es'}: ${shared.map(describeShared).join('; ')}` : '';
        process.stdout.write(`${o.config}: OK${o.host ? ' on this host' : ''} (${instText}${shareText}${resText}${lbText}`
          + `${warnings ? `; ${warnings} warning${warnings === 1 ? '' : 's'}` : ''})\n`);
        if (keepalived && skipped) {
          process.stderr.write(`${o.config}: exit 4, as keepalived -t: ${skipped} thing${skipped === 1 ? '' : 's'} keepalived logs and skips (warnings above; --strict makes them errors)\n`);
          code = 4;
        }
      } catch (err) {
        if (fail(err)) code = refusedCode;
      }
      return code;
  }

  /** Several nodes' files: their `sharing:` sections must agree (src/sharing/core/compare.ts). */
  function comparePeers(files: readonly string[], o: FormatOpts): number {
    const peers: SharingFile[] = files.map((file) => ({
      file, sharing: loadConfigFile(file, loadOptions(o)).sharing ?? [],
      lines: file.endsWith('.conf') ? new Map() : sharingLines(readFileSync(file, 'utf8')),
    }));
    const diffs = compareSharing(peers);
    for (const d of diffs) process.stderr.write(`${formatDiagnostic({ file: d.file, line: d.line, column: 1, message: d.message, expected: d.expected })}\n`);
    const shared = peers[0]!.sharing.map((x) => x.name);
    if (diffs.length) {
      process.stderr.write(`${files.length} files: ${diffs.length} difference${diffs.length === 1 ? '' : 's'} between the nodes' sharing sections\n`);
      return 1;
    }
    process.stdout.write(`${files.length} files: ${shared.length ? `sharing ${shared.join(', ')} the same in all` : 'no sharing section'}\n`);
    return 0;
  }

  formatOptions(program.command('convert')
    .description('print the carpool YAML equivalent of a configuration file (keepalived.conf → carpool.yaml)')
    .argument('<file>', 'keepalived.conf (or carpool YAML, which is printed normalised)'))
    .action((file: string, o: FormatOpts) => {
      try {
        const warnings: ConfigDiagnostic[] = [];
        const cfg = loadCheckedConfig(file, { ...loadOptions(o), onWarning: (w) => warnings.push(w) });
        for (const w of warnings) process.stderr.write(`${formatDiagnostic({ ...w, message: `warning: ${w.message}` })}\n`);
        const header = [`carpool YAML converted from ${file} by \`carpool convert\` (carpool ${VERSION}).`,
          'Every value is written out, defaults included; see docs/config.md for the keepalived keyword of each key.',
          ...(warnings.length ? ['', 'Warnings while converting:', ...warnings.map((w) => `  ${w.file}:${w.line}: ${w.message}`)] : [])].join('\n');
        process.stdout.write(emitCarpoolYaml(cfg, { header }));
      } catch (err) {
        code = fail(err);
      }
    });

  program.command('status')
    .description('show every instance: state, master, addresses, dropped packets, last transition; ' +
      'exit 0 when a daemon answered, 3 when none runs (no socket, or only stale sockets: each is named) or --socket does not answer')
    .option('-s, --socket <path>', `control socket of one daemon (default: all in ${RUN_DIR})`)
    .option('--json', 'machine-readable output')
    .addOption(new Option('-w, --watch [seconds]', 'refresh continuously, every SECONDS (default 1)').argParser(parseWatchSeconds))
    .option('-o, --output <format-and-file...>', 'write a self-contained status page instead: --output html FILE (with --watch: rewritten every interval, like crm_mon -d)')
    .option('--cluster', 'every node of the cluster, read from etcd (the cluster: block of the configuration), gone nodes included, '
      + 'with where each instance is MASTER (none or two are flagged); works while the local daemon is down. Exit 1 when a node is not online or an instance has not exactly one master')
    .option('-c, --config <file>', `with --cluster: the configuration whose cluster: block says how to reach etcd (default ${DEFAULT_CONFIG})`)
    .action(async (o: { socket?: string; json?: boolean; watch?: boolean | string; output?: string[]; cluster?: boolean; config?: string }) => {
      try {
        code = await statusCommand(o, (file) => loadConfigFile(file, { runDir: RUN_DIR, onWarning: () => undefined }));
      } catch (err) {
        code = fail(err);
      }
    });

  program.command('reload')
    .description('apply the changed configuration file to the running `carpool run` daemon without a restart (as SIGHUP and `systemctl reload` do). ' +
      'An invalid file, or one `carpool check` and `carpool run` refuse, changes nothing (the errors are printed at file:line, exit 1). Unchanged instances are not touched; added ones start, ' +
      'removed ones hand their addresses over like at shutdown, changed ones are changed in place where possible, else restarted. ' +
      'Resource groups are added, removed, or restarted when changed. Virtual servers and real servers are added, removed and changed as a difference: ' +
      'unchanged real servers keep their health (a failed one is not put back) and the operator\'s runtime changes (`carpool balancer ...`) unless the file changed that server. Changes that need a restart (control_socket, state_dir, logging, realtime_priority) are refused as a whole: nothing changes.')
    .summary('apply the changed configuration file live (only the difference)')
    .option('-s, --socket <path>', `control socket of the daemon (default: the \`carpool run\` daemon in ${RUN_DIR})`)
    .option('--json', 'machine-readable output')
    .action(async (o: { socket?: string; json?: boolean }) => {
      try {
        const socket = await pickSocket(o.socket, (st) => st.mode === 'run', 'a configuration file (`carpool run`)');
        const r = await controlRequest(socket, { cmd: 'reload' }, 60_000) as ReloadResult;
        if (o.json) {
          process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        } else {
          for (const n of r.notes) process.stdout.write(`${n}\n`);
          for (const a of r.actions) process.stdout.write(`${a}\n`);
          for (const f of r.failed) process.stderr.write(`carpool: reload: ${f}\n`);
          process.stdout.write(`${r.config}: reloaded (${r.actions.length} changed, ${r.unchanged.length} unchanged${r.failed.length ? `, ${r.failed.length} failed` : ''})\n`);
        }
        if (r.failed.length) code = 1;
      } catch (err) {
        code = fail(err);
      }
    });

  program.command('demote')
    .description('planned switchover: the master hands the addresses to a backup without losing packets.\n' +
      'CARP: the instance stays demoted (advertises advskew 240, so the others win) until `carpool demote --clear`.\n' +
      'VRRP: the instance steps down and does not preempt the new master.\n' +
      'etcd: the master releases the key, keeps the addresses until the new holder confirms it has them, and the\n' +
      'node does not contend for the key until `carpool demote --clear`.')
    .argument('[instance]', 'instance name (optional when the daemon has one)')
    .option('-s, --socket <path>', `control socket of the daemon (default: the one in ${RUN_DIR} that runs the instance)`)
    .option('--clear', 'CARP and etcd: lift the demotion (the instance competes again)')
    .action(async (instance: string | undefined, o: { socket?: string; clear?: boolean }) => {
      try {
        const socket = instance === undefined
          ? await pickSocket(o.socket, () => true, 'instances', 'name the instance (`carpool demote NAME`) or choose a daemon with --socket PATH')
          : await pickSocket(o.socket, (st) => st.instances.some((i) => i.name === instance), `an instance '${instance}'`);
        const st = await controlRequest(socket, { cmd: 'demote', args: { ...(instance ? { instance } : {}), ...(o.clear ? { clear: true } : {}) } }) as { name: string; state: string };
        process.stdout.write(`${st.name}: ${st.state}\n`);
      } catch (err) {
        code = fail(err);
      }
    });

  program.command('probe', { hidden: true })
    .description('probe an address with ICMP echo every N ms; prints a JSON summary on SIGINT/SIGTERM')
    .argument('<target>', 'IPv4 address')
    .requiredOption('-i, --interface <if>', 'interface to send on')
    .option('--interval <ms>', 'probe spacing in ms', '10')
    .option('--events', 'print one JSON line per lost/recovered transition')
    .action(async (target: string, o: { interface: string; interval: string; events?: boolean }) => {
      code = await probeCommand(target, o.interface, Number(o.interval), !!o.events);
    });

  addResourceCommands(program, (c) => { code = c; });
  addBalancerCommands(program, (c) => { code = c; });
  if (argv[0] === 'checker') {
    // Loaded only for `carpool checker ...` (it brings the HTTP checker's code along).
    const { addCheckerCommands } = await import('./checker-cmd.js');
    addCheckerCommands(program, (c) => { code = c; }, fail);
  } else {
    program.command('checker').description('help with the load balancer\'s health checkers: digest URL (like genhash)');
  }
  if (argv[0] === 'lab') {
    // Loaded only for `carpool lab ...`: daemons do not carry the lab code in memory.
    const { addLabCommands } = await import('./lab-cmd.js');
    addLabCommands(program, (c) => { code = c; }, fail);
  } else {
    program.command('lab').description(LAB_DESCRIPTION);
  }

  unknownOptionsFirst(program);
  await program.parseAsync([...argv], { from: 'user' });
  return code;
}

/** A non-negative integer weight (`carpool balancer weight VS RS N`, `add --weight N`). */
export function parseWeight(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 0x7fffffff) throw new InvalidArgumentError('expected an integer 0..2147483647 (0 = no new connections)');
  return n;
}

/** `carpool balancer list|weight|drain|enable|disable|add|remove` (like ipvsadm -L -n, -e, -a, -d). */
function addBalancerCommands(program: Command, setCode: (code: number) => void): void {
  const lb = program.command('balancer')
    .description('the load balancer of a running daemon: list it like `ipvsadm -L -n`, change real servers at runtime without a reload.\n' +
      'VS is a virtual server as IP:PORT[/PROTO] (or its config name, `fwmark N`, `group NAME`), RS a real server as IP[:PORT] ([IPv6]:PORT).\n' +
      'Runtime changes are kept across `carpool reload` until the configuration changes that real server; then the configuration wins.');
  const socketOpt = () => new Option('-s, --socket <path>', `control socket of the daemon (default: the one in ${RUN_DIR} that balances)`);
  const socketOf = (socket: string | undefined) => pickSocket(socket, (st) => st.balancers !== undefined, 'a load balancer');

  lb.command('list')
    .description('virtual servers with scheduler, method, persistence; real servers with forward method, weight, connections and health')
    .addOption(socketOpt())
    .option('--stats', 'connections, packets and bytes per server (ipvsadm --stats)')
    .option('--rate', 'connections, packets and bytes per second (ipvsadm --rate)')
    .option('--json', 'machine-readable output (the balancers section of `carpool status --json`)')
    .action(async (o: { socket?: string; stats?: boolean; rate?: boolean; json?: boolean }) => {
      try {
        if (o.stats && o.rate) throw new CarpoolError('USAGE', '--stats and --rate are separate views', 'choose one');
        const st = await controlRequest(await socketOf(o.socket), { cmd: 'balancer.list' }) as BalancersStatus;
        process.stdout.write(o.json ? JSON.stringify(st, null, 2) + '\n' : formatBalancerList(st, { stats: !!o.stats, rate: !!o.rate }).join('\n') + '\n');
      } catch (err) { setCode(fail(err)); }
    });

  const send = async (socket: string | undefined, op: string, args: Record<string, unknown>, json: boolean | undefined): Promise<void> => {
    const r = await controlRequest(await socketOf(socket), { cmd: `balancer.${op}`, args }, 30_000) as BalancerCommandResult;
    if (json) {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    } else {
      process.stdout.write(`${r.message}\n`);
      process.stdout.write(formatBalancerList({ services: [r.service], plane: { inForce: r.inForce, applies: 0, failures: 0 } }).slice(1).join('\n') + '\n');
    }
    if (!r.inForce) {
      process.stderr.write(`carpool: the nftables ruleset is not in force${r.lastError ? `: ${r.lastError}` : ''}; the daemon retries (carpool status shows it)\n`);
      setCode(1);
    }
  };
  const verb = (name: 'drain' | 'enable' | 'disable' | 'remove', description: string) => {
    lb.command(name)
      .description(description)
      .argument('<vs>', 'virtual server: IP:PORT[/PROTO], config name, fwmark N or group NAME')
      .argument('<rs>', 'real server: IP[:PORT]')
      .addOption(socketOpt())
      .option('--json', 'machine-readable output')
      .action(async (vs: string, rs: string, o: { socket?: string; json?: boolean }) => {
        try { await send(o.socket, name, { service: vs, server: rs }, o.json); } catch (err) { setCode(fail(err)); }
      });
  };
  lb.command('weight')
    .description('set a real server\'s weight now (0 = no new connections); overrides the configured and dynamic weight until `weight VS RS config`')
    .argument('<vs>', 'virtual server: IP:PORT[/PROTO], config name, fwmark N or group NAME')
    .argument('<rs>', 'real server: IP[:PORT]')
    .argument('<weight>', 'integer 0..2147483647, or `config` for the configured weight again', (v: string) => (v === 'config' ? null : parseWeight(v)))
    .addOption(socketOpt())
    .option('--json', 'machine-readable output')
    .action(async (vs: string, rs: string, weight: number | null, o: { socket?: string; json?: boolean }) => {
      try { await send(o.socket, 'weight', { service: vs, server: rs, weight }, o.json); } catch (err) { setCode(fail(err)); }
    });
  verb('drain', 'graceful removal: weight 0, established connections continue, no new ones (undo: enable)');
  verb('enable', 'undo drain or disable: the server takes new connections again (if healthy)');
  verb('disable', 'take the server out of the pool (like a failed one: persistence forgets it)');
  lb.command('add')
    .description('add a real server at runtime (checked with TCP_CHECK with the virtual server\'s delay_loop and connect_timeout, unless --check none)')
    .argument('<vs>', 'virtual server: IP:PORT[/PROTO], config name, fwmark N or group NAME')
    .argument('<rs>', 'real server: IP[:PORT] (default port: the virtual server\'s)')
    .addOption(new Option('--weight <n>', 'weight (default 1)').argParser(parseWeight))
    .addOption(new Option('--check <kind>', 'health check (default tcp)').choices(['tcp', 'none']))
    .addOption(socketOpt())
    .option('--json', 'machine-readable output')
    .action(async (vs: string, rs: string, o: { socket?: string; json?: boolean; weight?: number; check?: 'tcp' | 'none' }) => {
      try {
        await send(o.socket, 'add', { service: vs, server: rs, ...(o.weight !== undefined ? { weight: o.weight } : {}), ...(o.check ? { check: o.check } : {}) }, o.json);
      } catch (err) { setCode(fail(err)); }
    });
  verb('remove', 'remove a real server at runtime (established connections continue; a configured one comes back with `add`)');
}

/** `carpool resource ...`, `carpool import-cib`, `carpool export-cib` (seed 002 §5.2.4 in carpool's words). */
function addResourceCommands(program: Command, setCode: (code: number) => void): void {
  const res = program.command('resource')
    .description('resource groups that follow the virtual addresses (like crm_resource / pcs resource)');
  const socketOpt = () => new Option('-s, --socket <path>', `control socket of the daemon (default: the one in ${RUN_DIR} that runs resources)`);
  const call = async (socket: string | undefined, cmd: string, args: Record<string, unknown> = {}): Promise<unknown> =>
    controlRequest(await pickSocket(socket, (st) => st.resources !== undefined, 'resources'), { cmd, args });
  const printStatus = (st: ResourcesStatus) => process.stdout.write(formatResources(st).join('\n') + '\n');

  /** A read-only subcommand: the daemon's answer to `cmd`, as JSON with --json, else as `print` writes it. */
  const show = <T>(name: string, description: string, cmd: string, print: (answer: T) => void) => {
    res.command(name)
      .description(description)
      .addOption(socketOpt())
      .option('--json', 'machine-readable output')
      .action(async (o: { socket?: string; json?: boolean }) => {
        try {
          const answer = await call(o.socket, cmd) as T;
          if (o.json) process.stdout.write(JSON.stringify(answer, null, 2) + '\n'); else print(answer);
        } catch (err) { setCode(fail(err)); }
      });
  };
  show('list', 'configured groups and resources: agent, parameters, operations', 'resource.list', (list: ResourceListEntry[]) => {
    let group = '';
    for (const r of list) {
      if (r.group !== group) {
        group = r.group;
        process.stdout.write(`group ${r.group} (follows instance ${r.instance}):\n`);
      }
      const params = Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ');
      const limits = `migration-threshold=${r.migrationThreshold || 'INFINITY'}${r.failureTimeoutMs ? ` failure-timeout=${formatDuration(r.failureTimeoutMs)}` : ''}`;
      process.stdout.write(`  ${r.id} (${r.agent})${params ? ` ${params}` : ''}\n    ${r.ops.join('; ')}; ${limits}\n`);
    }
  });
  show('status', 'groups and resources on this node: state, failcounts, failed actions', 'resource.status', printStatus);

  const verb = (name: 'move' | 'clear' | 'cleanup' | 'restart', description: string, optional: boolean) => {
    res.command(name)
      .description(description)
      .argument(optional ? '[target]' : '<target>', 'group or resource id')
      .addOption(socketOpt())
      .action(async (target: string | undefined, o: { socket?: string }) => {
        try {
          const st = await call(o.socket, `resource.${name}`, target ? { target } : {}) as ResourcesStatus;
          printStatus(st);
        } catch (err) { setCode(fail(err)); }
      });
  };
  verb('move', 'move a group away from this node: it stops here and the node stays in standby for its instance until `clear`', false);
  verb('clear', 'lift a `move`: this node may run the group again', false);
  verb('cleanup', 'forget failures (failcounts, blocks, bans) of a resource or group (or all) and probe again', true);
  verb('restart', 'stop and start a resource (and the members after it) or a whole group in place', false);

  program.command('import-cib')
    .description('print carpool YAML for the resources and constraints of a Heartbeat 2 / Pacemaker CIB (cibadmin -Q output, cib.xml)')
    .argument('<file>', 'CIB XML file')
    .option('-i, --instance <name>', 'failover instance the groups follow', 'vip')
    .option('--strict', 'exit 2 when anything of the CIB was not carried (every warning and error)')
    .action(async (file: string, o: { instance: string; strict?: boolean }) => {
      try {
        const xml = readConfigText(file, file, ['cib.xml']).text;
        const { importCib } = await import('../resources/cib.js');
        const r = importCib(xml, { instance: o.instance, source: basename(file) });
        for (const m of r.messages) process.stderr.write(`import-cib: ${m.level}: ${clipLines(m.text)}\n`);
        process.stdout.write(r.yaml);
        if (r.resources === 0) setCode(1);
        else process.stderr.write(`import-cib: ${r.resources} resource${r.resources === 1 ? '' : 's'} in ${r.groups} group${r.groups === 1 ? '' : 's'}; append to a carpool.yaml that defines instance '${o.instance}', then \`carpool check -c FILE\`\n`);
        if (r.resources > 0 && o.strict && r.lost > 0) {
          process.stderr.write(`import-cib: --strict: ${r.lost} thing${r.lost === 1 ? '' : 's'} of the CIB not carried (the warnings and errors above)\n`);
          setCode(2);
        }
      } catch (err) { setCode(fail(err)); }
    });

  program.command('import-heartbeat')
    .description("print a carpool.yaml for this node from Heartbeat's own files: ha.cf, authkeys, haresources (or the CIB when crm on)")
    .argument('[dir]', 'the Heartbeat configuration directory', '/etc/ha.d')
    .option('-n, --node <name>', "this node's name as ha.cf's node lines spell it (default: the host name)")
    .option('--cib <file>', 'crm on: the CIB to import the resources from (/var/lib/heartbeat/crm/cib.xml)')
    .option('--address <cidr>', 'crm on: the virtual address the groups follow')
    .option('--source <address>', "this node's ucast address (default: found among this host's addresses)")
    .option('--strict', 'exit 2 when anything was not carried (every warning and error)')
    .action(async (dir: string, o: { node?: string; cib?: string; address?: string; source?: string; strict?: boolean }) => {
      try {
        const read = (file: string, required: boolean): string | undefined => {
          try { return readConfigText(file, file, []).text; } catch (err) {
            if (err instanceof CarpoolError && err.cause && (err.cause as NodeJS.ErrnoException).code === 'ENOENT') {
              if (!required) return undefined;
              throw new CarpoolError('HEARTBEAT_UNREADABLE', err.message, 'the directory of ha.cf (default /etc/ha.d)');
            }
            throw err;
          }
        };
        if (statSync(dir, { throwIfNoEntry: false })?.isFile()) {
          throw new CarpoolError('USAGE', `${dir} is a file: import-heartbeat takes the directory that holds ha.cf, authkeys and haresources`,
            `carpool import-heartbeat ${dirname(dir)}${/<cib[\s>]/.test(readConfigText(dir).text.slice(0, 4096)) ? ` (a CIB: carpool import-cib ${dir})` : ''}`);
        }
        const { hostname, networkInterfaces } = await import('node:os');
        const { importHeartbeat } = await import('../resources/heartbeat.js');
        const own = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
        const authkeys = read(join(dir, 'authkeys'), false);
        const haresources = read(join(dir, 'haresources'), false);
        const cib = o.cib !== undefined ? read(o.cib, true) : undefined;
        const r = importHeartbeat(
          { dir, haCf: read(join(dir, 'ha.cf'), true)!, ...(authkeys !== undefined ? { authkeys } : {}), ...(haresources !== undefined ? { haresources } : {}),
            ...(cib !== undefined ? { cib, cibName: basename(o.cib!) } : {}) },
          { node: o.node ?? hostname(), ownAddresses: o.source !== undefined ? [o.source] : own, ...(o.address !== undefined ? { address: o.address } : {}) });
        for (const m of r.messages) process.stderr.write(`import-heartbeat: ${m.level}: ${clipLines(m.text)}\n`);
        process.stdout.write(r.yaml);
        if (r.messages.some((m) => m.level === 'error')) setCode(1);
        else if (o.strict && r.lost > 0) {
          process.stderr.write(`import-heartbeat: --strict: ${r.lost} thing${r.lost === 1 ? '' : 's'} not carried (the warnings above)\n`);
          setCode(2);
        }
      } catch (err) { setCode(fail(err)); }
    });

  program.command('export-cib')
    .description('print the resources of a carpool configuration as a Pacemaker CIB <resources> section (with <constraints> for after:/with:)')
    .requiredOption('-c, --config <file>', 'configuration file')
    .action(async (o: { config: string }) => {
      try {
        const cfg = loadConfigFile(o.config);
        const { exportCib } = await import('../resources/cib.js');
        const r = exportCib(cfg.resources ?? { resources: [], groups: [] });
        for (const m of r.messages) process.stderr.write(`export-cib: ${m.level}: ${m.text}\n`);
        process.stdout.write(r.xml);
      } catch (err) { setCode(fail(err)); }
    });
}
