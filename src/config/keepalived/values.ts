/**
 * keepalived.conf values written the same way in several scopes: a virtual address line,
 * tracker references, `weight N [reverse]`, and the garp_* settings (routes and rules: routing.ts).
 */
import { parseCidr, parseIP } from '../../protocol/inet.js';
import type { VirtualAddress } from '../model.js';
import type { At, GarpSpec, TrackRefSpec } from '../vrrp/spec.js';
import type { KaStatement, KaToken } from './syntax.js';
import { hint, type Checker, type Ctx, type Handler } from './checker.js';

export const SCOPES = ['global', 'site', 'link', 'host', 'nowhere'] as const;

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
