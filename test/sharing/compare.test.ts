/**
 * `carpool check n1.yaml n2.yaml ...` (issue 15): the sharing sections of several nodes' files
 * compared, each difference with file:line on both sides. The pure comparison, the line finder,
 * and the real CLI in a child process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharingLines } from '../../src/config/yaml/sharing.js';
import { compareSharing, type SharingFile } from '../../src/sharing/core/compare.js';
import { multicastMac, type SharedAddress } from '../../src/sharing/core/model.js';
import { runCarpool } from '../helpers/cli.js';

const web: SharedAddress = {
  name: 'web', address: '10.9.0.50', family: 4, prefix: 24, interface: 'eth0', buckets: 64, hash: 'sourceip', mode: 'multicast',
  mac: multicastMac('10.9.0.50'), vhidBase: 100, password: 'share', advbase: 1,
  nodes: [{ name: 'n1', address: '10.9.0.1' }, { name: 'n2', address: '10.9.0.2' }, { name: 'n3', address: '10.9.0.3' }],
};
const lines = { name: 3, address: 4, interface: 5, vhid_base: 6, buckets: 7, password: 8, nodes: 9, 'nodes.0': 10, 'nodes.1': 11, 'nodes.2': 12 };
const file = (name: string, sharing: SharedAddress[]): SharingFile => ({ file: name, sharing, lines: new Map(sharing.map((s) => [s.name, lines])) });

describe('compareSharing', () => {
  it('the same sections (interfaces may differ): no difference', () => {
    expect(compareSharing([file('a.yaml', [web]), file('b.yaml', [{ ...web, interface: 'ens3' }]), file('c.yaml', [web])])).toEqual([]);
  });

  it('a gateway whose outside address differs, or that is a gateway on one node only', () => {
    const gw: SharedAddress = { ...web, hash: 'symmetric', outside: { address: '10.9.1.50', prefix: 24, interface: 'eth1', mac: multicastMac('10.9.1.50') } };
    const gl = new Map([['web', { ...lines, outside: 5 }]]);
    const d = compareSharing([{ file: 'a.yaml', sharing: [gw], lines: gl }, { file: 'b.yaml', sharing: [{ ...gw, outside: { ...gw.outside!, address: '10.9.1.51', interface: 'eth2' } }], lines: gl }]);
    expect(d.map((x) => `${x.file}:${x.line} ${x.message}`)).toEqual(["b.yaml:5 sharing 'web': outside 10.9.1.51/24 here, 10.9.1.50/24 in a.yaml:5"]);
    // The outside interface may differ (each node names its own NIC).
    expect(compareSharing([file('a.yaml', [gw]), file('b.yaml', [{ ...gw, outside: { ...gw.outside!, interface: 'ens4' } }])])).toEqual([]);
    expect(compareSharing([file('a.yaml', [gw]), file('b.yaml', [web])]).map((x) => x.message)).toEqual([
      "sharing 'web': outside none here, 10.9.1.50/24 in a.yaml:3", "sharing 'web': hash sourceip here, symmetric in a.yaml:3",
    ]);
  });

  it('a node list that differs: one report, at the first differing node, both lines', () => {
    const d = compareSharing([file('a.yaml', [web]), file('b.yaml', [{ ...web, nodes: [web.nodes[0]!, { name: 'n3', address: '10.9.0.3' }] }])]);
    expect(d).toEqual([{
      file: 'b.yaml', line: 11,
      message: "sharing 'web': node 2 of the list is n3 (10.9.0.3) here, n2 (10.9.0.2) in a.yaml:11 (2 nodes here, 3 there)",
      expected: 'the same ordered node list (names and addresses) on every node',
    }]);
  });

  it('a node with another address, a longer list', () => {
    const moved = compareSharing([file('a.yaml', [web]), file('b.yaml', [{ ...web, nodes: [web.nodes[0]!, { name: 'n2', address: '10.9.0.22' }, web.nodes[2]!] }])]);
    expect(moved.map((x) => x.message)).toEqual(["sharing 'web': node 2 of the list is n2 (10.9.0.22) here, n2 (10.9.0.2) in a.yaml:11"]);
    const longer = compareSharing([file('a.yaml', [web]), file('b.yaml', [{ ...web, nodes: [...web.nodes, { name: 'n4', address: '10.9.0.4' }] }])]);
    expect(longer.map((x) => [x.line, x.message])).toEqual([[9, "sharing 'web': node 4 of the list is n4 (10.9.0.4) here, absent in a.yaml:9 (4 nodes here, 3 there)"]]);
  });

  it('buckets, hash, vhid_base, advbase, mode, address: each reported with both lines; the password without its value', () => {
    const other: SharedAddress = { ...web, buckets: 32, hash: 'sourceip-sourceport', vhidBase: 120, advbase: 2, mode: 'unicast', address: '10.9.0.51', password: 'secret2' };
    const d = compareSharing([file('a.yaml', [web]), file('b.yaml', [other])]);
    expect(d.map((x) => `${x.file}:${x.line}: ${x.message}`)).toEqual([
      "b.yaml:4: sharing 'web': address 10.9.0.51/24 here, 10.9.0.50/24 in a.yaml:4",
      "b.yaml:7: sharing 'web': buckets 32 here, 64 in a.yaml:7",
      "b.yaml:3: sharing 'web': hash sourceip-sourceport here, sourceip in a.yaml:3",
      "b.yaml:3: sharing 'web': mode unicast here, multicast in a.yaml:3",
      "b.yaml:6: sharing 'web': vhid_base 120 here, 100 in a.yaml:6",
      "b.yaml:3: sharing 'web': advbase 2 here, 1 in a.yaml:3",
      "b.yaml:8: sharing 'web': password differs from a.yaml:8 (the bucket elections would drop each other's adverts)",
    ]);
    expect(d.some((x) => x.message.includes('secret2') || x.message.includes('share '))).toBe(false);
  });

  it('a section missing on one side, or only on one side', () => {
    const mail: SharedAddress = { ...web, name: 'mail', vhidBase: 200 };
    const d = compareSharing([file('a.yaml', [web]), file('b.yaml', [mail])]);
    expect(d.map((x) => `${x.file}:${x.line}: ${x.message}`)).toEqual([
      "b.yaml:3: sharing 'mail' is not in a.yaml",
      "b.yaml:1: sharing 'web' (a.yaml:3) is missing here",
    ]);
  });
});

describe('sharingLines', () => {
  it('the line of each key and of each node item, per shared address', () => {
    const text = 'instances: []\nsharing:\n  - name: web\n    address: 10.9.0.50/24\n    nodes:\n      - { name: n1, address: 10.9.0.1 }\n      - name: n2\n        address: 10.9.0.2\n  - name: mail\n    buckets: 16\n';
    const l = sharingLines(text);
    expect(l.get('web')).toEqual({ name: 3, address: 4, nodes: 5, 'nodes.0': 6, 'nodes.1': 7 });
    expect(l.get('mail')).toEqual({ name: 9, buckets: 10 });
    expect(sharingLines('instances: []\n').size).toBe(0);
  });
});

describe('carpool check with several nodes\' files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carpool-share-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, nodes: string, buckets = 64) => {
    const path = join(dir, name);
    writeFileSync(path, ['instances: []', 'sharing:', '  - name: web', '    address: 10.9.0.50/24', '    interface: eth0', '    vhid_base: 100',
      `    buckets: ${buckets}`, '    password: share', '    nodes:', ...nodes.split(',').map((n, i) => `      - { name: ${n}, address: 10.9.0.${i + 1} }`), ''].join('\n'));
    return path;
  };

  it('the same sections: exit 0', async () => {
    const a = write('a.yaml', 'n1,n2,n3');
    const b = write('b.yaml', 'n1,n2,n3');
    const r = await runCarpool(['check', a, b, '--peer-config', write('c.yaml', 'n1,n2,n3')], dir, 30_000);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('3 files: sharing web the same in all');
    expect(r.code).toBe(0);
  });

  it('a node list and a bucket count that differ: exit 1, file:line of both sides', async () => {
    const a = write('a.yaml', 'n1,n2,n3');
    const b = write('b.yaml', 'n1,n2,n4', 32);
    const r = await runCarpool(['check', '-c', a, '--peer-config', b], dir, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${b}:7:1: sharing 'web': buckets 32 here, 64 in ${a}:7 (expected the same buckets on every node)`);
    expect(r.stderr).toContain(`${b}:12:1: sharing 'web': node 3 of the list is n4 (10.9.0.3) here, n3 (10.9.0.3) in ${a}:12`);
    expect(r.stderr).toContain('2 files: 2 differences');
  });

  it('no file at all: exit 1 with what is expected', async () => {
    const r = await runCarpool(['check'], dir, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('or several files, one per node');
  });
});
