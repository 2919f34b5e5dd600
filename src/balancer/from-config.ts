/**
 * From the config model (`BalancerConfig`, keepalived `virtual_server` / YAML `balancers:`) to
 * the balancer core's model (`core/model.ts`). Pure. The two differ on purpose: the config
 * keeps what the file said (upper-case keywords, family 4/6, groups, hooks as argv), the core
 * keeps what the plane and the verdicts need (lower-case names, 'ipv4', times in ms, notify
 * commands as opaque strings). What the shell cannot run yet is refused here, all at once,
 * with one line per problem.
 */
import type { BalancerConfig, Checker, CheckerType, Hook, VirtualServer } from '../config/model.js';
import type { CheckerSettings, RealServer, SchedulerName, VirtualService } from './core/model.js';
import { serverKey } from './core/model.js';
import { CarpoolError } from '../lib/errors.js';

/** Checkers the shell probes today. */
export const SUPPORTED_CHECKERS: readonly CheckerType[] = ['TCP_CHECK', 'HTTP_GET', 'SMTP_CHECK'];
/** Schedulers the shell plans today (no conntrack counts yet: lc/wlc/sed/nq/ovf need them). */
export const SUPPORTED_SCHEDULERS: readonly SchedulerName[] = ['rr', 'wrr', 'sh', 'dh', 'mh', 'fo'];

/** A probe the shell runs: the checker as configured and the real server it belongs to. */
export interface ProbeSpec {
  readonly checker: Checker;
  readonly address: string;
  /** Real server port (0 = none). */
  readonly port: number;
}

/** One virtual server, mapped. */
export interface MappedService {
  readonly service: VirtualService;
  /** Per real server (same order as `service.realServers`), per checker: what to probe. */
  readonly probes: readonly (readonly ProbeSpec[])[];
  /** The config's name (`10.0.0.1 80`), for logs. */
  readonly configName: string;
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
  if (c.type === 'MISC_CHECK' || c.type === 'FILE_CHECK') return c.type;
  const a = c.connectIp ?? address;
  const p = c.connectPort ?? port;
  return `${c.type} ${serverKey(a, p || undefined)}`;
}

function settings(c: Checker, address: string, port: number): CheckerSettings {
  const t = c.type === 'FILE_CHECK' ? undefined : c;
  return {
    name: checkerName(c, address, port),
    delayLoopMs: t?.delayLoopMs ?? 0,
    retry: t?.retry ?? 0,
    delayBeforeRetryMs: t?.delayBeforeRetryMs ?? 0,
    warmupMs: t?.warmupMs ?? 0,
    alpha: t?.alpha ?? false,
    rise: 1,
    dynamicWeight: c.type === 'MISC_CHECK' && c.dynamic,
  };
}

/** Problems that stop this virtual server from running here (empty = fine). */
function refusals(vs: VirtualServer): string[] {
  const out: string[] = [];
  const at = `virtual_server ${vs.name}`;
  if (vs.service.kind === 'group') out.push(`${at}: virtual_server_group is not supported yet; write one virtual_server per address and port`);
  if (vs.service.kind === 'fwmark') out.push(`${at}: fwmark services are not supported yet; write one virtual_server per address and port`);
  if (!(SUPPORTED_SCHEDULERS as readonly string[]).includes(vs.scheduler)) {
    out.push(`${at}: lb_algo ${vs.scheduler} is not supported yet (supported: ${SUPPORTED_SCHEDULERS.join(', ')})`);
  }
  const methods = new Set([vs.forwarding.method, ...vs.realServers.map((r) => r.forwarding.method), ...(vs.sorryServer ? [vs.sorryServer.forwarding.method] : [])]);
  for (const m of methods) if (m !== 'NAT') out.push(`${at}: lb_kind ${m} is not supported yet (supported: NAT)`);
  if (vs.onePacket) out.push(`${at}: ops (one-packet scheduling) is not supported yet`);
  for (const rs of vs.realServers) {
    for (const c of rs.checkers) {
      if (!SUPPORTED_CHECKERS.includes(c.type)) {
        out.push(`${at}: real_server ${rs.address} ${rs.port}: ${c.type} is not supported yet (supported: ${SUPPORTED_CHECKERS.join(', ')})`);
      }
    }
    if (rs.family !== vs.family) out.push(`${at}: real_server ${rs.address}: NAT needs the real server in the virtual server's address family`);
  }
  return out;
}

/**
 * Map every virtual server; throws CarpoolError `BALANCER_NOT_SUPPORTED` listing every part
 * this version cannot run (with what it can).
 */
export function mapBalancers(cfg: BalancerConfig): MappedBalancers {
  const problems = cfg.virtualServers.flatMap(refusals);
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
    if (svc.kind !== 'address') throw new Error('unreachable: refused above');
    const family = vs.family === 4 ? 'ipv4' : 'ipv6';
    const protocol = (vs.protocol ?? 'TCP').toLowerCase() as 'tcp' | 'udp' | 'sctp';
    const realServers = vs.realServers.map((rs): RealServer => {
      const port = rs.port || undefined;
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
    const service: VirtualService = {
      name: `${serverKey(svc.address, svc.port)}/${protocol}`,
      family, match: { kind: 'addr', vip: svc.address, port: svc.port }, protocol,
      scheduler: vs.scheduler as SchedulerName, method: 'nat',
      hashPort: vs.schedulerFlags.includes('sh-port') || vs.schedulerFlags.includes('mh-port'),
      hashFallback: vs.schedulerFlags.includes('sh-fallback') || vs.schedulerFlags.includes('mh-fallback'),
      ...(vs.persistenceTimeout !== undefined ? {
        persistence: { timeoutMs: vs.persistenceTimeout * 1000, prefixLength: vs.persistenceGranularity ?? (vs.family === 4 ? 32 : 128) },
      } : {}),
      quorum: { quorum: vs.quorum, hysteresis: vs.hysteresis, ...(upCommand ? { upCommand } : {}), ...(downCommand ? { downCommand } : {}) },
      ...(sorry ? { sorryServer: { address: sorry.address, ...(sorry.port ? { port: sorry.port } : {}) } } : {}),
      alpha: vs.alpha, omega: vs.omega, haSuspend: vs.haSuspend, realServers,
    };
    const warnings: string[] = [];
    if (vs.haSuspend) warnings.push(`virtual_server ${vs.name}: ha_suspend is not honoured yet (checkers run on both directors)`);
    if (vs.sorryServer?.inhibit) warnings.push(`virtual_server ${vs.name}: sorry_server_inhibit is not honoured yet`);
    const probes = vs.realServers.map((rs) => rs.checkers.map((checker) => ({ checker, address: rs.address, port: rs.port })));
    return { service, probes, configName: vs.name, warnings };
  });
  return { services, hooks };
}
