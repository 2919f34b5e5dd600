/**
 * From the config model (`BalancerConfig`, keepalived `virtual_server` / YAML `balancers:`) to
 * the balancer core's model (`core/model.ts`). Pure. The two differ on purpose: the config
 * keeps what the file said (upper-case keywords, family 4/6, groups, hooks as argv), the core
 * keeps what the plane and the verdicts need (lower-case names, 'ipv4', times in ms, notify
 * commands as opaque strings). What the shell cannot run yet is refused here, all at once,
 * with one line per problem.
 */
import type { BalancerConfig, Checker, CheckerType, Forwarding, Hook, Instance, VirtualServer, VirtualServerGroup } from '../config/model.js';
import type { CheckerSettings, Method, Protocol, RealServer, SchedulerName, ServiceMatch, VirtualService } from './core/model.js';
import { serverKey } from './core/model.js';
import { CarpoolError } from '../lib/errors.js';
import { formatIP, parseIP } from '../protocol/inet.js';

/** Checkers the shell probes today: all of keepalived's. */
export const SUPPORTED_CHECKERS: readonly CheckerType[] = [
  'TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'SMTP_CHECK', 'MISC_CHECK', 'DNS_CHECK', 'UDP_CHECK', 'PING_CHECK', 'FILE_CHECK',
];
/**
 * How often a FILE_CHECK reads its file, ms. keepalived reacts to inotify; a read of a few
 * bytes every second is as good for a maintenance switch and needs no watcher per file.
 */
export const FILE_CHECK_INTERVAL_MS = 1000;
/** Schedulers the shell plans today (lc/wlc/sed/nq/ovf from conntrack counts, per period: docs/balancer.md). */
export const SUPPORTED_SCHEDULERS: readonly SchedulerName[] = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'mh', 'sed', 'nq', 'fo', 'ovf'];
/** Schedulers that need connection counts, which only NAT flows give (conntrack on the director, by ct mark: any VIP, fwmark or group). */
const COUNT_SCHEDULERS: readonly string[] = ['lc', 'wlc', 'sed', 'nq', 'ovf', 'lblc', 'lblcr'];

/** A probe the shell runs: the checker as configured and the real server it belongs to. */
export interface ProbeSpec {
  readonly checker: Checker;
  readonly address: string;
  /** Real server port (0 = none). */
  readonly port: number;
}

/**
 * One address (or fwmark) a virtual server answers: one entry in the data plane, with its own
 * plane id. A `virtual_server IP PORT` or `fwmark N` has one; a `virtual_server group NAME` one
 * per address of its `virtual_server_group` ranges and per fwmark (keepalived creates one IPVS
 * service per entry, all with the same real servers and checkers).
 */
export interface ServiceEntry {
  /** `10.0.0.1:80/tcp`, `[fd00::1]:80/tcp`, `fwmark:5`: the key of its plane id. */
  readonly name: string;
  readonly match: ServiceMatch;
}

/** Most addresses one virtual_server_group may expand to (one plane entry each). */
export const MAX_GROUP_ENTRIES = 1024;

/** One virtual server, mapped. */
export interface MappedService {
  /** `service.match` is its first entry; `entries` has them all. */
  readonly service: VirtualService;
  readonly entries: readonly ServiceEntry[];
  /** Per real server (same order as `service.realServers`), per checker: what to probe. */
  readonly probes: readonly (readonly ProbeSpec[])[];
  /** The config's name (`10.0.0.1 80`), for logs. */
  readonly configName: string;
  /** The virtual server as configured (a reload compares real servers by it; runtime adds take its defaults). */
  readonly config: VirtualServer;
  /** Settings accepted but not honoured yet (warnings for the log). */
  readonly warnings: readonly string[];
}

export interface MappedBalancers {
  readonly services: readonly MappedService[];
  /** The notify / quorum commands by the text the core carries (`runNotify.command`). */
  readonly hooks: ReadonlyMap<string, Hook>;
}

/** The text a hook travels as through the core (opaque there; the shell maps it back). */
export function hookText(h: Hook): string {
  return (h.shell ? 'sh -c ' : '') + h.argv.join(' ');
}

function checkerName(c: Checker, address: string, port: number): string {
  if (c.type === 'MISC_CHECK') return `MISC_CHECK ${c.command.argv[0]}`;
  if (c.type === 'FILE_CHECK') return `FILE_CHECK ${c.trackFile}`;
  const a = c.connectIp ?? address;
  const p = c.connectPort ?? port;
  return `${c.type} ${serverKey(a, p || undefined)}`;
}

function settings(c: Checker, address: string, port: number): CheckerSettings {
  if (c.type === 'FILE_CHECK') {
    // keepalived: no timing options; the file is read at once and on every change, never alpha.
    return {
      name: `FILE_CHECK ${c.trackFile}`, delayLoopMs: FILE_CHECK_INTERVAL_MS, retry: 0, delayBeforeRetryMs: FILE_CHECK_INTERVAL_MS,
      warmupMs: 0, alpha: false, rise: 1, dynamicWeight: false, file: { weight: c.weight, reverse: c.reverse },
    };
  }
  return {
    name: checkerName(c, address, port),
    delayLoopMs: c.delayLoopMs,
    retry: c.retry,
    delayBeforeRetryMs: c.delayBeforeRetryMs,
    warmupMs: c.warmupMs,
    alpha: c.alpha,
    rise: 1,
    dynamicWeight: c.type === 'MISC_CHECK' && c.dynamic,
  };
}

/**
 * DR/TUN: the interface the VIP's packets arrive on — the virtual server's own `interface`
 * (carpool YAML), else the device of the CARP/VRRP instance holding the VIP (the address's
 * `dev`, else the instance's VMAC interface, else its interface: where the VIP is added, so
 * where its frames are addressed to). Undefined when no instance holds it.
 */
export function ingressDevice(vs: VirtualServer, instances: readonly Instance[], groups: readonly VirtualServerGroup[] = []): string | undefined {
  const r = directIngress(vs, instances, groups);
  return 'dev' in r ? r.dev : undefined;
}

/** The device of the instance holding `vip`, if one does. */
function holder(vip: string, instances: readonly Instance[]): string | undefined {
  for (const inst of instances) {
    const addrs = inst.kind === 'vrrp' ? [...inst.addresses, ...inst.excludedAddresses] : inst.addresses;
    const a = addrs.find((x) => x.address === vip);
    if (!a) continue;
    const dev = a.dev ?? (inst.kind === 'vrrp' ? inst.vmacInterface ?? inst.interface : inst.interface);
    // An alias label (`eth0:1`) is not a device; its frames arrive on eth0.
    return dev.split(':')[0];
  }
  return undefined;
}

/**
 * DR/TUN ingress of a virtual server: its `interface`, else the one device where the instances
 * holding its VIPs (a group: every address of its ranges) put them; a fwmark-only service or
 * group takes the instances' interface when they all have the same one. Otherwise, why not.
 */
function directIngress(vs: VirtualServer, instances: readonly Instance[], groups: readonly VirtualServerGroup[]): { dev: string } | { why: string } {
  if (vs.interface !== undefined) return { dev: vs.interface };
  const svc = vs.service;
  const g = svc.kind === 'group' ? groups.find((x) => x.name === svc.group) : undefined;
  const entries = svc.kind === 'address' ? [{ kind: 'addr' as const, vip: svc.address }]
    : svc.kind === 'fwmark' ? [{ kind: 'fwmark' as const }]
    : (() => { const e = g ? groupEntries(g, vs) : []; return typeof e === 'string' ? [] : e.map((x) => x.match); })();
  const devs = new Set<string>();
  for (const e of entries) {
    if (e.kind !== 'addr') continue;
    const d = holder(e.vip, instances);
    if (d === undefined) {
      return { why: `lb_kind ${vs.forwarding.method} needs the interface the VIP ${e.vip} arrives on, and no vrrp_instance holds it: `
        + 'add the VIP to the virtual_ipaddress of the instance that moves it between the directors (YAML: or set interface: on the virtual server)' };
    }
    devs.add(d);
  }
  if (entries.some((e) => e.kind === 'fwmark') && devs.size === 0) {
    const all = new Set(instances.map((i) => (i.kind === 'vrrp' ? i.vmacInterface ?? i.interface : i.interface).split(':')[0]!));
    if (all.size === 1) return { dev: [...all][0]! };
    return { why: `lb_kind ${vs.forwarding.method} with a fwmark needs the interface the marked packets arrive on: the instances use ${all.size ? [...all].join(', ') : 'none'}; `
      + 'carpool YAML: set interface: on the virtual server' };
  }
  if (devs.size > 1) return { why: `lb_kind ${vs.forwarding.method}: its VIPs arrive on different interfaces (${[...devs].join(', ')}); carpool hooks one per virtual server: split it, or set interface: (YAML)` };
  return { dev: [...devs][0]! };
}

const methodOf = (f: Forwarding): Method => f.method.toLowerCase() as Method;

/** Problems that stop this virtual server from running here (empty = fine). */
function refusals(vs: VirtualServer, instances: readonly Instance[], groups: readonly VirtualServerGroup[]): string[] {
  const out: string[] = [];
  const at = `virtual_server ${vs.name}`;
  if (vs.service.kind === 'group') {
    const name = vs.service.group;
    const g = groups.find((x) => x.name === name);
    if (!g) out.push(`${at}: no virtual_server_group ${name}`);
    else {
      const r = groupEntries(g, vs);
      if (typeof r === 'string') out.push(`${at}: ${r}`);
    }
  }
  if (vs.service.kind === 'address' && vs.service.port === 0) {
    out.push(`${at}: a virtual server without a port (all ports) is not supported; mark the traffic and use virtual_server fwmark N`);
  }
  if (!(SUPPORTED_SCHEDULERS as readonly string[]).includes(vs.scheduler)) {
    out.push(`${at}: lb_algo ${vs.scheduler} is not supported yet (supported: ${SUPPORTED_SCHEDULERS.join(', ')})`);
  }
  const forwardings = [vs.forwarding, ...vs.realServers.map((r) => r.forwarding), ...(vs.sorryServer ? [vs.sorryServer.forwarding] : [])];
  const methods = [...new Set(forwardings.map((f) => f.method))];
  // The plane forwards a whole service one way (one chain per service).
  if (methods.length > 1) out.push(`${at}: its real servers mix lb_kind ${methods.join(' and ')}; carpool forwards a virtual server one way: give them all the virtual server's lb_kind`);
  const m = vs.forwarding.method;
  const direct = m !== 'NAT';
  for (const t of new Set(forwardings.flatMap((f) => (f.method === 'TUN' && f.tunnelType && f.tunnelType !== 'ipip' ? [f.tunnelType] : [])))) {
    out.push(`${at}: lb_kind TUN type ${t} is not supported yet (supported: ipip)`);
  }
  if (m === 'TUN' && (vs.family !== 4 || vs.realServers.some((r) => r.family !== 4))) out.push(`${at}: lb_kind TUN is IPv4 in IPv4 (ipip) here; IPv6 is not supported yet: use DR or NAT`);
  if (direct) {
    const r = directIngress(vs, instances, groups);
    if ('why' in r) out.push(`${at}: ${r.why}`);
  }
  if (COUNT_SCHEDULERS.includes(vs.scheduler) && direct) {
    // keepalived accepts it (IPVS counts the client's side of a DR/TUN flow); carpool's plane cannot.
    out.push(`${at}: lb_algo ${vs.scheduler} with lb_kind ${m} needs connection counts, which this service has none of (DR/TUN flows do not pass conntrack on the director: `
      + `its netdev ingress chain forwards them before the IP stack); use sh or mh (or rr, wrr), or lb_kind NAT`);
  }
  if (vs.onePacket) out.push(`${at}: ops (one-packet scheduling) is not supported yet`);
  for (const rs of vs.realServers) {
    for (const c of rs.checkers) {
      if (!SUPPORTED_CHECKERS.includes(c.type)) {
        out.push(`${at}: real_server ${rs.address} ${rs.port}: ${c.type} is not supported yet (supported: ${SUPPORTED_CHECKERS.join(', ')})`);
      }
    }
    if (rs.family !== vs.family && m !== 'TUN') out.push(`${at}: real_server ${rs.address}: ${m} needs the real server in the virtual server's address family`);
  }
  return out;
}

/**
 * What stops each virtual server from running here, one line per problem, with the virtual
 * server it is about (`carpool check` and `run` report them at its line: cli/preflight.ts).
 */
export function balancerRefusals(cfg: BalancerConfig, instances: readonly Instance[] = []): { readonly vs: VirtualServer; readonly message: string }[] {
  return cfg.virtualServers.flatMap((vs) => refusals(vs, instances, cfg.groups).map((message) => ({ vs, message })));
}

/**
 * Map every virtual server; `instances` (CARP/VRRP) say where a DR/TUN service's VIP arrives
 * (`ingressDevice`). Throws CarpoolError `BALANCER_NOT_SUPPORTED` listing every part
 * this version cannot run (with what it can).
 */
export function mapBalancers(cfg: BalancerConfig, instances: readonly Instance[] = []): MappedBalancers {
  const problems = balancerRefusals(cfg, instances).map((r) => r.message);
  if (problems.length) {
    throw new CarpoolError('BALANCER_NOT_SUPPORTED', `the load balancer cannot run this configuration yet:\n  ${problems.join('\n  ')}`,
      'run with --vrrp-only to use the VRRP part, or change these virtual servers');
  }
  const hooks = new Map<string, Hook>();
  const text = (h: Hook | undefined): string | undefined => {
    if (!h) return undefined;
    const t = hookText(h);
    hooks.set(t, h);
    return t;
  };
  const services = cfg.virtualServers.map((vs): MappedService => {
    const svc = vs.service;
    const family = vs.family === 4 ? 'ipv4' : 'ipv6';
    // A fwmark service has no protocol (keepalived ignores it): its chain forwards every
    // protocol when the real servers keep the client's port, TCP when they set one (nft
    // rewrites a port only after a transport protocol match).
    const protocol = (vs.protocol ?? 'TCP').toLowerCase() as Protocol;
    const entries = svc.kind === 'group' ? groupEntries(cfg.groups.find((g) => g.name === svc.group)!, vs) as ServiceEntry[]
      : [entryOf(svc.kind === 'address' ? { kind: 'addr', vip: svc.address, port: svc.port } : { kind: 'fwmark', mark: svc.fwmark }, protocol)];
    // DR/TUN forward a marked packet unchanged: a real server's port means nothing there (IPVS ignores it too).
    const portless = vs.forwarding.method !== 'NAT' && entries.some((e) => e.match.kind === 'fwmark');
    const realServers = vs.realServers.map((rs): RealServer => {
      const port = portless ? undefined : rs.port || undefined;
      const notifyUp = text(rs.notifyUp);
      const notifyDown = text(rs.notifyDown);
      return {
        address: rs.address, ...(port !== undefined ? { port } : {}), weight: rs.weight, inhibitOnFailure: rs.inhibitOnFailure,
        ...(notifyUp ? { notifyUp } : {}), ...(notifyDown ? { notifyDown } : {}),
        checkers: rs.checkers.map((c) => settings(c, rs.address, rs.port)),
        ...(rs.upperThreshold !== undefined ? { upperThreshold: rs.upperThreshold } : {}),
        ...(rs.lowerThreshold !== undefined ? { lowerThreshold: rs.lowerThreshold } : {}),
      };
    });
    const upCommand = text(vs.quorumUp);
    const downCommand = text(vs.quorumDown);
    const sorry = vs.sorryServer;
    const method = methodOf(vs.forwarding);
    const ingress = method === 'nat' ? undefined : ingressDevice(vs, instances, cfg.groups);
    const service: VirtualService = {
      name: svc.kind === 'group' ? `group:${svc.group}` : entries[0]!.name,
      family, match: entries[0]!.match, protocol,
      scheduler: vs.scheduler, method, ...(ingress !== undefined ? { ingressDevice: ingress } : {}),
      hashPort: vs.schedulerFlags.includes('sh-port') || vs.schedulerFlags.includes('mh-port'),
      hashFallback: vs.schedulerFlags.includes('sh-fallback') || vs.schedulerFlags.includes('mh-fallback'),
      ...(vs.persistenceTimeout !== undefined ? {
        persistence: { timeoutMs: vs.persistenceTimeout * 1000, prefixLength: vs.persistenceGranularity ?? (vs.family === 4 ? 32 : 128) },
      } : {}),
      quorum: { quorum: vs.quorum, hysteresis: vs.hysteresis, ...(upCommand ? { upCommand } : {}), ...(downCommand ? { downCommand } : {}) },
      ...(sorry ? { sorryServer: { address: sorry.address, ...(sorry.port ? { port: sorry.port } : {}), ...(sorry.inhibit ? { inhibit: true } : {}) } } : {}),
      alpha: vs.alpha, omega: vs.omega, haSuspend: vs.haSuspend, realServers,
    };
    const warnings: string[] = [];
    if (portless && vs.realServers.some((rs) => rs.port !== 0)) {
      warnings.push(`virtual_server ${vs.name}: lb_kind ${vs.forwarding.method} with a fwmark forwards packets unchanged: the real servers' ports are ignored`);
    } else if (entries.some((e) => e.match.kind === 'fwmark') && vs.realServers.some((rs) => rs.port !== 0)) {
      warnings.push(`virtual_server ${vs.name}: real servers with a port: only TCP packets with the mark are forwarded (without ports, every protocol)`);
    }
    if (method === 'nat' && vs.interface !== undefined) warnings.push(`virtual_server ${vs.name}: interface ${vs.interface} is used by DR and TUN only; NAT ignores it`);
    for (const rs of vs.realServers) {
      for (const c of rs.checkers) {
        const at = `virtual_server ${vs.name}: real_server ${rs.address} ${rs.port}: ${c.type}`;
        if ('fwmark' in c && c.fwmark !== undefined) warnings.push(`${at}: fwmark of checker packets is not honoured (Node sets no SO_MARK)`);
        if ('bindIf' in c && c.bindIf !== undefined && c.type !== 'PING_CHECK') warnings.push(`${at}: bind_if is honoured by PING_CHECK only; use bindto`);
      }
    }
    const probes = vs.realServers.map((rs) => rs.checkers.map((checker) => ({ checker, address: rs.address, port: rs.port })));
    return { service, entries, probes, configName: vs.name, config: vs, warnings };
  });
  return { services, hooks };
}

function entryOf(match: ServiceMatch, protocol: Protocol): ServiceEntry {
  return { name: match.kind === 'addr' ? `${serverKey(match.vip, match.port)}/${protocol}` : `fwmark:${match.mark}`, match };
}

/**
 * The entries of a `virtual_server_group` for `vs`: each address of each range with its port,
 * each fwmark. A string says why it cannot run (another family, port 0, too many addresses).
 */
function groupEntries(g: VirtualServerGroup, vs: VirtualServer): ServiceEntry[] | string {
  const protocol = (vs.protocol ?? 'TCP').toLowerCase() as Protocol;
  const out: ServiceEntry[] = [];
  for (const e of g.entries) {
    if (e.kind === 'fwmark') {
      if (e.family !== undefined && e.family !== vs.family) return `virtual_server_group ${g.name}: fwmark ${e.fwmark} is IPv${e.family}, the virtual server IPv${vs.family}`;
      out.push(entryOf({ kind: 'fwmark', mark: e.fwmark }, protocol));
      continue;
    }
    const range = `${e.first}${e.first === e.last ? '' : `-${e.last}`}`;
    if (e.family !== vs.family) return `virtual_server_group ${g.name}: ${range} is IPv${e.family}, the virtual server IPv${vs.family}`;
    if (e.port === 0) return `virtual_server_group ${g.name}: ${range} without a port (all ports) is not supported; use fwmark entries`;
    const first = parseIP(e.first)!.bytes;
    const last = parseIP(e.last)!.bytes;
    for (const b = new Uint8Array(first); ; ) {
      if (out.length >= MAX_GROUP_ENTRIES) return `virtual_server_group ${g.name} expands to more than ${MAX_GROUP_ENTRIES} addresses; use fwmark entries for large ranges`;
      out.push(entryOf({ kind: 'addr', vip: formatIP(b), port: e.port }, protocol));
      if (compare(b, last) >= 0) break;
      for (let i = b.length - 1; i >= 0 && ++b[i]! === 256; i--) b[i] = 0;
    }
  }
  return out;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * A real server added at runtime (`carpool balancer add`): weight, and a TCP_CHECK with the
 * virtual server's delay_loop, connect_timeout, retry and delay_before_retry, or no checker.
 */
export function runtimeServer(vs: VirtualServer, address: string, port: number | undefined, weight: number, check: 'tcp' | 'none'): { server: RealServer; probes: ProbeSpec[] } {
  const checker: Checker = {
    type: 'TCP_CHECK', delayLoopMs: vs.delayLoopMs, retry: vs.retry ?? 1, delayBeforeRetryMs: vs.delayBeforeRetryMs ?? 1000,
    warmupMs: 0, alpha: vs.alpha, logAllFailures: false, connectTimeoutMs: vs.connectTimeoutMs,
  };
  const checkers = check === 'tcp' ? [checker] : [];
  return {
    server: {
      address, ...(port !== undefined ? { port } : {}), weight, inhibitOnFailure: vs.inhibitOnFailure,
      checkers: checkers.map((c) => settings(c, address, port ?? 0)),
    },
    probes: checkers.map((c) => ({ checker: c, address, port: port ?? 0 })),
  };
}
