/**
 * What the two VRRP front ends (keepalived.conf and carpool YAML) hand the VRRP builder: their
 * syntax read into located specs (every value with the place it was written), and how each front
 * end names the fields in messages.
 */
import type { ConfigDiagnosticCode, SourceLoc } from '../diagnostics.js';
import type {
  Hook, SyncGroup, TrackFile, TrackProcess, VirtualAddress, VirtualRoute, VirtualRule, VrrpInstance, VrrpScript,
} from '../model.js';

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
  /** keepalived `auth_type`; absent = PASS when there is a password. */
  authType?: At<'PASS' | 'AH'>;
  addresses: At<VirtualAddress>[];
  /**
   * An instance without virtual addresses (notify-only set-ups that move a cloud address from the
   * notify scripts): undefined = an error (carpool YAML without `addresses`); 'warn' = keepalived's
   * "No VIP specified" warning; 'quiet' = asked for (keepalived `no_virtual_ipaddress`, YAML
   * `addresses: []`). VRRPv3 and strict mode require an address either way, as in keepalived.
   */
  noAddresses?: At<'warn' | 'quiet'>;
  excludedAddresses: At<VirtualAddress>[];
  routes: At<VirtualRoute>[];
  rules: At<VirtualRule>[];
  trackInterfaces: At<TrackRefSpec>[];
  trackScripts: At<TrackRefSpec>[];
  trackFiles: At<TrackRefSpec>[];
  trackProcesses?: At<TrackRefSpec>[];
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

export interface TrackProcessSpec {
  readonly name: At<string>;
  /** The process name, then the arguments to match (keepalived `process NAME [PARAM ...]`). */
  process?: At<readonly string[]>;
  paramMatch?: At<'exact' | 'initial' | 'partial'>;
  fullCommand?: At<boolean>;
  weight?: At<number>;
  reverse?: At<boolean>;
  quorum?: At<number>;
  quorumMax?: At<number>;
  /** Seconds. */
  forkDelay?: At<number>;
  /** Seconds. */
  terminateDelay?: At<number>;
}

export interface SyncGroupSpec {
  readonly name: At<string>;
  members: At<string>[];
  notify: NotifySpec;
  trackInterfaces: At<TrackRefSpec>[];
  trackScripts: At<TrackRefSpec>[];
  trackFiles: At<TrackRefSpec>[];
  trackProcesses?: At<TrackRefSpec>[];
  /** keepalived `sync_group_tracking_weight`: member trackers keep their weights. */
  trackingWeight?: At<boolean>;
}

export interface VrrpSpec {
  readonly defaults: VrrpDefaultsSpec;
  readonly instances: readonly VrrpInstanceSpec[];
  readonly scripts: readonly VrrpScriptSpec[];
  readonly trackFiles: readonly TrackFileSpec[];
  readonly trackProcesses?: readonly TrackProcessSpec[];
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

export type Report = (severity: 'error' | 'warning', code: ConfigDiagnosticCode, at: SourceLoc, message: string, expected: string) => void;

export interface VrrpBuilt {
  readonly instances: VrrpInstance[];
  readonly vrrpScripts: VrrpScript[];
  readonly trackFiles: TrackFile[];
  readonly trackProcesses: TrackProcess[];
  readonly syncGroups: SyncGroup[];
}
