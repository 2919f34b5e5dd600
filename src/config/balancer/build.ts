/**
 * Load-balancer configuration semantics shared by keepalived.conf and carpool YAML: each front end
 * reads its syntax into located specs, this applies keepalived's defaults and cascade (virtual
 * server → real server → checker, keepalived.conf(5) "LVS CONFIGURATION") and the checks that
 * span fields and blocks. Pure.
 *
 * Defaults (keepalived.conf(5), check_data.c/check_api.c): delay_loop 60 s, connect_timeout 5 s,
 * retry 1 (MISC_CHECK 0, DNS_CHECK 3), delay_before_retry 1 s (HTTP_GET/SSL_GET 3 s, DNS_CHECK its
 * delay_loop), warmup up to delay_loop, weight 1, quorum 1, hysteresis 0, lvs_method NAT,
 * lvs_sched wlc, a bare persistence_timeout 360 s, status_code 200-299, SMTP HELO
 * smtpchecker.keepalived.org, DNS query SOA for `.`, misc_timeout = delay_loop. Where keepalived
 * corrects a value and logs it (no protocol → UDP, port 0 → persistent, quorum above the total
 * weight), carpool does the same with a warning; where it drops a block and goes on (a real server
 * of the wrong family, a duplicate, an unknown group), carpool reports an error.
 */
import type { Family } from '../../protocol/inet.js';
import { parseIP } from '../../protocol/inet.js';
import type { ConfigDiagnosticCode, SourceLoc } from '../diagnostics.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_DELAY_LOOP_MS, DEFAULT_PERSISTENCE_TIMEOUT, DEFAULT_SCHEDULER, DEFAULT_SMTP_HELO,
  type BalancerConfig, type Checker, type CheckerConnection, type CheckerTiming, type Forwarding, type RealServer,
  type SorryServer, type VirtualServer, type VirtualServerGroup,
} from '../model.js';
import type { BalancerSpec, BalancerTerms, CheckerSpec, RealServerSpec, Report, VirtualServerSpec } from './spec.js';
import { parseGranularity } from './values.js';

export type * from './spec.js';

const NAT: Forwarding = { method: 'NAT' };

/** Build the model; complete only when no error was reported (the caller counts them). */
export function buildBalancers(spec: BalancerSpec, terms: BalancerTerms, report: Report): BalancerConfig {
  const err = (code: ConfigDiagnosticCode, at: SourceLoc, message: string, expected: string) => report('error', code, at, message, expected);
  const warn = (code: ConfigDiagnosticCode, at: SourceLoc, message: string, expected: string) => report('warning', code, at, message, expected);

  const groups: VirtualServerGroup[] = [];
  const groupSeen = new Map<string, SourceLoc>();
  for (const g of spec.groups) {
    const first = groupSeen.get(g.name.value);
    if (first) {
      err('DUPLICATE_NAME', g.name.at, `virtual_server_group '${g.name.value}' is defined twice (first at line ${first.line})`, 'one definition per group');
      continue;
    }
    groupSeen.set(g.name.value, g.name.at);
    if (g.entries.length === 0 && !g.entryInvalid) {
      err('MISSING_KEY', g.name.at, `virtual_server_group '${g.name.value}' has no entries`, 'address ranges (IP[-LAST] [PORT]) or fwmark N lines');
    }
    const fams = new Set(g.entries.filter((e) => e.value.kind === 'range').map((e) => e.value.family));
    if (fams.size > 1) {
      err('FAMILY_MISMATCH', g.name.at, `virtual_server_group '${g.name.value}' mixes IPv4 and IPv6 addresses`, 'one address family per group');
    }
    groups.push({ name: g.name.value, entries: g.entries.map((e) => e.value) });
  }
  const groupByName = new Map(groups.map((g) => [g.name, g]));

  const virtualServers: VirtualServer[] = [];
  const vsSeen = new Map<string, SourceLoc>();
  for (const vs of spec.virtualServers) {
    const built = buildVirtualServer(vs);
    if (!built) continue;
    const key = `${built.name}\0${built.protocol ?? ''}`;
    const first = vsSeen.get(key);
    if (first) {
      err('DUPLICATE_NAME', vs.at, `virtual_server ${built.name}${built.protocol ? ` (${built.protocol})` : ''} is defined twice (first at line ${first.line})`,
        'one virtual_server per address, port and protocol');
      continue;
    }
    vsSeen.set(key, vs.at);
    // Not enumerable: where it is written is no part of the model (equality, JSON, a reload's diff).
    virtualServers.push(Object.defineProperty(built, 'origin', { value: vs.at, enumerable: false }));
  }
  return { groups, virtualServers, ...(spec.countIntervalMs !== undefined ? { countIntervalMs: spec.countIntervalMs } : {}) };

  function buildVirtualServer(vs: VirtualServerSpec): VirtualServer | undefined {
    const where = `virtual_server ${vs.name}`;
    const group = vs.service.kind === 'group' ? groupByName.get(vs.service.group) : undefined;
    if (vs.service.kind === 'group' && !group) {
      err('UNDEFINED_REFERENCE', vs.groupAt ?? vs.at, `${where}: no virtual_server_group '${vs.service.group}'`,
        groups.length ? `one of ${groups.map((g) => g.name).join(', ')}` : 'a virtual_server_group NAME { ... } block');
      return undefined;
    }
    const forwarding = vs.forwarding ?? NAT;
    const family = serviceFamily(vs, group, forwarding);
    const fwmarkOnly = vs.service.kind === 'fwmark' || (group !== undefined && group.entries.every((e) => e.kind === 'fwmark'));
    const ranges = group?.entries.filter((e) => e.kind === 'range') ?? [];

    let protocol = vs.protocol?.value;
    if (fwmarkOnly && vs.protocol) {
      warn('NOT_USED', vs.protocol.at, `${where}: protocol is ignored for a fwmark service (as keepalived does)`, 'no protocol line');
      protocol = undefined;
    } else if (!fwmarkOnly && !protocol) {
      warn('LVS_DEFAULT', vs.at, `${where}: no protocol set — UDP, as keepalived (the kernel's default); write protocol TCP for TCP services`, 'protocol TCP|UDP|SCTP');
      protocol = 'UDP';
    }
    let onePacket = vs.onePacket?.value ?? false;
    if (onePacket && protocol !== undefined && protocol !== 'UDP') {
      warn('NOT_USED', vs.onePacket!.at, `${where}: ops (one-packet scheduling) needs UDP — ignored, as keepalived does`, 'ops only with protocol UDP');
      onePacket = false;
    }
    let haSuspend = vs.haSuspend?.value ?? false;
    if (haSuspend && (vs.service.kind === 'fwmark' || group?.entries.some((e) => e.kind === 'fwmark'))) {
      warn('NOT_USED', vs.haSuspend!.at, `${where}: ha_suspend cannot be used with fwmarks — ignored, as keepalived does`, 'ha_suspend only for address services');
      haSuspend = false;
    }
    let persistenceTimeout = vs.persistenceTimeout;
    let persistenceGranularity: number | undefined;
    if (vs.persistenceGranularity) {
      const g = parseGranularity(vs.persistenceGranularity.value, family);
      if (!g.ok) err('INVALID_VALUE', vs.persistenceGranularity.at, `persistence_granularity of ${where}: ${g.reason}`, g.expected);
      else persistenceGranularity = g.value;
      persistenceTimeout ??= DEFAULT_PERSISTENCE_TIMEOUT;
    }
    const portless = (vs.service.kind === 'address' && vs.service.port === 0) || ranges.some((r) => r.kind === 'range' && r.port === 0);
    if (portless && persistenceTimeout === undefined) {
      warn('LVS_DEFAULT', vs.at, `${where}: a service without a port must be persistent — persistence_timeout ${DEFAULT_PERSISTENCE_TIMEOUT}, as keepalived`,
        'a port, or persistence_timeout N');
      persistenceTimeout = DEFAULT_PERSISTENCE_TIMEOUT;
    }

    const delayLoopMs = vs.delayLoopMs ?? DEFAULT_DELAY_LOOP_MS;
    const connectTimeoutMs = vs.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const inhibitOnFailure = vs.inhibitOnFailure ?? false;
    const alpha = vs.alpha ?? false;

    if (vs.realServers.length === 0 && !vs.realServerInvalid) {
      err('MISSING_KEY', vs.at, `${where} has no real servers`, `at least one ${terms.realServer}`);
    }
    const realServers: RealServer[] = [];
    const rsSeen = new Map<string, SourceLoc>();
    for (const rs of vs.realServers) {
      const r = buildRealServer(rs, vs, family, { delayLoopMs, connectTimeoutMs, inhibitOnFailure, alpha, forwarding });
      if (!r) continue;
      const key = `${r.address}\0${r.port}`;
      const first = rsSeen.get(key);
      if (first) {
        err('DUPLICATE_ADDRESS', rs.at, `${where}: real server ${r.address}${r.port ? ` port ${r.port}` : ''} is listed twice (first at line ${first.line})`,
          'each real server once');
        continue;
      }
      rsSeen.set(key, rs.at);
      realServers.push(r);
    }

    let sorryServer: SorryServer | undefined;
    if (vs.sorryServer) {
      const sf = vs.sorryServerForwarding?.value ?? forwarding;
      if (sf.method !== 'TUN' && vs.sorryServer.family !== family) {
        err('FAMILY_MISMATCH', vs.sorryServer.at, `${where}: sorry_server ${vs.sorryServer.address} is not IPv${family} like the virtual server`,
          `an IPv${family} address (only tunnelled servers may differ)`);
      }
      const sorryPort = vs.sorryServer.port === 0 && vs.service.kind === 'address' ? vs.service.port : vs.sorryServer.port;
      sorryServer = {
        family: vs.sorryServer.family, address: vs.sorryServer.address, port: sorryPort, inhibit: vs.sorryServerInhibit?.value ?? false, forwarding: sf,
      };
    } else {
      for (const [k, v] of [['sorry_server_inhibit', vs.sorryServerInhibit], ['sorry_server_lvs_method', vs.sorryServerForwarding]] as const) {
        if (v) err('MISSING_KEY', v.at, `${where}: ${k} without a sorry_server`, 'sorry_server IP [PORT] first');
      }
    }

    // Quorum and hysteresis as keepalived corrects them (check_data.c), with a warning.
    let quorum = vs.quorum?.value ?? 1;
    const weightSum = realServers.reduce((s, r) => s + r.weight, 0);
    if (vs.quorum && quorum > weightSum && weightSum > 0) {
      warn('LVS_DEFAULT', vs.quorum.at, `${where}: quorum ${quorum} exceeds the total weight of the real servers ${weightSum} — reduced to ${weightSum}, as keepalived`,
        `quorum ≤ ${weightSum}`);
      quorum = weightSum;
    }
    let hysteresis = vs.hysteresis?.value ?? 0;
    if (vs.hysteresis && hysteresis >= quorum) {
      warn('LVS_DEFAULT', vs.hysteresis.at, `${where}: hysteresis ${hysteresis} is not below quorum ${quorum} — set to ${quorum - 1}, as keepalived`,
        `hysteresis < quorum (${quorum})`);
      hysteresis = quorum - 1;
    }

    return {
      name: vs.name, service: vs.service, family,
      ...(protocol !== undefined ? { protocol } : {}),
      scheduler: vs.scheduler ?? DEFAULT_SCHEDULER,
      schedulerFlags: [...new Set(vs.schedulerFlags.map((f) => f.value))],
      onePacket, forwarding,
      ...(vs.interface !== undefined ? { interface: vs.interface } : {}),
      ...(persistenceTimeout !== undefined ? { persistenceTimeout } : {}),
      ...(persistenceGranularity !== undefined ? { persistenceGranularity } : {}),
      haSuspend,
      ...(vs.virtualhost !== undefined ? { virtualhost: vs.virtualhost } : {}),
      ...(sorryServer ? { sorryServer } : {}),
      alpha, omega: vs.omega ?? false, quorum, hysteresis,
      ...(vs.quorumUp ? { quorumUp: vs.quorumUp } : {}),
      ...(vs.quorumDown ? { quorumDown: vs.quorumDown } : {}),
      delayLoopMs, connectTimeoutMs,
      ...(vs.retry !== undefined ? { retry: vs.retry } : {}),
      ...(vs.delayBeforeRetryMs !== undefined ? { delayBeforeRetryMs: vs.delayBeforeRetryMs } : {}),
      ...(vs.warmupMs !== undefined ? { warmupMs: vs.warmupMs } : {}),
      inhibitOnFailure, realServers,
    };
  }

  /**
   * keepalived.conf(5): tunnelled servers may differ from the virtual server's family, the others
   * not. A fwmark service takes `ip_family`, else its servers' family, else IPv4.
   */
  function serviceFamily(vs: VirtualServerSpec, group: VirtualServerGroup | undefined, forwarding: Forwarding): Family {
    if (vs.service.kind === 'address') return parseIP(vs.service.address)!.family;
    const range = group?.entries.find((e) => e.kind === 'range');
    if (range) return range.family;
    if (vs.ipFamily) return vs.ipFamily.value;
    const marked = group?.entries.find((e) => e.kind === 'fwmark' && e.family !== undefined);
    if (marked?.family) return marked.family;
    const direct = vs.realServers.find((r) => (r.forwarding ?? forwarding).method !== 'TUN');
    return direct?.family ?? vs.realServers[0]?.family ?? 4;
  }

  function buildRealServer(rs: RealServerSpec, vs: VirtualServerSpec, family: Family,
    d: { delayLoopMs: number; connectTimeoutMs: number; inhibitOnFailure: boolean; alpha: boolean; forwarding: Forwarding }): RealServer | undefined {
    const where = `real_server ${rs.address}${rs.port ? ` ${rs.port}` : ''} of virtual_server ${vs.name}`;
    const forwarding = rs.forwarding ?? d.forwarding;
    if (forwarding.method !== 'TUN' && rs.family !== family) {
      err('FAMILY_MISMATCH', rs.at, `${where}: ${rs.address} is not IPv${family} like the virtual server`, `an IPv${family} address (only tunnelled real servers may differ)`);
      return undefined;
    }
    // keepalived (check_data.c): a real server without a port of an address service takes the
    // service's port; DR and TUN cannot rewrite the port ("ports don't match"), and a fwmark
    // service's DR/TUN real server port only matters to its checkers (keepalived warns).
    let port = rs.port;
    if (vs.service.kind === 'address' && port === 0) port = vs.service.port;
    const vsPorts = vs.service.kind === 'address' ? [vs.service.port]
      : vs.service.kind === 'group' ? (groupByName.get(vs.service.group)?.entries ?? []).flatMap((e) => (e.kind === 'range' ? [e.port] : [])) : [];
    const clash = vsPorts.find((p) => p !== 0 && port !== 0 && p !== port);
    if (forwarding.method !== 'NAT' && clash !== undefined) {
      err('INVALID_VALUE', rs.at, `${where}: ${forwarding.method} cannot change the port (${clash} → ${port})`,
        `port ${clash} or none (only NAT rewrites the port)`);
    }
    if (forwarding.method !== 'NAT' && vs.service.kind === 'fwmark' && port !== 0) {
      warn('LVS_DEFAULT', rs.at, `${where}: ${forwarding.method} forwards to the port the client used; port ${port} is only where the checkers connect (keepalived ignores it too)`,
        'no port, and connect_port in the checkers');
    }
    const delayLoopMs = rs.delayLoopMs ?? d.delayLoopMs;
    const connectTimeoutMs = rs.connectTimeoutMs ?? d.connectTimeoutMs;
    const retry = rs.retry ?? vs.retry;
    const delayBeforeRetryMs = rs.delayBeforeRetryMs ?? vs.delayBeforeRetryMs;
    const warmupMs = rs.warmupMs ?? vs.warmupMs;
    const alpha = rs.alpha ?? d.alpha;
    const virtualhost = rs.virtualhost ?? vs.virtualhost;
    if (rs.upperThreshold !== undefined && rs.lowerThreshold !== undefined && rs.lowerThreshold > rs.upperThreshold) {
      err('INVALID_VALUE', rs.at, `${where}: lthreshold ${rs.lowerThreshold} is above uthreshold ${rs.upperThreshold}`, 'lthreshold ≤ uthreshold');
    }
    const checkers = rs.checkers.flatMap((ck) => {
      const c = buildChecker(ck, where, rs, port, { delayLoopMs, connectTimeoutMs, alpha, ...(retry !== undefined ? { retry } : {}),
        ...(delayBeforeRetryMs !== undefined ? { delayBeforeRetryMs } : {}), ...(warmupMs !== undefined ? { warmupMs } : {}),
        ...(virtualhost !== undefined ? { virtualhost } : {}) });
      return c ? [c] : [];
    });
    return {
      family: rs.family, address: rs.address, port, weight: rs.weight ?? vs.weight ?? 1, forwarding,
      inhibitOnFailure: rs.inhibitOnFailure ?? d.inhibitOnFailure, alpha,
      ...(rs.notifyUp ? { notifyUp: rs.notifyUp } : {}), ...(rs.notifyDown ? { notifyDown: rs.notifyDown } : {}),
      ...(rs.upperThreshold !== undefined ? { upperThreshold: rs.upperThreshold } : {}),
      ...(rs.lowerThreshold !== undefined ? { lowerThreshold: rs.lowerThreshold } : {}),
      ...(virtualhost !== undefined ? { virtualhost } : {}),
      delayLoopMs, connectTimeoutMs,
      ...(retry !== undefined ? { retry } : {}), ...(delayBeforeRetryMs !== undefined ? { delayBeforeRetryMs } : {}),
      ...(warmupMs !== undefined ? { warmupMs } : {}),
      checkers,
    };
  }

  function buildChecker(ck: CheckerSpec, owner: string, rs: RealServerSpec, port: number,
    d: { delayLoopMs: number; connectTimeoutMs: number; alpha: boolean; retry?: number; delayBeforeRetryMs?: number; warmupMs?: number; virtualhost?: string }): Checker | undefined {
    const where = `${ck.type} of ${owner}`;
    if (ck.type === 'FILE_CHECK') {
      if (!ck.trackFile) {
        err('MISSING_KEY', ck.at, `${where} has no ${terms.trackFile}`, `${terms.trackFile} NAME (a track_file defined elsewhere)`);
        return undefined;
      }
      if (!spec.trackFiles.includes(ck.trackFile.value)) {
        err('UNDEFINED_REFERENCE', ck.trackFile.at, `${where}: no track_file '${ck.trackFile.value}'`,
          spec.trackFiles.length ? `one of ${spec.trackFiles.join(', ')}` : 'a track_file NAME { file PATH } block');
        return undefined;
      }
      const def = spec.trackFileDefs.find((f) => f.name === ck.trackFile!.value);
      if (!def) return undefined; // the track_file itself is invalid (reported there)
      // keepalived (FILE_CHECK): without its own weight, the track_file's weight and reverse.
      return {
        type: 'FILE_CHECK', trackFile: def.name, path: def.path,
        weight: ck.weight ?? def.weight, reverse: ck.weight !== undefined ? ck.reverse ?? false : def.reverse,
      };
    }
    const delayLoopMs = ck.delayLoopMs ?? d.delayLoopMs;
    const defaultRetry = ck.type === 'MISC_CHECK' ? 0 : ck.type === 'DNS_CHECK' ? 3 : 1;
    const defaultDbr = ck.type === 'HTTP_GET' || ck.type === 'SSL_GET' ? 3000 : ck.type === 'DNS_CHECK' ? delayLoopMs : 1000;
    const timing: CheckerTiming = {
      delayLoopMs, retry: ck.retry ?? d.retry ?? defaultRetry, delayBeforeRetryMs: ck.delayBeforeRetryMs ?? d.delayBeforeRetryMs ?? defaultDbr,
      warmupMs: ck.warmupMs ?? d.warmupMs ?? delayLoopMs, alpha: ck.alpha ?? d.alpha, logAllFailures: ck.logAllFailures ?? false,
    };
    if (ck.type === 'MISC_CHECK') {
      if (!ck.command) {
        if (!ck.commandInvalid) err('MISSING_KEY', ck.at, `${where} has no ${terms.miscPath}`, `${terms.miscPath} "/path/to/check arg ..."`);
        return undefined;
      }
      return {
        type: 'MISC_CHECK', ...timing, command: ck.command, timeoutMs: ck.timeoutMs ?? delayLoopMs, dynamic: ck.dynamic ?? false,
        ...(ck.user ? { user: ck.user } : {}),
      };
    }
    const connFamily = (a: { value: string; at: SourceLoc } | undefined) => (a ? parseIP(a.value)?.family : undefined);
    for (const h of [ck, ...(ck.hosts ?? [])]) {
      const bindto = h.bindto ?? ck.bindto;
      if (h.connectIp && bindto && connFamily(h.connectIp) !== connFamily(bindto)) {
        err('FAMILY_MISMATCH', bindto.at, `${where}: bindto ${bindto.value} is not of the family of connect_ip ${h.connectIp.value}`, 'addresses of one family');
      } else if (!h.connectIp && bindto && connFamily(bindto) !== rs.family) {
        err('FAMILY_MISMATCH', bindto.at, `${where}: bindto ${bindto.value} is not IPv${rs.family} like the real server`, `an IPv${rs.family} address`);
      }
    }
    /** A connection from a spec; with `base` (an SMTP host block) its unset fields but the address are the base's. */
    const connection = (h: CheckerSpec, base?: CheckerConnection): CheckerConnection => {
      const connectIp = h.connectIp?.value;
      const connectPort = h.connectPort ?? base?.connectPort;
      const bindto = h.bindto?.value ?? base?.bindto;
      const bindPort = h.bindPort ?? base?.bindPort;
      const bindIf = h.bindIf ?? base?.bindIf;
      const fwmark = h.fwmark ?? base?.fwmark;
      return {
        ...(connectIp !== undefined ? { connectIp } : {}), ...(connectPort !== undefined ? { connectPort } : {}),
        ...(bindto !== undefined ? { bindto } : {}), ...(bindPort !== undefined ? { bindPort } : {}),
        ...(bindIf !== undefined ? { bindIf } : {}), ...(fwmark !== undefined ? { fwmark } : {}),
        connectTimeoutMs: h.connectTimeoutMs ?? base?.connectTimeoutMs ?? d.connectTimeoutMs,
      };
    };
    const conn = connection(ck);
    if (!ck.connectPort && port === 0 && ck.type !== 'PING_CHECK') {
      err('MISSING_KEY', ck.at, `${where}: the real server has no port, so the checker needs connect_port`, 'connect_port 1..65535, or a port on the real_server line');
    }
    switch (ck.type) {
      case 'TCP_CHECK': case 'PING_CHECK':
        return { type: ck.type, ...timing, ...conn };
      case 'SMTP_CHECK':
        // A host block's unset fields are the checker's, but its address is the real server's
        // unless it names one (keepalived's sample: the real server is checked only when a host names it).
        return {
          type: 'SMTP_CHECK', ...timing, ...conn, heloName: ck.heloName ?? DEFAULT_SMTP_HELO,
          hosts: (ck.hosts ?? []).map((h) => connection(h, conn)),
        };
      case 'DNS_CHECK':
        return { type: 'DNS_CHECK', ...timing, ...conn, queryType: ck.queryType ?? 'SOA', name: ck.name ?? '.' };
      case 'UDP_CHECK': {
        const min = ck.minReplyLength ?? 0;
        const max = ck.maxReplyLength?.value ?? 255;
        if (min > max) err('INVALID_VALUE', ck.maxReplyLength?.at ?? ck.at, `${where}: min_reply_length ${min} > max_reply_length ${max} — it would always fail`, 'min ≤ max');
        return {
          type: 'UDP_CHECK', ...timing, ...conn, ...(ck.payload !== undefined ? { payload: ck.payload } : {}),
          requireReply: ck.requireReply ?? false, ...(ck.replyPattern !== undefined ? { replyPattern: ck.replyPattern } : {}),
          minReplyLength: min, maxReplyLength: max,
        };
      }
      case 'HTTP_GET': case 'SSL_GET': {
        const urls = ck.urls ?? [];
        if (urls.length === 0) err('MISSING_KEY', ck.at, `${where} has no ${terms.url}`, `${terms.url} { ${terms.path} /PATH }`);
        let ok = urls.length > 0;
        for (const u of urls) {
          if (u.path === undefined) { err('MISSING_KEY', u.at, `a ${terms.url} of ${where} has no ${terms.path}`, `${terms.path} /index.html`); ok = false; }
        }
        if (!ok) return undefined;
        const virtualhost = ck.virtualhost ?? d.virtualhost;
        return {
          type: ck.type, ...timing, ...conn,
          urls: urls.map((u) => ({
            path: u.path!, ...(u.digest !== undefined ? { digest: u.digest } : {}), statusCodes: u.statusCodes ?? [[200, 299]],
            ...(u.virtualhost !== undefined ? { virtualhost: u.virtualhost } : {}),
          })),
          ...(virtualhost !== undefined ? { virtualhost } : {}),
          httpProtocol: ck.httpProtocol ?? '1.0', fastRecovery: ck.fastRecovery ?? false, enableSni: ck.enableSni ?? false,
          ...(ck.sniName !== undefined ? { sniName: ck.sniName } : {}), tlsCompliant: ck.tlsCompliant ?? false,
        };
      }
    }
  }
}
