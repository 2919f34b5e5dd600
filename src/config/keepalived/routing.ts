/**
 * keepalived.conf route and rule lines (`virtual_routes`, `static_routes`, `virtual_rules`,
 * `static_rules`): the `ip route add` / `ip rule add` words keepalived documents, read into the
 * model. What carpool cannot install is an error that names the word; what keepalived itself
 * only logs and skips (an unparsable rule address) is skipped the same way, with a warning.
 */
import { parseCidr, parseIP, type Family } from '../../protocol/inet.js';
import type { NextHop, VirtualRoute, VirtualRule } from '../model.js';
import type { At } from '../vrrp/spec.js';
import { hint, type Checker } from './checker.js';
import type { KaStatement, KaToken } from './syntax.js';
import { SCOPES } from './values.js';

/** Whether the line is in an instance (installed while master) or static (installed at start). */
export type RoutingKind = 'virtual' | 'static';

const ROUTE_TYPES = ['blackhole', 'unreachable', 'prohibit', 'throw'];
const ROUTE_UNSUPPORTED = ['onlink', 'mtu', 'advmss', 'realms', 'realm', 'tos', 'dsfield', 'initcwnd', 'initrwnd', 'features', 'quickack',
  'congctl', 'rtt', 'rttvar', 'ssthresh', 'cwnd', 'window', 'hoplimit', 'reordering', 'rto_min', 'fastopen_no_cookie', 'pref', 'ttl-propagate',
  'encap', 'expires', 'type', 'nhid', 'lock', 'from', 'local', 'nat', 'broadcast', 'anycast', 'multicast', 'append', 'vrf', 'track_group'];
const ROUTE_KEYWORDS = ['src', 'to', 'via', 'gw', 'dev', 'oif', 'metric', 'priority', 'preference', 'table', 'scope', 'proto', 'protocol',
  'nexthop', 'weight', 'or', 'inet6', 'no_track', ...ROUTE_TYPES];

/** iproute2's /etc/iproute2/rt_protos names (what keepalived's `proto NAME` resolves through). */
const PROTOS: Readonly<Record<string, number>> = {
  redirect: 1, kernel: 2, boot: 3, static: 4, gated: 8, ra: 9, mrt: 10, zebra: 11, bird: 12, dnrouted: 13, xorp: 14, ntk: 15, dhcp: 16,
  keepalived: 18, babel: 42, bgp: 186, isis: 187, ospf: 188, rip: 189, eigrp: 192,
};
const TABLES: Readonly<Record<string, number>> = { default: 253, main: 254, local: 255 };

function table(c: Checker, v: KaToken, what: string): number | undefined {
  return TABLES[v.text] ?? c.int(v, what, 1, 4294967295)?.value;
}

const ROUTE_EXPECTED = '[src IP] [to] DEST[/LEN]|default [via GW [or GW2]] [dev IF] [scope S] [proto P] [metric N] [table N] '
  + '[nexthop via GW [dev IF] [weight W] ...] [blackhole|unreachable|prohibit|throw]';

/** `[src IP] [to] DST[/LEN]|default [via|gw GW [or GW2]] [dev IF] [scope S] [proto P] [metric N] [table T] [nexthop ...] [TYPE]` */
export function readRoute(c: Checker, st: KaStatement, owner: string, kind: RoutingKind = 'virtual'): At<VirtualRoute> | undefined {
  c.noBlock(st);
  const what = `${kind} route`;
  const toks: KaToken[] = [{ text: st.keyword, loc: st.loc, start: 0, end: 0 }, ...st.args];
  const r: { -readonly [K in keyof VirtualRoute]?: VirtualRoute[K] } = {};
  const hops: { -readonly [K in keyof NextHop]?: NextHop[K] }[] = [];
  /** The next hop `via`/`dev`/`weight` go to after a `nexthop`. */
  let hop: (typeof hops)[number] | undefined;
  let inet6 = false;
  let dst: { family?: Family; address?: string; prefix: number; tok: KaToken } | undefined;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const need = (): KaToken | undefined => {
      const v = toks[++i];
      if (!v) c.error(t.loc, 'MISSING_ARGUMENT', `${t.text} in a ${what} of ${owner} needs a value`, ROUTE_EXPECTED);
      return v;
    };
    const setDst = (tok: KaToken): boolean => {
      if (dst) {
        c.error(tok.loc, 'EXTRA_ARGUMENT', `${what} in ${owner}: a second destination '${tok.text}'${hint(tok.text, ROUTE_KEYWORDS)}`, ROUTE_EXPECTED);
        return false;
      }
      if (tok.text === 'default') { dst = { prefix: 0, tok }; return true; }
      const cidr = parseCidr(tok.text);
      if (!cidr) {
        c.error(tok.loc, 'INVALID_ADDRESS', `${what} in ${owner}: '${tok.text}' is not a destination${hint(tok.text, ROUTE_KEYWORDS)}`, ROUTE_EXPECTED);
        return false;
      }
      dst = { family: cidr.family, address: cidr.address, prefix: cidr.prefix, tok };
      return true;
    };
    switch (t.text) {
      case 'src': { const v = need(); const ip = v && c.ip(v, `src of a ${what}`); if (!ip) return undefined; r.src = ip.value; break; }
      case 'via': case 'gw': {
        const v = need();
        const ip = v && c.ip(v, `${t.text} of a ${what}`);
        if (!ip) return undefined;
        if (hop) hop.gateway = ip.value; else r.gateway = ip.value;
        break;
      }
      case 'dev': case 'oif': {
        const v = need();
        const d = v && c.ifname(v, `dev of a ${what}`);
        if (!d) return undefined;
        if (hop) hop.dev = d.value; else r.dev = d.value;
        break;
      }
      case 'weight': {
        const v = need();
        if (!v) return undefined;
        if (!hop) {
          c.error(t.loc, 'SYNTAX', `${what} in ${owner}: weight belongs to a next hop`, 'nexthop via GW weight 1..256');
          return undefined;
        }
        const n = c.int(v, `weight of a next hop`, 1, 256);
        if (!n) return undefined;
        hop.weight = n.value;
        break;
      }
      case 'nexthop':
        if (r.gateway) {
          c.error(t.loc, 'SYNTAX', `${what} in ${owner}: give either via or next hops, not both`, 'DEST nexthop via GW1 nexthop via GW2');
          return undefined;
        }
        hop = {};
        hops.push(hop);
        break;
      case 'or': {
        // keepalived's old spelling of a multipath route, `via A or B` (its own
        // keepalived.conf.vrrp.routes sample): accepted with keepalived's warning.
        const v = need();
        const ip = v && c.ip(v, `'or' of a ${what}`);
        if (!ip) return undefined;
        const first = r.gateway;
        if (!first && hops.length === 0) {
          c.error(t.loc, 'MISSING_ARGUMENT', `'or' in a ${what} of ${owner} needs a gateway before it`, 'via GW1 or GW2');
          return undefined;
        }
        c.warn(t.loc, 'DEPRECATED',
          `${what} in ${owner}: 'or' is deprecated (keepalived: '"or" for routes is deprecated. Please use "nexthop"'); read as a multipath route over both gateways, as keepalived does`,
          `nexthop via ${first ?? 'GW1'} nexthop via ${ip.value}`);
        if (first) { hops.push({ gateway: first }); delete r.gateway; }
        hops.push({ gateway: ip.value });
        break;
      }
      case 'metric': case 'preference': case 'priority': {
        const v = need(); const n = v && c.int(v, `${t.text} of a ${what}`, 0, 4294967295); if (!n) return undefined; r.metric = n.value; break;
      }
      case 'table': {
        const v = need();
        const n = v && table(c, v, `table of a ${what}`);
        if (n === undefined) return undefined;
        r.table = n;
        break;
      }
      case 'scope': {
        const v = need();
        if (!v) return undefined;
        if (!(SCOPES as readonly string[]).includes(v.text)) {
          c.error(v.loc, 'INVALID_VALUE', `scope of a ${what}: '${v.text}' is not a scope`, SCOPES.join(', '));
          return undefined;
        }
        r.scope = v.text as VirtualRoute['scope'];
        break;
      }
      case 'proto': case 'protocol': {
        const v = need();
        if (!v) return undefined;
        const n = PROTOS[v.text] ?? c.int(v, `${t.text} of a ${what}`, 0, 255)?.value;
        if (n === undefined) return undefined;
        r.proto = n;
        break;
      }
      case 'inet6': inet6 = true; break;
      case 'to': { const v = need(); if (!v || !setDst(v)) return undefined; break; }
      case 'no_track':
        c.warn(t.loc, 'NOT_USED', `no_track of a ${what} in ${owner}: carpool does not watch its routes (a route deleted by hand stays deleted until the next transition)`, 'nothing');
        break;
      default:
        if (ROUTE_TYPES.includes(t.text)) { r.type = t.text; break; }
        if (ROUTE_UNSUPPORTED.includes(t.text)) {
          c.error(t.loc, 'NOT_SUPPORTED', `'${t.text}' in a ${what} is not supported by carpool`,
            `${ROUTE_EXPECTED}${kind === 'static' ? ' — or install it from the system network configuration' : ''}`);
          return undefined;
        }
        if (!setDst(t)) return undefined;
    }
  }
  if (!dst) {
    c.error(st.loc, 'MISSING_ARGUMENT', `${what} in ${owner} has no destination`, ROUTE_EXPECTED);
    return undefined;
  }
  const d = dst;
  const firstGw = r.gateway ?? hops.find((h) => h.gateway)?.gateway;
  const family: Family = d.family ?? (inet6 ? 6 : undefined) ?? (firstGw ? parseIP(firstGw)?.family : undefined) ?? (r.src ? parseIP(r.src)?.family : undefined) ?? 4;
  for (const [k, v] of [['via', r.gateway], ['src', r.src], ...hops.map((h) => ['nexthop via', h.gateway] as const)] as const) {
    if (v && parseIP(v)?.family !== family) {
      c.error(st.loc, 'FAMILY_MISMATCH', `${what} in ${owner}: ${k} ${v} is not IPv${family} like the destination`, `an IPv${family} address`);
      return undefined;
    }
  }
  if (hops.some((h) => !h.gateway && !h.dev)) {
    c.error(st.loc, 'MISSING_ARGUMENT', `${what} to ${d.tok.text} in ${owner}: a next hop has neither via nor dev`, 'nexthop via GW [dev IF] [weight W]');
    return undefined;
  }
  if (hops.length > 16) {
    c.error(st.loc, 'OUT_OF_RANGE', `${what} to ${d.tok.text} in ${owner} has ${hops.length} next hops`, 'at most 16');
    return undefined;
  }
  if (!r.type && !r.gateway && !r.dev && hops.length === 0) {
    c.error(st.loc, 'MISSING_ARGUMENT', `${what} to ${d.tok.text} in ${owner} has neither via nor dev nor a type`, ROUTE_EXPECTED);
    return undefined;
  }
  if (r.type && (r.gateway || hops.length > 0)) {
    c.error(st.loc, 'SYNTAX', `${what} to ${d.tok.text} in ${owner}: a ${r.type} route has no gateway`, `${r.type} ${d.tok.text}`);
    return undefined;
  }
  // A multipath route's `dev` (keepalived: `via A or B dev eth1`) is each next hop's.
  const nexthops = hops.map((h) => ({ ...h, ...(!h.dev && r.dev ? { dev: r.dev } : {}) }));
  const route: VirtualRoute = {
    family, dst: d.address ?? (family === 6 ? '::' : '0.0.0.0'), prefix: d.prefix,
    ...(r.gateway ? { gateway: r.gateway } : {}), ...(r.dev && hops.length === 0 ? { dev: r.dev } : {}), ...(r.src ? { src: r.src } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}), ...(r.table !== undefined ? { table: r.table } : {}), ...(r.type ? { type: r.type } : {}),
    ...(r.scope ? { scope: r.scope } : {}), ...(r.proto !== undefined ? { proto: r.proto } : {}),
    ...(nexthops.length > 0 ? { nexthops } : {}),
  };
  return { value: route, at: st.loc };
}

const RULE_TYPES = ['blackhole', 'unreachable', 'prohibit'] as const;
const RULE_UNSUPPORTED = ['tos', 'dsfield', 'realms', 'goto', 'uidrange', 'l3mdev', 'protocol', 'ip_proto', 'ipproto', 'sport', 'dport',
  'suppress_prefixlength', 'suppress_ifgroup', 'nat', 'map-to', 'track_group', 'not'];
const RULE_KEYWORDS = ['from', 'to', 'table', 'lookup', 'priority', 'preference', 'prio', 'fwmark', 'iif', 'oif',
  'inet6', 'no_track', ...RULE_TYPES];
const RULE_EXPECTED = '[from PREFIX|all] [to PREFIX|all] [table T] [priority N] [fwmark M[/MASK]] [iif IF] [oif IF] [blackhole|unreachable|prohibit]';

/**
 * `[inet6] [from P|all] [to P|all] [table|lookup T] [priority|preference|prio N] [fwmark M[/MASK]] [iif IF] [oif IF] [TYPE]`
 * (keepalived 2.2.7 knows neither `pref` nor `iifname`/`oifname`: unknown words here too).
 */
export function readRule(c: Checker, st: KaStatement, owner: string, kind: RoutingKind = 'virtual'): At<VirtualRule> | undefined {
  c.noBlock(st);
  const what = `${kind} rule`;
  const toks: KaToken[] = [{ text: st.keyword, loc: st.loc, start: 0, end: 0 }, ...st.args];
  const r: { -readonly [K in keyof VirtualRule]?: VirtualRule[K] } = {};
  let inet6 = false;
  const families: Family[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const need = (): KaToken | undefined => {
      const v = toks[++i];
      if (!v) c.error(t.loc, 'MISSING_ARGUMENT', `${t.text} in a ${what} of ${owner} needs a value`, RULE_EXPECTED);
      return v;
    };
    switch (t.text) {
      case 'from': case 'to': {
        const v = need();
        if (!v) return undefined;
        if (v.text === 'all') break;
        const cidr = parseCidr(v.text);
        if (!cidr) {
          // keepalived: "Invalid rule from/to address ..." — the rule is dropped and the rest runs.
          c.lenient(v.loc, 'INVALID_ADDRESS',
            `${what} in ${owner}: '${v.text}' is not an address prefix; the rule is skipped, as keepalived does ("Invalid rule ${t.text} address")`,
            `${t.text} ADDRESS/LEN, e.g. ${t.text} 192.168.100.0/24`);
          return undefined;
        }
        families.push(cidr.family);
        r[t.text] = `${cidr.address}/${cidr.prefix}`;
        break;
      }
      case 'table': case 'lookup': {
        const v = need();
        const n = v && table(c, v, `table of a ${what}`);
        if (n === undefined) return undefined;
        r.table = n;
        break;
      }
      case 'priority': case 'preference': case 'prio': {
        const v = need(); const n = v && c.int(v, `${t.text} of a ${what}`, 0, 4294967295); if (!n) return undefined; r.priority = n.value; break;
      }
      case 'fwmark': {
        const v = need();
        if (!v) return undefined;
        const [mark, mask, extra] = v.text.split('/');
        const num = (x: string | undefined) => (x !== undefined && /^(0x[\da-f]+|\d+)$/i.test(x) && Number(x) <= 0xffffffff ? Number(x) : undefined);
        const m = num(mark);
        const k = mask === undefined ? undefined : num(mask);
        if (m === undefined || (mask !== undefined && k === undefined) || extra !== undefined) {
          c.error(v.loc, 'INVALID_VALUE', `fwmark of a ${what}: '${v.text}' is not a mark`, 'fwmark MARK[/MASK], decimal or 0x hex, up to 0xffffffff');
          return undefined;
        }
        r.fwmark = m;
        if (k !== undefined) r.fwmask = k;
        break;
      }
      case 'iif': case 'oif': {
        const v = need();
        const d = v && c.ifname(v, `${t.text} of a ${what}`);
        if (!d) return undefined;
        if (t.text === 'iif') r.iif = d.value; else r.oif = d.value;
        break;
      }
      case 'inet6': inet6 = true; break;
      case 'no_track':
        c.warn(t.loc, 'NOT_USED', `no_track of a ${what} in ${owner}: carpool does not watch its rules (a rule deleted by hand stays deleted until the next transition)`, 'nothing');
        break;
      default:
        if ((RULE_TYPES as readonly string[]).includes(t.text)) { r.type = t.text as VirtualRule['type']; break; }
        if (RULE_UNSUPPORTED.includes(t.text)) {
          c.error(t.loc, 'NOT_SUPPORTED', `'${t.text}' in a ${what} is not supported by carpool`, RULE_EXPECTED);
          return undefined;
        }
        c.error(t.loc, 'UNKNOWN_KEYWORD', `unknown word '${t.text}' in a ${what} of ${owner}${hint(t.text, RULE_KEYWORDS)}`, RULE_EXPECTED);
        return undefined;
    }
  }
  const family: Family = families[0] ?? (inet6 ? 6 : 4);
  if (families.some((f) => f !== family) || (inet6 && family !== 6)) {
    c.error(st.loc, 'FAMILY_MISMATCH', `${what} in ${owner} mixes IPv4 and IPv6`, 'from and to of one family (inet6 for IPv6)');
    return undefined;
  }
  if (r.type && r.table !== undefined) {
    c.error(st.loc, 'SYNTAX', `${what} in ${owner}: a ${r.type} rule looks up no table`, `${r.type} without table, or table without ${r.type}`);
    return undefined;
  }
  return { value: { family, ...r }, at: st.loc };
}
