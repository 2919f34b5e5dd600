/**
 * `balancers:` in carpool.yaml: keepalived's `virtual_server_group` and `virtual_server` blocks with
 * their real servers and checkers, in snake_case keys named after keepalived's keywords
 * (docs/config.md "Load balancing"). Read into the specs the balancer builder (config/balancer/)
 * shares with keepalived.conf, so both give the same model.
 */
import { isMap, isScalar, type Node } from 'yaml';
import { parseIP } from '../../protocol/inet.js';
import {
  SCHEDULERS, SCHEDULER_FLAGS, type BalancerConfig, type CheckerType, type Forwarding, type HttpUrl, type SchedulerFlag, type TrackFile,
} from '../model.js';
import { buildBalancers } from '../balancer/build.js';
import type { BalancerTerms, CheckerSpec, GroupSpec, RealServerSpec, UrlSpec, VirtualServerSpec } from '../balancer/spec.js';
import {
  UNSUPPORTED_SCHEDULERS, isScheduler, parseAddressRange, parseDigest, parseForwarding, parseStatusCode,
} from '../balancer/values.js';
import { suggest } from '../common.js';
import { describe, locOf, validIfname, vreader, type Checker, type Entry, type Reader } from './checker.js';
import { readHook } from './vrrp-fields.js';

const BALANCER_KEYS = ['virtual_server_groups', 'virtual_servers', 'count_interval'] as const;
const GROUP_KEYS = ['name', 'entries'] as const;
const ENTRY_KEYS = ['range', 'port', 'fwmark', 'ip_family'] as const;
const TIMING_KEYS = ['delay_loop', 'connect_timeout', 'retry', 'delay_before_retry', 'warmup'] as const;
const VS_KEYS = [
  'address', 'port', 'fwmark', 'group', 'ip_family', 'protocol', 'lvs_sched', 'scheduler_flags', 'ops', 'lvs_method', 'interface', 'persistence_timeout',
  'persistence_granularity', 'ha_suspend', 'virtualhost', 'sorry_server', 'alpha', 'omega', 'quorum', 'hysteresis', 'quorum_up', 'quorum_down',
  ...TIMING_KEYS, 'inhibit_on_failure', 'weight', 'real_servers',
] as const;
const VS_ALIASES: Readonly<Record<string, string>> = {
  lb_algo: 'lvs_sched', scheduler: 'lvs_sched', lb_kind: 'lvs_method', real_server: 'real_servers', sorry_server_inhibit: 'sorry_server: { inhibit: true }',
  sorry_server_lvs_method: 'sorry_server: { lvs_method: ... }', device: 'interface', dev: 'interface', 'sh-port': 'scheduler_flags', 'mh-port': 'scheduler_flags', ip: 'address', vip: 'address',
};
const SORRY_KEYS = ['address', 'port', 'inhibit', 'lvs_method'] as const;
const RS_KEYS = [
  'address', 'port', 'weight', 'lvs_method', 'inhibit_on_failure', 'alpha', 'notify_up', 'notify_down', 'uthreshold', 'lthreshold', 'virtualhost',
  ...TIMING_KEYS, 'checkers',
] as const;
const CONNECTION_KEYS = ['connect_ip', 'connect_port', 'bindto', 'bind_port', 'bind_if', 'fwmark', 'connect_timeout'] as const;
const CHECKER_TIMING_KEYS = ['delay_loop', 'retry', 'delay_before_retry', 'warmup', 'alpha', 'log_all_failures'] as const;
const CHECKER_KEYS: Readonly<Record<CheckerType, readonly string[]>> = {
  TCP_CHECK: [...CONNECTION_KEYS, ...CHECKER_TIMING_KEYS],
  PING_CHECK: [...CONNECTION_KEYS, ...CHECKER_TIMING_KEYS],
  HTTP_GET: [...CONNECTION_KEYS, ...CHECKER_TIMING_KEYS, 'urls', 'virtualhost', 'http_protocol', 'fast_recovery', 'enable_sni', 'sni_name', 'tls_compliant'],
  SSL_GET: [...CONNECTION_KEYS, ...CHECKER_TIMING_KEYS, 'urls', 'virtualhost', 'http_protocol', 'fast_recovery', 'enable_sni', 'sni_name', 'tls_compliant'],
  SMTP_CHECK: [...CONNECTION_KEYS, ...CHECKER_TIMING_KEYS, 'helo_name', 'hosts'],
  DNS_CHECK: [...CONNECTION_KEYS, ...CHECKER_TIMING_KEYS, 'query_type', 'name'],
  UDP_CHECK: [...CONNECTION_KEYS, ...CHECKER_TIMING_KEYS, 'payload', 'require_reply', 'min_reply_length', 'max_reply_length'],
  MISC_CHECK: [...CHECKER_TIMING_KEYS, 'misc_path', 'misc_timeout', 'misc_dynamic', 'user', 'group'],
  FILE_CHECK: ['track_file', 'weight', 'reverse'],
};
const CHECKER_TYPES = Object.keys(CHECKER_KEYS) as CheckerType[];
const URL_KEYS = ['path', 'digest', 'status_code', 'virtualhost'] as const;
const DNS_TYPES = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'] as const;

/** How builder messages name the YAML keys. */
const YAML_BALANCER_TERMS: BalancerTerms = {
  realServer: 'entry in real_servers', url: 'urls', path: 'path', miscPath: 'misc_path', trackFile: 'track_file',
};

const ms = (s: { value: number } | undefined): number | undefined => (s ? Math.round(s.value * 1000) : undefined);
function set<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** `balancers:` → the model; undefined when absent or when it has errors (all reported). */
export function readBalancersSection(c: Checker, entry: Entry | undefined, trackFiles: readonly string[], trackFileDefs: readonly TrackFile[]): BalancerConfig | undefined {
  if (!entry) return undefined;
  const errors = c.errors.length;
  const v = vreader(c, entry.value, 'balancers', entry.keyNode, BALANCER_KEYS, { virtual_server: 'virtual_servers', virtual_server_group: 'virtual_server_groups', groups: 'virtual_server_groups' });
  if (!v) return undefined;
  const groups = v.list('virtual_server_groups', 'a list of virtual server groups').flatMap((n, i) => {
    const g = readGroup(c, n, i);
    return g ? [g] : [];
  });
  const virtualServers = v.list('virtual_servers', 'a list of virtual servers').flatMap((n, i) => {
    const s = readVirtualServer(c, n, i);
    return s ? [s] : [];
  });
  const countInterval = v.seconds('count_interval', 0.05, 60);
  const built = buildBalancers({ groups, virtualServers, trackFiles, trackFileDefs, ...(countInterval ? { countIntervalMs: Math.round(countInterval.value * 1000) } : {}) }, YAML_BALANCER_TERMS, (severity, code, at, message, expected) => {
    const list = severity === 'error' ? c.errors : c.warnings;
    list.push({ file: c.file, line: at.line, column: at.column, message, expected, code, severity });
  });
  return c.errors.length > errors ? undefined : built;
}

function readGroup(c: Checker, node: Node, index: number): GroupSpec | undefined {
  const where = `virtual_server_groups #${index + 1}`;
  const v = vreader(c, node, where, node, GROUP_KEYS);
  if (!v) return undefined;
  if (!v.has('name')) { c.error(node, 'MISSING_KEY', `missing 'name' in ${where}`, 'name: NAME'); return undefined; }
  const name = v.str('name', 'a group name');
  if (!name) return undefined;
  const g: GroupSpec = { name, entries: [] };
  v.list('entries', 'a list of { range: IP[-LAST], port: N } or { fwmark: N }').forEach((item, i) => {
    const w = `entry #${i + 1} of virtual_server_group '${name.value}'`;
    const ev = vreader(c, item, w, item, ENTRY_KEYS);
    if (!ev) { g.entryInvalid = true; return; }
    if (ev.has('range') === ev.has('fwmark')) {
      c.error(item, 'MISSING_KEY', `${w} needs either 'range' or 'fwmark'`, 'range: 10.0.0.1-10 (with port) or fwmark: N');
      g.entryInvalid = true;
      return;
    }
    if (ev.has('fwmark')) {
      const m = ev.int('fwmark', 1, 4294967295);
      const fam = readFamily(c, ev, w);
      if (!m || fam === null) { g.entryInvalid = true; return; }
      g.entries.push({ value: { kind: 'fwmark', fwmark: m.value, ...(fam ? { family: fam } : {}) }, at: locOf(c, item) });
      return;
    }
    const r = ev.str('range', 'an address range');
    const parsed = r && parseAddressRange(r.value);
    if (parsed && !parsed.ok) c.error(ev.node('range'), 'INVALID_ADDRESS', `range in ${w}: ${parsed.reason}`, parsed.expected);
    const port = ev.has('port') ? ev.int('port', 0, 65535) : { value: 0 };
    if (!parsed?.ok || !port) { g.entryInvalid = true; return; }
    g.entries.push({ value: { kind: 'range', ...parsed.value, port: port.value }, at: locOf(c, item) });
  });
  if (!v.has('entries')) c.error(node, 'MISSING_KEY', `missing 'entries' in ${where}`, 'entries: [{ range: 10.0.0.1-10, port: 80 }]');
  return g;
}

/** `ip_family: inet|inet6`; undefined when absent, null when invalid. */
function readFamily(c: Checker, v: Reader, where: string): 4 | 6 | undefined | null {
  const f = v.str('ip_family', 'inet or inet6');
  if (!v.has('ip_family')) return undefined;
  if (f?.value === 'inet') return 4;
  if (f?.value === 'inet6') return 6;
  if (f) c.error(v.node('ip_family'), 'INVALID_VALUE', `ip_family in ${where}: '${f.value}' is not an address family`, 'inet or inet6');
  return null;
}

function readForwardingKey(c: Checker, v: Reader, where: string): Forwarding | undefined {
  const s = v.str('lvs_method', 'NAT, DR or TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]');
  if (!s) return undefined;
  const f = parseForwarding(s.value.trim().split(/\s+/));
  if (f.ok) return f.value;
  c.error(v.node('lvs_method'), 'INVALID_VALUE', `lvs_method in ${where}: ${f.reason}`, f.expected);
  return undefined;
}

function readPort(c: Checker, v: Reader): number | undefined {
  return v.has('port') ? v.int('port', 0, 65535)?.value : 0;
}

function readAddress(c: Checker, v: Reader, node: Node, where: string): { family: 4 | 6; address: string } | undefined {
  if (!v.has('address')) { c.error(node, 'MISSING_KEY', `missing 'address' in ${where}`, 'address: an IPv4 or IPv6 address'); return undefined; }
  const a = v.ip('address', `the address of ${where}`);
  return a ? { family: parseIP(a.value)!.family, address: a.value } : undefined;
}

function readTiming(v: Reader, into: { delayLoopMs?: number; connectTimeoutMs?: number; retry?: number; delayBeforeRetryMs?: number; warmupMs?: number }): void {
  set(into, 'delayLoopMs', ms(v.seconds('delay_loop', 0.001, 4294967)));
  set(into, 'connectTimeoutMs', ms(v.seconds('connect_timeout', 0.001, 4294967)));
  set(into, 'retry', v.int('retry', 1, 4294967295)?.value); // keepalived: 1.. here, 0.. on checkers
  set(into, 'delayBeforeRetryMs', ms(v.seconds('delay_before_retry', 0, 4294967)));
  set(into, 'warmupMs', ms(v.seconds('warmup', 0, 4294967)));
}

function readVirtualServer(c: Checker, node: Node, index: number): VirtualServerSpec | undefined {
  const peek = (k: string): unknown => {
    if (!isMap(node)) return undefined;
    const x = c.resolve(node.items.find((p) => isScalar(p.key) && p.key.value === k)?.value as Node | null);
    return isScalar(x) ? x.value : undefined;
  };
  const word = (k: string): string | undefined => { const x = peek(k); return typeof x === 'string' || typeof x === 'number' ? String(x) : undefined; };
  const label = [word('address'), word('port')].filter((x) => x !== undefined).join(' ') || (word('fwmark') !== undefined ? `fwmark ${word('fwmark')}` : '')
    || (word('group') !== undefined ? `group ${word('group')}` : `#${index + 1}`);
  const where = `virtual_server ${label}`;
  const v = vreader(c, node, where, node, VS_KEYS, VS_ALIASES);
  if (!v) return undefined;
  const errors = c.errors.length;
  const kinds = (['address', 'fwmark', 'group'] as const).filter((k) => v.has(k));
  if (kinds.length !== 1) {
    c.error(kinds.length ? v.keyNode(kinds[1]!)! : node, kinds.length ? 'INVALID_VALUE' : 'MISSING_KEY',
      `${where} needs exactly one of address (with port), fwmark and group${kinds.length ? `, not ${kinds.join(' and ')}` : ''}`, 'address: IP + port: N, fwmark: N, or group: NAME');
    return undefined;
  }
  const base = { at: locOf(c, node), schedulerFlags: [], realServers: [] };
  let vs: VirtualServerSpec;
  if (kinds[0] === 'address') {
    const a = readAddress(c, v, node, where);
    const port = readPort(c, v);
    if (!a || port === undefined) return undefined;
    vs = { ...base, name: `${a.address}${port ? ` ${port}` : ''}`, service: { kind: 'address', address: a.address, port } };
  } else if (kinds[0] === 'fwmark') {
    const m = v.int('fwmark', 1, 4294967295);
    if (!m) return undefined;
    vs = { ...base, name: `fwmark ${m.value}`, service: { kind: 'fwmark', fwmark: m.value } };
  } else {
    const g = v.str('group', 'the name of a virtual_server_group');
    if (!g) return undefined;
    vs = { ...base, name: `group ${g.value}`, service: { kind: 'group', group: g.value }, groupAt: g.at };
  }
  const w = `virtual_server ${vs.name}`;
  if (vs.service.kind !== 'address' && v.has('port')) c.error(v.keyNode('port'), 'INVALID_VALUE', `port in ${w}: only an address service has a port`, 'no port (the group entries have theirs)');
  const fam = readFamily(c, v, w);
  if (fam) vs.ipFamily = { value: fam, at: v.keyLoc('ip_family') };
  const proto = v.str('protocol', 'TCP, UDP or SCTP');
  if (proto) {
    const p = proto.value.toUpperCase();
    if (p === 'TCP' || p === 'UDP' || p === 'SCTP') vs.protocol = { value: p, at: proto.at };
    else c.error(v.node('protocol'), 'INVALID_VALUE', `protocol in ${w}: unknown protocol '${proto.value}'`, 'TCP, UDP or SCTP');
  }
  const sched = v.str('lvs_sched', SCHEDULERS.join(', '));
  if (sched && isScheduler(sched.value)) vs.scheduler = sched.value;
  else if (sched && UNSUPPORTED_SCHEDULERS[sched.value]) {
    c.error(v.node('lvs_sched'), 'NOT_SUPPORTED', `lvs_sched ${sched.value} in ${w} is not supported by carpool: ${UNSUPPORTED_SCHEDULERS[sched.value]}`, SCHEDULERS.join(', '));
  } else if (sched) {
    const guess = suggest(sched.value, SCHEDULERS);
    c.error(v.node('lvs_sched'), 'INVALID_VALUE', `lvs_sched in ${w}: unknown scheduler '${sched.value}'${guess ? ` — did you mean '${guess}'?` : ''}`, SCHEDULERS.join(', '));
  }
  for (const f of v.list('scheduler_flags', `a list of ${SCHEDULER_FLAGS.join(', ')}`)) {
    if (isScalar(f) && (SCHEDULER_FLAGS as readonly unknown[]).includes(f.value)) vs.schedulerFlags.push({ value: f.value as SchedulerFlag, at: locOf(c, f) });
    else c.error(f, 'INVALID_VALUE', `scheduler_flags of ${w}: ${describe(f)} is not a scheduler flag`, SCHEDULER_FLAGS.join(', '));
  }
  const ops = v.bool('ops');
  if (ops?.value) vs.onePacket = ops;
  set(vs, 'forwarding', readForwardingKey(c, v, w));
  const dev = v.str('interface', 'an interface name');
  if (dev && !validIfname(dev.value)) c.error(v.node('interface'), 'INVALID_VALUE', `interface in ${w}: '${dev.value}' is not a valid interface name`, '1..15 bytes without / or blanks');
  else set(vs, 'interface', dev?.value);
  set(vs, 'persistenceTimeout', v.int('persistence_timeout', 1, 86400 * 31)?.value);
  if (v.has('persistence_granularity')) {
    const n = v.node('persistence_granularity');
    if (isScalar(n) && (typeof n.value === 'number' || typeof n.value === 'string')) vs.persistenceGranularity = { value: String(n.value), at: locOf(c, n) };
    else c.error(n, 'INVALID_TYPE', `persistence_granularity in ${w}: got ${describe(n)}`, 'a prefix length or an IPv4 netmask');
  }
  const ha = v.bool('ha_suspend');
  if (ha?.value) vs.haSuspend = ha;
  set(vs, 'virtualhost', v.str('virtualhost', 'a host name')?.value);
  set(vs, 'alpha', v.bool('alpha')?.value);
  set(vs, 'omega', v.bool('omega')?.value);
  set(vs, 'quorum', v.int('quorum', 1, 4294967295));
  set(vs, 'hysteresis', v.int('hysteresis', 0, 4294967295));
  if (v.has('quorum_up')) set(vs, 'quorumUp', readHook(c, v.node('quorum_up'), `quorum_up of ${w}`)?.value);
  if (v.has('quorum_down')) set(vs, 'quorumDown', readHook(c, v.node('quorum_down'), `quorum_down of ${w}`)?.value);
  readTiming(v, vs);
  set(vs, 'inhibitOnFailure', v.bool('inhibit_on_failure')?.value);
  set(vs, 'weight', v.int('weight', 1, 2147483647)?.value);
  if (v.has('sorry_server')) {
    const sn = v.node('sorry_server')!;
    const sw = `sorry_server of ${w}`;
    const sv = vreader(c, sn, sw, v.keyNode('sorry_server') ?? node, SORRY_KEYS, { sorry_server_inhibit: 'inhibit' });
    if (sv) {
      const a = readAddress(c, sv, sn, sw);
      const port = readPort(c, sv);
      if (a && port !== undefined) vs.sorryServer = { at: locOf(c, sn), ...a, port };
      const inh = sv.bool('inhibit');
      if (inh) vs.sorryServerInhibit = inh;
      const f = readForwardingKey(c, sv, sw);
      if (f) vs.sorryServerForwarding = { value: f, at: sv.keyLoc('lvs_method') };
    }
  }
  v.list('real_servers', 'a list of real servers').forEach((item, i) => {
    const rs = readRealServer(c, item, i, w);
    if (rs) vs.realServers.push(rs); else vs.realServerInvalid = true;
  });
  return c.errors.length > errors ? undefined : vs;
}

function readRealServer(c: Checker, node: Node, index: number, owner: string): RealServerSpec | undefined {
  const where = `real_servers #${index + 1} of ${owner}`;
  const v = vreader(c, node, where, node, RS_KEYS, { checker: 'checkers', TCP_CHECK: 'checkers', HTTP_GET: 'checkers', ip: 'address' });
  if (!v) return undefined;
  const a = readAddress(c, v, node, where);
  const port = readPort(c, v);
  if (!a || port === undefined) return undefined;
  const w = `real_server ${a.address}${port ? ` ${port}` : ''}`;
  const rs: RealServerSpec = { at: locOf(c, node), ...a, port, checkers: [] };
  set(rs, 'weight', v.int('weight', 0, 2147483647)?.value);
  set(rs, 'forwarding', readForwardingKey(c, v, w));
  set(rs, 'inhibitOnFailure', v.bool('inhibit_on_failure')?.value);
  set(rs, 'alpha', v.bool('alpha')?.value);
  if (v.has('notify_up')) set(rs, 'notifyUp', readHook(c, v.node('notify_up'), `notify_up of ${w}`)?.value);
  if (v.has('notify_down')) set(rs, 'notifyDown', readHook(c, v.node('notify_down'), `notify_down of ${w}`)?.value);
  set(rs, 'upperThreshold', v.int('uthreshold', 0, 4294967295)?.value);
  set(rs, 'lowerThreshold', v.int('lthreshold', 0, 4294967295)?.value);
  set(rs, 'virtualhost', v.str('virtualhost', 'a host name')?.value);
  readTiming(v, rs);
  v.list('checkers', `a list of checkers: { type: ${CHECKER_TYPES.join('|')}, ... }`).forEach((item, i) => {
    const ck = readChecker(c, item, i, `${w} of ${owner}`);
    if (ck) rs.checkers.push(ck);
  });
  return rs;
}

/** The connection keys of a checker (or of an SMTP_CHECK host). */
function readConnection(c: Checker, v: Reader, ck: CheckerSpec, where: string): void {
  set(ck, 'connectIp', v.ip('connect_ip', 'the address to check'));
  set(ck, 'connectPort', v.int('connect_port', 1, 65535)?.value);
  set(ck, 'bindto', v.ip('bindto', 'a source address of this host'));
  set(ck, 'bindPort', v.int('bind_port', 1, 65535)?.value);
  const bindIf = v.str('bind_if', 'an interface name');
  if (bindIf && !validIfname(bindIf.value)) c.error(v.node('bind_if'), 'INVALID_VALUE', `bind_if in ${where}: '${bindIf.value}' is not a valid interface name`, '1..15 bytes without / or blanks');
  else set(ck, 'bindIf', bindIf?.value);
  set(ck, 'fwmark', v.int('fwmark', 0, 4294967295)?.value);
  set(ck, 'connectTimeoutMs', ms(v.seconds('connect_timeout', 0.001, 4294967)));
}

function readChecker(c: Checker, node: Node, index: number, owner: string): CheckerSpec | undefined {
  const typeNode = isMap(node) ? c.resolve(node.items.find((p) => isScalar(p.key) && p.key.value === 'type')?.value as Node | null) : null;
  const type = isScalar(typeNode) ? typeNode.value : undefined;
  if (typeof type !== 'string' || !(CHECKER_TYPES as readonly string[]).includes(type)) {
    const guess = typeof type === 'string' ? suggest(type.toUpperCase(), CHECKER_TYPES) : undefined;
    c.error(typeNode ?? node, typeNode ? 'INVALID_VALUE' : 'MISSING_KEY',
      `checkers #${index + 1} of ${owner}: ${typeNode ? `unknown type ${describe(typeNode)}${guess ? ` — did you mean '${guess}'?` : ''}` : "missing 'type'"}`, CHECKER_TYPES.join(', '));
    return undefined;
  }
  const t = type as CheckerType;
  const where = `${t} of ${owner}`;
  const v = vreader(c, node, where, node, ['type', ...CHECKER_KEYS[t]], { url: 'urls', type_: 'query_type', nb_get_retry: 'retry', file: 'track_file' });
  if (!v) return undefined;
  const ck: CheckerSpec = { type: t, at: locOf(c, node) };
  set(ck, 'delayLoopMs', ms(v.seconds('delay_loop', 0.001, 4294967)));
  set(ck, 'retry', v.int('retry', 0, 4294967295)?.value);
  set(ck, 'delayBeforeRetryMs', ms(v.seconds('delay_before_retry', 0, 4294967)));
  set(ck, 'warmupMs', ms(v.seconds('warmup', 0, 4294967)));
  set(ck, 'alpha', v.bool('alpha')?.value);
  set(ck, 'logAllFailures', v.bool('log_all_failures')?.value);
  readConnection(c, v, ck, where);
  if (v.has('hosts')) {
    ck.hosts = v.list('hosts', 'a list of { connect_ip: IP, ... }').flatMap((item, i) => {
      const hw = `hosts #${i + 1} of ${where}`;
      const hv = vreader(c, item, hw, item, CONNECTION_KEYS);
      if (!hv) return [];
      const h: CheckerSpec = { type: t, at: locOf(c, item) };
      readConnection(c, hv, h, hw);
      return [h];
    });
  }
  // HTTP_GET / SSL_GET
  if (v.has('urls')) {
    ck.urls = v.list('urls', 'a list of { path: /PATH, ... }').flatMap((item, i) => {
      const uw = `urls #${i + 1} of ${where}`;
      const uv = vreader(c, item, uw, item, URL_KEYS, { status_codes: 'status_code', regex: 'digest or status_code (regex is not implemented)' });
      if (!uv) return [];
      const u: UrlSpec = { at: locOf(c, item) };
      set(u, 'path', uv.str('path', 'a path such as /index.html')?.value);
      const d = uv.str('digest', '32 hex digits');
      if (d) {
        const p = parseDigest(d.value);
        if (p.ok) u.digest = p.value; else c.error(uv.node('digest'), 'INVALID_VALUE', `digest in ${uw}: ${p.reason}`, p.expected);
      }
      if (uv.has('status_code')) u.statusCodes = readStatusCodes(c, uv.node('status_code'), uw);
      set(u, 'virtualhost', uv.str('virtualhost', 'a host name')?.value);
      return [u];
    });
  }
  set(ck, 'virtualhost', v.str('virtualhost', 'a host name')?.value);
  const hp = v.has('http_protocol') ? v.node('http_protocol') : undefined;
  if (hp !== undefined) {
    const p = isScalar(hp) ? String(hp.value).toUpperCase() : '';
    if (p === '1' || p === '1.0') ck.httpProtocol = '1.0';
    else if (p === '1.0C' || p === '1.1') ck.httpProtocol = p;
    else c.error(hp, 'INVALID_VALUE', `http_protocol in ${where}: got ${describe(hp)}`, "'1.0', '1.0C' or '1.1'");
  }
  set(ck, 'fastRecovery', v.bool('fast_recovery')?.value);
  set(ck, 'enableSni', v.bool('enable_sni')?.value);
  set(ck, 'sniName', v.str('sni_name', 'a server name')?.value);
  set(ck, 'tlsCompliant', v.bool('tls_compliant')?.value);
  set(ck, 'heloName', v.str('helo_name', 'a host name for HELO')?.value);
  const qt = v.str('query_type', DNS_TYPES.join(', '));
  if (qt && (DNS_TYPES as readonly string[]).includes(qt.value.toUpperCase())) ck.queryType = qt.value.toUpperCase() as typeof DNS_TYPES[number];
  else if (qt) c.error(v.node('query_type'), 'INVALID_VALUE', `query_type in ${where}: '${qt.value}' is not a query type`, DNS_TYPES.join(', '));
  set(ck, 'name', v.str('name', 'a domain name')?.value);
  const hex = (k: string, any: boolean): string | undefined => {
    const s = v.str(k, 'hex digits (quote them)');
    if (!s) return undefined;
    const h = s.value.replace(/\s+/g, '').toLowerCase();
    if (!(any ? /^([0-9a-fx]{2})*$/ : /^([0-9a-f]{2})*$/).test(h)) {
      c.error(v.node(k), 'INVALID_VALUE', `${k} in ${where}: '${s.value}' is not hex bytes`, `pairs of hex digits${any ? ' (x = any nibble)' : ''}`);
      return undefined;
    }
    return h;
  };
  set(ck, 'payload', hex('payload', false));
  if (v.has('require_reply')) {
    const n = v.node('require_reply');
    if (isScalar(n) && typeof n.value === 'boolean') ck.requireReply = n.value;
    else {
      const h = hex('require_reply', true);
      if (h !== undefined) { ck.requireReply = true; if (h !== '') ck.replyPattern = h; }
    }
  }
  set(ck, 'minReplyLength', v.int('min_reply_length', 0, 65535)?.value);
  set(ck, 'maxReplyLength', v.int('max_reply_length', 0, 65535));
  if (v.has('misc_path')) {
    const h = readHook(c, v.node('misc_path'), `misc_path of ${where}`);
    if (h) ck.command = h.value; else ck.commandInvalid = true;
  }
  set(ck, 'timeoutMs', ms(v.int('misc_timeout', 1, 4294967)));
  set(ck, 'dynamic', v.bool('misc_dynamic')?.value);
  const user = v.str('user', 'a user name or uid');
  const group = v.str('group', 'a group name or gid');
  if (user) ck.user = { user: user.value, ...(group ? { group: group.value } : {}) };
  else if (group) c.error(v.node('group'), 'MISSING_KEY', `group of ${where} without a user`, 'user: NAME first (group is the user\'s group by default)');
  set(ck, 'trackFile', v.str('track_file', 'the name of a track_files entry'));
  set(ck, 'weight', v.int('weight', -2147483647, 2147483647)?.value);
  set(ck, 'reverse', v.bool('reverse')?.value);
  return ck;
}

function readStatusCodes(c: Checker, node: Node | null, where: string): HttpUrl['statusCodes'] {
  const items = node && 'items' in node && Array.isArray(node.items) ? (node.items as Node[]) : [node];
  const out: (readonly [number, number])[] = [];
  for (const it of items) {
    const n = c.resolve(it);
    const text = isScalar(n) && (typeof n.value === 'number' || typeof n.value === 'string') ? String(n.value) : '';
    const r = parseStatusCode(text);
    if (r.ok) out.push(r.value); else c.error(n ?? node, 'INVALID_VALUE', `status_code of ${where}: ${text ? r.reason : `got ${describe(n)}`}`, r.ok ? '' : r.expected);
  }
  return out;
}
