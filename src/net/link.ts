/**
 * Interfaces, addresses, routes and policy rules through the addon (ioctl and rtnetlink; synchronous,
 * no `ip` processes), and `LinkMonitor` for carrier/address changes as they happen.
 *
 * "Already there" and "already gone" are results (`'exists'`, `'absent'`), not errors: a
 * daemon that restarts finds its VIPs configured, and a VIP someone removed by hand is not
 * a reason to fail a transition. Everything else throws NetError with a hint.
 */
import { closeSync, openSync } from 'node:fs';
import { formatIPv4, parseIP, parseIPv4, type Family } from '../protocol/inet.js';
import { callNative, errnoError, errnoName } from './errors.js';
import {
  native,
  type NativeAddress,
  type NativeIfInfo,
  type NativeLinkEvent,
  type NativeLinkMonitorOptions,
  type NativeRouteSpec,
  type NativeRuleSpec,
} from './native.js';

export type InterfaceInfo = NativeIfInfo;
export type InterfaceAddress = NativeAddress;

/** IFF_* bits as used in `flags`. */
export const IFF = { UP: 0x1, BROADCAST: 0x2, LOOPBACK: 0x8, RUNNING: 0x40, MULTICAST: 0x1000, LOWER_UP: 0x10000 } as const;
/** IFA_F_* bits as used in address `flags`. */
export const IFA_F = { SECONDARY: 0x1, NODAD: 0x2, DADFAILED: 0x8, TENTATIVE: 0x40, PERMANENT: 0x80, NOPREFIXROUTE: 0x200 } as const;

/** Facts about `ifname` (`eth0:vip` → `eth0`), or undefined when there is no such interface. */
export function interfaceInfo(ifname: string): InterfaceInfo | undefined {
  return callNative('ifInfo', ifname, () => native().ifInfo(ifname)) ?? undefined;
}

function familyOf(op: string, address: string): Family {
  const p = parseIP(address);
  if (!p) throw errnoError(op, -22, `${address}: not an IP address`);
  return p.family;
}

/** `'+'` → the directed broadcast of address/prefix (as `ip addr add ... brd +`). */
function broadcastFor(address: string, prefix: number): string | undefined {
  const b = parseIPv4(address);
  if (!b || prefix >= 31) return undefined;
  const host = prefix === 0 ? 0xffffffff : (0xffffffff >>> prefix);
  const out = Uint8Array.from(b);
  for (let i = 0; i < 4; i++) out[i] = out[i]! | ((host >>> (24 - 8 * i)) & 0xff);
  return formatIPv4(out);
}

export interface AddressSpec {
  readonly ifindex: number;
  readonly address: string;
  readonly prefix: number;
}

export interface AddAddressSpec extends AddressSpec {
  /** IPv4 label, e.g. `eth0:vip` (keepalived `label`, ucarp alias style). */
  readonly label?: string;
  /** IPv4 broadcast address, or `'+'` to derive it from the prefix. */
  readonly broadcast?: string;
  /** IPv6: skip duplicate address detection (a VIP must work at once). */
  readonly nodad?: boolean;
  /** Do not install the prefix route. */
  readonly noprefixroute?: boolean;
  /** IFA_PROTO tag (Linux >= 6.1) so our addresses can be told apart; ignored by older kernels. */
  readonly proto?: number;
  /** RT_SCOPE_* (`ROUTE_SCOPES`); universe when undefined. */
  readonly scope?: number;
}

/** `ip` scope names → RT_SCOPE_* numbers, for addresses and routes. */
export const ROUTE_SCOPES: Readonly<Record<'global' | 'site' | 'link' | 'host' | 'nowhere', number>> = {
  global: 0, site: 200, link: 253, host: 254, nowhere: 255,
};

function describeAddr(spec: AddressSpec): string {
  return `${spec.address}/${spec.prefix} on ifindex ${spec.ifindex}`;
}

/** Add an address; `'exists'` if it is already there. */
export function addAddress(spec: AddAddressSpec): 'added' | 'exists' {
  const family = familyOf('addAddress', spec.address);
  const broadcast = spec.broadcast === '+' ? broadcastFor(spec.address, spec.prefix) : spec.broadcast;
  const opts = {
    ...(spec.label !== undefined ? { label: spec.label } : {}),
    ...(broadcast !== undefined ? { broadcast } : {}),
    ...(spec.nodad ? { nodad: true } : {}),
    ...(spec.noprefixroute ? { noprefixroute: true } : {}),
    ...(spec.proto !== undefined ? { proto: spec.proto } : {}),
    ...(spec.scope !== undefined ? { scope: spec.scope } : {}),
  };
  const rc = callNative('addAddress', describeAddr(spec), () =>
    native().addrAdd(spec.ifindex, family, spec.address, spec.prefix, opts));
  if (rc === 0) return 'added';
  if (errnoName(rc) === 'EEXIST') return 'exists';
  throw errnoError('addAddress', rc, describeAddr(spec));
}

/** Delete an address; `'absent'` if it was not there. */
export function deleteAddress(spec: AddressSpec): 'deleted' | 'absent' {
  const family = familyOf('deleteAddress', spec.address);
  const rc = callNative('deleteAddress', describeAddr(spec), () =>
    native().addrDel(spec.ifindex, family, spec.address, spec.prefix));
  if (rc === 0) return 'deleted';
  if (errnoName(rc) === 'EADDRNOTAVAIL') return 'absent';
  throw errnoError('deleteAddress', rc, describeAddr(spec));
}

/** Addresses on `ifindex` (0 = every interface). */
export function listAddresses(ifindex = 0): InterfaceAddress[] {
  return callNative('listAddresses', `ifindex ${ifindex}`, () => native().addrList(ifindex));
}

export type RouteSpec = Omit<NativeRouteSpec, 'family'> & { readonly family?: Family };

function routeSpec(op: string, spec: RouteSpec): NativeRouteSpec {
  return { ...spec, family: spec.family ?? familyOf(op, spec.dst) };
}

function describeRoute(spec: RouteSpec): string {
  const via = spec.gateway ? ` via ${spec.gateway}` : '';
  const dev = spec.ifindex ? ` ifindex ${spec.ifindex}` : '';
  const table = spec.table ? ` table ${spec.table}` : '';
  return `${spec.dst}/${spec.prefix}${via}${dev}${table}`;
}

/** Add or replace a route (keepalived `virtual_routes`). */
export function addRoute(spec: RouteSpec): 'added' {
  const rc = callNative('addRoute', describeRoute(spec), () => native().routeAdd(routeSpec('addRoute', spec)));
  if (rc === 0) return 'added';
  throw errnoError('addRoute', rc, describeRoute(spec));
}

/** Delete a route; `'absent'` if no route matched. */
export function deleteRoute(spec: RouteSpec): 'deleted' | 'absent' {
  const rc = callNative('deleteRoute', describeRoute(spec), () => native().routeDel(routeSpec('deleteRoute', spec)));
  if (rc === 0) return 'deleted';
  if (errnoName(rc) === 'ESRCH') return 'absent';
  throw errnoError('deleteRoute', rc, describeRoute(spec));
}

export type RuleSpec = NativeRuleSpec;

function describeRule(spec: RuleSpec): string {
  const side = (k: string, x: RuleSpec['from']) => (x ? ` ${k} ${x.address}/${x.prefix}` : '');
  const what = spec.action && spec.action !== 1 ? ` action ${spec.action}` : spec.table ? ` table ${spec.table}` : '';
  return `rule${spec.priority !== undefined ? ` pref ${spec.priority}` : ''}${side('from', spec.from)}${side('to', spec.to)}${what}`;
}

/** Add a policy routing rule (keepalived `virtual_rules`); `'exists'` if the same rule is there. */
export function addRule(spec: RuleSpec): 'added' | 'exists' {
  const rc = callNative('addRule', describeRule(spec), () => native().ruleAdd(spec));
  if (rc === 0) return 'added';
  if (errnoName(rc) === 'EEXIST') return 'exists';
  throw errnoError('addRule', rc, describeRule(spec));
}

/** Delete a policy routing rule; `'absent'` if none matched. */
export function deleteRule(spec: RuleSpec): 'deleted' | 'absent' {
  const rc = callNative('deleteRule', describeRule(spec), () => native().ruleDel(spec));
  if (rc === 0) return 'deleted';
  if (errnoName(rc) === 'ENOENT') return 'absent';
  throw errnoError('deleteRule', rc, describeRule(spec));
}

export type LinkEvent = NativeLinkEvent;
export type LinkEventHandler = (event: LinkEvent) => void;
/** A handler failed: what happened (errno named, EMFILE recognised) and when the full re-read runs. */
export type LinkEventErrorHandler = (reason: string, retryInMs: number) => void;

const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 5000;

/**
 * rtnetlink notifications for links (carrier, up/down, deletion) and addresses, as they
 * happen. `{type: 'overrun'}` means the kernel dropped notifications: re-read the state.
 *
 * An event the handler cannot process (it threw: e.g. no file descriptor left for the
 * ioctl that reads the interface) is not lost: the handler gets an `overrun` again a little
 * later (50 ms, doubling up to 5 s) until one goes through, and `onError` says why, with
 * EMFILE named as such. The handler's exception never reaches the event loop.
 */
export class LinkMonitor {
  #fd: number;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = RETRY_FIRST_MS;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  static open(handler: LinkEventHandler, opts: NativeLinkMonitorOptions = {}, onError?: LinkEventErrorHandler): LinkMonitor {
    // Events arrive from the event loop, never during this call: `monitor` is set by then.
    const safe = (ev: LinkEvent): void => {
      if (monitor.closed) return;
      try {
        handler(ev);
        if (ev.type === 'overrun') monitor.#retryMs = RETRY_FIRST_MS;
      } catch (err) {
        if (monitor.#retry) return; // a re-read is already due: it covers this event
        const wait = monitor.#retryMs;
        monitor.#retryMs = Math.min(wait * 2, RETRY_MAX_MS);
        onError?.(failureReason(err), wait);
        monitor.#retry = setTimeout(() => { monitor.#retry = undefined; safe({ type: 'overrun' }); }, wait);
      }
    };
    const monitor: LinkMonitor = new LinkMonitor(callNative('linkMonitorOpen', 'RTMGRP_LINK|IPV4_IFADDR|IPV6_IFADDR', () =>
      native().linkMonitorOpen(safe, opts)));
    return monitor;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Idempotent; safe from inside the handler. */
  close(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (this.#fd < 0) return;
    native().linkMonitorClose(this.#fd);
    this.#fd = -1;
  }
}

/**
 * Why a handler failed, naming fd exhaustion even when the failing call reported another
 * errno (a library call that could not open its helper socket may say ENOENT).
 */
function failureReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /E[MN]FILE/.test(code)) return `${code}: too many open files (${text})`;
  try {
    closeSync(openSync('/dev/null', 'r'));
  } catch (probe) {
    const c = (probe as { code?: unknown }).code;
    if (c === 'EMFILE' || c === 'ENFILE') return `${c}: too many open files (the call reported: ${text})`;
  }
  return text;
}
