/**
 * Values of the LVS configuration written the same way in keepalived.conf and carpool YAML:
 * virtual_server_group address ranges, HTTP status code ranges, MD5 digests, persistence
 * granularity, tunnel options. Each returns the value or why it is not one. Pure.
 */
import { canonicalIP, formatIP, netmaskToPrefix, parseIP, type Family } from '../../protocol/inet.js';
import { SCHEDULERS, type Forwarding, type Scheduler } from '../model.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string; expected: string };

const fail = <T>(reason: string, expected: string): Parsed<T> => ({ ok: false, reason, expected });

/** keepalived accepts these in lvs_sched but carpool does not. */
export const UNSUPPORTED_SCHEDULERS: Readonly<Record<string, string>> = {
  twos: 'the random two-choices scheduler (Linux 5.12+) is not available in carpool\'s data plane',
};

export function isScheduler(text: string): text is Scheduler {
  return (SCHEDULERS as readonly string[]).includes(text);
}

const RANGE_EXPECTED = 'IP, IP-LAST (10.0.0.1-10, 2001:db8::1-ff), IP-IP or IP/LEN';

/**
 * A virtual_server_group address range as keepalived.conf(5) writes it: `10.0.0.1`, `10.0.0.1-10`
 * (the last byte of IPv4, the last group of IPv6), `10.0.0.250-10.0.1.10`, or `10.0.0.8/29`.
 */
export function parseAddressRange(text: string): Parsed<{ family: Family; first: string; last: string }> {
  const slash = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (slash) {
    const ip = parseIP(slash[1]!);
    const len = Number(slash[2]);
    if (!ip) return fail(`'${slash[1]}' is not an IP address`, RANGE_EXPECTED);
    const bits = ip.family === 4 ? 32 : 128;
    if (len > bits) return fail(`prefix /${len} is longer than ${bits}`, RANGE_EXPECTED);
    const first = new Uint8Array(ip.bytes);
    const last = new Uint8Array(ip.bytes);
    for (let b = len; b < bits; b++) {
      const byte = b >> 3;
      const mask = 0x80 >> (b & 7);
      if (first[byte]! & mask) return fail(`'${text}' has host bits set`, `the network address, such as ${slash[1]!.replace(/\d+$/, '0')}/${len}`);
      last[byte] = last[byte]! | mask;
    }
    return { ok: true, value: { family: ip.family, first: fmt(first), last: fmt(last) } };
  }
  const dash = text.indexOf('-');
  if (dash < 0) {
    const ip = canonicalIP(text);
    if (!ip) return fail(`'${text}' is not an IP address`, RANGE_EXPECTED);
    return { ok: true, value: { family: parseIP(text)!.family, first: ip, last: ip } };
  }
  const a = parseIP(text.slice(0, dash));
  const tail = text.slice(dash + 1);
  if (!a) return fail(`'${text.slice(0, dash)}' is not an IP address`, RANGE_EXPECTED);
  let last: Uint8Array;
  const full = parseIP(tail);
  if (full) {
    if (full.family !== a.family) return fail(`the ends of '${text}' are of different families`, RANGE_EXPECTED);
    last = full.bytes;
  } else if (a.family === 4 && /^\d{1,3}$/.test(tail) && Number(tail) <= 255) {
    last = new Uint8Array(a.bytes);
    last[3] = Number(tail);
  } else if (a.family === 6 && /^[0-9a-f]{1,4}$/i.test(tail)) {
    last = new Uint8Array(a.bytes);
    const v = parseInt(tail, 16);
    last[14] = v >> 8;
    last[15] = v & 0xff;
  } else {
    return fail(`'${tail}' is not the end of a range`, RANGE_EXPECTED);
  }
  if (compare(last, a.bytes) < 0) return fail(`the range '${text}' ends before it starts`, RANGE_EXPECTED);
  return { ok: true, value: { family: a.family, first: fmt(a.bytes), last: fmt(last) } };
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

const fmt = (bytes: Uint8Array): string => formatIP(bytes);

/** `200`, `200-299`: the inclusive range, within 100..599 (keepalived's HTTP_STATUS_CODE_MIN/MAX). */
export function parseStatusCode(text: string): Parsed<readonly [number, number]> {
  const m = /^(\d{3})(?:-(\d{3}))?$/.exec(text);
  const expected = 'status codes or ranges within 100..599, such as 200 or 200-299';
  if (!m) return fail(`'${text}' is not a status code or range`, expected);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 100 || hi > 599 || lo > hi) return fail(`'${text}' is outside 100..599 or ends before it starts`, expected);
  return { ok: true, value: [lo, hi] };
}

/** An MD5 digest as `genhash` prints it: 32 hex digits (stored lower-case). */
export function parseDigest(text: string): Parsed<string> {
  if (!/^[0-9a-f]{32}$/i.test(text)) {
    return fail(`'${text}' is not an MD5 digest (${text.length} characters)`, '32 hex digits, as `genhash` (or `md5sum` of the body) prints them');
  }
  return { ok: true, value: text.toLowerCase() };
}

/** persistence_granularity: an IPv4 netmask (solid, like 255.255.255.0) or an IPv6 prefix length 1..128. */
export function parseGranularity(text: string, family: Family): Parsed<number> {
  if (family === 6) {
    if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > 128) {
      return fail(`'${text}' is not an IPv6 prefix length`, 'a prefix length 1..128 for an IPv6 virtual server');
    }
    return { ok: true, value: Number(text) };
  }
  if (/^\d{1,2}$/.test(text) && Number(text) >= 1 && Number(text) <= 32) return { ok: true, value: Number(text) };
  const p = parseIP(text)?.family === 4 ? netmaskToPrefix(text) : undefined;
  if (p === undefined || p === 0) return fail(`'${text}' is not a solid IPv4 netmask`, 'a netmask such as 255.255.255.0 (or a prefix length 1..32)');
  return { ok: true, value: p };
}

const FORWARDING_EXPECTED = 'NAT, DR or TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]';

/** `NAT`, `DR`, `TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]` (keepalived lvs_method). */
export function parseForwarding(words: readonly string[]): Parsed<Forwarding> & { index?: number } {
  const [m, ...rest] = words;
  if (m === undefined) return fail('no forwarding method', FORWARDING_EXPECTED);
  const method = m.toUpperCase();
  if (method !== 'NAT' && method !== 'DR' && method !== 'TUN') {
    return fail(`'${m}' is not a forwarding method`, FORWARDING_EXPECTED);
  }
  if (method !== 'TUN') {
    return rest.length > 0 ? { ...fail(`${method} takes no options ('${rest[0]}')`, FORWARDING_EXPECTED), index: 1 } : { ok: true, value: { method } };
  }
  const out: { -readonly [K in keyof Forwarding]: Forwarding[K] } = { method };
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w === 'type') {
      const t = rest[++i];
      if (t !== 'ipip' && t !== 'gue' && t !== 'gre') return { ...fail(`unknown tunnel type '${t ?? ''}'`, 'type ipip, gue port N or gre'), index: i + 1 };
      out.tunnelType = t;
      if (t === 'gue') {
        if (rest[i + 1] !== 'port') return { ...fail('a gue tunnel needs a port', 'type gue port 1..65535'), index: i + 1 };
        const p = rest[i + 2];
        if (p === undefined || !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
          return { ...fail(`gue tunnel port '${p ?? ''}' is not a port`, 'type gue port 1..65535'), index: i + 3 };
        }
        out.tunnelPort = Number(p);
        i += 2;
      }
    } else if (w === 'nocsum' || w === 'csum' || w === 'remcsum') {
      out.tunnelChecksum = w;
    } else {
      return { ...fail(`unknown tunnel option '${w}'`, FORWARDING_EXPECTED), index: i + 1 };
    }
  }
  return checkForwarding(out);
}

/** Cross-checks of the tunnel options (keepalived check_parser.c messages). */
function checkForwarding(f: Forwarding): Parsed<Forwarding> {
  if (f.method !== 'TUN' && (f.tunnelType || f.tunnelPort !== undefined || f.tunnelChecksum)) {
    return fail(`tunnel options need method TUN, not ${f.method}`, FORWARDING_EXPECTED);
  }
  if ((f.tunnelType === 'gue') !== (f.tunnelPort !== undefined)) return fail('gue tunnels require a port, other tunnels cannot have one', 'type gue port N');
  if (f.tunnelChecksum && (f.tunnelType ?? 'ipip') === 'ipip') return fail('ipip tunnels do not support a checksum option', 'type gue or gre with nocsum|csum');
  if (f.tunnelChecksum === 'remcsum' && f.tunnelType === 'gre') return fail('gre tunnels do not support remcsum', 'nocsum or csum');
  return { ok: true, value: f };
}

/** `TUN type gue port 6080 csum`: how keepalived.conf writes a forwarding method. */
export function forwardingWords(f: Forwarding): string[] {
  return [f.method, ...(f.tunnelType ? ['type', f.tunnelType] : []), ...(f.tunnelPort !== undefined ? ['port', String(f.tunnelPort)] : []),
    ...(f.tunnelChecksum ? [f.tunnelChecksum] : [])];
}
