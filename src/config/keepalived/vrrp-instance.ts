/** keepalived.conf `vrrp_instance NAME { ... }`: one handler per keyword. */
import type { VirtualAddress } from '../model.js';
import type { At, NotifySpec, VrrpInstanceSpec } from '../vrrp/spec.js';
import { MAIL, ipvsOnly, TUNING, unsupported, type Checker, type Ctx, type Handler, type Policy } from './checker.js';
import type { KaToken, SourceLoc } from './syntax.js';
import { readRoute, readRule } from './routing.js';
import { GARP_KEYS, garpHandler, readTrackRefs, readVip } from './values.js';

/** vrrp_instance keywords carpool does not implement. */
export const INSTANCE_POLICIES: Readonly<Record<string, Policy>> = {
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
  track_bfd: unsupported('no BFD'),
  track_src_ip: unsupported('a missing source address is not tracked'),
  unicast_ttl: unsupported('unicast adverts use TTL 255'),
  check_unicast_src: unsupported('adverts from unicast sources that are not peers are not filtered yet'),
  unicast_fault_no_peer: unsupported('an instance without peers is not put in FAULT'),
  old_unicast_checksum: unsupported('only the current VRRPv3 checksum (or v3_checksum_as_v2)'),
  notify_master_rx_lower_pri: unsupported('this notify event is not raised'),
  notify_deleted: unsupported('carpool does not delete instances on reload'),
  notify_priority_changes: unsupported('notification FIFOs are not written'),
  native_ipv6: unsupported('the family follows the virtual addresses; give IPv6 addresses'),
  lvs_sync_daemon_interface: ipvsOnly('established NAT flows survive a director failover only with conntrackd (Debian package conntrackd); DR with sh or mh needs no sync (docs/balancer.md)'),
  garp_extra_if: unsupported('gratuitous ARPs are sent on the instance interfaces only'),
  vrf: unsupported('no VRF support'),
  timer_expired_backup: unsupported('not implemented'),
  owner_ignore_adverts: unsupported('not implemented'),
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

/**
 * The same address again in one instance (keepalived's own sample lists 192.168.200.18 plain and
 * with a label): keepalived keeps the first and logs "(VI_1): VIP duplicates a VIP 192.168.200.18 -
 * ignoring"; an excluded address may repeat a virtual one on another interface.
 */
function isDuplicateVip(c: Checker, s: VrrpInstanceSpec, v: At<VirtualAddress>, excluded: boolean): boolean {
  const owner = `vrrp_instance '${s.name.value}'`;
  const same = (list: readonly At<VirtualAddress>[], sameDevOnly: boolean) =>
    list.find((a) => a.value.address === v.value.address && (!sameDevOnly || a.value.dev === v.value.dev));
  const prev = same(s.addresses, excluded);
  const prevExcluded = prev ? undefined : same(s.excludedAddresses, true);
  const first = prev ?? prevExcluded;
  if (!first) return false;
  const kind = excluded ? 'excluded address' : 'virtual address';
  c.lenient(v.at, 'DUPLICATE_ADDRESS',
    `${v.value.address} is listed again in ${owner} (first at line ${first.at.line}${prevExcluded ? ', as an excluded address' : ''}); this ${kind} is ignored and the first one is used, as keepalived does ("VIP duplicates a VIP ... - ignoring")`,
    'each address once (give the label on the first line)');
  return true;
}

function instanceNotify(key: keyof NotifySpec): Handler<InstanceCtx> {
  return (st, { c, s }) => {
    const h = c.script(st, `vrrp_instance '${s.name.value}'`, true);
    if (h) s.notify[key] = h;
  };
}

export const INSTANCE_HANDLERS: Readonly<Record<string, Handler<InstanceCtx>>> = {
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
    if (type && type.text !== 'PASS' && type.text !== 'AH') {
      c.error(type.loc, 'INVALID_VALUE', `auth_type: '${type.text}' is not an authentication type`, 'PASS or AH');
      return;
    }
    if (!type && pass) {
      c.error(st.loc, 'MISSING_ARGUMENT', 'authentication has auth_pass but no auth_type', 'auth_type PASS');
      return;
    }
    if (type && !pass) {
      c.error(st.loc, 'MISSING_ARGUMENT', `authentication has auth_type ${type.text} but no auth_pass`, 'auth_pass SECRET (at most 8 bytes are used)');
      return;
    }
    if (pass) s.authPass = { value: pass.text, at: pass.loc };
    if (type?.text === 'AH') s.authType = { value: 'AH', at: type.loc };
  },
  virtual_ipaddress: (st, { c, s }) => {
    for (const e of c.block(st, 'virtual_ipaddress { 10.0.0.1/24 ... }')) {
      const v = readVip(c, e, `vrrp_instance '${s.name.value}'`);
      if (v && !isDuplicateVip(c, s, v, false)) s.addresses.push(v);
    }
  },
  virtual_ipaddress_excluded: (st, { c, s }) => {
    for (const e of c.block(st, 'virtual_ipaddress_excluded { 10.0.0.1/24 ... }')) {
      const v = readVip(c, e, `vrrp_instance '${s.name.value}'`);
      if (v && !isDuplicateVip(c, s, v, true)) s.excludedAddresses.push(v);
    }
  },
  no_virtual_ipaddress: (st, { c, s }) => { c.noArgs(st); s.noAddresses = { value: 'quiet', at: st.loc }; },
  virtual_routes: (st, { c, s }) => {
    for (const e of c.block(st, 'virtual_routes { 10.1.0.0/16 via 10.0.0.254 ... }')) {
      const r = readRoute(c, e, `vrrp_instance '${s.name.value}'`);
      if (r) s.routes.push(r);
    }
  },
  virtual_rules: (st, { c, s }) => {
    for (const e of c.block(st, 'virtual_rules { from 10.1.0.0/16 table 100 priority 100 ... }')) {
      const r = readRule(c, e, `vrrp_instance '${s.name.value}'`);
      if (r) s.rules.push(r);
    }
  },
  track_interface: (st, { c, s }) => {
    for (const r of readTrackRefs(c, st, `vrrp_instance '${s.name.value}'`, 'interface')) {
      if (c.ifname({ text: r.value.name, loc: r.at, start: 0, end: 0 }, 'track_interface')) s.trackInterfaces.push(r);
    }
  },
  track_script: (st, { c, s }) => { s.trackScripts.push(...readTrackRefs(c, st, `vrrp_instance '${s.name.value}'`, 'script')); },
  track_file: (st, { c, s }) => { s.trackFiles.push(...readTrackRefs(c, st, `vrrp_instance '${s.name.value}'`, 'file')); },
  track_process: (st, { c, s }) => { (s.trackProcesses ??= []).push(...readTrackRefs(c, st, `vrrp_instance '${s.name.value}'`, 'process')); },
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
