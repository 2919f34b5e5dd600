/**
 * VRRP configuration semantics shared by the two front ends (keepalived.conf and carpool YAML):
 * each reads its syntax into located specs, this applies keepalived's defaults and checks what
 * only makes sense across fields, instances, scripts and sync groups. Pure.
 *
 * Defaults are keepalived's (notes §2/§3): v2 for IPv4, v3 for IPv6; advert_int 1 s (v2 rounded
 * to whole seconds, v3 to 10 ms); priority 255 with `state MASTER` and no priority (kept for
 * compatibility, with a warning), else 100; state MASTER iff priority 255 when omitted; GARP 5 + 5
 * after 5 s; down_timer_adverts 3. One deliberate difference: `garp_lower_prio_repeat` defaults
 * to 1 (keepalived: 0), so a master that hears a lower-priority advert after a split brain also
 * refreshes the ARP caches (keepalived #166, #2459).
 */
import { isIPv6LinkLocal, parseIP } from '../protocol/inet.js';
import type { ConfigDiagnosticCode } from './diagnostics.js';
import type { SourceLoc } from './diagnostics.js';
import {
  VRRP_MCAST4, VRRP_MCAST6, type GarpSettings, type Hook, type NotifyHooks, type SyncGroup, type TrackFile, type TrackRef,
  type VirtualAddress, type VirtualRoute, type VrrpInstance, type VrrpScript,
} from './model.js';

/** A value and where it was written. */
export interface At<T> {
  readonly value: T;
  readonly at: SourceLoc;
}

export interface GarpSpec {
  /** Seconds. */
  masterDelay?: At<number>;
  masterRepeat?: At<number>;
  /** Seconds. */
  masterRefresh?: At<number>;
  masterRefreshRepeat?: At<number>;
  lowerPrioRepeat?: At<number>;
  /** Seconds. */
  lowerPrioDelay?: At<number>;
  /** Seconds between packets: gratuitous ARP (IPv4) — and unsolicited NA unless `gnaInterval`. */
  interval?: At<number>;
  /** Seconds between unsolicited NAs (keepalived `vrrp_gna_interval`, global only). */
  gnaInterval?: At<number>;
  /** keepalived `vrrp_min_garp`: one GARP, no second burst. */
  minGarp?: At<boolean>;
}

/** keepalived `global_defs` VRRP defaults / YAML `vrrp_defaults`. */
export interface VrrpDefaultsSpec {
  version?: At<2 | 3>;
  mcastGroup4?: At<string>;
  mcastGroup6?: At<string>;
  garp: GarpSpec;
  v3ChecksumAsV2?: At<boolean>;
  strict?: At<boolean>;
  lowerPrioNoAdvert?: At<boolean>;
  higherPrioSendAdvert?: At<boolean>;
  downTimerAdverts?: At<number>;
}

export interface TrackRefSpec {
  readonly name: string;
  /** Undefined: the tracker's own default (vrrp_script / track_file weight; 0 for interfaces). */
  readonly weight?: number;
  readonly reverse?: boolean;
}

export interface NotifySpec {
  master?: At<Hook>;
  backup?: At<Hook>;
  fault?: At<Hook>;
  stop?: At<Hook>;
  generic?: At<Hook>;
}

export interface VrrpInstanceSpec {
  readonly name: At<string>;
  state?: At<'MASTER' | 'BACKUP'>;
  interface?: At<string>;
  vrid?: At<number>;
  priority?: At<number>;
  /** Seconds, as written. */
  advertInt?: At<number>;
  version?: At<number>;
  nopreempt?: At<boolean>;
  /** Seconds. */
  preemptDelay?: At<number>;
  srcip?: At<string>;
  mcastGroup?: At<string>;
  unicastPeers: At<string>[];
  v3ChecksumAsV2?: At<boolean>;
  authPass?: At<string>;
  addresses: At<VirtualAddress>[];
  excludedAddresses: At<VirtualAddress>[];
  routes: At<VirtualRoute>[];
  trackInterfaces: At<TrackRefSpec>[];
  trackScripts: At<TrackRefSpec>[];
  trackFiles: At<TrackRefSpec>[];
  trackPrimary?: At<boolean>;
  notify: NotifySpec;
  garp: GarpSpec;
  /** true = default name. */
  vmac?: At<string | true>;
  lowerPrioNoAdvert?: At<boolean>;
  higherPrioSendAdvert?: At<boolean>;
  downTimerAdverts?: At<number>;
  strict?: At<boolean>;
}

export interface VrrpScriptSpec {
  readonly name: At<string>;
  script?: At<Hook>;
  /** The script was given but is invalid (already reported): no "has no script" error. */
  scriptInvalid?: boolean;
  /** Seconds. */
  interval?: At<number>;
  timeout?: At<number>;
  weight?: At<number>;
  reverse?: At<boolean>;
  rise?: At<number>;
  fall?: At<number>;
  initFail?: At<boolean>;
}

export interface TrackFileSpec {
  readonly name: At<string>;
  path?: At<string>;
  weight?: At<number>;
  reverse?: At<boolean>;
  initValue?: At<number>;
  initOverwrite?: At<boolean>;
}

export interface SyncGroupSpec {
  readonly name: At<string>;
  members: At<string>[];
  notify: NotifySpec;
  trackInterfaces: At<TrackRefSpec>[];
  trackScripts: At<TrackRefSpec>[];
  trackFiles: At<TrackRefSpec>[];
  /** keepalived `sync_group_tracking_weight`: member trackers keep their weights. */
  trackingWeight?: At<boolean>;
}

export interface VrrpSpec {
  readonly defaults: VrrpDefaultsSpec;
  readonly instances: readonly VrrpInstanceSpec[];
  readonly scripts: readonly VrrpScriptSpec[];
  readonly trackFiles: readonly TrackFileSpec[];
  readonly syncGroups: readonly SyncGroupSpec[];
}

/** How a front end names the fields in messages (keepalived keywords or YAML keys). */
export interface Terms {
  readonly nopreempt: string;
  readonly preemptDelay: string;
  readonly addresses: string;
  readonly unicastPeers: string;
  readonly authPass: string;
  readonly trackScript: string;
  readonly trackFile: string;
  readonly members: string;
  readonly srcip: string;
  readonly strict: string;
}

export const KEEPALIVED_TERMS: Terms = {
  nopreempt: 'nopreempt', preemptDelay: 'preempt_delay', addresses: 'virtual_ipaddress', unicastPeers: 'unicast_peer',
  authPass: 'authentication', trackScript: 'track_script', trackFile: 'track_file', members: 'group', srcip: 'mcast_src_ip',
  strict: 'vrrp_strict',
};

export type Report = (severity: 'error' | 'warning', code: ConfigDiagnosticCode, at: SourceLoc, message: string, expected: string) => void;

export interface VrrpBuilt {
  readonly instances: VrrpInstance[];
  readonly vrrpScripts: VrrpScript[];
  readonly trackFiles: TrackFile[];
  readonly syncGroups: SyncGroup[];
}

const ms = (seconds: number): number => Math.round(seconds * 1000);

/**
 * Build the model. Reports every problem; the result is complete only when no error was reported
 * (the caller counts them).
 */
export function buildVrrp(spec: VrrpSpec, terms: Terms, report: Report): VrrpBuilt {
  const err = (at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string) => report('error', code, at, message, expected);
  const warn = (at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string) => report('warning', code, at, message, expected);
  const inRange = (v: At<number> | undefined, what: string, min: number, max: number, integer = true): boolean => {
    if (!v) return true;
    if ((integer && !Number.isInteger(v.value)) || v.value < min || v.value > max || Number.isNaN(v.value)) {
      err(v.at, 'OUT_OF_RANGE', `${what}: got ${v.value}`, `${integer ? 'an integer' : 'a number'} ${min}..${max}`);
      return false;
    }
    return true;
  };
  const d = spec.defaults;
  inRange(d.downTimerAdverts, 'vrrp_down_timer_adverts', 1, 100);

  // Scripts and track files first: instances resolve their default weights.
  const scripts = new Map<string, VrrpScript>();
  const scriptNames = new Set<string>();
  for (const s of spec.scripts) {
    if (scriptNames.has(s.name.value)) {
      err(s.name.at, 'DUPLICATE_NAME', `vrrp_script '${s.name.value}' is defined twice`, 'a unique name per script');
      continue;
    }
    scriptNames.add(s.name.value);
    const ok = [inRange(s.interval, `interval of vrrp_script '${s.name.value}'`, 0.001, 86400, false),
      inRange(s.timeout, `timeout of vrrp_script '${s.name.value}'`, 0.001, 86400, false),
      inRange(s.weight, `weight of vrrp_script '${s.name.value}'`, -253, 253),
      inRange(s.rise, `rise of vrrp_script '${s.name.value}'`, 1, 1_000_000),
      inRange(s.fall, `fall of vrrp_script '${s.name.value}'`, 1, 1_000_000)].every(Boolean);
    if (!s.script) {
      if (!s.scriptInvalid) err(s.name.at, 'MISSING_KEY', `vrrp_script '${s.name.value}' has no script`, 'script "/path/to/check args"');
      continue;
    }
    if (!ok) continue;
    const intervalMs = ms(s.interval?.value ?? 1);
    scripts.set(s.name.value, {
      name: s.name.value, hook: s.script.value, intervalMs, timeoutMs: s.timeout ? ms(s.timeout.value) : intervalMs,
      weight: s.weight?.value ?? 0, reverse: s.reverse?.value ?? false, rise: s.rise?.value ?? 1, fall: s.fall?.value ?? 1,
      initFail: s.initFail?.value ?? false,
    });
  }
  const files = new Map<string, TrackFile>();
  const fileNames = new Set<string>();
  for (const f of spec.trackFiles) {
    if (fileNames.has(f.name.value)) {
      err(f.name.at, 'DUPLICATE_NAME', `track_file '${f.name.value}' is defined twice`, 'a unique name per track file');
      continue;
    }
    fileNames.add(f.name.value);
    const ok = inRange(f.weight, `weight of track_file '${f.name.value}'`, -254, 254);
    if (!f.path) {
      err(f.name.at, 'MISSING_KEY', `track_file '${f.name.value}' has no file`, 'file "/path/to/file"');
      continue;
    }
    if (!f.path.value.startsWith('/')) {
      err(f.path.at, 'INVALID_VALUE', `file of track_file '${f.name.value}': '${f.path.value}' is not an absolute path`, 'an absolute path');
      continue;
    }
    if (!ok) continue;
    files.set(f.name.value, {
      name: f.name.value, path: f.path.value, weight: f.weight?.value ?? 1, reverse: f.reverse?.value ?? false,
      ...(f.initValue ? { initValue: f.initValue.value } : {}), initOverwrite: f.initOverwrite?.value ?? false,
    });
  }

  const trackRefs = (refs: readonly At<TrackRefSpec>[], kind: 'interface' | 'script' | 'file', owner: string): TrackRef[] => {
    const out: TrackRef[] = [];
    const seen = new Set<string>();
    for (const r of refs) {
      const { name } = r.value;
      if (seen.has(name)) {
        warn(r.at, 'DUPLICATE_NAME', `${owner} tracks ${kind} '${name}' twice; the first one counts`, 'each tracker once');
        continue;
      }
      seen.add(name);
      let weight = r.value.weight;
      let reverse = r.value.reverse;
      const limit = kind === 'file' ? 254 : 253;
      if (weight !== undefined && (!Number.isInteger(weight) || Math.abs(weight) > limit)) {
        err(r.at, 'OUT_OF_RANGE', `weight of ${kind} '${name}' in ${owner}: got ${weight}`, `an integer -${limit}..${limit}`);
        continue;
      }
      if (kind === 'script') {
        const s = scripts.get(name);
        if (!s) {
          if (!scriptNames.has(name)) {
            err(r.at, 'UNDEFINED_REFERENCE', `${owner} tracks script '${name}', which is not defined`,
              `a vrrp_script defined in the configuration${suggestName(name, [...scriptNames])}`);
          }
          continue;
        }
        weight ??= s.weight;
        reverse ??= s.reverse;
      } else if (kind === 'file') {
        const f = files.get(name);
        if (!f) {
          if (!fileNames.has(name)) {
            err(r.at, 'UNDEFINED_REFERENCE', `${owner} tracks file '${name}', which is not defined`,
              `a track_file defined in the configuration${suggestName(name, [...fileNames])}`);
          }
          continue;
        }
        weight ??= f.weight;
        reverse ??= f.reverse;
      }
      out.push({ name, weight: weight ?? 0, reverse: reverse ?? false });
    }
    return out;
  };

  // Sync group membership first: it changes how member trackers are read.
  const memberOf = new Map<string, SyncGroupSpec>();
  const instanceNames = new Set(spec.instances.map((i) => i.name.value));
  const groupNames = new Set<string>();
  for (const g of spec.syncGroups) {
    if (groupNames.has(g.name.value)) {
      err(g.name.at, 'DUPLICATE_NAME', `vrrp_sync_group '${g.name.value}' is defined twice`, 'a unique name per sync group');
      continue;
    }
    groupNames.add(g.name.value);
    if (g.members.length === 0) err(g.name.at, 'MISSING_KEY', `vrrp_sync_group '${g.name.value}' has no members`, `${terms.members} { INSTANCE ... }`);
    for (const m of g.members) {
      if (!instanceNames.has(m.value)) {
        err(m.at, 'UNDEFINED_REFERENCE', `vrrp_sync_group '${g.name.value}' lists '${m.value}', which is not a vrrp_instance`,
          `the name of a vrrp_instance${suggestName(m.value, [...instanceNames])}`);
        continue;
      }
      const prev = memberOf.get(m.value);
      if (prev) {
        err(m.at, 'SYNC_GROUP', `'${m.value}' is already a member of vrrp_sync_group '${prev.name.value}'`, 'each instance in one sync group at most');
        continue;
      }
      memberOf.set(m.value, g);
    }
    if (g.members.length === 1) {
      warn(g.name.at, 'SYNC_GROUP', `vrrp_sync_group '${g.name.value}' has a single member; it synchronises nothing`, 'two or more instances');
    }
  }

  const instances: VrrpInstance[] = [];
  const seenNames = new Map<string, SourceLoc>();
  const vrids = new Map<string, { name: string; at: SourceLoc }>();
  const vips = new Map<string, { name: string; at: SourceLoc }>();
  for (const s of spec.instances) {
    const name = s.name.value;
    const owner = `vrrp_instance '${name}'`;
    const prevName = seenNames.get(name);
    if (prevName) {
      err(s.name.at, 'DUPLICATE_NAME', `vrrp_instance '${name}' is defined twice (first at ${prevName.file}:${prevName.line})`, 'a unique name per instance');
      continue;
    }
    seenNames.set(name, s.name.at);
    const before = { errors: 0 };
    const e = (at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string) => { before.errors++; err(at, code, message, expected); };
    const range = (v: At<number> | undefined, what: string, min: number, max: number, integer = true) => {
      if (!inRange(v, `${what} in ${owner}`, min, max, integer)) before.errors++;
    };

    if (!s.interface) e(s.name.at, 'MISSING_KEY', `${owner} has no interface`, 'interface eth0');
    if (!s.vrid) e(s.name.at, 'MISSING_KEY', `${owner} has no virtual_router_id`, 'virtual_router_id 1..255, the same on every node of the router');
    range(s.vrid, 'virtual_router_id', 1, 255);
    range(s.priority, 'priority', 1, 255);
    range(s.preemptDelay, terms.preemptDelay, 0, 1000, false);
    range(s.downTimerAdverts, 'down_timer_adverts', 1, 100);

    // Address family: from the virtual addresses (all one family), else the source or peers.
    const family = s.addresses[0]?.value.family ?? (s.srcip ? parseIP(s.srcip.value)?.family : undefined)
      ?? (s.unicastPeers[0] ? parseIP(s.unicastPeers[0].value)?.family : undefined) ?? 4;
    if (s.addresses.length === 0) {
      e(s.name.at, 'MISSING_KEY', `${owner} has no virtual addresses`, `${terms.addresses} with at least one address`);
    }
    for (const a of s.addresses) {
      if (a.value.family !== family) {
        e(a.at, 'FAMILY_MISMATCH', `${owner}: ${a.value.address} is IPv${a.value.family} but the first virtual address is IPv${family}`,
          `all ${terms.addresses} of one family (put the others in an instance of their own, or in the excluded addresses)`);
      }
    }
    if (s.addresses.length > 255) {
      e(s.addresses[255]!.at, 'OUT_OF_RANGE', `${owner} has ${s.addresses.length} virtual addresses; an advert carries at most 255`,
        'at most 255 (put the others in the excluded addresses)');
    }
    for (const p of [...(s.srcip ? [s.srcip] : []), ...s.unicastPeers]) {
      if (parseIP(p.value)?.family !== family) {
        e(p.at, 'FAMILY_MISMATCH', `${owner}: ${p.value} is not an IPv${family} address like the virtual addresses`, `an IPv${family} address`);
      }
    }

    const strict = s.strict?.value ?? d.strict?.value ?? false;
    const strictAt = s.strict?.at ?? d.strict?.at;
    let version: 2 | 3 = family === 6 ? 3 : d.version?.value ?? 2;
    if (s.version) {
      if (s.version.value !== 2 && s.version.value !== 3) e(s.version.at, 'OUT_OF_RANGE', `version in ${owner}: got ${s.version.value}`, '2 or 3');
      else version = s.version.value;
    }
    if (version === 2 && family === 6) {
      e(s.version?.at ?? s.name.at, 'NOT_SUPPORTED', `${owner}: VRRPv2 carries IPv4 addresses only (RFC 3768); keepalived's non-standard v2 over IPv6 is not supported`,
        'version 3 for IPv6 (the default)');
    }

    // Advert interval (keepalived: parsed 0.01..255 s; v2 whole seconds, v3 centiseconds).
    let advertIntervalMs = 1000;
    if (s.advertInt) {
      const v = s.advertInt.value;
      if (!(v >= 0.01 && v <= 255)) {
        e(s.advertInt.at, 'OUT_OF_RANGE', `advert_int in ${owner}: got ${v}`, version === 2 ? 'whole seconds 1..255 (VRRPv2)' : 'seconds 0.01..40.95 (VRRPv3)');
      } else if (version === 2) {
        const rounded = Math.min(255, Math.max(1, Math.round(v)));
        if (rounded !== v) {
          warn(s.advertInt.at, 'ADVERT_INT_ROUNDED', `advert_int ${v} in ${owner} is rounded to ${rounded} s: VRRPv2 adverts carry whole seconds (keepalived rounds silently, #1615)`,
            'whole seconds, or version 3 for sub-second intervals');
        }
        advertIntervalMs = rounded * 1000;
      } else {
        const cs = Math.round(v * 100);
        if (cs > 4095) {
          e(s.advertInt.at, 'OUT_OF_RANGE', `advert_int in ${owner}: got ${v}; VRRPv3 carries at most 40.95 s`, 'seconds 0.01..40.95 (VRRPv3)');
        } else {
          if (Math.abs(cs / 100 - v) > 1e-9) {
            warn(s.advertInt.at, 'ADVERT_INT_ROUNDED', `advert_int ${v} in ${owner} is rounded to ${cs / 100} s: VRRPv3 adverts carry centiseconds`, 'a multiple of 0.01 s');
          }
          advertIntervalMs = cs * 10;
        }
      }
    }

    // Priority and state, with keepalived's defaults.
    let priority = s.priority?.value ?? 100;
    if (!s.priority && s.state?.value === 'MASTER') {
      priority = 255;
      warn(s.state.at, 'PRIORITY_DEFAULT',
        `${owner} has state MASTER and no priority, so its priority is 255: it claims to own the addresses and takes over at once, like keepalived`,
        'an explicit priority (e.g. 150), or 255 if this node really owns the addresses');
    }
    const initialState = s.state?.value ?? (priority === 255 ? 'MASTER' : 'BACKUP');
    let preempt = true;
    if (s.nopreempt?.value) {
      if (initialState !== 'BACKUP') {
        warn(s.nopreempt.at, 'NOPREEMPT_IGNORED', `${terms.nopreempt} in ${owner} is ignored because the state is MASTER (keepalived ignores it too)`,
          'state BACKUP on every node that should not preempt');
      } else if (priority === 255) {
        warn(s.nopreempt.at, 'NOPREEMPT_IGNORED', `${terms.nopreempt} in ${owner} is ignored: an address owner (priority 255) always preempts`,
          'a priority below 255');
      } else {
        preempt = false;
      }
    }
    let preemptDelayMs = ms(s.preemptDelay?.value ?? 0);
    if (!preempt && s.preemptDelay && preemptDelayMs > 0) {
      warn(s.preemptDelay.at, 'NOT_USED', `${terms.preemptDelay} in ${owner} is ignored with ${terms.nopreempt} (as in keepalived): a backup that does not preempt has nothing to delay`,
        `no ${terms.preemptDelay}`);
      preemptDelayMs = 0;
    }

    // Authentication: v2 PASS only.
    if (s.authPass) {
      if (version === 3) {
        e(s.authPass.at, 'NOT_SUPPORTED', `${owner}: VRRPv3 has no authentication (RFC 5798)`, `no ${terms.authPass}, or version 2`);
      } else if (new TextEncoder().encode(s.authPass.value).length > 8) {
        warn(s.authPass.at, 'PASSWORD_TRUNCATED', `auth_pass in ${owner} is longer than 8 bytes; only '${truncate8(s.authPass.value)}' is sent and compared (as in keepalived)`,
          'at most 8 bytes');
      }
      if (s.authPass.value === '') e(s.authPass.at, 'INVALID_VALUE', `auth_pass in ${owner} is empty`, 'a password of 1..8 bytes');
    }

    // Strict RFC mode: what keepalived's vrrp_strict enforces that carpool can check here.
    if (strict && strictAt) {
      if (s.authPass) e(s.authPass.at, 'STRICT_MODE', `${owner}: ${terms.strict} forbids authentication (RFC 3768 removed it)`, `no ${terms.authPass}, or no ${terms.strict}`);
      if (s.unicastPeers.length > 0) e(s.unicastPeers[0]!.at, 'STRICT_MODE', `${owner}: ${terms.strict} forbids unicast peers`, `no ${terms.unicastPeers}, or no ${terms.strict}`);
      if (s.preemptDelay && s.preemptDelay.value > 0) e(s.preemptDelay.at, 'STRICT_MODE', `${owner}: ${terms.strict} forbids ${terms.preemptDelay}`, `no ${terms.preemptDelay}, or no ${terms.strict}`);
      const first = s.addresses[0];
      if (family === 6 && first) {
        const bytes = parseIP(first.value.address)?.bytes;
        if (bytes && !isIPv6LinkLocal(bytes)) {
          e(first.at, 'STRICT_MODE', `${owner}: with ${terms.strict} the first IPv6 virtual address must be link-local (RFC 5798 §5.2.9)`, 'an fe80::/10 address first');
        }
      }
    }

    const mcastGroup = s.mcastGroup?.value ?? (family === 6 ? d.mcastGroup6?.value ?? VRRP_MCAST6 : d.mcastGroup4?.value ?? VRRP_MCAST4);
    if (s.mcastGroup && parseIP(s.mcastGroup.value)?.family !== family) {
      e(s.mcastGroup.at, 'FAMILY_MISMATCH', `${owner}: multicast group ${s.mcastGroup.value} is not IPv${family}`, `an IPv${family} multicast address`);
    }

    const garp = buildGarp(s.garp, d.garp, family, owner, range, e);
    const group = memberOf.get(name);
    let trackScripts = trackRefs(s.trackScripts, 'script', owner);
    let trackFiles = trackRefs(s.trackFiles, 'file', owner);
    let trackInterfaces = trackRefs(s.trackInterfaces.filter((r) => {
      if (r.value.name !== s.interface?.value) return true;
      // keepalived: "Ignoring track_interface X since own interface" — its own link is tracked anyway.
      warn(r.at, 'NOT_USED', `${owner} tracks its own interface ${r.value.name}; that entry is ignored (the instance's interface is tracked anyway, as in keepalived)`,
        'other interfaces only');
      return false;
    }), 'interface', owner);
    if (group && !group.trackingWeight?.value) {
      // keepalived: in a sync group, member trackers must have weight 0 unless the group sets
      // sync_group_tracking_weight; others are read as 0 (a failure faults the whole group).
      const zero = (refs: TrackRef[], specs: readonly At<TrackRefSpec>[], kind: string) => refs.map((r) => {
        if (r.weight === 0) return r;
        const at = specs.find((x) => x.value.name === r.name)?.at ?? s.name.at;
        warn(at, 'SYNC_GROUP', `${owner} is in vrrp_sync_group '${group.name.value}': the weight ${r.weight} of ${kind} '${r.name}' is ignored (read as 0: a failure faults the group), as in keepalived`,
          'weight 0, or sync_group_tracking_weight in the sync group');
        return { ...r, weight: 0 };
      });
      trackScripts = zero(trackScripts, s.trackScripts, 'script');
      trackFiles = zero(trackFiles, s.trackFiles, 'file');
      trackInterfaces = zero(trackInterfaces, s.trackInterfaces, 'interface');
    }

    const vmacName = s.vmac ? (s.vmac.value === true ? `vrrp${family === 6 ? '6' : ''}.${s.vrid?.value ?? 0}` : s.vmac.value) : undefined;
    if (s.vmac && vmacName && (vmacName.length > 15 || /[\s/]/.test(vmacName))) {
      e(s.vmac.at, 'INVALID_VALUE', `use_vmac in ${owner}: '${vmacName}' is not a valid interface name`, '1..15 characters without / or blanks');
    }

    // Cross-instance: (interface, family, vrid) identifies a virtual router on the wire.
    if (s.interface && s.vrid) {
      const key = `${s.interface.value}\0${family}\0${s.vrid.value}`;
      const prev = vrids.get(key);
      if (prev) {
        e(s.vrid.at, 'DUPLICATE_VHID', `${owner} uses virtual_router_id ${s.vrid.value} on ${s.interface.value} (IPv${family}), like vrrp_instance '${prev.name}' (${prev.at.file}:${prev.at.line})`,
          `a virtual_router_id not used by another instance on ${s.interface.value}`);
      } else vrids.set(key, { name, at: s.vrid.at });
    }
    for (const a of [...s.addresses, ...s.excludedAddresses]) {
      const prev = vips.get(a.value.address);
      if (prev && prev.name !== name) {
        warn(a.at, 'DUPLICATE_ADDRESS', `${a.value.address} is a virtual address of ${owner} and of vrrp_instance '${prev.name}' (${prev.at.file}:${prev.at.line})`,
          'each virtual address in one instance only');
      } else if (prev) {
        e(a.at, 'DUPLICATE_ADDRESS', `${a.value.address} is listed twice in ${owner} (first at ${prev.at.file}:${prev.at.line})`, 'each address once');
      } else vips.set(a.value.address, { name, at: a.at });
    }

    if (before.errors > 0 || !s.interface || !s.vrid || !garp) continue;
    instances.push({
      kind: 'vrrp',
      name,
      interface: s.interface.value,
      family,
      version,
      vrid: s.vrid.value,
      priority,
      advertIntervalMs,
      initialState,
      preempt,
      preemptDelayMs,
      ...(s.authPass && version === 2 ? { authPass: s.authPass.value } : {}),
      ...(s.srcip ? { srcip: s.srcip.value } : {}),
      mcastGroup,
      unicastPeers: s.unicastPeers.map((p) => p.value),
      v3ChecksumAsV2: s.v3ChecksumAsV2?.value ?? d.v3ChecksumAsV2?.value ?? false,
      addresses: s.addresses.map((a) => a.value),
      excludedAddresses: s.excludedAddresses.map((a) => a.value),
      routes: s.routes.map((r) => r.value),
      trackInterfaces,
      trackScripts,
      trackFiles,
      trackPrimary: s.trackPrimary?.value ?? true,
      notify: notifyHooks(s.notify),
      garp,
      ...(vmacName ? { vmacInterface: vmacName } : {}),
      lowerPrioNoAdvert: s.lowerPrioNoAdvert?.value ?? d.lowerPrioNoAdvert?.value ?? strict,
      higherPrioSendAdvert: s.higherPrioSendAdvert?.value ?? d.higherPrioSendAdvert?.value ?? false,
      downTimerAdverts: s.downTimerAdverts?.value ?? d.downTimerAdverts?.value ?? 3,
      ...(group ? { syncGroup: group.name.value } : {}),
    });
  }

  const syncGroups: SyncGroup[] = [];
  for (const g of spec.syncGroups) {
    if (syncGroups.some((x) => x.name === g.name.value)) continue;
    const owner = `vrrp_sync_group '${g.name.value}'`;
    syncGroups.push({
      name: g.name.value,
      members: g.members.map((m) => m.value).filter((m, i, all) => instanceNames.has(m) && all.indexOf(m) === i),
      notify: notifyHooks(g.notify),
      trackInterfaces: trackRefs(g.trackInterfaces, 'interface', owner),
      trackScripts: trackRefs(g.trackScripts, 'script', owner),
      trackFiles: trackRefs(g.trackFiles, 'file', owner),
    });
  }
  return { instances, vrrpScripts: [...scripts.values()], trackFiles: [...files.values()], syncGroups };
}

function buildGarp(s: GarpSpec, d: GarpSpec, family: 4 | 6, owner: string,
  range: (v: At<number> | undefined, what: string, min: number, max: number, integer?: boolean) => void,
  e: (at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string) => void): GarpSettings | undefined {
  const pick = (k: keyof Omit<GarpSpec, 'minGarp'>) => s[k] ?? d[k];
  range(pick('masterDelay'), 'garp_master_delay', 0, 1000, false);
  range(pick('masterRepeat'), 'garp_master_repeat', 1, 255);
  range(pick('masterRefresh'), 'garp_master_refresh', 0, 86400, false);
  range(pick('masterRefreshRepeat'), 'garp_master_refresh_repeat', 1, 255);
  range(pick('lowerPrioRepeat'), 'garp_lower_prio_repeat', 0, 255);
  range(pick('lowerPrioDelay'), 'garp_lower_prio_delay', 0, 1000, false);
  range(pick('interval'), 'garp_interval', 0, 1000, false);
  range(d.gnaInterval, 'vrrp_gna_interval', 0, 1000, false);
  const min = d.minGarp?.value ?? false;
  const masterDelay = pick('masterDelay')?.value ?? (min ? 0 : 5);
  const masterRepeat = pick('masterRepeat')?.value ?? (min ? 1 : 5);
  const interval = (family === 6 && !s.interval ? d.gnaInterval ?? d.interval : pick('interval'))?.value ?? 0;
  if (masterRepeat < 1) {
    e(pick('masterRepeat')!.at, 'OUT_OF_RANGE', `garp_master_repeat in ${owner}: got ${masterRepeat}`, 'an integer 1..255');
    return undefined;
  }
  return {
    masterDelayMs: ms(masterDelay),
    masterRepeat,
    masterRefreshMs: ms(pick('masterRefresh')?.value ?? 0),
    masterRefreshRepeat: pick('masterRefreshRepeat')?.value ?? 1,
    lowerPrioRepeat: pick('lowerPrioRepeat')?.value ?? 1,
    lowerPrioDelayMs: ms(pick('lowerPrioDelay')?.value ?? masterDelay),
    intervalMs: ms(interval),
  };
}

function notifyHooks(n: NotifySpec): NotifyHooks {
  return {
    ...(n.master ? { master: n.master.value } : {}),
    ...(n.backup ? { backup: n.backup.value } : {}),
    ...(n.fault ? { fault: n.fault.value } : {}),
    ...(n.stop ? { stop: n.stop.value } : {}),
    ...(n.generic ? { generic: n.generic.value } : {}),
  };
}

function truncate8(text: string): string {
  const bytes = new TextEncoder().encode(text).slice(0, 8);
  return new TextDecoder().decode(bytes);
}

function suggestName(name: string, names: readonly string[]): string {
  const close = names.find((n) => n.toLowerCase() === name.toLowerCase());
  return close ? ` (did you mean '${close}'?)` : names.length > 0 ? ` (defined: ${names.slice(0, 8).join(', ')})` : '';
}
