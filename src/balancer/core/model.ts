/**
 * The balancer core's own input model: virtual services and their real servers, as the
 * schedulers, the health verdicts and the nftables plane read them. The config front ends
 * (keepalived `virtual_server`, YAML `balancers:`) are mapped onto this by the shell; the
 * core does not import src/config. Pure data, readonly. Names follow keepalived.conf(5)
 * (notes §3.3) where a keyword exists; times are in milliseconds (the shell converts).
 */

export type Family = 'ipv4' | 'ipv6';
export type Protocol = 'tcp' | 'udp' | 'sctp';
/** LVS forwarding method (`lb_kind` / `lvs_method`). */
export type Method = 'nat' | 'dr' | 'tun';
/** IPVS scheduler names this core implements (`lb_algo` / `lvs_sched`), notes §4. */
export type SchedulerName = 'rr' | 'wrr' | 'lc' | 'wlc' | 'lblc' | 'lblcr' | 'sh' | 'dh' | 'mh' | 'sed' | 'nq' | 'fo' | 'ovf';
export const SCHEDULERS: readonly SchedulerName[] = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'mh', 'sed', 'nq', 'fo', 'ovf'];

/** Operator's say over a real server (`carpool balancer drain|enable|disable`). */
export type AdminState = 'enabled' | 'drained' | 'disabled';
/** Health verdict of a real server (health.ts). */
export type Health = 'up' | 'down';

/** What a virtual service listens on: VIP and port, or a firewall mark (`virtual_server fwmark N`). */
export type ServiceMatch =
  | { readonly kind: 'addr'; readonly vip: string; readonly port: number }
  | { readonly kind: 'fwmark'; readonly mark: number };

export interface Persistence {
  /** `persistence_timeout`, ms (keepalived: bare keyword = 360 s). */
  readonly timeoutMs: number;
  /**
   * `persistence_granularity` as a prefix length: clients whose addresses agree in this many
   * leading bits share a server (IPv4 32 = per client; 24 = 255.255.255.0).
   */
  readonly prefixLength: number;
}

export interface QuorumSettings {
  /** `quorum`: minimum Σ weight of live real servers for the service to be up (default 1). */
  readonly quorum: number;
  /** `hysteresis`: up again at ≥ quorum + hysteresis, down below quorum − hysteresis (default 0). */
  readonly hysteresis: number;
  /** `quorum_up` / `quorum_down` commands (run by the shell). */
  readonly upCommand?: string;
  readonly downCommand?: string;
}

/**
 * Timing and verdict settings of one health checker of a real server (keepalived cascades
 * them VS → RS → checker; the front end resolves the cascade). The probe itself (TCP_CHECK,
 * HTTP_GET, MISC_CHECK...) is the shell's; the core only sees ok/fail results.
 */
export interface CheckerSettings {
  /** For logs and status, e.g. `TCP_CHECK 192.168.0.101:25`. */
  readonly name: string;
  /** `delay_loop`, ms: the time between checks of a healthy (or settled-down) server. */
  readonly delayLoopMs: number;
  /** `retry`: failures after the first one before the checker fails (down after retry + 1). */
  readonly retry: number;
  /** `delay_before_retry`, ms: the time before a retry after a failure. */
  readonly delayBeforeRetryMs: number;
  /** `warmup`, ms: the first check runs after a random share of this (the shell's jitter). */
  readonly warmupMs: number;
  /** `alpha`: the checker starts failed until its first success. */
  readonly alpha: boolean;
  /** carpool: consecutive successes before a failed checker is up again (keepalived: 1). */
  readonly rise: number;
  /** MISC_CHECK `misc_dynamic`: exit 2..255 = up with weight exit − 2. */
  readonly dynamicWeight: boolean;
  /**
   * FILE_CHECK: how the number read from the file counts (keepalived's track_file for real
   * servers). Weight 0: non-zero is a failure (with `reverse`, zero is); otherwise value × weight
   * (negated with `reverse`) is added to the server's weight, and ≤ −2147483648 is a failure.
   */
  readonly file?: { readonly weight: number; readonly reverse: boolean };
}

export interface RealServer {
  /** Address in canonical text form (`192.168.0.101`, `fd00::1`). */
  readonly address: string;
  /** Port; for DR/TUN it must equal the service port (no rewriting), or be omitted. */
  readonly port?: number;
  /** Configured weight (keepalived `weight`, 0..2^31−1; default 1). 0 = quiesced. */
  readonly weight: number;
  /** `inhibit_on_failure`: a failed server keeps its place with weight 0 instead of going. */
  readonly inhibitOnFailure: boolean;
  readonly notifyUp?: string;
  readonly notifyDown?: string;
  /** Health checkers; none = always up (keepalived keeps such a server in the pool). */
  readonly checkers: readonly CheckerSettings[];
  /** IPVS `u_threshold`: above this many active connections the server is overloaded (0 = none). */
  readonly upperThreshold?: number;
  /** IPVS `l_threshold`: an overloaded server is back below this (default upper × 3/4). */
  readonly lowerThreshold?: number;
}

export interface VirtualService {
  /** Stable name: the shell keeps it across reloads (e.g. `123.123.123.1:25/tcp`). */
  readonly name: string;
  readonly family: Family;
  readonly match: ServiceMatch;
  readonly protocol: Protocol;
  readonly scheduler: SchedulerName;
  readonly method: Method;
  /** sh/mh: hash the source port too (`sh-port` / `mh-port`). */
  readonly hashPort: boolean;
  /** sh/mh: an unavailable server's buckets fall back to others (`sh-fallback` / `mh-fallback`). */
  readonly hashFallback: boolean;
  readonly persistence?: Persistence;
  readonly quorum: QuorumSettings;
  /**
   * `sorry_server`: gets the traffic while the quorum is lost. `inhibit` (`sorry_server_inhibit`):
   * the rest of the time it stays in the pool with weight 0 (no new connections, its flows go
   * on) instead of leaving it, as `inhibit_on_failure` does for a real server.
   */
  readonly sorryServer?: { readonly address: string; readonly port?: number; readonly inhibit?: boolean };
  /** `alpha`: servers start down until their first successful check. */
  readonly alpha: boolean;
  /** `omega`: run `quorum_down` when the service is removed (shutdown, reload). */
  readonly omega: boolean;
  /** `ha_suspend`: rules only while the VRRP instance owning the VIP is MASTER (shell). */
  readonly haSuspend: boolean;
  /** DR/TUN: the interface the VIP's packets arrive on (netdev ingress hook). */
  readonly ingressDevice?: string;
  /** DR: where the real servers are (default: `ingressDevice`). */
  readonly egressDevice?: string;
  readonly realServers: readonly RealServer[];
}

/** A real server as the schedulers see it at one instant. */
export interface Candidate {
  /** Stable key (`address:port`), also the Maglev permutation key. */
  readonly key: string;
  /** Effective weight now (configured, or dynamic from misc_dynamic; 0 = no new connections). */
  readonly weight: number;
  /** IPVS activeconns (TCP ESTABLISHED). */
  readonly active: number;
  /** IPVS inactconns (other states). */
  readonly inactive: number;
  /** Over `u_threshold`: skipped for new connections. */
  readonly overloaded?: boolean;
}

/** `address:port` (IPv6 in brackets), the key of a real server everywhere in the core. */
export function serverKey(address: string, port?: number): string {
  const a = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? a : `${a}:${port}`;
}

/**
 * keepalived's `persistence_granularity` as a prefix length: an IPv4 netmask
 * (`255.255.255.0` → 24) or, for IPv6, a prefix length (`64`). A mask with holes is an
 * error (IPVS masks the client address; holes would group unrelated clients).
 */
export function granularityPrefix(family: Family, text: string): number {
  const t = text.trim();
  const bits = family === 'ipv4' ? 32 : 128;
  if (/^\d{1,3}$/.test(t)) {
    const n = Number(t);
    if (n <= bits) return n;
  } else if (family === 'ipv4' && /^\d{1,3}(\.\d{1,3}){3}$/.test(t)) {
    const octets = t.split('.').map(Number);
    if (octets.every((o) => o <= 255)) {
      const m = octets.reduce((a, o) => a * 256 + o, 0);
      const ones = m.toString(2).replace(/0+$/, '');
      if (m === 0) return 0;
      if (ones.length <= 32 && !ones.includes('0') && m.toString(2).length === 32) return ones.length;
    }
  }
  throw new RangeError(`persistence_granularity "${text}": expected ${family === 'ipv4' ? 'a contiguous netmask like 255.255.255.0 or a prefix length 0..32' : 'a prefix length 0..128'}`);
}

/** True when a server can take new connections: weight > 0 and not overloaded. */
export function available(c: Candidate): boolean {
  return c.weight > 0 && !c.overloaded;
}
