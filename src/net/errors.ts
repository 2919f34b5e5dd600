/**
 * errno handling shared by the socket wrappers: names for the `-errno` results of the
 * addon, and `NetError` (a CarpoolError with code `NET_<ERRNO>`) with an operator hint.
 */
import { constants } from 'node:os';
import { CarpoolError } from '../lib/errors.js';

// Linux aliases share a number; use the names the addon's own errors carry.
const ALIASES = new Set(['EWOULDBLOCK', 'ENOTSUP', 'EDEADLOCK']);
const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!ALIASES.has(name) && !names.has(value)) names.set(value, name);
}

/** `-105` or `105` → `ENOBUFS`. */
export function errnoName(errno: number): string {
  return names.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** Result of a send that can fail for network reasons; the caller counts, it does not throw. */
export type SendResult =
  | { readonly ok: true; readonly bytes: number }
  | { readonly ok: false; readonly error: string };

export function sendResult(n: number): SendResult {
  return n >= 0 ? { ok: true, bytes: n } : { ok: false, error: errnoName(n) };
}

const HINTS: Readonly<Record<string, string>> = {
  EPERM: 'needs root or CAP_NET_RAW/CAP_NET_ADMIN',
  EACCES: 'needs root or CAP_NET_RAW/CAP_NET_ADMIN',
  ENODEV: 'no such network interface: check the name with `ip link`',
  ENXIO: 'no such network interface: check the name with `ip link`',
  EADDRNOTAVAIL: 'the address is not configured on this host: check `ip addr`',
  EAFNOSUPPORT: 'address family not supported: is IPv6 disabled (net.ipv6.conf.all.disable_ipv6)?',
  EPROTONOSUPPORT: 'protocol not supported by this kernel',
  ENOENT: 'the socket path does not exist: is the syslog daemon running?',
  ECONNREFUSED: 'nobody listens on the socket: is the syslog daemon running?',
  ENETUNREACH: 'no route to the destination: check `ip route`',
  EMSGSIZE: 'datagram larger than the interface MTU',
  EINVAL: 'invalid argument: this is a bug in the caller',
  EBADF: 'the socket is closed or was never opened: this is a bug in the caller',
};

/** A failed socket or netlink operation: code `NET_<ERRNO>`, e.g. `NET_EPERM`. */
export class NetError extends CarpoolError {
  constructor(
    /** Operation that failed, e.g. `rawOpen`, `addAddress`. */
    readonly op: string,
    /** errno name, e.g. `EPERM`. */
    readonly errno: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`NET_${errno}`, message, HINTS[errno], options);
  }
}

/** NetError for a `-errno` result. */
export function errnoError(op: string, result: number, what: string): NetError {
  const name = errnoName(result);
  return new NetError(op, name, `${op} ${what}: ${name}`);
}

/** Run a call into the addon, turning its thrown errno errors into NetError. */
export function callNative<T>(op: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CarpoolError) throw err;
    const code = (err as { code?: unknown }).code;
    const name = typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'EINVAL';
    const text = err instanceof Error ? err.message : String(err);
    throw new NetError(op, name, `${op} ${what}: ${text}`, { cause: err });
  }
}
