/**
 * carpool's native configuration file (`carpool.yaml`, documented in docs/config.md) → the validated
 * model. Everything is checked before anything is returned, and every problem is collected with its
 * file:line:column (not just the first): a daemon that refuses to start should say everything that
 * is wrong at once. Pure: the password-file reader and `stat` are handed in.
 *
 * YAML 1.2 (core schema): `yes`/`no`/`on`/`off` are strings, so booleans are `true`/`false` only (with
 * a hint), and `010` is decimal. Merge keys (`<<: *defaults`) are supported so instances can share
 * settings; top-level keys starting with `x-` are ignored so anchors have somewhere to live.
 */
import { posix } from 'node:path';
import {
  LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node,
} from 'yaml';
import { ConfigError } from '../lib/errors.js';
import type { ConfigDiagnostic, ConfigDiagnosticCode } from './diagnostics.js';
import { parseCidr, parseIPv4 } from '../protocol/inet.js';
import {
  CARP_MCAST, DEFAULT_CONTROL_SOCKET, DEFAULT_STATE_DIR, type CarpInstance, type CarpoolConfig, type Hook, type Instance, type LoggingConfig,
  type VirtualAddress, type VirtualRoute,
} from './model.js';
import type { SourceLoc } from './diagnostics.js';
import {
  buildVrrp, type At, type GarpSpec, type NotifySpec, type SyncGroupSpec, type Terms, type TrackFileSpec, type TrackRefSpec,
  type VrrpDefaultsSpec, type VrrpInstanceSpec, type VrrpScriptSpec, type VrrpSpec,
} from './vrrp-build.js';
import { readResourcesSection } from './resources-yaml.js';
import {
  FACILITY_NAMES, PASSWORD_MAX_BYTES, baseDevice, byteLength, defaultInstanceName, isIPv4Multicast, normalizeFacility,
  splitCommand, suggest,
  passwordFromFile,
} from './common.js';

export type { ConfigDiagnostic, ConfigDiagnosticCode } from './diagnostics.js';

export interface YamlConfigOptions {
  /** Path of the file, for diagnostics, `config.source` and resolving a relative `password_file`. */
  readonly file?: string;
  /** Reads a `password_file`; throws (any Error) when it cannot. Without it password_file is an error. */
  readonly readFile?: (path: string) => string;
  /** `st_mode` of a path, or undefined if unknown; enables the permission warnings. */
  readonly statMode?: (path: string) => number | undefined;
}

export interface YamlConfigResult {
  readonly config: CarpoolConfig;
  readonly warnings: readonly ConfigDiagnostic[];
}

const TOP_KEYS = ['control_socket', 'state_dir', 'realtime_priority', 'logging', 'instances', 'vrrp_defaults', 'vrrp_scripts', 'track_files', 'sync_groups', 'resources', 'groups'] as const;
const LOGGING_KEYS = ['facility', 'debug', 'ident'] as const;
const INSTANCE_KEYS = [
  'name', 'protocol', 'interface', 'source', 'vhid', 'password', 'password_file', 'advbase', 'advskew', 'deadratio',
  'preempt', 'neutral', 'addresses', 'mcast', 'nomcast', 'ignore_ifstate', 'shutdown_hooks', 'hooks',
] as const;
const ADDRESS_KEYS = ['address', 'label', 'dev', 'broadcast'] as const;
const HOOK_KEYS = ['up', 'down', 'xparam', 'shell'] as const;

/**
 * Names people bring from ucarp and keepalived, mapped to ours (suggested when edit distance alone
 * would not find them).
 */
const INSTANCE_ALIASES: Readonly<Record<string, string>> = {
  srcip: 'source', src: 'source', source_ip: 'source', vip: 'addresses', vips: 'addresses', addr: 'addresses', address: 'addresses',
  virtual_ipaddress: 'addresses', pass: 'password', auth_pass: 'password', passfile: 'password_file', vid: 'vhid',
  virtual_router_id: 'vhid', advert_int: 'advbase', upscript: "hooks: { up: ... }", downscript: "hooks: { down: ... }",
  up: "hooks: { up: ... }", down: "hooks: { down: ... }", xparam: "hooks: { xparam: ... }", ignoreifstate: 'ignore_ifstate',
  shutdown: 'shutdown_hooks', iface: 'interface', dev: 'interface', mcastip: 'mcast',
  priority: 'advskew (CARP has no priority: the node with the lower advskew is preferred)',
};

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/;

export type Where = string;

export interface Entry {
  readonly key: string;
  readonly keyNode: Node;
  readonly value: Node | null;
}

export class Checker {
  readonly errors: ConfigDiagnostic[] = [];
  readonly warnings: ConfigDiagnostic[] = [];

  constructor(
    readonly file: string,
    readonly text: string,
    readonly lines: LineCounter,
    readonly doc: Document.Parsed,
  ) {}

  pos(at: Node | number | null | undefined): { line: number; column: number } {
    const offset = typeof at === 'number' ? at : at?.range?.[0] ?? 0;
    const p = this.lines.linePos(offset);
    return { line: Math.max(1, p.line), column: Math.max(1, p.col) };
  }

  error(at: Node | number | null | undefined, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.errors.push({ file: this.file, ...this.pos(at), message, expected, code, severity: 'error' });
  }

  warn(at: Node | number | null | undefined, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.warnings.push({ file: this.file, ...this.pos(at), message, expected, code, severity: 'warning' });
  }

  resolve(node: Node | null | undefined): Node | null {
    if (!node) return null;
    if (isAlias(node)) return node.resolve(this.doc) ?? null;
    return node;
  }

  /** Source text of a node (for the leading-zero check). */
  source(node: Node): string {
    const r = node.range;
    return r ? this.text.slice(r[0], r[1]) : '';
  }

  /**
   * Entries of a mapping, with merge keys applied (explicit keys win, then earlier merges) and
   * duplicate keys reported. Undefined (and a diagnostic) when `node` is not a mapping.
   */
  entries(node: Node | null, where: Where, fallback: Node | number | null): Map<string, Entry> | undefined {
    const map = this.resolve(node);
    if (!map || !isMap(map)) {
      this.error(map ?? fallback, map ? 'INVALID_TYPE' : 'NO_VALUE', `${where}: got ${describe(map)}`, 'a mapping of key: value lines');
      return undefined;
    }
    const out = new Map<string, Entry>();
    const merged: Entry[] = [];
    for (const pair of map.items) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key === 'symbol' || key === '<<') {
        this.mergeInto(merged, pair.value as Node | null, where, keyNode);
        continue;
      }
      if (typeof key !== 'string') {
        this.error(keyNode ?? map, 'INVALID_TYPE', `${where}: a key is ${describe(keyNode)}`, 'plain text keys');
        continue;
      }
      const prev = out.get(key);
      if (prev) {
        this.error(keyNode, 'DUPLICATE_KEY', `duplicate key '${key}' in ${where} (first at line ${this.pos(prev.keyNode).line})`,
          'each key once');
        continue;
      }
      out.set(key, { key, keyNode: keyNode!, value: (pair.value as Node | null) ?? null });
    }
    for (const e of merged) if (!out.has(e.key)) out.set(e.key, e);
    return out;
  }

  private mergeInto(merged: Entry[], value: Node | null, where: Where, at: Node | null): void {
    const sources = isSeq(value) ? (value.items as Node[]) : [value];
    for (const s of sources) {
      const m = this.resolve(s);
      if (!m || !isMap(m)) {
        this.error(s ?? at, 'INVALID_TYPE', `${where}: '<<' merges ${describe(m)}`, 'an alias of a mapping (<<: *defaults)');
        continue;
      }
      const inner = this.entries(m, where, at);
      for (const e of inner?.values() ?? []) if (!merged.some((x) => x.key === e.key)) merged.push(e);
    }
  }

  /** Report keys not in `allowed`, suggesting the nearest one. */
  unknownKeys(entries: Map<string, Entry>, allowed: readonly string[], where: Where, aliases: Readonly<Record<string, string>> = {}): void {
    for (const e of entries.values()) {
      if (allowed.includes(e.key)) continue;
      const guess = aliases[e.key.toLowerCase()] ?? suggest(e.key, allowed);
      this.error(e.keyNode, 'UNKNOWN_KEY',
        `unknown key '${e.key}' in ${where}${guess ? ` — did you mean '${guess}'?` : ''}`, `one of ${allowed.join(', ')}`);
    }
  }
}

export function describe(node: Node | null | undefined): string {
  if (!node) return 'nothing';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'nothing (null)';
    if (typeof v === 'string') return `'${v}'`;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    return 'a value';
  }
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'a value';
}

/** Typed readers: each reports its own diagnostic and returns undefined on failure. */
export class Reader {
  constructor(private readonly c: Checker, private readonly where: Where, private readonly entries: Map<string, Entry>) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  node(key: string): Node | null {
    return this.entries.get(key)?.value ?? null;
  }

  keyNode(key: string): Node | undefined {
    return this.entries.get(key)?.keyNode;
  }

  /** The scalar value node, or undefined with a diagnostic when the key has no value. */
  private scalar(key: string, expected: string): { node: Node; value: unknown } | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const node = this.c.resolve(e.value);
    if (!node || (isScalar(node) && (node.value === null || node.value === undefined))) {
      this.c.error(e.keyNode, 'NO_VALUE', `${key} in ${this.where} has no value (leave the key out for the default)`, expected);
      return undefined;
    }
    if (!isScalar(node)) {
      this.c.error(node, 'INVALID_TYPE', `${key} in ${this.where}: got ${describe(node)}`, expected);
      return undefined;
    }
    return { node, value: node.value };
  }

  string(key: string, expected: string): { value: string; node: Node } | undefined {
    const s = this.scalar(key, expected);
    if (!s) return undefined;
    if (typeof s.value !== 'string') {
      this.c.error(s.node, 'INVALID_TYPE', `${key} in ${this.where}: got ${describe(s.node)} — quote it to make it text: '${this.c.source(s.node)}'`, expected);
      return undefined;
    }
    return { value: s.value, node: s.node };
  }

  integer(key: string, min: number, max: number): { value: number; node: Node } | undefined {
    const expected = `an integer ${min}..${max}`;
    const s = this.scalar(key, expected);
    if (!s) return undefined;
    if (typeof s.value === 'string') {
      const quoted = /^\s*-?\d+\s*$/.test(s.value);
      this.c.error(s.node, 'INVALID_TYPE',
        `${key} in ${this.where}: got ${quoted ? `the text '${s.value}' — remove the quotes` : `'${s.value}'`}`, expected);
      return undefined;
    }
    if (typeof s.value !== 'number' || !Number.isInteger(s.value)) {
      this.c.error(s.node, 'INVALID_TYPE', `${key} in ${this.where}: got ${describe(s.node)}`, expected);
      return undefined;
    }
    if (s.value < min || s.value > max) {
      this.c.error(s.node, 'OUT_OF_RANGE', `${key} in ${this.where}: got ${s.value}`, expected);
      return undefined;
    }
    const src = this.c.source(s.node);
    if (/^[+-]?0\d/.test(src)) {
      this.c.warn(s.node, 'DECIMAL_LEADING_ZERO',
        `${key} in ${this.where}: ${src} is decimal ${s.value} in YAML 1.2 (ucarp would read it as octal)`, `${s.value} without the leading zero`);
    }
    return { value: s.value, node: s.node };
  }

  boolean(key: string): boolean | undefined {
    const expected = 'true or false';
    const s = this.scalar(key, expected);
    if (!s) return undefined;
    if (typeof s.value === 'boolean') return s.value;
    let hint = '';
    if (typeof s.value === 'string' && /^(y|yes|on|n|no|off)$/i.test(s.value)) {
      const t = /^(y|yes|on)$/i.test(s.value);
      hint = ` — YAML 1.2 reads ${s.value} as text; write ${t}`;
    }
    this.c.error(s.node, 'INVALID_TYPE', `${key} in ${this.where}: got ${describe(s.node)}${hint}`, expected);
    return undefined;
  }

  ipv4(key: string, what: string): { value: string; node: Node } | undefined {
    const expected = `${what}, a dotted IPv4 address such as 10.0.0.1`;
    const s = this.string(key, expected);
    if (!s) return undefined;
    if (!parseIPv4(s.value) || s.value === '0.0.0.0') {
      this.c.error(s.node, 'INVALID_ADDRESS', `${key} in ${this.where}: '${s.value}' is not usable`, expected);
      return undefined;
    }
    return s;
  }

  /** An absolute path (no NUL). */
  path(key: string, what: string): { value: string; node: Node } | undefined {
    const expected = `${what}, an absolute path`;
    const s = this.string(key, expected);
    if (!s) return undefined;
    if (!s.value.startsWith('/') || s.value.includes('\0')) {
      this.c.error(s.node, 'INVALID_VALUE', `${key} in ${this.where}: '${s.value}' is not an absolute path`, expected);
      return undefined;
    }
    return s;
  }
}

/** Linux interface names: 1..15 bytes (IFNAMSIZ 16 with the NUL), no '/', no blanks, not . or .. */
export function validIfname(name: string): boolean {
  return name.length > 0 && byteLength(name) <= 15 && !/[/\s]/.test(name) && name !== '.' && name !== '..';
}

/**
 * What one instance entry yielded: the instance when it is valid, and in any case the parts the
 * cross-instance checks need, so a duplicate is reported even next to other errors.
 */
interface InstanceDraft {
  readonly instance?: CarpInstance;
  readonly name?: { readonly value: string; readonly node: Node };
  readonly iface?: string;
  readonly vhid?: { readonly value: number; readonly node: Node };
  readonly addresses: readonly { readonly address: VirtualAddress; readonly node: Node }[];
}

/**
 * Parse and validate a carpool.yaml text. Throws `ConfigError` with every problem found
 * (each a `ConfigDiagnostic`); returns the config and the warnings otherwise.
 */
export function parseCarpoolYaml(text: string, options: YamlConfigOptions = {}): YamlConfigResult {
  const file = options.file ?? '<input>';
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
  const realtimePriority = r.has('realtime_priority') ? r.integer('realtime_priority', 1, 99)?.value : undefined;
  const logging = readLogging(c, top.get('logging'));

  const drafts: InstanceDraft[] = [];
  const vrrpSpecs: VrrpInstanceSpec[] = [];
  const slots: ({ carp: InstanceDraft } | { vrrp: string })[] = [];
  let vrrpFailed = false;
  let hasInlinePassword = false;
  if (!top.has('instances')) {
    c.error(root, 'MISSING_KEY', "missing 'instances'", 'a list of instances');
  } else {
    const list = c.resolve(top.get('instances')!.value);
    if (!list || !isSeq(list) || list.items.length === 0) {
      c.error(list ?? top.get('instances')!.keyNode, list && !isSeq(list) ? 'INVALID_TYPE' : 'NO_VALUE',
        `instances: got ${list && isSeq(list) ? 'an empty list' : describe(list)}`, 'a list with at least one instance');
    } else {
      list.items.forEach((item, i) => {
        if (isVrrpItem(c, item as Node | null)) {
          const spec = readVrrpInstance(c, item as Node | null, i, list as Node);
          if (spec) { vrrpSpecs.push(spec); slots.push({ vrrp: spec.name.value }); } else vrrpFailed = true;
          hasInlinePassword ||= spec?.authPass !== undefined;
          return;
        }
        const d = readInstance(c, item as Node | null, i, list as Node, options);
        if (d) {
          drafts.push(d.draft);
          slots.push({ carp: d.draft });
          hasInlinePassword ||= d.inlinePassword;
        }
      });
    }
  }

  crossCheck(c, drafts);
  const vrrpSpec: VrrpSpec = {
    defaults: readVrrpDefaults(c, top.get('vrrp_defaults')),
    instances: vrrpSpecs,
    scripts: readList(c, top.get('vrrp_scripts'), 'vrrp_scripts', readVrrpScript),
    trackFiles: readList(c, top.get('track_files'), 'track_files', readTrackFile),
    syncGroups: readList(c, top.get('sync_groups'), 'sync_groups', readSyncGroup),
  };
  const carpNames = new Set(drafts.flatMap((d) => (d.name ? [d.name.value] : [])));
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
  const instances = slots.flatMap((s): Instance[] => {
    if ('carp' in s) return s.carp.instance ? [s.carp.instance] : [];
    const v = byName.get(s.vrrp);
    return v ? [v] : [];
  });
  if (c.errors.length > 0 || vrrpFailed || !controlSocket || !stateDir || !logging || instances.length !== slots.length) {
    throw new ConfigError([...c.errors].sort(byPosition));
  }
  return {
    config: {
      source: file, instances, logging, controlSocket, stateDir,
      vrrpScripts: built.vrrpScripts, trackFiles: built.trackFiles, syncGroups: built.syncGroups,
      ...(resources ? { resources } : {}),
      ...(realtimePriority !== undefined ? { realtimePriority } : {}),
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

function readInstance(c: Checker, item: Node | null, index: number, list: Node, options: YamlConfigOptions):
  { draft: InstanceDraft; inlinePassword: boolean } | undefined {
  const node = c.resolve(item) ?? list;
  // A readable label for messages: the name, else <interface>-vhid<vhid>, else the position.
  // Peeked from the raw pairs, so even duplicate-key messages can use it.
  const peek = (k: string): unknown => {
    if (!isMap(node)) return undefined;
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === k);
    const v = c.resolve(pair?.value as Node | null);
    return isScalar(v) ? v.value : undefined;
  };
  const pn = peek('name');
  const pi = peek('interface');
  const pv = peek('vhid');
  const where = typeof pn === 'string' && pn !== '' ? `instance '${pn}'`
    : typeof pi === 'string' && typeof pv === 'number' ? `instance '${defaultInstanceName(pi, pv)}'` : `instance #${index + 1}`;
  const entries = c.entries(item, where, list);
  if (!entries) return undefined;

  c.unknownKeys(entries, INSTANCE_KEYS, where, INSTANCE_ALIASES);
  const r = new Reader(c, where, entries);
  const errorsBefore = c.errors.length;
  const missing = (key: string, expected: string, message = `missing '${key}' in ${where}`) => {
    c.error(node, 'MISSING_KEY', message, expected);
  };

  if (r.has('protocol')) {
    const p = r.string('protocol', 'carp or vrrp');
    if (p && p.value !== 'carp') {
      c.error(p.node, 'INVALID_VALUE', `protocol in ${where}: unknown protocol '${p.value}'`, 'carp or vrrp');
    }
  }

  const ifaceS = r.has('interface') ? r.string('interface', 'a network interface name such as eth0') : undefined;
  if (!r.has('interface')) missing('interface', 'a network interface name such as eth0');
  if (ifaceS && !validIfname(ifaceS.value)) {
    c.error(ifaceS.node, 'INVALID_VALUE', `interface in ${where}: '${ifaceS.value}' is not a valid interface name`,
      '1..15 bytes without / or blanks');
  }
  const iface = ifaceS?.value;

  const vhidS = r.has('vhid') ? r.integer('vhid', 1, 255) : undefined;
  if (!r.has('vhid')) missing('vhid', 'an integer 1..255, the same on every node of the group');

  let name: { value: string; node: Node } | undefined;
  if (r.has('name')) {
    const n = r.string('name', 'a name of letters, digits and _ . : @ -');
    if (n && !NAME_RE.test(n.value)) {
      c.error(n.node, 'INVALID_VALUE', `name in ${where}: '${n.value}' is not a usable name`,
        '1..64 letters, digits and _ . : @ -, starting with a letter or digit');
    } else if (n) {
      name = n;
    }
  } else if (iface && vhidS) {
    name = { value: defaultInstanceName(iface, vhidS.value), node };
  }

  const source = r.has('source') ? r.ipv4('source', "this host's own address on the interface") : undefined;

  // Password: exactly one of password / password_file.
  let password: string | undefined;
  const pwExpected = `a non-empty password of at most ${PASSWORD_MAX_BYTES} bytes`;
  if (r.has('password') && r.has('password_file')) {
    c.error(r.keyNode('password_file'), 'PASSWORD_CONFLICT', `${where} has both password and password_file`, 'exactly one of them');
  } else if (r.has('password')) {
    const p = r.string('password', pwExpected);
    if (p) password = checkPassword(c, p.value, p.node, `password in ${where}`);
  } else if (r.has('password_file')) {
    password = readPasswordFile(c, r, where, options);
  } else {
    missing('password', `password: or password_file: (${pwExpected})`, `${where} needs 'password' or 'password_file'`);
  }

  const advbase = r.has('advbase') ? r.integer('advbase', 0, 255) : { value: 1, node };
  const advskew = r.has('advskew') ? r.integer('advskew', 0, 255) : { value: 0, node };
  if (advbase && advskew && advbase.value === 0 && advskew.value === 0) {
    c.error(r.keyNode('advbase') ?? node, 'NO_ADVERTISEMENT_INTERVAL',
      `${where}: advbase 0 needs advskew > 0 (the interval is advbase + advskew/256 seconds)`, 'advbase ≥ 1, or advskew ≥ 1');
  }
  if (advbase?.value === 255 && advskew?.value === 255) {
    c.warn(advbase.node, 'BOW_OUT_TIMING', `${where}: advbase 255 with advskew 255 is the BSD "bow out" signal: a master sends one advert and then stays silent`,
      'a smaller advbase or advskew');
  }
  const deadratio = r.has('deadratio') ? r.integer('deadratio', 1, 255) : { value: 3, node };

  const bool = (key: string, dflt: boolean) => (r.has(key) ? r.boolean(key) : dflt);
  const preempt = bool('preempt', false);
  const neutral = bool('neutral', false);
  const nomcast = bool('nomcast', false);
  const ignoreIfState = bool('ignore_ifstate', false);
  const shutdownHooks = bool('shutdown_hooks', true);

  let mcast = CARP_MCAST;
  if (r.has('mcast')) {
    const m = r.ipv4('mcast', 'the multicast group, normally 224.0.0.18');
    if (m && !isIPv4Multicast(m.value)) {
      if (nomcast) {
        c.warn(m.node, 'MCAST_NOT_MULTICAST', `mcast in ${where}: ${m.value} is not a multicast address; with nomcast adverts still carry it as IP destination`,
          'an address in 224.0.0.0/4');
      } else {
        c.error(m.node, 'INVALID_ADDRESS', `mcast in ${where}: ${m.value} is not a multicast address`, 'an address in 224.0.0.0/4, normally 224.0.0.18');
      }
    }
    if (m) mcast = m.value;
  }

  const addresses: { address: VirtualAddress; node: Node }[] = [];
  if (!r.has('addresses')) {
    missing('addresses', 'a list of virtual IPv4 addresses such as 10.0.0.100/24');
  } else {
    readAddresses(c, r, where, iface, source?.value, addresses);
  }

  const hooks = r.has('hooks') ? readHooks(c, entries.get('hooks')!, where) : {};

  const partial: InstanceDraft = {
    ...(name ? { name } : {}), ...(iface && validIfname(iface) ? { iface } : {}), ...(vhidS ? { vhid: vhidS } : {}), addresses,
  };
  const inlinePassword = r.has('password');
  if (c.errors.length > errorsBefore || !iface || !vhidS || !name || password === undefined || !advbase || !advskew || !deadratio
    || preempt === undefined || neutral === undefined || nomcast === undefined || ignoreIfState === undefined
    || shutdownHooks === undefined || !hooks) {
    return { draft: partial, inlinePassword };
  }
  const instance: CarpInstance = {
    kind: 'carp',
    name: name.value,
    interface: iface,
    ...(source ? { srcip: source.value } : {}),
    vhid: vhidS.value,
    password,
    advbase: advbase.value,
    advskew: advskew.value,
    deadratio: deadratio.value,
    preempt,
    neutral,
    addresses: addresses.map((a) => a.address),
    mcast,
    nomcast,
    manageAddresses: true,
    ...(hooks.up ? { upHook: hooks.up } : {}),
    ...(hooks.down ? { downHook: hooks.down } : {}),
    ...(hooks.xparam !== undefined ? { xparam: hooks.xparam } : {}),
    shutdownHooks,
    ignoreIfState,
  };
  return { draft: { ...partial, instance }, inlinePassword };
}

function checkPassword(c: Checker, value: string, at: Node | null, what: string): string | undefined {
  const expected = `a non-empty password of at most ${PASSWORD_MAX_BYTES} bytes`;
  if (value === '') {
    c.error(at, 'INVALID_VALUE', `${what} is empty`, expected);
    return undefined;
  }
  const n = byteLength(value);
  if (n > PASSWORD_MAX_BYTES) {
    c.error(at, 'PASSWORD_TOO_LONG', `${what} is too long: ${n} bytes (ucarp and carpool accept at most ${PASSWORD_MAX_BYTES})`, expected);
    return undefined;
  }
  return value;
}

/** Same rules as ucarp's --passfile (first line, newline stripped), so one file serves both. */
function readPasswordFile(c: Checker, r: Reader, where: Where, options: YamlConfigOptions): string | undefined {
  const p = r.string('password_file', 'the path of a file whose first line is the password');
  if (!p) return undefined;
  const keyNode = r.keyNode('password_file') ?? p.node;
  const base = options.file && options.file.startsWith('/') ? posix.dirname(options.file) : undefined;
  const path = p.value.startsWith('/') ? p.value : base ? posix.resolve(base, p.value) : undefined;
  const expected = 'a readable file whose first line is the password';
  if (!path) {
    c.error(p.node, 'INVALID_VALUE', `password_file in ${where}: '${p.value}' is relative and there is no config file to resolve it against`,
      'an absolute path');
    return undefined;
  }
  if (!options.readFile) {
    c.error(keyNode, 'PASSWORD_FILE_UNREADABLE', `password_file in ${where}: cannot read ${path} (no file reader given)`, expected);
    return undefined;
  }
  let text: string;
  try {
    text = options.readFile(path);
  } catch (e) {
    c.error(keyNode, 'PASSWORD_FILE_UNREADABLE',
      `password_file in ${where}: cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, expected);
    return undefined;
  }
  const { password: line, endsWithCR } = passwordFromFile(text);
  if (endsWithCR) {
    c.warn(keyNode, 'PASSWORD_CR', `password_file in ${where}: ${path} has a DOS line ending; the carriage return is part of the password (as in ucarp)`,
      'a file with Unix line endings');
  }
  const mode = options.statMode?.(path);
  if (mode !== undefined && (mode & 0o044) !== 0) {
    c.warn(keyNode, 'PASSWORD_FILE_PERMISSIONS',
      `password_file in ${where}: ${path} is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`, 'chmod 600');
  }
  return checkPassword(c, line, keyNode, `the password in ${path} (password_file in ${where})`);
}

function readAddresses(c: Checker, r: Reader, where: Where, iface: string | undefined, source: string | undefined,
  out: { address: VirtualAddress; node: Node }[]): void {
  const expected = 'a list of virtual IPv4 addresses such as 10.0.0.100/24';
  const list = c.resolve(r.node('addresses'));
  if (!list || !isSeq(list) || list.items.length === 0) {
    c.error(list ?? r.keyNode('addresses'), list && !isSeq(list) ? 'INVALID_TYPE' : 'NO_VALUE',
      `addresses in ${where}: got ${list && isSeq(list) ? 'an empty list' : describe(list)}`, expected);
    return;
  }
  const seen = new Map<string, Node>();
  list.items.forEach((raw, i) => {
    const item = c.resolve(raw as Node | null);
    const what = `address #${i + 1} of ${where}`;
    let addrNode: Node | null = item;
    let addrText: unknown;
    let extra: { dev?: string; label?: string; broadcast?: string } = {};
    if (item && isMap(item)) {
      const entries = c.entries(item, what, list);
      if (!entries) return;
      c.unknownKeys(entries, ADDRESS_KEYS, what, { prefix: 'address (write it as address/prefix)', brd: 'broadcast', device: 'dev', interface: 'dev' });
      const ar = new Reader(c, what, entries);
      if (!entries.has('address')) {
        c.error(item, 'MISSING_KEY', `missing 'address' in ${what}`, 'address: 10.0.0.100/24');
        return;
      }
      const a = ar.string('address', 'an IPv4 address with optional /prefix');
      if (!a) return;
      addrNode = a.node;
      addrText = a.value;
      const dev = entries.has('dev') ? ar.string('dev', 'a network interface name') : undefined;
      if (dev && !validIfname(dev.value)) {
        c.error(dev.node, 'INVALID_VALUE', `dev in ${what}: '${dev.value}' is not a valid interface name`, '1..15 bytes without / or blanks');
      }
      const label = entries.has('label') ? ar.string('label', 'an address label such as eth0:1') : undefined;
      const device = baseDevice(dev?.value ?? iface ?? '');
      if (label && (!validIfname(label.value) || !label.value.startsWith(device))) {
        // iproute2: '"dev" (eth0) must match "label" (...)', and labels share the 15-byte name limit.
        c.error(label.node, 'INVALID_VALUE', `label in ${what}: '${label.value}' must start with the device name '${device}' and fit in 15 bytes`,
          `a label such as ${device}:1`);
      }
      const brd = entries.has('broadcast') ? ar.ipv4('broadcast', 'the broadcast address') : undefined;
      extra = { ...(dev ? { dev: dev.value } : {}), ...(label ? { label: label.value } : {}), ...(brd ? { broadcast: brd.value } : {}) };
      if ((entries.has('dev') && !dev) || (entries.has('label') && !label) || (entries.has('broadcast') && !brd)) return;
    } else if (item && isScalar(item) && typeof item.value === 'string') {
      addrText = item.value;
    } else {
      c.error(item ?? list, 'INVALID_TYPE', `${what}: got ${describe(item)}`, 'an IPv4 address such as 10.0.0.100/24, or a mapping with address:');
      return;
    }
    const text = addrText as string;
    const cidr = parseCidr(text, 32);
    if (!cidr) {
      c.error(addrNode, 'INVALID_ADDRESS', `${what}: '${text}' is not an address`, 'an IPv4 address with optional /prefix, e.g. 10.0.0.100/24');
      return;
    }
    if (cidr.family !== 4) {
      c.error(addrNode, 'NOT_SUPPORTED', `${what}: '${text}' is IPv6; CARP (as ucarp speaks it) carries IPv4 addresses only`, 'an IPv4 address');
      return;
    }
    if (cidr.address === '0.0.0.0' || isIPv4Multicast(cidr.address) || cidr.address === '255.255.255.255') {
      c.error(addrNode, 'INVALID_ADDRESS', `${what}: '${text}' cannot be a virtual address`, 'a unicast IPv4 address');
      return;
    }
    if (source && cidr.address === source) {
      c.error(addrNode, 'INVALID_ADDRESS', `${what}: ${cidr.address} is this host's own source address; a virtual address must be a different one`,
        'an address not owned by any node');
      return;
    }
    const prev = seen.get(cidr.address);
    if (prev) {
      c.error(addrNode, 'DUPLICATE_ADDRESS', `${what}: ${cidr.address} is listed twice (first at line ${c.pos(prev).line})`, 'each address once');
      return;
    }
    seen.set(cidr.address, addrNode ?? list);
    out.push({ address: { family: 4, address: cidr.address, prefix: cidr.prefix, ...extra }, node: addrNode ?? list });
  });
}

interface Hooks { up?: Hook; down?: Hook; xparam?: string }

function readHooks(c: Checker, entry: Entry, where: Where): Hooks | undefined {
  const what = `hooks of ${where}`;
  const entries = c.entries(entry.value, what, entry.keyNode);
  if (!entries) return undefined;
  c.unknownKeys(entries, HOOK_KEYS, what, { upscript: 'up', downscript: 'down', extra: 'xparam' });
  const r = new Reader(c, what, entries);
  const errorsBefore = c.errors.length;
  const shell = r.has('shell') ? r.boolean('shell') : false;
  const xparam = r.has('xparam') ? r.string('xparam', 'a text passed as the last argument') : undefined;
  const hook = (key: 'up' | 'down'): Hook | undefined => {
    if (!r.has(key)) return undefined;
    const expected = shell
      ? 'a command line for /bin/sh -c'
      : 'a command (split on blanks, quotes honoured) or a list of arguments, starting with an absolute path';
    const node = c.resolve(r.node(key));
    if (node && isSeq(node)) {
      if (shell) {
        c.error(node, 'INVALID_TYPE', `${key} in ${what}: a list is run without a shell; with shell: true give one string`, expected);
        return undefined;
      }
      const argv: string[] = [];
      for (const it of node.items) {
        const v = c.resolve(it as Node | null);
        if (!isScalar(v) || typeof v.value !== 'string') {
          c.error(v ?? node, 'INVALID_TYPE', `${key} in ${what}: an argument is ${describe(v)}`, 'text arguments (quote numbers)');
          return undefined;
        }
        argv.push(v.value);
      }
      return checkArgv(c, argv, node, key, what, expected);
    }
    const s = r.string(key, expected);
    if (!s) return undefined;
    if (shell) {
      if (s.value.trim() === '') {
        c.error(s.node, 'INVALID_VALUE', `${key} in ${what} is empty`, expected);
        return undefined;
      }
      return { argv: [s.value], shell: true };
    }
    const split = splitCommand(s.value);
    if (!split.ok) {
      c.error(s.node, 'INVALID_VALUE', `${key} in ${what}: ${split.reason}`, expected);
      return undefined;
    }
    return checkArgv(c, split.words, s.node, key, what, expected);
  };
  const up = hook('up');
  const down = hook('down');
  if (c.errors.length > errorsBefore) return undefined;
  return { ...(up ? { up } : {}), ...(down ? { down } : {}), ...(xparam ? { xparam: xparam.value } : {}) };
}

function checkArgv(c: Checker, argv: string[], node: Node, key: string, what: string, expected: string): Hook | undefined {
  const prog = argv[0];
  if (prog === undefined || prog === '') {
    c.error(node, 'INVALID_VALUE', `${key} in ${what} is empty`, expected);
    return undefined;
  }
  if (prog.includes('/') && !prog.startsWith('/')) {
    c.error(node, 'INVALID_VALUE', `${key} in ${what}: '${prog}' is a relative path; the daemon runs in /`, 'an absolute path such as /etc/carpool/up.sh');
    return undefined;
  }
  return { argv, shell: false };
}

function crossCheck(c: Checker, drafts: readonly InstanceDraft[]): void {
  const names = new Map<string, Node>();
  const groups = new Map<string, { name: string; node: Node }>();
  const addresses = new Map<string, { name: string; dev: string; node: Node }>();
  drafts.forEach((d, i) => {
    const label = d.name?.value ?? `#${i + 1}`;
    if (d.name) {
      const prev = names.get(d.name.value);
      if (prev) {
        c.error(d.name.node, 'DUPLICATE_NAME', `instance name '${d.name.value}' is used twice (first at line ${c.pos(prev).line})`,
          'a unique name per instance');
      } else names.set(d.name.value, d.name.node);
    }
    if (d.iface && d.vhid) {
      const dev = baseDevice(d.iface);
      const key = `${dev}\0${d.vhid.value}`;
      const prev = groups.get(key);
      if (prev) {
        c.error(d.vhid.node, 'DUPLICATE_VHID',
          `instance '${label}' uses vhid ${d.vhid.value} on ${dev}, like instance '${prev.name}' (line ${c.pos(prev.node).line})`,
          `a vhid not used by another instance on ${dev}`);
      } else groups.set(key, { name: label, node: d.vhid.node });
    }
    for (const { address, node } of d.addresses) {
      const dev = baseDevice(address.dev ?? d.iface ?? '');
      const prev = addresses.get(address.address);
      if (!prev) {
        addresses.set(address.address, { name: label, dev, node });
        continue;
      }
      const message = `${address.address} is a virtual address of instance '${label}' and of instance '${prev.name}' (line ${c.pos(prev.node).line})`;
      if (prev.dev === dev) c.error(node, 'DUPLICATE_ADDRESS', message, 'each virtual address in one instance only');
      else c.warn(node, 'DUPLICATE_ADDRESS', `${message}, on different interfaces`, 'each virtual address in one instance only');
    }
  });
}

// -------------------------------------------------------------------------------------------------
// VRRP (protocol: vrrp), vrrp_defaults, vrrp_scripts, track_files, sync_groups. The keys are
// keepalived's keywords in snake_case (docs/config.md has the full mapping); the values are read
// here and handed to vrrp-build.ts, which applies keepalived's defaults and the cross-checks.

const VRRP_INSTANCE_KEYS = [
  'name', 'protocol', 'state', 'interface', 'virtual_router_id', 'priority', 'advert_int', 'version', 'preempt', 'preempt_delay',
  'source', 'mcast_group', 'unicast_peers', 'v3_checksum_as_v2', 'auth_pass', 'addresses', 'excluded_addresses', 'routes',
  'track_interfaces', 'track_scripts', 'track_files', 'track_primary', 'notify', 'garp', 'vmac', 'lower_prio_no_advert',
  'higher_prio_send_advert', 'down_timer_adverts', 'strict_mode',
] as const;
const VRRP_ALIASES: Readonly<Record<string, string>> = {
  vrid: 'virtual_router_id', vhid: 'virtual_router_id', nopreempt: 'preempt: false', mcast_src_ip: 'source', unicast_src_ip: 'source',
  srcip: 'source', mcast_dst_ip: 'mcast_group', unicast_peer: 'unicast_peers', virtual_ipaddress: 'addresses',
  virtual_ipaddress_excluded: 'excluded_addresses', virtual_routes: 'routes', track_interface: 'track_interfaces',
  track_script: 'track_scripts', track_file: 'track_files', dont_track_primary: 'track_primary: false', use_vmac: 'vmac',
  password: 'auth_pass', authentication: 'auth_pass', notify_master: 'notify: { master: ... }', notify_backup: 'notify: { backup: ... }',
  notify_fault: 'notify: { fault: ... }', notify_stop: 'notify: { stop: ... }', garp_master_delay: 'garp: { master_delay: ... }',
  garp_master_repeat: 'garp: { master_repeat: ... }', advbase: 'advert_int', advskew: 'priority (VRRP: higher wins)',
};
const GARP_YAML = {
  master_delay: 'masterDelay', master_repeat: 'masterRepeat', master_refresh: 'masterRefresh', master_refresh_repeat: 'masterRefreshRepeat',
  lower_prio_delay: 'lowerPrioDelay', lower_prio_repeat: 'lowerPrioRepeat', interval: 'interval',
} as const;
const GARP_YAML_SECONDS = new Set(['master_delay', 'master_refresh', 'lower_prio_delay', 'interval']);
const NOTIFY_KEYS = ['master', 'backup', 'fault', 'stop', 'generic'] as const;
const VRRP_DEFAULT_KEYS = ['version', 'mcast_group4', 'mcast_group6', 'garp', 'v3_checksum_as_v2', 'strict', 'lower_prio_no_advert',
  'higher_prio_send_advert', 'down_timer_adverts'] as const;
const SCRIPT_KEYS = ['name', 'script', 'interval', 'timeout', 'weight', 'reverse', 'rise', 'fall', 'init_fail'] as const;
const TRACK_FILE_KEYS = ['name', 'file', 'weight', 'reverse', 'init_file', 'init_overwrite'] as const;
const SYNC_GROUP_KEYS = ['name', 'members', 'notify', 'track_interfaces', 'track_scripts', 'track_files', 'tracking_weight'] as const;
const ROUTE_KEYS = ['to', 'via', 'dev', 'src', 'metric', 'table', 'type'] as const;
const VIP_KEYS = ['address', 'label', 'dev', 'broadcast', 'scope'] as const;
const TRACK_REF_KEYS = ['name', 'weight', 'reverse'] as const;

export const YAML_TERMS: Terms = {
  nopreempt: 'preempt: false', preemptDelay: 'preempt_delay', addresses: 'addresses', unicastPeers: 'unicast_peers', authPass: 'auth_pass',
  trackScript: 'track_scripts', trackFile: 'track_files', members: 'members', srcip: 'source', strict: 'strict_mode',
};

function locOf(c: Checker, node: Node | null | undefined): SourceLoc {
  return { file: c.file, ...c.pos(node) };
}

function isVrrpItem(c: Checker, item: Node | null): boolean {
  const node = c.resolve(item);
  if (!node || !isMap(node)) return false;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'protocol');
  const v = c.resolve(pair?.value as Node | null);
  return isScalar(v) && v.value === 'vrrp';
}

/** Typed reads that return located values for the VRRP builder. */
class VReader {
  constructor(readonly c: Checker, readonly where: string, readonly entries: Map<string, Entry>, readonly r = new Reader(c, where, entries)) {}
  has(k: string): boolean { return this.entries.has(k); }
  node(k: string): Node | null { return this.c.resolve(this.entries.get(k)?.value ?? null); }
  keyLoc(k: string): SourceLoc { return locOf(this.c, this.entries.get(k)?.keyNode); }
  int(k: string, min: number, max: number): At<number> | undefined {
    if (!this.has(k)) return undefined;
    const v = this.r.integer(k, min, max);
    return v && { value: v.value, at: locOf(this.c, v.node) };
  }
  /** Seconds (decimals allowed). */
  seconds(k: string, min: number, max: number): At<number> | undefined {
    if (!this.has(k)) return undefined;
    const n = this.node(k);
    const expected = `seconds ${min}..${max} (decimals allowed)`;
    if (!n || !isScalar(n) || typeof n.value !== 'number' || !Number.isFinite(n.value)) {
      this.c.error(n ?? this.entries.get(k)!.keyNode, n ? 'INVALID_TYPE' : 'NO_VALUE', `${k} in ${this.where}: got ${describe(n)}`, expected);
      return undefined;
    }
    if (n.value < min || n.value > max) {
      this.c.error(n, 'OUT_OF_RANGE', `${k} in ${this.where}: got ${n.value}`, expected);
      return undefined;
    }
    return { value: n.value, at: locOf(this.c, n) };
  }
  bool(k: string): At<boolean> | undefined {
    if (!this.has(k)) return undefined;
    const v = this.r.boolean(k);
    return v === undefined ? undefined : { value: v, at: locOf(this.c, this.node(k)) };
  }
  str(k: string, expected: string): At<string> | undefined {
    if (!this.has(k)) return undefined;
    const v = this.r.string(k, expected);
    return v && { value: v.value, at: locOf(this.c, v.node) };
  }
  ip(k: string, what: string): At<string> | undefined {
    const s = this.str(k, `${what}, an IPv4 or IPv6 address`);
    if (!s) return undefined;
    const cidr = s.value.includes('/') ? undefined : parseCidr(s.value);
    if (!cidr) {
      this.c.error(this.node(k), 'INVALID_ADDRESS', `${k} in ${this.where}: '${s.value}' is not an IP address`, `${what}, an IPv4 or IPv6 address`);
      return undefined;
    }
    return { value: cidr.address, at: s.at };
  }
  list(k: string, expected: string): Node[] {
    if (!this.has(k)) return [];
    const n = this.node(k);
    if (!n || !isSeq(n)) {
      this.c.error(n ?? this.entries.get(k)!.keyNode, n ? 'INVALID_TYPE' : 'NO_VALUE', `${k} in ${this.where}: got ${describe(n)}`, expected);
      return [];
    }
    return (n.items as (Node | null)[]).map((x) => this.c.resolve(x) ?? n);
  }
}

function vreader(c: Checker, node: Node | null, where: string, fallback: Node | number | null, keys: readonly string[],
  aliases: Readonly<Record<string, string>> = {}): VReader | undefined {
  const entries = c.entries(node, where, fallback);
  if (!entries) return undefined;
  c.unknownKeys(entries, keys, where, aliases);
  return new VReader(c, where, entries);
}

/** A command: a string (split like a shell does, nothing expanded), a list (the argv) or `{ shell: "..." }`. */
function readHook(c: Checker, node: Node | null, what: string): At<Hook> | undefined {
  const expected = 'a command (split on blanks, quotes honoured), a list of arguments, or { shell: "command line" }';
  const n = c.resolve(node);
  const at = locOf(c, n);
  if (n && isMap(n)) {
    const v = vreader(c, n, what, n, ['shell']);
    const s = v?.str('shell', 'a command line for /bin/sh -c');
    if (!v?.has('shell')) c.error(n, 'MISSING_KEY', `${what}: a mapping needs 'shell'`, expected);
    if (!s) return undefined;
    if (s.value.trim() === '') { c.error(n, 'INVALID_VALUE', `${what} is empty`, expected); return undefined; }
    return { value: { argv: [s.value], shell: true }, at };
  }
  let argv: string[];
  if (n && isSeq(n)) {
    argv = [];
    for (const it of n.items) {
      const v = c.resolve(it as Node | null);
      if (!isScalar(v) || typeof v.value !== 'string') {
        c.error(v ?? n, 'INVALID_TYPE', `${what}: an argument is ${describe(v)}`, 'text arguments (quote numbers)');
        return undefined;
      }
      argv.push(v.value);
    }
  } else if (n && isScalar(n) && typeof n.value === 'string') {
    const split = splitCommand(n.value);
    if (!split.ok) { c.error(n, 'INVALID_VALUE', `${what}: ${split.reason}`, expected); return undefined; }
    argv = split.words;
  } else {
    c.error(n, n ? 'INVALID_TYPE' : 'NO_VALUE', `${what}: got ${describe(n)}`, expected);
    return undefined;
  }
  const prog = argv[0];
  if (prog === undefined || prog === '') { c.error(n, 'INVALID_VALUE', `${what} is empty`, expected); return undefined; }
  if (prog.includes('/') && !prog.startsWith('/')) {
    c.error(n, 'INVALID_VALUE', `${what}: '${prog}' is a relative path; the daemon runs in /`, 'an absolute path such as /etc/carpool/notify.sh');
    return undefined;
  }
  return { value: { argv, shell: false }, at };
}

function readNotify(c: Checker, v: VReader, key: string, where: string): NotifySpec {
  const out: NotifySpec = {};
  if (!v.has(key)) return out;
  const nv = vreader(c, v.node(key), `${key} of ${where}`, v.entries.get(key)!.keyNode, NOTIFY_KEYS,
    { notify_master: 'master', notify_backup: 'backup', notify_fault: 'fault', notify_stop: 'stop', notify: 'generic', all: 'generic' });
  if (!nv) return out;
  for (const k of NOTIFY_KEYS) {
    if (!nv.has(k)) continue;
    const h = readHook(c, nv.node(k), `${k} in ${key} of ${where}`);
    if (h) out[k] = h;
  }
  return out;
}

function readGarp(c: Checker, v: VReader, where: string, globals: boolean): GarpSpec {
  const out: GarpSpec = {};
  if (!v.has('garp')) return out;
  const keys = [...Object.keys(GARP_YAML), ...(globals ? ['gna_interval', 'min_garp'] : [])];
  const gv = vreader(c, v.node('garp'), `garp of ${where}`, v.entries.get('garp')!.keyNode, keys,
    Object.fromEntries(Object.keys(GARP_YAML).map((k) => [`garp_${k}`, k])));
  if (!gv) return out;
  for (const [k, field] of Object.entries(GARP_YAML)) {
    const x = GARP_YAML_SECONDS.has(k) ? gv.seconds(k, 0, 86400) : gv.int(k, 0, 255);
    if (x) out[field] = x;
  }
  if (globals) {
    const gna = gv.seconds('gna_interval', 0, 1000);
    if (gna) out.gnaInterval = gna;
    const min = gv.bool('min_garp');
    if (min) out.minGarp = min;
  }
  return out;
}

function readVips(c: Checker, v: VReader, key: string, where: string): At<VirtualAddress>[] {
  const out: At<VirtualAddress>[] = [];
  v.list(key, 'a list of addresses such as 10.0.0.100/24 or 2001:db8::1/64').forEach((item, i) => {
    const what = `${key} #${i + 1} of ${where}`;
    let text: At<string> | undefined;
    const extra: { -readonly [K in keyof VirtualAddress]?: VirtualAddress[K] } = {};
    if (isMap(item)) {
      const av = vreader(c, item, what, item, VIP_KEYS, { brd: 'broadcast', device: 'dev', interface: 'dev' });
      if (!av) return;
      if (!av.has('address')) { c.error(item, 'MISSING_KEY', `missing 'address' in ${what}`, 'address: 10.0.0.100/24'); return; }
      text = av.str('address', 'an address with optional /prefix');
      const dev = av.str('dev', 'an interface name');
      if (dev && !validIfname(dev.value)) { c.error(av.node('dev'), 'INVALID_VALUE', `dev in ${what}: '${dev.value}' is not a valid interface name`, '1..15 bytes without / or blanks'); return; }
      if (dev) extra.dev = dev.value;
      const label = av.str('label', 'an address label such as eth0:1');
      if (label && byteLength(label.value) > 15) { c.error(av.node('label'), 'INVALID_VALUE', `label in ${what}: '${label.value}' is longer than 15 bytes`, 'a label such as eth0:1'); return; }
      if (label) extra.label = label.value;
      const brd = av.ip('broadcast', 'the broadcast address');
      if (brd) extra.broadcast = brd.value;
      const scope = av.str('scope', 'global, site, link, host or nowhere');
      if (scope && !['global', 'site', 'link', 'host', 'nowhere'].includes(scope.value)) {
        c.error(av.node('scope'), 'INVALID_VALUE', `scope in ${what}: '${scope.value}' is not a scope`, 'global, site, link, host or nowhere');
        return;
      }
      if (scope) extra.scope = scope.value as VirtualAddress['scope'];
      if ((av.has('broadcast') && !brd) || (av.has('scope') && !scope) || (av.has('dev') && !dev) || (av.has('label') && !label)) return;
    } else if (isScalar(item) && typeof item.value === 'string') {
      text = { value: item.value, at: locOf(c, item) };
    } else {
      c.error(item, 'INVALID_TYPE', `${what}: got ${describe(item)}`, 'an address such as 10.0.0.100/24, or a mapping with address:');
      return;
    }
    if (!text) return;
    const cidr = parseCidr(text.value);
    if (!cidr || cidr.prefix === 0) {
      c.error(item, 'INVALID_ADDRESS', `${what}: '${text.value}' is not an address`, 'an IPv4 or IPv6 address with optional /prefix');
      return;
    }
    if (extra.broadcast && (cidr.family !== 4 || !parseIPv4(extra.broadcast))) {
      c.error(item, 'INVALID_ADDRESS', `${what}: only IPv4 addresses have an IPv4 broadcast address`, 'no broadcast, or an IPv4 one');
      return;
    }
    out.push({ value: { family: cidr.family, address: cidr.address, prefix: cidr.prefix, ...extra }, at: text.at });
  });
  return out;
}

function readRoutes(c: Checker, v: VReader, where: string): At<VirtualRoute>[] {
  const out: At<VirtualRoute>[] = [];
  v.list('routes', 'a list of routes such as { to: 10.1.0.0/16, via: 10.0.0.254 }').forEach((item, i) => {
    const what = `route #${i + 1} of ${where}`;
    const rv = vreader(c, item, what, item, ROUTE_KEYS, { dst: 'to', gw: 'via', gateway: 'via', oif: 'dev', preference: 'metric' });
    if (!rv) return;
    if (!rv.has('to')) { c.error(item, 'MISSING_KEY', `missing 'to' in ${what}`, "to: 10.1.0.0/16 (or 'default')"); return; }
    const to = rv.str('to', "a destination such as 10.1.0.0/16, or 'default'");
    const via = rv.ip('via', 'the gateway');
    const src = rv.ip('src', 'the preferred source address');
    const dev = rv.str('dev', 'an interface name');
    const metric = rv.int('metric', 0, 4294967295);
    const table = rv.int('table', 1, 4294967295);
    const type = rv.str('type', 'blackhole, unreachable, prohibit or throw');
    const errors = c.errors.length;
    if (type && !['blackhole', 'unreachable', 'prohibit', 'throw'].includes(type.value)) {
      c.error(rv.node('type'), 'INVALID_VALUE', `type in ${what}: '${type.value}' is not a route type`, 'blackhole, unreachable, prohibit or throw');
    }
    if (dev && !validIfname(dev.value)) c.error(rv.node('dev'), 'INVALID_VALUE', `dev in ${what}: '${dev.value}' is not a valid interface name`, '1..15 bytes');
    if (!to || c.errors.length > errors || (rv.has('via') && !via) || (rv.has('src') && !src) || (rv.has('metric') && !metric)
      || (rv.has('table') && !table) || (rv.has('dev') && !dev) || (rv.has('type') && !type)) return;
    let family: 4 | 6;
    let dst: string;
    let prefix: number;
    if (to.value === 'default') {
      family = (via ? parseCidr(via.value)?.family : src ? parseCidr(src.value)?.family : undefined) ?? 4;
      dst = family === 6 ? '::' : '0.0.0.0';
      prefix = 0;
    } else {
      const cidr = parseCidr(to.value);
      if (!cidr) { c.error(rv.node('to'), 'INVALID_ADDRESS', `to in ${what}: '${to.value}' is not a destination`, "a network such as 10.1.0.0/16, or 'default'"); return; }
      ({ family, address: dst, prefix } = cidr);
    }
    for (const [k, x] of [['via', via], ['src', src]] as const) {
      if (x && parseCidr(x.value)?.family !== family) {
        c.error(rv.node(k), 'FAMILY_MISMATCH', `${k} in ${what}: ${x.value} is not IPv${family} like the destination`, `an IPv${family} address`);
        return;
      }
    }
    if (!via && !dev && !type) { c.error(item, 'MISSING_KEY', `${what} has neither via nor dev nor type`, 'via: GATEWAY, dev: IF or type: blackhole'); return; }
    out.push({
      value: {
        family, dst, prefix, ...(via ? { gateway: via.value } : {}), ...(dev ? { dev: dev.value } : {}), ...(src ? { src: src.value } : {}),
        ...(metric ? { metric: metric.value } : {}), ...(table ? { table: table.value } : {}), ...(type ? { type: type.value } : {}),
      },
      at: to.at,
    });
  });
  return out;
}

function readTrackRefList(c: Checker, v: VReader, key: string, where: string): At<TrackRefSpec>[] {
  const out: At<TrackRefSpec>[] = [];
  v.list(key, 'a list of names, or of { name, weight, reverse }').forEach((item, i) => {
    if (isScalar(item) && typeof item.value === 'string' && item.value !== '') {
      out.push({ value: { name: item.value }, at: locOf(c, item) });
      return;
    }
    const what = `${key} #${i + 1} of ${where}`;
    if (!isMap(item)) { c.error(item, 'INVALID_TYPE', `${what}: got ${describe(item)}`, 'a name, or { name: NAME, weight: W, reverse: false }'); return; }
    const tv = vreader(c, item, what, item, TRACK_REF_KEYS);
    if (!tv) return;
    const name = tv.str('name', 'the name of the tracked object');
    if (!tv.has('name')) c.error(item, 'MISSING_KEY', `missing 'name' in ${what}`, 'name: NAME');
    const weight = tv.int('weight', -254, 254);
    const reverse = tv.bool('reverse');
    if (!name || (tv.has('weight') && !weight) || (tv.has('reverse') && !reverse)) return;
    out.push({ value: { name: name.value, ...(weight ? { weight: weight.value } : {}), ...(reverse ? { reverse: reverse.value } : {}) }, at: name.at });
  });
  return out;
}

function readVrrpInstance(c: Checker, item: Node | null, index: number, list: Node): VrrpInstanceSpec | undefined {
  const node = c.resolve(item) ?? list;
  const peek = (k: string): unknown => {
    if (!isMap(node)) return undefined;
    const v = c.resolve(node.items.find((p) => isScalar(p.key) && p.key.value === k)?.value as Node | null);
    return isScalar(v) ? v.value : undefined;
  };
  const pn = peek('name');
  const where = typeof pn === 'string' && pn !== '' ? `instance '${pn}'` : `instance #${index + 1}`;
  const v = vreader(c, item, where, list, VRRP_INSTANCE_KEYS, VRRP_ALIASES);
  if (!v) return undefined;
  const errors = c.errors.length;
  const iface = v.str('interface', 'a network interface name such as eth0');
  if (iface && !validIfname(iface.value)) c.error(v.node('interface'), 'INVALID_VALUE', `interface in ${where}: '${iface.value}' is not a valid interface name`, '1..15 bytes without / or blanks');
  const vrid = v.int('virtual_router_id', 1, 255);
  let name: At<string> | undefined;
  if (v.has('name')) {
    name = v.str('name', 'a name of letters, digits and _ . : @ -');
    if (name && !NAME_RE.test(name.value)) {
      c.error(v.node('name'), 'INVALID_VALUE', `name in ${where}: '${name.value}' is not a usable name`, '1..64 letters, digits and _ . : @ -');
      name = undefined;
    }
  } else if (iface && vrid) {
    name = { value: `${iface.value}-vrid${vrid.value}`, at: locOf(c, node) };
  } else {
    name = { value: `#${index + 1}`, at: locOf(c, node) };
  }
  if (!name) return undefined;
  const state = v.str('state', 'MASTER or BACKUP');
  if (state && state.value !== 'MASTER' && state.value !== 'BACKUP') c.error(v.node('state'), 'INVALID_VALUE', `state in ${where}: '${state.value}'`, 'MASTER or BACKUP');
  const preempt = v.bool('preempt');
  const vmacNode = v.node('vmac');
  let vmac: At<string | true> | undefined;
  if (v.has('vmac')) {
    if (isScalar(vmacNode) && vmacNode.value === true) vmac = { value: true, at: locOf(c, vmacNode) };
    else if (isScalar(vmacNode) && vmacNode.value === false) vmac = undefined;
    else if (isScalar(vmacNode) && typeof vmacNode.value === 'string' && validIfname(vmacNode.value)) vmac = { value: vmacNode.value, at: locOf(c, vmacNode) };
    else c.error(vmacNode ?? node, 'INVALID_VALUE', `vmac in ${where}: got ${describe(vmacNode)}`, 'true (name vrrp.VRID), false, or an interface name');
  }
  const authPass = v.str('auth_pass', 'a password of 1..8 bytes');
  const spec: VrrpInstanceSpec = {
    name,
    ...(state && (state.value === 'MASTER' || state.value === 'BACKUP') ? { state: state as At<'MASTER' | 'BACKUP'> } : {}),
    ...(iface ? { interface: iface } : {}),
    ...(vrid ? { vrid } : {}),
    ...opt('priority', v.int('priority', 1, 255)),
    ...opt('advertInt', v.seconds('advert_int', 0.01, 255)),
    ...opt('version', v.int('version', 2, 3)),
    ...(preempt ? { nopreempt: { value: !preempt.value, at: preempt.at } } : {}),
    ...opt('preemptDelay', v.seconds('preempt_delay', 0, 1000)),
    ...opt('srcip', v.ip('source', "this host's address on the interface")),
    ...opt('mcastGroup', v.ip('mcast_group', 'the multicast group')),
    unicastPeers: v.list('unicast_peers', 'a list of peer addresses').flatMap((p) => {
      const a = isScalar(p) && typeof p.value === 'string' ? parseCidr(p.value) : undefined;
      if (!a || (isScalar(p) && String(p.value).includes('/'))) {
        c.error(p, 'INVALID_ADDRESS', `unicast_peers of ${where}: ${describe(p)} is not an IP address`, 'IPv4 or IPv6 addresses');
        return [];
      }
      return [{ value: a.address, at: locOf(c, p) }];
    }),
    ...opt('v3ChecksumAsV2', v.bool('v3_checksum_as_v2')),
    ...(authPass ? { authPass } : {}),
    addresses: readVips(c, v, 'addresses', where),
    excludedAddresses: readVips(c, v, 'excluded_addresses', where),
    routes: readRoutes(c, v, where),
    trackInterfaces: readTrackRefList(c, v, 'track_interfaces', where),
    trackScripts: readTrackRefList(c, v, 'track_scripts', where),
    trackFiles: readTrackRefList(c, v, 'track_files', where),
    ...opt('trackPrimary', v.bool('track_primary')),
    notify: readNotify(c, v, 'notify', where),
    garp: readGarp(c, v, where, false),
    ...(vmac ? { vmac } : {}),
    ...opt('lowerPrioNoAdvert', v.bool('lower_prio_no_advert')),
    ...opt('higherPrioSendAdvert', v.bool('higher_prio_send_advert')),
    ...opt('downTimerAdverts', v.int('down_timer_adverts', 1, 100)),
    ...opt('strict', v.bool('strict_mode')),
  };
  return c.errors.length > errors ? undefined : spec;
}

function opt<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}

function readVrrpDefaults(c: Checker, entry: Entry | undefined): VrrpDefaultsSpec {
  if (!entry) return { garp: {} };
  const v = vreader(c, entry.value, 'vrrp_defaults', entry.keyNode, VRRP_DEFAULT_KEYS,
    { vrrp_version: 'version', vrrp_mcast_group4: 'mcast_group4', vrrp_mcast_group6: 'mcast_group6', vrrp_strict: 'strict' });
  if (!v) return { garp: {} };
  const g4 = v.ip('mcast_group4', 'an IPv4 multicast group');
  if (g4 && !isIPv4Multicast(g4.value)) c.error(v.node('mcast_group4'), 'INVALID_ADDRESS', `mcast_group4: ${g4.value} is not multicast`, 'an address in 224.0.0.0/4');
  const g6 = v.ip('mcast_group6', 'an IPv6 multicast group');
  if (g6 && !/^ff/i.test(g6.value)) c.error(v.node('mcast_group6'), 'INVALID_ADDRESS', `mcast_group6: ${g6.value} is not multicast`, 'an address in ff00::/8');
  return {
    ...opt('version', v.int('version', 2, 3) as At<2 | 3> | undefined),
    ...opt('mcastGroup4', g4), ...opt('mcastGroup6', g6),
    garp: readGarp(c, v, 'vrrp_defaults', true),
    ...opt('v3ChecksumAsV2', v.bool('v3_checksum_as_v2')),
    ...opt('strict', v.bool('strict')),
    ...opt('lowerPrioNoAdvert', v.bool('lower_prio_no_advert')),
    ...opt('higherPrioSendAdvert', v.bool('higher_prio_send_advert')),
    ...opt('downTimerAdverts', v.int('down_timer_adverts', 1, 100)),
  };
}

function readList<T>(c: Checker, entry: Entry | undefined, key: string, read: (c: Checker, item: Node, where: string) => T | undefined): T[] {
  if (!entry) return [];
  const list = c.resolve(entry.value);
  if (!list || !isSeq(list)) {
    c.error(list ?? entry.keyNode, list ? 'INVALID_TYPE' : 'NO_VALUE', `${key}: got ${describe(list)}`, `a list of ${key.replace(/_/g, ' ')}`);
    return [];
  }
  return list.items.flatMap((it, i) => {
    const item = c.resolve(it as Node | null) ?? list;
    const peek = isMap(item) ? c.resolve(item.items.find((p) => isScalar(p.key) && p.key.value === 'name')?.value as Node | null) : null;
    const where = isScalar(peek) && typeof peek.value === 'string' ? `${key} '${peek.value}'` : `${key} #${i + 1}`;
    const v = read(c, item, where);
    return v === undefined ? [] : [v];
  });
}

function requiredName(c: Checker, v: VReader, item: Node, where: string): At<string> | undefined {
  if (!v.has('name')) { c.error(item, 'MISSING_KEY', `missing 'name' in ${where}`, 'name: NAME'); return undefined; }
  return v.str('name', 'a name');
}

function readVrrpScript(c: Checker, item: Node, where: string): VrrpScriptSpec | undefined {
  const v = vreader(c, item, where, item, SCRIPT_KEYS, { user: 'script (carpool runs scripts as root)' });
  if (!v) return undefined;
  const name = requiredName(c, v, item, where);
  if (!name) return undefined;
  const script = v.has('script') ? readHook(c, v.node('script'), `script of ${where}`) : undefined;
  return {
    name, ...opt('script', script), ...opt('interval', v.seconds('interval', 0.001, 86400)), ...opt('timeout', v.seconds('timeout', 0.001, 86400)),
    ...opt('weight', v.int('weight', -253, 253)), ...opt('reverse', v.bool('reverse')), ...opt('rise', v.int('rise', 1, 1_000_000)),
    ...opt('fall', v.int('fall', 1, 1_000_000)), ...opt('initFail', v.bool('init_fail')),
  };
}

function readTrackFile(c: Checker, item: Node, where: string): TrackFileSpec | undefined {
  const v = vreader(c, item, where, item, TRACK_FILE_KEYS, { path: 'file' });
  if (!v) return undefined;
  const name = requiredName(c, v, item, where);
  if (!name) return undefined;
  return {
    name, ...opt('path', v.str('file', 'the absolute path of the file')), ...opt('weight', v.int('weight', -254, 254)),
    ...opt('reverse', v.bool('reverse')), ...opt('initValue', v.int('init_file', -2147483647, 2147483647)),
    ...opt('initOverwrite', v.bool('init_overwrite')),
  };
}

function readSyncGroup(c: Checker, item: Node, where: string): SyncGroupSpec | undefined {
  const v = vreader(c, item, where, item, SYNC_GROUP_KEYS, { group: 'members', instances: 'members', sync_group_tracking_weight: 'tracking_weight' });
  if (!v) return undefined;
  const name = requiredName(c, v, item, where);
  if (!name) return undefined;
  if (!v.has('members')) c.error(item, 'MISSING_KEY', `missing 'members' in ${where}`, 'members: [VI_1, VI_2]');
  return {
    name,
    members: v.list('members', 'a list of instance names').flatMap((m) => {
      if (isScalar(m) && typeof m.value === 'string') return [{ value: m.value, at: locOf(c, m) }];
      c.error(m, 'INVALID_TYPE', `members of ${where}: got ${describe(m)}`, 'instance names');
      return [];
    }),
    notify: readNotify(c, v, 'notify', where),
    trackInterfaces: readTrackRefList(c, v, 'track_interfaces', where),
    trackScripts: readTrackRefList(c, v, 'track_scripts', where),
    trackFiles: readTrackRefList(c, v, 'track_files', where),
    ...opt('trackingWeight', v.bool('tracking_weight')),
  };
}
