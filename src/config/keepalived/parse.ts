/**
 * keepalived.conf → the validated model, so `carpool run -c /etc/keepalived/keepalived.conf` can
 * replace keepalived. The syntax (preprocessor, braces) is in syntax.ts, the VRRP
 * defaults and cross-checks shared with carpool YAML in the VRRP builder; the handlers by scope
 * (global-defs.ts, vrrp-instance.ts, vrrp-sync-group.ts, trackers.ts; LVS blocks in checker.ts) know the
 * keywords: what each block accepts, how each value is written, and what carpool does with the
 * keywords it does not implement. Nothing is silently ignored:
 *
 * - unknown keyword → skipped with a warning and a suggestion, as keepalived skips it; the same
 *   for the other things keepalived logs and works around (`Checker.lenient`); `strict` (`carpool
 *   check --strict`) makes them errors;
 * - known keyword that would change failover behaviour but is not implemented → error
 *   "not supported by carpool";
 * - known keyword that does not change failover behaviour (mail alerts, process tuning, script
 *   users) → warning saying what carpool does instead;
 * - LVS (`virtual_server`, `virtual_server_group`: virtual-server.ts, built by config/balancer/) →
 *   `config.balancers`; with `vrrpOnly` (like `keepalived --vrrp`) they are skipped with a warning
 *   listing them. The other LVS keywords (`lvs_sync_daemon`...) are errors, skipped with `vrrpOnly`.
 *
 * Pure: the file reader, glob and config id (host name) are handed in.
 */
import { ConfigError } from '../../lib/errors.js';
import { byPosition, type ConfigDiagnostic } from '../diagnostics.js';
import {
  DEFAULT_CONTROL_SOCKET, DEFAULT_STATE_DIR, type CarpoolConfig, type NotifyFifo, type StaticSetup, type VirtualAddress, type VirtualRoute, type VirtualRule,
} from '../model.js';
import { buildVrrp } from '../vrrp/build.js';
import { buildBalancers, type BalancerTerms, type GroupSpec, type VirtualServerSpec } from '../balancer/build.js';
import type { At, SyncGroupSpec, Terms, TrackFileSpec, TrackProcessSpec, VrrpDefaultsSpec, VrrpInstanceSpec, VrrpScriptSpec } from '../vrrp/spec.js';
import { parseKeepalivedSyntax, type KaFileHost, type KaStatement } from './syntax.js';
import { Checker, LVS, TUNING, unsupported, type Ctx, type Handler, type Policy } from './checker.js';
import { GLOBAL_HANDLERS, GLOBAL_POLICIES, type Tuning } from './global-defs.js';
import { INSTANCE_HANDLERS, INSTANCE_POLICIES } from './vrrp-instance.js';
import { GROUP_HANDLERS, SYNC_GROUP_POLICIES } from './vrrp-sync-group.js';
import { SCRIPT_HANDLERS, TRACK_FILE_HANDLERS, TRACK_PROCESS_HANDLERS } from './trackers.js';
import { readVirtualServer, readVirtualServerGroup } from './virtual-server.js';
import { readRoute, readRule } from './routing.js';
import { readVip } from './values.js';

export interface KeepalivedOptions {
  /** Path of the file (diagnostics, `config.source`, relative includes). */
  readonly file?: string;
  /** keepalived's config id for `@id` lines and `${_INSTANCE}` (keepalived: `-i`, default the host name up to the first dot). */
  readonly configId?: string;
  /** File access for `include`; without it `include` is an error. */
  readonly host?: KaFileHost;
  /** Skip LVS blocks with a warning instead of failing (like `keepalived --vrrp`). */
  readonly vrrpOnly?: boolean;
  /**
   * Refuse what keepalived only logs and works around (unknown keywords, ignored words, duplicate
   * addresses, authentication dropped by strict mode, ...): `carpool check --strict`.
   */
  readonly strict?: boolean;
}

export interface KeepalivedResult {
  readonly config: CarpoolConfig;
  readonly warnings: readonly ConfigDiagnostic[];
}

/** How messages of the VRRP builder name the fields: keepalived's keywords. */
export const KEEPALIVED_TERMS: Terms = {
  nopreempt: 'nopreempt', preemptDelay: 'preempt_delay', addresses: 'virtual_ipaddress', unicastPeers: 'unicast_peer',
  authPass: 'authentication', trackScript: 'track_script', trackFile: 'track_file', members: 'group', srcip: 'mcast_src_ip',
  strict: 'vrrp_strict',
};

const TOP_POLICIES: Readonly<Record<string, Policy>> = {
  linkbeat_interfaces: unsupported('carpool follows the link state through netlink'),
  track_group: unsupported('no static track groups'),
  track_process: unsupported("a top-level track_process block is not keepalived's syntax: define vrrp_track_process NAME { ... }"),
  bfd_instance: unsupported('no BFD'),
  garp_group: unsupported('gratuitous ARP groups are not implemented'),
  net_namespace_ipvs: LVS, namespace_with_ipsets: GLOBAL_POLICIES.namespace_with_ipsets!,
  instance: TUNING, use_pid_dir: TUNING, linkbeat_use_polling: { kind: 'not-used', why: 'carpool follows the link state through netlink' },
  child_wait_time: TUNING,
};

interface TopCtx extends Ctx {
  readonly d: VrrpDefaultsSpec;
  readonly tune: Tuning;
  readonly instances: VrrpInstanceSpec[];
  readonly scripts: VrrpScriptSpec[];
  readonly trackFiles: TrackFileSpec[];
  readonly trackProcesses: TrackProcessSpec[];
  readonly groups: SyncGroupSpec[];
  readonly virtualServers: VirtualServerSpec[];
  readonly vsGroups: GroupSpec[];
  readonly statics: { addresses: At<VirtualAddress>[]; routes: At<VirtualRoute>[]; rules: At<VirtualRule>[] };
}

/** How messages of the balancer builder name the keys: keepalived's keywords. */
const KEEPALIVED_BALANCER_TERMS: BalancerTerms = {
  realServer: 'real_server IP [PORT] { ... }', url: 'url { }', path: 'path', miscPath: 'misc_path', trackFile: 'track_file',
};

/** `KEYWORD NAME {` of a named top-level block. */
function named(c: Checker, st: KaStatement, example: string): At<string> | undefined {
  const n = st.args[0];
  if (!n) {
    c.error(st.loc, 'MISSING_ARGUMENT', `${st.keyword} needs a name`, example);
    return undefined;
  }
  if (st.args.length > 1) c.extra(st, 1, example);
  if (!st.block) {
    c.error(st.loc, 'BLOCK_EXPECTED', `${st.keyword} ${n.text} needs a { block }`, example);
    return undefined;
  }
  return { value: n.text, at: n.loc };
}

/** A `keyword NAME { ... }` tracker definition (every field but the name optional), read by `handlers` into `list`. */
function definition<S extends { readonly name: At<string> }>(keyword: string, handlers: Readonly<Record<string, Handler<Ctx & { readonly s: S }>>>,
  list: (ctx: TopCtx) => S[]): Handler<TopCtx> {
  return (st, ctx) => {
    const name = named(ctx.c, st, `${keyword} NAME {`);
    if (!name) return;
    const s = { name } as S;
    ctx.c.dispatch(st.block!, handlers, {}, `${keyword} '${name.value}'`, { c: ctx.c, s });
    list(ctx).push(s);
  };
}

const TOP_HANDLERS: Readonly<Record<string, Handler<TopCtx>>> = {
  global_defs: (st, ctx) => {
    if (st.args.length > 0) ctx.c.extra(st, 0, 'global_defs {');
    ctx.c.dispatch(ctx.c.block(st, 'global_defs { ... }'), GLOBAL_HANDLERS, GLOBAL_POLICIES, 'global_defs', ctx);
  },
  vrrp_instance: (st, ctx) => {
    const name = named(ctx.c, st, 'vrrp_instance NAME {');
    if (!name) return;
    const s: VrrpInstanceSpec = {
      name, unicastPeers: [], addresses: [], excludedAddresses: [], routes: [], rules: [], trackInterfaces: [], trackScripts: [], trackFiles: [],
      notify: {}, garp: {}, noAddresses: { value: 'warn', at: name.at },
    };
    ctx.c.dispatch(st.block!, INSTANCE_HANDLERS, INSTANCE_POLICIES, `vrrp_instance '${name.value}'`, { c: ctx.c, s, seen: new Map() });
    ctx.instances.push(s);
  },
  vrrp_script: definition('vrrp_script', SCRIPT_HANDLERS, (ctx) => ctx.scripts),
  track_file: definition('track_file', TRACK_FILE_HANDLERS, (ctx) => ctx.trackFiles),
  vrrp_track_process: definition('vrrp_track_process', TRACK_PROCESS_HANDLERS, (ctx) => ctx.trackProcesses),
  vrrp_sync_group: (st, ctx) => {
    const name = named(ctx.c, st, 'vrrp_sync_group NAME {');
    if (!name) return;
    const g: SyncGroupSpec = { name, members: [], notify: {}, trackInterfaces: [], trackScripts: [], trackFiles: [] };
    ctx.c.dispatch(st.block!, GROUP_HANDLERS, SYNC_GROUP_POLICIES, `vrrp_sync_group '${name.value}'`, { c: ctx.c, g },
      (e) => (e.args.length === 0 && !e.block ? ` (if '${e.keyword}' is an instance, it belongs in group { ${e.keyword} ... })` : undefined));
    if (g.members.length > 0) {
      ctx.groups.push(g);
    } else {
      // keepalived: "Sync group VG1 has no virtual router(s). removing" — its members then fail over alone.
      ctx.c.lenient(st.loc, 'SYNC_GROUP',
        `vrrp_sync_group '${name.value}' has no members (no group { ... }); it is removed, as keepalived does ("has no virtual router(s). removing"), and its instances fail over on their own`,
        'group { VI_1 VI_2 } inside the vrrp_sync_group');
    }
  },
  virtual_server: (st, ctx) => {
    if (ctx.c.vrrpOnly) { ctx.c.lvs(st); return; }
    const vs = readVirtualServer(ctx.c, st);
    if (vs) ctx.virtualServers.push(vs);
  },
  virtual_server_group: (st, ctx) => {
    if (ctx.c.vrrpOnly) { ctx.c.lvs(st); return; }
    const name = named(ctx.c, st, 'virtual_server_group NAME {');
    if (name) ctx.vsGroups.push(readVirtualServerGroup(ctx.c, st, name));
  },
  // keepalived reads net_namespace at the top level as well as in global_defs.
  net_namespace: (st, ctx) => GLOBAL_HANDLERS.net_namespace!(st, ctx),
  static_ipaddress: (st, { c, statics }) => {
    for (const e of c.block(st, 'static_ipaddress { 192.168.1.1/24 dev eth0 ... }')) {
      const v = readVip(c, e, 'static_ipaddress');
      if (v) statics.addresses.push(v);
    }
  },
  static_routes: (st, { c, statics }) => {
    for (const e of c.block(st, 'static_routes { 10.1.0.0/16 via 10.0.0.254 dev eth0 ... }')) {
      const r = readRoute(c, e, 'static_routes', 'static');
      if (r) statics.routes.push(r);
    }
  },
  static_rules: (st, { c, statics }) => {
    for (const e of c.block(st, 'static_rules { from 10.1.0.0/16 table 100 priority 100 ... }')) {
      const r = readRule(c, e, 'static_rules', 'static');
      if (r) statics.rules.push(r);
    }
  },
  SSL: (st, { c }) => {
    if (c.vrrpOnly) { c.lvs(st); return; }
    c.block(st, 'SSL { password ...; ca FILE; certificate FILE; key FILE }');
    c.warn(st.loc, 'NOT_USED', 'SSL { } (client certificate of SSL_GET) is not used yet: SSL_GET checks connect without a client certificate',
      'nothing, unless the real servers require a client certificate');
  },
};
const TOP_ALIASES: Readonly<Record<string, string>> = { vrrp_track_file: 'track_file' };

/**
 * Parse and validate keepalived.conf text. Throws `ConfigError` with every problem found (each a
 * `ConfigDiagnostic` located in the file it came from, included files too); returns the config
 * and the warnings otherwise.
 */
export function parseKeepalivedConf(text: string, options: KeepalivedOptions = {}): KeepalivedResult {
  const file = options.file ?? '<input>';
  const c = new Checker(options.vrrpOnly ?? false, options.strict ?? false);
  const { statements, problems } = parseKeepalivedSyntax(text, {
    file, configId: options.configId ?? '', ...(options.host ? { host: options.host } : {}),
  });
  for (const p of problems) c.report(p.severity, p.code, p.loc, p.message, p.expected);

  const ctx: TopCtx = {
    c, d: { garp: {} }, tune: {}, instances: [], scripts: [], trackFiles: [], trackProcesses: [], groups: [], virtualServers: [], vsGroups: [],
    statics: { addresses: [], routes: [], rules: [] },
  };
  const handlers = { ...TOP_HANDLERS, ...Object.fromEntries(Object.entries(TOP_ALIASES).map(([k, v]) => [k, TOP_HANDLERS[v]!])) };
  c.dispatch(statements, handlers, TOP_POLICIES, 'the top level', ctx);
  if (c.skipped.length > 0) {
    const first = statements.find((s) => TOP_POLICIES[s.keyword]?.kind === 'lvs' || ['virtual_server', 'virtual_server_group', 'SSL'].includes(s.keyword))
      ?? statements[0]!;
    c.warn(first.loc, 'LVS_SKIPPED', `--vrrp-only: skipping the LVS configuration: ${c.skipped.join('; ')}`,
      'nothing, when the load balancing is done elsewhere');
  }

  dropStrictAuth(c, ctx);
  const built = buildVrrp({
    defaults: ctx.d, instances: ctx.instances, scripts: ctx.scripts, trackFiles: ctx.trackFiles, trackProcesses: ctx.trackProcesses, syncGroups: ctx.groups,
  },
    KEEPALIVED_TERMS, (sev, code, at, message, expected) => c.report(sev, code, at, message, expected));
  const balancers = ctx.virtualServers.length + ctx.vsGroups.length > 0
    ? buildBalancers({ groups: ctx.vsGroups, virtualServers: ctx.virtualServers, trackFiles: ctx.trackFiles.map((f) => f.name.value), trackFileDefs: built.trackFiles,
      ...(ctx.tune.countIntervalMs !== undefined ? { countIntervalMs: ctx.tune.countIntervalMs } : {}) },
      KEEPALIVED_BALANCER_TERMS, (sev, code, at, message, expected) => c.report(sev, code, at, message, expected))
    : undefined;

  // keepalived runs a file with only virtual_server blocks (the checker alone): so does `check`.
  if (ctx.instances.length === 0 && !balancers && !c.diagnostics.some((d) => d.severity === 'error')) {
    c.error({ file, line: 1, column: 1 }, 'MISSING_KEY', 'no vrrp_instance is configured', 'at least one vrrp_instance NAME { ... }');
  }
  const statics = staticSetup(c, ctx);
  const notifyFifo = fifoSetup(c, ctx);
  const unique = dedupe(c.diagnostics);
  const errors = unique.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new ConfigError(errors);
  return {
    config: {
      source: file, instances: built.instances, vrrpScripts: built.vrrpScripts, trackFiles: built.trackFiles, syncGroups: built.syncGroups,
      ...(built.trackProcesses.length > 0 ? { trackProcesses: built.trackProcesses } : {}),
      logging: { facility: 'daemon', debug: false, ident: 'carpool' }, controlSocket: DEFAULT_CONTROL_SOCKET, stateDir: DEFAULT_STATE_DIR,
      ...(ctx.tune.realtimePriority !== undefined ? { realtimePriority: ctx.tune.realtimePriority } : {}),
      ...(balancers ? { balancers } : {}),
      ...(statics ? { static: statics } : {}),
      ...(notifyFifo ? { notifyFifo } : {}),
      ...(ctx.tune.netNamespace ? { netNamespace: ctx.tune.netNamespace.value } : {}),
    },
    warnings: unique.filter((d) => d.severity === 'warning'),
  };
}

/**
 * static_ipaddress / static_routes / static_rules, or undefined without any. An address without
 * `dev` goes on `default_interface`, else eth0, as in keepalived.
 */
function staticSetup(c: Checker, ctx: TopCtx): StaticSetup | undefined {
  const { addresses, routes, rules } = ctx.statics;
  if (addresses.length + routes.length + rules.length === 0) return undefined;
  const dev = ctx.tune.defaultInterface?.value ?? 'eth0';
  return {
    addresses: addresses.map((a) => {
      if (a.value.dev) return a.value;
      if (!ctx.tune.defaultInterface) {
        c.warn(a.at, 'MISSING_ARGUMENT',
          `static_ipaddress ${a.value.address}/${a.value.prefix} has no dev: it goes on eth0, keepalived's default_interface`,
          `${a.value.address}/${a.value.prefix} dev IF, or default_interface IF in global_defs`);
      }
      return { ...a.value, dev };
    }),
    routes: routes.map((r) => r.value),
    rules: rules.map((r) => r.value),
  };
}

/** The FIFO VRRP events go to: vrrp_notify_fifo, else notify_fifo (as keepalived's VRRP process picks). */
function fifoSetup(c: Checker, ctx: TopCtx): NotifyFifo | undefined {
  const f = ctx.tune.vrrpFifo?.path ? ctx.tune.vrrpFifo : ctx.tune.fifo;
  for (const x of [ctx.tune.fifo, ctx.tune.vrrpFifo]) {
    if (x?.script && !x.path) c.error(x.script.at, 'MISSING_KEY', 'a notify FIFO script without its FIFO', 'notify_fifo /path/to/fifo (or vrrp_notify_fifo) next to the script');
  }
  if (!f?.path) return undefined;
  return { path: f.path.value, ...(f.script ? { script: f.script.value } : {}) };
}

/**
 * keepalived: "(VI_1) Strict mode does not support authentication. Ignoring." — and its installed
 * default configuration has both `vrrp_strict` and an `authentication` block. The instance runs
 * without authentication, as in keepalived (so both ends of a keepalived pair still agree).
 */
function dropStrictAuth(c: Checker, ctx: TopCtx): void {
  for (const s of ctx.instances) {
    const strict = s.strict ?? ctx.d.strict;
    if (!s.authPass || !strict?.value) continue;
    c.lenient(s.authPass.at, 'STRICT_MODE',
      `vrrp_instance '${s.name.value}': ${s.strict ? 'strict_mode' : 'vrrp_strict'} does not allow authentication; it is dropped and adverts carry no password, as keepalived does ("Strict mode does not support authentication. Ignoring.")`,
      'no authentication block with vrrp_strict (or no vrrp_strict)');
    delete s.authPass;
    delete s.authType;
  }
}

/** Same diagnostic once (global defaults are checked for each instance), in file order. */
function dedupe(list: readonly ConfigDiagnostic[]): ConfigDiagnostic[] {
  const seen = new Set<string>();
  const out: ConfigDiagnostic[] = [];
  for (const d of list) {
    const k = `${d.file}\0${d.line}\0${d.column}\0${d.code}\0${d.message}`;
    if (!seen.has(k)) { seen.add(k); out.push(d); }
  }
  const files = [...new Set(out.map((d) => d.file))];
  return out.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || byPosition(a, b));
}

/** True when `text` looks like keepalived.conf rather than YAML (used by config/load.ts to pick the parser). */
export function looksLikeKeepalived(text: string): boolean {
  return /^\s*(vrrp_instance|vrrp_sync_group|global_defs|virtual_server|virtual_server_group|vrrp_script|track_file|static_ipaddress|static_routes)\b[^\n:]*(\{|$)/m.test(text)
    || /^\s*include\s+\S/m.test(text) && !/^\s*[A-Za-z_][\w-]*\s*:(\s|$)/m.test(text);
}
