/**
 * Seed 002's Heartbeat files on a two-node lab (issue 14): ha.cf and authkeys of appendix B.1
 * with our haresources (testdata/heartbeat/seed-002), imported by `carpool import-heartbeat` on
 * each node inside its namespace (it finds its own ucast address there), run as they come out:
 * VRRP v3 over unicast on eth1 (192.168.0.50/51, 100 ms adverts, 1 s dead time), the address
 * 192.168.1.100 on eth0 with the haresources group. node-1 holds both; its eth0 cable is pulled
 * → node-2 takes the address and starts the group; the cable back → node-1 takes both back
 * (auto_failback). Addresses are private and live only in this test's namespaces.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutLink, restoreLink } from '../../../src/lab/netns.js';
import { inNs, run } from '../../../src/lib/exec.js';
import { CARPOOL, REPO_ROOT, addresses, isRoot, makeCluster, waitFor, type Cluster, type Node } from './cluster.js';
import { useLab } from '../helpers/lab.js';

const SEED = join(REPO_ROOT, 'testdata/heartbeat/seed-002');
const VIP = '192.168.1.100/24';

describe.skipIf(!isRoot)("seed 002's Heartbeat files, imported and run on two nodes", () => {
  let c: Cluster;
  const lan = useLab('hb', { hosts: 2, subnet: '192.168.1', client: false, lans: 2, beforeDestroy: async () => { await c?.cleanup(); } });
  let n1: Node;
  let n2: Node;
  const figures: Record<string, number> = {};
  const holds = async (n: Node) => (await addresses(n.host)).includes(VIP) && (await n.resources()).groups[0]?.state === 'Started';

  beforeAll(async () => {
    c = makeCluster(lan);
    [n1, n2] = c.nodes as [Node, Node];
    for (const [i, n] of [n1, n2].entries()) {
      // ha.cf's ucast addresses, on the heartbeat link (eth1) of this node's namespace.
      await run(inNs(n.host.ns, ['ip', 'addr', 'add', `192.168.0.${50 + i}/24`, 'dev', 'eth1']));
      const imp = await run(inNs(n.host.ns, [process.execPath, CARPOOL, 'import-heartbeat', SEED, '--node', `node-${i + 1}`]), { allowFail: true });
      expect(imp.code, imp.stderr).toBe(0);
      writeFileSync(n.configFile, `control_socket: ${n.socket}\nstate_dir: ${n.dir}/state\nlogging: { facility: none }\n${imp.stdout}`, { mode: 0o600 });
    }
  });

  afterAll(() => {
    if (process.env.KEEP_LOGS) for (const n of c?.nodes ?? []) process.stderr.write(`--- ${n.name} ---\n${n.log()}\n`);
    console.log('figures', figures);
  });

  it('node-1 holds the address and the group; a cut of its eth0 moves both to node-2, and they come back', async () => {
    // Delay keeps its state in HA_RSCTMP: one per node, as on two machines.
    n1.start({ HA_RSCTMP: n1.dir });
    n2.start({ HA_RSCTMP: n2.dir });
    await waitFor('node-1 MASTER with the address and the group', () => holds(n1), 20_000);
    await waitFor('node-2 BACKUP, group stopped', async () => await n2.state('heartbeat1') === 'BACKUP' && (await n2.resources()).groups[0]?.state === 'Stopped', 20_000);
    expect(existsSync(join(n2.dir, 'Delay-delay'))).toBe(false);

    const cut = performance.now();
    await cutLink(lan, n1.host);
    await waitFor('node-2 takes the address and starts the group', () => holds(n2), 15_000);
    figures.cutToGroupOnNode2Ms = Math.round(performance.now() - cut);
    await waitFor('node-1 stops the group and drops the address', async () => !(await addresses(n1.host)).includes(VIP) && (await n1.resources()).groups[0]?.state === 'Stopped', 15_000);
    expect(await n1.state('heartbeat1')).toBe('FAULT');

    const back = performance.now();
    await restoreLink(lan, n1.host);
    await waitFor('node-1 takes both back (auto_failback)', () => holds(n1), 15_000);
    figures.restoreToGroupOnNode1Ms = Math.round(performance.now() - back);
    await waitFor('node-2 lets go', async () => !(await addresses(n2.host)).includes(VIP) && (await n2.resources()).groups[0]?.state === 'Stopped', 15_000);
  });
});
