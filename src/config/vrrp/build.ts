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
import type { SourceLoc } from '../diagnostics.js';
import type { VrrpInstance } from '../model.js';
import { Diag, InstanceCheck } from './check.js';
import { buildGarp, notifyHooks } from './notify.js';
import {
  addressFamily, advertInterval, checkAuth, checkNoAddresses, checkRequired, checkStrict, election, mcastGroup, tracking, vmacName, vrrpVersion,
} from './instance.js';
import { Trackers, buildSyncGroups, syncGroupMembership } from './trackers.js';
import type { Report, SyncGroupSpec, Terms, VrrpBuilt, VrrpDefaultsSpec, VrrpSpec } from './spec.js';

export type * from './spec.js';

/**
 * Build the model. Reports every problem; the result is complete only when no error was reported
 * (the caller counts them).
 */
export function buildVrrp(spec: VrrpSpec, terms: Terms, report: Report): VrrpBuilt {
  const diag = new Diag(report);
  const d = spec.defaults;
  diag.inRange(d.downTimerAdverts, 'vrrp_down_timer_adverts', 1, 100);

  // Scripts and track files first: instances resolve their default weights.
  const trackers = new Trackers(diag);
  trackers.addScripts(spec.scripts);
  trackers.addFiles(spec.trackFiles);
  trackers.addProcesses(spec.trackProcesses ?? []);

  // Sync group membership first: it changes how member trackers are read.
  const instanceNames = new Set(spec.instances.map((i) => i.name.value));
  const memberOf = syncGroupMembership(diag, spec.syncGroups, instanceNames, terms);

  const instances: VrrpInstance[] = [];
  const seenNames = new Map<string, SourceLoc>();
  const unique = new Uniqueness();
  for (const s of spec.instances) {
    const prevName = seenNames.get(s.name.value);
    if (prevName) {
      diag.err(s.name.at, 'DUPLICATE_NAME', `vrrp_instance '${s.name.value}' is defined twice (first at ${prevName.file}:${prevName.line})`, 'a unique name per instance');
      continue;
    }
    seenNames.set(s.name.value, s.name.at);
    const v = buildInstance(new InstanceCheck(diag, s, d, terms), d, trackers, memberOf.get(s.name.value), unique);
    if (v) instances.push(v);
  }

  const syncGroups = buildSyncGroups(spec.syncGroups, instanceNames, trackers);
  return {
    instances, vrrpScripts: [...trackers.scripts.values()], trackFiles: [...trackers.files.values()],
    trackProcesses: [...trackers.processes.values()], syncGroups,
  };
}

function buildInstance(c: InstanceCheck, d: VrrpDefaultsSpec, trackers: Trackers, group: SyncGroupSpec | undefined,
  unique: Uniqueness): VrrpInstance | undefined {
  const { s, name } = c;
  checkRequired(c);
  const family = addressFamily(c);
  const version = vrrpVersion(c, family);
  const advertIntervalMs = advertInterval(c, version);
  const { priority, initialState, preempt, preemptDelayMs } = election(c);
  checkAuth(c, version);
  const strict = checkStrict(c, family);
  checkNoAddresses(c, version, strict);
  const mcast = mcastGroup(c, family);
  const garp = buildGarp(c, family);
  const { trackScripts, trackFiles, trackInterfaces, trackProcesses } = tracking(c, trackers, group);
  const vmac = vmacName(c, family);
  unique.check(c, family);

  if (c.errors > 0 || !s.interface || !s.vrid || !garp) return undefined;
  return {
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
    ...(s.authPass && version === 2 && s.authType?.value === 'AH' ? { authType: 'AH' as const } : {}),
    ...(s.srcip ? { srcip: s.srcip.value } : {}),
    mcastGroup: mcast,
    unicastPeers: s.unicastPeers.map((p) => p.value),
    v3ChecksumAsV2: s.v3ChecksumAsV2?.value ?? d.v3ChecksumAsV2?.value ?? false,
    addresses: s.addresses.map((a) => a.value),
    excludedAddresses: s.excludedAddresses.map((a) => a.value),
    routes: s.routes.map((r) => r.value),
    rules: s.rules.map((r) => r.value),
    trackInterfaces,
    trackScripts,
    trackFiles,
    ...(trackProcesses.length > 0 ? { trackProcesses } : {}),
    trackPrimary: s.trackPrimary?.value ?? true,
    notify: notifyHooks(s.notify),
    garp,
    ...(vmac ? { vmacInterface: vmac } : {}),
    lowerPrioNoAdvert: s.lowerPrioNoAdvert?.value ?? d.lowerPrioNoAdvert?.value ?? strict,
    higherPrioSendAdvert: s.higherPrioSendAdvert?.value ?? d.higherPrioSendAdvert?.value ?? false,
    downTimerAdverts: s.downTimerAdverts?.value ?? d.downTimerAdverts?.value ?? 3,
    ...(group ? { syncGroup: group.name.value } : {}),
  };
}

/** Across instances: (interface, family, vrid) identifies a virtual router on the wire; a virtual address belongs to one instance. */
class Uniqueness {
  private readonly vrids = new Map<string, { name: string; at: SourceLoc }>();
  private readonly vips = new Map<string, { name: string; at: SourceLoc; dev: string | undefined }>();

  check(c: InstanceCheck, family: 4 | 6): void {
    const { s, name, owner } = c;
    if (s.interface && s.vrid) {
      const key = `${s.interface.value}\0${family}\0${s.vrid.value}`;
      const prev = this.vrids.get(key);
      if (prev) {
        c.e(s.vrid.at, 'DUPLICATE_VHID', `${owner} uses virtual_router_id ${s.vrid.value} on ${s.interface.value} (IPv${family}), like vrrp_instance '${prev.name}' (${prev.at.file}:${prev.at.line})`,
          `a virtual_router_id not used by another instance on ${s.interface.value}`);
      } else this.vrids.set(key, { name, at: s.vrid.at });
    }
    for (const a of [...s.addresses, ...s.excludedAddresses]) {
      const prev = this.vips.get(a.value.address);
      const dev = a.value.dev ?? s.interface?.value;
      if (prev && prev.name === name && prev.dev !== dev) {
        // keepalived: "We can have a VIP and an eVIP the same if they are on different interfaces".
        continue;
      } else if (prev && prev.name !== name) {
        c.warn(a.at, 'DUPLICATE_ADDRESS', `${a.value.address} is a virtual address of ${owner} and of vrrp_instance '${prev.name}' (${prev.at.file}:${prev.at.line})`,
          'each virtual address in one instance only');
      } else if (prev) {
        c.e(a.at, 'DUPLICATE_ADDRESS', `${a.value.address} is listed twice in ${owner} (first at ${prev.at.file}:${prev.at.line})`, 'each address once');
      } else this.vips.set(a.value.address, { name, at: a.at, dev });
    }
  }
}
