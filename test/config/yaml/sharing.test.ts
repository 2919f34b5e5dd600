/**
 * The `sharing:` section (load sharing, issue 15): what `carpool check` refuses on one host, each
 * with the reason. (A node list that differs between hosts: `carpool check n1.yaml n2.yaml`,
 * test/sharing/compare.test.ts, and at run time test/sharing/shell.test.ts,
 * test/integration/sharing/mismatch.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { configErrors, INSTANCES } from '../../helpers/config.js';
import { runCarpool } from '../../helpers/cli.js';

const parse = (text: string) => parseCarpoolYaml(text, { file: '/etc/carpool/carpool.yaml' });
const NODES = 'nodes: [{ name: n1, address: 10.0.0.1 }, { name: n2, address: 10.0.0.2 }, { name: n3, address: 10.0.0.3 }]';
const shared = (extra: string, name = 'web', vhidBase = 100, nodes = NODES) =>
  `  - { name: ${name}, address: 10.0.0.50/24, interface: eth0, vhid_base: ${vhidBase}, password: p, ${nodes}${extra ? `, ${extra}` : ''} }\n`;
const errors = (text: string) => configErrors(() => parse(text)).map((d) => `${d.code} ${d.message} — ${d.expected}`);

describe('sharing: in carpool.yaml', () => {
  it('reads a valid section: defaults 64 buckets, sourceip, advbase 1; the multicast MAC of the address', () => {
    const { config } = parse(`instances: []\nsharing:\n${shared('')}`);
    expect(config.sharing).toEqual([{
      name: 'web', address: '10.0.0.50', family: 4, prefix: 24, interface: 'eth0', buckets: 64, hash: 'sourceip', mode: 'multicast', mac: '01:00:5e:00:00:32',
      vhidBase: 100, password: 'p', advbase: 1, nodes: [{ name: 'n1', address: '10.0.0.1' }, { name: 'n2', address: '10.0.0.2' }, { name: 'n3', address: '10.0.0.3' }],
    }]);
  });

  it('refuses bucket vhids overlapping an instance on the same interface', () => {
    expect(errors(`${INSTANCES}sharing:\n${shared('buckets: 8', 'web2', 1)}`)).toEqual([
      "SHARING_LAYOUT sharing 'web2': its bucket vhids 1..8 on eth0 overlap instance 'web' (1..1) — a vhid range of its own on each interface",
    ]);
  });

  it('refuses two shared addresses whose bucket layouts overlap', () => {
    expect(errors(`instances: []\nsharing:\n${shared('buckets: 16', 'a', 100)}${shared('buckets: 16', 'b', 110)}`)).toEqual([
      "SHARING_LAYOUT sharing 'b': its bucket vhids 110..125 on eth0 overlap sharing 'a' (100..115) — a vhid range of its own on each interface",
    ]);
    // Adjacent ranges are fine.
    expect(parse(`instances: []\nsharing:\n${shared('buckets: 16', 'a', 100)}${shared('buckets: 16', 'b', 116)}`).config.sharing).toHaveLength(2);
  });

  it('refuses fewer buckets than nodes, saying why', () => {
    expect(errors(`instances: []\nsharing:\n${shared('buckets: 2')}`)).toEqual([
      "SHARING_LAYOUT sharing 'web': 2 buckets for 3 nodes: every node needs at least one (use many more, e.g. 64, so a dead node's buckets spread over all survivors) — one entry per node, the same list on every node; more buckets than nodes",
    ]);
  });

  it('refuses a node listed twice, two nodes with one address, and vhids past 255', () => {
    const twice = 'nodes: [{ name: n1, address: 10.0.0.1 }, { name: n1, address: 10.0.0.2 }]';
    expect(errors(`instances: []\nsharing:\n${shared('', 'web', 100, twice)}`)).toEqual([expect.stringContaining('node n1 is listed twice')]);
    const sameAddr = 'nodes: [{ name: n1, address: 10.0.0.1 }, { name: n2, address: 10.0.0.1 }]';
    expect(errors(`instances: []\nsharing:\n${shared('', 'web', 100, sameAddr)}`)).toEqual([expect.stringContaining('two nodes have the same address')]);
    expect(errors(`instances: []\nsharing:\n${shared('', 'web', 200)}`)).toEqual([expect.stringContaining('vhids 200..263 do not fit (at most 255) — vhid_base ≤ 192, or fewer buckets')]);
  });

  it('switch modes: unicast and stealth answer ARP with a unicast MAC of the address; anything else is refused', () => {
    expect(parse(`instances: []\nsharing:\n${shared('mode: unicast')}`).config.sharing?.[0]).toMatchObject({ mode: 'unicast', mac: '02:63:0a:00:00:32' });
    expect(parse(`instances: []\nsharing:\n${shared('mode: stealth')}`).config.sharing?.[0]).toMatchObject({ mode: 'stealth', mac: '02:63:0a:00:00:32' });
    expect(errors(`instances: []\nsharing:\n${shared('mode: arp')}`)).toEqual([
      "INVALID_VALUE sharing 'web': mode 'arp' — one of multicast, unicast, stealth (how the switch floods the shared MAC; see docs/sharing.md)",
    ]);
  });

  it('an IPv6 shared address: family 6, the 33:33 multicast MAC of its low 32 bits (unicast: 02:63 and them)', () => {
    const v6 = (extra: string) => parse(`instances: []\nsharing:\n  - { name: web, address: 'fd00::a:50/64', interface: eth0, vhid_base: 100, password: p, ${NODES}${extra} }\n`).config.sharing?.[0];
    expect(v6('')).toMatchObject({ address: 'fd00::a:50', family: 6, prefix: 64, mac: '33:33:00:0a:00:50' });
    expect(v6(', mode: stealth')).toMatchObject({ family: 6, mac: '02:63:00:0a:00:50' });
  });

  it('refuses a malformed address, saying what is expected', () => {
    expect(errors(`instances: []\nsharing:\n  - { name: web, address: 'fd00::5x/64', interface: eth0, vhid_base: 100, password: p, ${NODES} }\n`))
      .toEqual([expect.stringContaining("address 'fd00::5x/64' is not an IP address")]);
  });
});

describe('sharing: a gateway (inside:/outside:, load-shared routing)', () => {
  const gw = (extra: string, sides = 'inside: { address: 10.0.0.254/24, interface: eth0 }, outside: { address: 10.0.1.254/24, interface: eth1 }') =>
    `instances: []\nsharing:\n  - { name: fw, ${sides}, vhid_base: 100, password: p, ${NODES}${extra ? `, ${extra}` : ''} }\n`;

  it('reads both sides, each with the shared MAC of its address; the hash defaults to symmetric', () => {
    expect(parse(gw('')).config.sharing).toEqual([{
      name: 'fw', address: '10.0.0.254', family: 4, prefix: 24, interface: 'eth0', buckets: 64, hash: 'symmetric', mode: 'multicast', mac: '01:00:5e:00:00:fe',
      outside: { address: '10.0.1.254', prefix: 24, interface: 'eth1', mac: '01:00:5e:00:01:fe' },
      vhidBase: 100, password: 'p', advbase: 1, nodes: [{ name: 'n1', address: '10.0.0.1' }, { name: 'n2', address: '10.0.0.2' }, { name: 'n3', address: '10.0.0.3' }],
    }]);
    expect(parse(gw('hash: symmetric-ports, mode: unicast')).config.sharing?.[0]).toMatchObject({ hash: 'symmetric-ports', mac: '02:63:0a:00:00:fe', outside: { mac: '02:63:0a:00:01:fe' } });
  });

  it('refuses a one-directional hash on a gateway and a symmetric one on an address, saying why', () => {
    expect(errors(gw('hash: sourceip'))).toEqual([
      "INVALID_VALUE sharing 'fw': hash 'sourceip' on a gateway: a reply comes from the outside host, so the source it hashes is another address — the two directions of a flow would fall into different buckets, on different nodes — one of symmetric, symmetric-ports",
    ]);
    expect(errors(`instances: []\nsharing:\n${shared('hash: symmetric')}`)).toEqual([
      "INVALID_VALUE sharing 'web': hash 'symmetric' is for a gateway (inside: and outside:), whose traffic is routed through the nodes; traffic to an address served by the nodes is hashed on its original direction — one of sourceip, sourceip-sourceport, sourceip-sourceport-destport",
    ]);
    expect(errors(gw('hash: symhash'))).toEqual([expect.stringContaining("hash 'symhash' — one of symmetric, symmetric-ports")]);
  });

  it('refuses half a gateway, address/interface next to the sides, one interface for both, IPv6 sides, a side without its interface', () => {
    expect(errors(gw('', 'inside: { address: 10.0.0.254/24, interface: eth0 }'))).toEqual([expect.stringContaining("'inside' without 'outside' — a gateway has both sides")]);
    expect(errors(gw('address: 10.0.0.50/24'))).toEqual([expect.stringContaining("'address' with inside/outside — either address + interface")]);
    expect(errors(gw('', 'inside: { address: 10.0.0.254/24, interface: eth0 }, outside: { address: 10.0.1.254/24, interface: eth0 }')))
      .toEqual([expect.stringContaining('inside and outside are both on eth0 — two interfaces, one per LAN')]);
    expect(errors(gw('', "inside: { address: 'fd00::1/64', interface: eth0 }, outside: { address: 10.0.1.254/24, interface: eth1 }")))
      .toEqual([expect.stringContaining("inside address 'fd00::1/64': a gateway's sides are IPv4 for now")]);
    expect(errors(gw('', 'inside: { address: 10.0.0.254/24, interface: eth0 }, outside: { address: 10.0.1.254/24 }')))
      .toEqual([expect.stringContaining("sharing 'fw': outside needs address and interface")]);
    expect(errors(gw('', 'inside: { address: 10.0.0.254/24, interface: eth0 }, outside: { address: 10.0.1.254/24, interface: eth1, mac: x }')))
      .toEqual([expect.stringContaining("unknown key 'mac' in sharing 'fw' outside")]);
  });
});

describe('carpool check on a sharing: section', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carpool-sharing-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exit 1 with the file, line and reason of an overlap and of too few buckets', async () => {
    const conf = join(dir, 'carpool.yaml');
    writeFileSync(conf, `instances: []\nsharing:\n${shared('buckets: 16', 'a', 100)}${shared('buckets: 16', 'b', 110)}${shared('buckets: 2', 'c', 200)}`);
    const r = await runCarpool(['check', '-c', conf], dir, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('2 buckets for 3 nodes: every node needs at least one');
    expect(r.stderr).toContain(`${conf}:5:`);
    expect(r.stderr).toContain("sharing 'b': its bucket vhids 110..125 on eth0 overlap sharing 'a' (100..115)");
  });

  it('a file with only sharing: says what it checked, not "0 instances"', async () => {
    const conf = join(dir, 'only.yaml');
    writeFileSync(conf, `instances: []\nsharing:\n${shared('buckets: 16', 'web', 100)}  - { name: fw, inside: { address: 10.0.0.254/24, interface: eth0 }, outside: { address: 10.0.1.254/24, interface: eth1 }, vhid_base: 120, password: p, ${NODES}, hash: symmetric-ports }\n`);
    const r = await runCarpool(['check', '-c', conf], dir, 30_000);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${conf}: OK (no instances; 2 shared addresses: web: 10.0.0.50/24 on eth0, 16 buckets over 3 nodes, hash sourceip, multicast; `
      + 'fw: gateway 10.0.0.254/24 on eth0 / 10.0.1.254/24 on eth1, 64 buckets over 3 nodes, hash symmetric-ports, multicast)');
  });

  it('a gateway with a one-directional hash: exit 1 with file:line and the reason', async () => {
    const conf = join(dir, 'gw.yaml');
    writeFileSync(conf, ['instances: []', 'sharing:', '  - name: fw', '    inside: { address: 10.0.0.254/24, interface: eth0 }',
      '    outside: { address: 10.0.1.254/24, interface: eth1 }', '    hash: sourceip-sourceport', '    vhid_base: 100', '    password: p', `    ${NODES}`, ''].join('\n'));
    const r = await runCarpool(['check', '-c', conf], dir, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${conf}:6:`);
    expect(r.stderr).toContain("hash 'sourceip-sourceport' on a gateway: a reply comes from the outside host");
  });
});
