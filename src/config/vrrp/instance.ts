/**
 * One vrrp_instance, section by section: required fields, addresses and family, version, advert
 * interval, priority/state/preempt, authentication, strict mode, multicast group, tracking, VMAC.
 * Each builder reports through the instance's `InstanceCheck`; the caller drops the instance when
 * any error was counted.
 */
import { isIPv6LinkLocal, parseIP } from '../../protocol/inet.js';
import { VRRP_MCAST4, VRRP_MCAST6, type TrackRef } from '../model.js';
import { ms, type InstanceCheck } from './check.js';
import type { Trackers } from './trackers.js';
import type { At, SyncGroupSpec, TrackRefSpec } from './spec.js';

/** interface and virtual_router_id are required; the plain ranges. */
export function checkRequired(c: InstanceCheck): void {
  const { s, owner, terms } = c;
  if (!s.interface) c.e(s.name.at, 'MISSING_KEY', `${owner} has no interface`, 'interface eth0');
  if (!s.vrid) c.e(s.name.at, 'MISSING_KEY', `${owner} has no virtual_router_id`, 'virtual_router_id 1..255, the same on every node of the router');
  c.range(s.vrid, 'virtual_router_id', 1, 255);
  c.range(s.priority, 'priority', 1, 255);
  c.range(s.preemptDelay, terms.preemptDelay, 0, 1000, false);
  c.range(s.downTimerAdverts, 'down_timer_adverts', 1, 100);
}

/** The address family: from the virtual addresses (all one family), else the source or peers; checks they agree. */
export function addressFamily(c: InstanceCheck): 4 | 6 {
  const { s, owner, terms } = c;
  const family = s.addresses[0]?.value.family ?? (s.srcip ? parseIP(s.srcip.value)?.family : undefined)
    ?? (s.unicastPeers[0] ? parseIP(s.unicastPeers[0].value)?.family : undefined) ?? 4;
  if (s.addresses.length === 0 && !s.noAddresses) {
    c.e(s.name.at, 'MISSING_KEY', `${owner} has no virtual addresses`, `${terms.addresses} with at least one address`);
  }
  for (const a of s.addresses) {
    if (a.value.family !== family) {
      c.e(a.at, 'FAMILY_MISMATCH', `${owner}: ${a.value.address} is IPv${a.value.family} but the first virtual address is IPv${family}`,
        `all ${terms.addresses} of one family (put the others in an instance of their own, or in the excluded addresses)`);
    }
  }
  if (s.addresses.length > 255) {
    c.e(s.addresses[255]!.at, 'OUT_OF_RANGE', `${owner} has ${s.addresses.length} virtual addresses; an advert carries at most 255`,
      'at most 255 (put the others in the excluded addresses)');
  }
  for (const p of [...(s.srcip ? [s.srcip] : []), ...s.unicastPeers]) {
    if (parseIP(p.value)?.family !== family) {
      c.e(p.at, 'FAMILY_MISMATCH', `${owner}: ${p.value} is not an IPv${family} address like the virtual addresses`, `an IPv${family} address`);
    }
  }
  return family;
}

/** VRRP version: v3 for IPv6, else the instance's, the default's or 2. */
export function vrrpVersion(c: InstanceCheck, family: 4 | 6): 2 | 3 {
  const { s, d, owner } = c;
  let version: 2 | 3 = family === 6 ? 3 : d.version?.value ?? 2;
  if (s.version) {
    if (s.version.value !== 2 && s.version.value !== 3) c.e(s.version.at, 'OUT_OF_RANGE', `version in ${owner}: got ${s.version.value}`, '2 or 3');
    else version = s.version.value;
  }
  if (version === 2 && family === 6) {
    c.e(s.version?.at ?? s.name.at, 'NOT_SUPPORTED', `${owner}: VRRPv2 carries IPv4 addresses only (RFC 3768); keepalived's non-standard v2 over IPv6 is not supported`,
      'version 3 for IPv6 (the default)');
  }
  return version;
}

/** Advert interval in ms (keepalived: parsed 0.01..255 s; v2 whole seconds, v3 centiseconds). */
export function advertInterval(c: InstanceCheck, version: 2 | 3): number {
  const { s, owner } = c;
  let advertIntervalMs = 1000;
  if (s.advertInt) {
    const v = s.advertInt.value;
    if (!(v >= 0.01 && v <= 255)) {
      c.e(s.advertInt.at, 'OUT_OF_RANGE', `advert_int in ${owner}: got ${v}`, version === 2 ? 'whole seconds 1..255 (VRRPv2)' : 'seconds 0.01..40.95 (VRRPv3)');
    } else if (version === 2) {
      const rounded = Math.min(255, Math.max(1, Math.round(v)));
      if (rounded !== v) {
        c.warn(s.advertInt.at, 'ADVERT_INT_ROUNDED', `advert_int ${v} in ${owner} is rounded to ${rounded} s: VRRPv2 adverts carry whole seconds (keepalived rounds silently, #1615)`,
          'whole seconds, or version 3 for sub-second intervals');
      }
      advertIntervalMs = rounded * 1000;
    } else {
      const cs = Math.round(v * 100);
      if (cs > 4095) {
        c.e(s.advertInt.at, 'OUT_OF_RANGE', `advert_int in ${owner}: got ${v}; VRRPv3 carries at most 40.95 s`, 'seconds 0.01..40.95 (VRRPv3)');
      } else {
        if (Math.abs(cs / 100 - v) > 1e-9) {
          c.warn(s.advertInt.at, 'ADVERT_INT_ROUNDED', `advert_int ${v} in ${owner} is rounded to ${cs / 100} s: VRRPv3 adverts carry centiseconds`, 'a multiple of 0.01 s');
        }
        advertIntervalMs = cs * 10;
      }
    }
  }
  return advertIntervalMs;
}

export interface Election {
  readonly priority: number;
  readonly initialState: 'MASTER' | 'BACKUP';
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
}

/** Priority and state with keepalived's defaults, and whether (and after how long) the instance preempts. */
export function election(c: InstanceCheck): Election {
  const { s, owner, terms } = c;
  let priority = s.priority?.value ?? 100;
  if (!s.priority && s.state?.value === 'MASTER') {
    priority = 255;
    c.warn(s.state.at, 'PRIORITY_DEFAULT',
      `${owner} has state MASTER and no priority, so its priority is 255: it claims to own the addresses and takes over at once, like keepalived`,
      'an explicit priority (e.g. 150), or 255 if this node really owns the addresses');
  }
  let initialState = s.state?.value ?? (priority === 255 ? 'MASTER' : 'BACKUP');
  if (initialState === 'MASTER' && s.authPass && s.authType?.value === 'AH') {
    c.warn(s.state?.at ?? s.authType.at, 'AH_INITIAL_STATE',
      `${owner}: state MASTER does not go with auth_type AH; it starts as BACKUP, as keepalived does ("Initial state master is incompatible with AH authentication - clearing")`,
      'state BACKUP (with AH a node first listens to the sequence numbers in use)');
    initialState = 'BACKUP';
  }
  let preempt = true;
  if (s.nopreempt?.value) {
    if (initialState !== 'BACKUP') {
      c.warn(s.nopreempt.at, 'NOPREEMPT_IGNORED', `${terms.nopreempt} in ${owner} is ignored because the state is MASTER (keepalived ignores it too)`,
        'state BACKUP on every node that should not preempt');
    } else if (priority === 255) {
      c.warn(s.nopreempt.at, 'NOPREEMPT_IGNORED', `${terms.nopreempt} in ${owner} is ignored: an address owner (priority 255) always preempts`,
        'a priority below 255');
    } else {
      preempt = false;
    }
  }
  let preemptDelayMs = ms(s.preemptDelay?.value ?? 0);
  if (!preempt && s.preemptDelay && preemptDelayMs > 0) {
    c.warn(s.preemptDelay.at, 'NOT_USED', `${terms.preemptDelay} in ${owner} is ignored with ${terms.nopreempt} (as in keepalived): a backup that does not preempt has nothing to delay`,
      `no ${terms.preemptDelay}`);
    preemptDelayMs = 0;
  }
  return { priority, initialState, preempt, preemptDelayMs };
}

/** Authentication: VRRPv2 PASS or AH, a password of 8 bytes at most. */
export function checkAuth(c: InstanceCheck, version: 2 | 3): void {
  const { s, owner, terms } = c;
  if (s.authType && !s.authPass) {
    c.e(s.authType.at, 'MISSING_ARGUMENT', `${owner}: auth_type ${s.authType.value} without a password`, `${terms.authPass} SECRET`);
    return;
  }
  if (!s.authPass) return;
  if (version === 3) {
    c.e(s.authPass.at, 'NOT_SUPPORTED', `${owner}: VRRPv3 has no authentication (RFC 5798)`, `no ${terms.authPass}, or version 2`);
  } else if (new TextEncoder().encode(s.authPass.value).length > 8) {
    c.warn(s.authPass.at, 'PASSWORD_TRUNCATED', `auth_pass in ${owner} is longer than 8 bytes; only '${truncate8(s.authPass.value)}' is sent and compared (as in keepalived)`,
      'at most 8 bytes');
  }
  if (s.authPass.value === '') c.e(s.authPass.at, 'INVALID_VALUE', `auth_pass in ${owner} is empty`, 'a password of 1..8 bytes');
}

/** Strict RFC mode: what keepalived's vrrp_strict enforces that carpool can check here. Returns whether it is on. */
export function checkStrict(c: InstanceCheck, family: 4 | 6): boolean {
  const { s, d, owner, terms } = c;
  const strict = s.strict?.value ?? d.strict?.value ?? false;
  const strictAt = s.strict?.at ?? d.strict?.at;
  if (strict && strictAt) {
    if (s.authPass) c.e(s.authPass.at, 'STRICT_MODE', `${owner}: ${terms.strict} forbids authentication (RFC 3768 removed it)`, `no ${terms.authPass}, or no ${terms.strict}`);
    if (s.unicastPeers.length > 0) c.e(s.unicastPeers[0]!.at, 'STRICT_MODE', `${owner}: ${terms.strict} forbids unicast peers`, `no ${terms.unicastPeers}, or no ${terms.strict}`);
    if (s.preemptDelay && s.preemptDelay.value > 0) c.e(s.preemptDelay.at, 'STRICT_MODE', `${owner}: ${terms.strict} forbids ${terms.preemptDelay}`, `no ${terms.preemptDelay}, or no ${terms.strict}`);
    const first = s.addresses[0];
    if (family === 6 && first) {
      const bytes = parseIP(first.value.address)?.bytes;
      if (bytes && !isIPv6LinkLocal(bytes)) {
        c.e(first.at, 'STRICT_MODE', `${owner}: with ${terms.strict} the first IPv6 virtual address must be link-local (RFC 5798 §5.2.9)`, 'an fe80::/10 address first');
      }
    }
  }
  return strict;
}

/**
 * An instance without virtual addresses, where the front end allows it: keepalived runs it with
 * "(VI_1) No VIP specified; at least one is sensible", but refuses it for VRRPv3 and in strict
 * mode ("at least one is required"; `no_virtual_ipaddress` is cleared by strict mode).
 */
export function checkNoAddresses(c: InstanceCheck, version: 2 | 3, strict: boolean): void {
  const { s, owner, terms } = c;
  if (s.addresses.length > 0 || !s.noAddresses) return;
  if (version === 3 || strict) {
    c.e(s.noAddresses.at, 'MISSING_KEY',
      `${owner} has no virtual addresses; ${strict ? `with ${terms.strict}` : 'with VRRPv3'} at least one is required (keepalived: "No VIP specified; at least one is required")`,
      `${terms.addresses} with at least one address`);
  } else if (s.noAddresses.value === 'warn') {
    c.warn(s.noAddresses.at, 'NO_ADDRESSES',
      `${owner} has no virtual addresses: it only elects and runs its notify scripts (keepalived: "No VIP specified; at least one is sensible")`,
      `${terms.addresses} with an address, or no_virtual_ipaddress for a notify-only instance`);
  }
}

/** The multicast group: the instance's, else the default's for the family. */
export function mcastGroup(c: InstanceCheck, family: 4 | 6): string {
  const { s, d, owner } = c;
  const group = s.mcastGroup?.value ?? (family === 6 ? d.mcastGroup6?.value ?? VRRP_MCAST6 : d.mcastGroup4?.value ?? VRRP_MCAST4);
  if (s.mcastGroup && parseIP(s.mcastGroup.value)?.family !== family) {
    c.e(s.mcastGroup.at, 'FAMILY_MISMATCH', `${owner}: multicast group ${s.mcastGroup.value} is not IPv${family}`, `an IPv${family} multicast address`);
  }
  return group;
}

export interface Tracking {
  readonly trackScripts: TrackRef[];
  readonly trackFiles: TrackRef[];
  readonly trackInterfaces: TrackRef[];
  readonly trackProcesses: TrackRef[];
}

/** The instance's trackers; in a sync group without tracking weights, their weights are read as 0. */
export function tracking(c: InstanceCheck, trackers: Trackers, group: SyncGroupSpec | undefined): Tracking {
  const { s, owner } = c;
  let trackScripts = trackers.refs(s.trackScripts, 'script', owner);
  let trackFiles = trackers.refs(s.trackFiles, 'file', owner);
  let trackProcesses = trackers.refs(s.trackProcesses ?? [], 'process', owner);
  let trackInterfaces = trackers.refs(s.trackInterfaces.filter((r) => {
    if (r.value.name !== s.interface?.value) return true;
    // keepalived: "Ignoring track_interface X since own interface" — its own link is tracked anyway.
    c.warn(r.at, 'NOT_USED', `${owner} tracks its own interface ${r.value.name}; that entry is ignored (the instance's interface is tracked anyway, as in keepalived)`,
      'other interfaces only');
    return false;
  }), 'interface', owner);
  if (group && !group.trackingWeight?.value) {
    // keepalived: in a sync group, member trackers must have weight 0 unless the group sets
    // sync_group_tracking_weight; others are read as 0 (a failure faults the whole group).
    const zero = (refs: TrackRef[], specs: readonly At<TrackRefSpec>[], kind: string) => refs.map((r) => {
      if (r.weight === 0) return r;
      const at = specs.find((x) => x.value.name === r.name)?.at ?? s.name.at;
      c.warn(at, 'SYNC_GROUP', `${owner} is in vrrp_sync_group '${group.name.value}': the weight ${r.weight} of ${kind} '${r.name}' is ignored (read as 0: a failure faults the group), as in keepalived`,
        'weight 0, or sync_group_tracking_weight in the sync group');
      return { ...r, weight: 0 };
    });
    trackScripts = zero(trackScripts, s.trackScripts, 'script');
    trackFiles = zero(trackFiles, s.trackFiles, 'file');
    trackInterfaces = zero(trackInterfaces, s.trackInterfaces, 'interface');
    trackProcesses = zero(trackProcesses, s.trackProcesses ?? [], 'process');
  }
  return { trackScripts, trackFiles, trackInterfaces, trackProcesses };
}

/** The VMAC interface name (`vrrp.VRID`, `vrrp6.VRID` or the one given), or undefined without use_vmac. */
export function vmacName(c: InstanceCheck, family: 4 | 6): string | undefined {
  const { s, owner } = c;
  const name = s.vmac ? (s.vmac.value === true ? `vrrp${family === 6 ? '6' : ''}.${s.vrid?.value ?? 0}` : s.vmac.value) : undefined;
  if (s.vmac && name && (name.length > 15 || /[\s/]/.test(name))) {
    c.e(s.vmac.at, 'INVALID_VALUE', `use_vmac in ${owner}: '${name}' is not a valid interface name`, '1..15 characters without / or blanks');
  }
  return name;
}

function truncate8(text: string): string {
  const bytes = new TextEncoder().encode(text).slice(0, 8);
  return new TextDecoder().decode(bytes);
}
