/**
 * What the two front ends (keepalived.conf `virtual_server` blocks and carpool YAML `balancers:`)
 * hand the balancer builder: the values as written, each level's own, with where they were
 * written. Times in milliseconds. The builder applies keepalived's defaults and cascade.
 */
import type { SourceLoc } from '../diagnostics.js';
import type {
  BalancerProtocol, CheckerType, Forwarding, Hook, HttpUrl, Scheduler, SchedulerFlag, TrackFile, VirtualServerGroupEntry, VirtualService,
} from '../model.js';
import type { Family } from '../../protocol/inet.js';
import type { At } from '../vrrp/spec.js';

export type { At, Report } from '../vrrp/spec.js';

/** A checker's own settings; the type-specific ones only where they apply. */
export interface CheckerSpec {
  readonly type: CheckerType;
  readonly at: SourceLoc;
  delayLoopMs?: number;
  retry?: number;
  delayBeforeRetryMs?: number;
  warmupMs?: number;
  alpha?: boolean;
  logAllFailures?: boolean;
  connectIp?: At<string>;
  connectPort?: number;
  bindto?: At<string>;
  bindPort?: number;
  bindIf?: string;
  fwmark?: number;
  connectTimeoutMs?: number;
  // HTTP_GET / SSL_GET
  urls?: UrlSpec[];
  virtualhost?: string;
  httpProtocol?: '1.0' | '1.0C' | '1.1';
  fastRecovery?: boolean;
  enableSni?: boolean;
  sniName?: string;
  tlsCompliant?: boolean;
  // SMTP_CHECK
  heloName?: string;
  /** `host { }` blocks: only their connection fields are set. */
  hosts?: CheckerSpec[];
  // DNS_CHECK
  queryType?: 'A' | 'NS' | 'CNAME' | 'SOA' | 'MX' | 'TXT' | 'AAAA';
  name?: string;
  // UDP_CHECK
  payload?: string;
  requireReply?: boolean;
  replyPattern?: string;
  minReplyLength?: number;
  maxReplyLength?: At<number>;
  // MISC_CHECK
  command?: Hook;
  /** The command was given but is invalid (already reported): no "missing" error. */
  commandInvalid?: boolean;
  timeoutMs?: number;
  dynamic?: boolean;
  user?: { user: string; group?: string };
  // FILE_CHECK
  trackFile?: At<string>;
  weight?: number;
  reverse?: boolean;
}

export interface UrlSpec {
  readonly at: SourceLoc;
  path?: string;
  digest?: string;
  statusCodes?: HttpUrl['statusCodes'];
  virtualhost?: string;
}

export interface RealServerSpec {
  readonly at: SourceLoc;
  readonly family: Family;
  readonly address: string;
  readonly port: number;
  weight?: number;
  forwarding?: Forwarding;
  inhibitOnFailure?: boolean;
  alpha?: boolean;
  notifyUp?: Hook;
  notifyDown?: Hook;
  upperThreshold?: number;
  lowerThreshold?: number;
  virtualhost?: string;
  delayLoopMs?: number;
  connectTimeoutMs?: number;
  retry?: number;
  delayBeforeRetryMs?: number;
  warmupMs?: number;
  readonly checkers: CheckerSpec[];
}

export interface SorryServerSpec {
  readonly at: SourceLoc;
  readonly family: Family;
  readonly address: string;
  readonly port: number;
}

export interface VirtualServerSpec {
  readonly at: SourceLoc;
  /** As written: `10.0.0.1 80`, `fwmark 1`, `group web`. */
  readonly name: string;
  readonly service: VirtualService;
  /** Where the group name is written (undefined reference). */
  readonly groupAt?: SourceLoc;
  ipFamily?: At<Family>;
  protocol?: At<BalancerProtocol>;
  scheduler?: Scheduler;
  schedulerFlags: At<SchedulerFlag>[];
  onePacket?: At<boolean>;
  forwarding?: Forwarding;
  /** DR/TUN: the interface the VIP's packets arrive on (carpool YAML `interface`). */
  interface?: string;
  /** Seconds. */
  persistenceTimeout?: number;
  /** As written: an IPv4 netmask or an IPv6 prefix length. */
  persistenceGranularity?: At<string>;
  haSuspend?: At<boolean>;
  virtualhost?: string;
  sorryServer?: SorryServerSpec;
  sorryServerInhibit?: At<boolean>;
  sorryServerForwarding?: At<Forwarding>;
  alpha?: boolean;
  omega?: boolean;
  quorum?: At<number>;
  hysteresis?: At<number>;
  quorumUp?: Hook;
  quorumDown?: Hook;
  delayLoopMs?: number;
  connectTimeoutMs?: number;
  retry?: number;
  delayBeforeRetryMs?: number;
  warmupMs?: number;
  inhibitOnFailure?: boolean;
  /** Default weight of the real servers. */
  weight?: number;
  readonly realServers: RealServerSpec[];
  /** Some real server was written but is invalid (already reported): no "has no real servers" error. */
  realServerInvalid?: boolean;
}

export interface GroupSpec {
  readonly name: At<string>;
  readonly entries: At<VirtualServerGroupEntry>[];
  /** Some entry was invalid (already reported). */
  entryInvalid?: boolean;
}

/** How a front end names the keys that the builder reports missing. */
export interface BalancerTerms {
  readonly realServer: string;
  readonly url: string;
  readonly path: string;
  readonly miscPath: string;
  readonly trackFile: string;
}

export interface BalancerSpec {
  readonly groups: readonly GroupSpec[];
  readonly virtualServers: readonly VirtualServerSpec[];
  /** Names of the track_file definitions FILE_CHECK may refer to. */
  readonly trackFiles: readonly string[];
  /** YAML `count_interval` / keepalived.conf `global_defs { carpool_count_interval }`, ms. */
  readonly countIntervalMs?: number;
  /** Those that were valid, built (file, weight): a FILE_CHECK reads its file and takes its weight by default. */
  readonly trackFileDefs: readonly TrackFile[];
}
