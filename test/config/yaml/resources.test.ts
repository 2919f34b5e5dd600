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

  it('after: and with: between groups: with gives the instance; unknown ids, cycles, other instances are errors at the reference', () => {
    const TWO = `instances:\n  - { name: web, interface: eth0, vhid: 1, password: secret, addresses: [10.0.0.1/24] }\n` +
      `  - { name: db, interface: eth0, vhid: 2, password: secret, addresses: [10.0.0.2/24] }\n`;
    const doc = (groups: string) => `${TWO}resources:\n${['a', 'b', 'c'].map((x) => `  - { id: ${x}, agent: ocf:heartbeat:Dummy }\n`).join('')}groups:\n${groups}`;
    const { config } = parseCarpoolYaml(doc(
      '  - { id: ga, instance: web, resources: [a] }\n  - { id: gb, with: ga, after: ga, resources: [b] }\n  - { id: gc, with: gb, after: [ga, gb], resources: [c] }\n'), { file: 'c.yaml' });
    expect(config.resources!.groups).toEqual([
      { id: 'ga', instance: 'web', members: ['a'] },
      { id: 'gb', instance: 'web', members: ['b'], after: ['ga'], with: 'ga' },
      { id: 'gc', instance: 'web', members: ['c'], after: ['ga', 'gb'], with: 'gb' },
    ]);
    const bad = (groups: string) => errors(doc(groups)).map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);
    expect(bad('  - { id: ga, instance: web, resources: [a] }\n  - { id: gb, with: gx, after: [gy], resources: [b] }\n  - { id: gc, instance: web, resources: [c] }\n')).toEqual([
      "10:21 UNKNOWN_GROUP with in group 'gb': no group has id 'gx'",
      "10:33 UNKNOWN_GROUP after in group 'gb': no group has id 'gy'",
    ]);
    expect(bad('  - { id: ga, instance: web, resources: [a], after: gc }\n  - { id: gb, instance: web, after: ga, resources: [b] }\n  - { id: gc, instance: web, after: gb, resources: [c] }\n')).toEqual([
      "10:37 GROUP_CYCLE after in group 'gb': the start order is a cycle (ga after gc after gb after ga)",
    ]);
    expect(bad('  - { id: ga, with: gb, resources: [a] }\n  - { id: gb, with: ga, resources: [b] }\n  - { id: gc, instance: web, after: gc, resources: [c] }\n')).toEqual([
      "10:21 GROUP_CYCLE with in group 'gb': 'ga' runs with 'gb' in turn (ga with gb with ga)",
      "11:37 INVALID_VALUE after in group 'gc': a group cannot start after itself",
    ]);
    expect(bad('  - { id: ga, instance: web, resources: [a] }\n  - { id: gb, instance: db, with: ga, resources: [b] }\n  - { id: gc, instance: db, after: ga, resources: [c] }\n')).toEqual([
      "10:25 INVALID_VALUE group 'gb': instance 'db' but with 'ga', which follows instance 'web'",
      "11:36 INVALID_VALUE after in group 'gc': 'ga' follows instance 'web', this group 'db'; an order is kept on the node that runs both groups",
    ]);
  });
});
