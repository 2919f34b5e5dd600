/**
 * keepalived.conf LVS blocks → the balancer model: seed 002's two directors unchanged, every
 * checker, virtual_server_group, keepalived's defaults and cascade, and the errors keepalived
 * reports (located, with what is expected).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ConfigDiagnostic } from '../../../src/config/diagnostics.js';
import { parseKeepalivedConf } from '../../../src/config/keepalived/parse.js';
import type { Checker, RealServer, VirtualServer } from '../../../src/config/model.js';
import { configErrors } from '../../helpers/config.js';

const DATA = fileURLToPath(new URL('../../../testdata/keepalived/', import.meta.url));
const read = (f: string) => readFileSync(posix.join(DATA, f), 'utf8');
const VRRP = 'vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1 }\n}\n';

function parse(text: string) {
  return parseKeepalivedConf(VRRP + text, { file: 'k.conf' });
}
/** With `strict`: unknown keywords are warnings otherwise (skipped, as keepalived does). */
function problems(text: string): ConfigDiagnostic[] {
  return configErrors(() => parseKeepalivedConf(VRRP + text, { file: 'k.conf', strict: true }));
}
/** Line numbers of the snippet (the VRRP instance above it has 5 lines). */
const at = (ds: readonly ConfigDiagnostic[]) => ds.map((d) => `${d.line - 5}:${d.column} ${d.code}`);

const timing = (delayLoopMs: number, extra: Partial<Checker> = {}) => ({
  delayLoopMs, retry: 1, delayBeforeRetryMs: 1000, warmupMs: delayLoopMs, alpha: false, logAllFailures: false, connectTimeoutMs: 3000, ...extra,
});

function seedService(address: string, port: number, reals: readonly string[], checker: Record<string, unknown>): VirtualServer {
  return {
    name: `${address} ${port}`, service: { kind: 'address', address, port }, family: 4, protocol: 'TCP', scheduler: 'rr', schedulerFlags: [],
    onePacket: false, forwarding: { method: 'NAT' }, persistenceTimeout: 50, haSuspend: false, alpha: false, omega: false, quorum: 1, hysteresis: 0,
    delayLoopMs: 6000, connectTimeoutMs: 5000, inhibitOnFailure: false,
    realServers: reals.map((r): RealServer => ({
      family: 4, address: r, port, weight: 1, forwarding: { method: 'NAT' }, inhibitOnFailure: false, alpha: false,
      delayLoopMs: 6000, connectTimeoutMs: 5000, checkers: [{ ...timing(6000), ...checker } as Checker],
    })),
  };
}

describe('seed 002, appendix B.11: both directors parse unchanged into the balancer model', () => {
  const expected = [
    seedService('123.123.123.1', 25, ['192.168.0.101', '192.168.0.102'], { type: 'SMTP_CHECK', heloName: 'smtpchecker.keepalived.org', hosts: [] }),
    seedService('123.123.123.1', 993, ['192.168.0.101', '192.168.0.102'], { type: 'TCP_CHECK' }),
    seedService('123.123.123.1', 995, ['192.168.0.101', '192.168.0.102'], { type: 'TCP_CHECK' }),
    seedService('123.123.123.2', 80, ['192.168.0.201', '192.168.0.202'], {
      type: 'HTTP_GET', delayBeforeRetryMs: 3000, urls: [{ path: '/index.html', statusCodes: [[200, 299]] }], httpProtocol: '1.0',
      fastRecovery: false, enableSni: false, tlsCompliant: false,
    }),
  ];
  it.each(['director1.conf', 'director2.conf'])('%s', (f) => {
    const { config, warnings } = parseKeepalivedConf(read(`seed-002/${f}`), { file: f });
    expect(config.balancers).toEqual({ groups: [], virtualServers: expected });
    expect(warnings.map((w) => w.code)).toEqual([...Array<string>(4).fill('NOT_USED'), ...Array<string>(4).fill('PASSWORD_TRUNCATED')]);
  });

  it('with --vrrp-only the LVS part is dropped with one warning, as before', () => {
    const { config, warnings } = parseKeepalivedConf(read('seed-002/director1.conf'), { file: 'd1', vrrpOnly: true });
    expect(config.balancers).toBeUndefined();
    expect(warnings.at(-1)).toMatchObject({ code: 'LVS_SKIPPED', line: 91 });
    expect(warnings.at(-1)!.message).toContain('virtual_server 123.123.123.2 80 (2 real servers) at d1:157');
  });

  it('§5.3.8\'s example has a real server address that is not one: an error at its line, as keepalived reports', () => {
    const ds = problems('virtual_server 123.123.123.1 25 {\n protocol TCP\n real_server 192.168.178.0.101 25 {\n  weight 1\n }\n}\n');
    expect(at(ds)).toEqual(['3:14 INVALID_ADDRESS']);
    expect(ds[0]!.message).toBe("real_server of virtual_server 123.123.123.1 25: '192.168.178.0.101' is not an IP address");
  });
});

describe('defaults and cascade (keepalived.conf(5))', () => {
  it('a minimal virtual server', () => {
    const { config, warnings } = parse('virtual_server 10.0.0.1 80 {\n real_server 10.0.1.1 8080 {\n  TCP_CHECK {\n  }\n }\n}\n');
    const vs = config.balancers!.virtualServers[0]!;
    expect(vs).toMatchObject({
      scheduler: 'wlc', forwarding: { method: 'NAT' }, protocol: 'UDP', quorum: 1, hysteresis: 0, delayLoopMs: 60_000, connectTimeoutMs: 5000,
      inhibitOnFailure: false, alpha: false, omega: false, haSuspend: false,
    });
    expect(vs.persistenceTimeout).toBeUndefined();
    expect(vs.realServers[0]).toMatchObject({ weight: 1, port: 8080, delayLoopMs: 60_000 });
    expect(vs.realServers[0]!.checkers[0]).toEqual({
      type: 'TCP_CHECK', delayLoopMs: 60_000, retry: 1, delayBeforeRetryMs: 1000, warmupMs: 60_000, alpha: false, logAllFailures: false, connectTimeoutMs: 5000,
    });
    // keepalived: "no protocol set - defaulting to UDP"
    expect(warnings.map((w) => `${w.line - 5}:${w.column} ${w.code}`)).toEqual(['1:1 LVS_DEFAULT']);
  });

  it('virtual server → real server → checker; per-checker defaults', () => {
    const { config } = parse(`virtual_server 10.0.0.1 53 {
 protocol UDP
 delay_loop 10
 connect_timeout 2
 retry 4
 inhibit_on_failure
 alpha
 virtualhost vs.example
 real_server 10.0.1.1 53 {
  delay_loop 20
  DNS_CHECK {
   type a
   name example.org
  }
  MISC_CHECK {
   misc_path "/usr/local/bin/check --deep"
   misc_dynamic
  }
  HTTP_GET {
   url {
    path /
   }
   retry 0
  }
 }
}
`);
    const rs = config.balancers!.virtualServers[0]!.realServers[0]!;
    expect(rs).toMatchObject({ inhibitOnFailure: true, alpha: true, delayLoopMs: 20_000, connectTimeoutMs: 2000, retry: 4, virtualhost: 'vs.example' });
    const [dns, misc, http] = rs.checkers;
    expect(dns).toMatchObject({ type: 'DNS_CHECK', queryType: 'A', name: 'example.org', retry: 4, delayBeforeRetryMs: 20_000, alpha: true, connectTimeoutMs: 2000 });
    expect(misc).toEqual({
      type: 'MISC_CHECK', delayLoopMs: 20_000, retry: 4, delayBeforeRetryMs: 1000, warmupMs: 20_000, alpha: true, logAllFailures: false,
      command: { argv: ['/usr/local/bin/check', '--deep'], shell: false }, timeoutMs: 20_000, dynamic: true,
    });
    expect(http).toMatchObject({ type: 'HTTP_GET', retry: 0, delayBeforeRetryMs: 3000, virtualhost: 'vs.example' });
  });

  it('retry defaults: 1, MISC_CHECK 0, DNS_CHECK 3; bare persistence_timeout 360 s; a port-less service becomes persistent', () => {
    const { config, warnings } = parse(`virtual_server 10.0.0.1 {
 protocol TCP
 real_server 10.0.1.1 80 {
  MISC_CHECK {
   misc_path /bin/true
  }
  DNS_CHECK {
  }
 }
}
virtual_server 10.0.0.2 80 {
 protocol TCP
 persistence_timeout
 persistence_granularity 255.255.255.0
 real_server 10.0.1.1 80 {
 }
}
`);
    const [a, b] = config.balancers!.virtualServers;
    expect(a!.persistenceTimeout).toBe(360);
    expect(a!.realServers[0]!.checkers.map((c) => [c.type, 'retry' in c ? c.retry : undefined])).toEqual([['MISC_CHECK', 0], ['DNS_CHECK', 3]]);
    expect(a!.realServers[0]!.checkers[1]).toMatchObject({ queryType: 'SOA', name: '.' });
    expect(b).toMatchObject({ persistenceTimeout: 360, persistenceGranularity: 24 });
    expect(warnings.map((w) => `${w.line - 5} ${w.code}`)).toEqual(['1 LVS_DEFAULT']);
  });

  it('FILE_CHECK takes the track_file\'s weight and reverse unless it sets its own; MISC_CHECK user', () => {
    const { config } = parse(`track_file maint {
 file /run/maint
 weight 0 reverse
}
virtual_server 10.0.0.1 80 {
 protocol TCP
 real_server 10.1.0.1 80 {
  FILE_CHECK {
   track_file maint
  }
  FILE_CHECK {
   track_file maint
   weight 3
  }
  MISC_CHECK {
   misc_path "/bin/check arg"
   user nobody nogroup
  }
 }
}
`);
    const [a, b, m] = config.balancers!.virtualServers[0]!.realServers[0]!.checkers;
    expect(a).toEqual({ type: 'FILE_CHECK', trackFile: 'maint', path: '/run/maint', weight: 0, reverse: true });
    expect(b).toEqual({ type: 'FILE_CHECK', trackFile: 'maint', path: '/run/maint', weight: 3, reverse: false });
    expect(m).toMatchObject({ type: 'MISC_CHECK', command: { argv: ['/bin/check', 'arg'], shell: false }, user: { user: 'nobody', group: 'nogroup' } });
  });

  it('every checker and option', () => {
    const { config } = parse(`track_file maint {
 file /run/maint
}
virtual_server fwmark 7 {
 ip_family inet6
 lvs_sched mh
 mh-port
 mh-fallback
 lvs_method DR
 quorum 3
 hysteresis 1
 quorum_up "/bin/logger up"
 quorum_down /bin/down
 sorry_server 2001:db8::99 80
 sorry_server_inhibit
 real_server 2001:db8::1 80 {
  weight 2
  notify_up /bin/up
  notify_down "/bin/down now"
  uthreshold 100
  lthreshold 10
  SSL_GET {
   url {
    path /health
    digest 9B3A0C85A887A256D6939DA88AABD8CD
    status_code 200 300-399
    virtualhost h.example
   }
   connect_port 443
   bindto 2001:db8::10
   http_protocol 1.1
   enable_sni
   sni_name s.example
  }
  SMTP_CHECK {
   helo_name director.example
   connect_ip 2001:db8::2
  }
  UDP_CHECK {
   payload 01 02ab
   require_reply 0x1
   max_reply_length 100
  }
  PING_CHECK {
  }
  FILE_CHECK {
   track_file maint
   weight -2 reverse
  }
 }
 real_server 10.1.0.1 80 {
  lvs_method TUN type gue port 6080 csum
  weight 1
 }
}
`);
    const vs = config.balancers!.virtualServers[0]!;
    expect(vs).toMatchObject({
      name: 'fwmark 7', service: { kind: 'fwmark', fwmark: 7 }, family: 6, scheduler: 'mh', schedulerFlags: ['mh-port', 'mh-fallback'],
      forwarding: { method: 'DR' }, quorum: 3, hysteresis: 1, quorumUp: { argv: ['/bin/logger', 'up'], shell: false },
      sorryServer: { family: 6, address: '2001:db8::99', port: 80, inhibit: true, forwarding: { method: 'DR' } },
    });
    expect(vs.protocol).toBeUndefined();
    const [r6, r4] = vs.realServers;
    expect(r6).toMatchObject({ weight: 2, upperThreshold: 100, lowerThreshold: 10, notifyDown: { argv: ['/bin/down', 'now'] } });
    expect(r6!.checkers.map((c) => c.type)).toEqual(['SSL_GET', 'SMTP_CHECK', 'UDP_CHECK', 'PING_CHECK', 'FILE_CHECK']);
    expect(r6!.checkers[0]).toMatchObject({
      urls: [{ path: '/health', digest: '9b3a0c85a887a256d6939da88aabd8cd', statusCodes: [[200, 200], [300, 399]], virtualhost: 'h.example' }],
      connectPort: 443, bindto: '2001:db8::10', httpProtocol: '1.1', enableSni: true, sniName: 's.example',
    });
    expect(r6!.checkers[1]).toMatchObject({ heloName: 'director.example', connectIp: '2001:db8::2' });
    expect(r6!.checkers[2]).toMatchObject({ payload: '0102ab', requireReply: true, replyPattern: '0x01', minReplyLength: 0, maxReplyLength: 100 });
    expect(r6!.checkers[4]).toEqual({ type: 'FILE_CHECK', trackFile: 'maint', path: '/run/maint', weight: -2, reverse: true });
    expect(r4).toMatchObject({ family: 4, forwarding: { method: 'TUN', tunnelType: 'gue', tunnelPort: 6080, tunnelChecksum: 'csum' } });
  });

  it('virtual_server_group: ranges, CIDR, fwmarks; a group service takes the family of its ranges', () => {
    const { config } = parse(`virtual_server_group web {
 10.0.0.1-10 80
 10.0.1.250-10.0.2.5 443
 10.0.3.8/29
 fwmark 5 inet
}
virtual_server group web {
 protocol TCP
 persistence_timeout 600
 real_server 10.1.0.1 {
  TCP_CHECK {
   connect_port 80
  }
 }
}
`);
    expect(config.balancers!.groups).toEqual([{
      name: 'web', entries: [
        { kind: 'range', family: 4, first: '10.0.0.1', last: '10.0.0.10', port: 80 },
        { kind: 'range', family: 4, first: '10.0.1.250', last: '10.0.2.5', port: 443 },
        { kind: 'range', family: 4, first: '10.0.3.8', last: '10.0.3.15', port: 0 },
        { kind: 'fwmark', fwmark: 5, family: 4 },
      ],
    }]);
    expect(config.balancers!.virtualServers[0]).toMatchObject({ name: 'group web', service: { kind: 'group', group: 'web' }, family: 4, persistenceTimeout: 600 });
  });

  it('a real server without a port takes the port of an address service, as keepalived (check_data.c)', () => {
    const { config } = parse('virtual_server 10.0.0.1 80 {\n protocol TCP\n sorry_server 10.0.2.1\n real_server 10.0.1.1 {\n  TCP_CHECK {\n  }\n }\n}\n');
    const vs = config.balancers!.virtualServers[0]!;
    expect([vs.realServers[0]!.port, vs.sorryServer!.port]).toEqual([80, 80]);
  });

  it('quorum above the total weight and hysteresis ≥ quorum are corrected with a warning, as keepalived', () => {
    const { config, warnings } = parse('virtual_server 10.0.0.1 80 {\n protocol TCP\n quorum 5\n hysteresis 9\n real_server 10.0.1.1 80 {\n  weight 2\n }\n}\n');
    expect(config.balancers!.virtualServers[0]).toMatchObject({ quorum: 2, hysteresis: 1 });
    expect(warnings.map((w) => `${w.line - 5}:${w.column} ${w.code}`)).toEqual(['3:9 LVS_DEFAULT', '4:13 LVS_DEFAULT']);
  });
});

describe('errors, located, with what is expected', () => {
  const vs = (body: string, head = '10.0.0.1 80') => `virtual_server ${head} {\n protocol TCP\n${body}\n real_server 10.0.1.1 80 {\n }\n}\n`;
  const rs = (body: string) => `virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 80 {\n${body}\n }\n}\n`;
  it.each<[string, string, string[], string?]>([
    ['unknown scheduler, with a suggestion', vs(' lb_algo rrr'), ['3:10 INVALID_VALUE'], "lb_algo: unknown scheduler 'rrr' — did you mean 'rr'?"],
    ['twos is known but not supported', vs(' lvs_sched twos'), ['3:12 NOT_SUPPORTED']],
    ['unknown lb_kind', vs(' lb_kind NATT'), ['3:10 INVALID_VALUE'], "lb_kind: 'NATT' is not a forwarding method"],
    ['tunnel options without TUN', vs(' lvs_method DR type gue'), ['3:16 INVALID_VALUE']],
    ['gue without a port', vs(' lvs_method TUN type gue'), ['3:22 INVALID_VALUE']],
    ['virtual server port out of range', vs('', '10.0.0.1 65536'), ['1:25 OUT_OF_RANGE']],
    ['real server port out of range', 'virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 70000 {\n }\n}\n', ['3:23 OUT_OF_RANGE']],
    ['virtual server address', vs('', '10.0.0.300 80'), ['1:16 INVALID_ADDRESS']],
    ['unknown protocol', vs(' protocol ICMP'), ['3:11 INVALID_VALUE']],
    ['unknown keyword, with a suggestion', vs(' persistance_timeout 50'), ['3:2 UNKNOWN_KEYWORD'], "did you mean 'persistence_timeout'?"],
    ['unknown checker keyword', rs('  TCP_CHECK {\n   connect_timeot 3\n  }'), ['5:4 UNKNOWN_KEYWORD'], "did you mean 'connect_timeout'?"],
    ['HTTP_GET without url', rs('  HTTP_GET {\n  }'), ['4:3 MISSING_KEY'], 'HTTP_GET of real_server 10.0.1.1 80 of virtual_server 10.0.0.1 80 has no url { }'],
    ['url without path', rs('  SSL_GET {\n   url {\n    status_code 200\n   }\n  }'), ['5:4 MISSING_KEY']],
    ['MISC_CHECK without misc_path', rs('  MISC_CHECK {\n   misc_timeout 5\n  }'), ['4:3 MISSING_KEY'], 'has no misc_path'],
    ['MISC_CHECK with shell syntax', rs('  MISC_CHECK {\n   misc_path "/bin/check | grep ok"\n  }'), ['5:14 NEEDS_SHELL'], "'|' is shell syntax"],
    ['FILE_CHECK without track_file', rs('  FILE_CHECK {\n   weight 2\n  }'), ['4:3 MISSING_KEY']],
    ['FILE_CHECK with an undefined track_file', rs('  FILE_CHECK {\n   track_file nope\n  }'), ['5:15 UNDEFINED_REFERENCE']],
    ['bad digest', rs('  HTTP_GET {\n   url {\n    path /\n    digest abc\n   }\n  }'), ['7:12 INVALID_VALUE']],
    ['bad status code', rs('  HTTP_GET {\n   url {\n    path /\n    status_code 200-99\n   }\n  }'), ['7:17 INVALID_VALUE']],
    ['regex is not implemented', rs('  HTTP_GET {\n   url {\n    path /\n    regex ok\n   }\n  }'), ['7:5 NOT_SUPPORTED']],
    ['DNS type', rs('  DNS_CHECK {\n   type AAA\n  }'), ['5:9 INVALID_VALUE'], "did you mean 'AAAA'?"],
    ['weight out of range', rs('  weight 2147483648'), ['4:10 OUT_OF_RANGE']],
    ['retry 0 on a real server (keepalived: 1..; checkers allow 0)', rs('  retry 0'), ['4:9 OUT_OF_RANGE']],
    ['real server of the other family', 'virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 2001:db8::1 80 {\n }\n}\n', ['3:2 FAMILY_MISMATCH']],
    ['duplicate real server', 'virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 80 {\n }\n real_server 10.0.1.1 80 {\n }\n}\n', ['5:2 DUPLICATE_ADDRESS']],
    ['undefined group', 'virtual_server group nope {\n real_server 10.0.1.1 80 {\n }\n}\n', ['1:22 UNDEFINED_REFERENCE']],
    ['bad group range', 'virtual_server_group g {\n 10.0.0.9-3 80\n}\n', ['2:2 INVALID_ADDRESS']],
    ['sorry_server_inhibit without sorry_server', vs(' sorry_server_inhibit'), ['3:2 MISSING_KEY']],
    ['granularity not solid', vs(' persistence_granularity 255.0.255.0'), ['3:26 INVALID_VALUE']],
    ['no real server', 'virtual_server 10.0.0.1 80 {\n protocol TCP\n}\n', ['1:1 MISSING_KEY']],
    ['DR cannot change the port', 'virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_kind DR\n real_server 10.0.1.1 8080 {\n }\n}\n', ['4:2 INVALID_VALUE']],
  ])('%s', (_name, text, expected, message) => {
    const ds = problems(text);
    expect(at(ds)).toEqual(expected);
    for (const d of ds) {
      expect(d.file).toBe('k.conf');
      expect(d.expected.length).toBeGreaterThan(0);
    }
    if (message) expect(ds.some((d) => d.message.includes(message))).toBe(true);
  });

  it('the expected values name every scheduler', () => {
    const [d] = problems(vs(' lb_algo fastest'));
    expect(d!.expected).toBe('rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf');
  });
});

// ---------------------------------------------------------------------------------------------
// The real keepalived (`keepalived -t` in a private network namespace, as test/config/keepalived/
// real.test.ts does) reports each of these problems at the same line, and knows every keyword of
// a file that uses all the LVS features carpool reads.

function keepalivedAvailable(): boolean {
  try {
    execFileSync('keepalived', ['--version'], { stdio: 'ignore' });
    return process.getuid?.() === 0 && spawnSync('unshare', ['-n', 'true']).status === 0;
  } catch {
    return false;
  }
}

function keepalivedTest(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'carpool-ka-'));
  try {
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, text);
    const script = 'ip link add eth0 type veth peer name p0 && exec keepalived -t -f "$0" -l -D -n';
    const r = spawnSync('unshare', ['-n', 'sh', '-c', script, file], { encoding: 'utf8', timeout: 20_000 });
    return `${r.stdout}${r.stderr}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!keepalivedAvailable())('keepalived -t reports the same problems', () => {
  const rsBlock = ' real_server 10.0.1.1 80 {\n }\n';
  it.each<[string, string, RegExp]>([
    ['unknown scheduler', `virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rrr\n${rsBlock}}\n`, /Line 8\) Invalid lvs_scheduler 'rrr'/],
    ['unknown lb_kind', `virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_kind NATT\n${rsBlock}}\n`, /Line 8\) PARSER : unknown \[NATT\] routing method/],
    ['port out of range', `virtual_server 10.0.0.1 65536 {\n protocol TCP\n${rsBlock}}\n`, /Line 6\) number '65536' outside range/],
    ['a real server address that is not one', 'virtual_server 123.123.123.1 25 {\n protocol TCP\n real_server 192.168.178.0.101 25 {\n  weight 1\n }\n}\n',
      /Line 8\) Invalid real server ip address\/port 192\.168\.178\.0\.101\/25/],
    ['real server port out of range', 'virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 70000 {\n }\n}\n', /Line 8\) number '70000' outside range/],
    ['HTTP_GET without url', 'virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 80 {\n  HTTP_GET {\n  }\n }\n}\n',
      /HTTP\/SSL_GET checker has no urls specified/],
  ])('%s', (_name, text, keepalivedSays) => {
    const ours = problems(text);
    expect(ours.length).toBeGreaterThan(0);
    const output = keepalivedTest(VRRP + text);
    expect(output).toMatch(keepalivedSays);
    const line = /Line (\d+)\)/.exec(keepalivedSays.source.replace(/\\/g, ''))?.[1];
    if (line) expect(ours.map((d) => d.line)).toContain(Number(line));
  });

  it('every keyword of test/config/yaml/balancers.test.ts\'s EVERYTHING file is a keepalived keyword', () => {
    const src = readFileSync(fileURLToPath(new URL('../yaml/balancers.test.ts', import.meta.url)), 'utf8');
    const text = /const EVERYTHING = `([\s\S]*?)`;/.exec(src)![1]!;
    const output = keepalivedTest(text);
    // sni_name and tls_compliant are newer than Debian's keepalived 2.2.7 (keepalived.conf(5) of the current release has them).
    const unknown = [...output.matchAll(/Unknown keyword '([^']+)'/g)].map((m) => m[1]);
    expect(unknown.filter((k) => k !== 'sni_name' && k !== 'tls_compliant')).toEqual([]);
    expect(output).not.toMatch(/Invalid|invalid|not found|missing/);
  });
});

describe('SMTP_CHECK host { } blocks', () => {
  it('every host is kept; unset fields are the checker\'s, the address the real server\'s', () => {
    const { config } = parse(`virtual_server 10.0.0.1 25 {
 real_server 10.1.0.1 25 {
  SMTP_CHECK {
   connect_timeout 10
   connect_port 2525
   bindto 10.1.0.9
   helo_name foo.bar.com
   host {
    connect_ip 10.1.0.1
   }
   host {
    connect_ip 10.2.0.1
    connect_port 587
    connect_timeout 2
   }
   host {
   }
  }
 }
}
`);
    const ck = config.balancers!.virtualServers[0]!.realServers[0]!.checkers[0]!;
    expect(ck).toMatchObject({ type: 'SMTP_CHECK', heloName: 'foo.bar.com', connectPort: 2525, connectTimeoutMs: 10_000 });
    expect(ck.type === 'SMTP_CHECK' && ck.hosts).toEqual([
      { connectIp: '10.1.0.1', connectPort: 2525, bindto: '10.1.0.9', connectTimeoutMs: 10_000 },
      { connectIp: '10.2.0.1', connectPort: 587, bindto: '10.1.0.9', connectTimeoutMs: 2000 },
      { connectPort: 2525, bindto: '10.1.0.9', connectTimeoutMs: 10_000 },
    ]);
  });

  it('a bad host is reported where it is; host outside SMTP_CHECK is unknown', () => {
    expect(at(problems(`virtual_server 10.0.0.1 25 {
 real_server 10.1.0.1 25 {
  SMTP_CHECK {
   host {
    connect_ip 10.2.0.300
   }
   host {
    connect_ip 2001:db8::1
    bindto 10.1.0.9
   }
  }
  TCP_CHECK {
   host {
   }
  }
 }
}
`))).toEqual(['5:16 INVALID_ADDRESS', '9:12 FAMILY_MISMATCH', '13:4 UNKNOWN_KEYWORD']);
  });
});
