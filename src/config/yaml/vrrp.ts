/**
 * VRRP in carpool.yaml (`protocol: vrrp` instances), vrrp_defaults, vrrp_scripts, track_files and
 * sync_groups. The keys are keepalived's keywords in snake_case (docs/config.md has the full
 * mapping); the values are read here and handed to the VRRP builder, which applies keepalived's
 * defaults and the cross-checks.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { parseCidr } from '../../protocol/inet.js';
import { isIPv4Multicast } from '../common.js';
import type {
  At, SyncGroupSpec, Terms, TrackFileSpec, TrackProcessSpec, VrrpDefaultsSpec, VrrpInstanceSpec, VrrpScriptSpec,
} from '../vrrp/spec.js';
import { NAME_RE, describe, locOf, validIfname, vreader, type Checker, type Entry, type Reader } from './checker.js';
import { opt, readGarp, readHook, readNotify, readRoutes, readRules, readTrackRefList, readVips } from './vrrp-fields.js';

const emptyList = (n: Node | null): boolean => isSeq(n) && n.items.length === 0;

const VRRP_INSTANCE_KEYS = [
  'name', 'protocol', 'state', 'interface', 'virtual_router_id', 'priority', 'advert_int', 'version', 'preempt', 'preempt_delay',
  'source', 'mcast_group', 'unicast_peers', 'v3_checksum_as_v2', 'auth_pass', 'auth_type', 'addresses', 'excluded_addresses', 'routes', 'rules',
  'track_interfaces', 'track_scripts', 'track_files', 'track_processes', 'track_primary', 'notify', 'garp', 'vmac', 'lower_prio_no_advert',
  'higher_prio_send_advert', 'down_timer_adverts', 'strict_mode', 'hook_timeout',
] as const;
const VRRP_ALIASES: Readonly<Record<string, string>> = {
  vrid: 'virtual_router_id', vhid: 'virtual_router_id', nopreempt: 'preempt: false', mcast_src_ip: 'source', unicast_src_ip: 'source',
  srcip: 'source', mcast_dst_ip: 'mcast_group', unicast_peer: 'unicast_peers', virtual_ipaddress: 'addresses',
  virtual_ipaddress_excluded: 'excluded_addresses', virtual_routes: 'routes', virtual_rules: 'rules', track_interface: 'track_interfaces',
  track_script: 'track_scripts', track_file: 'track_files', track_process: 'track_processes', dont_track_primary: 'track_primary: false', use_vmac: 'vmac',
  password: 'auth_pass', authentication: 'auth_pass', notify_master: 'notify: { master: ... }', notify_backup: 'notify: { backup: ... }',
  notify_fault: 'notify: { fault: ... }', notify_stop: 'notify: { stop: ... }', garp_master_delay: 'garp: { master_delay: ... }',
  garp_master_repeat: 'garp: { master_repeat: ... }', advbase: 'advert_int', advskew: 'priority (VRRP: higher wins)',
};
const VRRP_DEFAULT_KEYS = ['version', 'mcast_group4', 'mcast_group6', 'garp', 'v3_checksum_as_v2', 'strict', 'lower_prio_no_advert',
  'higher_prio_send_advert', 'down_timer_adverts'] as const;
const SCRIPT_KEYS = ['name', 'script', 'interval', 'timeout', 'weight', 'reverse', 'rise', 'fall', 'init_fail'] as const;
const TRACK_FILE_KEYS = ['name', 'file', 'weight', 'reverse', 'init_file', 'init_overwrite'] as const;
const SYNC_GROUP_KEYS = ['name', 'members', 'notify', 'track_interfaces', 'track_scripts', 'track_files', 'track_processes', 'tracking_weight'] as const;

export const YAML_TERMS: Terms = {
  nopreempt: 'preempt: false', preemptDelay: 'preempt_delay', addresses: 'addresses', unicastPeers: 'unicast_peers', authPass: 'auth_pass',
  trackScript: 'track_scripts', trackFile: 'track_files', members: 'members', srcip: 'source', strict: 'strict_mode',
};

export function isVrrpItem(c: Checker, item: Node | null): boolean {
  const node = c.resolve(item);
  if (!node || !isMap(node)) return false;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'protocol');
  const v = c.resolve(pair?.value as Node | null);
  return isScalar(v) && v.value === 'vrrp';
}

export function readVrrpInstance(c: Checker, item: Node | null, index: number, list: Node): VrrpInstanceSpec | undefined {
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
  const authType = v.str('auth_type', 'PASS or AH');
  if (authType && authType.value !== 'PASS' && authType.value !== 'AH') {
    c.error(v.node('auth_type'), 'INVALID_VALUE', `auth_type in ${where}: '${authType.value}'`, 'PASS (the password in the advert) or AH (IPsec AH, HMAC-MD5-96)');
  }
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
    ...(authType && (authType.value === 'PASS' || authType.value === 'AH') ? { authType: authType as At<'PASS' | 'AH'> } : {}),
    addresses: readVips(c, v, 'addresses', where),
    // `addresses: []` written out: a notify-only instance (what `carpool convert` writes for one).
    ...(emptyList(v.node('addresses')) ? { noAddresses: { value: 'quiet' as const, at: locOf(c, v.keyNode('addresses')) } } : {}),
    excludedAddresses: readVips(c, v, 'excluded_addresses', where),
    routes: readRoutes(c, v, where),
    rules: readRules(c, v, where),
    trackInterfaces: readTrackRefList(c, v, 'track_interfaces', where),
    trackScripts: readTrackRefList(c, v, 'track_scripts', where),
    trackFiles: readTrackRefList(c, v, 'track_files', where),
    ...(v.has('track_processes') ? { trackProcesses: readTrackRefList(c, v, 'track_processes', where) } : {}),
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

export function readVrrpDefaults(c: Checker, entry: Entry | undefined): VrrpDefaultsSpec {
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

export function readList<T>(c: Checker, entry: Entry | undefined, key: string, read: (c: Checker, item: Node, where: string) => T | undefined): T[] {
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

function requiredName(c: Checker, v: Reader, item: Node, where: string): At<string> | undefined {
  if (!v.has('name')) { c.error(item, 'MISSING_KEY', `missing 'name' in ${where}`, 'name: NAME'); return undefined; }
  return v.str('name', 'a name');
}

export function readVrrpScript(c: Checker, item: Node, where: string): VrrpScriptSpec | undefined {
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

export function readTrackFile(c: Checker, item: Node, where: string): TrackFileSpec | undefined {
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

const TRACK_PROCESS_KEYS = ['name', 'process', 'param_match', 'full_command', 'weight', 'reverse', 'quorum', 'quorum_max', 'fork_delay',
  'terminate_delay'] as const;

/** `track_processes:` item: `process` is a name, or a list of the name and the arguments to match. */
export function readTrackProcess(c: Checker, item: Node, where: string): TrackProcessSpec | undefined {
  const v = vreader(c, item, where, item, TRACK_PROCESS_KEYS, { delay: 'fork_delay and terminate_delay' });
  if (!v) return undefined;
  const name = requiredName(c, v, item, where);
  if (!name) return undefined;
  let process: At<readonly string[]> | undefined;
  const pn = v.node('process');
  if (isSeq(pn)) {
    const words = pn.items.map((x) => c.resolve(x as Node | null));
    if (words.length > 0 && words.every((w) => isScalar(w) && typeof w.value === 'string')) {
      process = { value: words.map((w) => (w as { value: string }).value), at: locOf(c, pn) };
    } else c.error(pn, 'INVALID_TYPE', `process in ${where}: a list of text`, 'process: haproxy, or [haproxy, -f, /etc/haproxy/haproxy.cfg]');
  } else if (v.has('process')) {
    const s = v.str('process', 'the process name, or a list of the name and its arguments');
    if (s) process = { value: [s.value], at: s.at };
  }
  const pm = v.str('param_match', 'exact, initial or partial');
  if (pm && !['exact', 'initial', 'partial'].includes(pm.value)) c.error(v.node('param_match'), 'INVALID_VALUE', `param_match in ${where}: '${pm.value}'`, 'exact, initial or partial');
  return {
    name, ...(process ? { process } : {}),
    ...(pm && ['exact', 'initial', 'partial'].includes(pm.value) ? { paramMatch: pm as At<'exact' | 'initial' | 'partial'> } : {}),
    ...opt('fullCommand', v.bool('full_command')), ...opt('weight', v.int('weight', -254, 254)), ...opt('reverse', v.bool('reverse')),
    ...opt('quorum', v.int('quorum', 0, 65535)), ...opt('quorumMax', v.int('quorum_max', 0, 65535)),
    ...opt('forkDelay', v.seconds('fork_delay', 0, 3600)), ...opt('terminateDelay', v.seconds('terminate_delay', 0, 3600)),
  };
}

export function readSyncGroup(c: Checker, item: Node, where: string): SyncGroupSpec | undefined {
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
    ...(v.has('track_processes') ? { trackProcesses: readTrackRefList(c, v, 'track_processes', where) } : {}),
    ...opt('trackingWeight', v.bool('tracking_weight')),
  };
}
