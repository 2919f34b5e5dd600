/**
 * Loader and exact type of the native addon `carpool_net` (native/*.c; the export table is in
 * native/carpool_net.c).
 *
 * The addon is loaded lazily on first use, so modules that only import types (or pure
 * modules that never touch the network) work without a compiler. It is found relative to
 * this file: `src/net/native.ts` (tsx, vitest) and `dist/net/native.js` (built) both sit two
 * levels below the package root, next to which node-gyp writes `build/Release`.
 *
 * Conventions of the raw binding (the typed wrappers in this folder hide them):
 *  - families are the numbers 4 and 6;
 *  - fds are plain numbers owned by the addon; functions only accept fds the addon opened
 *    (an unknown fd throws `EBADF`), and closing is idempotent;
 *  - failed opens and programming errors throw an `Error` with `code` = errno name
 *    (`EPERM`, `ENODEV`, ...), `errno` = -errno and `syscall`; bad argument types throw a
 *    `TypeError` with code `EINVAL`;
 *  - sends and netlink requests return a number: >= 0 on success, `-errno` otherwise
 *    (ENOBUFS, EAGAIN, EEXIST, ... are results, not exceptions);
 *  - an exception thrown by a receive callback is caught in C and passed to
 *    `process.emitWarning()`; receiving continues.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { CarpoolError } from '../lib/errors.js';

export type NativeFamily = 4 | 6;

export interface NativeRawOpenOptions {
  /** IP_TOS / IPV6_TCLASS byte (CARP 0x10, VRRP 0xC0); kernel default when absent. */
  readonly tos?: number;
  /** IP_TTL / IPV6_UNICAST_HOPS for unicast destinations (default 255). */
  readonly unicastTtl?: number;
  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS (default 255). Adverts must use 255; tests inject others. */
  readonly multicastTtl?: number;
  /** IPv4 IP_HDRINCL: the caller writes the IP header (VRRP IPsec AH). */
  readonly headerIncluded?: boolean;
}

/**
 * Receive callback of a raw socket. IPv4: `packet` is the whole datagram including the IP
 * header; src/dst/ttl come from that header. IPv6: `packet` is the payload after the IPv6
 * header; src from the socket address, dst and ifindex from IPV6_PKTINFO, ttl is the hop
 * limit (IPV6_HOPLIMIT). `ttl` is -1 if the kernel did not say.
 */
export type NativeRawCallback = (packet: Buffer, src: string, dst: string, ttl: number, ifindex: number) => void;

export interface NativeIfInfo {
  readonly index: number;
  /** The real device name (for `eth0:carp0` this is `eth0`). */
  readonly name: string;
  /** `aa:bb:cc:dd:ee:ff` (lower case). */
  readonly mac: string;
  /** ARPHRD_* hardware type (1 = Ethernet, 772 = loopback). */
  readonly hwType: number;
  /** IFF_* flags as SIOCGIFFLAGS reports them (lower 16 bits). */
  readonly flags: number;
  readonly up: boolean;
  /** IFF_RUNNING: up and carrier present. */
  readonly running: boolean;
  readonly mtu: number;
}

export interface NativeAddress {
  readonly ifindex: number;
  readonly family: NativeFamily;
  readonly address: string;
  readonly prefix: number;
  /** IPv4 label (`eth0`, `eth0:vip`), null for IPv6. */
  readonly label: string | null;
  /** IFA_F_* flags (IFA_FLAGS attribute when present). */
  readonly flags: number;
  /** IFA_PROTO (Linux >= 6.1), 0 when absent. */
  readonly proto: number;
  /** RT_SCOPE_* (0 universe, 253 link, 254 host). */
  readonly scope: number;
}

export interface NativeAddrAddOptions {
  /** IPv4 only; must start with the device name to show up as an alias (`eth0:vip`). */
  readonly label?: string;
  /** IPv4 only: broadcast address. */
  readonly broadcast?: string;
  readonly nodad?: boolean;
  readonly noprefixroute?: boolean;
  /** IFA_PROTO tag; retried without it when the kernel refuses (EINVAL/EOPNOTSUPP). */
  readonly proto?: number;
  /** RT_SCOPE_*; universe (host for 127/8) when undefined, as `ip addr add`. */
  readonly scope?: number;
}

export interface NativeRouteSpec {
  readonly family: NativeFamily;
  /** Destination network; `0.0.0.0` / `::` with prefix 0 for the default route. */
  readonly dst: string;
  readonly prefix: number;
  readonly gateway?: string;
  readonly ifindex?: number;
  /** Routing table id (default 254 = main). */
  readonly table?: number;
  readonly metric?: number;
  /** RT_SCOPE_*; add defaults to link for a device route without gateway, else universe. */
  readonly scope?: number;
  /** Preferred source address (RTA_PREFSRC). */
  readonly src?: string;
  /** RTPROT_*; add defaults to 3 (boot) like `ip route add`, delete matches any. */
  readonly proto?: number;
  /** RTN_* route type: 1 unicast (default), 6 blackhole, 7 unreachable, 8 prohibit. */
  readonly type?: number;
  /** A multipath route (RTA_MULTIPATH): 1..16 next hops, each a gateway and/or a device; weight 1..256. */
  readonly nexthops?: readonly { readonly gateway?: string; readonly ifindex?: number; readonly weight?: number }[];
}

/** A policy routing rule (`ip rule`): what it matches and what it does. */
export interface NativeRuleSpec {
  readonly family: NativeFamily;
  readonly from?: { readonly address: string; readonly prefix: number };
  readonly to?: { readonly address: string; readonly prefix: number };
  readonly table?: number;
  /** The rule's preference (FRA_PRIORITY): the order rules are tried in. */
  readonly priority?: number;
  readonly fwmark?: number;
  readonly fwmask?: number;
  /** Interface names; the device need not exist yet. */
  readonly iif?: string;
  readonly oif?: string;
  /** FR_ACT_*: 1 look up `table` (default), 6 blackhole, 7 unreachable, 8 prohibit. */
  readonly action?: number;
}

export type NativeLinkEvent =
  | {
    readonly type: 'link';
    readonly ifindex: number;
    readonly name: string | null;
    /** Full IFF_* flags incl. IFF_LOWER_UP (0x10000). */
    readonly flags: number;
    readonly up: boolean;
    readonly running: boolean;
    readonly lowerUp: boolean;
    readonly deleted: boolean;
  }
  | (NativeAddress & { readonly type: 'addr'; readonly deleted: boolean })
  | { readonly type: 'overrun' };

export interface NativeLinkMonitorOptions {
  /** Socket receive buffer in bytes (default 256 KiB); small values provoke overruns in tests. */
  readonly rcvbuf?: number;
}

/** Everything `build/Release/carpool_net.node` exports. */
export interface NativeBinding {
  rawOpen(family: NativeFamily, protocol: number, ifname: string, opts?: NativeRawOpenOptions): number;
  rawBind(fd: number, family: NativeFamily, srcAddress: string): void;
  rawJoin(fd: number, family: NativeFamily, group: string, ifname: string): void;
  rawLeave(fd: number, family: NativeFamily, group: string, ifname: string): void;
  /** IPv6 only; -1 disables. VRRPv3 over IPv6 uses 6. */
  rawSetChecksumOffset(fd: number, offset: number): void;
  /**
   * Bytes sent or -errno. `src` picks the source address for this datagram (IP_PKTINFO /
   * IPV6_PKTINFO); it must be local, else the kernel says -ENETUNREACH (IPv4) / -EINVAL (IPv6).
   */
  rawSend(fd: number, family: NativeFamily, dst: string, payload: Uint8Array, src?: string): number;
  rawStart(fd: number, family: NativeFamily, callback: NativeRawCallback): void;
  rawStop(fd: number): void;
  /** True when the fd was open. */
  rawClose(fd: number): boolean;

  packetOpen(ifname: string): number;
  /** Bytes sent or -errno; ifindex 0 = the interface given to packetOpen. */
  packetSend(fd: number, ifindex: number, frame: Uint8Array): number;
  packetClose(fd: number): boolean;

  ifInfo(ifname: string): NativeIfInfo | null;

  /** 0 or -errno (-EEXIST when present). */
  addrAdd(ifindex: number, family: NativeFamily, address: string, prefix: number, opts?: NativeAddrAddOptions): number;
  /** 0 or -errno (-EADDRNOTAVAIL when absent). */
  addrDel(ifindex: number, family: NativeFamily, address: string, prefix: number): number;
  /** ifindex 0 = all interfaces. */
  addrList(ifindex: number): NativeAddress[];
  /** 0 or -errno; NLM_F_CREATE|NLM_F_REPLACE. */
  routeAdd(spec: NativeRouteSpec): number;
  /** 0 or -errno (-ESRCH when absent). */
  routeDel(spec: NativeRouteSpec): number;
  /** 0 or -errno (-EEXIST for the same rule); NLM_F_CREATE|NLM_F_EXCL. */
  ruleAdd(spec: NativeRuleSpec): number;
  /** 0 or -errno (-ENOENT when absent). */
  ruleDel(spec: NativeRuleSpec): number;
  /**
   * NETLINK_NETFILTER: send `bytes` (one nfnetlink batch) and collect the kernel's
   * NLMSG_ERROR answers (error 0 = ack, else -errno) until `expect` arrived or `timeoutMs`
   * passed. `sent` is 0 or -errno of the send, `recv` 0 or -errno of a receive that failed
   * (ENOBUFS: answers lost). Throws only when no socket can be opened. The socket is made in
   * the calling thread's network namespace and kept for the next batch (closing one costs an
   * RCU grace period); a batch sent while it is busy gets a socket of its own.
   */
  nfnlSend(bytes: Uint8Array, expect: number, timeoutMs: number): Promise<{ sent: number; recv: number; replies: { seq: number; error: number }[] }>;

  linkMonitorOpen(callback: (event: NativeLinkEvent) => void, opts?: NativeLinkMonitorOptions): number;
  linkMonitorClose(fd: number): boolean;

  /**
   * NETLINK_NETFILTER socket bound to `groups` (nl_groups bit mask, e.g. 0x4 =
   * NFNLGRP_CONNTRACK_DESTROY); each datagram is passed as bytes, null = overrun (ENOBUFS:
   * the kernel dropped events). `rcvbuf` defaults to 8 MiB (SO_RCVBUFFORCE when privileged).
   */
  ctEventsOpen(groups: number, callback: (bytes: Buffer | null) => void, opts?: { rcvbuf?: number }): number;
  ctEventsClose(fd: number): boolean;

  /** SCHED_RR at `priority` (1..99) for the JS thread, 0 = back to SCHED_OTHER. 0 or -errno. */
  setRealtime(priority: number): number;
  /** setns(CLONE_NEWNET) of the JS thread into the namespace file `path`. 0 or -errno. */
  setNetns(path: string): number;
  /**
   * mlockall(MCL_CURRENT|MCL_FUTURE): 0 or -errno. DANGER: V8 aborts when Linux refuses
   * MADV_DONTNEED on the locked pages (at exit, and at run time when GC frees code pages);
   * call munlockAll() before anything else runs. See MEMORY_LOCK_UNSAFE in realtime.ts.
   */
  mlockAll(): number;
  /** munlockall(): 0 or -errno. */
  munlockAll(): number;

  /** Connected non-blocking AF_UNIX datagram socket; `@name` = abstract namespace. */
  unixDgramOpen(path: string): number;
  /** Bytes or -errno (-EAGAIN when the receiver is full; never blocks). */
  unixDgramSend(fd: number, data: Uint8Array): number;
  unixDgramClose(fd: number): boolean;
}

const NATIVE_HINT = 'run `npm ci` (needs python3, make and a C compiler) or `npm run build`';

/** Where the addon is expected for this module location. */
export function nativeAddonPath(): string {
  return fileURLToPath(new URL('../../build/Release/carpool_net.node', import.meta.url));
}

/** Load the addon from `path` (no caching); throws NATIVE_MISSING with a hint. */
export function loadNative(path: string = nativeAddonPath()): NativeBinding {
  const require = createRequire(import.meta.url);
  try {
    return require(path) as NativeBinding;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CarpoolError('NATIVE_MISSING', `cannot load the carpool native addon ${path}: ${why}`, NATIVE_HINT, { cause: err });
  }
}

let binding: NativeBinding | undefined;

/** The addon, loaded on first call. */
export function native(): NativeBinding {
  binding ??= loadNative();
  return binding;
}
