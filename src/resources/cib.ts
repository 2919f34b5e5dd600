/**
 * Heartbeat 2 / Pacemaker CIB ⇄ carpool YAML (`carpool import-cib`, `carpool export-cib`).
 * Reads both CIB dialects: Heartbeat 2.0's `<instance_attributes><attributes><nvpair/>` with
 * `is_managed`/`on_fail` spelled with underscores (seed 002 appendix B.5/B.6), meta attributes
 * written among the instance attributes (`target_role`), `from`/`to` constraints and `#uname`
 * rules; and Pacemaker's flat nvpairs with dashes, templates, `rsc_defaults`/`op_defaults`.
 *
 * Carried: groups and primitives, templates (resolved), defaults, order and colocation between
 * groups (`after:` / `with:`). Location preferences become a comment that says which node should
 * get the higher priority of the instance (the instance, not the group, decides placement).
 * Everything else — clones, master/slave, fencing, tickets, rules, roles, anti-colocation,
 * advisory orders, cluster options — is reported, one message per element with its id (one
 * summary line per kind past `SUMMARY_AFTER`), never dropped silently: `ImportResult.lost`
 * counts what was not carried (`--strict` fails on it). Uses a real XML parser; pure otherwise.
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { stringify } from 'yaml';
import type { AgentSpec, Resource, ResourcesConfig } from '../config/model.js';
import { formatDuration, parseDurationMs } from './core/duration.js';
import { classify, rightCommand, xmlLimits } from '../config/input-guard.js';

export interface ImportMessage {
  readonly level: 'warning' | 'error' | 'note';
  readonly text: string;
  /** Also said as a comment next to the resource in the YAML. */
  readonly inline?: boolean;
  /** Kind of element (`rsc_location`...): past `SUMMARY_AFTER` of one kind they are summarised. */
  readonly kind?: string;
}

export interface ImportResult {
  readonly yaml: string;
  readonly messages: readonly ImportMessage[];
  /** How many resources and groups came out. */
  readonly resources: number;
  readonly groups: number;
  /** Messages about something not carried (warnings and errors): `--strict` exits non-zero when > 0. */
  readonly lost: number;
  /** The node the location constraints prefer, when they name one (for the instance's priority there). */
  readonly preferredNode?: string;
}

export interface ImportOptions {
  /** Name of the failover instance the groups follow (`instance:` of each group). */
  readonly instance: string;
  /** File name for the header comment. */
  readonly source?: string;
}

/** More messages than this of one kind are said as one summary line. */
export const SUMMARY_AFTER = 20;

type X = Record<string, unknown>;

const ARRAYS = new Set([
  'node', 'utilization', 'primitive', 'group', 'clone', 'master', 'master_slave', 'bundle', 'template', 'nvpair', 'op', 'instance_attributes', 'meta_attributes',
  'attributes', 'rule', 'expression', 'date_expression', 'rsc_location', 'rsc_colocation', 'rsc_order', 'rsc_ticket', 'resource_set',
  'cluster_property_set',
]);
/** Providers shipped by resource-agents / pacemaker; anything else is a site's own agent. */
const KNOWN_PROVIDERS = ['heartbeat', 'pacemaker', 'linbit', 'clusterlabs', 'redhat', 'suse'];
/**
 * Meta attribute names (dashes): Heartbeat 2 CIBs write some of them among the instance
 * attributes (`target_role`), where Pacemaker reads them as meta too.
 */
const META_NAMES = new Set([
  'target-role', 'is-managed', 'resource-stickiness', 'resource-failure-stickiness', 'migration-threshold', 'failure-timeout', 'priority',
  'multiple-active', 'allow-migrate', 'critical', 'restart-type', 'requires', 'maintenance', 'notify', 'globally-unique', 'ordered',
  'collocated', 'interleave', 'clone-max', 'clone-node-max', 'master-max', 'master-node-max', 'promotable', 'promoted-max', 'promoted-node-max',
]);

function attr(x: X | undefined, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = x?.[`@${n}`];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function arr(x: X | undefined, name: string): X[] {
  const v = x?.[name];
  return Array.isArray(v) ? (v as X[]) : [];
}

function obj(x: X | undefined, name: string): X | undefined {
  const v = x?.[name];
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as X) : undefined;
}

/** nvpairs of attribute sets, Heartbeat 2.0 (`<attributes>` wrapper) and Pacemaker style alike. */
function nvpairs(sets: X[], what: string, msgs: ImportMessage[]): [string, string][] {
  const out: [string, string][] = [];
  for (const set of sets) {
    if (arr(set, 'rule').length) {
      msgs.push({ level: 'warning', text: `${what} '${attr(set, 'id') ?? '?'}': an attribute set with a <rule> is not supported; its values were ignored` });
      continue;
    }
    for (const holder of [set, ...arr(set, 'attributes')]) {
      for (const nv of arr(holder, 'nvpair')) {
        const name = attr(nv, 'name');
        const value = attr(nv, 'value');
        if (name === undefined) continue;
        out.push([name, value ?? '']);
      }
    }
  }
  return out;
}

/** Join the `\`-newline continuations of typeset listings (seed 002 prints tags that way). */
function joinContinuations(xml: string, msgs: ImportMessage[]): string {
  let count = 0;
  const out = xml.replace(/<[^<>]*>/g, (tag) => tag.replace(/\s*\\\r?\n\s*/g, () => { count++; return ' '; }));
  if (count) msgs.push({ level: 'note', text: `joined ${count} line continuation${count === 1 ? '' : 's'} ('\\' at the end of a line inside a tag, as typeset listings print them)` });
  return out;
}

interface Meta { migrationThreshold?: string; failureTimeout?: string }

interface Draft {
  id: string;
  agent: string;
  params: [string, string][];
  ops: { start?: X; stop?: X; monitor?: X };
  meta: Meta;
  comment?: string;
}

/** What the CIB says for every resource: `rsc_defaults`, `op_defaults`, templates. */
interface Context {
  readonly templates: ReadonlyMap<string, X>;
  /** op_defaults (or Heartbeat's `default-action-timeout`): timeout of every op that has none. */
  readonly opTimeout?: string;
}

function yamlScalar(v: string): string {
  if (/^(0|[1-9]\d*)$/.test(v) && v.length < 10) return v;
  return stringify(v, { lineWidth: 0 }).trimEnd();
}

/** Meta attributes of an element (its meta_attributes, Heartbeat 2.0 attributes on the element, and `extra`). */
function readMeta(owner: X, what: string, msgs: ImportMessage[], extra: [string, string][] = []): Meta {
  const pairs = nvpairs(arr(owner, 'meta_attributes'), `${what} meta_attributes`, msgs);
  // Heartbeat 2.0 put some meta attributes on the element itself.
  for (const k of ['is_managed', 'is-managed', 'resource_stickiness', 'resource-stickiness', 'target_role', 'target-role', 'migration-threshold', 'failure-timeout']) {
    const v = attr(owner, k);
    if (v !== undefined) pairs.push([k, v]);
  }
  return metaPairs([...extra, ...pairs], what, msgs);
}

function metaPairs(pairs: [string, string][], what: string, msgs: ImportMessage[]): Meta {
  const meta: Meta = {};
  for (const [k, v] of pairs) {
    switch (k.replace(/_/g, '-')) {
      case 'migration-threshold': meta.migrationThreshold = v; break;
      case 'failure-timeout': meta.failureTimeout = v; break;
      case 'is-managed':
        if (!/^(true|yes|1|on)$/i.test(v)) msgs.push({ level: 'warning', text: `${what}: is-managed=${v} (unmanaged resources) has no carpool equivalent; it will be managed` });
        break;
      case 'target-role':
        if (!/^started$/i.test(v)) msgs.push({ level: 'warning', text: `${what}: target-role=${v} is not supported; the resource runs wherever its group's instance is master` });
        break;
      case 'resource-stickiness': case 'priority': case 'multiple-active': case 'allow-migrate': case 'critical': case 'resource-failure-stickiness':
        msgs.push({ level: 'note', text: `${what}: meta attribute ${k}=${v} does not apply (placement follows the failover instance)` });
        break;
      default:
        msgs.push({ level: 'warning', text: `${what}: meta attribute ${k}=${v} is not supported; ignored` });
    }
  }
  return meta;
}

/** A primitive with its `template=` resolved: the template's class, type, attributes and ops, the primitive's own winning. */
function resolveTemplate(p: X, ctx: Context, what: string, msgs: ImportMessage[]): X | undefined {
  const name = attr(p, 'template');
  if (name === undefined) return p;
  const t = ctx.templates.get(name);
  if (!t) {
    msgs.push({ level: 'error', text: `${what}: template '${name}' is not defined (known: ${[...ctx.templates.keys()].join(', ') || 'none'}); skipped` });
    return undefined;
  }
  const own = arr(obj(p, 'operations'), 'op');
  const ownNames = new Set(own.map((o) => `${attr(o, 'name')}/${attr(o, 'role') ?? ''}`));
  const merged: X = {
    ...t, ...p,
    instance_attributes: [...arr(t, 'instance_attributes'), ...arr(p, 'instance_attributes')],
    meta_attributes: [...arr(t, 'meta_attributes'), ...arr(p, 'meta_attributes')],
    operations: { op: [...arr(obj(t, 'operations'), 'op').filter((o) => !ownNames.has(`${attr(o, 'name')}/${attr(o, 'role') ?? ''}`)), ...own] },
  };
  msgs.push({ level: 'note', text: `${what}: template '${name}' resolved (class, type, attributes and operations; the primitive's own win)` });
  return merged;
}

function readPrimitive(raw: X, ctx: Context, msgs: ImportMessage[]): Draft | undefined {
  const id = attr(raw, 'id');
  if (!id) {
    msgs.push({ level: 'error', text: 'a <primitive> without id was skipped' });
    return undefined;
  }
  const what = `primitive '${id}'`;
  const p = resolveTemplate(raw, ctx, what, msgs);
  if (!p) return undefined;
  const cls = attr(p, 'class') ?? 'ocf';
  const type = attr(p, 'type');
  if (!type) {
    msgs.push({ level: 'error', text: `${what}: no type${attr(p, 'template') ? '' : ' (and no template=)'}; skipped` });
    return undefined;
  }
  let agent: string;
  let comment: string | undefined;
  switch (cls) {
    case 'ocf': {
      const provider = attr(p, 'provider') ?? 'heartbeat';
      agent = `ocf:${provider}:${type}`;
      if (!KNOWN_PROVIDERS.includes(provider)) {
        comment = `custom agent: install it as /usr/lib/ocf/resource.d/${provider}/${type} on every node`;
        msgs.push({ level: 'warning', inline: true, text: `${what}: ${agent} is a custom agent (provider '${provider}' is not shipped by resource-agents): ` +
          `it needs its provider directory /usr/lib/ocf/resource.d/${provider}/ with the agent installed on every node` });
      }
      break;
    }
    case 'lsb': agent = `lsb:${type}`; break;
    case 'systemd': agent = `systemd:${type}`; break;
    case 'service':
      agent = `lsb:${type}`;
      msgs.push({ level: 'note', text: `${what}: class service mapped to lsb:${type} (use systemd:${type} on systemd hosts)` });
      break;
    case 'stonith':
      msgs.push({ level: 'error', text: `${what}: fencing devices (class stonith) are not supported by carpool; skipped` });
      return undefined;
    case 'heartbeat':
      msgs.push({ level: 'error', text: `${what}: Heartbeat v1 resource scripts (class heartbeat, /etc/ha.d/resource.d/${type}) take positional arguments carpool cannot pass; skipped — use an OCF agent or builtin:command` });
      return undefined;
    default:
      msgs.push({ level: 'error', text: `${what}: unknown class '${cls}'; skipped` });
      return undefined;
  }
  // Parameters, the later winning (a primitive's own over its template's); meta attributes written among them are meta.
  const byName = new Map<string, string>();
  const metaInParams: [string, string][] = [];
  for (const [k, v] of nvpairs(arr(p, 'instance_attributes'), `${what} instance_attributes`, msgs)) {
    if (META_NAMES.has(k.replace(/_/g, '-'))) {
      metaInParams.push([k, v]);
      msgs.push({ level: 'note', text: `${what}: ${k}=${v} is a meta attribute written among the instance attributes (Heartbeat 2 style): read as meta, not passed to the agent` });
    } else byName.set(k, v);
  }
  const params = [...byName];
  if ((cls === 'lsb' || cls === 'systemd' || cls === 'service') && params.length) {
    msgs.push({ level: 'warning', text: `${what}: ${cls} resources take no parameters; ${params.map(([k]) => k).join(', ')} dropped` });
    params.length = 0;
  }
  const ops: Draft['ops'] = {};
  for (const op of arr(obj(p, 'operations'), 'op')) {
    const name = attr(op, 'name') ?? '';
    const role = attr(op, 'role');
    if (role && !/^started$/i.test(role)) {
      msgs.push({ level: 'warning', text: `${what}: op ${name} for role ${role} is not supported (no promotable resources); skipped` });
      continue;
    }
    if (name === 'monitor' || name === 'start' || name === 'stop') {
      const interval = parseDurationMs(attr(op, 'interval') ?? '0') ?? 0;
      if (name === 'monitor' && interval === 0) {
        msgs.push({ level: 'note', text: `${what}: the monitor with interval 0 is the probe, which carpool always runs` });
        continue;
      }
      if (ops[name]) {
        msgs.push({ level: 'warning', text: `${what}: a second ${name} op (${attr(op, 'id') ?? ''}) is not supported (one recurring monitor per resource); skipped` });
        continue;
      }
      ops[name] = op;
    } else {
      msgs.push({ level: 'note', text: `${what}: op ${name} is not used by carpool; skipped` });
    }
  }
  if (ctx.opTimeout !== undefined) {
    // op_defaults: every operation without a timeout gets it, including the implicit start and stop.
    for (const name of ['start', 'stop', 'monitor'] as const) {
      const op = ops[name];
      if (op && attr(op, 'timeout') === undefined) ops[name] = { ...op, '@timeout': ctx.opTimeout };
      else if (!op && name !== 'monitor') ops[name] = { '@name': name, '@interval': '0', '@timeout': ctx.opTimeout };
    }
  }
  return { id, agent, params, ops, meta: readMeta(p, what, msgs, metaInParams), ...(comment ? { comment } : {}) };
}

function opYaml(d: Draft, name: 'start' | 'stop' | 'monitor', msgs: ImportMessage[]): string | undefined {
  const op = d.ops[name];
  if (!op) return undefined;
  const what = `primitive '${d.id}' op ${name}`;
  const parts: string[] = [];
  if (name === 'monitor') parts.push(`interval: ${attr(op, 'interval')}`);
  const timeout = attr(op, 'timeout');
  if (timeout !== undefined) {
    if (parseDurationMs(timeout) === undefined) msgs.push({ level: 'warning', text: `${what}: timeout '${timeout}' is not a duration; default 20s used` });
    else parts.push(`timeout: ${timeout}`);
  }
  const onFail = attr(op, 'on-fail', 'on_fail');
  if (onFail !== undefined) {
    const allowed = name === 'stop' ? ['block', 'ignore'] : ['restart', 'stop', 'standby', 'block', 'ignore'];
    if (allowed.includes(onFail)) parts.push(`on_fail: ${onFail}`);
    else if (onFail === 'fence') {
      msgs.push({ level: 'warning', text: `${what}: on-fail=fence needs fencing, which carpool does not do; ${name === 'stop' ? 'block' : 'standby'} used instead` });
      parts.push(`on_fail: ${name === 'stop' ? 'block' : 'standby'}`);
    } else msgs.push({ level: 'warning', text: `${what}: on-fail=${onFail} is not supported here; the default is used` });
  }
  const level = nvpairs(arr(op, 'instance_attributes'), what, msgs).find(([k]) => k === 'OCF_CHECK_LEVEL')?.[1] ?? attr(op, 'OCF_CHECK_LEVEL');
  if (level !== undefined && name === 'monitor') parts.push(`check_level: ${level}`);
  for (const a of ['start-delay', 'start_delay', 'interval-origin']) {
    if (attr(op, a) !== undefined) msgs.push({ level: 'warning', text: `${what}: ${a} is not supported; ignored` });
  }
  return `${name}: { ${parts.join(', ')} }`;
}

function draftYaml(d: Draft, msgs: ImportMessage[]): string {
  const lines = [`  - id: ${yamlScalar(d.id)}`, `    agent: ${d.agent}${d.comment ? `   # ${d.comment}` : ''}`];
  if (d.params.length) {
    lines.push('    params:');
    for (const [k, v] of d.params) lines.push(`      ${/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(k) ? k : yamlScalar(k)}: ${yamlScalar(v)}`);
  }
  const ops = (['monitor', 'start', 'stop'] as const).map((n) => opYaml(d, n, msgs)).filter((x): x is string => !!x);
  if (ops.length) {
    lines.push('    op:');
    for (const o of ops) lines.push(`      ${o}`);
  }
  const t = d.meta.migrationThreshold;
  if (t !== undefined) lines.push(`    migration_threshold: ${/^\+?INFINITY$/i.test(t) ? 0 : t}${/^\+?INFINITY$/i.test(t) ? '   # INFINITY: never moves for failures' : ''}`);
  if (d.meta.failureTimeout !== undefined) lines.push(`    failure_timeout: ${d.meta.failureTimeout}`);
  return lines.join('\n');
}

interface GroupDraft {
  id: string;
  members: string[];
  meta: Meta;
  after: string[];
  with?: string;
}

const isInfinity = (score: string | undefined) => score !== undefined && /^\+?INFINITY$/i.test(score);

/**
 * `<constraints>`: order and colocation between groups are carried onto `groups`; location
 * preferences become `placement` lines; the rest is reported. `groupOf` maps every imported
 * resource and group id to its group; `dropped` holds ids that were not imported.
 */
function readConstraints(constraints: X | undefined, groups: GroupDraft[], groupOf: ReadonlyMap<string, string>, dropped: ReadonlySet<string>,
  instance: string, msgs: ImportMessage[]): string[] {
  const placement: string[] = [];
  if (!constraints) return placement;
  const byId = new Map(groups.map((g) => [g.id, g]));
  const report = (kind: string, id: string, text: string, level: 'warning' | 'note' = 'warning') => msgs.push({ level, kind, text: `${kind} '${id}': ${text}` });
  /** The group of a constraint's resource, or a reason it has none. */
  const target = (ref: string | undefined): { group: string; member: boolean } | { why: string } => {
    if (ref === undefined) return { why: 'names no resource' };
    const g = groupOf.get(ref);
    if (g !== undefined) return { group: g, member: g !== ref };
    return { why: dropped.has(ref) ? `'${ref}' was not imported (see above)` : `'${ref}' is not a resource of this CIB` };
  };
  const roles = (c: X, names: string[]) => names.map((n) => attr(c, n)).filter((r): r is string => r !== undefined && !/^started$/i.test(r));

  for (const c of arr(constraints, 'rsc_order')) {
    const id = attr(c, 'id') ?? '?';
    if (arr(c, 'resource_set').length) { report('rsc_order', id, 'resource sets are not supported; not carried'); continue; }
    // Heartbeat 2.0: from/to with type="after" (from starts after to, the default) or "before".
    let first = attr(c, 'first');
    let then = attr(c, 'then');
    if (first === undefined && then === undefined) {
      const from = attr(c, 'from');
      const to = attr(c, 'to');
      if (attr(c, 'type') === 'before') { first = from; then = to; } else { first = to; then = from; }
    }
    const actions = [attr(c, 'first-action', 'action'), attr(c, 'then-action', 'to_action')].filter((a): a is string => a !== undefined && a !== 'start');
    if (actions.length) { report('rsc_order', id, `actions ${actions.join(', ')} (promote/demote/stop orders) are not supported; not carried`); continue; }
    const kind = attr(c, 'kind') ?? (attr(c, 'score') !== undefined && !isInfinity(attr(c, 'score')) && Number(attr(c, 'score')) <= 0 ? 'Optional' : 'Mandatory');
    if (!/^mandatory$/i.test(kind)) { report('rsc_order', id, `kind=${kind} (advisory or serializing order) is not supported; not carried`); continue; }
    const a = target(first);
    const b = target(then);
    if ('why' in a || 'why' in b) { report('rsc_order', id, `${'why' in a ? a.why : 'why' in b ? b.why : ''}; not carried`); continue; }
    if (a.group === b.group) {
      const g = byId.get(a.group)!;
      const ok = g.members.indexOf(first!) < g.members.indexOf(then!);
      report('rsc_order', id, ok ? `${first} before ${then}: already so within group '${g.id}'` : `${first} before ${then} contradicts the member order of group '${g.id}', which carpool keeps; not carried`, ok ? 'note' : 'warning');
      continue;
    }
    if (attr(c, 'symmetrical') === 'false') report('rsc_order', id, 'symmetrical=false: carpool always stops in reverse order; carried as symmetrical', 'note');
    if (a.member || b.member) report('rsc_order', id, `between members of groups: carried as group '${b.group}' after group '${a.group}'`, 'note');
    const g = byId.get(b.group)!;
    if (!g.after.includes(a.group)) g.after.push(a.group);
  }

  for (const c of arr(constraints, 'rsc_colocation')) {
    const id = attr(c, 'id') ?? '?';
    if (arr(c, 'resource_set').length) { report('rsc_colocation', id, 'resource sets are not supported; not carried'); continue; }
    const rsc = attr(c, 'rsc', 'from');
    const withRsc = attr(c, 'with-rsc', 'to');
    const score = attr(c, 'score') ?? 'INFINITY';
    const r = roles(c, ['rsc-role', 'with-rsc-role', 'role', 'to_role', 'from_role']);
    if (r.length) { report('rsc_colocation', id, `roles ${r.join(', ')} are not supported (no promotable resources); not carried`); continue; }
    const a = target(rsc);
    const b = target(withRsc);
    if ('why' in a || 'why' in b) { report('rsc_colocation', id, `${'why' in a ? a.why : 'why' in b ? b.why : ''}; not carried`); continue; }
    if (score.startsWith('-')) {
      report('rsc_colocation', id, `score ${score} keeps ${rsc} away from ${withRsc}: not carried (every imported group follows instance '${instance}' and runs with the others; give one group its own instance)`);
      continue;
    }
    if (a.group === b.group) { report('rsc_colocation', id, `${rsc} with ${withRsc}: already together in group '${a.group}'`, 'note'); continue; }
    if (!isInfinity(score)) {
      report('rsc_colocation', id, `advisory score ${score}: carried as with: (the groups share instance '${instance}', so they run together anyway)`, 'note');
    }
    const g = byId.get(a.group)!;
    if (g.with !== undefined && g.with !== b.group) { report('rsc_colocation', id, `group '${g.id}' already runs with '${g.with}'; a second with: is not carried`); continue; }
    // A cycle of with: (a with b, b with a) is one relation: the second is said and dropped.
    let cur: string | undefined = b.group;
    const seen = new Set<string>();
    while (cur !== undefined && !seen.has(cur)) { seen.add(cur); cur = byId.get(cur)?.with; }
    if (seen.has(g.id)) { report('rsc_colocation', id, `${rsc} with ${withRsc} closes a cycle of colocations; already carried the other way`, 'note'); continue; }
    if (a.member || b.member) report('rsc_colocation', id, `between members of groups: carried as group '${a.group}' with group '${b.group}'`, 'note');
    g.with = b.group;
  }

  for (const c of arr(constraints, 'rsc_location')) {
    const id = attr(c, 'id') ?? '?';
    if (arr(c, 'resource_set').length || attr(c, 'rsc-pattern') !== undefined) { report('rsc_location', id, 'resource sets and rsc-pattern are not supported; not carried'); continue; }
    const t = target(attr(c, 'rsc'));
    if ('why' in t) { report('rsc_location', id, `${t.why}; not carried`); continue; }
    const r = roles(c, ['role']);
    if (r.length) { report('rsc_location', id, `role ${r.join(', ')} is not supported; not carried`); continue; }
    // Pacemaker: node= and score=; Heartbeat 2: a <rule score=...> with one `#uname eq NODE` expression.
    let node = attr(c, 'node');
    let score = attr(c, 'score');
    const rules = arr(c, 'rule');
    if (node === undefined && rules.length === 1) {
      const rule = rules[0]!;
      const ex = arr(rule, 'expression');
      const only = ex.length === 1 && !arr(rule, 'rule').length && !arr(rule, 'date_expression').length ? ex[0]! : undefined;
      if (only && attr(only, 'attribute') === '#uname' && attr(only, 'operation') === 'eq' && attr(only, 'value') !== undefined) {
        node = attr(only, 'value');
        score = attr(rule, 'score') ?? (attr(rule, 'score-attribute') !== undefined ? undefined : '0');
      }
    }
    if (node === undefined || score === undefined) {
      report('rsc_location', id, `${rules.length ? 'rules other than one `#uname eq NODE` expression' : 'no node and score'}: not carried (placement follows instance '${instance}')`);
      continue;
    }
    const n = isInfinity(score) ? Infinity : /^-INFINITY$/i.test(score) ? -Infinity : Number(score);
    if (Number.isNaN(n)) { report('rsc_location', id, `score '${score}' is not a number; not carried`); continue; }
    if (n < 0) {
      report('rsc_location', id, `group '${t.group}' must ${n === -Infinity ? 'never' : 'rather not'} run on ${node} (score ${score}): not carried — ` +
        `a node that must not hold instance '${instance}' needs no instance: (or the lowest priority) in its carpool.yaml`);
      continue;
    }
    if (n === 0) { report('rsc_location', id, `score 0 on ${node}: no preference`, 'note'); continue; }
    placement.push(`#   ${node} preferred for group '${t.group}' (rsc_location '${id}', score ${score}): give ${node} the higher priority of instance '${instance}' ` +
      '(VRRP priority 150 there, 100 on the others; CARP advskew 0 there, 100 on the others) and preempt, so it takes the group back when it returns');
    report('rsc_location', id, `${node} preferred for group '${t.group}': carried as the node's priority for instance '${instance}' (see the comment in the output)`, 'note');
  }
  for (const c of arr(constraints, 'rsc_ticket')) {
    report('rsc_ticket', attr(c, 'id') ?? '?', `tickets (multi-site, booth) are not supported; ${attr(c, 'rsc') ?? 'the resource'} runs without ticket '${attr(c, 'ticket') ?? '?'}'`);
  }
  for (const k of Object.keys(constraints)) {
    if (!k.startsWith('@') && !['rsc_order', 'rsc_colocation', 'rsc_location', 'rsc_ticket', '#text'].includes(k)) {
      for (const c of arr(constraints, k).length ? arr(constraints, k) : [obj(constraints, k) ?? {}]) report(k, attr(c, 'id') ?? '?', 'unknown constraint; not carried');
    }
  }
  const preferred = new Set(placement.map((l) => /^#\s+(\S+) preferred/.exec(l)?.[1]));
  if (preferred.size > 1) {
    msgs.push({ level: 'warning', kind: 'rsc_location', text: `rsc_location: groups prefer different nodes (${[...preferred].join(', ')}) but all follow instance '${instance}': ` +
      'only one node can have its higher priority; give the groups instances of their own to keep both preferences' });
  }
  return placement;
}

/** Cluster options (`crm_config`), `rsc_defaults`, `op_defaults`: what applies to every resource. */
function readDefaults(conf: X | undefined, msgs: ImportMessage[]): { meta: Meta; opTimeout?: string } {
  const meta: Meta = {};
  let opTimeout: string | undefined;
  const rsc = metaPairs(nvpairs([...arr(obj(conf, 'rsc_defaults'), 'meta_attributes'), ...arr(obj(conf, 'rsc_defaults'), 'attributes')], 'rsc_defaults', msgs), 'rsc_defaults', msgs);
  Object.assign(meta, rsc);
  if (rsc.migrationThreshold !== undefined || rsc.failureTimeout !== undefined) {
    msgs.push({ level: 'note', text: 'rsc_defaults: migration-threshold / failure-timeout carried as defaults of every group' });
  }
  for (const [k, v] of nvpairs([...arr(obj(conf, 'op_defaults'), 'meta_attributes'), ...arr(obj(conf, 'op_defaults'), 'attributes')], 'op_defaults', msgs)) {
    if (k === 'timeout') {
      if (parseDurationMs(v) === undefined) msgs.push({ level: 'warning', kind: 'op_defaults', text: `op_defaults: timeout '${v}' is not a duration; not carried` });
      else { opTimeout = v; msgs.push({ level: 'note', text: `op_defaults: timeout=${v} carried onto every operation without its own` }); }
    } else msgs.push({ level: 'warning', kind: 'op_defaults', text: `op_defaults: ${k}=${v} is not supported; not carried` });
  }
  for (const set of arr(obj(conf, 'crm_config'), 'cluster_property_set')) {
    for (const [k, v] of nvpairs([set], 'crm_config', msgs)) {
      const name = k.replace(/_/g, '-');
      if (name === 'default-action-timeout' && opTimeout === undefined && parseDurationMs(v) !== undefined) {
        opTimeout = v;
        msgs.push({ level: 'note', text: `crm_config: ${k}=${v} carried onto every operation without its own timeout` });
      } else if (['dc-version', 'cluster-infrastructure', 'cluster-name', 'last-lrm-refresh', 'have-watchdog'].includes(name)) {
        msgs.push({ level: 'note', kind: 'crm_config', text: `crm_config: ${k}=${v} describes the old cluster; nothing to carry` });
      } else {
        msgs.push({ level: 'warning', kind: 'crm_config', text: `crm_config: cluster option ${k}=${v} has no carpool equivalent; not carried` });
      }
    }
  }
  return { meta, ...(opTimeout !== undefined ? { opTimeout } : {}) };
}

/** Past `SUMMARY_AFTER` messages of one kind, one summary line with their ids. */
function summarise(msgs: ImportMessage[]): ImportMessage[] {
  const count = new Map<string, number>();
  for (const m of msgs) if (m.kind) count.set(`${m.kind}/${m.level}`, (count.get(`${m.kind}/${m.level}`) ?? 0) + 1);
  const out: ImportMessage[] = [];
  const done = new Set<string>();
  for (const m of msgs) {
    const key = `${m.kind}/${m.level}`;
    if (!m.kind || (count.get(key) ?? 0) <= SUMMARY_AFTER) { out.push(m); continue; }
    if (done.has(key)) continue;
    done.add(key);
    const all = msgs.filter((x) => `${x.kind}/${x.level}` === key);
    const ids = all.map((x) => /^[^']*'([^']*)'/.exec(x.text)?.[1] ?? '?');
    const first = all[0]!.text;
    out.push({ level: m.level, kind: m.kind, text: `${all.length} ${m.kind} ${m.level === 'note' ? 'notes' : 'not carried'} (${ids.slice(0, 10).join(', ')}, ... and ${ids.length - 10} more); the first: ${first}` });
  }
  return out;
}

/** CIB XML text → carpool YAML (resources: and groups:), with messages for what does not map. */
export function importCib(xml: string, opts: ImportOptions): ImportResult {
  const raw: ImportMessage[] = [];
  const fatal = (t: string): ImportResult => ({ yaml: '', messages: [{ level: 'error', text: t }], resources: 0, groups: 0, lost: 1 });
  const src = opts.source ?? 'the CIB';
  const kind = classify(xml);
  if (kind === 'empty') return fatal(`${src}: the file is empty (expected a CIB: the output of cibadmin -Q, or cib.xml)`);
  if (kind === 'binary') return fatal(`${src}: the file holds binary data, not XML (expected a CIB: the output of cibadmin -Q, or cib.xml)`);
  if (kind !== 'cib' && kind !== 'xml') {
    const what = kind === 'keepalived' ? 'keepalived.conf' : kind === 'heartbeat' ? "Heartbeat's ha.cf" : 'not XML (carpool YAML?)';
    return fatal(`${src}: this is ${what}, not a CIB: ${rightCommand(kind, src) ?? 'carpool check -c FILE'} reads it`);
  }
  // Bounded before fast-xml-parser sees it: it recurses per level and runs out of memory on a huge tag.
  const limits = xmlLimits(xml, src);
  if (limits) return fatal(`${limits.file}:${limits.line}:${limits.column}: ${limits.message} (expected ${limits.expected}${/nested/.test(limits.message) ? '; a CIB nests about ten levels deep' : ''})`);
  const text = joinContinuations(xml, raw);
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    return { yaml: '', messages: [{ level: 'error', text: `not well-formed XML: ${valid.err.msg} (line ${valid.err.line}${valid.err.col ? `, column ${valid.err.col}` : ''})` }], resources: 0, groups: 0, lost: 1 };
  }
  let doc: X;
  try {
    doc = new XMLParser({
      ignoreAttributes: false, attributeNamePrefix: '@', parseAttributeValue: false, parseTagValue: false,
      isArray: (name) => ARRAYS.has(name), ignoreDeclaration: true, ignorePiTags: true,
    }).parse(text) as X;
  } catch (err) {
    // fast-xml-parser refuses, among others, elements nested deeper than it allows (a CIB needs about ten levels).
    const why = err instanceof Error ? err.message : String(err);
    return { yaml: '', messages: [{ level: 'error', text: `cannot read this XML as a CIB: ${why}${/nested/i.test(why) ? ' (a CIB nests about ten levels deep; this is not one)' : ''}` }], resources: 0, groups: 0, lost: 1 };
  }
  // <cib><configuration>, a bare <configuration> (export-cib with constraints), a bare <resources>, or a lone <primitive>/<group>.
  const conf = obj(obj(doc, 'cib'), 'configuration') ?? obj(doc, 'configuration');
  const resources = obj(conf, 'resources') ?? obj(doc, 'resources') ?? doc;
  const defaults = readDefaults(conf, raw);
  const ctx: Context = {
    templates: new Map(arr(resources, 'template').map((t) => [attr(t, 'id') ?? '', t])),
    ...(defaults.opTimeout !== undefined ? { opTimeout: defaults.opTimeout } : {}),
  };
  const drafts: Draft[] = [];
  const groups: GroupDraft[] = [];
  const groupOf = new Map<string, string>();
  const dropped = new Set<string>();
  const addGroup = (id: string, members: X[], meta: Meta, aliases: string[] = []) => {
    const ids: string[] = [];
    for (const p of members) {
      const d = readPrimitive(p, ctx, raw);
      if (d) { drafts.push(d); ids.push(d.id); } else dropped.add(attr(p, 'id') ?? '');
    }
    if (ids.length) {
      groups.push({ id, members: ids, meta: { ...defaults.meta, ...meta }, after: [] });
      for (const x of [id, ...ids, ...aliases]) groupOf.set(x, id);
    } else {
      raw.push({ level: 'error', text: `group '${id}': nothing left to import` });
      for (const x of [id, ...aliases]) dropped.add(x);
    }
  };
  for (const g of arr(resources, 'group')) {
    const id = attr(g, 'id') ?? `group${groups.length + 1}`;
    if (arr(g, 'group').length || arr(g, 'clone').length) raw.push({ level: 'warning', text: `group '${id}': nested groups or clones inside a group are not supported; skipped` });
    addGroup(id, arr(g, 'primitive'), readMeta(g, `group '${id}'`, raw));
  }
  for (const p of arr(resources, 'primitive')) {
    const id = attr(p, 'id') ?? 'resource';
    raw.push({ level: 'note', text: `primitive '${id}' is in no group: imported as group '${id}-group' (carpool runs every resource in a group)` });
    addGroup(`${id}-group`, [p], {});
  }
  for (const kind of ['clone', 'master', 'master_slave', 'bundle']) {
    for (const c of arr(resources, kind)) {
      const id = attr(c, 'id') ?? kind;
      const inner = arr(c, 'group')[0];
      const innerIds = [...arr(inner, 'primitive'), ...arr(c, 'primitive')].map((p) => attr(p, 'id') ?? '');
      const promotable = kind !== 'clone' || nvpairs(arr(c, 'meta_attributes'), `${kind} '${id}' meta_attributes`, []).some(([k, v]) => k === 'promotable' && /^(true|yes|1)$/i.test(v));
      if (kind === 'bundle' || promotable) {
        raw.push({ level: 'error', kind, text: kind === 'bundle' ? `bundle '${id}': container bundles are not supported; skipped`
          : `${kind === 'clone' ? 'promotable clone' : 'master/slave resource'} '${id}': carpool has no promotable resources (no promote/demote, no Master role); ` +
            `${innerIds.join(', ')} not imported — run it outside carpool (e.g. DRBD with its own tools) or as a plain group if it needs no promotion` });
        for (const x of [id, attr(inner, 'id') ?? '', ...innerIds]) if (x) dropped.add(x);
        continue;
      }
      raw.push({ level: 'warning', kind, text: `clone '${id}': carpool has no clones (a group runs only where its instance is master); ` +
        `its ${inner ? 'group' : 'primitive'} is imported to run on the master only` });
      if (inner) addGroup(attr(inner, 'id') ?? `${id}-group`, arr(inner, 'primitive'), readMeta(inner, `group in ${kind} '${id}'`, raw), [id]);
      else addGroup(`${id}-group`, arr(c, 'primitive'), {}, [id]);
    }
  }
  for (const t of arr(resources, 'template')) {
    const tid = attr(t, 'id') ?? '';
    if (![...arr(resources, 'primitive'), ...arr(resources, 'group').flatMap((g) => arr(g, 'primitive'))].some((p) => attr(p, 'template') === tid)) {
      raw.push({ level: 'note', kind: 'template', text: `template '${tid}': used by no primitive; nothing to import` });
    }
  }
  // Elements nothing above reads: named, so that nothing vanishes without a word.
  const KNOWN_RESOURCES = ['primitive', 'group', 'clone', 'master', 'master_slave', 'bundle', 'template'];
  for (const k of Object.keys(resources)) {
    if (k.startsWith('@') || k === '#text' || KNOWN_RESOURCES.includes(k) || (resources === doc && ['cib', 'configuration', 'resources'].includes(k))) continue;
    for (const e of arr(resources, k).length ? arr(resources, k) : [obj(resources, k) ?? {}]) {
      raw.push({ level: 'warning', kind: k, text: `<${k}> '${attr(e, 'id') ?? '?'}' in <resources> is not known to carpool; not carried` });
    }
  }
  for (const k of Object.keys(conf ?? {})) {
    if (k.startsWith('@') || ['resources', 'constraints', 'crm_config', 'rsc_defaults', 'op_defaults', '#text'].includes(k)) continue;
    if (k === 'nodes') {
      for (const n of arr(obj(conf, 'nodes'), 'node')) {
        const pairs = nvpairs([...arr(n, 'instance_attributes'), ...arr(n, 'utilization')], `node '${attr(n, 'uname') ?? '?'}'`, raw);
        for (const [name, value] of pairs) {
          raw.push({ level: 'warning', kind: 'node', text: `node '${attr(n, 'uname') ?? attr(n, 'id') ?? '?'}': attribute ${name}=${value} is not carried${name === 'standby' ? ' (carpool: the instance\'s standby, `carpool demote`)' : ''}` });
        }
      }
      continue;
    }
    raw.push({ level: 'warning', kind: k, text: `<${k}> (the configuration's ${k} section) is not carried by carpool` });
  }
  if (!drafts.length) raw.push({ level: 'error', text: 'no resources found (expected <resources> with <primitive>/<group> elements)' });
  const placement = readConstraints(obj(conf, 'constraints'), groups, groupOf, dropped, opts.instance, raw);
  const resourceYaml = drafts.map((d) => draftYaml(d, raw));
  const msgs = summarise(raw);

  const out: string[] = [
    `# carpool resources imported from ${opts.source ?? 'a CIB'} by \`carpool import-cib\`.`,
    `# The groups follow the failover instance '${opts.instance}': it must be defined under instances:.`,
  ];
  if (placement.length) out.push('# Location preferences (rsc_location) — placement is the instance\'s:', ...placement);
  for (const m of msgs.filter((x) => x.level !== 'note' && !x.inline)) out.push(`# ${m.level.toUpperCase()}: ${m.text}`);
  if (drafts.length) {
    out.push('resources:');
    out.push(...resourceYaml);
    out.push('groups:');
    for (const g of groups) {
      out.push(`  - id: ${yamlScalar(g.id)}`, `    instance: ${yamlScalar(opts.instance)}`);
      if (g.with !== undefined) out.push(`    with: ${yamlScalar(g.with)}`);
      if (g.after.length) out.push(`    after: [${g.after.map(yamlScalar).join(', ')}]`);
      out.push(`    resources: [${g.members.map(yamlScalar).join(', ')}]`);
      const t = g.meta.migrationThreshold;
      if (t !== undefined) out.push(`    migration_threshold: ${/^\+?INFINITY$/i.test(t) ? 0 : t}`);
      if (g.meta.failureTimeout !== undefined) out.push(`    failure_timeout: ${g.meta.failureTimeout}`);
    }
  }
  const preferred = [...new Set(placement.map((l) => /^#\s+(\S+) preferred/.exec(l)?.[1]))];
  return {
    yaml: out.join('\n') + '\n', messages: msgs, resources: drafts.length, groups: groups.length, lost: msgs.filter((m) => m.level !== 'note').length,
    ...(preferred.length === 1 && preferred[0] ? { preferredNode: preferred[0] } : {}),
  };
}

// --- export ----------------------------------------------------------------------------------

function agentAttrs(a: AgentSpec): Record<string, string> | undefined {
  switch (a.class) {
    case 'ocf': return { '@class': 'ocf', '@provider': a.provider, '@type': a.type };
    case 'lsb': return { '@class': 'lsb', '@type': a.type };
    case 'systemd': return { '@class': 'systemd', '@type': a.type };
    case 'builtin': return undefined;
  }
}

/**
 * Resources → a Pacemaker `<resources>` section (ids as pcs makes them), inside a
 * `<configuration>` with a `<constraints>` section when groups have `after:` or `with:`.
 * Built-ins and carpool-only settings (env, the instance binding) have no CIB form and are reported.
 */
export function exportCib(cfg: ResourcesConfig): { xml: string; messages: ImportMessage[] } {
  const msgs: ImportMessage[] = [];
  const byId = new Map(cfg.resources.map((r) => [r.id, r]));
  const primitive = (r: Resource): X | undefined => {
    const a = agentAttrs(r.agent);
    if (!a) {
      msgs.push({ level: 'warning', text: `resource '${r.id}': builtin:${r.agent.type} has no CIB equivalent; skipped` });
      return undefined;
    }
    if (Object.keys(r.env).length) msgs.push({ level: 'warning', text: `resource '${r.id}': env has no CIB equivalent; dropped` });
    const p: X = { '@id': r.id, ...a };
    const params = Object.entries(r.params);
    if (params.length) {
      p['instance_attributes'] = [{ '@id': `${r.id}-instance_attributes`, nvpair: params.map(([k, v]) => ({ '@id': `${r.id}-instance_attributes-${k}`, '@name': k, '@value': v })) }];
    }
    const meta: [string, string][] = [];
    if (r.migrationThreshold) meta.push(['migration-threshold', String(r.migrationThreshold)]);
    if (r.failureTimeoutMs) meta.push(['failure-timeout', formatDuration(r.failureTimeoutMs)]);
    if (meta.length) {
      p['meta_attributes'] = [{ '@id': `${r.id}-meta_attributes`, nvpair: meta.map(([k, v]) => ({ '@id': `${r.id}-meta_attributes-${k}`, '@name': k, '@value': v })) }];
    }
    const ops: X[] = [];
    const op = (name: string, intervalMs: number, timeoutMs: number, onFail: string, dflt: string, level?: number) => {
      const iv = formatDuration(intervalMs);
      const o: X = { '@id': `${r.id}-${name}-interval-${iv}`, '@name': name, '@interval': iv, '@timeout': formatDuration(timeoutMs) };
      if (onFail !== dflt) o['@on-fail'] = onFail;
      if (level !== undefined) o['instance_attributes'] = [{ '@id': `${r.id}-${name}-interval-${iv}-instance_attributes`, nvpair: [{ '@id': `${r.id}-${name}-interval-${iv}-instance_attributes-OCF_CHECK_LEVEL`, '@name': 'OCF_CHECK_LEVEL', '@value': String(level) }] }];
      ops.push(o);
    };
    if (r.monitor) op('monitor', r.monitor.intervalMs, r.monitor.timeoutMs, r.monitor.onFail, 'restart', r.monitor.checkLevel);
    op('start', 0, r.start.timeoutMs, r.start.onFail, 'restart');
    op('stop', 0, r.stop.timeoutMs, r.stop.onFail, 'block');
    p['operations'] = { op: ops };
    return p;
  };
  const groups = cfg.groups.map((g) => ({
    '@id': g.id,
    primitive: g.members.map((id) => primitive(byId.get(id)!)).filter((x): x is X => !!x),
  })).filter((g) => g.primitive.length);
  if (cfg.groups.length) msgs.push({ level: 'note', text: 'the instance each group follows has no CIB form (Pacemaker would colocate the group with an IPaddr2 resource)' });
  // after: and with: → mandatory rsc_order and INFINITY rsc_colocation, with the ids pcs gives them.
  const exported = new Set(groups.map((g) => g['@id']));
  const orders: X[] = [];
  const colocations: X[] = [];
  for (const g of cfg.groups) {
    for (const a of g.after ?? []) {
      if (exported.has(a) && exported.has(g.id)) orders.push({ '@id': `order-${a}-${g.id}-mandatory`, '@first': a, '@first-action': 'start', '@then': g.id, '@then-action': 'start', '@kind': 'Mandatory' });
      else msgs.push({ level: 'warning', text: `group '${g.id}' after '${a}': a group without CIB resources; the order is not written` });
    }
    if (g.with !== undefined) {
      if (exported.has(g.with) && exported.has(g.id)) colocations.push({ '@id': `colocation-${g.id}-${g.with}-INFINITY`, '@rsc': g.id, '@with-rsc': g.with, '@score': 'INFINITY' });
      else msgs.push({ level: 'warning', text: `group '${g.id}' with '${g.with}': a group without CIB resources; the colocation is not written` });
    }
  }
  const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', format: true, indentBy: '  ', suppressEmptyNode: true });
  // Without constraints, the <resources> section alone (cibadmin --replace -o resources); with them, both sections in <configuration>.
  const xml = orders.length || colocations.length
    ? builder.build({ configuration: { resources: { group: groups }, constraints: { ...(orders.length ? { rsc_order: orders } : {}), ...(colocations.length ? { rsc_colocation: colocations } : {}) } } })
    : builder.build({ resources: { group: groups } });
  return { xml, messages: msgs };
}
