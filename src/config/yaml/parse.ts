/**
 * carpool's native configuration file (`carpool.yaml`, documented in docs/config.md) → the validated
 * model. Everything is checked before anything is returned, and every problem is collected with its
 * file:line:column (not just the first): a daemon that refuses to start should say everything that
 * is wrong at once. Pure: the password-file reader and `stat` are handed in.
 *
 * YAML 1.2 (core schema): `yes`/`no`/`on`/`off` are strings, so booleans are `true`/`false` only (with
 * a hint), and `010` is decimal. Merge keys (`<<: *defaults`) are supported so instances can share
 * settings; top-level keys starting with `x-` are ignored so anchors have somewhere to live.
 *
 * This file reads the top level and puts the sections together: CARP instances (carp.ts), VRRP
 * instances and their trackers (vrrp.ts, built by config/vrrp/), resources and groups (resources.ts),
 * load balancing (balancers.ts, built by config/balancer/), the HTTP listener (http.ts), all read
 * with the one reader in checker.ts.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { ConfigError } from '../../lib/errors.js';
import { yamlNesting } from '../input-guard.js';
import type { ConfigDiagnostic } from '../diagnostics.js';
import {
  DEFAULT_CONTROL_SOCKET, DEFAULT_STATE_DIR, type CarpoolConfig, type EtcdInstance, type Instance, type LoggingConfig,
} from '../model.js';
import { buildVrrp } from '../vrrp/build.js';
import type { VrrpInstanceSpec, VrrpSpec } from '../vrrp/spec.js';
import { FACILITY_NAMES, normalizeFacility } from '../common.js';
import { Checker, Reader, describe, type Entry, type YamlConfigOptions } from './checker.js';
import { crossCheck, readInstance, type InstanceDraft } from './carp.js';
import { isEtcdItem, readEtcdInstance } from './etcd.js';
import { readClusterSection } from './cluster.js';
import { HOST_CARP_GROUP, splitSyncGroups } from './carp-groups.js';
import { readSharingSection } from './sharing.js';
import {
  YAML_TERMS, isVrrpItem, readList, readSyncGroup, readTrackFile, readTrackProcess, readVrrpDefaults, readVrrpInstance, readVrrpScript,
} from './vrrp.js';
import { readDuration, readResourcesSection } from './resources.js';
import { readBalancersSection } from './balancers.js';
import { readHttpSection } from './http.js';
import { readNotifyFifo, readStatic } from './vrrp-fields.js';

export type { ConfigDiagnostic, ConfigDiagnosticCode } from '../diagnostics.js';
export type { YamlConfigOptions } from './checker.js';

export interface YamlConfigResult {
  readonly config: CarpoolConfig;
  readonly warnings: readonly ConfigDiagnostic[];
}

const TOP_KEYS = ['control_socket', 'state_dir', 'realtime_priority', 'hook_timeout', 'logging', 'instances', 'vrrp_defaults', 'vrrp_scripts', 'track_files', 'sync_groups', 'carp_preempt', 'sharing', 'track_processes', 'resources', 'groups', 'balancers', 'http', 'static', 'notify_fifo', 'net_namespace', 'cluster'] as const;
const LOGGING_KEYS = ['facility', 'debug', 'ident'] as const;

/**
 * Parse and validate a carpool.yaml text. Throws `ConfigError` with every problem found
 * (each a `ConfigDiagnostic`); returns the config and the warnings otherwise.
 */
export function parseCarpoolYaml(text: string, options: YamlConfigOptions = {}): YamlConfigResult {
  const file = options.file ?? '<input>';
  // The YAML library recurses per level: thousands of `[` overflow the stack or exhaust memory in it.
  const deep = yamlNesting(text, file);
  if (deep) throw new ConfigError([deep]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, merge: true, version: '1.2' });
  const c = new Checker(file, text, lines, doc);

  for (const e of doc.errors) c.error(e.pos[0], 'YAML_SYNTAX', e.message.split('\n')[0]!, 'valid YAML');
  for (const w of doc.warnings) c.warn(w.pos[0], 'YAML_WARNING', w.message.split('\n')[0]!, 'plain YAML');
  if (c.errors.length > 0) throw new ConfigError(c.errors);

  const root = doc.contents as Node | null;
  if (!root || (isScalar(root) && (root.value === null || root.value === undefined))) {
    c.error(0, 'EMPTY_CONFIG', 'the configuration is empty', "a mapping with an 'instances' list");
    throw new ConfigError(c.errors);
  }
  if (!isMap(root)) {
    c.error(root, 'NOT_A_MAPPING', `the file holds ${describe(root)}, not a carpool configuration`, "a mapping with an 'instances' list");
    throw new ConfigError(c.errors);
  }
  const top = c.entries(root, 'the configuration', 0)!;
  for (const k of [...top.keys()]) if (k.startsWith('x-')) top.delete(k); // extension fields, for anchors
  c.unknownKeys(top, TOP_KEYS, 'the configuration', { instance: 'instances', vrrp_instance: 'instances' });
  const r = new Reader(c, 'the configuration', top);

  const controlSocket = r.has('control_socket') ? r.path('control_socket', 'the control socket')?.value : DEFAULT_CONTROL_SOCKET;
  const stateDir = r.has('state_dir') ? r.path('state_dir', 'the state directory')?.value : DEFAULT_STATE_DIR;
  const carpPreempt = r.has('carp_preempt') ? r.boolean('carp_preempt') ?? false : false;
  const realtimePriority = r.has('realtime_priority') ? r.integer('realtime_priority', 1, 99)?.value : undefined;
  const hookTimeoutMs = r.has('hook_timeout') ? readDuration(c, r, 'hook_timeout', 'the configuration', false) : undefined;
  const logging = readLogging(c, top.get('logging'));
  /** Per instance `hook_timeout` (read here for both protocols: the VRRP builder does not know it). */
  const hookTimeouts = new Map<string, number>();
  const readHookTimeout = (item: Node | null, name: string | undefined) => {
    const node = c.resolve(item);
    if (!name || !node || !isMap(node)) return;
    // The instance's reader has reported its key problems already: read the keys again (merge
    // keys included) without reporting them twice.
    const [errors, warnings] = [c.errors.length, c.warnings.length];
    const entries = c.entries(node, `instance '${name}'`, 0);
    c.errors.length = errors;
    c.warnings.length = warnings;
    if (!entries?.has('hook_timeout')) return;
    const ms = readDuration(c, new Reader(c, `instance '${name}'`, entries), 'hook_timeout', `instance '${name}'`, false);
    if (ms !== undefined) hookTimeouts.set(name, ms);
  };
  const http = readHttpSection(c, top.get('http'));
  const staticSetup = readStatic(c, top.get('static'));
  const notifyFifo = readNotifyFifo(c, top.get('notify_fifo'));
  const netNamespace = r.has('net_namespace') ? r.string('net_namespace', 'a network namespace name (ip netns add NAME)') : undefined;
  if (netNamespace && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(netNamespace.value)) {
    c.error(netNamespace.node, 'INVALID_VALUE', `net_namespace: '${netNamespace.value}' is not a namespace name`, 'a name as `ip netns add` takes');
  }

  const cluster = readClusterSection(c, top.get('cluster'), options);

  const drafts: InstanceDraft[] = [];
  const vrrpSpecs: VrrpInstanceSpec[] = [];
  const slots: ({ carp: InstanceDraft } | { vrrp: string })[] = [];
  let vrrpFailed = false;
  const etcdInstances: EtcdInstance[] = [];
  let etcdFailed = false;
  let hasInlinePassword = false;
  if (!top.has('instances')) {
    c.error(root, 'MISSING_KEY', "missing 'instances'", 'a list of instances');
  } else {
    const list = c.resolve(top.get('instances')!.value);
    // `instances: []` with `balancers:`: a load balancer alone (keepalived runs a file with only
    // virtual_server blocks; `carpool convert` writes it so).
    const balancerOnly = isSeq(list) && list.items.length === 0 && (top.has('balancers') || top.has('sharing'));
    if (balancerOnly) {
      // nothing to read
    } else if (!list || !isSeq(list) || list.items.length === 0) {
      c.error(list ?? top.get('instances')!.keyNode, list && !isSeq(list) ? 'INVALID_TYPE' : 'NO_VALUE',
        `instances: got ${list && isSeq(list) ? 'an empty list' : describe(list)}`, 'a list with at least one instance');
    } else {
      list.items.forEach((item, i) => {
        if (isEtcdItem(c, item as Node | null)) {
          const e = readEtcdInstance(c, item as Node | null, i, list as Node, options, cluster?.etcd);
          if (e) { etcdInstances.push(e); readHookTimeout(item as Node | null, e.name); } else etcdFailed = true;
          return;
        }
        if (isVrrpItem(c, item as Node | null)) {
          const spec = readVrrpInstance(c, item as Node | null, i, list as Node);
          if (spec) { vrrpSpecs.push(spec); slots.push({ vrrp: spec.name.value }); } else vrrpFailed = true;
          readHookTimeout(item as Node | null, spec?.name.value);
          hasInlinePassword ||= spec?.authPass !== undefined;
          return;
        }
        const d = readInstance(c, item as Node | null, i, list as Node, options);
        if (d) {
          readHookTimeout(item as Node | null, d.draft.instance?.name);
          drafts.push(d.draft);
          slots.push({ carp: d.draft });
          hasInlinePassword ||= d.inlinePassword;
        }
      });
    }
  }

  crossCheck(c, drafts);
  const carpNames = new Set(drafts.flatMap((d) => (d.name ? [d.name.value] : [])));
  const groups = splitSyncGroups(c, readList(c, top.get('sync_groups'), 'sync_groups', readSyncGroup), carpNames, carpPreempt);
  const carpGroups = carpPreempt && carpNames.size > 0 ? [{ name: HOST_CARP_GROUP, members: [...carpNames] }] : groups.carp;
  const vrrpSpec: VrrpSpec = {
    defaults: readVrrpDefaults(c, top.get('vrrp_defaults')),
    instances: vrrpSpecs,
    scripts: readList(c, top.get('vrrp_scripts'), 'vrrp_scripts', readVrrpScript),
    trackFiles: readList(c, top.get('track_files'), 'track_files', readTrackFile),
    trackProcesses: readList(c, top.get('track_processes'), 'track_processes', readTrackProcess),
    syncGroups: groups.vrrp,
  };
  for (const v of vrrpSpecs) {
    if (carpNames.has(v.name.value)) {
      c.errors.push({ file, line: v.name.at.line, column: v.name.at.column, code: 'DUPLICATE_NAME', severity: 'error',
        message: `instance name '${v.name.value}' is used by a CARP and a VRRP instance`, expected: 'a unique name per instance' });
    }
  }
  const built = buildVrrp(vrrpSpec, YAML_TERMS, (severity, code, at, message, expected) => {
    const dup = (severity === 'error' ? c.errors : c.warnings).some((d) => d.line === at.line && d.column === at.column && d.message === message);
    if (!dup) (severity === 'error' ? c.errors : c.warnings).push({ file, line: at.line, column: at.column, message, expected, code, severity });
  });
  const resources = readResourcesSection(c, top, [...carpNames, ...vrrpSpecs.map((v) => v.name.value)]);
  const sharing = readSharingSection(c, top.get('sharing'), drafts.flatMap((d) => (d.instance ? [d.instance] : [])));
  const balancers = readBalancersSection(c, top.get('balancers'), vrrpSpec.trackFiles.map((f) => f.name.value), built.trackFiles);

  if (hasInlinePassword && options.file && options.statMode) {
    const mode = options.statMode(options.file);
    if (mode !== undefined && (mode & 0o044) !== 0) {
      c.warn(0, 'CONFIG_PERMISSIONS',
        `${options.file} contains passwords and is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`,
        'chmod 600, or password_file')
    }
  }

  const byPosition = (a: ConfigDiagnostic, b: ConfigDiagnostic) => a.line - b.line || a.column - b.column;
  const byName = new Map(built.instances.map((v) => [v.name, v]));
  const withTimeout = <T extends Instance | EtcdInstance>(i: T): T => {
    const ms = hookTimeouts.get(i.name) ?? hookTimeoutMs;
    return ms === undefined ? i : { ...i, hookTimeoutMs: ms };
  };
  const instances = slots.flatMap((s): Instance[] => {
    if ('carp' in s) return s.carp.instance ? [withTimeout(carpPreempt ? { ...s.carp.instance, preempt: true } : s.carp.instance)] : [];
    const v = byName.get(s.vrrp);
    return v ? [withTimeout(v)] : [];
  });
  if (c.errors.length > 0 || vrrpFailed || etcdFailed || (r.has('hook_timeout') && hookTimeoutMs === undefined) || !controlSocket || !stateDir || !logging || !http.ok || !staticSetup.ok || !notifyFifo.ok || cluster === undefined || instances.length !== slots.length) {
    throw new ConfigError([...c.errors].sort(byPosition));
  }
  return {
    config: {
      source: file, instances, logging, controlSocket, stateDir,
      vrrpScripts: built.vrrpScripts, trackFiles: built.trackFiles, syncGroups: built.syncGroups,
      ...(built.trackProcesses.length > 0 ? { trackProcesses: built.trackProcesses } : {}),
      ...(carpGroups.length ? { carpGroups } : {}),
      ...(etcdInstances.length ? { etcdInstances: etcdInstances.map(withTimeout) } : {}),
      ...(cluster ? { cluster } : {}),
      ...(sharing.length ? { sharing } : {}),
      ...(resources ? { resources } : {}),
      ...(balancers ? { balancers } : {}),
      ...(realtimePriority !== undefined ? { realtimePriority } : {}),
      ...(hookTimeoutMs !== undefined ? { hookTimeoutMs } : {}),
      ...(http.http ? { http: http.http } : {}),
      ...(staticSetup.value ? { static: staticSetup.value } : {}),
      ...(notifyFifo.value ? { notifyFifo: notifyFifo.value } : {}),
      ...(netNamespace ? { netNamespace: netNamespace.value } : {}),
    },
    warnings: [...c.warnings].sort(byPosition),
  };
}

function readLogging(c: Checker, entry: Entry | undefined): LoggingConfig | undefined {
  const defaults: LoggingConfig = { facility: 'daemon', debug: false, ident: 'carpool' };
  if (!entry) return defaults;
  const entries = c.entries(entry.value, 'logging', entry.keyNode);
  if (!entries) return undefined;
  c.unknownKeys(entries, LOGGING_KEYS, 'logging');
  const r = new Reader(c, 'logging', entries);
  let facility = defaults.facility;
  let ok = true;
  if (r.has('facility')) {
    const f = r.string('facility', `a syslog facility: ${FACILITY_NAMES.join(', ')}`);
    const norm = f ? normalizeFacility(f.value) : undefined;
    if (f && !norm) {
      c.error(f.node, 'INVALID_VALUE', `facility in logging: unknown syslog facility '${f.value}'`, `one of ${FACILITY_NAMES.join(', ')}`);
    }
    if (norm) facility = norm; else ok = false;
  }
  let debug = defaults.debug;
  if (r.has('debug')) {
    const b = r.boolean('debug');
    if (b === undefined) ok = false; else debug = b;
  }
  let ident = defaults.ident;
  if (r.has('ident')) {
    const s = r.string('ident', 'a syslog ident such as carpool');
    if (s && !/^[^\s]{1,64}$/.test(s.value)) {
      c.error(s.node, 'INVALID_VALUE', `ident in logging: '${s.value}' is not a usable syslog ident`, '1..64 characters without blanks');
      ok = false;
    } else if (s) ident = s.value; else ok = false;
  }
  return ok ? { facility, debug, ident } : undefined;
}
