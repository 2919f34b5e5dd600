import { describe, expect, it } from 'vitest';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { configErrorsIfAny, INSTANCES } from '../../helpers/config.js';

const errors = (text: string) => configErrorsIfAny(() => parseCarpoolYaml(text, { file: 'c.yaml' }));

describe('resources: and groups: in carpool.yaml', () => {
  it('fence: an argv list (absolute program, no shell) with fence_timeout (default 60 s)', () => {
    const group = (extra: string) => `${INSTANCES}resources:\n  - { id: ip, agent: builtin:address, params: { address: 10.0.0.101/24 } }\n` +
      `groups:\n  - id: www\n    instance: web\n    resources: [ip]\n${extra}`;
    const g = (extra: string) => parseCarpoolYaml(group(extra), { file: 'c.yaml' }).config.resources!.groups[0];
    expect(g('    fence: [/usr/sbin/fence_virsh, -a, kvm, -n, h1, -o, off, --port, 22]\n')).toEqual({
      id: 'www', instance: 'web', members: ['ip'],
      fence: { argv: ['/usr/sbin/fence_virsh', '-a', 'kvm', '-n', 'h1', '-o', 'off', '--port', '22'], timeoutMs: 60_000 },
    });
    expect(g('    fence: [/bin/true]\n    fence_timeout: 15s\n')?.fence).toEqual({ argv: ['/bin/true'], timeoutMs: 15_000 });
    expect(g('')?.fence).toBeUndefined();
    const codes = (extra: string) => errors(group(extra)).map((d) => `${d.line}:${d.column} ${d.code}`);
    expect(codes('    fence: fence_virsh -n h1\n')).toEqual(['13:12 INVALID_TYPE']);
    expect(codes('    fence: [fence_virsh, -n, h1]\n')).toEqual(['13:13 INVALID_VALUE']);
    expect(codes('    fence: []\n')).toEqual(['13:12 NO_VALUE']);
    expect(codes('    fence: [/bin/true]\n    fence_timeout: 0\n')).toEqual(['14:20 INVALID_VALUE']);
    expect(codes('    fence_timeout: 5s\n')).toEqual(['13:5 INVALID_VALUE']);
  });

  it('reads resources, operations, group defaults and keeps the group order', () => {
    const { config } = parseCarpoolYaml(`${INSTANCES}
resources:
  - id: web-ip
    agent: ocf:heartbeat:IPaddr2
    params: { ip: 10.0.0.101, cidr_netmask: 24, lvs_support: false }
    op:
      monitor: { interval: 10s, timeout: 20s, on_fail: restart }
      start: { timeout: 30 }
  - id: site
    agent: builtin:http
    params: { url: "http://10.0.0.101/", status: 200-299 }
    op: { monitor: { interval: 2s, on_fail: move, check_level: 10 }, stop: { on_fail: ignore } }
    migration_threshold: INFINITY
  - id: mail
    agent: lsb:postfix
groups:
  - id: www
    instance: web
    resources: [web-ip, site, mail]
    migration_threshold: 3
    failure_timeout: 5m
`, { file: 'c.yaml' });
    const rs = config.resources!;
    expect(rs.groups).toEqual([{ id: 'www', instance: 'web', members: ['web-ip', 'site', 'mail'] }]);
    const [ip, site, mail] = rs.resources;
    expect(ip).toMatchObject({
      id: 'web-ip', agent: { class: 'ocf', provider: 'heartbeat', type: 'IPaddr2' },
      params: { ip: '10.0.0.101', cidr_netmask: '24', lvs_support: 'false' }, env: {},
      start: { timeoutMs: 30_000, onFail: 'restart' }, stop: { timeoutMs: 20_000, onFail: 'block' },
      monitor: { intervalMs: 10_000, timeoutMs: 20_000, onFail: 'restart' },
      migrationThreshold: 3, failureTimeoutMs: 300_000, origin: { file: 'c.yaml', line: 9, column: 5 },
    });
    expect(site).toMatchObject({ agent: { class: 'builtin', type: 'http' }, monitor: { intervalMs: 2000, onFail: 'standby', checkLevel: 10 },
      stop: { onFail: 'ignore' }, migrationThreshold: 0, failureTimeoutMs: 300_000 });
    expect(mail).toMatchObject({ agent: { class: 'lsb', type: 'postfix' } });
    expect(mail!.monitor).toBeUndefined();
  });

  it('reports every problem with its line', () => {
    const d = errors(`${INSTANCES}
resources:
  - id: a
    agent: IPaddr2
  - id: b
    agent: builtin:address
    params: { dev: eth0 }
    op: { stop: { on_fail: restart }, monitor: { timeout: 5s } }
  - id: c
    agent: lsb:postfix
    params: { x: 1 }
  - id: lonely
    agent: builtin:tcp
    params: { host: 127.0.0.1, port: 99999 }
  - id: a
    agent: ocf:heartbeat:Dummy
groups:
  - id: g
    instance: nosuch
    resources: [b, c, zzz, b]
`);
    expect(d.map((x) => [x.line, x.code])).toEqual([
      [10, 'INVALID_AGENT'], [13, 'MISSING_KEY'], [14, 'INVALID_VALUE'], [14, 'MISSING_KEY'], [17, 'INVALID_VALUE'],
      [20, 'INVALID_VALUE'], [21, 'DUPLICATE_NAME'], [21, 'UNGROUPED_RESOURCE'], [25, 'UNKNOWN_INSTANCE'],
      [26, 'UNKNOWN_RESOURCE'], [26, 'RESOURCE_IN_TWO_GROUPS'],
    ]);
    expect(d[0]!.message).toBe("agent in resource 'a': 'IPaddr2' names no class — did you mean 'ocf:heartbeat:IPaddr2' or 'lsb:IPaddr2'?");
    expect(d.find((x) => x.code === 'UNKNOWN_INSTANCE')!.expected).toBe('one of web');
  });
});
