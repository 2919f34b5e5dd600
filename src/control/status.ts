/**
 * The status document a daemon answers on its control socket (`carpool status --json`
 * prints it as is). Plain data; the shape is the API. Rendered by `src/status/`.
 */

export interface TransitionInfo {
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  /** ISO time of the change (wall clock, for people). */
  readonly at: string;
  /**
   * Seconds since the change, from the daemon's monotonic clock when it answered: right even
   * after the wall clock jumped (older daemons leave it out; clients then use `at`).
   */
  readonly agoSeconds?: number;
}

export interface InstanceStatus {
  readonly name: string;
  readonly protocol: 'carp' | 'vrrp' | 'etcd';
  readonly interface: string;
  /** vhid (CARP) or VRID (VRRP); 0 for etcd. */
  readonly vhid: number;
  readonly state: string;
  /** Address of the current master as last heard, `self`, or null when unknown. */
  readonly master: string | null;
  readonly source: string;
  readonly addresses: readonly string[];
  /** Are the virtual addresses on this host right now (native mode). */
  readonly holdsAddresses: boolean;
  readonly linkUp: boolean;
  /** Protocol-specific preference: CARP advbase/advskew, VRRP priority. */
  readonly priority: Readonly<Record<string, number | boolean>>;
  /** CARP: why the instance's group demotes it (a member lost its link), when it does. */
  readonly groupDemotion?: string;
  readonly lastTransition: TransitionInfo | null;
  readonly transitions: number;
  /** ISO time this host last became MASTER (its last takeover), null if it never has. */
  readonly becameMasterAt: string | null;
  /** etcd instances: the lease as this node sees it (docs/etcd.md). */
  readonly etcd?: EtcdInstanceStatus;
  readonly counters: {
    readonly advertsSent: number;
    readonly advertsReceived: number;
    readonly sendErrors: number;
    /** Dropped received packets by reason (ttl, length, checksum, version, destination, digest, ...). */
    readonly drops: Readonly<Record<string, number>>;
  };
}

export interface EtcdInstanceStatus {
  readonly key: string;
  readonly node: string;
  /** The node etcd names under the key (null = nobody). */
  readonly holder: string | null;
  /** The key's create revision (the fencing token) while it exists, else etcd's revision; null before the first answer. */
  readonly revision: number | null;
  /** How long this node's lease is surely valid (ms), null without a lease. */
  readonly leaseLeftMs: number | null;
  /** Requests to etcd that failed, and the last error. */
  readonly failures: number;
  readonly lastError: string | null;
  /** `carpool demote` in force (the node does not contend until `--clear`); absent in older daemons. */
  readonly demoted?: boolean;
  /** A demoted master keeping its addresses until its successor confirms. */
  readonly handingOver?: boolean;
  /** This node's preference (`priority`, `preempt`, `preempt_delay`), when configured (docs/etcd.md "Preference"). */
  readonly preference?: { readonly priority: number; readonly preempt: boolean; readonly preemptDelayMs: number };
  /** The candidacies last read from etcd: each node's preference and how long it has been seen unchanged. */
  readonly candidates?: readonly { readonly node: string; readonly priority: number; readonly preempt: boolean; readonly preemptDelayMs: number; readonly demoted: boolean; readonly seenMs: number }[];
  /** The node a preference hand-over is reserved for, while one runs. */
  readonly handoverTo?: string | null;
  /** Candidacy documents left out as malformed, since start. */
  readonly badCandidacies?: number;
  /** The policy when etcd cannot be reached; absent in older daemons (= step-down). */
  readonly unreachable?: 'step-down' | 'failsafe';
  /** Policy failsafe: the peers' confirmations (docs/etcd.md). */
  readonly failsafe?: EtcdFailsafeStatus;
}

export interface EtcdFailsafeStatus {
  /** Members (this node included) and how many must confirm (a majority). */
  readonly members: number;
  readonly needed: number;
  /** The master holds past its lease bound on the peers' confirmations. */
  readonly active: boolean;
  /** ms the confirmations still allow, null = none. */
  readonly leftMs: number | null;
  /** This node confirmed another master: not contending for this long (ms), null = no promise. */
  readonly promisedMs: number | null;
  /** The last answer of each peer to this node's questions. */
  readonly confirmations: readonly { readonly peer: string; readonly node: string; readonly agoMs: number; readonly confirms: boolean; readonly why: string }[];
  readonly questionsSent: number;
  readonly answered: number;
  /** Peer messages dropped, by reason (malformed, auth, unknownPeer, instance, stale, replay, unsolicited). */
  readonly drops: Readonly<Record<string, number>>;
  /** The socket could not be opened (the policy then works as step-down). */
  readonly error: string | null;
}

export interface InterfaceStatus {
  readonly name: string;
  readonly up: boolean;
  /** Packets that could not be attributed to an instance (e.g. unknown vhid), by reason. */
  readonly drops: Readonly<Record<string, number>>;
}

export interface DaemonStatus {
  readonly version: string;
  readonly pid: number;
  readonly mode: 'run' | 'ucarp';
  readonly config: string;
  readonly startedAt: string;
  /** From the monotonic clock: a wall-clock jump does not change it. */
  readonly uptimeSeconds: number;
  /** The event loop's scheduling: 'normal' or 'SCHED_RR N' (`realtime_priority`). */
  readonly scheduling?: string;
  readonly instances: readonly InstanceStatus[];
  readonly interfaces: readonly InterfaceStatus[];
  /** Other sections (resources) are added by their subsystems. */
  readonly [section: string]: unknown;
}

/** `balancers` section: the load balancer's virtual servers (src/balancer/shell/balancer.ts). */
export interface BalancersStatus {
  readonly services: readonly BalancerServiceStatus[];
  /** The nftables data plane: applied or not, transactions, the last failure. */
  readonly plane: {
    /** A ruleset of this daemon is in the kernel (a failed transaction leaves the previous one). */
    readonly inForce: boolean;
    /** The latest change is not in force yet: its transaction failed and is retried. */
    readonly pending?: boolean;
    readonly applies: number;
    readonly failures: number;
    readonly lastAppliedAt?: string;
    readonly lastError?: string;
  };
  /**
   * Per-server packets/bytes come from conntrack accounting: `on` when carpool turned it on and
   * subscribed to destroy events; `lostEvents` > 0 = the totals miss ended flows (socket overruns).
   */
  readonly accounting?: { readonly on: boolean; readonly lostEvents: number };
}

export interface BalancerServiceStatus {
  /** `VIP:port/proto`. */
  readonly name: string;
  readonly scheduler: string;
  readonly method: string;
  readonly quorumUp: boolean;
  /** The configuration's name (`10.0.0.1 80`, `fwmark 5`, `group web`). */
  readonly configName?: string;
  /** Every address (or `fwmark:N`) the service answers, `VIP:port/proto`: one, or a group's entries. */
  readonly entries?: readonly string[];
  /** `persistence_timeout` in seconds; absent = not persistent. */
  readonly persistenceSeconds?: number;
  /** Configured real servers the operator removed at runtime (`carpool balancer remove`). */
  readonly removed?: readonly string[];
  /** `ha_suspend` and its address not set on this host: its checkers wait. */
  readonly suspended?: boolean;
  readonly servers: readonly BalancerServerStatus[];
}

export interface BalancerServerStatus {
  /** `address:port`. */
  readonly key: string;
  readonly health: 'up' | 'down';
  readonly admin: string;
  readonly configuredWeight: number;
  /** Weight in the plane now; null = not in the plane. 0 = no new connections. */
  readonly weight: number | null;
  /** The operator's runtime weight (`carpool balancer weight`), over the configured one. */
  readonly weightOverride?: number;
  /** Added at runtime (`carpool balancer add`), not in the configuration. */
  readonly runtime?: boolean;
  /** Connections in conntrack now (NAT): TCP/SCTP ESTABLISHED (UDP: all) = active, other states = inactive (IPVS ActiveConn/InActConn). */
  readonly active?: number;
  readonly inactive?: number;
  /** Since the daemon started (nft counters of the plane; packets and bytes both ways, like `ipvsadm --stats`). */
  readonly stats?: { readonly connections: number; readonly packets: number; readonly bytes: number };
  /** Over the last count period: connections, packets and bytes per second, both ways (`ipvsadm --rate`: CPS, PPS, BPS in bytes). */
  readonly rates?: { readonly cps: number; readonly pps: number; readonly bps: number };
  readonly checkers: readonly {
    readonly name: string;
    readonly up: boolean;
    /** Last probe: result, what it saw, ISO time. */
    readonly last?: { readonly ok: boolean; readonly detail: string; readonly at: string };
  }[];
}
