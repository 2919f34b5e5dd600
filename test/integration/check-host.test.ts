/**
 * `carpool check --host` on a real host (issue 14): run inside a lab namespace, it sees that
 * namespace's interfaces (eth0 exists, eth3 does not), this host's resource-agents (a mistyped
 * nginx gets "did you mean"), real file modes, and that nft runs.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inNs, run } from '../../src/lib/exec.js';
import { CARPOOL, isRoot } from './resources/cluster.js';
import { useLab } from './helpers/lab.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-checkhost-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!isRoot)('carpool check --host in a namespace', () => {
  const lan = useLab('chk', { hosts: 1, subnet: '10.236.0', client: false });

  const config = (iface: string, agent: string) => {
    const file = join(dir, `${iface}-${agent.replace(/\W/g, '')}.yaml`);
    writeFileSync(file, `control_socket: ${dir}/run/carpool.sock
state_dir: ${dir}/state
instances:
  - { name: web, interface: ${iface}, vhid: 1, password: s3cret, addresses: [10.236.0.100/24], hooks: { up: ${dir}/up.sh } }
resources:
  - { id: web, agent: "${agent}", params: { configfile: /etc/nginx/nginx.conf } }
groups:
  - { id: www, instance: web, resources: [web] }
balancers:
  virtual_servers:
    - { address: 10.236.0.100, port: 80, protocol: TCP, lvs_sched: rr, real_servers: [{ address: 10.236.0.11, port: 80 }] }
`, { mode: 0o600 });
    return file;
  };
  const check = (file: string) => run(inNs(lan.host(1).ns, [process.execPath, CARPOOL, 'check', '--host', '-c', file]), { allowFail: true });

  it('OK for what this namespace has; errors, with the fix, for what it lacks', async () => {
    mkdirSync(join(dir, 'run'), { mode: 0o700 });
    writeFileSync(join(dir, 'up.sh'), '#!/bin/sh\n', { mode: 0o755 });
    // NAT needs forwarding (the balancer's own check says so); this namespace's, not the host's.
    await run(inNs(lan.host(1).ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    const ok = await check(config('eth0', 'ocf:heartbeat:nginx'));
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/: OK on this host \(1 instance: web; 1 resource in 1 group: www; 1 virtual server/);

    chmodSync(join(dir, 'up.sh'), 0o644);
    const bad = await check(config('eth3', 'ocf:heartbeat:ngnix'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: resource 'web': agent ocf:heartbeat:ngnix is not installed on this host (no /usr/lib/ocf/resource.d/heartbeat/ngnix) — did you mean ocf:heartbeat:nginx?");
    expect(bad.stderr).not.toContain('install the resource-agents package');
    expect(bad.stderr).toContain("this host: error: instance 'web': interface 'eth3' does not exist on this host — did you mean 'eth0'? (expected: one of ");
    expect(bad.stderr).toContain(`this host: error: instance 'web': up hook ${dir}/up.sh is not executable (mode 0644)`);
    expect(bad.stderr).toContain('valid, but 3 problems on this host');
    // Without --host the file is only checked for itself: the same agent is a warning.
    const plain = await run(inNs(lan.host(1).ns, [process.execPath, CARPOOL, 'check', '-c', config('eth3', 'ocf:heartbeat:ngnix')]), { allowFail: true });
    expect(plain.code).toBe(0);
  });

  it('sharing: its interfaces, this host among its nodes, the shared MAC, nft -c of its ruleset', async () => {
    const ns = lan.host(1).ns;
    const sharing = (name: string, entry: string) => {
      const file = join(dir, `sharing-${name}.yaml`);
      writeFileSync(file, `control_socket: ${dir}/run/carpool.sock\nstate_dir: ${dir}/state\ninstances: []\nsharing:\n  - ${entry}\n`, { mode: 0o600 });
      return file;
    };
    const nodes = (a: string, b: string) => `nodes: [{ name: n1, address: ${a} }, { name: n2, address: ${b} }]`;
    const ok = await check(sharing('ok', `{ name: web, address: 10.236.0.50/24, interface: eth0, vhid_base: 100, password: p, ${nodes('10.236.0.1', '10.236.0.2')} }`));
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/: OK on this host \(no instances; 1 shared address: web: 10\.236\.0\.50\/24 on eth0/);

    // Not a node, and a gateway whose outside interface this namespace lacks.
    const bad = await check(sharing('bad', `{ name: fw, inside: { address: 10.236.0.254/24, interface: eth0 }, outside: { address: 10.236.1.254/24, interface: eth5 }, vhid_base: 100, password: p, ${nodes('10.236.0.7', '10.236.0.8')}, hash: symmetric-ports }`));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("this host: error: sharing 'fw': outside interface 'eth5' does not exist on this host");
    expect(bad.stderr).toContain("this host: error: sharing 'fw': this host is none of its nodes (none of 10.236.0.7, 10.236.0.8 is configured on eth0) (expected: add this host to the node list");
    expect(bad.stderr).toContain('valid, but 2 problems on this host');

    // A device that cannot join the multicast MAC.
    await run(inNs(ns, ['ip', 'link', 'set', 'eth0', 'multicast', 'off']));
    try {
      const noMcast = await check(sharing('ok', `{ name: web, address: 10.236.0.50/24, interface: eth0, vhid_base: 100, password: p, ${nodes('10.236.0.1', '10.236.0.2')} }`));
      expect(noMcast.code).toBe(1);
      expect(noMcast.stderr).toContain("this host: error: sharing 'web': eth0 has no MULTICAST flag: it cannot receive the shared multicast MAC 01:00:5e:6c:00:32 (expected: ip link set eth0 multicast on, or mode: unicast)");
    } finally {
      await run(inNs(ns, ['ip', 'link', 'set', 'eth0', 'multicast', 'on']));
    }
    // Changed nothing: no table, no address.
    expect((await run(inNs(ns, ['nft', 'list', 'tables']))).stdout).not.toMatch(/carpool/);
    expect((await run(inNs(ns, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']))).stdout).not.toContain('10.236.0.50/');
  });
});
