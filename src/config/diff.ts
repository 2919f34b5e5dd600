/**
 * What a live reload does: the running configuration and the new one in, a plan out, per
 * instance `keep` (not touched at all: no advert gap, no transition, same timers), `add`,
 * `remove` (a master bows out and releases, as on shutdown), `update` (changed in place,
 * with what changed) or `replace` (stopped and started again, with why), and the reasons a
 * reload must be refused as a whole ("restart needed for X"). Pure: the daemon applies the
 * plan (src/daemon/reload.ts).
 *
 * In place is kept to what the running machine can take without a state change: CARP
 * advbase/advskew/deadratio/preempt/neutral, password and addresses (the HMAC is rebuilt),
 * hooks; VRRP priority (not to or from 255, the owner), preempt, addresses, notify, garp
 * settings. Everything that names the instance on the wire or in the kernel (interface,
 * vhid/VRID, family, version, source, multicast group, unicast peers, virtual MAC), its
 * advert interval (VRRP), routes and tracking needs a replacement. A changed sync group
 * replaces all its members, old and new; so does a member added to or removed from it.
 * Resource groups are added, removed, or restarted when their definition changed.
 * keepalived re-reads everything and restarts every instance on reload, which can flap a
 * master; this keeps every unconcerned instance exactly as it was.
 */
import type { CarpInstance, CarpoolConfig, Instance, SyncGroup, VirtualAddress, VrrpInstance } from './model.js';

export type InstanceAction =
  | { readonly kind: 'keep'; readonly name: string; readonly instance: Instance }
  | { readonly kind: 'add'; readonly name: string; readonly instance: Instance }
  | { readonly kind: 'remove'; readonly name: string; readonly instance: Instance }
  /** Changed in place: `changes` says what, one item per setting (`advskew 20 -> 40`). */
  | { readonly kind: 'update'; readonly name: string; readonly old: Instance; readonly instance: Instance; readonly changes: readonly string[] }
  /** Stopped (like a removal) and started again with the new settings: `reasons` says why. */
  | { readonly kind: 'replace'; readonly name: string; readonly old: Instance; readonly instance: Instance; readonly reasons: readonly string[] };

/**
 * A resource group: `keep` (untouched: it keeps running, its failcounts stay), `add` (probed,
 * then it follows its instance), `remove` (stopped in reverse order and forgotten), `restart`
 * (stopped, then added with the new definition: its instance, members or a member's settings
 * changed).
 */
export interface GroupAction {
  readonly kind: 'keep' | 'add' | 'remove' | 'restart';
  readonly id: string;
  readonly reasons: readonly string[];
}

export interface ReloadPlan {
  /** One action per instance of either configuration: removals first, then the new configuration's order. */
  readonly instances: readonly InstanceAction[];
  /** One action per resource group of either configuration. */
  readonly groups: readonly GroupAction[];
  /** Non-empty: the reload is refused as a whole and nothing changes ("restart needed for ..."). */
  readonly refused: readonly string[];
  /** Changes that need no action on an instance (a vrrp_script nobody uses, the source file name). */
  readonly notes: readonly string[];
}

/** Structural equality of plain configuration data (objects, arrays, scalars). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** CARP settings the running shell and machine can take in place. */
const CARP_IN_PLACE = ['advbase', 'advskew', 'deadratio', 'preempt', 'neutral', 'password', 'addresses', 'upHook', 'downHook', 'xparam', 'shutdownHooks', 'ignoreIfState'] as const;
/** VRRP settings the running shell and machine can take in place (priority: not to or from the owner's 255). */
const VRRP_IN_PLACE = ['priority', 'preempt', 'preemptDelayMs', 'addresses', 'excludedAddresses', 'notify', 'garp', 'lowerPrioNoAdvert', 'higherPrioSendAdvert'] as const;

/** Configuration key names as the operator writes them (YAML), for messages. */
const KEY: Readonly<Record<string, string>> = {
  srcip: 'source', mcast: 'multicast group', mcastGroup: 'multicast group', upHook: 'up hook', downHook: 'down hook',
  shutdownHooks: 'shutdown hooks', ignoreIfState: 'ignore link state', manageAddresses: 'address management',
  advertIntervalMs: 'advert interval', preemptDelayMs: 'preempt delay', excludedAddresses: 'excluded addresses',
  unicastPeers: 'unicast peers', v3ChecksumAsV2: 'v3 checksum as v2', vmacInterface: 'virtual MAC interface',
  initialState: 'initial state', trackInterfaces: 'tracked interfaces', trackScripts: 'tracked scripts',
  trackFiles: 'tracked files', trackPrimary: 'tracking of the primary interface', lowerPrioNoAdvert: 'lower_prio_no_advert',
  higherPrioSendAdvert: 'higher_prio_send_advert', downTimerAdverts: 'down timer adverts', syncGroup: 'sync group',
  authPass: 'auth password', authType: 'auth type',
};

const keyName = (k: string): string => KEY[k] ?? k;

function addressText(a: VirtualAddress): string {
  return `${a.address}/${a.prefix}${a.dev ? ` dev ${a.dev}` : ''}${a.label ? ` label ${a.label}` : ''}`;
}

/** `addresses +10.0.0.5/24 -10.0.0.6/24` (or `addresses reordered`). */
function describeAddresses(key: string, old: readonly VirtualAddress[], next: readonly VirtualAddress[]): string {
  const o = old.map(addressText);
  const n = next.map(addressText);
  const added = n.filter((x) => !o.includes(x)).map((x) => `+${x}`);
  const removed = o.filter((x) => !n.includes(x)).map((x) => `-${x}`);
  const what = [...added, ...removed];
  return `${keyName(key)} ${what.length ? what.join(' ') : 'reordered'}`;
}

function describe(key: string, old: unknown, next: unknown): string {
  if (key === 'addresses' || key === 'excludedAddresses') return describeAddresses(key, old as VirtualAddress[], next as VirtualAddress[]);
  if (key === 'password' || key === 'authPass') return `${keyName(key)} changed`;
  const scalar = (v: unknown): string | undefined => {
    if (v === undefined) return 'unset';
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  };
  const a = scalar(old);
  const b = scalar(next);
  return a !== undefined && b !== undefined ? `${keyName(key)} ${a} -> ${b}` : `${keyName(key)} changed`;
}

/** The keys whose values differ between two instances of one kind. */
function changedKeys(old: Instance, next: Instance): string[] {
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  return [...keys].filter((k) => !sameValue((old as unknown as Record<string, unknown>)[k], (next as unknown as Record<string, unknown>)[k]));
}

function carpAction(old: CarpInstance, next: CarpInstance): InstanceAction {
  const changed = changedKeys(old, next);
  if (changed.length === 0) return { kind: 'keep', name: next.name, instance: next };
  const hard = changed.filter((k) => !(CARP_IN_PLACE as readonly string[]).includes(k));
  if (hard.length) return { kind: 'replace', name: next.name, old, instance: next, reasons: hard.map((k) => describe(k, (old as unknown as Record<string, unknown>)[k], (next as unknown as Record<string, unknown>)[k])) };
  return { kind: 'update', name: next.name, old, instance: next, changes: changed.map((k) => describe(k, (old as unknown as Record<string, unknown>)[k], (next as unknown as Record<string, unknown>)[k])) };
}

function vrrpAction(old: VrrpInstance, next: VrrpInstance, extraReasons: readonly string[]): InstanceAction {
  const changed = changedKeys(old, next);
  const value = (i: VrrpInstance, k: string): unknown => (i as unknown as Record<string, unknown>)[k];
  const hard = changed.filter((k) => !(VRRP_IN_PLACE as readonly string[]).includes(k)).map((k) => describe(k, value(old, k), value(next, k)));
  if (changed.includes('priority') && (old.priority === 255) !== (next.priority === 255)) {
    hard.push(`priority ${old.priority} -> ${next.priority} (the address owner, 255, starts differently)`);
  }
  const reasons = [...hard, ...extraReasons];
  if (reasons.length) return { kind: 'replace', name: next.name, old, instance: next, reasons };
  if (changed.length === 0) return { kind: 'keep', name: next.name, instance: next };
  return { kind: 'update', name: next.name, old, instance: next, changes: changed.map((k) => describe(k, value(old, k), value(next, k))) };
}

/** Names of the trackers (scripts / files) an instance uses, its sync group's included. */
function trackerUses(i: VrrpInstance, groups: readonly SyncGroup[]): { scripts: string[]; files: string[] } {
  const g = i.syncGroup ? groups.find((x) => x.name === i.syncGroup) : undefined;
  return {
    scripts: [...i.trackScripts, ...(g?.trackScripts ?? [])].map((r) => r.name),
    files: [...i.trackFiles, ...(g?.trackFiles ?? [])].map((r) => r.name),
  };
}

/**
 * The plan that takes a daemon running `old` to `next`. Both are validated configurations.
 * Instances are matched by name (a renamed instance is a removal and an addition).
 */
export function planReload(old: CarpoolConfig, next: CarpoolConfig): ReloadPlan {
  const refused: string[] = [];
  const notes: string[] = [];
  // Settings of the daemon itself: changing them means another daemon.
  if (old.controlSocket !== next.controlSocket) refused.push(`restart needed for control_socket (${old.controlSocket} -> ${next.controlSocket})`);
  if (old.stateDir !== next.stateDir) refused.push(`restart needed for state_dir (${old.stateDir} -> ${next.stateDir})`);
  if (!sameValue(old.logging, next.logging)) refused.push('restart needed for logging (facility, ident, debug)');
  if (old.realtimePriority !== next.realtimePriority) refused.push(`restart needed for realtime_priority (${old.realtimePriority ?? 'unset'} -> ${next.realtimePriority ?? 'unset'})`);
  if (!sameValue(old.carpGroups ?? [], next.carpGroups ?? [])) refused.push('restart needed for CARP groups (sync_groups of CARP instances, carp_preempt)');
  // Any other setting (the HTTP listener, and whatever is added later) is not applied live: say so.
  // `balancers` goes to the load balancer's own reload (daemon/reload.ts step 6).
  const handled = new Set(['source', 'instances', 'vrrpScripts', 'trackFiles', 'trackProcesses', 'syncGroups', 'carpGroups', 'resources', 'balancers', 'controlSocket', 'stateDir', 'logging', 'realtimePriority']);
  // The configuration's keys in its own words (keepalived names in brackets).
  const keyNames: Readonly<Record<string, string>> = {
    static: 'static (static_ipaddress, static_routes, static_rules)', notifyFifo: 'notify_fifo', netNamespace: 'net_namespace',
  };
  for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) {
    if (handled.has(key)) continue;
    if (!sameValue((old as unknown as Record<string, unknown>)[key], (next as unknown as Record<string, unknown>)[key])) refused.push(`restart needed for ${keyNames[key] ?? key}`);
  }
  if (old.source !== next.source) notes.push(`configuration file ${old.source} -> ${next.source}`);

  // Trackers: a changed definition in use would need its runner restarted.
  const oldVrrp = old.instances.filter((i): i is VrrpInstance => i.kind === 'vrrp');
  const usedScripts = new Set(oldVrrp.flatMap((i) => trackerUses(i, old.syncGroups).scripts));
  const usedFiles = new Set(oldVrrp.flatMap((i) => trackerUses(i, old.syncGroups).files));
  for (const s of old.vrrpScripts) {
    const n = next.vrrpScripts.find((x) => x.name === s.name);
    if (n && !sameValue(s, n) && usedScripts.has(s.name)) refused.push(`restart needed for vrrp_script ${s.name} (its definition changed while instances track it)`);
  }
  for (const f of old.trackFiles) {
    const n = next.trackFiles.find((x) => x.name === f.name);
    if (n && !sameValue(f, n) && usedFiles.has(f.name)) refused.push(`restart needed for track_file ${f.name} (its definition changed while instances track it)`);
  }
  const usedProcesses = new Set(oldVrrp.flatMap((i) => [...(i.trackProcesses ?? []),
    ...(old.syncGroups.find((g) => g.name === i.syncGroup)?.trackProcesses ?? [])].map((r) => r.name)));
  for (const p of old.trackProcesses ?? []) {
    const n = next.trackProcesses?.find((x) => x.name === p.name);
    if (n && !sameValue(p, n) && usedProcesses.has(p.name)) refused.push(`restart needed for vrrp_track_process ${p.name} (its definition changed while instances track it)`);
  }

  // Sync groups: any change to a group (its definition, or a member changing) replaces all
  // its members, old and new, so the group's coordinator starts over with a consistent view.
  const dirtyGroups = new Set<string>();
  for (const g of [...old.syncGroups, ...next.syncGroups]) {
    const a = old.syncGroups.find((x) => x.name === g.name);
    const b = next.syncGroups.find((x) => x.name === g.name);
    if (!a || !b || !sameValue(a, b)) dirtyGroups.add(g.name);
  }
  const byName = (cfg: CarpoolConfig, name: string): Instance | undefined => cfg.instances.find((i) => i.name === name);
  // A member whose own settings need a replacement (or that is added/removed) dirties its group too.
  for (const i of [...old.instances, ...next.instances]) {
    if (i.kind !== 'vrrp') continue;
    const a = byName(old, i.name);
    const b = byName(next, i.name);
    const group = i.syncGroup;
    if (!group) continue;
    if (!a || !b || a.kind !== b.kind) { dirtyGroups.add(group); continue; }
    const act = vrrpAction(a as VrrpInstance, b as VrrpInstance, []);
    if (act.kind === 'replace') dirtyGroups.add(group);
  }

  const actions: InstanceAction[] = [];
  for (const o of old.instances) {
    if (!byName(next, o.name)) actions.push({ kind: 'remove', name: o.name, instance: o });
  }
  for (const n of next.instances) {
    const o = byName(old, n.name);
    if (!o) {
      actions.push({ kind: 'add', name: n.name, instance: n });
    } else if (o.kind !== n.kind) {
      actions.push({ kind: 'replace', name: n.name, old: o, instance: n, reasons: [`protocol ${o.kind} -> ${n.kind}`] });
    } else if (o.kind === 'carp') {
      actions.push(carpAction(o, n as CarpInstance));
    } else {
      const nv = n as VrrpInstance;
      const groups = [...new Set([o.syncGroup, nv.syncGroup].filter((g): g is string => g !== undefined && dirtyGroups.has(g)))];
      actions.push(vrrpAction(o, nv, groups.map((g) => `sync group ${g} changed`)));
    }
  }
  for (const s of next.vrrpScripts) if (!old.vrrpScripts.some((x) => x.name === s.name)) notes.push(`vrrp_script ${s.name} added`);
  for (const s of old.vrrpScripts) if (!next.vrrpScripts.some((x) => x.name === s.name)) notes.push(`vrrp_script ${s.name} removed`);
  return { instances: actions, groups: planGroups(old, next), refused, notes };
}

/** Resource groups: matched by id; a group whose instance, members, order, colocation or a member's definition changed restarts. */
function planGroups(old: CarpoolConfig, next: CarpoolConfig): GroupAction[] {
  const oldGroups = old.resources?.groups ?? [];
  const newGroups = next.resources?.groups ?? [];
  const resource = (cfg: CarpoolConfig, id: string) => cfg.resources?.resources.find((r) => r.id === id);
  const actions: GroupAction[] = oldGroups.filter((g) => !newGroups.some((n) => n.id === g.id)).map((g) => ({ kind: 'remove', id: g.id, reasons: [] }));
  for (const g of newGroups) {
    const o = oldGroups.find((x) => x.id === g.id);
    if (!o) {
      actions.push({ kind: 'add', id: g.id, reasons: [] });
      continue;
    }
    const reasons: string[] = [];
    if (o.instance !== g.instance) reasons.push(`instance ${o.instance} -> ${g.instance}`);
    if (!sameValue(o.members, g.members)) reasons.push(`resources ${o.members.join(', ')} -> ${g.members.join(', ')}`);
    if (!sameValue(o.after ?? [], g.after ?? [])) reasons.push(`after ${(o.after ?? []).join(', ') || '-'} -> ${(g.after ?? []).join(', ') || '-'}`);
    if (o.with !== g.with) reasons.push(`with ${o.with ?? '-'} -> ${g.with ?? '-'}`);
    for (const m of g.members) {
      // `origin` is where the definition sits in the file: moving it is no change.
      const strip = (r: ReturnType<typeof resource>) => (r ? { ...r, origin: undefined } : r);
      if (o.members.includes(m) && !sameValue(strip(resource(old, m)), strip(resource(next, m)))) reasons.push(`resource ${m} changed`);
    }
    actions.push({ kind: reasons.length ? 'restart' : 'keep', id: g.id, reasons });
  }
  return actions;
}

/** Does the plan change anything. */
export function planChanges(plan: ReloadPlan): boolean {
  return plan.instances.some((a) => a.kind !== 'keep') || plan.groups.some((g) => g.kind !== 'keep');
}

/** One line per action that changes something, for the log and `carpool reload`. */
export function describePlan(plan: ReloadPlan): string[] {
  return plan.instances.flatMap((a) => {
    switch (a.kind) {
      case 'keep': return [];
      case 'add': return [`${a.name}: added`];
      case 'remove': return [`${a.name}: removed`];
      case 'update': return [`${a.name}: changed in place (${a.changes.join(', ')})`];
      case 'replace': return [`${a.name}: restarted (${a.reasons.join(', ')})`];
    }
  }).concat(plan.groups.flatMap((g) => {
    switch (g.kind) {
      case 'keep': return [];
      case 'add': return [`group ${g.id}: added`];
      case 'remove': return [`group ${g.id}: removed`];
      case 'restart': return [`group ${g.id}: restarted (${g.reasons.join(', ')})`];
    }
  }));
}
