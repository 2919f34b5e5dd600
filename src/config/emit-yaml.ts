/**
 * The validated model → carpool YAML (`carpool convert keepalived.conf`). Every value is written out
 * explicitly, defaults included, so the file means the same whatever later versions choose as
 * defaults, and `parseCarpoolYaml(emitCarpoolYaml(x))` gives `x` back (property-tested). Pure.
 */
import { Document, YAMLMap, YAMLSeq, isMap, isSeq, type Node } from 'yaml';
import type {
  BalancerConfig, CarpInstance, CarpoolConfig, EtcdInstance, Checker, CheckerConnection, Forwarding, Hook, NotifyHooks, RealServer, SyncGroup, TrackFile, TrackRef, VirtualAddress,
  StaticSetup, TrackProcess, VirtualRoute, VirtualRule, VirtualServer, VirtualServerGroup, VrrpInstance, VrrpScript,
} from './model.js';
import { forwardingWords } from './balancer/values.js';
import { formatDuration } from '../resources/core/duration.js';

export interface EmitOptions {
  /** Comment at the top of the file (each line gets `# `). */
  readonly header?: string;
}

const seconds = (ms: number): number => ms / 1000;

function hook(h: Hook): unknown {
  return h.shell ? { shell: h.argv[0] ?? '' } : [...h.argv];
}

function address(a: VirtualAddress): unknown {
  const text = `${a.address}/${a.prefix}`;
  if (a.dev === undefined && a.label === undefined && a.broadcast === undefined && a.scope === undefined) return text;
  return {
    address: text, ...(a.label !== undefined ? { label: a.label } : {}), ...(a.dev !== undefined ? { dev: a.dev } : {}),
    ...(a.broadcast !== undefined ? { broadcast: a.broadcast } : {}), ...(a.scope !== undefined ? { scope: a.scope } : {}),
  };
}

function route(r: VirtualRoute): unknown {
  const to = r.family === 4 && r.dst === '0.0.0.0' && r.prefix === 0 ? 'default' : `${r.dst}/${r.prefix}`;
  return {
    to, ...(r.gateway !== undefined ? { via: r.gateway } : {}), ...(r.dev !== undefined ? { dev: r.dev } : {}),
    ...(r.src !== undefined ? { src: r.src } : {}), ...(r.metric !== undefined ? { metric: r.metric } : {}),
    ...(r.table !== undefined ? { table: r.table } : {}), ...(r.type !== undefined ? { type: r.type } : {}),
    ...(r.scope !== undefined ? { scope: r.scope } : {}), ...(r.proto !== undefined ? { proto: r.proto } : {}),
    ...(r.nexthops ? {
      nexthops: r.nexthops.map((h) => ({
        ...(h.gateway !== undefined ? { via: h.gateway } : {}), ...(h.dev !== undefined ? { dev: h.dev } : {}),
        ...(h.weight !== undefined ? { weight: h.weight } : {}),
      })),
    } : {}),
  };
}

function rule(r: VirtualRule): unknown {
  const { family, ...rest } = r;
  // The family follows from/to; only an IPv6 rule without them says it.
  return family === 6 && !r.from && !r.to ? { family, ...rest } : rest;
}

function staticSetup(s: StaticSetup): Record<string, unknown> {
  return {
    ...(s.addresses.length > 0 ? { addresses: s.addresses.map(address) } : {}),
    ...(s.routes.length > 0 ? { routes: s.routes.map(route) } : {}),
    ...(s.rules.length > 0 ? { rules: s.rules.map(rule) } : {}),
  };
}

function refs(list: readonly TrackRef[]): unknown[] {
  return list.map((r) => ({ name: r.name, weight: r.weight, reverse: r.reverse }));
}

function notify(n: NotifyHooks): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const k of ['master', 'backup', 'fault', 'stop', 'generic'] as const) {
    const h = n[k];
    if (h) out[k] = hook(h);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function vrrpInstance(i: VrrpInstance): Record<string, unknown> {
  const n = notify(i.notify);
  return {
    name: i.name,
    protocol: 'vrrp',
    state: i.initialState,
    interface: i.interface,
    virtual_router_id: i.vrid,
    priority: i.priority,
    advert_int: seconds(i.advertIntervalMs),
    version: i.version,
    preempt: i.preempt,
    preempt_delay: seconds(i.preemptDelayMs),
    ...(i.srcip !== undefined ? { source: i.srcip } : {}),
    mcast_group: i.mcastGroup,
    ...(i.unicastPeers.length > 0 ? { unicast_peers: [...i.unicastPeers] } : {}),
    v3_checksum_as_v2: i.v3ChecksumAsV2,
    ...(i.authPass !== undefined ? { auth_pass: i.authPass } : {}),
    ...(i.authType === 'AH' ? { auth_type: 'AH' } : {}),
    addresses: i.addresses.map(address),
    ...(i.excludedAddresses.length > 0 ? { excluded_addresses: i.excludedAddresses.map(address) } : {}),
    ...(i.routes.length > 0 ? { routes: i.routes.map(route) } : {}),
    ...(i.rules.length > 0 ? { rules: i.rules.map(rule) } : {}),
    ...(i.trackInterfaces.length > 0 ? { track_interfaces: refs(i.trackInterfaces) } : {}),
    ...(i.trackScripts.length > 0 ? { track_scripts: refs(i.trackScripts) } : {}),
    ...(i.trackFiles.length > 0 ? { track_files: refs(i.trackFiles) } : {}),
    ...(i.trackProcesses ? { track_processes: refs(i.trackProcesses) } : {}),
    track_primary: i.trackPrimary,
    ...(n ? { notify: n } : {}),
    garp: {
      master_delay: seconds(i.garp.masterDelayMs),
      master_repeat: i.garp.masterRepeat,
      master_refresh: seconds(i.garp.masterRefreshMs),
      master_refresh_repeat: i.garp.masterRefreshRepeat,
      lower_prio_delay: seconds(i.garp.lowerPrioDelayMs),
      lower_prio_repeat: i.garp.lowerPrioRepeat,
      interval: seconds(i.garp.intervalMs),
    },
    ...(i.vmacInterface !== undefined ? { vmac: i.vmacInterface } : {}),
    lower_prio_no_advert: i.lowerPrioNoAdvert,
    higher_prio_send_advert: i.higherPrioSendAdvert,
    down_timer_adverts: i.downTimerAdverts,
  };
}

function carpInstance(i: CarpInstance): Record<string, unknown> {
  const shell = i.upHook?.shell ?? i.downHook?.shell ?? false;
  const h = (x: Hook) => (shell ? x.argv[0] ?? '' : [...x.argv]);
  const hooks = {
    ...(i.upHook ? { up: h(i.upHook) } : {}), ...(i.downHook ? { down: h(i.downHook) } : {}),
    ...(i.xparam !== undefined ? { xparam: i.xparam } : {}), ...(shell ? { shell: true } : {}),
  };
  return {
    name: i.name,
    protocol: 'carp',
    interface: i.interface,
    ...(i.srcip !== undefined ? { source: i.srcip } : {}),
    vhid: i.vhid,
    password: i.password,
    advbase: i.advbase,
    advskew: i.advskew,
    deadratio: i.deadratio,
    preempt: i.preempt,
    neutral: i.neutral,
    addresses: i.addresses.map((a) => (a.dev === undefined && a.label === undefined && a.broadcast === undefined
      ? `${a.address}/${a.prefix}`
      : {
        address: `${a.address}/${a.prefix}`, ...(a.label !== undefined ? { label: a.label } : {}), ...(a.dev !== undefined ? { dev: a.dev } : {}),
        ...(a.broadcast !== undefined ? { broadcast: a.broadcast } : {}),
      })),
    mcast: i.mcast,
    nomcast: i.nomcast,
    ignore_ifstate: i.ignoreIfState,
    shutdown_hooks: i.shutdownHooks,
    ...(Object.keys(hooks).length > 0 ? { hooks } : {}),
  };
}

function hostPort(h: { address: string; port: number }): string {
  return h.address.includes(':') ? `[${h.address}]:${h.port}` : `${h.address}:${h.port}`;
}

function etcdInstance(i: EtcdInstance): Record<string, unknown> {
  const shell = i.upHook?.shell ?? i.downHook?.shell ?? false;
  const h = (x: Hook) => (shell ? x.argv[0] ?? '' : [...x.argv]);
  const hooks = { ...(i.upHook ? { up: h(i.upHook) } : {}), ...(i.downHook ? { down: h(i.downHook) } : {}), ...(shell ? { shell: true } : {}) };
  const e = i.etcd;
  return {
    name: i.name,
    protocol: 'etcd',
    interface: i.interface,
    addresses: i.addresses.map((a) => (a.dev === undefined && a.label === undefined && a.broadcast === undefined
      ? `${a.address}/${a.prefix}`
      : {
        address: `${a.address}/${a.prefix}`, ...(a.label !== undefined ? { label: a.label } : {}), ...(a.dev !== undefined ? { dev: a.dev } : {}),
        ...(a.broadcast !== undefined ? { broadcast: a.broadcast } : {}),
      })),
    ...(i.node !== undefined ? { node: i.node } : {}),
    ...(i.preference ? { priority: i.preference.priority, preempt: i.preference.preempt, preempt_delay: formatDuration(i.preference.preemptDelayMs) } : {}),
    etcd: {
      endpoints: [...e.endpoints], prefix: e.prefix, key: e.key, ttl: formatDuration(e.ttlMs), renew: formatDuration(e.renewMs),
      request_timeout: formatDuration(e.requestTimeoutMs), margin: formatDuration(e.marginMs), poll: formatDuration(e.pollMs),
      ...(e.tls ? { tls: { ...e.tls } } : {}), ...(e.user !== undefined ? { user: e.user } : {}),
      ...(e.passwordFile !== undefined ? { password_file: e.passwordFile } : {}),
      ...(e.unreachable !== undefined ? { unreachable: e.unreachable } : {}),
      ...(e.failsafe ? {
        failsafe: {
          listen: hostPort(e.failsafe.listen), peers: e.failsafe.peers.map(hostPort), key_file: e.failsafe.keyFile,
        },
      } : {}),
    },
    ...(Object.keys(hooks).length > 0 ? { hooks } : {}),
  };
}

function script(s: VrrpScript): Record<string, unknown> {
  return {
    name: s.name, script: hook(s.hook), interval: seconds(s.intervalMs), timeout: seconds(s.timeoutMs), weight: s.weight, reverse: s.reverse,
    rise: s.rise, fall: s.fall, init_fail: s.initFail,
  };
}

function trackFile(f: TrackFile): Record<string, unknown> {
  return {
    name: f.name, file: f.path, weight: f.weight, reverse: f.reverse, ...(f.initValue !== undefined ? { init_file: f.initValue } : {}),
    init_overwrite: f.initOverwrite,
  };
}

function trackProcess(p: TrackProcess): Record<string, unknown> {
  return {
    name: p.name, process: p.params ? [p.process, ...p.params] : p.process, ...(p.params ? { param_match: p.paramMatch } : {}),
    full_command: p.fullCommand, weight: p.weight, reverse: p.reverse, quorum: p.quorum,
    ...(p.quorumMax !== undefined ? { quorum_max: p.quorumMax } : {}), fork_delay: p.forkDelayMs / 1000, terminate_delay: p.terminateDelayMs / 1000,
  };
}

function syncGroup(g: SyncGroup, instances: readonly VrrpInstance[]): Record<string, unknown> {
  const n = notify(g.notify);
  // Member trackers keep non-zero weights only with tracking_weight (keepalived's sync_group_tracking_weight).
  const weighted = instances.some((i) => i.syncGroup === g.name
    && [...i.trackInterfaces, ...i.trackScripts, ...i.trackFiles, ...(i.trackProcesses ?? [])].some((r) => r.weight !== 0));
  return {
    name: g.name,
    members: [...g.members],
    ...(n ? { notify: n } : {}),
    ...(g.trackInterfaces.length > 0 ? { track_interfaces: refs(g.trackInterfaces) } : {}),
    ...(g.trackScripts.length > 0 ? { track_scripts: refs(g.trackScripts) } : {}),
    ...(g.trackFiles.length > 0 ? { track_files: refs(g.trackFiles) } : {}),
    ...(g.trackProcesses ? { track_processes: refs(g.trackProcesses) } : {}),
    ...(weighted ? { tracking_weight: true } : {}),
  };
}

const method = (f: Forwarding): string => forwardingWords(f).join(' ');
const opt = <T>(key: string, v: T | undefined): Record<string, T> => (v === undefined ? {} : { [key]: v });

function vsGroup(g: VirtualServerGroup): Record<string, unknown> {
  return {
    name: g.name,
    entries: g.entries.map((e) => (e.kind === 'fwmark'
      ? { fwmark: e.fwmark, ...(e.family ? { ip_family: e.family === 4 ? 'inet' : 'inet6' } : {}) }
      : { range: e.first === e.last ? e.first : `${e.first}-${e.last}`, ...(e.port ? { port: e.port } : {}) })),
  };
}

function checker(ck: Checker): Record<string, unknown> {
  if (ck.type === 'FILE_CHECK') return { type: ck.type, track_file: ck.trackFile, weight: ck.weight, reverse: ck.reverse };
  const timing = {
    delay_loop: seconds(ck.delayLoopMs), retry: ck.retry, delay_before_retry: seconds(ck.delayBeforeRetryMs), warmup: seconds(ck.warmupMs),
    alpha: ck.alpha, log_all_failures: ck.logAllFailures,
  };
  if (ck.type === 'MISC_CHECK') {
    // misc_timeout is whole seconds in keepalived; a default (delay_loop) that is not whole is left out.
    const t = ck.timeoutMs % 1000 === 0 ? { misc_timeout: ck.timeoutMs / 1000 } : {};
    return { type: ck.type, ...timing, misc_path: hook(ck.command), ...t, misc_dynamic: ck.dynamic, ...(ck.user ? { user: ck.user.user, ...(ck.user.group ? { group: ck.user.group } : {}) } : {}) };
  }
  const connection = (h: CheckerConnection) => ({
    ...opt('connect_ip', h.connectIp), ...opt('connect_port', h.connectPort), ...opt('bindto', h.bindto), ...opt('bind_port', h.bindPort),
    ...opt('bind_if', h.bindIf), ...opt('fwmark', h.fwmark), connect_timeout: seconds(h.connectTimeoutMs),
  });
  const conn = connection(ck);
  switch (ck.type) {
    case 'TCP_CHECK': case 'PING_CHECK':
      return { type: ck.type, ...conn, ...timing };
    case 'SMTP_CHECK':
      return { type: ck.type, ...conn, ...timing, helo_name: ck.heloName, ...(ck.hosts.length ? { hosts: ck.hosts.map(connection) } : {}) };
    case 'DNS_CHECK':
      return { type: ck.type, ...conn, ...timing, query_type: ck.queryType, name: ck.name };
    case 'UDP_CHECK':
      return {
        type: ck.type, ...conn, ...timing, ...opt('payload', ck.payload), ...(ck.requireReply ? { require_reply: ck.replyPattern ?? true } : {}),
        min_reply_length: ck.minReplyLength, max_reply_length: ck.maxReplyLength,
      };
    case 'HTTP_GET': case 'SSL_GET':
      return {
        type: ck.type, ...conn, ...timing,
        urls: ck.urls.map((u) => ({
          path: u.path, ...opt('digest', u.digest), status_code: u.statusCodes.map(([a, b]) => (a === b ? a : `${a}-${b}`)), ...opt('virtualhost', u.virtualhost),
        })),
        ...opt('virtualhost', ck.virtualhost), http_protocol: ck.httpProtocol, fast_recovery: ck.fastRecovery, enable_sni: ck.enableSni,
        ...opt('sni_name', ck.sniName), tls_compliant: ck.tlsCompliant,
      };
  }
}

function timing(x: { delayLoopMs: number; connectTimeoutMs: number; retry?: number; delayBeforeRetryMs?: number; warmupMs?: number }): Record<string, unknown> {
  return {
    delay_loop: seconds(x.delayLoopMs), connect_timeout: seconds(x.connectTimeoutMs), ...opt('retry', x.retry),
    ...opt('delay_before_retry', x.delayBeforeRetryMs === undefined ? undefined : seconds(x.delayBeforeRetryMs)),
    ...opt('warmup', x.warmupMs === undefined ? undefined : seconds(x.warmupMs)),
  };
}

function realServer(r: RealServer): Record<string, unknown> {
  return {
    address: r.address, ...(r.port ? { port: r.port } : {}), weight: r.weight, lvs_method: method(r.forwarding), inhibit_on_failure: r.inhibitOnFailure,
    alpha: r.alpha, ...opt('notify_up', r.notifyUp && hook(r.notifyUp)), ...opt('notify_down', r.notifyDown && hook(r.notifyDown)),
    ...opt('uthreshold', r.upperThreshold), ...opt('lthreshold', r.lowerThreshold), ...opt('virtualhost', r.virtualhost), ...timing(r),
    ...(r.checkers.length > 0 ? { checkers: r.checkers.map(checker) } : {}),
  };
}

function virtualServer(v: VirtualServer): Record<string, unknown> {
  const service = v.service.kind === 'address' ? { address: v.service.address, ...(v.service.port ? { port: v.service.port } : {}) }
    : v.service.kind === 'fwmark' ? { fwmark: v.service.fwmark } : { group: v.service.group };
  const s = v.sorryServer;
  return {
    ...service,
    ...(v.service.kind !== 'address' ? { ip_family: v.family === 4 ? 'inet' : 'inet6' } : {}),
    ...opt('protocol', v.protocol), lvs_sched: v.scheduler, ...(v.schedulerFlags.length > 0 ? { scheduler_flags: [...v.schedulerFlags] } : {}),
    ...(v.onePacket ? { ops: true } : {}), lvs_method: method(v.forwarding), ...opt('interface', v.interface),
    ...opt('persistence_timeout', v.persistenceTimeout), ...opt('persistence_granularity', v.persistenceGranularity),
    ha_suspend: v.haSuspend, ...opt('virtualhost', v.virtualhost),
    ...(s ? { sorry_server: { address: s.address, ...(s.port ? { port: s.port } : {}), inhibit: s.inhibit, lvs_method: method(s.forwarding) } } : {}),
    alpha: v.alpha, omega: v.omega, quorum: v.quorum, hysteresis: v.hysteresis,
    ...opt('quorum_up', v.quorumUp && hook(v.quorumUp)), ...opt('quorum_down', v.quorumDown && hook(v.quorumDown)),
    ...timing(v), inhibit_on_failure: v.inhibitOnFailure,
    real_servers: v.realServers.map(realServer),
  };
}

function balancers(b: BalancerConfig): Record<string, unknown> {
  return {
    ...(b.groups.length > 0 ? { virtual_server_groups: b.groups.map(vsGroup) } : {}),
    virtual_servers: b.virtualServers.map(virtualServer),
    ...(b.countIntervalMs !== undefined ? { count_interval: b.countIntervalMs / 1000 } : {}),
  };
}

/** Flow style (`[a, b]`) for short lists of scalars such as argv and members. */
function flowShortLists(node: unknown): void {
  if (isSeq(node)) {
    const seq = node as YAMLSeq<Node>;
    if (seq.items.every((x) => !isMap(x) && !isSeq(x)) && seq.items.length <= 8) seq.flow = true;
    for (const x of seq.items) flowShortLists(x);
  } else if (isMap(node)) {
    for (const p of (node as YAMLMap<unknown, Node>).items) flowShortLists(p.value);
  }
}

/** carpool YAML for a validated configuration. */
export function emitCarpoolYaml(config: CarpoolConfig, options: EmitOptions = {}): string {
  const vrrp = config.instances.filter((i): i is VrrpInstance => i.kind === 'vrrp');
  const obj = {
    control_socket: config.controlSocket,
    state_dir: config.stateDir,
    ...(config.realtimePriority !== undefined ? { realtime_priority: config.realtimePriority } : {}),
    ...(config.netNamespace ? { net_namespace: config.netNamespace } : {}),
    ...(config.static ? { static: staticSetup(config.static) } : {}),
    ...(config.notifyFifo ? { notify_fifo: { path: config.notifyFifo.path, ...(config.notifyFifo.script ? { script: hook(config.notifyFifo.script) } : {}) } } : {}),
    logging: { facility: config.logging.facility, debug: config.logging.debug, ident: config.logging.ident },
    ...(config.vrrpScripts.length > 0 ? { vrrp_scripts: config.vrrpScripts.map(script) } : {}),
    ...(config.trackFiles.length > 0 ? { track_files: config.trackFiles.map(trackFile) } : {}),
    ...(config.trackProcesses ? { track_processes: config.trackProcesses.map(trackProcess) } : {}),
    ...(config.syncGroups.length + (config.carpGroups?.length ?? 0) > 0
      ? { sync_groups: [...config.syncGroups.map((g) => syncGroup(g, vrrp)), ...(config.carpGroups ?? []).map((g) => ({ name: g.name, members: [...g.members] }))] }
      : {}),
    instances: [...config.instances.map((i) => (i.kind === 'vrrp' ? vrrpInstance(i) : carpInstance(i))), ...(config.etcdInstances ?? []).map(etcdInstance)],
    ...(config.balancers ? { balancers: balancers(config.balancers) } : {}),
  };
  const doc = new Document(obj, { version: '1.2' });
  flowShortLists(doc.contents);
  if (options.header) doc.commentBefore = options.header.split('\n').map((l) => ` ${l}`).join('\n');
  const list = doc.get('instances') as YAMLSeq<Node>;
  config.instances.forEach((inst, i) => {
    const item = list.items[i];
    if (!item) return;
    if (inst.kind === 'vrrp') {
      item.commentBefore = ` vrrp_instance ${inst.name}: ${inst.initialState} priority ${inst.priority}, VRRPv${inst.version}`
        + `${inst.syncGroup ? `, sync group ${inst.syncGroup}` : ''}`;
    } else if (!inst.manageAddresses) {
      item.commentBefore = ' ucarp mode: the hooks managed the addresses; carpool YAML always manages them itself';
    }
  });
  const groups = doc.get('sync_groups') as YAMLSeq<Node> | undefined;
  if (groups?.items[0]) groups.commentBefore = ' members go MASTER together, and to BACKUP or FAULT together';
  const vss = doc.getIn(['balancers', 'virtual_servers']) as YAMLSeq<Node> | undefined;
  config.balancers?.virtualServers.forEach((v, i) => {
    const item = vss?.items[i];
    if (item) item.commentBefore = ` virtual_server ${v.name}: ${v.protocol ?? 'fwmark'} ${v.scheduler} ${v.forwarding.method}, ${v.realServers.length} real server${v.realServers.length === 1 ? '' : 's'}`;
  });
  return doc.toString({ lineWidth: 0 });
}
