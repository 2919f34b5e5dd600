/**
 * The `resources:` and `groups:` sections of carpool.yaml (docs/resources.md) → the model's
 * `ResourcesConfig`. Pure, like the rest of the YAML validator: whether an OCF agent exists
 * and which parameters it requires is I/O (its meta-data) and is checked by the CLI (cli/load-config.ts).
 *
 *     resources:
 *       - id: web-ip
 *         agent: ocf:heartbeat:IPaddr2
 *         params: { ip: 10.0.0.101, cidr_netmask: 24 }
 *         op:
 *           monitor: { interval: 10s, timeout: 20s }
 *     groups:
 *       - id: web
 *         instance: web          # the failover instance the group follows
 *         resources: [web-ip, nginx]
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import {
  DEFAULT_FENCE_TIMEOUT_MS, DEFAULT_OP_TIMEOUT_MS, type AgentSpec, type FenceCommand, type MonitorOperation, type OnFail, type Resource, type ResourceGroup, type ResourceOperation,
  type ResourcesConfig,
} from '../model.js';
import { parseCidr } from '../../protocol/inet.js';
import { parseDurationMs } from '../../resources/core/duration.js';
import { describe, validIfname, Reader, type Checker, type Entry } from './checker.js';

const RESOURCE_KEYS = ['id', 'agent', 'params', 'env', 'op', 'migration_threshold', 'failure_timeout'] as const;
const GROUP_KEYS = ['id', 'instance', 'with', 'after', 'resources', 'migration_threshold', 'failure_timeout', 'fence', 'fence_timeout'] as const;
const OP_NAMES = ['start', 'stop', 'monitor'] as const;
const OP_KEYS = ['timeout', 'on_fail', 'interval', 'check_level'] as const;
const ON_FAIL: readonly OnFail[] = ['restart', 'stop', 'standby', 'block', 'ignore'];
const ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,63}$/;
const AGENT_PART_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const BUILTINS = ['address', 'http', 'tcp', 'command'] as const;
/** Parameters of each built-in: [name, required]. */
const BUILTIN_PARAMS: Readonly<Record<(typeof BUILTINS)[number], readonly (readonly [string, boolean])[]>> = {
  address: [['address', true], ['dev', false], ['label', false], ['garp', false]],
  http: [['url', true], ['status', false], ['contains', false], ['method', false]],
  tcp: [['host', true], ['port', true]],
  command: [['start', false], ['stop', false], ['monitor', false]],
};

const EXPECTED_AGENT = 'ocf:PROVIDER:TYPE (ocf:heartbeat:IPaddr2), lsb:SCRIPT, systemd:UNIT or builtin:address|http|tcp|command';

/** `ocf:heartbeat:IPaddr2` → AgentSpec, or a reason. */
export function parseAgent(text: string): { ok: true; agent: AgentSpec } | { ok: false; reason: string } {
  const parts = text.split(':');
  const cls = parts[0];
  switch (cls) {
    case 'ocf':
      if (parts.length !== 3 || !AGENT_PART_RE.test(parts[1] ?? '') || !AGENT_PART_RE.test(parts[2] ?? '')) {
        return { ok: false, reason: `'${text}' is not ocf:PROVIDER:TYPE` };
      }
      return { ok: true, agent: { class: 'ocf', provider: parts[1]!, type: parts[2]! } };
    case 'lsb':
    case 'systemd': {
      const name = parts.slice(1).join(':');
      const valid = cls === 'lsb' ? /^(\/[^\0]+|[A-Za-z0-9_][A-Za-z0-9_.@+-]*)$/.test(name) : /^[A-Za-z0-9_][A-Za-z0-9_.@:\\-]*$/.test(name);
      if (!valid) return { ok: false, reason: `'${text}' has no usable ${cls === 'lsb' ? 'init script name' : 'unit name'}` };
      return { ok: true, agent: { class: cls, type: name } };
    }
    case 'builtin': {
      const t = parts.slice(1).join(':');
      if (!(BUILTINS as readonly string[]).includes(t)) return { ok: false, reason: `'${text}': carpool has no built-in '${t}'` };
      return { ok: true, agent: { class: 'builtin', type: t as (typeof BUILTINS)[number] } };
    }
    default:
      if (parts.length === 1 && AGENT_PART_RE.test(text)) {
        return { ok: false, reason: `'${text}' names no class — did you mean 'ocf:heartbeat:${text}' or 'lsb:${text}'?` };
      }
      return { ok: false, reason: `'${text}': unknown agent class '${cls}'` };
  }
}

interface ResourceDraft {
  readonly id?: { readonly value: string; readonly node: Node };
  readonly resource?: Resource;
  /** Explicit per-resource values; group defaults fill in the rest. */
  readonly explicit: { readonly migrationThreshold: boolean; readonly failureTimeout: boolean };
}

/**
 * Read `resources:` and `groups:` from the top-level entries (errors go to `c`). Returns
 * undefined when neither is present or when something is wrong (the caller throws then).
 */
export function readResourcesSection(c: Checker, top: Map<string, Entry>, instanceNames: readonly string[]): ResourcesConfig | undefined {
  const resEntry = top.get('resources');
  const grpEntry = top.get('groups');
  if (!resEntry && !grpEntry) return undefined;
  const errorsBefore = c.errors.length;
  const drafts: ResourceDraft[] = [];
  if (resEntry) {
    const list = c.resolve(resEntry.value);
    if (!list || !isSeq(list)) {
      c.error(list ?? resEntry.keyNode, list ? 'INVALID_TYPE' : 'NO_VALUE', `resources: got ${describe(list)}`, 'a list of resources (id, agent, params, op)');
    } else {
      list.items.forEach((item, i) => drafts.push(readResource(c, item as Node | null, i, list as Node)));
    }
  }
  const byId = new Map<string, ResourceDraft>();
  for (const d of drafts) {
    if (!d.id) continue;
    const prev = byId.get(d.id.value);
    if (prev?.id) {
      c.error(d.id.node, 'DUPLICATE_NAME', `resource id '${d.id.value}' is used twice (first at line ${c.pos(prev.id.node).line})`, 'a unique id per resource');
    } else byId.set(d.id.value, d);
  }

  const groups: ResourceGroup[] = [];
  const memberOf = new Map<string, string>();
  const groupDefaults = new Map<string, { migrationThreshold?: number; failureTimeoutMs?: number }>();
  if (grpEntry) {
    const list = c.resolve(grpEntry.value);
    if (!list || !isSeq(list)) {
      c.error(list ?? grpEntry.keyNode, list ? 'INVALID_TYPE' : 'NO_VALUE', `groups: got ${describe(list)}`, 'a list of groups (id, instance, resources)');
    } else {
      const seen = new Map<string, Node>();
      const drafted: GroupDraft[] = [];
      list.items.forEach((item, i) => {
        const g = readGroup(c, item as Node | null, i, list as Node, instanceNames, byId, memberOf);
        if (!g) return;
        const prev = seen.get(g.group.id);
        if (prev) {
          c.error(g.idNode, 'DUPLICATE_NAME', `group id '${g.group.id}' is used twice (first at line ${c.pos(prev).line})`, 'a unique id per group');
          return;
        }
        if (byId.has(g.group.id)) {
          c.error(g.idNode, 'DUPLICATE_NAME', `group id '${g.group.id}' is also a resource id`, 'ids unique across resources and groups (as in a CIB)');
          return;
        }
        seen.set(g.group.id, g.idNode);
        drafted.push(g);
        groupDefaults.set(g.group.id, g.defaults);
      });
      groups.push(...resolveGroupRelations(c, drafted));
    }
  }
  for (const d of drafts) {
    if (d.id && d.resource && !memberOf.has(d.id.value)) {
      c.error(d.id.node, 'UNGROUPED_RESOURCE', `resource '${d.id.value}' is in no group; a resource runs where its group's instance is master`,
        `a group listing it: groups: [{ id: ..., instance: ..., resources: [${d.id.value}] }]`);
    }
  }
  if (c.errors.length > errorsBefore) return undefined;
  const resources = drafts.map((d) => {
    const r = d.resource!;
    const defs = groupDefaults.get(memberOf.get(r.id) ?? '') ?? {};
    return {
      ...r,
      ...(!d.explicit.migrationThreshold && defs.migrationThreshold !== undefined ? { migrationThreshold: defs.migrationThreshold } : {}),
      ...(!d.explicit.failureTimeout && defs.failureTimeoutMs !== undefined ? { failureTimeoutMs: defs.failureTimeoutMs } : {}),
    };
  });
  return { resources, groups };
}

function peekId(c: Checker, node: Node | null): string | undefined {
  if (!node || !isMap(node)) return undefined;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'id');
  const v = c.resolve(pair?.value as Node | null);
  return isScalar(v) && typeof v.value === 'string' ? v.value : undefined;
}

function readId(c: Checker, r: Reader, where: string, node: Node, what: string): { value: string; node: Node } | undefined {
  if (!r.has('id')) {
    c.error(node, 'MISSING_KEY', `missing 'id' in ${where}`, `a unique ${what} id`);
    return undefined;
  }
  const s = r.string('id', `a ${what} id of letters, digits and _ . : @ -`);
  if (s && !ID_RE.test(s.value)) {
    c.error(s.node, 'INVALID_VALUE', `id in ${where}: '${s.value}' is not a usable id`, '1..64 letters, digits and _ . : @ -, not starting with a punctuation mark');
    return undefined;
  }
  return s;
}

function readThreshold(c: Checker, r: Reader): number | undefined {
  const node = c.resolve(r.node('migration_threshold'));
  if (isScalar(node) && typeof node.value === 'string' && /^(\+?INFINITY|INF)$/i.test(node.value)) return 0;
  return r.integer('migration_threshold', 0, 1_000_000)?.value;
}

/** A duration key of `r` in ms (`10s`, `500ms`, `2m`, a bare number = seconds); reported and undefined when invalid. */
export function readDuration(c: Checker, r: Reader, key: string, where: string, allowZero: boolean): number | undefined {
  const expected = `a duration such as 10s, 500ms, 2m (a bare number is seconds)${allowZero ? '; 0 = never' : ''}`;
  const node = c.resolve(r.node(key));
  if (!node || !isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
    c.error(node ?? r.keyNode(key) ?? null, node ? 'INVALID_TYPE' : 'NO_VALUE', `${key} in ${where}: got ${describe(node)}`, expected);
    return undefined;
  }
  const ms = parseDurationMs(node.value);
  if (ms === undefined || (!allowZero && ms === 0)) {
    c.error(node, 'INVALID_VALUE', `${key} in ${where}: '${String(node.value)}' is not a ${allowZero ? '' : 'positive '}duration`, expected);
    return undefined;
  }
  return ms;
}

/** A mapping of name: scalar (numbers and booleans become text, as a CIB nvpair holds them). */
function readStringMap(c: Checker, entry: Entry, where: string, keyRe: RegExp, keyExpected: string): Record<string, string> | undefined {
  const what = `${entry.key} of ${where}`;
  const entries = c.entries(entry.value, what, entry.keyNode);
  if (!entries) return undefined;
  const out: Record<string, string> = {};
  let ok = true;
  for (const e of entries.values()) {
    if (!keyRe.test(e.key)) {
      c.error(e.keyNode, 'INVALID_VALUE', `${what}: '${e.key}' is not a usable name`, keyExpected);
      ok = false;
      continue;
    }
    const v = c.resolve(e.value);
    const val = isScalar(v) ? v.value : undefined;
    if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') {
      c.error(v ?? e.keyNode, v ? 'INVALID_TYPE' : 'NO_VALUE', `${e.key} in ${what}: got ${describe(v)}`, 'a text, number or true/false');
      ok = false;
      continue;
    }
    out[e.key] = String(val);
  }
  return ok ? out : undefined;
}

function readResource(c: Checker, item: Node | null, index: number, list: Node): ResourceDraft {
  const node = c.resolve(item) ?? list;
  const pid = peekId(c, node);
  const where = pid ? `resource '${pid}'` : `resource #${index + 1}`;
  const none: ResourceDraft = { explicit: { migrationThreshold: false, failureTimeout: false } };
  const entries = c.entries(item, where, list);
  if (!entries) return none;
  c.unknownKeys(entries, RESOURCE_KEYS, where, {
    name: 'id', type: 'agent', class: 'agent', provider: 'agent', instance_attributes: 'params', parameters: 'params', attributes: 'params',
    operations: 'op', ops: 'op', 'migration-threshold': 'migration_threshold', 'failure-timeout': 'failure_timeout',
  });
  const r = new Reader(c, where, entries);
  const errorsBefore = c.errors.length;
  const id = readId(c, r, where, node, 'resource');

  let agent: AgentSpec | undefined;
  if (!r.has('agent')) c.error(node, 'MISSING_KEY', `missing 'agent' in ${where}`, EXPECTED_AGENT);
  else {
    const a = r.string('agent', EXPECTED_AGENT);
    if (a) {
      const p = parseAgent(a.value);
      if (p.ok) agent = p.agent;
      else c.error(a.node, 'INVALID_AGENT', `agent in ${where}: ${p.reason}`, EXPECTED_AGENT);
    }
  }
  const params = r.has('params')
    ? readStringMap(c, entries.get('params')!, where, /^[A-Za-z0-9_][A-Za-z0-9_-]*$/, 'letters, digits, _ and -')
    : {};
  const env = r.has('env') ? readStringMap(c, entries.get('env')!, where, /^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') : {};
  if (env) {
    for (const k of Object.keys(env)) {
      if (k.startsWith('OCF_')) c.error(entries.get('env')!.keyNode, 'INVALID_VALUE', `env of ${where}: ${k} is set by carpool (parameters go in params)`, 'a variable not starting with OCF_');
    }
  }
  if (agent && params) checkAgentParams(c, agent, params, entries.get('params')?.keyNode ?? node, where);

  const ops = readOps(c, entries.get('op'), where);
  const explicit = { migrationThreshold: r.has('migration_threshold'), failureTimeout: r.has('failure_timeout') };
  const threshold = explicit.migrationThreshold ? readThreshold(c, r) : 0;
  const failureTimeoutMs = explicit.failureTimeout ? readDuration(c, r, 'failure_timeout', where, true) : 0;

  if (c.errors.length > errorsBefore || !id || !agent || !params || !env || !ops || threshold === undefined || failureTimeoutMs === undefined) {
    return { ...(id ? { id } : {}), explicit };
  }
  const pos = c.pos(node);
  const resource: Resource = {
    id: id.value, agent, params, env, start: ops.start, stop: ops.stop, ...(ops.monitor ? { monitor: ops.monitor } : {}),
    migrationThreshold: threshold, failureTimeoutMs, origin: { file: c.file, line: pos.line, column: pos.column },
  };
  return { id, resource, explicit };
}

/** Built-ins are carpool's own: their parameters are checked here; LSB and systemd take none. */
function checkAgentParams(c: Checker, agent: AgentSpec, params: Record<string, string>, at: Node, where: string): void {
  if (agent.class === 'lsb' || agent.class === 'systemd') {
    if (Object.keys(params).length > 0) {
      c.error(at, 'INVALID_VALUE', `params of ${where}: ${agent.class} resources take no parameters`, `no params (configure the service itself), or an OCF agent`);
    }
    return;
  }
  if (agent.class !== 'builtin') return;
  const known = BUILTIN_PARAMS[agent.type];
  const names = known.map(([n]) => n);
  for (const k of Object.keys(params)) {
    if (!names.includes(k)) c.error(at, 'UNKNOWN_KEY', `params of ${where}: builtin:${agent.type} has no parameter '${k}'`, `one of ${names.join(', ')}`);
  }
  for (const [n, required] of known) {
    if (required && params[n] === undefined) c.error(at, 'MISSING_KEY', `params of ${where}: builtin:${agent.type} needs '${n}'`, `${n}: ...`);
  }
  const bad = (name: string, expected: string) => c.error(at, 'INVALID_VALUE', `params of ${where}: ${name} '${params[name]}' is not usable`, expected);
  switch (agent.type) {
    case 'address': {
      const cidr = params.address !== undefined ? parseCidr(params.address, 32) : undefined;
      if (params.address !== undefined && (!cidr || cidr.family !== 4)) bad('address', 'an IPv4 address with optional /prefix, e.g. 10.0.0.101/24');
      if (params.dev !== undefined && !validIfname(params.dev)) bad('dev', 'an interface name');
      if (params.garp !== undefined && !/^(10|\d)$/.test(params.garp)) bad('garp', 'a count 0..10');
      break;
    }
    case 'http':
      if (params.url !== undefined && !/^https?:\/\/[^\s/]+/.test(params.url)) bad('url', 'an http:// or https:// URL');
      if (params.status !== undefined && !/^\d{3}(-\d{3})?$/.test(params.status)) bad('status', 'a status code or range such as 200 or 200-399');
      break;
    case 'tcp':
      if (params.port !== undefined && !(/^\d+$/.test(params.port) && Number(params.port) >= 1 && Number(params.port) <= 65535)) bad('port', 'a port 1..65535');
      break;
    case 'command':
      if (params.start === undefined && params.monitor === undefined) {
        c.error(at, 'MISSING_KEY', `params of ${where}: builtin:command needs a 'start' or a 'monitor' command`, 'start: /path/to/cmd, stop: ..., monitor: ...');
      }
      break;
  }
}

function readOps(c: Checker, entry: Entry | undefined, where: string): { start: ResourceOperation; stop: ResourceOperation; monitor?: MonitorOperation } | undefined {
  const start: ResourceOperation = { timeoutMs: DEFAULT_OP_TIMEOUT_MS, onFail: 'restart' };
  const stop: ResourceOperation = { timeoutMs: DEFAULT_OP_TIMEOUT_MS, onFail: 'block' };
  if (!entry) return { start, stop };
  const what = `op of ${where}`;
  const entries = c.entries(entry.value, what, entry.keyNode);
  if (!entries) return undefined;
  c.unknownKeys(entries, OP_NAMES, what, { probe: 'monitor (the probe always runs)', status: 'monitor' });
  const errorsBefore = c.errors.length;
  const out: { start: ResourceOperation; stop: ResourceOperation; monitor?: MonitorOperation } = { start, stop };
  for (const name of OP_NAMES) {
    const e = entries.get(name);
    if (!e) continue;
    const w = `${name} op of ${where}`;
    const oe = c.entries(e.value, w, e.keyNode);
    if (!oe) continue;
    c.unknownKeys(oe, name === 'monitor' ? OP_KEYS : ['timeout', 'on_fail'], w, { 'on-fail': 'on_fail', onfail: 'on_fail', OCF_CHECK_LEVEL: 'check_level', depth: 'check_level' });
    const r = new Reader(c, w, oe);
    const timeoutMs = r.has('timeout') ? readDuration(c, r, 'timeout', w, false) : DEFAULT_OP_TIMEOUT_MS;
    let onFail: OnFail = name === 'stop' ? 'block' : 'restart';
    if (r.has('on_fail')) {
      const allowed: readonly OnFail[] = name === 'stop' ? ['block', 'ignore'] : ON_FAIL;
      const s = r.string('on_fail', `one of ${allowed.join(', ')}`);
      const v = s?.value === 'move' ? 'standby' : s?.value;
      if (s && !(allowed as readonly string[]).includes(v ?? '')) {
        c.error(s.node, 'INVALID_VALUE', `on_fail in ${w}: '${s.value}'${name === 'stop' ? ' (a failed stop cannot be recovered without fencing)' : ''}`,
          `one of ${allowed.join(', ')}${name === 'stop' ? '' : ' (move = standby)'}`);
      } else if (v) onFail = v as OnFail;
    }
    if (timeoutMs === undefined) continue;
    if (name === 'monitor') {
      if (!r.has('interval')) {
        c.error(oe.size ? e.keyNode : e.keyNode, 'MISSING_KEY', `missing 'interval' in ${w}`, 'interval: 10s (the probe with interval 0 always runs)');
        continue;
      }
      const intervalMs = readDuration(c, r, 'interval', w, false);
      const level = r.has('check_level') ? r.integer('check_level', 0, 100)?.value : undefined;
      if (intervalMs === undefined || (r.has('check_level') && level === undefined)) continue;
      out.monitor = { timeoutMs, onFail, intervalMs, ...(level !== undefined ? { checkLevel: level } : {}) };
    } else {
      out[name] = { timeoutMs, onFail };
    }
  }
  return c.errors.length > errorsBefore ? undefined : out;
}

interface Ref { readonly value: string; readonly node: Node }

/** A group as read, before `with` and `after` are resolved across groups. */
interface GroupDraft {
  readonly group: Omit<ResourceGroup, 'instance' | 'after' | 'with'> & { readonly instance?: string };
  readonly idNode: Node;
  readonly node: Node;
  readonly instanceNode?: Node;
  readonly with?: Ref;
  readonly after: readonly Ref[];
  readonly defaults: { migrationThreshold?: number; failureTimeoutMs?: number };
}

function readGroup(c: Checker, item: Node | null, index: number, list: Node, instanceNames: readonly string[],
  byId: Map<string, ResourceDraft>, memberOf: Map<string, string>): GroupDraft | undefined {
  const node = c.resolve(item) ?? list;
  const pid = peekId(c, node);
  const where = pid ? `group '${pid}'` : `group #${index + 1}`;
  const entries = c.entries(item, where, list);
  if (!entries) return undefined;
  c.unknownKeys(entries, GROUP_KEYS, where, {
    members: 'resources', primitives: 'resources', vip: 'instance', vrrp_instance: 'instance', name: 'id',
    colocation: 'with', colocated_with: 'with', 'with-rsc': 'with', order: 'after', requires: 'after', first: 'after', then: 'after',
  });
  const r = new Reader(c, where, entries);
  const errorsBefore = c.errors.length;
  const id = readId(c, r, where, node, 'group');
  let instance: string | undefined;
  let instanceNode: Node | undefined;
  let withRef: Ref | undefined;
  if (r.has('with')) withRef = r.string('with', 'the id of the group this one runs with');
  if (!r.has('instance')) {
    if (!r.has('with')) {
      c.error(node, 'MISSING_KEY', `missing 'instance' in ${where}`, `the name of the failover instance the group follows${instanceNames.length ? ` (${instanceNames.join(', ')})` : ''}, or with: GROUP`);
    }
  } else {
    const s = r.string('instance', 'an instance name');
    if (s && !instanceNames.includes(s.value)) {
      c.error(s.node, 'UNKNOWN_INSTANCE', `instance in ${where}: no instance is named '${s.value}'`,
        instanceNames.length ? `one of ${instanceNames.join(', ')}` : 'the name of an instance in instances:');
    } else if (s) {
      instance = s.value;
      instanceNode = s.node;
    }
  }
  const after: Ref[] = [];
  if (r.has('after')) {
    const v = c.resolve(r.node('after'));
    const items = v && isSeq(v) ? v.items.map((x) => c.resolve(x as Node | null)) : [v];
    for (const it of items) {
      if (isScalar(it) && typeof it.value === 'string' && it.value !== '') after.push({ value: it.value, node: it });
      else c.error(it ?? r.keyNode('after') ?? node, it ? 'INVALID_TYPE' : 'NO_VALUE', `after in ${where}: got ${describe(it)}`, 'a group id or a list of group ids (started before this group)');
    }
  }
  const members: string[] = [];
  if (!r.has('resources')) c.error(node, 'MISSING_KEY', `missing 'resources' in ${where}`, 'a list of resource ids, in start order');
  else {
    const seq = c.resolve(r.node('resources'));
    if (!seq || !isSeq(seq) || seq.items.length === 0) {
      c.error(seq ?? r.keyNode('resources') ?? node, seq && !isSeq(seq) ? 'INVALID_TYPE' : 'NO_VALUE', `resources in ${where}: got ${seq && isSeq(seq) ? 'an empty list' : describe(seq)}`,
        'a list of resource ids, in start order');
    } else {
      for (const it of seq.items) {
        const v = c.resolve(it as Node | null);
        if (!isScalar(v) || typeof v.value !== 'string') {
          c.error(v ?? seq, 'INVALID_TYPE', `resources in ${where}: an entry is ${describe(v)}`, 'a resource id');
          continue;
        }
        const rid = v.value;
        if (!byId.has(rid)) {
          c.error(v, 'UNKNOWN_RESOURCE', `resources in ${where}: no resource has id '${rid}'`, `one of ${[...byId.keys()].join(', ') || '(no resources defined)'}`);
          continue;
        }
        const other = memberOf.get(rid);
        if (other !== undefined) {
          c.error(v, 'RESOURCE_IN_TWO_GROUPS', `resources in ${where}: '${rid}' is already ${other === id?.value ? 'listed' : `in group '${other}'`}`, 'each resource in one group, once');
          continue;
        }
        memberOf.set(rid, id?.value ?? `#${index + 1}`);
        members.push(rid);
      }
    }
  }
  const defaults: { migrationThreshold?: number; failureTimeoutMs?: number } = {};
  if (r.has('migration_threshold')) {
    const t = readThreshold(c, r);
    if (t !== undefined) defaults.migrationThreshold = t;
  }
  if (r.has('failure_timeout')) {
    const t = readDuration(c, r, 'failure_timeout', where, true);
    if (t !== undefined) defaults.failureTimeoutMs = t;
  }
  const fence = readFence(c, r, where, node);
  if (c.errors.length > errorsBefore || !id || (!instance && !withRef)) return undefined;
  return {
    group: { id: id.value, ...(instance !== undefined ? { instance } : {}), members, ...(fence ? { fence } : {}) },
    idNode: id.node, node, ...(instanceNode ? { instanceNode } : {}), ...(withRef ? { with: withRef } : {}), after, defaults,
  };
}

/**
 * `with` and `after` across groups: `with` names a group and the instance comes from it (the
 * same instance is the only colocation a failover pair has); `after` names groups of the same
 * instance (order is kept on the node that runs both). Unknown ids, cycles and an `instance`
 * that contradicts `with` are errors at the reference.
 */
function resolveGroupRelations(c: Checker, drafts: readonly GroupDraft[]): ResourceGroup[] {
  const byId = new Map(drafts.map((d) => [d.group.id, d]));
  const known = () => [...byId.keys()].join(', ');
  const instanceOf = new Map<string, string | undefined>();
  const resolveInstance = (d: GroupDraft, path: string[]): string | undefined => {
    if (instanceOf.has(d.group.id)) return instanceOf.get(d.group.id);
    let inst = d.group.instance;
    if (d.with) {
      const w = d.with;
      const target = byId.get(w.value);
      if (w.value === d.group.id) c.error(w.node, 'INVALID_VALUE', `with in group '${d.group.id}': a group cannot run with itself`, 'the id of another group');
      else if (!target) c.error(w.node, 'UNKNOWN_GROUP', `with in group '${d.group.id}': no group has id '${w.value}'`, `one of ${known()}`);
      else if (path.includes(w.value)) {
        c.error(w.node, 'GROUP_CYCLE', `with in group '${d.group.id}': '${w.value}' runs with '${d.group.id}' in turn (${[...path, d.group.id, w.value].join(' with ')})`,
          'one group of the chain with an instance: and no with:');
      } else {
        const ti = resolveInstance(target, [...path, d.group.id]);
        if (ti !== undefined && inst !== undefined && ti !== inst) {
          c.error(d.instanceNode ?? w.node, 'INVALID_VALUE', `group '${d.group.id}': instance '${inst}' but with '${w.value}', which follows instance '${ti}'`,
            `instance: ${ti} (or no instance: with with:)`);
        }
        inst ??= ti;
      }
    }
    instanceOf.set(d.group.id, inst);
    return inst;
  };
  for (const d of drafts) resolveInstance(d, []);
  // after: known, same instance, no cycle.
  const edges = new Map<string, string[]>();
  for (const d of drafts) {
    const list: string[] = [];
    for (const a of d.after) {
      const target = byId.get(a.value);
      if (a.value === d.group.id) c.error(a.node, 'INVALID_VALUE', `after in group '${d.group.id}': a group cannot start after itself`, 'the id of another group');
      else if (!target) c.error(a.node, 'UNKNOWN_GROUP', `after in group '${d.group.id}': no group has id '${a.value}'`, `one of ${known()}`);
      else if (list.includes(a.value)) c.error(a.node, 'INVALID_VALUE', `after in group '${d.group.id}': '${a.value}' is listed twice`, 'each group once');
      else {
        const mine = instanceOf.get(d.group.id);
        const theirs = instanceOf.get(a.value);
        if (mine !== undefined && theirs !== undefined && mine !== theirs) {
          c.error(a.node, 'INVALID_VALUE', `after in group '${d.group.id}': '${a.value}' follows instance '${theirs}', this group '${mine}'; ` +
            'an order is kept on the node that runs both groups', `groups of the same instance (with: ${a.value} puts this group on it)`);
        }
        list.push(a.value);
      }
    }
    edges.set(d.group.id, list);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    if (state.get(id) === 'done') return;
    state.set(id, 'visiting');
    const d = byId.get(id)!;
    for (const next of edges.get(id) ?? []) {
      if (state.get(next) === 'visiting') {
        const ref = d.after.find((a) => a.value === next)!;
        const cycle = [...path.slice(path.indexOf(next)), id, next];
        c.error(ref.node, 'GROUP_CYCLE', `after in group '${id}': the start order is a cycle (${cycle.join(' after ')})`, 'an order without cycles: remove one of these after: entries');
      } else visit(next, [...path, id]);
    }
    state.set(id, 'done');
  };
  for (const d of drafts) visit(d.group.id, []);
  return drafts.flatMap((d) => {
    const instance = instanceOf.get(d.group.id);
    if (instance === undefined) return [];
    const after = edges.get(d.group.id) ?? [];
    return [{ ...d.group, instance, ...(after.length ? { after } : {}), ...(d.with ? { with: d.with.value } : {}) }];
  });
}

/**
 * `fence: [/usr/sbin/fence_virsh, -a, kvmhost, ...]` — an argv list executed without a shell
 * (the program an absolute path: the daemon runs in /), and `fence_timeout` (default 60 s).
 */
function readFence(c: Checker, r: Reader, where: string, node: Node): FenceCommand | undefined {
  const expected = 'an argument list such as [/usr/sbin/fence_virsh, -a, kvmhost, -n, h1, -o, off] (no shell)';
  if (!r.has('fence')) {
    if (r.has('fence_timeout')) c.error(r.keyNode('fence_timeout') ?? node, 'INVALID_VALUE', `fence_timeout in ${where} without fence`, `a 'fence' command, or no fence_timeout`);
    return undefined;
  }
  const seq = c.resolve(r.node('fence'));
  if (!seq || !isSeq(seq) || seq.items.length === 0) {
    c.error(seq ?? r.keyNode('fence') ?? node, seq && !isSeq(seq) ? 'INVALID_TYPE' : 'NO_VALUE',
      `fence in ${where}: got ${seq && isSeq(seq) ? 'an empty list' : describe(seq)}`, expected);
    return undefined;
  }
  const argv: string[] = [];
  for (const it of seq.items) {
    const v = c.resolve(it as Node | null);
    const value = isScalar(v) ? v.value : undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      c.error(v ?? seq, 'INVALID_TYPE', `fence in ${where}: an argument is ${describe(v)}`, expected);
      return undefined;
    }
    argv.push(String(value));
  }
  if (!argv[0]!.startsWith('/')) {
    c.error(seq.items[0] as Node, 'INVALID_VALUE', `fence in ${where}: '${argv[0]}' is not an absolute path; the daemon runs in / and uses no shell`,
      'an absolute path such as /usr/sbin/fence_virsh');
    return undefined;
  }
  const timeoutMs = r.has('fence_timeout') ? readDuration(c, r, 'fence_timeout', where, false) : DEFAULT_FENCE_TIMEOUT_MS;
  return timeoutMs === undefined ? undefined : { argv, timeoutMs };
}
