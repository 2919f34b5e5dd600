/**
 * The fields VRRP instances, sync groups and vrrp_defaults share in carpool.yaml: commands (notify,
 * scripts), notify, garp, virtual addresses and routes, and tracker references. Each returns located
 * values for the VRRP builder.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { parseCidr, parseIPv4 } from '../../protocol/inet.js';
import type { Hook, NextHop, NotifyFifo, StaticSetup, VirtualAddress, VirtualRoute, VirtualRule } from '../model.js';
import { byteLength, splitCommand } from '../common.js';
import type { At, GarpSpec, NotifySpec, TrackRefSpec } from '../vrrp/spec.js';
import { describe, locOf, validIfname, vreader, type Checker, type Entry, type Reader } from './checker.js';

const GARP_YAML = {
  master_delay: 'masterDelay', master_repeat: 'masterRepeat', master_refresh: 'masterRefresh', master_refresh_repeat: 'masterRefreshRepeat',
  lower_prio_delay: 'lowerPrioDelay', lower_prio_repeat: 'lowerPrioRepeat', interval: 'interval',
} as const;
const GARP_YAML_SECONDS = new Set(['master_delay', 'master_refresh', 'lower_prio_delay', 'interval']);
const NOTIFY_KEYS = ['master', 'backup', 'fault', 'stop', 'generic'] as const;
const ROUTE_KEYS = ['to', 'via', 'dev', 'src', 'metric', 'table', 'type', 'scope', 'proto', 'nexthops'] as const;
const NEXTHOP_KEYS = ['via', 'dev', 'weight'] as const;
const RULE_KEYS = ['from', 'to', 'table', 'priority', 'fwmark', 'fwmask', 'iif', 'oif', 'type', 'family'] as const;
const SCOPES = ['global', 'site', 'link', 'host', 'nowhere'];
const VIP_KEYS = ['address', 'label', 'dev', 'broadcast', 'scope'] as const;
const TRACK_REF_KEYS = ['name', 'weight', 'reverse'] as const;

/** A command: a string (split like a shell does, nothing expanded), a list (the argv) or `{ shell: "..." }`. */
export function readHook(c: Checker, node: Node | null, what: string): At<Hook> | undefined {
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

export function readNotify(c: Checker, v: Reader, key: string, where: string): NotifySpec {
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

export function readGarp(c: Checker, v: Reader, where: string, globals: boolean): GarpSpec {
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

export function readVips(c: Checker, v: Reader, key: string, where: string): At<VirtualAddress>[] {
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

export function readRoutes(c: Checker, v: Reader, where: string): At<VirtualRoute>[] {
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
    const scope = rv.str('scope', SCOPES.join(', '));
    const proto = rv.int('proto', 0, 255);
    const errors = c.errors.length;
    const nexthops = readNextHops(c, rv, what);
    if (scope && !SCOPES.includes(scope.value)) c.error(rv.node('scope'), 'INVALID_VALUE', `scope in ${what}: '${scope.value}' is not a scope`, SCOPES.join(', '));
    if (type && !['blackhole', 'unreachable', 'prohibit', 'throw'].includes(type.value)) {
      c.error(rv.node('type'), 'INVALID_VALUE', `type in ${what}: '${type.value}' is not a route type`, 'blackhole, unreachable, prohibit or throw');
    }
    if (dev && !validIfname(dev.value)) c.error(rv.node('dev'), 'INVALID_VALUE', `dev in ${what}: '${dev.value}' is not a valid interface name`, '1..15 bytes');
    if (!to || c.errors.length > errors || (rv.has('via') && !via) || (rv.has('src') && !src) || (rv.has('metric') && !metric)
      || (rv.has('table') && !table) || (rv.has('dev') && !dev) || (rv.has('type') && !type) || (rv.has('scope') && !scope)
      || (rv.has('proto') && !proto)) return;
    let family: 4 | 6;
    let dst: string;
    let prefix: number;
    if (to.value === 'default') {
      const gw = via?.value ?? nexthops.find((h) => h.gateway)?.gateway;
      family = (gw ? parseCidr(gw)?.family : src ? parseCidr(src.value)?.family : undefined) ?? 4;
      dst = family === 6 ? '::' : '0.0.0.0';
      prefix = 0;
    } else {
      const cidr = parseCidr(to.value);
      if (!cidr) { c.error(rv.node('to'), 'INVALID_ADDRESS', `to in ${what}: '${to.value}' is not a destination`, "a network such as 10.1.0.0/16, or 'default'"); return; }
      ({ family, address: dst, prefix } = cidr);
    }
    for (const [k, x] of [['via', via?.value], ['src', src?.value], ...nexthops.map((h) => ['nexthops', h.gateway] as const)] as const) {
      if (x && parseCidr(x)?.family !== family) {
        c.error(rv.node(k), 'FAMILY_MISMATCH', `${k} in ${what}: ${x} is not IPv${family} like the destination`, `an IPv${family} address`);
        return;
      }
    }
    if (via && nexthops.length > 0) { c.error(rv.node('nexthops'), 'INVALID_VALUE', `${what} has both via and nexthops`, 'via: GATEWAY, or nexthops: [{ via: GW1 }, { via: GW2 }]'); return; }
    if (!via && !dev && !type && nexthops.length === 0) {
      c.error(item, 'MISSING_KEY', `${what} has neither via nor dev nor nexthops nor type`, 'via: GATEWAY, dev: IF, nexthops: [...] or type: blackhole');
      return;
    }
    out.push({
      value: {
        family, dst, prefix, ...(via ? { gateway: via.value } : {}), ...(dev ? { dev: dev.value } : {}), ...(src ? { src: src.value } : {}),
        ...(metric ? { metric: metric.value } : {}), ...(table ? { table: table.value } : {}), ...(type ? { type: type.value } : {}),
        ...(scope ? { scope: scope.value as VirtualRoute['scope'] } : {}), ...(proto ? { proto: proto.value } : {}),
        ...(nexthops.length > 0 ? { nexthops } : {}),
      },
      at: to.at,
    });
  });
  return out;
}

/** `nexthops: [{ via, dev, weight }]` of a multipath route (1..16). */
function readNextHops(c: Checker, rv: Reader, where: string): NextHop[] {
  const out: NextHop[] = [];
  const items = rv.list('nexthops', 'a list of next hops such as { via: 10.0.0.1, weight: 2 }');
  if (items.length > 16) c.error(rv.node('nexthops'), 'OUT_OF_RANGE', `nexthops in ${where}: ${items.length} next hops`, 'at most 16');
  items.forEach((item, i) => {
    const what = `next hop #${i + 1} of ${where}`;
    const hv = vreader(c, item, what, item, NEXTHOP_KEYS, { gw: 'via', gateway: 'via' });
    if (!hv) return;
    const via = hv.ip('via', 'the gateway');
    const dev = hv.str('dev', 'an interface name');
    const weight = hv.int('weight', 1, 256);
    if (dev && !validIfname(dev.value)) { c.error(hv.node('dev'), 'INVALID_VALUE', `dev in ${what}: '${dev.value}' is not a valid interface name`, '1..15 bytes'); return; }
    if (!via && !dev) { c.error(item, 'MISSING_KEY', `${what} has neither via nor dev`, 'via: GATEWAY'); return; }
    out.push({ ...(via ? { gateway: via.value } : {}), ...(dev ? { dev: dev.value } : {}), ...(weight ? { weight: weight.value } : {}) });
  });
  return out;
}

/** `rules: [{ from, to, table, priority, fwmark, fwmask, iif, oif, type }]` (keepalived virtual_rules / static_rules). */
export function readRules(c: Checker, v: Reader, where: string): At<VirtualRule>[] {
  const out: At<VirtualRule>[] = [];
  v.list('rules', 'a list of rules such as { from: 10.1.0.0/16, table: 100, priority: 100 }').forEach((item, i) => {
    const what = `rule #${i + 1} of ${where}`;
    const rv = vreader(c, item, what, item, RULE_KEYS, { lookup: 'table', preference: 'priority', pref: 'priority', iifname: 'iif', oifname: 'oif' });
    if (!rv) return;
    const errors = c.errors.length;
    const families: (4 | 6)[] = [];
    const side = (k: 'from' | 'to'): string | undefined => {
      const s = rv.str(k, 'an address prefix such as 10.1.0.0/16');
      if (!s) return undefined;
      const cidr = parseCidr(s.value);
      if (!cidr) { c.error(rv.node(k), 'INVALID_ADDRESS', `${k} in ${what}: '${s.value}' is not an address prefix`, 'an address prefix such as 10.1.0.0/16'); return undefined; }
      families.push(cidr.family);
      return `${cidr.address}/${cidr.prefix}`;
    };
    const from = side('from');
    const to = side('to');
    const table = rv.int('table', 1, 4294967295);
    const priority = rv.int('priority', 0, 4294967295);
    const fwmark = rv.int('fwmark', 0, 4294967295);
    const fwmask = rv.int('fwmask', 0, 4294967295);
    const iif = rv.str('iif', 'an interface name');
    const oif = rv.str('oif', 'an interface name');
    const type = rv.str('type', 'blackhole, unreachable or prohibit');
    const family = rv.int('family', 4, 6);
    if (family && family.value === 5) c.error(rv.node('family'), 'OUT_OF_RANGE', `family in ${what}: got 5`, '4 or 6');
    if (family) families.unshift(family.value as 4 | 6);
    for (const [k, x] of [['iif', iif], ['oif', oif]] as const) {
      if (x && !validIfname(x.value)) c.error(rv.node(k), 'INVALID_VALUE', `${k} in ${what}: '${x.value}' is not a valid interface name`, '1..15 bytes');
    }
    if (type && !['blackhole', 'unreachable', 'prohibit'].includes(type.value)) {
      c.error(rv.node('type'), 'INVALID_VALUE', `type in ${what}: '${type.value}' is not a rule type`, 'blackhole, unreachable or prohibit');
    }
    if (type && table) c.error(rv.node('type'), 'INVALID_VALUE', `${what}: a ${type.value} rule looks up no table`, 'type or table, not both');
    if (fwmask && !fwmark) c.error(rv.node('fwmask'), 'MISSING_KEY', `${what}: fwmask without fwmark`, 'fwmark: MARK');
    if (families.some((f) => f !== families[0])) c.error(item, 'FAMILY_MISMATCH', `${what} mixes IPv4 and IPv6`, 'from and to of one family');
    if (c.errors.length > errors) return;
    if ((rv.has('from') && !from) || (rv.has('to') && !to) || (rv.has('table') && !table) || (rv.has('priority') && !priority)
      || (rv.has('fwmark') && !fwmark) || (rv.has('fwmask') && !fwmask)) return;
    out.push({
      value: {
        family: families[0] ?? 4, ...(from ? { from } : {}), ...(to ? { to } : {}), ...(table ? { table: table.value } : {}),
        ...(priority ? { priority: priority.value } : {}), ...(fwmark ? { fwmark: fwmark.value } : {}), ...(fwmask ? { fwmask: fwmask.value } : {}),
        ...(iif ? { iif: iif.value } : {}), ...(oif ? { oif: oif.value } : {}), ...(type ? { type: type.value as VirtualRule['type'] } : {}),
      },
      at: locOf(c, item),
    });
  });
  return out;
}

export function readTrackRefList(c: Checker, v: Reader, key: string, where: string): At<TrackRefSpec>[] {
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

export function opt<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}

/**
 * `static: { addresses, routes, rules }`: installed at start, removed on a clean stop (keepalived
 * static_ipaddress / static_routes / static_rules). Each address names its `dev`. Undefined when
 * absent; `ok` false after an error.
 */
export function readStatic(c: Checker, entry: Entry | undefined): { ok: boolean; value?: StaticSetup } {
  if (!entry) return { ok: true };
  const errors = c.errors.length;
  const v = vreader(c, entry.value, 'static', entry.keyNode, ['addresses', 'routes', 'rules'],
    { static_ipaddress: 'addresses', static_routes: 'routes', static_rules: 'rules' });
  if (!v) return { ok: false };
  const addresses = readVips(c, v, 'addresses', 'static');
  for (const a of addresses) {
    if (!a.value.dev) c.errors.push({ file: c.file, line: a.at.line, column: a.at.column, severity: 'error', code: 'MISSING_KEY', message:  `static address ${a.value.address}/${a.value.prefix} has no dev`, expected: `{ address: ${a.value.address}/${a.value.prefix}, dev: eth0 }` });
  }
  const routes = readRoutes(c, v, 'static');
  const rules = readRules(c, v, 'static');
  if (c.errors.length > errors) return { ok: false };
  return { ok: true, value: { addresses: addresses.map((a) => a.value), routes: routes.map((r) => r.value), rules: rules.map((r) => r.value) } };
}

/** `notify_fifo: { path, script }` (keepalived vrrp_notify_fifo / notify_fifo); undefined when absent, `ok` false after an error. */
export function readNotifyFifo(c: Checker, entry: Entry | undefined): { ok: boolean; value?: NotifyFifo } {
  if (!entry) return { ok: true };
  const errors = c.errors.length;
  const v = vreader(c, entry.value, 'notify_fifo', entry.keyNode, ['path', 'script']);
  if (!v) return { ok: false };
  const path = v.has('path') ? v.path('path', 'the FIFO') : undefined;
  if (!v.has('path')) c.error(entry.keyNode, 'MISSING_KEY', "missing 'path' in notify_fifo", 'path: /run/carpool/notify.fifo');
  const script = v.has('script') ? readHook(c, v.node('script'), 'script of notify_fifo') : undefined;
  if (c.errors.length > errors || !path) return { ok: false };
  return { ok: true, value: { path: path.value, ...(script ? { script: script.value } : {}) } };
}
