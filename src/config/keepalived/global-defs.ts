/** keepalived.conf `global_defs { ... }`: the VRRP defaults, and the process settings carpool applies to itself. */
import type { Hook } from '../model.js';
import type { At, VrrpDefaultsSpec } from '../vrrp/spec.js';
import { LVS, MAIL, ipvsOnly, TUNING, unsupported, type Ctx, type Handler, type Policy } from './checker.js';
import { GARP_KEYS, garpHandler } from './values.js';

/** global_defs keywords carpool does not implement. */
/** keepalived's IPVS connection sync: on nftables, conntrackd does that job (docs/balancer.md). */
const SYNC_WHY = 'established NAT flows survive a director failover only with conntrackd (Debian package conntrackd); DR with sh or mh needs no sync (docs/balancer.md)';

export const GLOBAL_POLICIES: Readonly<Record<string, Policy>> = {
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
  net_namespace_ipvs: LVS, namespace_with_ipsets: unsupported('no firewall integration'),
  vrrp_notify_priority_changes: unsupported('priority changes are not notified (only state changes are written to the FIFO)'),
  vrrp_check_unicast_src: unsupported('adverts from unicast sources that are not peers are not filtered yet'),
  vrrp_iptables: unsupported('no firewall integration (accept mode: the addresses accept traffic)'),
  vrrp_ipsets: unsupported('no firewall integration'),
  nftables: unsupported('no firewall integration (accept mode: the addresses accept traffic)'),
  nftables_priority: unsupported('no firewall integration'), nftables_ifindex: unsupported('no firewall integration'),
  nftables_counters: unsupported('no firewall integration'),
  vrrp_garp_extra_if: unsupported('gratuitous ARPs are sent on the instance interfaces only'),
  vmac_prefix: unsupported('VMAC interfaces are named vrrp.VRID or as use_vmac gives'),
  vmac_addr_prefix: unsupported('VMAC interfaces are named vrrp.VRID or as use_vmac gives'),
  startup_script: unsupported('run it from systemd (ExecStartPre)'), startup_script_timeout: unsupported('run it from systemd (ExecStartPre)'),
  shutdown_script: unsupported('run it from systemd (ExecStopPost)'), shutdown_script_timeout: unsupported('run it from systemd (ExecStopPost)'),
  include_check: unsupported('all includes are checked the same way'),
  lvs_sync_daemon: ipvsOnly(SYNC_WHY), lvs_timeouts: ipvsOnly('flows follow the kernel\'s conntrack timeouts (NAT) or the flow map\'s 900 s TCP / 300 s UDP (DR/TUN)'),
  lvs_flush: ipvsOnly('carpool replaces its own table atomically at start anyway'), lvs_flush_on_stop: ipvsOnly('carpool removes its own table on a clean stop anyway'),
  lvs_notify_fifo: unsupported('checker events are not written to a FIFO (use notify_up/notify_down)'), lvs_notify_fifo_script: unsupported('checker events are not written to a FIFO (use notify_up/notify_down)'),
  lvs_netlink_cmd_rcv_bufs: ipvsOnly('no IPVS netlink socket'), lvs_netlink_cmd_rcv_bufs_force: ipvsOnly('no IPVS netlink socket'), lvs_netlink_monitor_rcv_bufs: ipvsOnly('no IPVS netlink socket'),
  lvs_netlink_monitor_rcv_bufs_force: ipvsOnly('no IPVS netlink socket'), nftables_ipvs: ipvsOnly('carpool\'s own nftables tables are named carpool'),
  nftables_ipvs_priority: ipvsOnly('carpool\'s own nftables tables are named carpool'), nftables_ipvs_start_fwmark: ipvsOnly('carpool\'s own nftables tables are named carpool'),
};

/** Settings from global_defs outside the VRRP defaults: the process's, and where static addresses go. */
export interface Tuning {
  realtimePriority?: number;
  /** carpool_count_interval (carpool's own): the load balancer's count period, ms. */
  countIntervalMs?: number;
  /** keepalived `default_interface`: the dev of a static address without one (keepalived's default eth0). */
  defaultInterface?: At<string>;
  /** `notify_fifo` / `vrrp_notify_fifo` and their scripts: VRRP events go to the vrrp one when both are given. */
  fifo?: { path?: At<string>; script?: At<Hook> };
  /** keepalived `net_namespace`. */
  netNamespace?: At<string>;
  vrrpFifo?: { path?: At<string>; script?: At<Hook> };
}

/** `notify_fifo FIFO_NAME [username [groupname]]`: carpool writes as root, the user is not used. */
function fifoHandler(which: 'fifo' | 'vrrpFifo'): Handler<GlobalCtx> {
  return (st, { c, tune }) => {
    c.noBlock(st);
    const v = st.args[0];
    if (!v) { c.error(st.loc, 'MISSING_ARGUMENT', `${st.keyword} needs the FIFO's path`, `${st.keyword} /run/keepalived.fifo`); return; }
    if (!v.text.startsWith('/')) { c.error(v.loc, 'INVALID_VALUE', `${st.keyword}: '${v.text}' is not an absolute path`, 'an absolute path'); return; }
    if (st.args.length > 3) { c.extra(st, 3, `${st.keyword} FIFO [user [group]]`); return; }
    if (st.args.length > 1) {
      c.warn(st.args[1]!.loc, 'NOT_USED', `${st.keyword}: carpool creates and writes the FIFO as root; the user '${st.args.slice(1).map((a) => a.text).join(':')}' is not used`,
        'a FIFO the reader can open');
    }
    (tune[which] ??= {}).path = { value: v.text, at: v.loc };
  };
}
function fifoScriptHandler(which: 'fifo' | 'vrrpFifo'): Handler<GlobalCtx> {
  return (st, { c, tune }) => {
    const h = c.script(st, 'global_defs', true);
    if (h) (tune[which] ??= {}).script = h;
  };
}

export interface GlobalCtx extends Ctx { readonly d: VrrpDefaultsSpec; readonly tune: Tuning }

export const GLOBAL_HANDLERS: Readonly<Record<string, Handler<GlobalCtx>>> = {
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
  carpool_count_interval: (st, { c, tune }) => {
    const v = c.one(st, 'carpool_count_interval SECONDS (0.05..60)');
    const s = v && c.seconds(v, 'carpool_count_interval', 0.05, 60);
    if (s) tune.countIntervalMs = Math.round(s.value * 1000);
  },
  vrrp_rt_priority: (st, { c, tune }) => {
    const v = c.one(st, 'vrrp_rt_priority 1..99');
    const n = v && c.int(v, 'vrrp_rt_priority', 1, 99);
    if (n) tune.realtimePriority = n.value;
  },
  net_namespace: (st, { c, tune }) => {
    const v = c.one(st, 'net_namespace NAME');
    if (!v) return;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(v.text)) {
      c.error(v.loc, 'INVALID_VALUE', `net_namespace: '${v.text}' is not a namespace name`, 'a name as `ip netns add` takes');
      return;
    }
    tune.netNamespace = { value: v.text, at: v.loc };
  },
  notify_fifo: fifoHandler('fifo'),
  vrrp_notify_fifo: fifoHandler('vrrpFifo'),
  notify_fifo_script: fifoScriptHandler('fifo'),
  vrrp_notify_fifo_script: fifoScriptHandler('vrrpFifo'),
  default_interface: (st, { c, tune }) => {
    const v = c.one(st, 'default_interface IF');
    const n = v && c.ifname(v, 'default_interface');
    if (n) tune.defaultInterface = n;
  },
  enable_script_security: (st, { c }) => {
    c.noArgs(st);
    c.warn(st.loc, 'NOT_USED', "enable_script_security is accepted; carpool does not check who can modify scripts — keep them root-owned and not writable by others",
      'root-owned scripts');
  },
};
