/**
 * `balancers:` in carpool YAML: the same model as keepalived's virtual_server blocks, the same
 * defaults, located errors with suggestions, and `carpool convert` (keepalived.conf → YAML →
 * parse) giving back the same model.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConfigDiagnostic } from '../../../src/config/diagnostics.js';
import { emitCarpoolYaml } from '../../../src/config/emit-yaml.js';
import { parseKeepalivedConf } from '../../../src/config/keepalived/parse.js';
import type { CarpoolConfig, Checker, Forwarding, Hook, RealServer, VirtualServer } from '../../../src/config/model.js';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { configErrors } from '../../helpers/config.js';

const DATA = fileURLToPath(new URL('../../../testdata/keepalived/', import.meta.url));
const FILE = '/etc/carpool/carpool.yaml';
const BASE = `instances:
  - { name: vip, protocol: vrrp, interface: eth0, virtual_router_id: 1, addresses: [10.0.0.1/24] }
`;

function problems(text: string): ConfigDiagnostic[] {
  return configErrors(() => parseCarpoolYaml(text, { file: FILE }));
}

/** A keepalived.conf with every LVS feature carpool reads (the checkers, groups, sorry server, tunnels). */
const EVERYTHING = `vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 1
 virtual_ipaddress { 10.0.0.1 }
}
track_file maint {
 file /run/maint
}
virtual_server_group web {
 10.0.0.1-10 80
 10.0.3.8/29 80
 fwmark 5 inet
}
virtual_server group web {
 protocol TCP
 lvs_sched sh
 sh-port
 sh-fallback
 lb_kind DR
 persistence_timeout 600
 persistence_granularity 255.255.255.0
 ha_suspend
 virtualhost www.example.org
 quorum 2
 hysteresis 1
 quorum_up "/usr/local/bin/quorum up"
 quorum_down /usr/local/bin/quorum-down
 sorry_server 10.1.0.99 80
 sorry_server_inhibit
 delay_loop 2.5
 connect_timeout 1.5
 retry 2
 delay_before_retry 0.5
 warmup 0
 inhibit_on_failure
 alpha
 omega
 real_server 10.1.0.1 80 {
  weight 3
  notify_up "/bin/logger rs up"
  notify_down /bin/rs-down
  uthreshold 1000
  lthreshold 100
  HTTP_GET {
   url {
    path /health
    digest 9b3a0c85a887a256d6939da88aabd8cd
    status_code 200 301-302
   }
   url {
    path /
   }
   http_protocol 1.1
   fast_recovery
  }
  SSL_GET {
   url {
    path /
    virtualhost tls.example.org
   }
   connect_port 443
   enable_sni
   sni_name sni.example.org
   tls_compliant
  }
  MISC_CHECK {
   misc_path "/usr/local/bin/check --fast"
   misc_timeout 4
   misc_dynamic
  }
  FILE_CHECK {
   track_file maint
   weight 5 reverse
  }
 }
 real_server 10.1.0.2 80 {
  weight 0
  SMTP_CHECK {
   helo_name lb.example.org
   connect_ip 10.1.0.22
   bindto 10.1.0.250
   bind_port 2525
   bind_if eth1
   fwmark 9
   log_all_failures
  }
  TCP_CHECK {
  }
  PING_CHECK {
  }
 }
}
virtual_server 10.0.0.1 53 {
 protocol UDP
 ops
 lvs_sched wrr
 real_server 10.1.0.3 53 {
  DNS_CHECK {
   type MX
   name example.org
  }
  UDP_CHECK {
   payload 0102 03
   require_reply 0X
   min_reply_length 2
   max_reply_length 512
  }
 }
}
virtual_server fwmark 7 {
 ip_family inet6
 lvs_sched mh
 persistence_timeout
 real_server 2001:db8::1 {
  lvs_method TUN type gre csum
  TCP_CHECK {
   connect_port 80
  }
 }
 real_server 10.1.0.4 {
  lvs_method TUN
  PING_CHECK {
  }
 }
}
`;

describe('carpool convert: keepalived.conf → YAML → the same balancer model', () => {
  it.each([['seed-002/director1.conf'], ['seed-002/director2.conf']])('%s', (f) => {
    const { config } = parseKeepalivedConf(readFileSync(posix.join(DATA, f), 'utf8'), { file: f });
    const yaml = emitCarpoolYaml(config, { header: `converted from ${f}` });
    expect(yaml).toContain('balancers:\n  virtual_servers:\n    # virtual_server 123.123.123.1 25: TCP rr NAT, 2 real servers\n');
    const back = parseCarpoolYaml(yaml, { file: f });
    expect(back.config).toEqual(config);
    expect(back.config.balancers!.virtualServers).toHaveLength(4);
    expect(back.warnings.every((w) => w.code === 'PASSWORD_TRUNCATED')).toBe(true);
  });

  it('every LVS feature round-trips', () => {
    const { config } = parseKeepalivedConf(EVERYTHING, { file: 'k.conf' });
    expect(config.balancers!.virtualServers.map((v) => v.realServers.flatMap((r) => r.checkers.map((c) => c.type)))).toEqual([
      ['HTTP_GET', 'SSL_GET', 'MISC_CHECK', 'FILE_CHECK', 'SMTP_CHECK', 'TCP_CHECK', 'PING_CHECK'], ['DNS_CHECK', 'UDP_CHECK'], ['TCP_CHECK', 'PING_CHECK'],
    ]);
    const yaml = emitCarpoolYaml(config);
    const back = parseCarpoolYaml(yaml, { file: 'k.conf' });
    expect(back.config).toEqual(config);
    expect(back.warnings).toEqual([]);
  });
});

describe('balancers: in carpool YAML', () => {
  it('the count period (carpool\'s own): YAML count_interval, keepalived.conf global_defs carpool_count_interval, converted', () => {
    const vs = '  virtual_servers:\n    - { address: 10.0.0.1, port: 80, real_servers: [{ address: 10.0.1.1, port: 80 }] }\n';
    expect(parseCarpoolYaml(`${BASE}balancers:\n  count_interval: 0.25\n${vs}`, { file: FILE }).config.balancers!.countIntervalMs).toBe(250);
    expect(parseCarpoolYaml(`${BASE}balancers:\n${vs}`, { file: FILE }).config.balancers!.countIntervalMs).toBeUndefined();
    expect(problems(`${BASE}balancers:\n  count_interval: 0\n${vs}`).map((d) => [d.line, d.code])).toEqual([[4, 'OUT_OF_RANGE']]);
    const ka = `global_defs {\n carpool_count_interval 0.5\n}\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.1.1 80 {\n }\n}\n`;
    const { config } = parseKeepalivedConf(ka, { file: 'k.conf' });
    expect(config.balancers!.countIntervalMs).toBe(500);
    const yaml = emitCarpoolYaml(config);
    expect(yaml).toContain('count_interval: 0.5');
    expect(parseCarpoolYaml(yaml, { file: 'k.conf' }).config).toEqual(config);
    expect(configErrors(() => parseKeepalivedConf(ka.replace('0.5', '120'), { file: 'k.conf' })).map((d) => [d.line, d.code])).toEqual([[2, 'OUT_OF_RANGE']]);
  });

  it('the keepalived defaults apply', () => {
    const { config, warnings } = parseCarpoolYaml(`${BASE}balancers:
  virtual_servers:
    - address: 10.0.0.1
      port: 80
      protocol: TCP
      real_servers:
        - address: 10.0.1.1
          port: 80
          checkers: [{ type: TCP_CHECK }, { type: HTTP_GET, urls: [{ path: / }] }]
`, { file: FILE });
    expect(warnings).toEqual([]);
    const vs = config.balancers!.virtualServers[0]!;
    expect(vs).toMatchObject({ name: '10.0.0.1 80', scheduler: 'wlc', forwarding: { method: 'NAT' }, quorum: 1, delayLoopMs: 60_000, connectTimeoutMs: 5000 });
    expect(vs.realServers[0]!.checkers).toMatchObject([
      { type: 'TCP_CHECK', retry: 1, delayBeforeRetryMs: 1000, warmupMs: 60_000, connectTimeoutMs: 5000 },
      { type: 'HTTP_GET', retry: 1, delayBeforeRetryMs: 3000, urls: [{ path: '/', statusCodes: [[200, 299]] }], httpProtocol: '1.0' },
    ]);
  });

  it('interface (DR/TUN ingress) is read, checked and converted back', () => {
    const text = `${BASE}balancers:
  virtual_servers:
    - { address: 10.0.0.1, port: 80, protocol: TCP, lvs_method: DR, interface: eth1, real_servers: [{ address: 10.0.0.7 }] }
`;
    const { config } = parseCarpoolYaml(text, { file: FILE });
    expect(config.balancers!.virtualServers[0]!.interface).toBe('eth1');
    expect(parseCarpoolYaml(emitCarpoolYaml(config), { file: FILE }).config.balancers).toEqual(config.balancers);
    expect(problems(text.replace('interface: eth1', 'interface: "eth/1"')).map((p) => p.code)).toEqual(['INVALID_VALUE']);
  });

  it('the same text in keepalived.conf and YAML gives the same model', () => {
    const ka = parseKeepalivedConf(`vrrp_instance vip {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1/24 }\n}
virtual_server 10.0.0.1 25 {\n delay_loop 6\n lb_algo rr\n lb_kind NAT\n persistence_timeout 50\n protocol TCP
 real_server 192.168.0.101 25 {\n  weight 1\n  SMTP_CHECK {\n   connect_timeout 3\n  }\n }\n}\n`, { file: 'x' }).config.balancers;
    const yaml = parseCarpoolYaml(`${BASE}balancers:
  virtual_servers:
    - { address: 10.0.0.1, port: 25, delay_loop: 6, lvs_sched: rr, lvs_method: NAT, persistence_timeout: 50, protocol: TCP,
        real_servers: [{ address: 192.168.0.101, port: 25, weight: 1, checkers: [{ type: SMTP_CHECK, connect_timeout: 3 }] }] }
`, { file: FILE }).config.balancers;
    expect(yaml).toEqual(ka);
  });

  const vs = (extra: string, rs = '') => `${BASE}balancers:
  virtual_servers:
    - address: 10.0.0.1
      port: 80
      protocol: TCP
${extra}      real_servers:
        - address: 10.0.1.1
          port: 80
${rs}`;
  it.each<[string, string, string[], string?]>([
    ['unknown scheduler, with a suggestion', vs('      lvs_sched: wrrr\n'), ['8:18 INVALID_VALUE'], "did you mean 'wrr'?"],
    ['keepalived key name', vs('      lb_algo: rr\n'), ['8:7 UNKNOWN_KEY'], "did you mean 'lvs_sched'?"],
    ['unknown lvs_method', vs('      lvs_method: DSR\n'), ['8:19 INVALID_VALUE'], "'DSR' is not a forwarding method"],
    ['port out of range', vs('').replace('port: 80\n      protocol', 'port: 80000\n      protocol'), ['6:13 OUT_OF_RANGE']],
    ['real server address', vs('').replace('address: 10.0.1.1', 'address: 10.0.1.300'), ['9:20 INVALID_ADDRESS']],
    ['unknown checker type', vs('', '          checkers: [{ type: TCP_CHEK }]\n'), ['11:30 INVALID_VALUE'], "did you mean 'TCP_CHECK'?"],
    ['checker key of another type', vs('', '          checkers: [{ type: TCP_CHECK, helo_name: x }]\n'), ['11:41 UNKNOWN_KEY']],
    ['HTTP_GET without urls', vs('', '          checkers: [{ type: HTTP_GET }]\n'), ['11:22 MISSING_KEY'], 'has no urls'],
    ['MISC_CHECK without misc_path', vs('', '          checkers: [{ type: MISC_CHECK }]\n'), ['11:22 MISSING_KEY']],
    ['MISC_CHECK group without user', vs('', '          checkers: [{ type: MISC_CHECK, misc_path: /bin/true, group: adm }]\n'), ['11:71 MISSING_KEY']],
    ['FILE_CHECK with an undefined track_file', vs('', '          checkers: [{ type: FILE_CHECK, track_file: x }]\n'), ['11:54 UNDEFINED_REFERENCE']],
    ['address and fwmark', vs('      fwmark: 1\n'), ['8:7 INVALID_VALUE']],
    ['undefined group', `${BASE}balancers:\n  virtual_servers:\n    - { group: g, real_servers: [{ address: 10.0.1.1, port: 80 }] }\n`, ['5:16 UNDEFINED_REFERENCE']],
    ['bad range', `${BASE}balancers:\n  virtual_server_groups:\n    - { name: g, entries: [{ range: 10.0.0.9-1 }] }\n`, ['5:37 INVALID_ADDRESS']],
    ['boolean as yes', vs('      alpha: yes\n'), ['8:14 INVALID_TYPE'], 'write true'],
  ])('%s', (_name, text, expected, message) => {
    const ds = problems(text);
    expect(ds.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual(expected);
    for (const d of ds) expect(d.expected.length).toBeGreaterThan(0);
    if (message) expect(ds.some((d) => d.message.includes(message))).toBe(true);
  });
});

describe('docs/config.md', () => {
  it('the load-balancing example parses', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/config.md', import.meta.url)), 'utf8');
    const section = doc.slice(doc.indexOf('## Load balancing (virtual_server)'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const { config } = parseCarpoolYaml(`${BASE}${yaml}`, { file: 'docs' });
    expect(config.balancers!.groups[0]!.entries[0]).toEqual({ kind: 'range', family: 4, first: '10.0.0.1', last: '10.0.0.10', port: 80 });
    expect(config.balancers!.virtualServers[0]).toMatchObject({ name: '123.123.123.2 80', scheduler: 'rr', persistenceTimeout: 50, delayLoopMs: 6000 });
  });
});

// ---------------------------------------------------------------------------------------------
// Random valid balancer models: parse(emit(x)) deep-equals x.

const seconds = fc.integer({ min: 1, max: 600_000 }).map((n) => n * 10); // 10 ms steps, as the YAML seconds round-trip exactly
const hook: fc.Arbitrary<Hook> = fc.constantFrom<Hook>({ argv: ['/bin/true'], shell: false }, { argv: ['/usr/local/bin/notify', 'up', 'now'], shell: false },
  { argv: ['echo down | logger'], shell: true });
const forwarding: fc.Arbitrary<Forwarding> = fc.constantFrom<Forwarding>({ method: 'NAT' }, { method: 'DR' }, { method: 'TUN' },
  { method: 'TUN', tunnelType: 'gue', tunnelPort: 6080, tunnelChecksum: 'remcsum' }, { method: 'TUN', tunnelType: 'gre', tunnelChecksum: 'csum' });

function checker(port: number, virtualhost: string | undefined): fc.Arbitrary<Checker> {
  const timing = fc.record({ delayLoopMs: seconds, retry: fc.nat(5), delayBeforeRetryMs: seconds, warmupMs: seconds, alpha: fc.boolean(), logAllFailures: fc.boolean() });
  const conn = fc.record({
    connectIp: fc.option(fc.constant('10.9.0.1'), { nil: undefined }), connectPort: port === 0 ? fc.integer({ min: 1, max: 65535 }) : fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    bindPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), bindIf: fc.option(fc.constant('eth1'), { nil: undefined }),
    fwmark: fc.option(fc.nat(100), { nil: undefined }), connectTimeoutMs: seconds,
  });
  const clean = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return fc.oneof(
    fc.tuple(timing, conn, fc.constantFrom('TCP_CHECK', 'PING_CHECK' as const)).map(([t, c, type]) => clean({ type, ...t, ...c }) as Checker),
    // SMTP host blocks: unset fields but the address are the checker's (what parse gives back).
    fc.tuple(timing, conn, fc.string({ minLength: 1, maxLength: 10 }).filter((s) => /^[a-z.]+$/.test(s)), fc.array(conn, { maxLength: 2 }))
      .map(([t, c, h, hosts]) => clean({
        type: 'SMTP_CHECK' as const, ...t, ...c, heloName: h, hosts: hosts.map((x) => clean({ ...c, ...clean(x), connectIp: x.connectIp })),
      })),
    fc.tuple(timing, conn, fc.constantFrom('A', 'MX', 'SOA' as const), fc.constantFrom('.', 'example.org')).map(([t, c, q, n]) => clean({ type: 'DNS_CHECK' as const, ...t, ...c, queryType: q, name: n })),
    fc.tuple(timing, conn, fc.option(fc.constant('0102ab'), { nil: undefined }), fc.boolean(), fc.option(fc.constant('0x01'), { nil: undefined }), fc.nat(10))
      .map(([t, c, payload, req, pattern, min]) => clean({
        type: 'UDP_CHECK' as const, ...t, ...c, payload, requireReply: req || pattern !== undefined, replyPattern: pattern, minReplyLength: min, maxReplyLength: 10 + min,
      })),
    fc.tuple(timing, conn, fc.constantFrom('HTTP_GET', 'SSL_GET' as const), fc.array(fc.record({
      path: fc.constantFrom('/', '/health'), digest: fc.option(fc.constant('9b3a0c85a887a256d6939da88aabd8cd'), { nil: undefined }),
      statusCodes: fc.constantFrom<[number, number][]>([[200, 299]], [[200, 200], [301, 302]]), virtualhost: fc.option(fc.constant('u.example'), { nil: undefined }),
    }).map(clean), { minLength: 1, maxLength: 2 }), fc.option(fc.constant('c.example'), { nil: undefined }), fc.constantFrom('1.0', '1.0C', '1.1' as const), fc.boolean(), fc.boolean())
      .map(([t, c, type, urls, vh, httpProtocol, b1, b2]) => clean({
        type, ...t, ...c, urls, virtualhost: vh ?? virtualhost, httpProtocol, fastRecovery: b1, enableSni: b2, sniName: b2 ? 's.example' : undefined, tlsCompliant: b1,
      }) as Checker),
    fc.tuple(timing, hook, fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }), fc.boolean(),
      fc.constantFrom(undefined, { user: 'nobody' }, { user: 'nobody', group: 'nogroup' }))
      .map(([t, command, timeout, dynamic, user]) => clean({
        type: 'MISC_CHECK' as const, ...t, command, timeoutMs: timeout === undefined ? t.delayLoopMs : timeout * 1000, dynamic, user,
      }) as Checker),
    fc.tuple(fc.integer({ min: -5, max: 5 }), fc.boolean()).map(([weight, reverse]) => ({ type: 'FILE_CHECK' as const, trackFile: 'maint', path: '/run/maint', weight, reverse })),
  );
}

function realServer(family: 4 | 6, i: number, vsPort: number, vsForwarding: Forwarding, vs: { virtualhost?: string; retry?: number; delayBeforeRetryMs?: number; warmupMs?: number }): fc.Arbitrary<RealServer> {
  return fc.record({
    own: fc.boolean(), port: fc.constantFrom(0, vsPort || 8080), weight: fc.nat(10), inh: fc.boolean(), alpha: fc.boolean(), up: fc.option(hook, { nil: undefined }),
    down: fc.option(hook, { nil: undefined }), ut: fc.option(fc.constant(1000), { nil: undefined }), delayLoopMs: seconds, connectTimeoutMs: seconds,
    retry: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), dbr: fc.option(seconds, { nil: undefined }), warm: fc.option(seconds, { nil: undefined }),
  }).chain((x) => {
    // keepalived: an address service's real server without a port takes the service's; only NAT changes the port.
    const port = vsForwarding.method !== 'NAT' ? vsPort : x.port === 0 ? vsPort : x.port;
    const virtualhost = vs.virtualhost;
    return fc.array(checker(port, virtualhost), { maxLength: 3 }).map((checkers): RealServer => {
      const r = {
        family, address: family === 4 ? `10.1.0.${i + 1}` : `2001:db8::${i + 1}`, port, weight: x.weight, forwarding: vsForwarding, inhibitOnFailure: x.inh, alpha: x.alpha,
        notifyUp: x.up, notifyDown: x.down, upperThreshold: x.ut, lowerThreshold: x.ut === undefined ? undefined : 10, virtualhost,
        delayLoopMs: x.delayLoopMs, connectTimeoutMs: x.connectTimeoutMs, retry: x.retry ?? vs.retry, delayBeforeRetryMs: x.dbr ?? vs.delayBeforeRetryMs,
        warmupMs: x.warm ?? vs.warmupMs, checkers,
      };
      return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as RealServer;
    });
  });
}

const virtualServer = (i: number): fc.Arbitrary<VirtualServer> => fc.record({
  fwmark: fc.boolean(), family: fc.constantFrom<4 | 6>(4, 6), port: fc.constantFrom(0, 80, 443), protocol: fc.constantFrom('TCP', 'UDP', 'SCTP' as const),
  scheduler: fc.constantFrom('rr', 'wlc', 'sh', 'mh', 'lblcr' as const), flags: fc.subarray(['sh-port', 'mh-fallback', 'flag-1'] as const), forwarding,
  persistence: fc.option(fc.integer({ min: 1, max: 86400 }), { nil: undefined }), gran: fc.option(fc.integer({ min: 8, max: 32 }), { nil: undefined }),
  ha: fc.boolean(), vh: fc.option(fc.constant('vs.example'), { nil: undefined }), sorry: fc.boolean(), b: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
  quorumUp: fc.option(hook, { nil: undefined }), delayLoopMs: seconds, connectTimeoutMs: seconds, retry: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  dbr: fc.option(seconds, { nil: undefined }), warm: fc.option(seconds, { nil: undefined }), n: fc.integer({ min: 1, max: 3 }),
}).chain((x) => {
  const rs = Array.from({ length: x.n }, (_, k) => realServer(x.family, k, x.fwmark ? 0 : x.port, x.forwarding, {
    ...(x.vh ? { virtualhost: x.vh } : {}), ...(x.retry !== undefined ? { retry: x.retry } : {}), ...(x.dbr !== undefined ? { delayBeforeRetryMs: x.dbr } : {}),
    ...(x.warm !== undefined ? { warmupMs: x.warm } : {}),
  }));
  return fc.tuple(...rs).map((realServers): VirtualServer => {
    const service = x.fwmark ? { kind: 'fwmark' as const, fwmark: i + 1 } : { kind: 'address' as const, address: x.family === 4 ? `10.0.0.${i + 1}` : `2001:db8:1::${i + 1}`, port: x.port };
    const persistent = x.persistence ?? (x.gran !== undefined || (!x.fwmark && x.port === 0) ? 360 : undefined);
    const weightSum = realServers.reduce((s, r) => s + r.weight, 0);
    const quorum = Math.max(1, Math.min(2, weightSum));
    const v = {
      name: x.fwmark ? `fwmark ${i + 1}` : `${service.kind === 'address' ? service.address : ''}${x.port ? ` ${x.port}` : ''}`, service, family: x.family,
      protocol: x.fwmark ? undefined : x.protocol, scheduler: x.scheduler, schedulerFlags: [...x.flags], onePacket: !x.fwmark && x.protocol === 'UDP' && x.b[0],
      forwarding: x.forwarding, persistenceTimeout: persistent,
      persistenceGranularity: x.gran === undefined ? undefined : x.family === 6 ? x.gran * 4 : x.gran, haSuspend: !x.fwmark && x.ha, virtualhost: x.vh,
      sorryServer: x.sorry ? { family: x.family, address: x.family === 4 ? '10.2.0.1' : '2001:db8:2::1', port: x.fwmark ? 0 : x.port, inhibit: x.b[1], forwarding: x.forwarding } : undefined,
      alpha: x.b[0], omega: x.b[2], quorum, hysteresis: quorum - 1, quorumUp: x.quorumUp, delayLoopMs: x.delayLoopMs, connectTimeoutMs: x.connectTimeoutMs,
      retry: x.retry, delayBeforeRetryMs: x.dbr, warmupMs: x.warm, inhibitOnFailure: x.b[1], realServers,
    };
    return Object.fromEntries(Object.entries(v).filter(([, y]) => y !== undefined)) as unknown as VirtualServer;
  });
});

describe('emitCarpoolYaml with balancers', () => {
  it('parse(emit(x)) deep-equals x for random valid balancer models', () => {
    const base = parseCarpoolYaml(`${BASE}track_files: [{ name: maint, file: /run/maint }]\n`, { file: FILE }).config;
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => virtualServer(i)))), (vss) => {
      const x: CarpoolConfig = { ...base, balancers: { groups: [], virtualServers: vss } };
      const back = parseCarpoolYaml(emitCarpoolYaml(x), { file: FILE });
      expect(back.config).toEqual(x);
    }), { numRuns: 200 });
  });
});
