/**
 * The CARP instances of carpool.yaml (`instances:` entries without `protocol: vrrp`): ucarp's options
 * as keys, passwords inline or from a file (read like ucarp's --passfile), virtual addresses, hooks,
 * and the checks across instances (names, vhids, addresses).
 */
import { posix } from 'node:path';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { parseCidr } from '../../protocol/inet.js';
import { CARP_MCAST, type CarpInstance, type Hook, type VirtualAddress } from '../model.js';
import {
  PASSWORD_MAX_BYTES, baseDevice, byteLength, defaultInstanceName, isIPv4Multicast, passwordFromFile, splitCommand,
} from '../common.js';
import { NAME_RE, Reader, describe, validIfname, type Checker, type Entry, type Where, type YamlConfigOptions } from './checker.js';

const INSTANCE_KEYS = [
  'name', 'protocol', 'interface', 'source', 'vhid', 'password', 'password_file', 'advbase', 'advskew', 'deadratio',
  'preempt', 'neutral', 'addresses', 'mcast', 'nomcast', 'ignore_ifstate', 'shutdown_hooks', 'hooks', 'hook_timeout',
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

/**
 * What one instance entry yielded: the instance when it is valid, and in any case the parts the
 * cross-instance checks need, so a duplicate is reported even next to other errors.
 */
export interface InstanceDraft {
  readonly instance?: CarpInstance;
  readonly name?: { readonly value: string; readonly node: Node };
  readonly iface?: string;
  readonly vhid?: { readonly value: number; readonly node: Node };
  readonly addresses: readonly { readonly address: VirtualAddress; readonly node: Node }[];
}

export function readInstance(c: Checker, item: Node | null, index: number, list: Node, options: YamlConfigOptions):
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
    const p = r.string('protocol', 'carp, vrrp or etcd');
    if (p && p.value !== 'carp') {
      c.error(p.node, 'INVALID_VALUE', `protocol in ${where}: unknown protocol '${p.value}'`, 'carp, vrrp or etcd');
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

export function readAddresses(c: Checker, r: Reader, where: Where, iface: string | undefined, source: string | undefined,
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

export interface Hooks { up?: Hook; down?: Hook; xparam?: string }

export function readHooks(c: Checker, entry: Entry, where: Where): Hooks | undefined {
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

export function crossCheck(c: Checker, drafts: readonly InstanceDraft[]): void {
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
