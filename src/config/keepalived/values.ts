/**
 * keepalived.conf values written the same way in several scopes: a virtual address line, a
 * virtual route line, tracker references, `weight N [reverse]`, and the garp_* settings.
 */
import { parseCidr, parseIP } from '../../protocol/inet.js';
import type { VirtualAddress, VirtualRoute } from '../model.js';
import type { At, GarpSpec, TrackRefSpec } from '../vrrp/spec.js';
import type { KaStatement, KaToken } from './syntax.js';
import { hint, type Checker, type Ctx, type Handler } from './checker.js';

const SCOPES = ['global', 'site', 'link', 'host', 'nowhere'] as const;

/** `IP[/LEN] [brd X] [dev IF] [label L] [scope S] [no_track]` */
export function readVip(c: Checker, st: KaStatement, owner: string): At<VirtualAddress> | undefined {
  c.noBlock(st);
  const cidr = parseCidr(st.keyword);
  if (!cidr) {
    c.error(st.loc, 'INVALID_ADDRESS', `virtual address in ${owner}: '${st.keyword}' is not an address`, 'IP[/LEN] [brd IP] [dev IF] [label LABEL] [scope SCOPE]');
    return undefined;
  }
  if (cidr.prefix === 0 || (cidr.family === 4 && (/^(0\.|22[4-9]\.|2[3-5]\d\.)/.test(cidr.address))) || (cidr.family === 6 && /^ff/i.test(cidr.address))) {
    c.error(st.loc, 'INVALID_ADDRESS', `virtual address in ${owner}: '${st.keyword}' cannot be a virtual address`, 'a unicast address');
    return undefined;
  }
  const out: { -readonly [K in keyof VirtualAddress]: VirtualAddress[K] } = { family: cidr.family, address: cidr.address, prefix: cidr.prefix };
  const a = st.args;
  for (let i = 0; i < a.length; i++) {
    const opt = a[i]!;
    const val = a[i + 1];
    const need = (): KaToken | undefined => {
      if (!val) c.error(opt.loc, 'MISSING_ARGUMENT', `${opt.text} of ${st.keyword} in ${owner} needs a value`, `${opt.text} VALUE`);
      i++;
      return val;
    };
    switch (opt.text) {
      case 'brd': case 'broadcast': {
        const v = need();
        if (!v) return undefined;
        const b = c.ip(v, `broadcast of ${st.keyword}`);
        if (!b) return undefined;
        if (cidr.family !== 4 || parseIP(b.value)?.family !== 4) {
          c.error(v.loc, 'INVALID_ADDRESS', `broadcast of ${st.keyword}: only IPv4 addresses have a broadcast address`, 'an IPv4 broadcast');
          return undefined;
        }
        out.broadcast = b.value;
        break;
      }
      case 'dev': {
        const v = need();
        const d = v && c.ifname(v, `dev of ${st.keyword}`);
        if (!d) return undefined;
        out.dev = d.value;
        break;
      }
      case 'label': {
        const v = need();
        if (!v) return undefined;
        if (new TextEncoder().encode(v.text).length > 15) {
          c.error(v.loc, 'INVALID_VALUE', `label of ${st.keyword}: '${v.text}' is longer than 15 bytes`, 'a label such as eth0:1');
          return undefined;
        }
        out.label = v.text;
        break;
      }
      case 'scope': {
        const v = need();
        if (!v) return undefined;
        if (!(SCOPES as readonly string[]).includes(v.text)) {
          c.error(v.loc, 'INVALID_VALUE', `scope of ${st.keyword}: '${v.text}' is not a scope`, SCOPES.join(', '));
          return undefined;
        }
        out.scope = v.text as VirtualAddress['scope'];
        break;
      }
      case 'no_track':
        c.warn(opt.loc, 'NOT_USED', `no_track of ${st.keyword} in ${owner}: carpool puts back a virtual address that is removed behind its back instead of going to FAULT`,
          'nothing');
        break;
      case 'home': case 'nodad': case '-nodad': case 'noprefixroute': case 'autojoin': case 'preferred_lft': case 'track_group':
        c.error(opt.loc, 'NOT_SUPPORTED', `${opt.text} of a virtual address is not supported by carpool`, 'brd, dev, label, scope');
        return undefined;
      default:
        c.error(opt.loc, 'UNKNOWN_KEYWORD', `unknown virtual address option '${opt.text}' in ${owner}${hint(opt.text, ['brd', 'broadcast', 'dev', 'label', 'scope', 'no_track'])}`,
          'brd IP, dev IF, label LABEL, scope SCOPE (one address per line)');
        return undefined;
    }
  }
  return { value: out, at: st.loc };
}

const ROUTE_TYPES = ['blackhole', 'unreachable', 'prohibit', 'throw'];
const ROUTE_UNSUPPORTED = ['scope', 'proto', 'protocol', 'onlink', 'mtu', 'advmss', 'realms', 'realm', 'tos', 'dsfield', 'nexthop',
  'initcwnd', 'initrwnd', 'features', 'quickack', 'congctl', 'rtt', 'rttvar', 'ssthresh', 'cwnd', 'window', 'hoplimit', 'reordering',
  'fastopen_no_cookie', 'pref', 'ttl-propagate', 'encap', 'expires', 'type', 'nhid', 'lock', 'from', 'local', 'nat', 'broadcast', 'anycast', 'multicast'];

/** `[src IP] [to] DST[/LEN]|default [via|gw GW] [dev IF] [metric N] [table T] [blackhole|unreachable|prohibit|throw]` */
export function readRoute(c: Checker, st: KaStatement, owner: string): At<VirtualRoute> | undefined {
  c.noBlock(st);
  const toks: KaToken[] = [{ text: st.keyword, loc: st.loc, start: 0, end: 0 }, ...st.args];
  const r: { -readonly [K in keyof VirtualRoute]?: VirtualRoute[K] } = {};
  let dst: { family?: 4 | 6; address?: string; prefix: number; tok: KaToken } | undefined;
  const expected = '[src IP] [to] DEST[/LEN]|default [via GW] [dev IF] [metric N] [table N] [blackhole|unreachable|prohibit|throw]';
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const need = (): KaToken | undefined => {
      const v = toks[++i];
      if (!v) c.error(t.loc, 'MISSING_ARGUMENT', `${t.text} in a virtual route of ${owner} needs a value`, expected);
      return v;
    };
    const setDst = (tok: KaToken): boolean => {
      if (dst) {
        c.error(tok.loc, 'EXTRA_ARGUMENT', `virtual route in ${owner}: a second destination '${tok.text}'`, expected);
        return false;
      }
      if (tok.text === 'default') { dst = { prefix: 0, tok }; return true; }
      const cidr = parseCidr(tok.text);
      if (!cidr) {
        c.error(tok.loc, 'INVALID_ADDRESS', `virtual route in ${owner}: '${tok.text}' is not a destination`, expected);
        return false;
      }
      dst = { family: cidr.family, address: cidr.address, prefix: cidr.prefix, tok };
      return true;
    };
    switch (t.text) {
      case 'src': { const v = need(); const ip = v && c.ip(v, 'src of a virtual route'); if (!ip) return undefined; r.src = ip.value; break; }
      case 'via': case 'gw': { const v = need(); const ip = v && c.ip(v, `${t.text} of a virtual route`); if (!ip) return undefined; r.gateway = ip.value; break; }
      case 'dev': case 'oif': { const v = need(); const d = v && c.ifname(v, 'dev of a virtual route'); if (!d) return undefined; r.dev = d.value; break; }
      case 'metric': case 'preference': case 'priority': {
        const v = need(); const n = v && c.int(v, `${t.text} of a virtual route`, 0, 4294967295); if (!n) return undefined; r.metric = n.value; break;
      }
      case 'table': {
        const v = need();
        if (!v) return undefined;
        const named: Record<string, number> = { default: 253, main: 254, local: 255 };
        const n = named[v.text] !== undefined ? { value: named[v.text]! } : c.int(v, 'table of a virtual route', 1, 4294967295);
        if (!n) return undefined;
        r.table = n.value;
        break;
      }
      case 'to': { const v = need(); if (!v || !setDst(v)) return undefined; break; }
      case 'no_track':
        c.warn(t.loc, 'NOT_USED', `no_track of a virtual route in ${owner}: carpool does not track its routes`, 'nothing');
        break;
      case 'or': {
        // keepalived's old spelling of a two-way multipath route, `via A or B` (in its own
        // keepalived.conf.vrrp.routes sample): read, then refused for want of multipath support.
        const v = need();
        const ip = v && c.ip(v, "'or' of a virtual route");
        if (!ip) return undefined;
        if (!r.gateway) {
          c.error(t.loc, 'MISSING_ARGUMENT', `'or' in a virtual route of ${owner} needs a gateway before it`, 'via GW1 or GW2');
          return undefined;
        }
        c.error(t.loc, 'NOT_SUPPORTED',
          `virtual route in ${owner}: 'via ${r.gateway} or ${ip.value}' is a multipath route (keepalived reads it and logs: "or" for routes is deprecated. Please use "nexthop"); carpool does not install multipath routes yet`,
          `one gateway (via ${r.gateway}), or \`ip route replace DEST nexthop via ${r.gateway} nexthop via ${ip.value}\` in notify_master`);
        return undefined;
      }
      default:
        if (ROUTE_TYPES.includes(t.text)) { r.type = t.text; break; }
        if (ROUTE_UNSUPPORTED.includes(t.text)) {
          c.error(t.loc, 'NOT_SUPPORTED', `'${t.text}' in a virtual route is not supported by carpool`, expected);
          return undefined;
        }
        if (!setDst(t)) return undefined;
    }
  }
  if (!dst) {
    c.error(st.loc, 'MISSING_ARGUMENT', `virtual route in ${owner} has no destination`, expected);
    return undefined;
  }
  const d = dst;
  const family = d.family ?? (r.gateway ? parseIP(r.gateway)?.family : undefined) ?? (r.src ? parseIP(r.src)?.family : undefined) ?? 4;
  for (const [k, v] of [['via', r.gateway], ['src', r.src]] as const) {
    if (v && parseIP(v)?.family !== family) {
      c.error(st.loc, 'FAMILY_MISMATCH', `virtual route in ${owner}: ${k} ${v} is not IPv${family} like the destination`, `an IPv${family} address`);
      return undefined;
    }
  }
  if (!r.type && !r.gateway && !r.dev) {
    c.error(st.loc, 'MISSING_ARGUMENT', `virtual route to ${d.tok.text} in ${owner} has neither via nor dev nor a type`, expected);
    return undefined;
  }
  const route: VirtualRoute = {
    family, dst: d.address ?? (family === 6 ? '::' : '0.0.0.0'), prefix: d.prefix,
    ...(r.gateway ? { gateway: r.gateway } : {}), ...(r.dev ? { dev: r.dev } : {}), ...(r.src ? { src: r.src } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}), ...(r.table !== undefined ? { table: r.table } : {}), ...(r.type ? { type: r.type } : {}),
  };
  return { value: route, at: st.loc };
}

/** `NAME [weight W [reverse|noreverse]]` */
export function readTrackRefs(c: Checker, st: KaStatement, owner: string, kind: string): At<TrackRefSpec>[] {
  const out: At<TrackRefSpec>[] = [];
  for (const e of c.block(st, `${st.keyword} { NAME [weight W] }`)) {
    c.noBlock(e);
    const words = [e.keyword, ...e.args.map((a) => a.text)];
    const ref: { name: string; weight?: number; reverse?: boolean } = { name: e.keyword };
    let ok = true;
    // keepalived's value blocks also allow several bare names on one line.
    if (words.length > 1 && e.args[0]!.text !== 'weight') {
      for (const w of [e.keyword, ...e.args.map((a) => a.text)]) out.push({ value: { name: w }, at: e.loc });
      if (e.args.some((a) => a.text === 'weight' || a.text === 'reverse')) {
        c.error(e.loc, 'SYNTAX', `${st.keyword} in ${owner}: one ${kind} per line when it has a weight`, `${kind.toUpperCase()} [weight W [reverse]]`);
      }
      continue;
    }
    if (e.args.length > 0) {
      const w = e.args[1];
      if (!w) { c.error(e.args[0]!.loc, 'MISSING_ARGUMENT', `weight of ${kind} '${e.keyword}' needs a value`, 'weight -253..253'); ok = false; }
      else {
        const n = c.int(w, `weight of ${kind} '${e.keyword}'`, -254, 254);
        if (n) ref.weight = n.value; else ok = false;
      }
      const r = e.args[2];
      if (r) {
        if (r.text === 'reverse') ref.reverse = true;
        else if (r.text === 'noreverse') ref.reverse = false;
        else { c.error(r.loc, 'UNKNOWN_KEYWORD', `'${r.text}' after the weight of ${kind} '${e.keyword}'`, 'reverse or noreverse'); ok = false; }
      }
      if (e.args.length > 3) { c.extra(e, 3, `${kind.toUpperCase()} [weight W [reverse]]`); ok = false; }
    }
    if (ok) out.push({ value: ref, at: e.loc });
  }
  return out;
}

/** `weight N [reverse]` of vrrp_script / track_file. */
export function readWeight(c: Checker, st: KaStatement, min: number, max: number): { weight?: At<number>; reverse?: At<boolean> } {
  c.noBlock(st);
  const a = st.args[0];
  if (!a) {
    c.error(st.loc, 'MISSING_ARGUMENT', 'weight needs a value', `weight ${min}..${max} [reverse]`);
    return {};
  }
  const weight = c.int(a, 'weight', min, max);
  let reverse: At<boolean> | undefined;
  const r = st.args[1];
  if (r) {
    if (r.text === 'reverse') reverse = { value: true, at: r.loc };
    else if (r.text === 'noreverse') reverse = { value: false, at: r.loc };
    else c.error(r.loc, 'UNKNOWN_KEYWORD', `'${r.text}' after the weight`, 'reverse');
  }
  if (st.args.length > 2) c.extra(st, 2, `weight ${min}..${max} [reverse]`);
  return { ...(weight ? { weight } : {}), ...(reverse ? { reverse } : {}) };
}

export const GARP_KEYS = {
  garp_master_delay: 'masterDelay', garp_master_repeat: 'masterRepeat', garp_master_refresh: 'masterRefresh',
  garp_master_refresh_repeat: 'masterRefreshRepeat', garp_lower_prio_delay: 'lowerPrioDelay', garp_lower_prio_repeat: 'lowerPrioRepeat',
  garp_interval: 'interval',
} as const;
const GARP_SECONDS = new Set(['masterDelay', 'masterRefresh', 'lowerPrioDelay', 'interval']);

export function garpHandler<C extends Ctx>(key: keyof typeof GARP_KEYS, get: (ctx: C) => GarpSpec): Handler<C> {
  const field = GARP_KEYS[key];
  return (st, ctx) => {
    const v = ctx.c.one(st, `${st.keyword} N`);
    if (!v) return;
    const parsed = GARP_SECONDS.has(field) ? ctx.c.seconds(v, st.keyword, 0, 86400) : ctx.c.int(v, st.keyword, 0, 255);
    if (parsed) get(ctx)[field] = parsed;
  };
}
