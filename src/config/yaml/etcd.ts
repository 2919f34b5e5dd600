/**
 * `protocol: etcd` instances of carpool.yaml (issue 16, docs/etcd.md): the name, interface and
 * addresses of a CARP instance, hooks up/down, and an `etcd:` mapping that says how to reach
 * etcd and with which timing. Timing that cannot be safe (`checkTiming`) is an error here, so
 * `carpool check` refuses it before a daemon runs with it.
 */
import { isIP } from 'node:net';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { FAILSAFE_MIN_KEY_BYTES, failsafeKeyOf } from '../../coordination/core/failsafe.js';
import { checkTiming } from '../../coordination/core/lease.js';
import { DEFAULT_PRIORITY, PRIORITY_MAX, PRIORITY_MIN } from '../../coordination/core/preference.js';
import type { EtcdFailsafe, EtcdInstance, EtcdSettings } from '../model.js';
import { readAddresses, readHooks } from './carp.js';
import { NAME_RE, Reader, describe, validIfname, type Checker, type YamlConfigOptions } from './checker.js';
import { readDuration } from './resources.js';

const INSTANCE_KEYS = ['name', 'protocol', 'interface', 'addresses', 'node', 'etcd', 'priority', 'preempt', 'preempt_delay', 'hooks', 'hook_timeout'] as const;
const ETCD_KEYS = ['endpoints', 'prefix', 'key', 'ttl', 'renew', 'request_timeout', 'margin', 'poll', 'tls', 'user', 'password_file', 'unreachable', 'failsafe'] as const;
const FAILSAFE_KEYS = ['listen', 'peers', 'key_file'] as const;
const TLS_KEYS = ['ca', 'cert', 'key'] as const;
/** The keys of `cluster: { etcd: ... }`: the connection and the ttl of the status documents' leases. */
export const CLUSTER_ETCD_KEYS = ['endpoints', 'prefix', 'ttl', 'request_timeout', 'tls', 'user', 'password_file'] as const;

export const ETCD_DEFAULT_PREFIX = '/carpool';
export const ETCD_DEFAULT_TTL_MS = 10_000;

/** Whether an `instances:` item says `protocol: etcd`. */
export function isEtcdItem(c: Checker, item: Node | null): boolean {
  const node = c.resolve(item);
  if (!node || !isMap(node)) return false;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'protocol');
  const v = c.resolve(pair?.value as Node | null);
  return isScalar(v) && v.value === 'etcd';
}

/** The defaults of the timing keys, from the ttl (documented in docs/etcd.md). */
export function etcdTimingDefaults(ttlMs: number): { renewMs: number; requestTimeoutMs: number; marginMs: number; pollMs: number } {
  return {
    renewMs: Math.round(ttlMs / 3),
    requestTimeoutMs: Math.round(ttlMs / 5),
    marginMs: Math.max(100, Math.round(ttlMs / 10)),
    pollMs: Math.round(ttlMs / 2),
  };
}

/** `http(s)://host:port` with nothing after the port: what the etcd client dials. */
export function validEndpoint(text: string): boolean {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return false;
  }
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.port !== ''
    && (u.pathname === '/' || u.pathname === '') && u.search === '' && u.hash === '' && u.username === '' && !text.endsWith('/');
}

/**
 * `cluster` (the string) instead of an instance's `etcd:` mapping: the cluster block's connection
 * and ttl, with the instance's key under the cluster's prefix.
 */
export function etcdFromCluster(cluster: EtcdSettings, instance: string): EtcdSettings {
  return { ...cluster, key: `${cluster.prefix}/${instance}/leader` };
}

export function readEtcdInstance(c: Checker, item: Node | null, index: number, list: Node, options: YamlConfigOptions,
  cluster?: EtcdSettings): EtcdInstance | undefined {
  const node = c.resolve(item) ?? list;
  const pn = isMap(node) ? c.resolve(node.items.find((p) => isScalar(p.key) && p.key.value === 'name')?.value as Node | null) : null;
  const where = isScalar(pn) && typeof pn.value === 'string' ? `instance '${pn.value}'` : `instance #${index + 1}`;
  const entries = c.entries(item, where, list);
  if (!entries) return undefined;
  c.unknownKeys(entries, INSTANCE_KEYS, where, {
    vip: 'addresses', vips: 'addresses', endpoints: 'etcd: { endpoints: ... }', ttl: 'etcd: { ttl: ... }',
    advskew: 'priority (1..254, higher is preferred: the reverse of advskew)', nopreempt: 'preempt: false', preemptDelay: 'preempt_delay',
  });
  const r = new Reader(c, where, entries);
  const before = c.errors.length;

  let name: string | undefined;
  if (!r.has('name')) c.error(node, 'MISSING_KEY', `missing 'name' in ${where}`, 'a name of letters, digits and _ . : @ -');
  else {
    const n = r.string('name', 'a name of letters, digits and _ . : @ -');
    if (n && !NAME_RE.test(n.value)) c.error(n.node, 'INVALID_VALUE', `name in ${where}: '${n.value}' is not a usable name`, '1..64 letters, digits and _ . : @ -');
    else name = n?.value;
  }
  let iface: string | undefined;
  if (!r.has('interface')) c.error(node, 'MISSING_KEY', `missing 'interface' in ${where}`, 'a network interface name such as eth0');
  else {
    const i = r.string('interface', 'a network interface name such as eth0');
    if (i && !validIfname(i.value)) c.error(i.node, 'INVALID_VALUE', `interface in ${where}: '${i.value}' is not a valid interface name`, '1..15 bytes without / or blanks');
    else iface = i?.value;
  }
  const addresses: Parameters<typeof readAddresses>[5] = [];
  if (!r.has('addresses')) c.error(node, 'MISSING_KEY', `missing 'addresses' in ${where}`, 'a list of virtual IPv4 addresses such as 10.0.0.100/24');
  else readAddresses(c, r, where, iface, undefined, addresses);
  let nodeName: string | undefined;
  if (r.has('node')) {
    const n = r.string('node', "this node's name, unique in the cluster (default: the host name)");
    if (n && (n.value === '' || /[\s\0]/.test(n.value))) c.error(n.node, 'INVALID_VALUE', `node in ${where}: '${n.value}' is not a usable node name`, 'a non-empty name without blanks');
    else nodeName = n?.value;
  }
  const hooks = r.has('hooks') ? readHooks(c, entries.get('hooks')!, where) : {};
  let etcd: EtcdSettings | undefined;
  if (!r.has('etcd')) c.error(node, 'MISSING_KEY', `missing 'etcd' in ${where}`, 'etcd: { endpoints: [http://10.0.0.1:2379] }');
  else if (name) {
    const v = c.resolve(r.node('etcd'));
    if (isScalar(v) && v.value === 'cluster') {
      if (cluster) etcd = etcdFromCluster(cluster, name);
      else c.error(v, 'INVALID_VALUE', `etcd in ${where}: 'cluster' needs a valid top-level cluster: { etcd: ... } block`, 'a cluster: block, or an etcd: { endpoints: [...] } mapping here');
    } else etcd = readEtcdSettings(c, r, where, name, options);
  }

  const preference = readPreference(c, r, where, etcd?.ttlMs ?? ETCD_DEFAULT_TTL_MS);

  if (c.errors.length > before || !name || !iface || !etcd || !hooks) return undefined;
  return {
    kind: 'etcd', name, interface: iface, addresses: addresses.map((a) => a.address),
    ...(nodeName !== undefined ? { node: nodeName } : {}), etcd, ...(preference ? { preference } : {}),
    ...(hooks.up ? { upHook: hooks.up } : {}), ...(hooks.down ? { downHook: hooks.down } : {}),
  };
}

/**
 * `priority` (1..254, higher preferred, default 100), `preempt` (default false) and
 * `preempt_delay` (the hold-down, default the ttl): VRRP's words, since etcd instances elect
 * nothing on the LAN. Absent all three: no candidacy, no hand-back (docs/etcd.md "Preference").
 */
function readPreference(c: Checker, r: Reader, where: string, ttlMs: number): EtcdInstance['preference'] {
  if (!r.has('priority') && !r.has('preempt') && !r.has('preempt_delay')) return undefined;
  const priority = r.has('priority') ? r.integer('priority', PRIORITY_MIN, PRIORITY_MAX)?.value : DEFAULT_PRIORITY;
  const preempt = r.has('preempt') ? r.boolean('preempt') : false;
  const preemptDelayMs = r.has('preempt_delay') ? readDuration(c, r, 'preempt_delay', where, true) : ttlMs;
  if (r.has('preempt_delay') && preempt === false) {
    c.warn(r.keyNode('preempt_delay') ?? null, 'NOT_USED', `preempt_delay in ${where} does nothing without preempt: true`, 'preempt: true, or no preempt_delay');
  }
  if (priority === undefined || preempt === undefined || preemptDelayMs === undefined) return undefined;
  return { priority, preempt, preemptDelayMs };
}

/** The `etcd:` mapping under `outer` (an instance's, or the cluster block's with `keys` = CLUSTER_ETCD_KEYS). */
export function readEtcdSettings(c: Checker, outer: Reader, where: string, instance: string, options: YamlConfigOptions,
  keys: readonly string[] = ETCD_KEYS): EtcdSettings | undefined {
  const what = `etcd of ${where}`;
  const entry = outer.keyNode('etcd');
  const entries = c.entries(outer.node('etcd'), what, entry ?? null);
  if (!entries) return undefined;
  c.unknownKeys(entries, keys, what, { hosts: 'endpoints', endpoint: 'endpoints', lease_ttl: 'ttl', loop_wait: 'renew', retry_timeout: 'request_timeout', username: 'user', password: 'password_file',
    failsafe_mode: 'unreachable: failsafe', policy: 'unreachable', peers: 'failsafe: { peers: [...] }' });
  const r = new Reader(c, what, entries);
  const before = c.errors.length;

  const endpoints: string[] = [];
  const epExpected = 'a list of etcd client URLs such as http://10.0.0.1:2379';
  if (!r.has('endpoints')) c.error(entry ?? null, 'MISSING_KEY', `missing 'endpoints' in ${what}`, epExpected);
  else {
    const seq = c.resolve(r.node('endpoints'));
    const items = seq && isSeq(seq) ? (seq.items as (Node | null)[]) : [];
    if (seq && !isSeq(seq)) c.error(seq, 'INVALID_TYPE', `endpoints in ${what}: got ${describe(seq)}`, epExpected);
    else if (items.length === 0) c.error(r.keyNode('endpoints') ?? null, 'NO_VALUE', `endpoints in ${what}: got an empty list`, epExpected);
    for (const it of items) {
      const v = c.resolve(it);
      if (!isScalar(v) || typeof v.value !== 'string' || !validEndpoint(v.value)) {
        c.error(v ?? it, 'INVALID_VALUE', `endpoints in ${what}: '${isScalar(v) ? String(v.value) : '?'}' is not an etcd URL`, 'http://host:port or https://host:port, nothing after the port');
      } else endpoints.push(v.value);
    }
  }
  const prefix = r.has('prefix') ? r.string('prefix', 'a key prefix such as /carpool')?.value : ETCD_DEFAULT_PREFIX;
  if (prefix !== undefined && (!prefix.startsWith('/') || prefix.endsWith('/'))) {
    c.error(r.node('prefix'), 'INVALID_VALUE', `prefix in ${what}: '${prefix}' must start with / and not end with /`, 'a key prefix such as /carpool');
  }
  const key = r.has('key') ? r.string('key', 'the key of this instance')?.value : `${prefix ?? ETCD_DEFAULT_PREFIX}/${instance}/leader`;
  if (key !== undefined && key === '') c.error(r.node('key'), 'INVALID_VALUE', `key in ${what} is empty`, 'the key of this instance');
  const dur = (k: string) => (r.has(k) ? readDuration(c, r, k, what, false) : undefined);
  const beforeTiming = c.errors.length;
  const ttl = r.has('ttl') ? readDuration(c, r, 'ttl', what, false) : ETCD_DEFAULT_TTL_MS;
  if (ttl !== undefined && (ttl < 2000 || ttl % 1000 !== 0)) {
    c.error(r.node('ttl'), 'INVALID_VALUE', `ttl in ${what}: ${ttl} ms — etcd leases count whole seconds, at least 2`, 'a whole number of seconds ≥ 2s, e.g. 10s');
  }
  const d = etcdTimingDefaults(ttl ?? ETCD_DEFAULT_TTL_MS);
  const renewMs = dur('renew') ?? d.renewMs;
  const requestTimeoutMs = dur('request_timeout') ?? d.requestTimeoutMs;
  const marginMs = dur('margin') ?? d.marginMs;
  const pollMs = dur('poll') ?? d.pollMs;
  // Only with every duration readable: a default standing in for a bad value would mislead.
  if (ttl !== undefined && c.errors.length === beforeTiming) {
    for (const problem of checkTiming({ ttlMs: ttl, renewMs, requestTimeoutMs, marginMs, pollMs })) {
      c.error(entry ?? null, 'INVALID_VALUE', `${what}: unsafe timing: ${problem}`, 'a longer ttl, or a shorter renew / request_timeout / margin (docs/etcd.md)');
    }
  }

  const fileExpected = 'an absolute path of a readable file';
  /** The path, after reading the file when a reader is given; its text in `texts`. */
  const texts = new Map<string, { path: string; text: string }>();
  const readable = (k: string, rr: Reader, w: string): string | undefined => {
    const p = rr.path(k, fileExpected);
    if (!p) return undefined;
    if (options.readFile) {
      try {
        texts.set(`${w}|${k}`, { path: p.value, text: options.readFile(p.value) });
      } catch (e) {
        c.error(p.node, 'PASSWORD_FILE_UNREADABLE', `${k} in ${w}: cannot read ${p.value}: ${(e as Error).message}`, fileExpected);
        return undefined;
      }
    }
    return p.value;
  };
  let tls: EtcdSettings['tls'];
  if (r.has('tls')) {
    const tw = `tls of ${what}`;
    const te = c.entries(r.node('tls'), tw, r.keyNode('tls') ?? null);
    if (te) {
      c.unknownKeys(te, TLS_KEYS, tw, { cacert: 'ca', cafile: 'ca', certfile: 'cert', keyfile: 'key' });
      const tr = new Reader(c, tw, te);
      const ca = te.has('ca') ? readable('ca', tr, tw) : undefined;
      const cert = te.has('cert') ? readable('cert', tr, tw) : undefined;
      const tkey = te.has('key') ? readable('key', tr, tw) : undefined;
      if (te.has('cert') !== te.has('key')) c.error(r.node('tls'), 'MISSING_KEY', `${tw}: cert and key go together`, 'both cert and key, or neither');
      checkPems(c, tr, tw, { ca: texts.get(`${tw}|ca`), cert: texts.get(`${tw}|cert`), key: texts.get(`${tw}|key`) }, options.now?.() ?? Date.now());
      tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(tkey ? { key: tkey } : {}) };
    }
    if (endpoints.some((e) => e.startsWith('http:'))) c.error(r.node('endpoints'), 'INVALID_VALUE', `endpoints in ${what}: http:// endpoint with tls`, 'https:// endpoints when tls is set');
  }
  const user = r.has('user') ? r.string('user', 'an etcd user name')?.value : undefined;
  const passwordFile = r.has('password_file') ? readable('password_file', r, what) : undefined;
  const password = texts.get(`${what}|password_file`)?.text;
  if (password !== undefined && (password.split('\n')[0] ?? '').replace(/\r$/, '') === '') {
    c.error(r.node('password_file'), 'INVALID_VALUE', `password_file in ${what}: ${passwordFile}: its first line (the etcd password) is empty`,
      'the etcd password of the user on the first line of the file');
  }
  if ((user !== undefined) !== r.has('password_file')) c.error(entry ?? null, 'MISSING_KEY', `${what}: user and password_file go together`, 'both user and password_file, or neither');

  let unreachable: EtcdSettings['unreachable'];
  if (r.has('unreachable')) {
    const u = r.string('unreachable', 'step-down or failsafe');
    if (u && u.value !== 'step-down' && u.value !== 'failsafe') c.error(u.node, 'INVALID_VALUE', `unreachable in ${what}: unknown policy '${u.value}'`, 'step-down (the default) or failsafe');
    else if (u) unreachable = u.value as 'step-down' | 'failsafe';
  }
  let failsafe: EtcdFailsafe | undefined;
  if (r.has('failsafe')) failsafe = readFailsafe(c, r, what, readable, options);
  if (unreachable === 'failsafe' && !r.has('failsafe')) {
    c.error(r.node('unreachable'), 'MISSING_KEY', `${what}: unreachable: failsafe needs the peers to ask`, 'failsafe: { listen: ADDR:PORT, peers: [ADDR:PORT, ...], key_file: /etc/carpool/failsafe.key }');
  }
  if (r.has('failsafe') && unreachable !== 'failsafe' && !(r.has('unreachable') && unreachable === undefined)) {
    c.error(r.keyNode('failsafe') ?? null, 'INVALID_VALUE', `${what}: a failsafe block, but the policy is step-down${r.has('unreachable') ? '' : ' (the default)'}: it would be ignored`, 'unreachable: failsafe, or no failsafe block');
  }

  if (c.errors.length > before || ttl === undefined || prefix === undefined || key === undefined) return undefined;
  return {
    endpoints, prefix, key, ttlMs: ttl, renewMs, requestTimeoutMs, marginMs, pollMs,
    ...(tls ? { tls } : {}), ...(user !== undefined ? { user } : {}), ...(passwordFile ? { passwordFile } : {}),
    ...(unreachable !== undefined ? { unreachable } : {}), ...(failsafe ? { failsafe } : {}),
  };
}

/** `ADDR:PORT` or `[IPv6]:PORT`, or undefined. */
export function parseHostPort(text: string): { address: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  const family = isIP(m[1]!);
  if (port < 1 || port > 65535 || family === 0 || (family === 6) !== text.startsWith('[')) return undefined;
  return { address: m[1]!, port };
}

/** The `failsafe:` block: this node's address, every member's, the key file (docs/etcd.md). */
function readFailsafe(c: Checker, outer: Reader, what: string, readable: (k: string, rr: Reader, w: string) => string | undefined,
  options: YamlConfigOptions): EtcdFailsafe | undefined {
  const where = `failsafe of ${what}`;
  const fe = c.entries(outer.node('failsafe'), where, outer.keyNode('failsafe') ?? null);
  if (!fe) return undefined;
  c.unknownKeys(fe, FAILSAFE_KEYS, where, { bind: 'listen', address: 'listen', members: 'peers', key: 'key_file', password_file: 'key_file' });
  const r = new Reader(c, where, fe);
  const before = c.errors.length;
  const hp = 'ADDR:PORT such as 10.0.1.2:7391 ([ADDR]:PORT for IPv6)';
  const one = (n: Node | null, k: string): { address: string; port: number } | undefined => {
    const v = c.resolve(n);
    const p = isScalar(v) && typeof v.value === 'string' ? parseHostPort(v.value) : undefined;
    if (!p) c.error(v ?? n, 'INVALID_VALUE', `${k} in ${where}: '${isScalar(v) ? String(v.value) : '?'}' is not an address and port`, hp);
    return p;
  };
  const peers: { address: string; port: number }[] = [];
  if (!r.has('peers')) c.error(outer.keyNode('failsafe') ?? null, 'MISSING_KEY', `missing 'peers' in ${where}`, `every member's ${hp}, this node included; an odd number ≥ 3`);
  else {
    const items = r.list('peers', `a list of ${hp}`);
    for (const it of items) {
      const p = one(it, 'peers');
      if (!p) continue;
      if (peers.some((q) => q.address === p.address && q.port === p.port)) c.error(it, 'INVALID_VALUE', `peers in ${where}: ${p.address}:${p.port} is listed twice`, 'each member once');
      else peers.push(p);
    }
    if (items.length > 0 && c.errors.length === before && (peers.length < 3 || peers.length % 2 === 0)) {
      c.error(r.node('peers'), 'INVALID_VALUE', `peers in ${where}: ${peers.length} member${peers.length === 1 ? '' : 's'} — a majority is meaningless${peers.length % 2 === 0 && peers.length > 1 ? ' (an even count can split in halves with no majority)' : ''}`,
        'every member, this node included: an odd number ≥ 3 (3, 5, ...)');
    } else if (r.has('peers') && items.length === 0 && c.errors.length === before) {
      c.error(r.node('peers'), 'NO_VALUE', `peers in ${where}: got an empty list`, 'every member, this node included: an odd number ≥ 3');
    }
  }
  let listen: { address: string; port: number } | undefined;
  if (!r.has('listen')) c.error(outer.keyNode('failsafe') ?? null, 'MISSING_KEY', `missing 'listen' in ${where}`, `this node's own entry of peers, ${hp}`);
  else {
    const l = one(r.node('listen'), 'listen');
    if (l && peers.length > 0 && !peers.some((q) => q.address === l.address && q.port === l.port)) {
      c.error(r.node('listen'), 'INVALID_VALUE', `listen in ${where}: ${l.address}:${l.port} is not one of the peers`, "this node's own entry of peers (the list names every member, this node included)");
    }
    listen = l;
  }
  let keyFile: string | undefined;
  if (!r.has('key_file')) c.error(outer.keyNode('failsafe') ?? null, 'MISSING_KEY', `missing 'key_file' in ${where}: the peers' messages must be authenticated`, 'an absolute path of a file holding the shared key (its first line, ≥ 16 bytes)');
  else {
    keyFile = readable('key_file', r, where);
    if (keyFile && options.readFile && Buffer.byteLength(failsafeKeyOf(options.readFile(keyFile))) < FAILSAFE_MIN_KEY_BYTES) {
      c.error(r.node('key_file'), 'INVALID_VALUE', `key_file in ${where}: the key in ${keyFile} is shorter than ${FAILSAFE_MIN_KEY_BYTES} bytes`, `a first line of at least ${FAILSAFE_MIN_KEY_BYTES} random bytes, e.g. from: openssl rand -hex 32`);
      keyFile = undefined;
    }
  }
  if (c.errors.length > before || !listen || !keyFile) return undefined;
  return { listen, peers, keyFile };
}

/**
 * The TLS files' contents, where they can be judged without etcd: each parses as PEM of the
 * right kind, the client certificate is valid now, and the key is the certificate's. (A CA that
 * did not sign etcd's certificate, or a certificate for another host name, show at the first
 * connection: the daemon's log names the endpoint.)
 */
type Pem = { path: string; text: string } | undefined;

function checkPems(c: Checker, tr: Reader, tw: string, pems: { ca: Pem; cert: Pem; key: Pem }, now: number): void {
  const fail = (k: 'ca' | 'cert' | 'key', message: string, expected: string) => c.error(tr.node(k), 'INVALID_VALUE', `${k} in ${tw}: ${pems[k]?.path ?? ''}: ${message}`, expected);
  const pem = { ca: pems.ca?.text, cert: pems.cert?.text, key: pems.key?.text };
  const certs = (text: string): X509Certificate[] => (text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
  const dated = (k: 'ca' | 'cert', x: X509Certificate): boolean => {
    if (Date.parse(x.validTo) < now) fail(k, `the certificate ${x.subject.replace(/\n/g, ', ')} expired on ${new Date(x.validTo).toISOString()}`, 'a certificate valid now (renew it)');
    else if (Date.parse(x.validFrom) > now) fail(k, `the certificate ${x.subject.replace(/\n/g, ', ')} is not valid before ${new Date(x.validFrom).toISOString()}`, 'a certificate valid now (check the clock)');
    else return true;
    return false;
  };
  if (pem.ca !== undefined) {
    try {
      const list = certs(pem.ca);
      if (list.length === 0) fail('ca', 'no PEM certificate in it', 'the PEM certificate(s) of the CA that signed etcd\'s certificate');
      for (const x of list) dated('ca', x);
    } catch (e) {
      fail('ca', `not a readable PEM certificate (${(e as Error).message})`, 'the PEM certificate(s) of the CA that signed etcd\'s certificate');
    }
  }
  let cert: X509Certificate | undefined;
  if (pem.cert !== undefined) {
    try {
      const first = certs(pem.cert)[0];
      if (!first) fail('cert', 'no PEM certificate in it', 'the PEM client certificate etcd trusts');
      else if (dated('cert', first)) cert = first;
    } catch (e) {
      fail('cert', `not a readable PEM certificate (${(e as Error).message})`, 'the PEM client certificate etcd trusts');
    }
  }
  if (pem.key !== undefined) {
    let key: KeyObject | undefined;
    try {
      key = createPrivateKey(pem.key);
    } catch (e) {
      fail('key', `not a readable unencrypted PEM private key (${(e as Error).message})`, 'the PEM private key of the client certificate, unencrypted');
    }
    if (key && cert && !cert.checkPrivateKey(key)) fail('key', `this key does not belong to the certificate ${cert.subject.replace(/\n/g, ', ')} of cert`, 'the private key the client certificate was made for');
  }
}
