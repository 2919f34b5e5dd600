/**
 * Heartbeat 2 / Pacemaker CIB `<resources>` ⇄ carpool YAML (`carpool import-cib`,
 * `carpool export-cib`). Reads both CIB dialects: Heartbeat 2.0's
 * `<instance_attributes><attributes><nvpair/>` with `is_managed`/`on_fail` spelled with
 * underscores (seed 002 appendix B.5/B.6), and Pacemaker's flat nvpairs with dashes. What
 * carpool cannot express (clones, fencing, roles, rules, target-role...) is reported, never
 * silently dropped. Parsing uses a real XML parser (fast-xml-parser); pure otherwise.
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { stringify } from 'yaml';
import type { AgentSpec, Resource, ResourcesConfig } from '../config/model.js';
import { formatDuration, parseDurationMs } from './core/duration.js';

export interface ImportMessage {
  readonly level: 'warning' | 'error' | 'note';
  readonly text: string;
  /** Also said as a comment next to the resource in the YAML. */
  readonly inline?: boolean;
}

export interface ImportResult {
  readonly yaml: string;
  readonly messages: readonly ImportMessage[];
  /** How many resources and groups came out. */
  readonly resources: number;
  readonly groups: number;
}

export interface ImportOptions {
  /** Name of the failover instance the groups follow (`instance:` of each group). */
  readonly instance: string;
  /** File name for the header comment. */
  readonly source?: string;
}

type X = Record<string, unknown>;

const ARRAYS = new Set(['primitive', 'group', 'clone', 'master', 'bundle', 'nvpair', 'op', 'instance_attributes', 'meta_attributes', 'attributes', 'rule']);
/** Providers shipped by resource-agents / pacemaker; anything else is a site's own agent. */
const KNOWN_PROVIDERS = ['heartbeat', 'pacemaker', 'linbit', 'clusterlabs', 'redhat', 'suse'];

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

/** nvpairs of attribute sets, Heartbeat 2.0 (`<attributes>` wrapper) and Pacemaker style alike. */
function nvpairs(sets: X[], what: string, msgs: ImportMessage[]): [string, string][] {
  const out: [string, string][] = [];
  for (const set of sets) {
    if (arr(set, 'rule').length) {
      msgs.push({ level: 'warning', text: `${what}: an attribute set with a <rule> is not supported; its values were ignored` });
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

interface Draft {
  id: string;
  agent: string;
  params: [string, string][];
  ops: { start?: X; stop?: X; monitor?: X };
  meta: { migrationThreshold?: string; failureTimeout?: string };
  comment?: string;
}

function yamlScalar(v: string): string {
  if (/^(0|[1-9]\d*)$/.test(v) && v.length < 10) return v;
  return stringify(v, { lineWidth: 0 }).trimEnd();
}

function readMeta(owner: X, what: string, msgs: ImportMessage[]): Draft['meta'] {
  const meta: Draft['meta'] = {};
  const pairs = nvpairs(arr(owner, 'meta_attributes'), `${what} meta_attributes`, msgs);
  // Heartbeat 2.0 put some meta attributes on the element itself.
  for (const k of ['is_managed', 'is-managed', 'resource_stickiness', 'resource-stickiness', 'target_role', 'target-role', 'migration-threshold', 'failure-timeout']) {
    const v = attr(owner, k);
    if (v !== undefined) pairs.push([k, v]);
  }
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
      case 'resource-stickiness': case 'priority': case 'multiple-active': case 'allow-migrate': case 'critical':
        msgs.push({ level: 'note', text: `${what}: meta attribute ${k}=${v} does not apply (placement follows the failover instance)` });
        break;
      default:
        msgs.push({ level: 'warning', text: `${what}: meta attribute ${k}=${v} is not supported; ignored` });
    }
  }
  return meta;
}

function readPrimitive(p: X, msgs: ImportMessage[]): Draft | undefined {
  const id = attr(p, 'id');
  if (!id) {
    msgs.push({ level: 'error', text: 'a <primitive> without id was skipped' });
    return undefined;
  }
  const what = `primitive '${id}'`;
  const cls = attr(p, 'class') ?? 'ocf';
  const type = attr(p, 'type');
  if (!type) {
    msgs.push({ level: 'error', text: `${what}: no type; skipped` });
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
  const params = nvpairs(arr(p, 'instance_attributes'), `${what} instance_attributes`, msgs);
  if ((cls === 'lsb' || cls === 'systemd' || cls === 'service') && params.length) {
    msgs.push({ level: 'warning', text: `${what}: ${cls} resources take no parameters; ${params.map(([k]) => k).join(', ')} dropped` });
    params.length = 0;
  }
  const ops: Draft['ops'] = {};
  const opsHolder = p['operations'] as X | undefined;
  for (const op of arr(opsHolder, 'op')) {
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
  return { id, agent, params, ops, meta: readMeta(p, what, msgs), ...(comment ? { comment } : {}) };
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

/** CIB XML text → carpool YAML (resources: and groups:), with messages for what does not map. */
export function importCib(xml: string, opts: ImportOptions): ImportResult {
  const msgs: ImportMessage[] = [];
  const text = joinContinuations(xml, msgs);
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    return { yaml: '', messages: [{ level: 'error', text: `not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})` }], resources: 0, groups: 0 };
  }
  const doc = new XMLParser({
    ignoreAttributes: false, attributeNamePrefix: '@', parseAttributeValue: false, parseTagValue: false,
    isArray: (name) => ARRAYS.has(name), ignoreDeclaration: true, ignorePiTags: true,
  }).parse(text) as X;
  // <cib><configuration><resources>, a bare <resources>, or a lone <primitive>/<group>.
  const cib = doc['cib'] as X | undefined;
  const conf = cib?.['configuration'] as X | undefined;
  const resources = (conf?.['resources'] ?? doc['resources'] ?? doc) as X;
  const drafts: Draft[] = [];
  const groups: { id: string; members: string[]; meta: Draft['meta'] }[] = [];
  const addGroup = (id: string, members: X[], meta: Draft['meta']) => {
    const ids: string[] = [];
    for (const p of members) {
      const d = readPrimitive(p, msgs);
      if (d) { drafts.push(d); ids.push(d.id); }
    }
    if (ids.length) groups.push({ id, members: ids, meta });
    else msgs.push({ level: 'error', text: `group '${id}': nothing left to import` });
  };
  for (const g of arr(resources, 'group')) {
    const id = attr(g, 'id') ?? `group${groups.length + 1}`;
    if (arr(g, 'group').length || arr(g, 'clone').length) msgs.push({ level: 'warning', text: `group '${id}': nested groups or clones inside a group are not supported; skipped` });
    addGroup(id, arr(g, 'primitive'), readMeta(g, `group '${id}'`, msgs));
  }
  for (const p of arr(resources, 'primitive')) {
    const id = attr(p, 'id') ?? 'resource';
    msgs.push({ level: 'note', text: `primitive '${id}' is in no group: imported as group '${id}-group' (carpool runs every resource in a group)` });
    addGroup(`${id}-group`, [p], {});
  }
  for (const kind of ['clone', 'master', 'bundle']) {
    for (const c of arr(resources, kind)) {
      const id = attr(c, 'id') ?? kind;
      if (kind === 'bundle') {
        msgs.push({ level: 'error', text: `bundle '${id}': container bundles are not supported; skipped` });
        continue;
      }
      msgs.push({ level: 'warning', text: `${kind === 'master' ? 'master/slave resource' : 'clone'} '${id}': carpool has no clones (a group runs only where its instance is master); ` +
        `its ${arr(c, 'group').length ? 'group' : 'primitive'} is imported to run on the master only` });
      const inner = arr(c, 'group')[0];
      if (inner) addGroup(attr(inner, 'id') ?? `${id}-group`, arr(inner, 'primitive'), readMeta(inner, `group in ${kind} '${id}'`, msgs));
      else addGroup(`${id}-group`, arr(c, 'primitive'), {});
    }
  }
  if (!drafts.length) msgs.push({ level: 'error', text: 'no resources found (expected <resources> with <primitive>/<group> elements)' });

  const out: string[] = [
    `# carpool resources imported from ${opts.source ?? 'a CIB'} by \`carpool import-cib\`.`,
    `# The groups follow the failover instance '${opts.instance}': it must be defined under instances:.`,
  ];
  for (const m of msgs.filter((x) => x.level !== 'note' && !x.inline)) out.push(`# ${m.level.toUpperCase()}: ${m.text}`);
  if (drafts.length) {
    out.push('resources:');
    for (const d of drafts) out.push(draftYaml(d, msgs));
    out.push('groups:');
    for (const g of groups) {
      out.push(`  - id: ${yamlScalar(g.id)}`, `    instance: ${yamlScalar(opts.instance)}`, `    resources: [${g.members.map(yamlScalar).join(', ')}]`);
      const t = g.meta.migrationThreshold;
      if (t !== undefined) out.push(`    migration_threshold: ${/^\+?INFINITY$/i.test(t) ? 0 : t}`);
      if (g.meta.failureTimeout !== undefined) out.push(`    failure_timeout: ${g.meta.failureTimeout}`);
    }
  }
  return { yaml: out.join('\n') + '\n', messages: msgs, resources: drafts.length, groups: groups.length };
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
 * Resources → a Pacemaker `<resources>` section (ids as pcs makes them). Built-ins and
 * carpool-only settings (env, the instance binding) have no CIB form and are reported.
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
  const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', format: true, indentBy: '  ', suppressEmptyNode: true });
  const xml = builder.build({ resources: { group: groups } });
  return { xml, messages: msgs };
}
