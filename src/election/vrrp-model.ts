/**
 * What goes into and comes out of the VRRP machine (src/election/vrrp.ts): its parameters
 * (built from a validated instance by `vrrpParams`), inputs, effects and status, and the
 * priority/interval rules both the machine and tracking apply. Pure.
 */
import type { VrrpInstance } from '../config/model.js';
import { parseIP } from '../protocol/inet.js';
import { passwordAuthData, VRRP_AUTH_AH, VRRP_AUTH_NONE, VRRP_AUTH_PASS, VRRP_PRIO_OWNER, type VrrpAdvert, type VrrpRxInstance, type VrrpVersion } from '../protocol/vrrp/packet.js';
import type { LogLevel, TransitionRecord } from './common.js';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

/**
 * What the machine needs of a validated instance (`vrrpParams` builds it): the settings it
 * takes as configured, and the addresses as bytes. As the machine reads them: `priority`
 * 255 is the address owner (never adjusted, starts MASTER at once with `initialState`
 * MASTER, ignores `preempt: false` as keepalived does); `preemptDelayMs` also applies after
 * start; master-down = `downTimerAdverts` x Master_Adver_Interval + Skew (RFC: 3).
 */
export interface VrrpParams extends Pick<VrrpInstance,
  | 'name' | 'version' | 'family' | 'vrid' | 'priority' | 'advertIntervalMs' | 'initialState' | 'preempt' | 'preemptDelayMs'
  | 'v3ChecksumAsV2' | 'garp' | 'lowerPrioNoAdvert' | 'higherPrioSendAdvert' | 'downTimerAdverts'> {
  /** v2 authentication: the 8 zero-padded password bytes; undefined = none. */
  readonly authData?: Uint8Array;
  /** v2: the password keys an IPsec AH (the shell wraps and unwraps it) instead of riding in the advert. */
  readonly authAh?: boolean;
  /** Advert source address and tie-break key (configured source or interface primary). */
  readonly srcip: Uint8Array;
  /** 224.0.0.18 / ff02::12 or `mcast_dst_ip`. */
  readonly mcastGroup: Uint8Array;
  /** Non-empty: one advert per peer instead of one to the group. */
  readonly unicastPeers: readonly Uint8Array[];
  /** Advertised virtual addresses (of the instance's family). */
  readonly addresses: readonly Uint8Array[];
  /** Emit addRoutes/removeRoutes (the instance has virtual routes or rules). */
  readonly routes: boolean;
  /** Member of a sync group: go MASTER only on the coordinator's `groupMaster`. */
  readonly syncGroup: boolean;
}

export type VrrpInput =
  | { readonly type: 'start' }
  | { readonly type: 'tick' }
  /** An advert that passed the whole receive ladder (`checkAdvert`). */
  | { readonly type: 'advert'; readonly advert: VrrpAdvert; readonly src: Uint8Array }
  /** Effective priority from tracking (base + weights, see tracking.ts); clamped again here. */
  | { readonly type: 'priority'; readonly priority: number; readonly reason: string }
  /** The instance's own FAULT verdict from tracking (interface down, weight-0 tracker failed...). */
  | { readonly type: 'fault'; readonly fault: boolean; readonly reason: string }
  /** Planned switchover (`carpool demote`): priority-0 advert, BACKUP, make before break. */
  | { readonly type: 'stepDown'; readonly reason: string }
  /** Standby: never take over; a master hands over at once (resource groups, like CARP). */
  | { readonly type: 'standby'; readonly on: boolean; readonly reason: string }
  /** Daemon shutting down: emits `stopped` once it is safe to exit. */
  | { readonly type: 'shutdown' }
  /**
   * Live reload: new settings in place (same VRID, family, version, interval and owner
   * status; `planReload` replaces the instance otherwise). No state change: the new base
   * priority takes effect through the tracking `priority` input that follows.
   */
  | { readonly type: 'reconfigure'; readonly params: VrrpParams }
  /** Outcome of one `send` effect. */
  | { readonly type: 'sendResult'; readonly ok: boolean }
  /** From the sync-group coordinator: some member is in FAULT (or none is any more). */
  | { readonly type: 'groupFault'; readonly fault: boolean; readonly reason: string }
  /** From the sync-group coordinator: a member left MASTER, so must this one. */
  | { readonly type: 'groupBackup'; readonly reason: string }
  /** From the sync-group coordinator: every member wants MASTER, go. */
  | { readonly type: 'groupMaster'; readonly reason: string }
  /** From the sync-group coordinator: another member re-announced itself after a lower-priority advert; so do we. */
  | { readonly type: 'groupReannounce'; readonly reason: string };

export type NotifyWhich = 'master' | 'backup' | 'fault' | 'stop';

export type GarpKind = 'master' | 'master-delay' | 'refresh' | 'lower-prio' | 'lower-prio-delay' | 'reassert' | 'sync-group';

export type VrrpEffect =
  /** One advert to one destination, fully encoded (the v3 checksum depends on src and dst). */
  | { readonly type: 'send'; readonly dst: Uint8Array; readonly dstText: string; readonly payload: Uint8Array; readonly priority: number }
  | { readonly type: 'transition'; readonly from: VrrpState; readonly to: VrrpState; readonly reason: string }
  /** Add the instance's addresses (advertised and excluded). Idempotent in the shell. */
  | { readonly type: 'addAddresses' }
  | { readonly type: 'removeAddresses' }
  | { readonly type: 'addRoutes' }
  | { readonly type: 'removeRoutes' }
  /** `count` gratuitous ARPs / unsolicited NAs per address, paced by `garp.intervalMs`. */
  | { readonly type: 'garp'; readonly count: number; readonly kind: GarpKind }
  /** Run notify hooks / write the FIFO line; `priority` is the generic notify's 4th argument. */
  | { readonly type: 'notify'; readonly which: NotifyWhich; readonly priority: number }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string }
  /** Sync-group members only: this member wants MASTER (its master-down fired) or no longer does. */
  | { readonly type: 'syncWant'; readonly want: boolean }
  /** Sync-group members only: the member's own FAULT verdict changed. */
  | { readonly type: 'syncFault'; readonly fault: boolean; readonly reason: string }
  /** Shutdown finished: the daemon may exit. */
  | { readonly type: 'stopped' };

/** Upper bound on how long a stopping master waits for its successor (keepalived waits ≤ 1 s). */
export const SHUTDOWN_RELEASE_MAX_MS = 1000;

export interface VrrpStatus {
  readonly name: string;
  readonly state: VrrpState;
  /** Source of the current master as last heard; `self` when we are master. */
  readonly master: string | undefined;
  readonly masterPriority: number | undefined;
  readonly basePriority: number;
  readonly effectivePriority: number;
  readonly advertIntervalMs: number;
  /** v3: the interval adopted from the master (ours while master or before hearing one). */
  readonly masterAdverIntervalMs: number;
  readonly masterDownMs: number;
  readonly fault: { readonly own: boolean; readonly group: boolean };
  readonly wantMaster: boolean;
  readonly standby: boolean;
  /** After a planned step-down: not preempting back while the successor lives. */
  readonly yielded: boolean;
  /** Addresses still held after leaving MASTER, until the successor is heard. */
  readonly releasePending: boolean;
  readonly preemptDelayUntil: number | undefined;
  readonly lastTransition: TransitionRecord<VrrpState> | undefined;
  readonly advertsSent: number;
  readonly advertsReceived: number;
  readonly sendErrors: number;
}

/** RFC 5798 effective-priority clamp: owners stay 255, everyone else lives in [1, 254]. */
export function clampPriority(base: number, effective: number): number {
  if (base >= VRRP_PRIO_OWNER) return VRRP_PRIO_OWNER;
  if (!Number.isFinite(effective)) return Math.min(254, Math.max(1, base));
  return Math.min(254, Math.max(1, Math.round(effective)));
}

/** The interval a version can carry, in ms (v2 whole seconds 1..255, v3 10 ms steps up to 40.95 s). */
export function normaliseInterval(version: VrrpVersion, ms: number): number {
  if (version === 2) return Math.min(255, Math.max(1, Math.round(ms / 1000))) * 1000;
  return Math.min(4095, Math.max(1, Math.round(ms / 10))) * 10;
}

// --- building from configuration ------------------------------------------------------

function addrBytes(text: string): Uint8Array {
  const p = parseIP(text);
  if (!p) throw new Error(`not an IP address: ${text}`);
  return p.bytes;
}

/** Machine parameters for a validated instance; `srcip` is the configured or interface primary address. */
export function vrrpParams(inst: VrrpInstance, srcip: string, opts: { syncGroup?: boolean } = {}): VrrpParams {
  return {
    name: inst.name,
    version: inst.version,
    family: inst.family,
    vrid: inst.vrid,
    priority: inst.priority,
    advertIntervalMs: inst.advertIntervalMs,
    initialState: inst.initialState,
    preempt: inst.preempt,
    preemptDelayMs: inst.preemptDelayMs,
    authData: inst.version === 2 && inst.authPass !== undefined ? passwordAuthData(inst.authPass) : undefined,
    authAh: inst.version === 2 && inst.authPass !== undefined && inst.authType === 'AH',
    srcip: addrBytes(srcip),
    mcastGroup: addrBytes(inst.mcastGroup),
    unicastPeers: inst.unicastPeers.map(addrBytes),
    v3ChecksumAsV2: inst.v3ChecksumAsV2,
    addresses: inst.addresses.filter((a) => a.family === inst.family).map((a) => addrBytes(a.address)),
    routes: inst.routes.length + inst.rules.length > 0,
    garp: inst.garp,
    lowerPrioNoAdvert: inst.lowerPrioNoAdvert,
    higherPrioSendAdvert: inst.higherPrioSendAdvert,
    downTimerAdverts: inst.downTimerAdverts,
    syncGroup: opts.syncGroup ?? inst.syncGroup !== undefined,
  };
}

/** The auth type byte of this instance's v2 adverts. */
export function advertAuthType(p: Pick<VrrpParams, 'version' | 'authData' | 'authAh'>): number {
  if (p.version !== 2 || !p.authData) return VRRP_AUTH_NONE;
  return p.authAh ? VRRP_AUTH_AH : VRRP_AUTH_PASS;
}

/** What the receive ladder needs to know about this instance. */
export function vrrpRxInstance(p: VrrpParams): VrrpRxInstance {
  return {
    version: p.version,
    authType: advertAuthType(p),
    authData: p.authData ?? new Uint8Array(8),
    intervalMs: normaliseInterval(p.version, p.advertIntervalMs),
    unicast: p.unicastPeers.length > 0,
    mcastGroup: p.mcastGroup,
    ownAddress: p.srcip,
    addresses: p.addresses,
  };
}
