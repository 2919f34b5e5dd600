/**
 * The validated configuration model. Every front end (the `ucarp` command line, carpool
 * YAML, keepalived.conf) produces this; the daemon only ever sees this shape, so a value
 * here is already checked and defaulted. Plain readonly data, no behaviour.
 */
import type { Family } from '../protocol/inet.js';
import type { SharedAddress } from '../sharing/core/model.js';

/** A virtual address the daemon adds while master (native mode) and advertises. */
export interface VirtualAddress {
  readonly family: Family;
  /** Canonical text form. */
  readonly address: string;
  readonly prefix: number;
  /** Interface the address goes on; defaults to the instance's interface. */
  readonly dev?: string;
  /** Linux address label (`eth0:0`), as `ip addr add ... label` / ifconfig aliases. */
  readonly label?: string;
  readonly broadcast?: string;
  /** Address scope (`ip addr add ... scope`): `global` when undefined; keepalived `scope`. */
  readonly scope?: 'global' | 'site' | 'link' | 'host' | 'nowhere';
}

/**
 * A command run on a state change. argv[0] is executed directly (no shell) unless
 * `shell` is set, in which case the whole string is handed to `/bin/sh -c`.
 */
export interface Hook {
  readonly argv: readonly string[];
  readonly shell: boolean;
}

export interface CarpInstance {
  readonly kind: 'carp';
  /** Unique name used in logs, status and the control socket. */
  readonly name: string;
  /** Interface name as given (may be an alias label such as `eth0:carp0`). */
  readonly interface: string;
  /** Source address of adverts and tie-break key; undefined = primary IPv4 of the interface. */
  readonly srcip?: string;
  /** Virtual host id 1..255. */
  readonly vhid: number;
  /** Shared secret, at most 19 bytes (ucarp keeps a 20-byte buffer with the NUL). */
  readonly password: string;
  /** Seconds 0..255; interval = advbase + advskew/256 s. */
  readonly advbase: number;
  /** 1/256 s units, 0..255. */
  readonly advskew: number;
  /** Master-down = advbase*deadratio + advskew/256 s (ucarp formula). */
  readonly deadratio: number;
  readonly preempt: boolean;
  /** Do not run the down hook on the initial INIT -> BACKUP. */
  readonly neutral: boolean;
  /** IPv4 addresses; the first is what ucarp calls `--addr`. All are in the HMAC. */
  readonly addresses: readonly VirtualAddress[];
  /** Multicast group adverts go to (224.0.0.18). */
  readonly mcast: string;
  /** ucarp `--nomcast`: broadcast at the link layer, no IGMP join. */
  readonly nomcast: boolean;
  /** True in native mode: carpool adds/removes `addresses` and sends gratuitous ARP itself. */
  readonly manageAddresses: boolean;
  readonly upHook?: Hook;
  readonly downHook?: Hook;
  /** Extra argument appended to hook argv (ucarp `--xparam`). */
  readonly xparam?: string;
  /** Run the down hook (and release addresses) on SIGTERM/SIGINT/SIGHUP/SIGQUIT (ucarp `-z`). */
  readonly shutdownHooks: boolean;
  /** Ignore the interface's carrier state (ucarp `-S`). */
  readonly ignoreIfState: boolean;
  /** A hook running longer is killed (`hook_timeout`); undefined = the configuration's default. */
  readonly hookTimeoutMs?: number;
}

/** How an etcd instance reaches etcd (YAML `etcd:` of a `protocol: etcd` instance, docs/etcd.md). */
export interface EtcdSettings {
  /** `http://host:port` / `https://host:port`, at least one; the client fails over between them. */
  readonly endpoints: readonly string[];
  /** Key prefix shared by the cluster (default `/carpool`). */
  readonly prefix: string;
  /** The instance's key (default `<prefix>/<instance>/leader`). */
  readonly key: string;
  readonly ttlMs: number;
  /** Keep-alive interval (default ttl/3). */
  readonly renewMs: number;
  /** One request gives up after this. */
  readonly requestTimeoutMs: number;
  /** The master steps down this long before its lease can have expired. */
  readonly marginMs: number;
  /** Read the key again this often, watch or not. */
  readonly pollMs: number;
  /** PEM files: CA to verify etcd, client certificate and key (mutual TLS). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** etcd authentication: user name; the password is the first line of `passwordFile`. */
  readonly user?: string;
  readonly passwordFile?: string;
  /** When etcd cannot be reached (docs/etcd.md): `step-down` (default) or `failsafe` (with `failsafe`). */
  readonly unreachable?: 'step-down' | 'failsafe';
  readonly failsafe?: EtcdFailsafe;
}

/** The peer channel of the `failsafe` policy (UDP, HMAC-SHA256 with the key of `keyFile`). */
export interface EtcdFailsafe {
  /** This node's own entry of `peers`: the socket is bound to it only. */
  readonly listen: { readonly address: string; readonly port: number };
  /** Every member, this node included (an odd number ≥ 3): a majority of them keeps a master. */
  readonly peers: readonly { readonly address: string; readonly port: number }[];
  /** The shared key (its first line, ≥ 16 bytes), like an etcd password file. */
  readonly keyFile: string;
}

/**
 * The cluster view (YAML `cluster:`, docs/etcd.md "Cluster view"): every daemon publishes its
 * status document under `<prefix>/nodes/<node>` with a lease of `etcd.ttlMs`, and
 * `carpool status --cluster` reads all of them from etcd.
 */
export interface ClusterConfig {
  /** The connection (endpoints, prefix, TLS, user) and the ttl; the instance keys (key, renew...) keep their defaults. */
  readonly etcd: EtcdSettings;
  /** This node's name in the cluster; undefined = the host name. */
  readonly node?: string;
}

/**
 * An instance held through an etcd lease (issue 16): the node whose name is under the key
 * holds the addresses. Kept apart from `Instance` (CARP/VRRP) while it has no resource
 * groups, sync groups or live reload.
 */
export interface EtcdInstance {
  readonly kind: 'etcd';
  readonly name: string;
  readonly interface: string;
  readonly addresses: readonly VirtualAddress[];
  /** This node's name under the key; undefined = the host name. */
  readonly node?: string;
  readonly etcd: EtcdSettings;
  /** `priority` / `preempt` / `preempt_delay` (docs/etcd.md "Preference"); undefined = no candidacy, no hand-back. */
  readonly preference?: { readonly priority: number; readonly preempt: boolean; readonly preemptDelayMs: number };
  readonly upHook?: Hook;
  readonly downHook?: Hook;
  readonly hookTimeoutMs?: number;
}

/** One next hop of a multipath route (`nexthop via GW dev IF weight W`). */
export interface NextHop {
  readonly gateway?: string;
  readonly dev?: string;
  /** 1..256; the kernel's default 1 when undefined. */
  readonly weight?: number;
}

/**
 * A route installed while master (keepalived `virtual_routes`) or at start (`static_routes`),
 * over netlink, as `ip route replace` would.
 */
export interface VirtualRoute {
  readonly family: Family;
  /** Destination network (`0.0.0.0` / `::` with prefix 0 for a default route). */
  readonly dst: string;
  readonly prefix: number;
  readonly gateway?: string;
  readonly dev?: string;
  readonly src?: string;
  readonly metric?: number;
  readonly table?: number;
  /** `blackhole`, `unreachable`... plain unicast when undefined. */
  readonly type?: string;
  /** Route scope; as `ip route add`: link for a device route without gateway, else global. */
  readonly scope?: 'global' | 'site' | 'link' | 'host' | 'nowhere';
  /** RTPROT_* number (`proto bird` = 12); `boot` (3) when undefined, as `ip route add`. */
  readonly proto?: number;
  /** A multipath route (`nexthop ...`, keepalived's deprecated `via A or B`); then no `gateway`. */
  readonly nexthops?: readonly NextHop[];
}

/**
 * A policy routing rule installed while master (keepalived `virtual_rules`) or at start
 * (`static_rules`), as `ip rule add` would.
 */
export interface VirtualRule {
  readonly family: Family;
  /** Source prefix `ADDR/LEN`; any when undefined. */
  readonly from?: string;
  /** Destination prefix `ADDR/LEN`; any when undefined. */
  readonly to?: string;
  /** Table to look up (`table`/`lookup`); 254 (main) when undefined and no `type`, as `ip rule`. */
  readonly table?: number;
  /** The rule's preference (`priority`/`preference`/`pref`); the kernel picks one when undefined. */
  readonly priority?: number;
  readonly fwmark?: number;
  readonly fwmask?: number;
  readonly iif?: string;
  readonly oif?: string;
  /** Instead of a table look-up. */
  readonly type?: 'blackhole' | 'unreachable' | 'prohibit';
}

/**
 * Addresses, routes and rules the daemon installs at start and removes on a clean stop, in
 * no instance (keepalived `static_ipaddress`, `static_routes`, `static_rules`; YAML `static:`).
 */
export interface StaticSetup {
  /** Each with its `dev`. */
  readonly addresses: readonly VirtualAddress[];
  readonly routes: readonly VirtualRoute[];
  readonly rules: readonly VirtualRule[];
}

/** A tracker reference inside an instance or sync group, with its weight (0 = FAULT on failure). */
export interface TrackRef {
  readonly name: string;
  readonly weight: number;
  /** keepalived `reverse`: the weight applies the other way round. */
  readonly reverse: boolean;
}

/** keepalived `vrrp_script`: a health check whose result adjusts priority or causes FAULT. */
export interface VrrpScript {
  readonly name: string;
  readonly hook: Hook;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Default weight for instances that track it without their own weight. */
  readonly weight: number;
  readonly reverse: boolean;
  readonly rise: number;
  readonly fall: number;
  /** Start in the failed state until the first successes (`init_fail`). */
  readonly initFail: boolean;
}

/** keepalived `track_file`: a file holding an integer. */
export interface TrackFile {
  readonly name: string;
  readonly path: string;
  readonly weight: number;
  readonly reverse: boolean;
  /** Create the file with this value at start (`init_file`). */
  readonly initValue?: number;
  readonly initOverwrite: boolean;
}

/**
 * keepalived `vrrp_track_process`: how many running processes match. OK while the count is in
 * quorum..quorumMax, after `forkDelayMs` on the way up and `terminateDelayMs` on the way down.
 */
export interface TrackProcess {
  readonly name: string;
  /** The process name (matched against /proc/PID/comm), or with `fullCommand` argv[0]. */
  readonly process: string;
  /** Arguments to match (argv[1..]); undefined = any arguments. */
  readonly params?: readonly string[];
  /** `exact` (default): the arguments are these; `initial`: the last may be longer; `partial`: these first, then any. */
  readonly paramMatch: 'exact' | 'initial' | 'partial';
  /** Match `process` against argv[0] of /proc/PID/cmdline instead of the process name. */
  readonly fullCommand: boolean;
  readonly weight: number;
  readonly reverse: boolean;
  readonly quorum: number;
  /** Undefined = no upper limit. */
  readonly quorumMax?: number;
  readonly forkDelayMs: number;
  readonly terminateDelayMs: number;
}

/** Notify commands (keepalived `notify_*`); `generic` gets `INSTANCE name STATE priority` appended. */
export interface NotifyHooks {
  readonly master?: Hook;
  readonly backup?: Hook;
  readonly fault?: Hook;
  readonly stop?: Hook;
  readonly generic?: Hook;
}

export interface GarpSettings {
  /** Delay before the second burst after becoming master (0 = none). Default 5 s. */
  readonly masterDelayMs: number;
  /** Gratuitous ARPs / unsolicited NAs per address in each burst. Default 5. */
  readonly masterRepeat: number;
  /** Periodic refresh while master (0 = off). */
  readonly masterRefreshMs: number;
  readonly masterRefreshRepeat: number;
  /** GARPs sent when a lower-priority advert is heard as master (keepalived default 0; carpool default 1). */
  readonly lowerPrioRepeat: number;
  readonly lowerPrioDelayMs: number;
  /** Pause between packets of a burst. */
  readonly intervalMs: number;
}

export interface VrrpInstance {
  readonly kind: 'vrrp';
  readonly name: string;
  readonly interface: string;
  readonly family: Family;
  readonly version: 2 | 3;
  /** Virtual router id 1..255. */
  readonly vrid: number;
  /** Configured (base) priority 1..255; 255 = address owner. */
  readonly priority: number;
  /** v2: whole seconds; v3: multiple of 10 ms (0.01..40.95 s). */
  readonly advertIntervalMs: number;
  /** keepalived `state`: only an owner (255) starts as master at once. */
  readonly initialState: 'MASTER' | 'BACKUP';
  /** false with `nopreempt`. */
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  /** v2 password (truncated to 8 bytes on the wire); undefined = no auth. */
  readonly authPass?: string;
  /** How `authPass` is used: 'PASS' (default) in the advert, or 'AH' (IPsec AH with HMAC-MD5-96, keepalived `auth_type AH`). */
  readonly authType?: 'PASS' | 'AH';
  /** Advert source (`mcast_src_ip` / `unicast_src_ip`); default: interface primary address. */
  readonly srcip?: string;
  /** 224.0.0.18 or ff02::12 (or `mcast_dst_ip`). */
  readonly mcastGroup: string;
  /** Unicast peers: when non-empty adverts go to each peer instead of the group. */
  readonly unicastPeers: readonly string[];
  /** v3 over IPv4: omit the pseudo-header from the checksum (`v3_checksum_as_v2`). */
  readonly v3ChecksumAsV2: boolean;
  /** Advertised and added while master. */
  readonly addresses: readonly VirtualAddress[];
  /** Added while master but not advertised (`virtual_ipaddress_excluded`). */
  readonly excludedAddresses: readonly VirtualAddress[];
  /** Added after the addresses while master, removed before them (keepalived's order). */
  readonly routes: readonly VirtualRoute[];
  /** Added after the routes while master, removed before them. */
  readonly rules: readonly VirtualRule[];
  readonly trackInterfaces: readonly TrackRef[];
  readonly trackScripts: readonly TrackRef[];
  readonly trackFiles: readonly TrackRef[];
  /** keepalived `track_process`; undefined = none. */
  readonly trackProcesses?: readonly TrackRef[];
  /** Track the instance's own interface (false with `dont_track_primary`). */
  readonly trackPrimary: boolean;
  readonly notify: NotifyHooks;
  readonly garp: GarpSettings;
  /** Use a macvlan with the RFC virtual MAC 00-00-5E-00-01-VRID (`use_vmac`); the name, or undefined. */
  readonly vmacInterface?: string;
  /** keepalived `lower_prio_no_advert`. */
  readonly lowerPrioNoAdvert: boolean;
  /** keepalived `higher_prio_send_advert`. */
  readonly higherPrioSendAdvert: boolean;
  /** Master-down = downTimerAdverts x interval + skew (default 3). */
  readonly downTimerAdverts: number;
  /** Name of the sync group this instance belongs to. */
  readonly syncGroup?: string;
  /** A notify script running longer is killed (`hook_timeout`); undefined = the configuration's default. */
  readonly hookTimeoutMs?: number;
}

export interface SyncGroup {
  readonly name: string;
  readonly members: readonly string[];
  readonly notify: NotifyHooks;
  readonly trackInterfaces: readonly TrackRef[];
  readonly trackScripts: readonly TrackRef[];
  readonly trackFiles: readonly TrackRef[];
  /** keepalived `track_process`; undefined = none. */
  readonly trackProcesses?: readonly TrackRef[];
}

/**
 * CARP instances that fail over together (BSD carp's group demotion, seed 004): one member
 * losing its link makes every member advertise skew 240, so a preempting peer takes them all.
 */
export interface CarpGroup {
  readonly name: string;
  readonly members: readonly string[];
}

export type Instance = CarpInstance | VrrpInstance;

export interface LoggingConfig {
  /** syslog facility name (`daemon`, `local0`...) or `none`. */
  readonly facility: string;
  readonly debug: boolean;
  /** syslog ident (`ucarp` in ucarp mode so existing greps keep working). */
  readonly ident: string;
}

/**
 * What runs a resource: an OCF agent (`ocf:heartbeat:IPaddr2`), an LSB init script
 * (`lsb:postfix`), a systemd unit (`systemd:nginx.service`, only where systemd is PID 1) or
 * one of carpool's built-ins that need no external script (`builtin:address|http|tcp|command`).
 */
export type AgentSpec =
  | { readonly class: 'ocf'; readonly provider: string; readonly type: string }
  | { readonly class: 'lsb'; readonly type: string }
  | { readonly class: 'systemd'; readonly type: string }
  | { readonly class: 'builtin'; readonly type: 'address' | 'http' | 'tcp' | 'command' };

/**
 * What happens when an operation fails (Pacemaker `on-fail`). `standby` moves the group
 * away (the node goes to standby for the group's instance); `block` stops managing the
 * resource; `stop` leaves it (and the members after it) stopped here.
 */
export type OnFail = 'restart' | 'stop' | 'standby' | 'block' | 'ignore';

export interface ResourceOperation {
  /** Operation timeout; the agent's whole process group is killed when it runs out. */
  readonly timeoutMs: number;
  readonly onFail: OnFail;
}

export interface MonitorOperation extends ResourceOperation {
  /** Recurring interval (> 0). The initial probe (interval 0) always runs. */
  readonly intervalMs: number;
  /** `OCF_CHECK_LEVEL` handed to the agent (0, 10, 20...); undefined = not set. */
  readonly checkLevel?: number;
}

export interface Resource {
  /** Unique id; `OCF_RESOURCE_INSTANCE`. */
  readonly id: string;
  readonly agent: AgentSpec;
  /** Agent parameters (`OCF_RESKEY_<name>`), as text. */
  readonly params: Readonly<Record<string, string>>;
  /** Extra environment for the agent (e.g. `HA_RSCTMP`). */
  readonly env: Readonly<Record<string, string>>;
  readonly start: ResourceOperation;
  readonly stop: ResourceOperation;
  /** Recurring monitor; undefined = only the probe. */
  readonly monitor?: MonitorOperation;
  /** Failures before this node gives the group up (0 = never, Pacemaker's INFINITY). */
  readonly migrationThreshold: number;
  /** Failures older than this are forgotten (0 = never). */
  readonly failureTimeoutMs: number;
  /** Where the definition is, for diagnostics raised after validation (agent meta-data checks). */
  readonly origin?: { readonly file: string; readonly line: number; readonly column: number };
}

/**
 * Resources that run together, in order, on the node that is master of `instance`; stopped
 * in reverse order. A node that cannot run the group goes to standby for the instance.
 */
export interface ResourceGroup {
  readonly id: string;
  /** Name of the failover instance (CARP now, VRRP later) the group follows. */
  readonly instance: string;
  /** Resource ids, start order. */
  readonly members: readonly string[];
  /**
   * The group requires fencing: after this node became MASTER because the peer vanished
   * (master-down timeout), this command runs before the group starts, and the group starts
   * only if it exits 0 (docs/resources.md, "Failed stops and fencing").
   */
  readonly fence?: FenceCommand;
  /**
   * Order (Pacemaker `rsc_order first=X then=this`, mandatory): ids of groups of the same
   * instance that must be fully started on this node before this group starts, and that stop
   * only after this group has stopped. Empty when not set.
   */
  readonly after?: readonly string[];
  /**
   * Colocation (Pacemaker `rsc_colocation rsc=this with-rsc=X score=INFINITY`): the group this
   * one runs with; it follows that group's instance (`instance` is resolved from it).
   */
  readonly with?: string;
}

/** A fence command: executed without a shell, in its own process group, killed at the timeout. */
export interface FenceCommand {
  readonly argv: readonly string[];
  readonly timeoutMs: number;
}

/** Timeout of a fence command the configuration does not set (Pacemaker's `fencing-timeout`). */
export const DEFAULT_FENCE_TIMEOUT_MS = 60_000;

export interface ResourcesConfig {
  readonly resources: readonly Resource[];
  readonly groups: readonly ResourceGroup[];
}

// ---------------------------------------------------------------------------------------------
// Load balancing: keepalived's LVS half (`virtual_server`, `virtual_server_group`, `real_server` and
// the health checkers), as keepalived.conf(5) documents it. Every default is applied here, so the
// data plane and the checkers read resolved values: keepalived cascades a virtual server's setting
// to its real servers and a real server's to its checkers; the model holds the result at each level.

/** IPVS schedulers carpool accepts (ipvsadm(8) names; keepalived `lvs_sched`/`lb_algo`). `twos` is not. */
export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf'] as const;
export type Scheduler = typeof SCHEDULERS[number];
/** keepalived's scheduler when none is set (ipvsadm's default, IPVS_DEF_SCHED). */
export const DEFAULT_SCHEDULER: Scheduler = 'wlc';
/** Scheduler flags (`ipvsadm -b`; keepalived `sh-port`, `mh-fallback`, `flag-1`...). */
export const SCHEDULER_FLAGS = ['flag-1', 'flag-2', 'flag-3', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback'] as const;
export type SchedulerFlag = typeof SCHEDULER_FLAGS[number];

/** How packets reach a real server (keepalived `lvs_method`/`lb_kind`; default NAT). */
export interface Forwarding {
  readonly method: 'NAT' | 'DR' | 'TUN';
  /** TUN only: encapsulation (`type ipip|gue|gre`), ipip when not set. */
  readonly tunnelType?: 'ipip' | 'gue' | 'gre';
  /** TUN with gue: the UDP port (required there, nowhere else). */
  readonly tunnelPort?: number;
  /** TUN with gue or gre: `nocsum`, `csum`, `remcsum` (gue only). */
  readonly tunnelChecksum?: 'nocsum' | 'csum' | 'remcsum';
}

export type BalancerProtocol = 'TCP' | 'UDP' | 'SCTP';

/** Timing every checker shares (keepalived's common checker keywords), resolved. */
export interface CheckerTiming {
  /** Interval between checks (`delay_loop`, default 60 s, from the real or virtual server). */
  readonly delayLoopMs: number;
  /** Extra attempts after a failure of a live server before it is declared down (`retry`; default 1, MISC_CHECK 0, DNS_CHECK 3). */
  readonly retry: number;
  /** Pause before such a retry (`delay_before_retry`; default 1 s, HTTP_GET/SSL_GET 3 s, DNS_CHECK delay_loop). */
  readonly delayBeforeRetryMs: number;
  /** Random delay of the first check, at most this (`warmup`; default delay_loop, 0 = none). */
  readonly warmupMs: number;
  /** Start the server as down until the checker succeeds (`alpha`). */
  readonly alpha: boolean;
  /** Log every failure, not only state changes (`log_all_failures`). */
  readonly logAllFailures: boolean;
}

/** Where a network checker connects from and to (`connect_ip`, `connect_port`, `bindto`, ...). */
export interface CheckerConnection {
  /** Default: the real server's address. */
  readonly connectIp?: string;
  /** Default: the real server's port. */
  readonly connectPort?: number;
  readonly bindto?: string;
  readonly bindPort?: number;
  readonly bindIf?: string;
  /** fwmark put on the checker's packets. */
  readonly fwmark?: number;
  /** `connect_timeout`, default 5 s (from the real or virtual server). */
  readonly connectTimeoutMs: number;
}

/** One `url { }` of HTTP_GET / SSL_GET. */
export interface HttpUrl {
  readonly path: string;
  /** MD5 of the body, 32 lower-case hex digits (`genhash`). */
  readonly digest?: string;
  /** Accepted status codes as inclusive ranges; default 200-299. */
  readonly statusCodes: readonly (readonly [number, number])[];
  /** Host header of this URL; default the checker's. */
  readonly virtualhost?: string;
}

export type Checker =
  | (CheckerTiming & CheckerConnection & { readonly type: 'TCP_CHECK' | 'PING_CHECK' })
  | (CheckerTiming & CheckerConnection & {
    readonly type: 'HTTP_GET' | 'SSL_GET';
    readonly urls: readonly HttpUrl[];
    /** Host header (`virtualhost` of the checker, else of the real server, else of the virtual server). */
    readonly virtualhost?: string;
    /** `http_protocol`: 1.0 (default), 1.0C (1.0 with Connection: close) or 1.1. */
    readonly httpProtocol: '1.0' | '1.0C' | '1.1';
    readonly fastRecovery: boolean;
    /** SSL_GET: send SNI (`enable_sni`), with `sni_name` or the virtualhost. */
    readonly enableSni: boolean;
    readonly sniName?: string;
    readonly tlsCompliant: boolean;
  })
  | (CheckerTiming & CheckerConnection & {
    readonly type: 'SMTP_CHECK';
    /** HELO argument, default `smtpchecker.keepalived.org` (keepalived's SMTP_DEFAULT_HELO). */
    readonly heloName: string;
    /**
     * `host { }` blocks: every one must pass (checked in turn). Empty = the checker's own
     * connection (the real server). Unset fields of a host are the checker's; a host without
     * `connect_ip` is the real server (keepalived checks only the hosts when there are any).
     */
    readonly hosts: readonly CheckerConnection[];
  })
  | (CheckerTiming & CheckerConnection & {
    readonly type: 'DNS_CHECK';
    /** Query type, default SOA. */
    readonly queryType: 'A' | 'NS' | 'CNAME' | 'SOA' | 'MX' | 'TXT' | 'AAAA';
    /** Query name, default `.`. */
    readonly name: string;
  })
  | (CheckerTiming & CheckerConnection & {
    readonly type: 'UDP_CHECK';
    /** Bytes sent, as lower-case hex; random when not set. */
    readonly payload?: string;
    /** A reply is required (`require_reply`); with a hex pattern (x = any nibble) it must match. */
    readonly requireReply: boolean;
    readonly replyPattern?: string;
    readonly minReplyLength: number;
    readonly maxReplyLength: number;
  })
  | (CheckerTiming & {
    readonly type: 'MISC_CHECK';
    readonly command: Hook;
    /** `misc_timeout`; default the checker's delay_loop. */
    readonly timeoutMs: number;
    /** Exit codes 2..255 set the weight to code - 2 (`misc_dynamic`). */
    readonly dynamic: boolean;
    /** Run as this user (and group; default the user's), keepalived `user USER [GROUP]`; undefined = root. */
    readonly user?: { readonly user: string; readonly group?: string };
  })
  | {
    readonly type: 'FILE_CHECK';
    /** Name of a `track_file` whose value is read. */
    readonly trackFile: string;
    /** That track_file's `file`. */
    readonly path: string;
    /** Multiplier of the file's value (`weight N [reverse]`), default the track_file's. */
    readonly weight: number;
    readonly reverse: boolean;
  };

export type CheckerType = Checker['type'];

export interface RealServer {
  readonly family: Family;
  readonly address: string;
  /** Omitted in the file: the service's port (address services, as keepalived), else 0 = the port the client connected to. */
  readonly port: number;
  /** IPVS weight 0..2147483647, default 1 (the virtual server's `weight`); 0 = no new connections. */
  readonly weight: number;
  /** Default: the virtual server's. */
  readonly forwarding: Forwarding;
  /** Keep a failed server with weight 0 instead of removing it (default: the virtual server's). */
  readonly inhibitOnFailure: boolean;
  readonly alpha: boolean;
  readonly notifyUp?: Hook;
  readonly notifyDown?: Hook;
  /** Connection limits (`uthreshold`, `lthreshold`); undefined = none. */
  readonly upperThreshold?: number;
  readonly lowerThreshold?: number;
  readonly virtualhost?: string;
  /** Defaults for the checkers (from the virtual server when not set here). */
  readonly delayLoopMs: number;
  readonly connectTimeoutMs: number;
  readonly retry?: number;
  readonly delayBeforeRetryMs?: number;
  readonly warmupMs?: number;
  /** Every checker must pass; none = always up. */
  readonly checkers: readonly Checker[];
}

/** What a virtual server answers: an address and port, a firewall mark, or a virtual_server_group. */
export type VirtualService =
  | { readonly kind: 'address'; readonly address: string; readonly port: number }
  | { readonly kind: 'fwmark'; readonly fwmark: number }
  | { readonly kind: 'group'; readonly group: string };

export interface SorryServer {
  readonly family: Family;
  readonly address: string;
  readonly port: number;
  /** `sorry_server_inhibit`. */
  readonly inhibit: boolean;
  /** `sorry_server_lvs_method`; default the virtual server's. */
  readonly forwarding: Forwarding;
}

export interface VirtualServer {
  /** `IP port`, `fwmark N` or `group NAME`, as written (for logs and status). */
  readonly name: string;
  readonly service: VirtualService;
  readonly family: Family;
  /** Undefined for a fwmark service (keepalived ignores it there). Address services default to UDP, as keepalived. */
  readonly protocol?: BalancerProtocol;
  readonly scheduler: Scheduler;
  readonly schedulerFlags: readonly SchedulerFlag[];
  /** One-packet scheduling (`ops`, UDP only). */
  readonly onePacket: boolean;
  readonly forwarding: Forwarding;
  /**
   * DR/TUN: the interface the VIP's packets arrive on (carpool YAML `interface`; keepalived.conf
   * has no keyword: the balancer takes the device of the instance holding the VIP).
   */
  readonly interface?: string;
  /** Seconds; undefined = not persistent. A bare `persistence_timeout` is 360 s. */
  readonly persistenceTimeout?: number;
  /** Client mask of persistence as a prefix length (IPv4 netmask 255.255.255.0 = 24). */
  readonly persistenceGranularity?: number;
  /** Suspend the checkers while the VIP is not on this host (`ha_suspend`). */
  readonly haSuspend: boolean;
  readonly virtualhost?: string;
  readonly sorryServer?: SorryServer;
  /** `alpha`: servers start down. */
  readonly alpha: boolean;
  /** `omega`: run quorum_down and notify_down scripts on shutdown. */
  readonly omega: boolean;
  /** Minimum sum of live weights (default 1); below it, quorum_down and the sorry server. */
  readonly quorum: number;
  /** Dampens quorum flaps (default 0, always below quorum). */
  readonly hysteresis: number;
  readonly quorumUp?: Hook;
  readonly quorumDown?: Hook;
  /** Defaults of the real servers and checkers: delay_loop 60 s, connect_timeout 5 s. */
  readonly delayLoopMs: number;
  readonly connectTimeoutMs: number;
  readonly retry?: number;
  readonly delayBeforeRetryMs?: number;
  readonly warmupMs?: number;
  readonly inhibitOnFailure: boolean;
  readonly realServers: readonly RealServer[];
  /**
   * Where the virtual server is defined, for what is refused after parsing (`carpool check`, `run`:
   * src/cli/preflight.ts). Not enumerable: no part of the model's equality or JSON.
   */
  readonly origin?: { readonly file: string; readonly line: number; readonly column: number };
}

/** One line of a virtual_server_group: an address range with an optional port, or a firewall mark. */
export type VirtualServerGroupEntry =
  | { readonly kind: 'range'; readonly family: Family; readonly first: string; readonly last: string; readonly port: number }
  | { readonly kind: 'fwmark'; readonly fwmark: number; readonly family?: Family };

export interface VirtualServerGroup {
  readonly name: string;
  readonly entries: readonly VirtualServerGroupEntry[];
}

export interface BalancerConfig {
  readonly groups: readonly VirtualServerGroup[];
  readonly virtualServers: readonly VirtualServer[];
  /**
   * carpool's own (keepalived has none: IPVS decides per connection): how often connection
   * counts are read and the lc/wlc/sed/nq/ovf tables rebuilt, ms; undefined = 1 s.
   */
  readonly countIntervalMs?: number;
}

/**
 * The opt-in HTTP listener (`http:`): `/metrics` (Prometheus), `/status` (JSON) and a live
 * dashboard, read-only. Loopback unless TLS and a token are both set (validated).
 */
export interface HttpConfig {
  /** Address to listen on: an IPv4 or IPv6 literal, or `localhost`. */
  readonly host: string;
  readonly port: number;
  /** File holding the bearer token every request must carry; undefined = no token asked. */
  readonly tokenFile?: string;
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface CarpoolConfig {
  /** File the configuration came from (or `<command line>`). */
  readonly source: string;
  readonly instances: readonly Instance[];
  /** `protocol: etcd` instances (issue 16); absent = none. */
  readonly etcdInstances?: readonly EtcdInstance[];
  /** `cluster:`: publish this node's status to etcd for `carpool status --cluster`; absent = not published. */
  readonly cluster?: ClusterConfig;
  readonly vrrpScripts: readonly VrrpScript[];
  readonly trackFiles: readonly TrackFile[];
  /** keepalived `vrrp_track_process`; undefined = none. */
  readonly trackProcesses?: readonly TrackProcess[];
  readonly syncGroups: readonly SyncGroup[];
  /** Load sharing: addresses every node serves, split into buckets (issue 15); absent = none. */
  readonly sharing?: readonly SharedAddress[];
  /** CARP groups (CARP members of `sync_groups`, or every CARP instance with `carp_preempt`); absent = none. */
  readonly carpGroups?: readonly CarpGroup[];
  readonly logging: LoggingConfig;
  /** Unix control socket path (mode 0600, root only). */
  readonly controlSocket: string;
  /** Directory for the state file that records addresses the daemon added. */
  readonly stateDir: string;
  /** Resource management (`resources:` / `groups:`); undefined when the file has none. */
  readonly resources?: ResourcesConfig;
  /**
   * SCHED_RR priority (1..99) for the daemon's event loop (`realtime_priority`, keepalived
   * `vrrp_rt_priority`): adverts keep their timing on a loaded machine. Undefined = normal.
   */
  readonly realtimePriority?: number;
  /**
   * Default timeout of hooks and notify scripts (YAML `hook_timeout`); undefined = 120 s, as
   * `carpool ucarp` and keepalived.conf (which has no such setting) always use.
   */
  readonly hookTimeoutMs?: number;
  /**
   * Load balancing (keepalived `virtual_server`, carpool YAML `balancers:`); undefined when the
   * file has none, or keepalived.conf was read with `--vrrp-only`.
   */
  readonly balancers?: BalancerConfig;
  /** The HTTP listener; undefined = nothing listens (the default). */
  readonly http?: HttpConfig;
  /** Static addresses, routes and rules; undefined when the file has none. */
  readonly static?: StaticSetup;
  /**
   * keepalived `vrrp_notify_fifo` (else `notify_fifo`): every VRRP notify event is also written
   * to this FIFO as a line `INSTANCE "VI_1" MASTER 100`; undefined = none.
   */
  readonly notifyFifo?: NotifyFifo;
  /**
   * keepalived `net_namespace`: the daemon joins /run/netns/NAME before it opens a socket; its
   * interfaces, addresses, routes and hooks are that namespace's. Undefined = where it started.
   */
  readonly netNamespace?: string;
}

/** A FIFO the daemon writes notify events to, and the reader it may start. */
export interface NotifyFifo {
  readonly path: string;
  /** Started with the FIFO's path appended, kept running, stopped with the daemon (keepalived `*_notify_fifo_script`). */
  readonly script?: Hook;
}

export const DEFAULT_CONTROL_SOCKET = '/run/carpool/carpool.sock';
export const DEFAULT_STATE_DIR = '/run/carpool';
export const CARP_MCAST = '224.0.0.18';
export const VRRP_MCAST4 = '224.0.0.18';
export const VRRP_MCAST6 = 'ff02::12';
/** Timeout of a resource operation (start, stop, monitor) the configuration does not set (Pacemaker's default). */
export const DEFAULT_OP_TIMEOUT_MS = 20_000;
/** keepalived.conf(5): `delay_loop` 60 s, `connect_timeout` 5 s, a bare `persistence_timeout` 6 min. */
export const DEFAULT_DELAY_LOOP_MS = 60_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_PERSISTENCE_TIMEOUT = 360;
export const DEFAULT_SMTP_HELO = 'smtpchecker.keepalived.org';
