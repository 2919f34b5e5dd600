/**
 * `carpool check --host` (issue 14): what only the target host can tell — interfaces, agents
 * with a did-you-mean over the installed ones, scripts and their permissions, the daemon's
 * directories, nft for balancers. The decisions over a fake probe; the agents over this host's
 * real resource-agents.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkHost, type FileFacts, type HostProbe } from '../../src/cli/host-check.js';
import { parseCarpoolYaml } from '../../src/config/yaml/parse.js';
import { checkResourceAgents } from '../../src/resources/shell/agent-check.js';
import { defaultAgentHost } from '../../src/resources/shell/agents.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-hostcheck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function probe(files: Record<string, FileFacts>, nft: ReturnType<HostProbe['nft']> = { ok: true, version: 'nftables v1.0.6' }): HostProbe {
  return { interfaces: () => ['lo', 'eth0', 'eth1'], stat: (p) => files[p], path: ['/usr/bin', '/bin'], uid: 0, nft: () => nft };
}
const exe = (m = 0o755, uid = 0): FileFacts => ({ kind: 'file', mode: m, uid });
const dirOf = (m = 0o700, uid = 0): FileFacts => ({ kind: 'dir', mode: m, uid });

const YAML = `control_socket: /run/cp/carpool.sock
state_dir: /var/lib/cp
vrrp_scripts:
  - { name: chk, script: "pidof haproxy", interval: 2 }
instances:
  - name: web
    interface: eth0:carp0
    vhid: 1
    password: secret
    addresses: [10.0.0.100/24, { address: 10.0.1.100/24, dev: eht1 }]
    hooks: { up: /etc/cp/up.sh, down: /etc/cp/down.sh }
  - name: db
    protocol: vrrp
    interface: eth9
    virtual_router_id: 2
    addresses: [10.0.0.200/24]
    track_interfaces: [eth1]
    track_scripts: [chk]
    notify: { master: [/etc/cp/master.sh, x], generic: { shell: "logger x" } }
`;

describe('carpool check --host', () => {
  it('names missing interfaces (with did-you-mean), scripts that are missing, not executable or writable by others, unsafe directories', () => {
    const { config } = parseCarpoolYaml(YAML);
    const found = checkHost(config, probe({
      '/etc/cp/up.sh': exe(), '/etc/cp/down.sh': exe(0o644), '/etc/cp/master.sh': exe(0o777, 1000), '/usr/bin/pidof': exe(),
      '/run/cp': dirOf(0o775), '/var/lib': dirOf(0o755), '/var': dirOf(0o755), '/': dirOf(0o755),
    })).map((f) => `${f.level} ${f.what}: ${f.message}`);
    expect(found).toEqual([
      "error instance 'web': the device of address 10.0.1.100 'eht1' does not exist on this host — did you mean 'eth1'?",
      "error instance 'web': down hook /etc/cp/down.sh is not executable (mode 0644)",
      "error instance 'db': interface 'eth9' does not exist on this host — did you mean 'eth0'?",
      "warning instance 'db': notify master script /etc/cp/master.sh is writable by group or others (mode 0777); it runs as root",
      "warning instance 'db': notify master script /etc/cp/master.sh is owned by uid 1000; it runs as root",
      'error control_socket: /run/cp is writable by group or others (mode 0775)',
    ]);
  });

  it('a valid host says nothing; a script name is looked up in PATH; nft must run when there are balancers', () => {
    const { config } = parseCarpoolYaml(YAML.replace('eth9', 'eth1').replace('dev: eht1', 'dev: eth1'));
    const ok = probe({
      '/etc/cp/up.sh': exe(), '/etc/cp/down.sh': exe(), '/etc/cp/master.sh': exe(), '/bin/pidof': exe(), '/run/cp': dirOf(), '/var/lib/cp': dirOf(),
    });
    expect(checkHost(config, ok)).toEqual([]);
    const noPidof = probe({ '/etc/cp/up.sh': exe(), '/etc/cp/down.sh': exe(), '/etc/cp/master.sh': exe(), '/run/cp': dirOf(), '/var/lib/cp': dirOf() });
    expect(checkHost(config, noPidof).map((f) => f.message)).toEqual(["script 'pidof' is not found in PATH (/usr/bin:/bin)"]);
    const lb = parseCarpoolYaml(`${YAML.replace('eth9', 'eth1').replace('dev: eht1', 'dev: eth1')}balancers:
  virtual_servers:
    - { address: 10.0.0.100, port: 80, protocol: TCP, real_servers: [{ address: 10.0.0.11, port: 80 }] }
`).config;
    // keepalived's default lb_algo wlc reads connection counts with conntrack: it is there.
    const noNft = checkHost(lb, probe({ '/etc/cp/up.sh': exe(), '/etc/cp/down.sh': exe(), '/etc/cp/master.sh': exe(), '/bin/pidof': exe(), '/usr/bin/conntrack': exe(), '/run/cp': dirOf(), '/var/lib/cp': dirOf() },
      { ok: false, reason: 'nft is not installed' }));
    expect(noNft).toEqual([{ level: 'error', what: 'balancers', message: 'the load balancer needs nftables: nft is not installed', hint: expect.stringContaining('apt-get install nftables') }]);
  });

  it('a mistyped agent gets "did you mean" over the installed agents, not "install resource-agents"', () => {
    const { config } = parseCarpoolYaml(`instances: [{ name: web, interface: eth0, vhid: 1, password: s, addresses: [10.0.0.1/24] }]
resources:
  - { id: a, agent: "ocf:heartbeat:ngnix" }
  - { id: b, agent: "ocf:heartbeat:IPAddr2", params: { ip: 10.0.0.2 } }
  - { id: c, agent: "ocf:haertbeat:Dummy" }
  - { id: d, agent: "ocf:heartbeat:Zqxv" }
  - { id: e, agent: "ocf:acme:thing" }
groups: [{ id: g, instance: web, resources: [a, b, c, d, e] }]
`, { file: 'c.yaml' });
    const host = checkResourceAgents(config, undefined, { host: true }).map((d) => `${d.severity} ${d.message} | ${d.expected}`);
    expect(host[0]).toBe("error resource 'a': agent ocf:heartbeat:ngnix is not installed on this host (no /usr/lib/ocf/resource.d/heartbeat/ngnix) — did you mean ocf:heartbeat:nginx? | agent: ocf:heartbeat:nginx");
    expect(host[1]).toMatch(/^error resource 'b': .* did you mean ocf:heartbeat:IPaddr2\? \| agent: ocf:heartbeat:IPaddr2$/);
    expect(host[2]).toMatch(/did you mean ocf:heartbeat:Dummy\?/);
    expect(host[3]).toMatch(/^error resource 'd': .*; heartbeat has \d+ agents here, none of that name \| one of the agents in/);
    expect(host[4]).toMatch(/'acme' is a custom provider: install its agent in that directory/);
    expect(host.join('\n')).not.toContain('install the resource-agents package');
    // Without --host: the same findings as warnings (the file may be for another host).
    expect(checkResourceAgents(config).every((d) => d.severity === 'warning')).toBe(true);
    // Where resource-agents is not installed, that is what is said.
    const empty = join(dir, 'ra');
    mkdirSync(empty);
    const bare = checkResourceAgents(config, { ...defaultAgentHost(), raPath: [empty] }, { host: true });
    expect(bare[0]!.expected).toBe('install the resource-agents package');
  });

  it('sharing: unicast mode needs `bridge`; nft -c refusing the ruleset is an error with what the kernel needs', () => {
    const { config } = parseCarpoolYaml(`control_socket: /run/cp/carpool.sock
state_dir: /var/lib/cp
instances: []
sharing:
  - { name: web, address: 10.0.0.50/24, interface: eth0, vhid_base: 100, password: p, mode: stealth, nodes: [{ name: n1, address: 10.0.0.1 }, { name: n2, address: 10.0.0.2 }] }
`, { file: 'c.yaml' });
    const rulesets: string[] = [];
    const p: HostProbe = {
      ...probe({ '/run/cp': dirOf(), '/var/lib/cp': dirOf() }),
      addresses: () => ['10.0.0.1'], flags: () => 0x1003, mac: () => '02:00:00:00:00:01',
      nftCheck: (r) => { rulesets.push(r); return { ok: false, reason: 'Error: unknown chain hook egress' }; },
    };
    expect(checkHost(config, p).map((f) => `${f.what}: ${f.message} | ${f.hint}`)).toEqual([
      "sharing 'web': stealth mode receives the shared MAC 02:63:0a:00:00:32 with `bridge`, which is not in PATH (/usr/bin:/bin) | apt-get install iproute2",
      'sharing: this kernel or nft refuses the load sharing ruleset: Error: unknown chain hook egress | nftables with the ip and arp families, and the netdev egress hook for stealth mode (kernel 5.16, nft 1.0.1 or newer); see docs/sharing.md',
    ]);
    // The daemon's own first ruleset (no local bucket), not a copy.
    expect(rulesets).toHaveLength(1);
    expect(rulesets[0]).toContain('table ip carpool_sharing');
    // Once `bridge` is there and the node is this host, only what the kernel says is left; not root: no nft -c.
    const fine = checkHost(config, { ...p, stat: (f) => (f === '/usr/bin/bridge' ? exe() : dirOf()), nftCheck: () => undefined });
    expect(fine).toEqual([]);
  });

  it('an interface without an address to send adverts from (NO_SOURCE), count-based schedulers without conntrack', () => {
    const { config } = parseCarpoolYaml(`control_socket: /run/cp/carpool.sock
state_dir: /var/lib/cp
instances:
  - { name: web, interface: eth0, vhid: 1, password: p, addresses: [10.0.0.100/24] }
  - { name: six, protocol: vrrp, interface: eth1, virtual_router_id: 2, addresses: ["fd00::100/64"] }
  - { name: src, interface: eth1, vhid: 3, password: p, source: 10.0.1.1, addresses: [10.0.1.100/24] }
balancers:
  virtual_servers:
    - { address: 10.0.0.100, port: 80, protocol: TCP, lvs_sched: wlc, real_servers: [{ address: 10.0.0.11, port: 80 }] }
`, { file: 'c.yaml' });
    const p: HostProbe = {
      ...probe({ '/run/cp': dirOf(), '/var/lib/cp': dirOf(), '/usr/bin/ip': exe() }),
      // eth0 holds only the VIP; eth1 has no link-local address.
      addresses: (d) => (d === 'eth0' ? ['10.0.0.100'] : ['fd00::1']),
    };
    expect(checkHost(config, p).map((f) => `${f.what}: ${f.message} | ${f.hint}`)).toEqual([
      "instance 'web': eth0 has no IPv4 address to send adverts from | configure an address on eth0 or set the source address for the instance",
      "instance 'six': eth1 has no IPv6 link-local address to send adverts from | configure an address on eth1 or set the source address for the instance",
      'balancers: 10.0.0.100 80 (wlc) need connection counts, read with `conntrack`, which is not in PATH (/usr/bin:/bin) | install the conntrack package (apt install conntrack), or choose a scheduler that needs no counts (rr, wrr, sh, mh)',
    ]);
    const fine = checkHost(config, { ...p, addresses: (d) => (d === 'eth0' ? ['10.0.0.1', '10.0.0.100'] : ['fe80::1']), stat: (f) => (f === '/usr/sbin/conntrack' ? exe() : dirOf()), path: ['/usr/sbin'] });
    expect(fine).toEqual([]);
  });
});
