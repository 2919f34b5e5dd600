/**
 * keepalived.conf LVS blocks (keepalived.conf(5) "LVS CONFIGURATION"): `virtual_server_group NAME`,
 * `virtual_server IP [PORT] | fwmark N | group NAME` with its `real_server IP [PORT]` blocks and
 * their checkers (TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK, MISC_CHECK, UDP_CHECK,
 * PING_CHECK, FILE_CHECK). One handler per keyword; the values go into located specs that the
 * balancer builder (config/balancer/) defaults and cross-checks. Keywords keepalived knows but
 * carpool does not implement are errors or warnings, never silence, as elsewhere.
 */
import { parseIP } from '../../protocol/inet.js';
import {
  SCHEDULERS, SCHEDULER_FLAGS, type CheckerType, type Forwarding, type Hook, type SchedulerFlag,
} from '../model.js';
import type {
  CheckerSpec, GroupSpec, RealServerSpec, SorryServerSpec, UrlSpec, VirtualServerSpec,
} from '../balancer/spec.js';
import {
  UNSUPPORTED_SCHEDULERS, isScheduler, parseAddressRange, parseDigest, parseForwarding, parseStatusCode,
} from '../balancer/values.js';
import type { At } from '../vrrp/spec.js';
import { MAIL, hint, shellWordOf, shown, unsupported, type Checker, type Ctx, type Handler, type Policy } from './checker.js';
import { splitScriptWords, type KaStatement, type KaToken } from './syntax.js';

/** `IP [PORT]` of a real_server, sorry_server or virtual_server. */
function readEndpoint(c: Checker, st: KaStatement, addr: KaToken | undefined, port: KaToken | undefined, what: string, example: string):
  { family: 4 | 6; address: string; port: number } | undefined {
  if (!addr) {
    c.error(st.loc, 'MISSING_ARGUMENT', `${what} needs an address`, example);
    return undefined;
  }
  const ip = parseIP(addr.text);
  if (!ip || addr.text.includes('/')) {
    c.error(addr.loc, 'INVALID_ADDRESS', `${what}: '${addr.text}' is not an IP address`, `${example} (an IPv4 or IPv6 address)`);
    return undefined;
  }
  let p = 0;
  if (port) {
    const n = c.int(port, `port of ${what} ${addr.text}`, 0, 65535);
    if (!n) return undefined;
    p = n.value;
  }
  return { family: ip.family, address: c.ip(addr, what)!.value, port: p };
}

const ms = (s: number): number => Math.round(s * 1000);
const timer = (c: Checker, st: KaStatement, min: number): number | undefined => {
  const v = c.one(st, `${st.keyword} SECONDS`);
  const s = v && c.seconds(v, st.keyword, min, 4294967);
  return s ? ms(s.value) : undefined;
};
const count = (c: Checker, st: KaStatement, min: number, max: number): number | undefined => {
  const v = c.one(st, `${st.keyword} ${min}..${max}`);
  return v ? c.int(v, st.keyword, min, max)?.value : undefined;
};
const text = (c: Checker, st: KaStatement, example: string): string | undefined => c.one(st, example)?.text;
const flag = (c: Checker, st: KaStatement): boolean | undefined => c.bool(st)?.value;

/**
 * A command as keepalived's `misc_path` reads it: the whole line is the command and its arguments
 * (quoted or not; one quoted word is split again).
 */
function readCommand(c: Checker, st: KaStatement, owner: string): Hook | undefined {
  c.noBlock(st);
  const expected = `${st.keyword} "/path/to/check arg ..."`;
  const words = splitScriptWords(st.rest);
  if (!words || words.length === 0) {
    if (words) c.error(st.loc, 'MISSING_ARGUMENT', `${st.keyword} in ${owner} needs a command`, expected);
    return undefined;
  }
  const argv = words.length === 1 ? splitScriptWords(words[0]!) : words;
  if (!argv || argv.length === 0 || argv[0] === '') {
    c.error(st.args[0]!.loc, 'SYNTAX', `${st.keyword} in ${owner}: cannot split '${words[0]}' into words`, expected);
    return undefined;
  }
  if (argv[0]!.includes('/') && !argv[0]!.startsWith('/')) {
    c.error(st.args[0]!.loc, 'INVALID_VALUE', `${st.keyword} in ${owner}: '${argv[0]}' is a relative path; the daemon runs in /`, 'an absolute path');
    return undefined;
  }
  const shellWord = shellWordOf(argv);
  if (shellWord !== undefined) {
    // As for VRRP scripts and notify hooks: keepalived execs the words, so a pipe would be an argument.
    c.error(st.args[0]!.loc, 'NEEDS_SHELL',
      `${st.keyword} in ${owner}: '${shown(shellWord)}' is shell syntax; keepalived and carpool run the command without a shell, so it would not do what it says`,
      `${st.keyword} "/bin/sh -c '${shown((words.length === 1 ? words[0]! : words.join(' ')).replace(/'/g, "'\\''"))}'"`);
    return undefined;
  }
  return { argv, shell: false };
}

/** keepalived's HEX_STR: words of hex digits, each read in pairs, an odd last digit as 0X (x = any nibble where allowed). */
function readHex(c: Checker, st: KaStatement, allowAny: boolean): string | undefined {
  c.noBlock(st);
  let out = '';
  for (const t of st.args) {
    if (!(allowAny ? /^[0-9a-fx]+$/i : /^[0-9a-f]+$/i).test(t.text)) {
      c.error(t.loc, 'INVALID_VALUE', `${st.keyword}: '${t.text}' is not hex`, `hex digits such as 0a1b 2c${allowAny ? ' (x for any nibble)' : ''}`);
      return undefined;
    }
    const w = t.text.toLowerCase();
    for (let i = 0; i < w.length; i += 2) out += i + 1 < w.length ? w.slice(i, i + 2) : `0${w[i]}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checkers

interface CheckCtx extends Ctx { readonly ck: CheckerSpec; readonly where: string }

const TIMING: Readonly<Record<string, Handler<CheckCtx>>> = {
  retry: (st, { c, ck }) => { const n = count(c, st, 0, 4294967295); if (n !== undefined) ck.retry = n; },
  delay_before_retry: (st, { c, ck }) => { const t = timer(c, st, 0); if (t !== undefined) ck.delayBeforeRetryMs = t; },
  warmup: (st, { c, ck }) => { const t = timer(c, st, 0); if (t !== undefined) ck.warmupMs = t; },
  delay_loop: (st, { c, ck }) => { const t = timer(c, st, 0.001); if (t !== undefined) ck.delayLoopMs = t; },
  alpha: (st, { c, ck }) => { const b = flag(c, st); if (b !== undefined) ck.alpha = b; },
  log_all_failures: (st, { c, ck }) => { const b = flag(c, st); if (b !== undefined) ck.logAllFailures = b; },
};

const CONNECTION: Readonly<Record<string, Handler<CheckCtx>>> = {
  connect_ip: (st, { c, ck }) => { const v = c.one(st, 'connect_ip IP'); const ip = v && c.ip(v, 'connect_ip'); if (ip) ck.connectIp = ip; },
  connect_port: (st, { c, ck }) => { const n = count(c, st, 1, 65535); if (n !== undefined) ck.connectPort = n; },
  bindto: (st, { c, ck }) => { const v = c.one(st, 'bindto IP'); const ip = v && c.ip(v, 'bindto'); if (ip) ck.bindto = ip; },
  bind_port: (st, { c, ck }) => { const n = count(c, st, 1, 65535); if (n !== undefined) ck.bindPort = n; },
  bind_if: (st, { c, ck }) => { const v = c.one(st, 'bind_if IFNAME'); const n = v && c.ifname(v, 'bind_if'); if (n) ck.bindIf = n.value; },
  fwmark: (st, { c, ck }) => { const n = count(c, st, 0, 4294967295); if (n !== undefined) ck.fwmark = n; },
  connect_timeout: (st, { c, ck }) => { const t = timer(c, st, 0.001); if (t !== undefined) ck.connectTimeoutMs = t; },
};

interface UrlCtx extends Ctx { readonly u: UrlSpec }
const URL_HANDLERS: Readonly<Record<string, Handler<UrlCtx>>> = {
  path: (st, { c, u }) => { const v = text(c, st, 'path /index.html'); if (v !== undefined) u.path = v; },
  digest: (st, { c, u }) => {
    const v = c.one(st, 'digest MD5HEX');
    if (!v) return;
    const d = parseDigest(v.text);
    if (d.ok) u.digest = d.value; else c.error(v.loc, 'INVALID_VALUE', `digest: ${d.reason}`, d.expected);
  },
  status_code: (st, { c, u }) => {
    c.noBlock(st);
    if (st.args.length === 0) { c.error(st.loc, 'MISSING_ARGUMENT', 'status_code needs codes', 'status_code 200 or 200-299 400-499 ...'); return; }
    const codes: (readonly [number, number])[] = [];
    for (const t of st.args) {
      const r = parseStatusCode(t.text);
      if (r.ok) codes.push(r.value); else c.error(t.loc, 'INVALID_VALUE', `status_code: ${r.reason}`, r.expected);
    }
    u.statusCodes = [...(u.statusCodes ?? []), ...codes];
  },
  virtualhost: (st, { c, u }) => { const v = text(c, st, 'virtualhost www.example.org'); if (v !== undefined) u.virtualhost = v; },
};
const URL_POLICIES: Readonly<Record<string, Policy>> = Object.fromEntries(
  ['regex', 'regex_no_match', 'regex_options', 'regex_stack', 'regex_min_offset', 'regex_max_offset']
    .map((k) => [k, unsupported('regular expressions on the body are not implemented (use digest or status_code)')]),
);

const HTTP: Readonly<Record<string, Handler<CheckCtx>>> = {
  url: (st, { c, ck, where }) => {
    if (st.args.length > 0) c.extra(st, 0, 'url { path /PATH }');
    const u: UrlSpec = { at: st.loc };
    c.dispatch(c.block(st, 'url { path /PATH }'), URL_HANDLERS, URL_POLICIES, `url of ${where}`, { c, u });
    (ck.urls ??= []).push(u);
  },
  virtualhost: (st, { c, ck }) => { const v = text(c, st, 'virtualhost www.example.org'); if (v !== undefined) ck.virtualhost = v; },
  http_protocol: (st, { c, ck }) => {
    const v = c.one(st, 'http_protocol 1.0|1.0C|1.1');
    if (!v) return;
    const p = v.text.toUpperCase();
    if (p === '1.0' || p === '1.0C' || p === '1.1') ck.httpProtocol = p;
    else c.error(v.loc, 'INVALID_VALUE', `http_protocol: '${v.text}' is not a protocol version`, '1.0, 1.0C or 1.1');
  },
  fast_recovery: (st, { c, ck }) => { const b = flag(c, st); if (b !== undefined) ck.fastRecovery = b; },
  enable_sni: (st, { c, ck }) => { const b = flag(c, st); if (b !== undefined) ck.enableSni = b; },
  sni_name: (st, { c, ck }) => { const v = text(c, st, 'sni_name NAME'); if (v !== undefined) ck.sniName = v; },
  tls_compliant: (st, { c, ck }) => { const b = flag(c, st); if (b !== undefined) ck.tlsCompliant = b; },
  nb_get_retry: (st, ctx) => {
    ctx.c.warn(st.loc, 'DEPRECATED', 'nb_get_retry is deprecated (keepalived says so too); read as retry', `retry ${st.args[0]?.text ?? 'N'}`);
    TIMING.retry!(st, ctx);
  },
};

const DNS_TYPES = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'] as const;

const SPECIFIC: Readonly<Record<CheckerType, Readonly<Record<string, Handler<CheckCtx>>>>> = {
  TCP_CHECK: {},
  PING_CHECK: {},
  HTTP_GET: HTTP,
  SSL_GET: HTTP,
  SMTP_CHECK: {
    helo_name: (st, { c, ck }) => {
      const words = splitScriptWords(st.rest);
      c.noBlock(st);
      if (!words || words.length !== 1 || words[0] === '') { c.error(st.loc, words?.length ? 'EXTRA_ARGUMENT' : 'MISSING_ARGUMENT', 'helo_name takes one name', 'helo_name NAME'); return; }
      ck.heloName = words[0];
    },
    host: (st, { c, ck, where }) => {
      if (st.args.length > 0) c.extra(st, 0, 'host { connect_ip IP ... }');
      const h: CheckerSpec = { type: 'SMTP_CHECK', at: st.loc };
      const w = `host #${(ck.hosts?.length ?? 0) + 1} of ${where}`;
      c.dispatch(c.block(st, 'host { connect_ip IP ... }'), CONNECTION, {}, w, { c, ck: h, where: w });
      (ck.hosts ??= []).push(h);
    },
  },
  DNS_CHECK: {
    type: (st, { c, ck }) => {
      const v = c.one(st, `type ${DNS_TYPES.join('|')}`);
      if (!v) return;
      const t = v.text.toUpperCase();
      if ((DNS_TYPES as readonly string[]).includes(t)) ck.queryType = t as typeof DNS_TYPES[number];
      else c.error(v.loc, 'INVALID_VALUE', `type of DNS_CHECK: '${v.text}' is not a query type${hint(t, DNS_TYPES)}`, DNS_TYPES.join(', '));
    },
    name: (st, { c, ck }) => {
      const v = c.one(st, 'name example.org');
      if (!v) return;
      if (v.text !== '.' && v.text.replace(/\.$/, '').split('.').some((l) => l === '' || l.length > 63)) {
        c.error(v.loc, 'INVALID_VALUE', `name of DNS_CHECK: '${v.text}' has an empty or too long label`, 'a domain name such as example.org, or .');
        return;
      }
      ck.name = v.text;
    },
  },
  UDP_CHECK: {
    payload: (st, { c, ck }) => {
      if (st.args.length === 0) { c.error(st.loc, 'MISSING_ARGUMENT', 'payload needs hex bytes', 'payload HEX'); return; }
      const h = readHex(c, st, false);
      if (h !== undefined) ck.payload = h;
    },
    require_reply: (st, { c, ck }) => {
      const h = readHex(c, st, true);
      if (h === undefined) return;
      ck.requireReply = true;
      if (h !== '') ck.replyPattern = h;
    },
    min_reply_length: (st, { c, ck }) => { const n = count(c, st, 0, 65535); if (n !== undefined) ck.minReplyLength = n; },
    max_reply_length: (st, { c, ck }) => {
      const v = c.one(st, 'max_reply_length 0..65535');
      const n = v && c.int(v, 'max_reply_length', 0, 65535);
      if (n) ck.maxReplyLength = n;
    },
  },
  MISC_CHECK: {
    misc_path: (st, { c, ck, where }) => { const h = readCommand(c, st, where); if (h) ck.command = h; else ck.commandInvalid = true; },
    misc_timeout: (st, { c, ck }) => { const n = count(c, st, 0, 4294967); if (n !== undefined && n > 0) ck.timeoutMs = n * 1000; },
    misc_dynamic: (st, { c, ck }) => { c.noArgs(st); ck.dynamic = true; },
    user: (st, { c, ck }) => {
      c.noBlock(st);
      const [u, g] = st.args;
      if (!u || st.args.length > 2) { c.error(st.loc, u ? 'EXTRA_ARGUMENT' : 'MISSING_ARGUMENT', 'user takes a user and an optional group', 'user USER [GROUP]'); return; }
      ck.user = { user: u.text, ...(g ? { group: g.text } : {}) };
    },
  },
  FILE_CHECK: {
    track_file: (st, { c, ck }) => { const v = c.one(st, 'track_file NAME'); if (v) ck.trackFile = { value: v.text, at: v.loc }; },
    weight: (st, { c, ck }) => {
      c.noBlock(st);
      const [w, r, ...more] = st.args;
      if (!w) { c.error(st.loc, 'MISSING_ARGUMENT', 'weight of FILE_CHECK needs a value', 'weight -2147483647..2147483647 [reverse]'); return; }
      const n = c.int(w, 'weight of FILE_CHECK', -2147483647, 2147483647);
      if (n) ck.weight = n.value;
      if (r && r.text !== 'reverse') c.error(r.loc, 'UNKNOWN_KEYWORD', `'${r.text}' after the weight of FILE_CHECK`, 'reverse');
      else if (r) ck.reverse = true;
      if (more.length > 0) c.extra(st, 2, 'weight N [reverse]');
    },
  },
};

const CHECKER_TYPES = Object.keys(SPECIFIC) as CheckerType[];

function checkerHandlers(type: CheckerType): Readonly<Record<string, Handler<CheckCtx>>> {
  if (type === 'FILE_CHECK') return SPECIFIC.FILE_CHECK;
  if (type === 'MISC_CHECK') return { ...TIMING, ...SPECIFIC.MISC_CHECK };
  return { ...CONNECTION, ...TIMING, ...SPECIFIC[type] };
}

const CHECKER_POLICIES: Readonly<Record<string, Policy>> = {
  dynamic: unsupported('FILE_CHECK dynamic weights are not implemented'),
};

// ---------------------------------------------------------------------------------------------
// Real servers

interface RsCtx extends Ctx { readonly rs: RealServerSpec; readonly where: string }

const checkerHandler = (type: CheckerType): Handler<RsCtx> => (st, { c, rs, where }) => {
  if (st.args.length > 0) c.extra(st, 0, `${type} { ... }`);
  const ck: CheckerSpec = { type, at: st.loc };
  const w = `${type} of ${where}`;
  c.dispatch(c.block(st, `${type} { ... }`), checkerHandlers(type), CHECKER_POLICIES, w, { c, ck, where: w });
  rs.checkers.push(ck);
};

const RS_HANDLERS: Readonly<Record<string, Handler<RsCtx>>> = {
  weight: (st, { c, rs }) => { const n = count(c, st, 0, 2147483647); if (n !== undefined) rs.weight = n; },
  lvs_method: (st, { c, rs }) => { const f = readForwarding(c, st); if (f) rs.forwarding = f.value; },
  uthreshold: (st, { c, rs }) => { const n = count(c, st, 0, 4294967295); if (n !== undefined) rs.upperThreshold = n; },
  lthreshold: (st, { c, rs }) => { const n = count(c, st, 0, 4294967295); if (n !== undefined) rs.lowerThreshold = n; },
  inhibit_on_failure: (st, { c, rs }) => { const b = flag(c, st); if (b !== undefined) rs.inhibitOnFailure = b; },
  notify_up: (st, { c, rs, where }) => { const h = c.script(st, where, true); if (h) rs.notifyUp = h.value; },
  notify_down: (st, { c, rs, where }) => { const h = c.script(st, where, true); if (h) rs.notifyDown = h.value; },
  alpha: (st, { c, rs }) => { const b = flag(c, st); if (b !== undefined) rs.alpha = b; },
  // keepalived: 1.. on real and virtual servers, 0.. on checkers (check_parser.c, check_api.c).
  retry: (st, { c, rs }) => { const n = count(c, st, 1, 4294967295); if (n !== undefined) rs.retry = n; },
  delay_before_retry: (st, { c, rs }) => { const t = timer(c, st, 0); if (t !== undefined) rs.delayBeforeRetryMs = t; },
  warmup: (st, { c, rs }) => { const t = timer(c, st, 0); if (t !== undefined) rs.warmupMs = t; },
  connect_timeout: (st, { c, rs }) => { const t = timer(c, st, 0.001); if (t !== undefined) rs.connectTimeoutMs = t; },
  delay_loop: (st, { c, rs }) => { const t = timer(c, st, 0.001); if (t !== undefined) rs.delayLoopMs = t; },
  virtualhost: (st, { c, rs }) => { const v = text(c, st, 'virtualhost www.example.org'); if (v !== undefined) rs.virtualhost = v; },
  ...Object.fromEntries(CHECKER_TYPES.map((t) => [t, checkerHandler(t)])),
};
const RS_POLICIES: Readonly<Record<string, Policy>> = {
  smtp_alert: MAIL,
  snmp_name: { kind: 'not-used', why: 'no SNMP' },
  BFD_CHECK: unsupported('no BFD'),
};

// ---------------------------------------------------------------------------------------------
// Virtual servers

interface VsCtx extends Ctx { readonly vs: VirtualServerSpec; readonly where: string }

function readForwarding(c: Checker, st: KaStatement): At<Forwarding> | undefined {
  c.noBlock(st);
  const f = parseForwarding(st.args.map((a) => a.text));
  if (f.ok) return { value: f.value, at: st.loc };
  const tok = f.index !== undefined ? st.args[f.index] ?? st.args[0] : st.args[0];
  c.error(tok?.loc ?? st.loc, st.args.length ? 'INVALID_VALUE' : 'MISSING_ARGUMENT', `${st.keyword}: ${f.reason}`, f.expected);
  return undefined;
}

const schedulerHandler: Handler<VsCtx> = (st, { c, vs }) => {
  const v = c.one(st, `${st.keyword} ${SCHEDULERS.join('|')}`);
  if (!v) return;
  if (isScheduler(v.text)) { vs.scheduler = v.text; return; }
  const why = UNSUPPORTED_SCHEDULERS[v.text];
  if (why) c.error(v.loc, 'NOT_SUPPORTED', `${st.keyword} ${v.text} is not supported by carpool: ${why}`, SCHEDULERS.join(', '));
  else c.error(v.loc, 'INVALID_VALUE', `${st.keyword}: unknown scheduler '${v.text}'${hint(v.text, SCHEDULERS)}`, SCHEDULERS.join(', '));
};
const methodHandler: Handler<VsCtx> = (st, { c, vs }) => { const f = readForwarding(c, st); if (f) vs.forwarding = f.value; };
const flagHandler: Handler<VsCtx> = (st, { c, vs }) => { c.noArgs(st); vs.schedulerFlags.push({ value: st.keyword as SchedulerFlag, at: st.loc }); };

const VS_HANDLERS: Readonly<Record<string, Handler<VsCtx>>> = {
  lb_algo: schedulerHandler,
  lvs_sched: schedulerHandler,
  lb_kind: methodHandler,
  lvs_method: methodHandler,
  ...Object.fromEntries(SCHEDULER_FLAGS.map((f) => [f, flagHandler])),
  ops: (st, { c, vs }) => { c.noArgs(st); vs.onePacket = { value: true, at: st.loc }; },
  ip_family: (st, { c, vs }) => {
    const v = c.one(st, 'ip_family inet|inet6');
    if (!v) return;
    if (v.text === 'inet' || v.text === 'inet6') vs.ipFamily = { value: v.text === 'inet' ? 4 : 6, at: v.loc };
    else c.error(v.loc, 'INVALID_VALUE', `ip_family: '${v.text}' is not an address family`, 'inet or inet6');
  },
  persistence_timeout: (st, { c, vs }) => {
    c.noBlock(st);
    if (st.args.length === 0) { vs.persistenceTimeout = 360; return; }
    const n = count(c, st, 1, 86400 * 31);
    if (n !== undefined) vs.persistenceTimeout = n;
  },
  persistence_granularity: (st, { c, vs }) => { const v = c.one(st, 'persistence_granularity NETMASK'); if (v) vs.persistenceGranularity = { value: v.text, at: v.loc }; },
  protocol: (st, { c, vs }) => {
    const v = c.one(st, 'protocol TCP|UDP|SCTP');
    if (!v) return;
    const p = v.text.toUpperCase();
    if (p === 'TCP' || p === 'UDP' || p === 'SCTP') vs.protocol = { value: p, at: v.loc };
    else c.error(v.loc, 'INVALID_VALUE', `protocol: unknown protocol '${v.text}'`, 'TCP, UDP or SCTP');
  },
  ha_suspend: (st, { c, vs }) => { c.noArgs(st); vs.haSuspend = { value: true, at: st.loc }; },
  virtualhost: (st, { c, vs }) => { const v = text(c, st, 'virtualhost www.example.org'); if (v !== undefined) vs.virtualhost = v; },
  alpha: (st, { c, vs }) => { const b = flag(c, st); if (b !== undefined) vs.alpha = b; },
  omega: (st, { c, vs }) => { const b = flag(c, st); if (b !== undefined) vs.omega = b; },
  quorum: (st, { c, vs }) => { const v = c.one(st, 'quorum 1..4294967295'); const n = v && c.int(v, 'quorum', 1, 4294967295); if (n) vs.quorum = n; },
  hysteresis: (st, { c, vs }) => { const v = c.one(st, 'hysteresis 0..4294967295'); const n = v && c.int(v, 'hysteresis', 0, 4294967295); if (n) vs.hysteresis = n; },
  quorum_up: (st, { c, vs, where }) => { const h = c.script(st, where, true); if (h) vs.quorumUp = h.value; },
  quorum_down: (st, { c, vs, where }) => { const h = c.script(st, where, true); if (h) vs.quorumDown = h.value; },
  sorry_server: (st, { c, vs, where }) => {
    c.noBlock(st);
    if (st.args.length > 2) c.extra(st, 2, 'sorry_server IP [PORT]');
    const e = readEndpoint(c, st, st.args[0], st.args[1], `sorry_server of ${where}`, 'sorry_server IP [PORT]');
    if (e) vs.sorryServer = { at: st.loc, ...e } satisfies SorryServerSpec;
  },
  sorry_server_inhibit: (st, { c, vs }) => { const b = c.bool(st); if (b) vs.sorryServerInhibit = b; },
  sorry_server_lvs_method: (st, { c, vs }) => { const f = readForwarding(c, st); if (f) vs.sorryServerForwarding = f; },
  retry: (st, { c, vs }) => { const n = count(c, st, 1, 4294967295); if (n !== undefined) vs.retry = n; },
  delay_before_retry: (st, { c, vs }) => { const t = timer(c, st, 0); if (t !== undefined) vs.delayBeforeRetryMs = t; },
  warmup: (st, { c, vs }) => { const t = timer(c, st, 0); if (t !== undefined) vs.warmupMs = t; },
  connect_timeout: (st, { c, vs }) => { const t = timer(c, st, 0.001); if (t !== undefined) vs.connectTimeoutMs = t; },
  delay_loop: (st, { c, vs }) => { const t = timer(c, st, 0.001); if (t !== undefined) vs.delayLoopMs = t; },
  inhibit_on_failure: (st, { c, vs }) => { const b = flag(c, st); if (b !== undefined) vs.inhibitOnFailure = b; },
  weight: (st, { c, vs }) => { const n = count(c, st, 1, 2147483647); if (n !== undefined) vs.weight = n; },
  real_server: (st, { c, vs, where }) => {
    const example = 'real_server IP [PORT] { ... }';
    if (st.args.length > 2) c.extra(st, 2, example);
    const e = readEndpoint(c, st, st.args[0], st.args[1], `real_server of ${where}`, example);
    if (!e) { vs.realServerInvalid = true; return; }
    const rs: RealServerSpec = { at: st.loc, ...e, checkers: [] };
    const w = `real_server ${st.args.map((a) => a.text).join(' ')}`;
    c.dispatch(st.block ?? [], RS_HANDLERS, RS_POLICIES, w, { c, rs, where: w });
    vs.realServers.push(rs);
  },
};
const VS_POLICIES: Readonly<Record<string, Policy>> = {
  smtp_alert: MAIL,
  snmp_name: { kind: 'not-used', why: 'no SNMP' },
  hashed: unsupported('the IPVS hashed flag'),
  persistence_engine: unsupported('no persistence engines (sip)'),
};

/** `virtual_server IP [PORT] | fwmark N | group NAME { ... }` */
export function readVirtualServer(c: Checker, st: KaStatement): VirtualServerSpec | undefined {
  const example = 'virtual_server IP [PORT] | fwmark N | group NAME {';
  const [a, b, extra] = st.args;
  if (!a) { c.error(st.loc, 'MISSING_ARGUMENT', 'virtual_server needs an address, fwmark N or group NAME', example); return undefined; }
  if (extra) c.extra(st, 2, example);
  if (!st.block) { c.error(st.loc, 'BLOCK_EXPECTED', `virtual_server ${a.text} needs a { block }`, example); return undefined; }
  let vs: VirtualServerSpec;
  const base = { at: st.loc, schedulerFlags: [], realServers: [] };
  if (a.text === 'fwmark') {
    if (!b) { c.error(a.loc, 'MISSING_ARGUMENT', 'virtual_server fwmark needs a mark', 'virtual_server fwmark 1..4294967295 {'); return undefined; }
    const n = c.int(b, 'virtual_server fwmark', 1, 4294967295);
    if (!n) return undefined;
    vs = { ...base, name: `fwmark ${n.value}`, service: { kind: 'fwmark', fwmark: n.value } };
  } else if (a.text === 'group') {
    if (!b) { c.error(a.loc, 'MISSING_ARGUMENT', 'virtual_server group needs a name', 'virtual_server group NAME {'); return undefined; }
    vs = { ...base, name: `group ${b.text}`, service: { kind: 'group', group: b.text }, groupAt: b.loc };
  } else {
    const e = readEndpoint(c, st, a, b, 'virtual_server', example);
    if (!e) return undefined;
    vs = { ...base, name: `${e.address}${e.port ? ` ${e.port}` : ''}`, service: { kind: 'address', address: e.address, port: e.port } };
  }
  const where = `virtual_server ${vs.name}`;
  c.dispatch(st.block, VS_HANDLERS, VS_POLICIES, where, { c, vs, where });
  return vs;
}

/** `virtual_server_group NAME { IP[-LAST] [PORT] ... fwmark N [inet|inet6] ... }` */
export function readVirtualServerGroup(c: Checker, st: KaStatement, name: At<string>): GroupSpec {
  const g: GroupSpec = { name, entries: [] };
  for (const e of st.block ?? []) {
    c.noBlock(e);
    if (e.keyword === 'fwmark') {
      const [m, fam, more] = e.args;
      if (!m) { c.error(e.loc, 'MISSING_ARGUMENT', 'fwmark needs a mark', 'fwmark N [inet|inet6]'); g.entryInvalid = true; continue; }
      if (more) c.extra(e, 2, 'fwmark N [inet|inet6]');
      const n = c.int(m, 'fwmark', 1, 4294967295);
      if (fam && fam.text !== 'inet' && fam.text !== 'inet6') {
        c.error(fam.loc, 'INVALID_VALUE', `fwmark ${m.text}: '${fam.text}' is not an address family`, 'inet or inet6');
        g.entryInvalid = true;
        continue;
      }
      if (n) g.entries.push({ value: { kind: 'fwmark', fwmark: n.value, ...(fam ? { family: fam.text === 'inet' ? 4 : 6 } : {}) }, at: e.loc });
      else g.entryInvalid = true;
      continue;
    }
    const r = parseAddressRange(e.keyword);
    if (!r.ok) {
      c.error(e.loc, 'INVALID_ADDRESS', `virtual_server_group '${name.value}': ${r.reason}`, `${r.expected} [PORT], or fwmark N`);
      g.entryInvalid = true;
      continue;
    }
    if (e.args.length > 1) c.extra(e, 1, 'IP[-LAST] [PORT]');
    const port = e.args[0] ? c.int(e.args[0], `port of ${e.keyword}`, 0, 65535) : { value: 0 };
    if (port) g.entries.push({ value: { kind: 'range', ...r.value, port: port.value }, at: e.loc });
    else g.entryInvalid = true;
  }
  return g;
}
