/**
 * keepalived.conf → the validated model, so `carpool run -c /etc/keepalived/keepalived.conf` can
 * replace keepalived. The syntax (preprocessor, braces) is in keepalived-syntax.ts, the VRRP
 * defaults and cross-checks shared with carpool YAML in vrrp-build.ts; this file knows the
 * keywords: what each block accepts, how each value is written, and what carpool does with the
 * keywords it does not implement. Nothing is silently ignored:
 *
 * - unknown keyword → error with a suggestion (keepalived only logs it and goes on);
 * - known keyword that would change failover behaviour but is not implemented → error
 *   "not supported by carpool";
 * - known keyword that does not change failover behaviour (mail alerts, process tuning, script
 *   users) → warning saying what carpool does instead;
 * - LVS (`virtual_server` ...) → error, or with `vrrpOnly` (like `keepalived --vrrp`) a warning
 *   listing what is skipped. LVS blocks are parsed for structure only.
 *
 * Pure: the file reader, glob and config id (host name) are handed in.
 */
import { ConfigError } from '../lib/errors.js';
import { parseCidr, parseIP } from '../protocol/inet.js';
import { byPosition, type ConfigDiagnostic, type ConfigDiagnosticCode } from './diagnostics.js';
import {
  parseKeepalivedSyntax, splitScriptWords, type KaFileHost, type KaStatement, type KaToken, type SourceLoc,
} from './keepalived-syntax.js';
import { DEFAULT_CONTROL_SOCKET, DEFAULT_STATE_DIR, type CarpoolConfig, type Hook, type VirtualAddress, type VirtualRoute } from './model.js';
import { suggest } from './common.js';
import {
  KEEPALIVED_TERMS, buildVrrp, type At, type GarpSpec, type NotifySpec, type SyncGroupSpec, type TrackFileSpec, type TrackRefSpec,
  type VrrpDefaultsSpec, type VrrpInstanceSpec, type VrrpScriptSpec,
} from './vrrp-build.js';

export interface KeepalivedOptions {
  /** Path of the file (diagnostics, `config.source`, relative includes). */
  readonly file?: string;
  /** keepalived's config id for `@id` lines and `${_INSTANCE}` (keepalived: `-i`, default the host name up to the first dot). */
  readonly configId?: string;
  /** File access for `include`; without it `include` is an error. */
  readonly host?: KaFileHost;
  /** Skip LVS blocks with a warning instead of failing (like `keepalived --vrrp`). */
  readonly vrrpOnly?: boolean;
}

export interface KeepalivedResult {
  readonly config: CarpoolConfig;
  readonly warnings: readonly ConfigDiagnostic[];
}

type Severity = 'error' | 'warning';

/** How a keyword that carpool does not implement is treated. */
interface Policy {
  readonly kind: 'not-used' | 'unsupported' | 'lvs';
  readonly why: string;
}

const MAIL: Policy = { kind: 'not-used', why: 'not used by carpool (no mail alerts)' };
const TUNING: Policy = { kind: 'not-used', why: 'process tuning of keepalived; carpool is one Node.js process and ignores it' };
const LVS: Policy = { kind: 'lvs', why: 'LVS' };
const unsupported = (why: string): Policy => ({ kind: 'unsupported', why });

/** global_defs keywords carpool does not implement. */
const GLOBAL_POLICIES: Readonly<Record<string, Policy>> = {
  notification_email: MAIL, notification_email_from: MAIL, smtp_server: MAIL, smtp_helo_name: MAIL, smtp_connect_timeout: MAIL,
  smtp_alert: MAIL, smtp_alert_vrrp: MAIL, smtp_alert_checker: MAIL, no_email_faults: MAIL, email_faults: MAIL,
  ...Object.fromEntries(['process_names', 'process_name', 'vrrp_process_name', 'checker_process_name', 'bfd_process_name',
    'vrrp_priority', 'checker_priority', 'bfd_priority', 'vrrp_no_swap', 'checker_no_swap', 'bfd_no_swap',
    'checker_rt_priority', 'bfd_rt_priority', 'vrrp_rlimit_rttime', 'checker_rlimit_rttime', 'bfd_rlimit_rttime', 'vrrp_cpu_affinity',
    'checker_cpu_affinity', 'bfd_cpu_affinity', 'max_auto_priority', 'min_auto_priority_delay', 'child_wait_time',
    'tmp_config_directory', 'config_save_dir', 'umask', 'use_pid_dir', 'instance', 'vrrp_netlink_cmd_rcv_bufs',
    'vrrp_netlink_cmd_rcv_bufs_force', 'vrrp_netlink_monitor_rcv_bufs', 'vrrp_netlink_monitor_rcv_bufs_force', 'vrrp_rx_bufs_policy',
    'vrrp_rx_bufs_multiplier', 'process_monitor_rcv_bufs', 'process_monitor_rcv_bufs_force', 'random_seed', 'reload_check_config',
    'reload_time_file', 'reload_repeat', 'reload_file', 'data_use_instance', 'log_unknown_vrids', 'vrrp_skip_check_adv_addr',
    'checker_log_all_failures', 'fifo_write_vrrp_states_on_reload', 'rs_init_notifies', 'no_checker_emails', 'linkbeat_use_polling',
    'enable_snmp_vrrp', 'enable_snmp_keepalived', 'enable_snmp_checker', 'enable_snmp_rfc', 'enable_snmp_rfcv2', 'enable_snmp_rfcv3',
    'enable_traps', 'snmp_socket', 'enable_dbus', 'dbus_service_name', 'disable_local_igmp',
  ].map((k): [string, Policy] => [k, TUNING])),
  vrrp_startup_delay: unsupported('carpool starts electing at once; use a systemd ExecStartPre delay'),
  vrrp_delay_after_boot: unsupported('carpool starts electing at once; use a systemd ExecStartPre delay'),
  dynamic_interfaces: unsupported('carpool needs every instance interface to exist at start'),
  net_namespace: unsupported('run carpool inside the namespace (ip netns exec NAME carpool run ...)'),
  net_namespace_ipvs: LVS, namespace_with_ipsets: unsupported('no firewall integration'),
  notify_fifo: unsupported('notification FIFOs are not written (use notify scripts)'),
  notify_fifo_script: unsupported('notification FIFOs are not written (use notify scripts)'),
  vrrp_notify_fifo: unsupported('notification FIFOs are not written (use notify scripts)'),
  vrrp_notify_fifo_script: unsupported('notification FIFOs are not written (use notify scripts)'),
  vrrp_notify_priority_changes: unsupported('notification FIFOs are not written'),
  vrrp_check_unicast_src: unsupported('adverts from unicast sources that are not peers are not filtered yet'),
  vrrp_iptables: unsupported('no firewall integration (accept mode: the addresses accept traffic)'),
  vrrp_ipsets: unsupported('no firewall integration'),
  nftables: unsupported('no firewall integration (accept mode: the addresses accept traffic)'),
  nftables_priority: unsupported('no firewall integration'), nftables_ifindex: unsupported('no firewall integration'),
  nftables_counters: unsupported('no firewall integration'),
  vrrp_garp_extra_if: unsupported('gratuitous ARPs are sent on the instance interfaces only'),
  vmac_prefix: unsupported('VMAC interfaces are named vrrp.VRID or as use_vmac gives'),
  vmac_addr_prefix: unsupported('VMAC interfaces are named vrrp.VRID or as use_vmac gives'),
  default_interface: unsupported('static addresses are not supported'),
  startup_script: unsupported('run it from systemd (ExecStartPre)'), startup_script_timeout: unsupported('run it from systemd (ExecStartPre)'),
  shutdown_script: unsupported('run it from systemd (ExecStopPost)'), shutdown_script_timeout: unsupported('run it from systemd (ExecStopPost)'),
  include_check: unsupported('all includes are checked the same way'),
  lvs_sync_daemon: LVS, lvs_timeouts: LVS, lvs_flush: LVS, lvs_flush_on_stop: LVS, lvs_notify_fifo: LVS, lvs_notify_fifo_script: LVS,
  lvs_netlink_cmd_rcv_bufs: LVS, lvs_netlink_cmd_rcv_bufs_force: LVS, lvs_netlink_monitor_rcv_bufs: LVS,
  lvs_netlink_monitor_rcv_bufs_force: LVS, nftables_ipvs: LVS, nftables_ipvs_priority: LVS, nftables_ipvs_start_fwmark: LVS,
};

/** vrrp_instance keywords carpool does not implement. */
const INSTANCE_POLICIES: Readonly<Record<string, Policy>> = {
  smtp_alert: MAIL,
  debug: { kind: 'not-used', why: 'per-instance debug level; use logging.debug' },
  linkbeat_use_polling: { kind: 'not-used', why: 'carpool follows the link state through netlink' },
  skip_check_adv_addr: { kind: 'not-used', why: 'adverts with other addresses are logged and accepted anyway, as in current keepalived' },
  promote_secondaries: { kind: 'not-used', why: 'carpool adds each virtual address itself' },
  kernel_rx_buf_size: TUNING,
  accept: { kind: 'not-used', why: 'carpool always runs in accept mode (the addresses accept traffic)' },
  no_accept: unsupported('no firewall integration: the virtual addresses always accept traffic'),
  auth_hmac: unsupported("keepalived's HMAC-SHA256 advert trailer is not implemented"),
  use_ipvlan: unsupported('only macvlan VMACs (use_vmac)'),
  vmac_xmit_base: unsupported('adverts from a VMAC go out on the VMAC interface'),
  use_vmac_addr: unsupported('VMAC interfaces always get the RFC virtual MAC'),
  track_bfd: unsupported('no BFD'), track_process: unsupported('no process tracking (use a vrrp_script with pidof)'),
  track_src_ip: unsupported('a missing source address is not tracked'),
  virtual_rules: unsupported('no policy routing rules (use notify scripts with ip rule)'),
  unicast_ttl: unsupported('unicast adverts use TTL 255'),
  check_unicast_src: unsupported('adverts from unicast sources that are not peers are not filtered yet'),
  unicast_fault_no_peer: unsupported('an instance without peers is not put in FAULT'),
  old_unicast_checksum: unsupported('only the current VRRPv3 checksum (or v3_checksum_as_v2)'),
  notify_master_rx_lower_pri: unsupported('this notify event is not raised'),
  notify_deleted: unsupported('carpool does not delete instances on reload'),
  notify_priority_changes: unsupported('notification FIFOs are not written'),
  native_ipv6: unsupported('the family follows the virtual addresses; give IPv6 addresses'),
  no_virtual_ipaddress: unsupported('an instance needs at least one virtual address'),
  lvs_sync_daemon_interface: LVS,
  garp_extra_if: unsupported('gratuitous ARPs are sent on the instance interfaces only'),
  vrf: unsupported('no VRF support'),
  timer_expired_backup: unsupported('not implemented'),
  owner_ignore_adverts: unsupported('not implemented'),
};

const SYNC_GROUP_POLICIES: Readonly<Record<string, Policy>> = {
  smtp_alert: MAIL,
  track_bfd: unsupported('no BFD'), track_process: unsupported('no process tracking'),
  notify_priority_changes: unsupported('notification FIFOs are not written'),
};

const TOP_POLICIES: Readonly<Record<string, Policy>> = {
  virtual_server: LVS, virtual_server_group: LVS, SSL: LVS,
  static_ipaddress: unsupported('static addresses are not managed (use the system network configuration)'),
  static_routes: unsupported('static routes are not managed (use the system network configuration)'),
  static_rules: unsupported('static rules are not managed (use the system network configuration)'),
  linkbeat_interfaces: unsupported('carpool follows the link state through netlink'),
  track_group: unsupported('no static track groups'),
  vrrp_track_process: unsupported('no process tracking (use a vrrp_script with pidof)'),
  track_process: unsupported('no process tracking (use a vrrp_script with pidof)'),
  bfd_instance: unsupported('no BFD'),
  garp_group: unsupported('gratuitous ARP groups are not implemented'),
  net_namespace: GLOBAL_POLICIES.net_namespace!, net_namespace_ipvs: LVS, namespace_with_ipsets: GLOBAL_POLICIES.namespace_with_ipsets!,
  instance: TUNING, use_pid_dir: TUNING, linkbeat_use_polling: { kind: 'not-used', why: 'carpool follows the link state through netlink' },
  child_wait_time: TUNING,
};

type Handler<C> = (st: KaStatement, ctx: C) => void;

/** Diagnostics and value readers. */
class Checker {
  readonly diagnostics: ConfigDiagnostic[] = [];
  constructor(readonly vrrpOnly: boolean) {}

  report(severity: Severity, code: ConfigDiagnosticCode, at: SourceLoc, message: string, expected: string): void {
    this.diagnostics.push({ file: at.file, line: at.line, column: at.column, message, expected, code, severity });
  }
  error(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.report('error', code, at, message, expected);
  }
  warn(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.report('warning', code, at, message, expected);
  }

  /** The only argument of a value keyword. */
  one(st: KaStatement, expected: string): KaToken | undefined {
    this.noBlock(st);
    const a = st.args[0];
    if (!a) {
      this.error(st.loc, 'MISSING_ARGUMENT', `${st.keyword} needs a value`, expected);
      return undefined;
    }
    if (st.args.length > 1) this.extra(st, 1, expected);
    return a;
  }
  extra(st: KaStatement, allowed: number, expected: string): void {
    const t = st.args[allowed]!;
    this.error(t.loc, 'EXTRA_ARGUMENT', `${st.keyword}: unexpected '${t.text}'`, expected);
  }
  noArgs(st: KaStatement): void {
    this.noBlock(st);
    if (st.args.length > 0) this.extra(st, 0, `${st.keyword} on its own`);
  }
  noBlock(st: KaStatement): void {
    if (st.block) this.error(st.blockLoc ?? st.loc, 'UNEXPECTED_BLOCK', `${st.keyword} does not take a { block }`, `${st.keyword} VALUE`);
  }
  block(st: KaStatement, example: string): readonly KaStatement[] {
    if (!st.block) {
      this.error(st.loc, 'BLOCK_EXPECTED', `${st.keyword} needs a { block }`, example);
      return [];
    }
    return st.block;
  }

  int(tok: KaToken, what: string, min: number, max: number): At<number> | undefined {
    if (!/^[+-]?\d+$/.test(tok.text)) {
      this.error(tok.loc, 'INVALID_VALUE', `${what}: '${tok.text}' is not a whole number`, `an integer ${min}..${max}`);
      return undefined;
    }
    const v = Number(tok.text);
    if (v < min || v > max) {
      this.error(tok.loc, 'OUT_OF_RANGE', `${what}: got ${v}`, `an integer ${min}..${max}`);
      return undefined;
    }
    return { value: v, at: tok.loc };
  }
  /** Decimal seconds (keepalived TIMER). */
  seconds(tok: KaToken, what: string, min: number, max: number): At<number> | undefined {
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(tok.text)) {
      this.error(tok.loc, 'INVALID_VALUE', `${what}: '${tok.text}' is not a number of seconds`, `seconds ${min}..${max} (decimals allowed)`);
      return undefined;
    }
    const v = Number(tok.text);
    if (v < min || v > max) {
      this.error(tok.loc, 'OUT_OF_RANGE', `${what}: got ${v}`, `seconds ${min}..${max}`);
      return undefined;
    }
    return { value: v, at: tok.loc };
  }
  /** keepalived BOOL: on|off|true|false|yes|no; a bare keyword is true. */
  bool(st: KaStatement): At<boolean> | undefined {
    this.noBlock(st);
    const a = st.args[0];
    if (!a) return { value: true, at: st.loc };
    if (st.args.length > 1) this.extra(st, 1, `${st.keyword} [on|off]`);
    const t = a.text.toLowerCase();
    if (['on', 'true', 'yes'].includes(t)) return { value: true, at: a.loc };
    if (['off', 'false', 'no'].includes(t)) return { value: false, at: a.loc };
    this.error(a.loc, 'INVALID_VALUE', `${st.keyword}: '${a.text}' is not a boolean`, 'on, off, true, false, yes or no (or nothing for on)');
    return undefined;
  }
  ip(tok: KaToken, what: string): At<string> | undefined {
    const p = parseIP(tok.text);
    if (!p) {
      this.error(tok.loc, 'INVALID_ADDRESS', `${what}: '${tok.text}' is not an IP address`, 'an IPv4 or IPv6 address');
      return undefined;
    }
    return { value: parseCidr(tok.text)!.address, at: tok.loc };
  }
  ifname(tok: KaToken, what: string): At<string> | undefined {
    if (tok.text === '' || new TextEncoder().encode(tok.text).length > 15 || /[/\s]/.test(tok.text)) {
      this.error(tok.loc, 'INVALID_VALUE', `${what}: '${tok.text}' is not a valid interface name`, '1..15 bytes without / or blanks');
      return undefined;
    }
    return { value: tok.text, at: tok.loc };
  }

  /**
   * A script keyword (`script`, `notify*`): keepalived re-reads the line with quotes and escapes,
   * takes the first word as the command (itself split into argv) and the next two as user and group.
   */
  script(st: KaStatement, owner: string, allowUser: boolean): At<Hook> | undefined {
    this.noBlock(st);
    const expected = `${st.keyword} "/path/to/script arg ..."${allowUser ? ' [user [group]]' : ''}`;
    const words = splitScriptWords(st.rest);
    if (!words) {
      // An unclosed double quote was already reported by the tokenizer.
      if ((st.rest.match(/"/g)?.length ?? 0) % 2 === 1) return undefined;
      this.error(st.args[0]?.loc ?? st.loc, 'SYNTAX', `${st.keyword} in ${owner}: a quote is not closed`, expected);
      return undefined;
    }
    const cmd = words[0];
    if (cmd === undefined || cmd.trim() === '') {
      this.error(st.loc, 'MISSING_ARGUMENT', `${st.keyword} in ${owner} needs a command`, expected);
      return undefined;
    }
    const argv = splitScriptWords(cmd);
    if (!argv || argv.length === 0) {
      this.error(st.args[0]!.loc, 'SYNTAX', `${st.keyword} in ${owner}: cannot split '${cmd}' into words`, expected);
      return undefined;
    }
    const extra = words.slice(1);
    if (!allowUser && extra.length > 0) {
      this.error(st.args[1]?.loc ?? st.loc, 'EXTRA_ARGUMENT',
        `${st.keyword} in ${owner}: keepalived runs only '${cmd}' and drops '${extra.join(' ')}'; quote the whole command`,
        `${st.keyword} "${[cmd, ...extra].join(' ')}"`);
      return undefined;
    }
    if (extra.length > 2) {
      this.error(st.args[3]?.loc ?? st.loc, 'EXTRA_ARGUMENT',
        `${st.keyword} in ${owner}: too many words; keepalived reads '${extra[0]}' and '${extra[1]}' as user and group`,
        `${st.keyword} "${[cmd, ...extra].join(' ')}" (quote the command with its arguments)`);
      return undefined;
    }
    if (extra.length > 0) {
      this.warn(st.args[1]?.loc ?? st.loc, 'NOT_USED',
        `${st.keyword} in ${owner}: carpool runs hooks as root and does not switch to user '${extra.join(':')}' (if '${extra[0]}' is meant as an argument, quote the command)`,
        `${st.keyword} "${cmd}"`);
    }
    if (argv[0]!.includes('/') && !argv[0]!.startsWith('/')) {
      this.error(st.args[0]!.loc, 'INVALID_VALUE', `${st.keyword} in ${owner}: '${argv[0]}' is a relative path; the daemon runs in /`,
        'an absolute path such as /etc/keepalived/notify.sh');
      return undefined;
    }
    return { value: { argv, shell: false }, at: st.args[0]!.loc };
  }

  /** Keywords carpool knows but does not implement. */
  policy(st: KaStatement, p: Policy, where: string): void {
    if (p.kind === 'not-used') {
      this.warn(st.loc, 'NOT_USED', `${st.keyword} in ${where} is ${p.why.startsWith('not used') ? p.why : `accepted but ignored: ${p.why}`}`,
        'nothing: it does not change failover behaviour');
    } else if (p.kind === 'lvs') {
      this.lvs(st);
    } else {
      this.error(st.loc, 'NOT_SUPPORTED', `${st.keyword} in ${where} is not supported by carpool${p.why ? `: ${p.why}` : ''}`,
        `a configuration without ${st.keyword}`);
    }
  }

  readonly skipped: string[] = [];
  lvs(st: KaStatement): void {
    const what = [st.keyword, ...st.args.map((a) => a.text)].join(' ');
    const reals = (st.block ?? []).filter((s) => s.keyword === 'real_server').length;
    const label = reals > 0 ? `${what} (${reals} real server${reals === 1 ? '' : 's'})` : what;
    if (this.vrrpOnly) {
      this.skipped.push(`${label} at ${st.loc.file}:${st.loc.line}`);
    } else {
      this.error(st.loc, 'LVS_NOT_SUPPORTED', `${st.keyword} (LVS) is not supported yet — run with --vrrp-only to start the VRRP part only, like \`keepalived --vrrp\``,
        'VRRP configuration only, or --vrrp-only');
    }
  }

  unknown(st: KaStatement, known: readonly string[], where: string): void {
    const guess = suggest(st.keyword, known);
    this.error(st.loc, 'UNKNOWN_KEYWORD', `unknown keyword '${st.keyword}' in ${where}${guess ? ` — did you mean '${guess}'?` : ''}`,
      `a keyword of ${where}`);
  }

  /** Run each statement of a block through its handler, policy, or the unknown-keyword error. */
  dispatch<C>(stmts: readonly KaStatement[], handlers: Readonly<Record<string, Handler<C>>>, policies: Readonly<Record<string, Policy>>,
    where: string, ctx: C): void {
    const known = [...Object.keys(handlers), ...Object.keys(policies)];
    for (const st of stmts) {
      const h = Object.hasOwn(handlers, st.keyword) ? handlers[st.keyword] : undefined;
      if (h) h(st, ctx);
      else if (Object.hasOwn(policies, st.keyword)) this.policy(st, policies[st.keyword]!, where);
      else this.unknown(st, known, where);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Value blocks

const SCOPES = ['global', 'site', 'link', 'host', 'nowhere'] as const;

/** `IP[/LEN] [brd X] [dev IF] [label L] [scope S] [no_track]` */
function readVip(c: Checker, st: KaStatement, owner: string): At<VirtualAddress> | undefined {
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
const ROUTE_UNSUPPORTED = ['scope', 'proto', 'protocol', 'onlink', 'mtu', 'advmss', 'realms', 'realm', 'tos', 'dsfield', 'nexthop', 'or',
  'initcwnd', 'initrwnd', 'features', 'quickack', 'congctl', 'rtt', 'rttvar', 'ssthresh', 'cwnd', 'window', 'hoplimit', 'reordering',
  'fastopen_no_cookie', 'pref', 'ttl-propagate', 'encap', 'expires', 'type', 'nhid', 'lock', 'from', 'local', 'nat', 'broadcast', 'anycast', 'multicast'];

/** `[src IP] [to] DST[/LEN]|default [via|gw GW] [dev IF] [metric N] [table T] [blackhole|unreachable|prohibit|throw]` */
function readRoute(c: Checker, st: KaStatement, owner: string): At<VirtualRoute> | undefined {
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
function readTrackRefs(c: Checker, st: KaStatement, owner: string, kind: string): At<TrackRefSpec>[] {
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
function readWeight(c: Checker, st: KaStatement, min: number, max: number): { weight?: At<number>; reverse?: At<boolean> } {
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

function hint(word: string, known: readonly string[]): string {
  const g = suggest(word, known);
  return g ? ` — did you mean '${g}'?` : '';
}

// ---------------------------------------------------------------------------------------------
// Blocks

const GARP_KEYS = {
  garp_master_delay: 'masterDelay', garp_master_repeat: 'masterRepeat', garp_master_refresh: 'masterRefresh',
  garp_master_refresh_repeat: 'masterRefreshRepeat', garp_lower_prio_delay: 'lowerPrioDelay', garp_lower_prio_repeat: 'lowerPrioRepeat',
  garp_interval: 'interval',
} as const;
const GARP_SECONDS = new Set(['masterDelay', 'masterRefresh', 'lowerPrioDelay', 'interval']);

function garpHandler<C extends Ctx>(key: keyof typeof GARP_KEYS, get: (ctx: C) => GarpSpec): Handler<C> {
  const field = GARP_KEYS[key];
  return (st, ctx) => {
    const v = ctx.c.one(st, `${st.keyword} N`);
    if (!v) return;
    const parsed = GARP_SECONDS.has(field) ? ctx.c.seconds(v, st.keyword, 0, 86400) : ctx.c.int(v, st.keyword, 0, 255);
    if (parsed) get(ctx)[field] = parsed;
  };
}

interface Ctx { readonly c: Checker }

/** Process settings from global_defs that carpool applies to itself. */
interface Tuning { realtimePriority?: number }

interface GlobalCtx extends Ctx { readonly d: VrrpDefaultsSpec; readonly tune: Tuning }

const GLOBAL_HANDLERS: Readonly<Record<string, Handler<GlobalCtx>>> = {
  router_id: ({ args, keyword, loc, block }, { c }) => {
    if (block) c.error(loc, 'UNEXPECTED_BLOCK', `${keyword} does not take a { block }`, 'router_id NAME');
    if (args.length !== 1) c.error(loc, args.length ? 'EXTRA_ARGUMENT' : 'MISSING_ARGUMENT', 'router_id takes one name', 'router_id NAME');
  },
  vrrp_version: (st, { c, d }) => {
    const v = c.one(st, 'vrrp_version 2|3');
    const n = v && c.int(v, 'vrrp_version', 2, 3);
    if (n) d.version = n as At<2 | 3>;
  },
  vrrp_mcast_group4: (st, { c, d }) => {
    const v = c.one(st, 'vrrp_mcast_group4 224.0.0.18');
    const ip = v && c.ip(v, 'vrrp_mcast_group4');
    if (ip && !/^(22[4-9]|23\d)\./.test(ip.value)) c.error(ip.at, 'INVALID_ADDRESS', `vrrp_mcast_group4: ${ip.value} is not an IPv4 multicast address`, 'an address in 224.0.0.0/4');
    else if (ip) d.mcastGroup4 = ip;
  },
  vrrp_mcast_group6: (st, { c, d }) => {
    const v = c.one(st, 'vrrp_mcast_group6 ff02::12');
    const ip = v && c.ip(v, 'vrrp_mcast_group6');
    if (ip && !/^ff/i.test(ip.value)) c.error(ip.at, 'INVALID_ADDRESS', `vrrp_mcast_group6: ${ip.value} is not an IPv6 multicast address`, 'an address in ff00::/8');
    else if (ip) d.mcastGroup6 = ip;
  },
  ...Object.fromEntries(Object.keys(GARP_KEYS).map((k) => [`vrrp_${k}`, garpHandler<GlobalCtx>(k as keyof typeof GARP_KEYS, (x) => x.d.garp)])),
  vrrp_gna_interval: (st, { c, d }) => {
    const v = c.one(st, 'vrrp_gna_interval SECONDS');
    const s = v && c.seconds(v, 'vrrp_gna_interval', 0, 1000);
    if (s) d.garp.gnaInterval = s;
  },
  vrrp_min_garp: (st, { c, d }) => { const b = c.bool(st); if (b) d.garp.minGarp = b; },
  vrrp_lower_prio_no_advert: (st, { c, d }) => { const b = c.bool(st); if (b) d.lowerPrioNoAdvert = b; },
  vrrp_higher_prio_send_advert: (st, { c, d }) => { const b = c.bool(st); if (b) d.higherPrioSendAdvert = b; },
  v3_checksum_as_v2: (st, { c, d }) => { const b = c.bool(st); if (b) d.v3ChecksumAsV2 = b; },
  vrrp_down_timer_adverts: (st, { c, d }) => {
    const v = c.one(st, 'vrrp_down_timer_adverts 1..100');
    const n = v && c.int(v, 'vrrp_down_timer_adverts', 1, 100);
    if (n) d.downTimerAdverts = n;
  },
  vrrp_strict: (st, { c, d }) => {
    c.noArgs(st);
    d.strict = { value: true, at: st.loc };
    c.warn(st.loc, 'STRICT_MODE',
      'vrrp_strict: carpool enforces the RFC rules (no authentication, no unicast peers, no preempt_delay, link-local first IPv6 address) and does not answer lower-priority adverts, but installs no firewall rules: the virtual addresses accept traffic',
      'nothing, if accept mode is fine');
  },
  script_user: (st, { c }) => {
    c.noBlock(st);
    if (st.args.length < 1 || st.args.length > 2) c.error(st.loc, st.args.length ? 'EXTRA_ARGUMENT' : 'MISSING_ARGUMENT', 'script_user takes a user and an optional group', 'script_user USER [GROUP]');
    c.warn(st.loc, 'NOT_USED', 'script_user is accepted, but carpool runs scripts as root (it does not switch users)', 'scripts that are safe to run as root');
  },
  vrrp_rt_priority: (st, { c, tune }) => {
    const v = c.one(st, 'vrrp_rt_priority 1..99');
    const n = v && c.int(v, 'vrrp_rt_priority', 1, 99);
    if (n) tune.realtimePriority = n.value;
  },
  enable_script_security: (st, { c }) => {
    c.noArgs(st);
    c.warn(st.loc, 'NOT_USED', "enable_script_security is accepted; carpool does not check who can modify scripts — keep them root-owned and not writable by others",
      'root-owned scripts');
  },
};

interface InstanceCtx extends Ctx { readonly s: VrrpInstanceSpec; readonly seen: Map<string, SourceLoc> }

function once<C extends InstanceCtx>(h: Handler<C>): Handler<C> {
  return (st, ctx) => {
    const prev = ctx.seen.get(st.keyword);
    if (prev) {
      ctx.c.warn(st.loc, 'DUPLICATE_KEYWORD', `${st.keyword} is given again in vrrp_instance '${ctx.s.name.value}' (first at line ${prev.line}); the last one counts`,
        `${st.keyword} once`);
    }
    ctx.seen.set(st.keyword, st.loc);
    h(st, ctx);
  };
}

function instanceNotify(key: keyof NotifySpec): Handler<InstanceCtx> {
  return (st, { c, s }) => {
    const h = c.script(st, `vrrp_instance '${s.name.value}'`, true);
    if (h) s.notify[key] = h;
  };
}

const INSTANCE_HANDLERS: Readonly<Record<string, Handler<InstanceCtx>>> = {
  state: once((st, { c, s }) => {
    const v = c.one(st, 'state MASTER|BACKUP');
    if (!v) return;
    if (v.text !== 'MASTER' && v.text !== 'BACKUP') {
      c.error(v.loc, 'INVALID_VALUE', `state: '${v.text}' is not a state (keepalived would fall back to BACKUP)`, 'MASTER or BACKUP (upper case)');
      return;
    }
    s.state = { value: v.text, at: v.loc };
  }),
  interface: once((st, { c, s }) => { const v = c.one(st, 'interface eth0'); const n = v && c.ifname(v, 'interface'); if (n) s.interface = n; }),
  virtual_router_id: once((st, { c, s }) => {
    const v = c.one(st, 'virtual_router_id 1..255');
    const n = v && c.int(v, 'virtual_router_id', 1, 255);
    if (n) s.vrid = n;
  }),
  priority: once((st, { c, s }) => { const v = c.one(st, 'priority 1..255'); const n = v && c.int(v, 'priority', 1, 255); if (n) s.priority = n; }),
  advert_int: once((st, { c, s }) => {
    const v = c.one(st, 'advert_int SECONDS');
    const n = v && c.seconds(v, 'advert_int', 0.01, 255);
    if (n) s.advertInt = n;
  }),
  version: once((st, { c, s }) => { const v = c.one(st, 'version 2|3'); const n = v && c.int(v, 'version', 2, 3); if (n) s.version = n; }),
  nopreempt: (st, { c, s }) => { c.noArgs(st); s.nopreempt = { value: true, at: st.loc }; },
  preempt: (st, { c, s }) => {
    c.noArgs(st);
    c.warn(st.loc, 'NOT_USED', 'preempt is the default; the keyword does nothing (it cancels an earlier nopreempt, as in keepalived)', 'nothing');
    s.nopreempt = { value: false, at: st.loc };
  },
  preempt_delay: once((st, { c, s }) => {
    const v = c.one(st, 'preempt_delay SECONDS');
    const n = v && c.seconds(v, 'preempt_delay', 0, 1000);
    if (n) s.preemptDelay = n;
  }),
  mcast_src_ip: once((st, { c, s }) => { const v = c.one(st, 'mcast_src_ip IP'); const ip = v && c.ip(v, 'mcast_src_ip'); if (ip) s.srcip = ip; }),
  unicast_src_ip: once((st, { c, s }) => { const v = c.one(st, 'unicast_src_ip IP'); const ip = v && c.ip(v, 'unicast_src_ip'); if (ip) s.srcip = ip; }),
  mcast_dst_ip: once((st, { c, s }) => { const v = c.one(st, 'mcast_dst_ip IP'); const ip = v && c.ip(v, 'mcast_dst_ip'); if (ip) s.mcastGroup = ip; }),
  unicast_peer: (st, { c, s }) => {
    for (const e of c.block(st, 'unicast_peer { IP ... }')) {
      c.noBlock(e);
      for (const w of [{ text: e.keyword, loc: e.loc, start: 0, end: 0 }, ...e.args]) {
        if (w.text === 'min_ttl' || w.text === 'max_ttl') {
          c.error(w.loc, 'NOT_SUPPORTED', `${w.text} of a unicast peer is not supported by carpool`, 'one peer address per line');
          break;
        }
        const ip = c.ip(w, `unicast peer of vrrp_instance '${s.name.value}'`);
        if (ip) s.unicastPeers.push(ip);
      }
    }
  },
  v3_checksum_as_v2: (st, { c, s }) => { const b = c.bool(st); if (b) s.v3ChecksumAsV2 = b; },
  authentication: (st, { c, s }) => {
    let type: KaToken | undefined;
    let pass: KaToken | undefined;
    c.dispatch(c.block(st, 'authentication { auth_type PASS; auth_pass SECRET }'), {
      auth_type: (e) => { type = c.one(e, 'auth_type PASS'); },
      auth_pass: (e) => { pass = c.one(e, 'auth_pass SECRET'); },
    }, {}, 'authentication', { c });
    if (type && type.text === 'AH') {
      c.error(type.loc, 'NOT_SUPPORTED', 'auth_type AH (IPsec AH authentication) is not supported by carpool', 'auth_type PASS, or no authentication block');
      return;
    }
    if (type && type.text !== 'PASS') {
      c.error(type.loc, 'INVALID_VALUE', `auth_type: '${type.text}' is not an authentication type`, 'PASS (AH is not supported)');
      return;
    }
    if (!type && pass) {
      c.error(st.loc, 'MISSING_ARGUMENT', 'authentication has auth_pass but no auth_type', 'auth_type PASS');
      return;
    }
    if (type && !pass) {
      c.error(st.loc, 'MISSING_ARGUMENT', 'authentication has auth_type PASS but no auth_pass', 'auth_pass SECRET (at most 8 bytes are used)');
      return;
    }
    if (pass) s.authPass = { value: pass.text, at: pass.loc };
  },
  virtual_ipaddress: (st, { c, s }) => {
    for (const e of c.block(st, 'virtual_ipaddress { 10.0.0.1/24 ... }')) {
      const v = readVip(c, e, `vrrp_instance '${s.name.value}'`);
      if (v) s.addresses.push(v);
    }
  },
  virtual_ipaddress_excluded: (st, { c, s }) => {
    for (const e of c.block(st, 'virtual_ipaddress_excluded { 10.0.0.1/24 ... }')) {
      const v = readVip(c, e, `vrrp_instance '${s.name.value}'`);
      if (v) s.excludedAddresses.push(v);
    }
  },
  virtual_routes: (st, { c, s }) => {
    for (const e of c.block(st, 'virtual_routes { 10.1.0.0/16 via 10.0.0.254 ... }')) {
      const r = readRoute(c, e, `vrrp_instance '${s.name.value}'`);
      if (r) s.routes.push(r);
    }
  },
  track_interface: (st, { c, s }) => {
    for (const r of readTrackRefs(c, st, `vrrp_instance '${s.name.value}'`, 'interface')) {
      if (c.ifname({ text: r.value.name, loc: r.at, start: 0, end: 0 }, 'track_interface')) s.trackInterfaces.push(r);
    }
  },
  track_script: (st, { c, s }) => { s.trackScripts.push(...readTrackRefs(c, st, `vrrp_instance '${s.name.value}'`, 'script')); },
  track_file: (st, { c, s }) => { s.trackFiles.push(...readTrackRefs(c, st, `vrrp_instance '${s.name.value}'`, 'file')); },
  dont_track_primary: (st, { c, s }) => { c.noArgs(st); s.trackPrimary = { value: false, at: st.loc }; },
  notify_master: once(instanceNotify('master')),
  notify_backup: once(instanceNotify('backup')),
  notify_fault: once(instanceNotify('fault')),
  notify_stop: once(instanceNotify('stop')),
  notify: once(instanceNotify('generic')),
  ...Object.fromEntries(Object.keys(GARP_KEYS).filter((k) => k !== 'garp_interval').map((k) =>
    [k, once(garpHandler<InstanceCtx>(k as keyof typeof GARP_KEYS, (x) => x.s.garp))])),
  lower_prio_no_advert: (st, { c, s }) => { const b = c.bool(st); if (b) s.lowerPrioNoAdvert = b; },
  higher_prio_send_advert: (st, { c, s }) => { const b = c.bool(st); if (b) s.higherPrioSendAdvert = b; },
  down_timer_adverts: once((st, { c, s }) => {
    const v = c.one(st, 'down_timer_adverts 1..100');
    const n = v && c.int(v, 'down_timer_adverts', 1, 100);
    if (n) s.downTimerAdverts = n;
  }),
  use_vmac: (st, { c, s }) => {
    c.noBlock(st);
    const name = st.args[0];
    if (st.args.length > 1) {
      c.error(st.args[1]!.loc, 'NOT_SUPPORTED', 'use_vmac with a MAC address is not supported by carpool (the VMAC is the RFC 00-00-5E-00-01-VRID)', 'use_vmac [NAME]');
      return;
    }
    if (name) { const n = c.ifname(name, 'use_vmac'); if (n) s.vmac = n; } else s.vmac = { value: true, at: st.loc };
  },
  strict_mode: (st, { c, s }) => { const b = c.bool(st); if (b) s.strict = b; },
};

interface ScriptCtx extends Ctx { readonly s: VrrpScriptSpec }
const SCRIPT_HANDLERS: Readonly<Record<string, Handler<ScriptCtx>>> = {
  script: (st, { c, s }) => {
    const h = c.script(st, `vrrp_script '${s.name.value}'`, false);
    if (h) s.script = h; else s.scriptInvalid = true;
  },
  interval: (st, { c, s }) => { const v = c.one(st, 'interval SECONDS'); const n = v && c.seconds(v, 'interval', 0.001, 86400); if (n) s.interval = n; },
  timeout: (st, { c, s }) => { const v = c.one(st, 'timeout SECONDS'); const n = v && c.seconds(v, 'timeout', 0.001, 86400); if (n) s.timeout = n; },
  weight: (st, { c, s }) => { const w = readWeight(c, st, -253, 253); if (w.weight) s.weight = w.weight; if (w.reverse) s.reverse = w.reverse; },
  rise: (st, { c, s }) => { const v = c.one(st, 'rise N'); const n = v && c.int(v, 'rise', 1, 1_000_000); if (n) s.rise = n; },
  fall: (st, { c, s }) => { const v = c.one(st, 'fall N'); const n = v && c.int(v, 'fall', 1, 1_000_000); if (n) s.fall = n; },
  init_fail: (st, { c, s }) => { c.noArgs(st); s.initFail = { value: true, at: st.loc }; },
  user: (st, { c, s }) => {
    c.noBlock(st);
    if (st.args.length < 1 || st.args.length > 2) c.error(st.loc, st.args.length ? 'EXTRA_ARGUMENT' : 'MISSING_ARGUMENT', 'user takes a user and an optional group', 'user USER [GROUP]');
    c.warn(st.loc, 'NOT_USED', `user in vrrp_script '${s.name.value}' is accepted, but carpool runs scripts as root (it does not switch users)`, 'a script that is safe to run as root');
  },
};

interface TrackFileCtx extends Ctx { readonly s: TrackFileSpec }
const TRACK_FILE_HANDLERS: Readonly<Record<string, Handler<TrackFileCtx>>> = {
  file: (st, { c, s }) => { const v = c.one(st, 'file "/path"'); if (v) s.path = { value: v.text, at: v.loc }; },
  weight: (st, { c, s }) => { const w = readWeight(c, st, -254, 254); if (w.weight) s.weight = w.weight; if (w.reverse) s.reverse = w.reverse; },
  init_file: (st, { c, s }) => {
    c.noBlock(st);
    let rest = st.args;
    if (rest[0] && rest[0].text !== 'overwrite') {
      const n = c.int(rest[0], 'init_file', -2147483647, 2147483647);
      if (n) s.initValue = n;
      rest = rest.slice(1);
    } else {
      s.initValue = { value: 0, at: st.loc };
    }
    if (rest[0]?.text === 'overwrite') { s.initOverwrite = { value: true, at: rest[0].loc }; rest = rest.slice(1); }
    if (rest[0]) c.error(rest[0].loc, 'EXTRA_ARGUMENT', `init_file: unexpected '${rest[0].text}'`, 'init_file [VALUE] [overwrite]');
  },
};

interface GroupCtx extends Ctx { readonly g: SyncGroupSpec }
function groupNotify(key: keyof NotifySpec): Handler<GroupCtx> {
  return (st, { c, g }) => { const h = c.script(st, `vrrp_sync_group '${g.name.value}'`, true); if (h) g.notify[key] = h; };
}
const GROUP_HANDLERS: Readonly<Record<string, Handler<GroupCtx>>> = {
  group: (st, { c, g }) => {
    for (const e of c.block(st, 'group { VI_1 VI_2 }')) {
      c.noBlock(e);
      for (const w of [{ text: e.keyword, loc: e.loc }, ...e.args]) g.members.push({ value: w.text, at: w.loc });
    }
  },
  notify_master: groupNotify('master'),
  notify_backup: groupNotify('backup'),
  notify_fault: groupNotify('fault'),
  notify_stop: groupNotify('stop'),
  notify: groupNotify('generic'),
  track_interface: (st, { c, g }) => { g.trackInterfaces.push(...readTrackRefs(c, st, `vrrp_sync_group '${g.name.value}'`, 'interface')); },
  track_script: (st, { c, g }) => { g.trackScripts.push(...readTrackRefs(c, st, `vrrp_sync_group '${g.name.value}'`, 'script')); },
  track_file: (st, { c, g }) => { g.trackFiles.push(...readTrackRefs(c, st, `vrrp_sync_group '${g.name.value}'`, 'file')); },
  sync_group_tracking_weight: (st, { c, g }) => { c.noArgs(st); g.trackingWeight = { value: true, at: st.loc }; },
  global_tracking: (st, { c, g }) => {
    c.noArgs(st);
    c.warn(st.loc, 'NOT_USED', 'global_tracking is deprecated; read as sync_group_tracking_weight (as keepalived does)', 'sync_group_tracking_weight');
    g.trackingWeight = { value: true, at: st.loc };
  },
};

interface TopCtx extends Ctx {
  readonly d: VrrpDefaultsSpec;
  readonly tune: Tuning;
  readonly instances: VrrpInstanceSpec[];
  readonly scripts: VrrpScriptSpec[];
  readonly trackFiles: TrackFileSpec[];
  readonly groups: SyncGroupSpec[];
}

/** `KEYWORD NAME {` of a named top-level block. */
function named(c: Checker, st: KaStatement, example: string): At<string> | undefined {
  const n = st.args[0];
  if (!n) {
    c.error(st.loc, 'MISSING_ARGUMENT', `${st.keyword} needs a name`, example);
    return undefined;
  }
  if (st.args.length > 1) c.extra(st, 1, example);
  if (!st.block) {
    c.error(st.loc, 'BLOCK_EXPECTED', `${st.keyword} ${n.text} needs a { block }`, example);
    return undefined;
  }
  return { value: n.text, at: n.loc };
}

const TOP_HANDLERS: Readonly<Record<string, Handler<TopCtx>>> = {
  global_defs: (st, ctx) => {
    if (st.args.length > 0) ctx.c.extra(st, 0, 'global_defs {');
    ctx.c.dispatch(ctx.c.block(st, 'global_defs { ... }'), GLOBAL_HANDLERS, GLOBAL_POLICIES, 'global_defs', ctx);
  },
  vrrp_instance: (st, ctx) => {
    const name = named(ctx.c, st, 'vrrp_instance NAME {');
    if (!name) return;
    const s: VrrpInstanceSpec = {
      name, unicastPeers: [], addresses: [], excludedAddresses: [], routes: [], trackInterfaces: [], trackScripts: [], trackFiles: [],
      notify: {}, garp: {},
    };
    ctx.c.dispatch(st.block!, INSTANCE_HANDLERS, INSTANCE_POLICIES, `vrrp_instance '${name.value}'`, { c: ctx.c, s, seen: new Map() });
    ctx.instances.push(s);
  },
  vrrp_script: (st, ctx) => {
    const name = named(ctx.c, st, 'vrrp_script NAME {');
    if (!name) return;
    const s: VrrpScriptSpec = { name };
    ctx.c.dispatch(st.block!, SCRIPT_HANDLERS, {}, `vrrp_script '${name.value}'`, { c: ctx.c, s });
    ctx.scripts.push(s);
  },
  track_file: (st, ctx) => {
    const name = named(ctx.c, st, 'track_file NAME {');
    if (!name) return;
    const s: TrackFileSpec = { name };
    ctx.c.dispatch(st.block!, TRACK_FILE_HANDLERS, {}, `track_file '${name.value}'`, { c: ctx.c, s });
    ctx.trackFiles.push(s);
  },
  vrrp_sync_group: (st, ctx) => {
    const name = named(ctx.c, st, 'vrrp_sync_group NAME {');
    if (!name) return;
    const g: SyncGroupSpec = { name, members: [], notify: {}, trackInterfaces: [], trackScripts: [], trackFiles: [] };
    ctx.c.dispatch(st.block!, GROUP_HANDLERS, SYNC_GROUP_POLICIES, `vrrp_sync_group '${name.value}'`, { c: ctx.c, g });
    ctx.groups.push(g);
  },
};
const TOP_ALIASES: Readonly<Record<string, string>> = { vrrp_track_file: 'track_file' };

/**
 * Parse and validate keepalived.conf text. Throws `ConfigError` with every problem found (each a
 * `ConfigDiagnostic` located in the file it came from, included files too); returns the config
 * and the warnings otherwise.
 */
export function parseKeepalivedConf(text: string, options: KeepalivedOptions = {}): KeepalivedResult {
  const file = options.file ?? '<input>';
  const c = new Checker(options.vrrpOnly ?? false);
  const { statements, problems } = parseKeepalivedSyntax(text, {
    file, configId: options.configId ?? '', ...(options.host ? { host: options.host } : {}),
  });
  for (const p of problems) c.report(p.severity, p.code, p.loc, p.message, p.expected);

  const ctx: TopCtx = { c, d: { garp: {} }, tune: {}, instances: [], scripts: [], trackFiles: [], groups: [] };
  const handlers = { ...TOP_HANDLERS, ...Object.fromEntries(Object.entries(TOP_ALIASES).map(([k, v]) => [k, TOP_HANDLERS[v]!])) };
  c.dispatch(statements, handlers, TOP_POLICIES, 'the top level', ctx);
  if (c.skipped.length > 0) {
    const first = statements.find((s) => TOP_POLICIES[s.keyword]?.kind === 'lvs') ?? statements[0]!;
    c.warn(first.loc, 'LVS_SKIPPED', `--vrrp-only: skipping the LVS configuration (carpool has no load balancer yet): ${c.skipped.join('; ')}`,
      'nothing, when the load balancing is done elsewhere');
  }

  const built = buildVrrp({ defaults: ctx.d, instances: ctx.instances, scripts: ctx.scripts, trackFiles: ctx.trackFiles, syncGroups: ctx.groups },
    KEEPALIVED_TERMS, (sev, code, at, message, expected) => c.report(sev, code, at, message, expected));

  if (ctx.instances.length === 0 && !c.diagnostics.some((d) => d.severity === 'error')) {
    c.error({ file, line: 1, column: 1 }, 'MISSING_KEY', 'no vrrp_instance is configured', 'at least one vrrp_instance NAME { ... }');
  }
  const unique = dedupe(c.diagnostics);
  const errors = unique.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new ConfigError(errors);
  return {
    config: {
      source: file, instances: built.instances, vrrpScripts: built.vrrpScripts, trackFiles: built.trackFiles, syncGroups: built.syncGroups,
      logging: { facility: 'daemon', debug: false, ident: 'carpool' }, controlSocket: DEFAULT_CONTROL_SOCKET, stateDir: DEFAULT_STATE_DIR,
      ...(ctx.tune.realtimePriority !== undefined ? { realtimePriority: ctx.tune.realtimePriority } : {}),
    },
    warnings: unique.filter((d) => d.severity === 'warning'),
  };
}

/** Same diagnostic once (global defaults are checked for each instance), in file order. */
function dedupe(list: readonly ConfigDiagnostic[]): ConfigDiagnostic[] {
  const seen = new Set<string>();
  const out: ConfigDiagnostic[] = [];
  for (const d of list) {
    const k = `${d.file}\0${d.line}\0${d.column}\0${d.code}\0${d.message}`;
    if (!seen.has(k)) { seen.add(k); out.push(d); }
  }
  const files = [...new Set(out.map((d) => d.file))];
  return out.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || byPosition(a, b));
}

/** True when `text` looks like keepalived.conf rather than YAML (used by load.ts to pick the parser). */
export function looksLikeKeepalived(text: string): boolean {
  return /^\s*(vrrp_instance|vrrp_sync_group|global_defs|virtual_server|virtual_server_group|vrrp_script|track_file|static_ipaddress|static_routes)\b[^\n:]*(\{|$)/m.test(text)
    || /^\s*include\s+\S/m.test(text) && !/^\s*[A-Za-z_][\w-]*\s*:(\s|$)/m.test(text);
}
