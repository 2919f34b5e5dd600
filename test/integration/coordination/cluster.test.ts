/**
 * The cluster view against a real etcd (Debian's etcd-server): h1 runs a single etcd member,
 * h2..h4 run carpool with a CARP instance (web), an etcd instance (db, `etcd: cluster`) and a
 * `cluster:` block. `carpool status --cluster` (read from etcd, in a node's namespace) lists
 * every node with exactly one master per instance; a daemon killed with SIGKILL is shown as gone
 * once its lease expires, with when it was last seen.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { LabHost } from '../../../src/lab/netns.js';
import type { ClusterView } from '../../../src/coordination/core/cluster-view.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir, socketOf } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';

const SUBNET = '10.66.0';
const TTL_S = 3;
const hasEtcd = spawnSync('etcd', ['--version']).status === 0;

describe.skipIf(!isRoot || !hasEtcd)(`carpool status --cluster with a real etcd (${skipReason}; needs etcd-server)`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('ecv', { hosts: 4, subnet: SUBNET, client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const nodes = () => [lan.host(2), lan.host(3), lan.host(4)];
  const daemons = new Map<string, Proc>();
  const configs = new Map<string, string>();
  afterAll(async () => { await procs.killAll(); });

  const config = (h: LabHost, k: number): string => {
    mkdirSync(wd.path(h.name), { recursive: true });
    return wd.write(`${h.name}.yaml`, [
      `control_socket: ${socketOf(wd, h)}`,
      `state_dir: ${wd.path(`${h.name}/state`)}`,
      'instances:',
      `  - { name: web, interface: ${h.ifname}, vhid: 7, password: clusterpw, advskew: ${k * 50}, addresses: [${SUBNET}.100/24] }`,
      `  - { name: db, protocol: etcd, interface: ${h.ifname}, addresses: [${SUBNET}.101/24], node: ${h.name}, etcd: cluster }`,
      'cluster:',
      `  node: ${h.name}`,
      `  etcd: { endpoints: ["http://${lan.host(1).address}:2379"], prefix: /ecv, ttl: ${TTL_S}s }`,
      '',
    ].join('\n'), 0o600);
  };
  /** `carpool status --cluster` in the namespace of `via` (its config names the etcd endpoint). */
  const clusterStatus = async (via: LabHost, json: boolean) => run(carpoolArgv(via.ns, ['status', '--cluster', '-c', configs.get(via.name)!, ...(json ? ['--json'] : [])]), { allowFail: true, timeoutMs: 10_000 });
  const view = async (via: LabHost): Promise<ClusterView | undefined> => {
    const r = await clusterStatus(via, true);
    return r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) as ClusterView : undefined;
  };

  it('lists every node, each instance MASTER on exactly one; SIGKILL: the node is gone after its lease ttl', async () => {
    const e = lan.host(1);
    const url = `http://${e.address}:2379`;
    procs.add(new Proc('etcd', inNs(e.ns, ['etcd', '--name', 'e1', '--data-dir', wd.path('etcd'), '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380', '--initial-cluster', 'e1=http://127.0.0.1:2380',
      '--log-level', 'warn'])));
    nodes().forEach((h, k) => {
      configs.set(h.name, config(h, k));
      daemons.set(h.name, procs.add(new Proc(h.name, carpoolArgv(h.ns, ['run', '-c', configs.get(h.name)!]))));
    });
    const [a] = nodes();
    const settled = (await until(async () => {
      const v = await view(a!);
      return v && v.nodes.filter((n) => n.state === 'online').length === 3 && v.instances.length === 2 && v.instances.every((i) => i.verdict === 'ok') ? v : undefined;
    }, 30_000, 250, 'three nodes online, one master per instance'))!;
    expect(settled.nodes.map((n) => n.name)).toEqual(nodes().map((h) => h.name).sort());
    const web = settled.instances.find((i) => i.name === 'web')!;
    const db = settled.instances.find((i) => i.name === 'db')!;
    expect(web.masters).toHaveLength(1);
    expect(web.nodes.map((n) => n.state).sort()).toEqual(['BACKUP', 'BACKUP', 'MASTER']);
    expect(db.masters).toHaveLength(1);
    expect(db.protocol).toBe('etcd');
    expect(settled.problems).toEqual([]);
    const ok = await clusterStatus(a!, false);
    expect(ok.code).toBe(0);

    // SIGKILL a node that is master of nothing: the view stays one master per instance, the node goes.
    const victim = nodes().find((h) => h.name !== web.masters[0] && h.name !== db.masters[0])!;
    const t0 = Date.now();
    await daemons.get(victim.name)!.stop('SIGKILL');
    const gone = (await until(async () => {
      const v = await view(a!);
      return v?.nodes.find((n) => n.name === victim.name)?.state === 'gone' ? v : undefined;
    }, 15_000, 100, `${victim.name} shown as gone`))!;
    const tookMs = Date.now() - t0;
    console.log(`cluster view: ${victim.name} shown as gone ${tookMs} ms after SIGKILL (lease ttl ${TTL_S} s)`);
    expect(tookMs).toBeGreaterThan(TTL_S * 1000 - 1500); // not before its lease can have expired
    const g = gone.nodes.find((n) => n.name === victim.name)!;
    expect(g.lastSeen).not.toBeNull();
    expect(g.stopped).toBeUndefined();
    expect(gone.nodes.filter((n) => n.state === 'online')).toHaveLength(2);
    expect(gone.instances.map((i) => [i.name, i.verdict])).toEqual([['db', 'ok'], ['web', 'ok']]);

    const text = await clusterStatus(a!, false);
    console.log(text.stdout.split('\n').slice(0, 8).join('\n'));
    expect(text.code).toBe(1); // a node is gone
    expect(text.stdout).toContain('3 node(s), 2 online, 1 gone');
    expect(text.stdout).toMatch(new RegExp(`^ {2}web +carp +${SUBNET.replace(/\./g, '\\.')}\\.100/24 +MASTER on ${web.masters[0]!} `, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^ {2}db +etcd .* MASTER on ${db.masters[0]!} `, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^Node ${victim.name}: GONE \\(stopped publishing; last seen \\S+, \\d+s ago\\)$`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^Node ${web.masters[0]!}: online \\(published `, 'm'));
  }, 60_000);

  it('SIGTERM: the node shows as gone at once, marked stopped', async () => {
    const b = nodes().find((h) => daemons.get(h.name)!.running && h.name !== nodes()[0]!.name)!;
    const t0 = Date.now();
    await daemons.get(b.name)!.stop('SIGTERM');
    const v = (await until(async () => {
      const x = await view(nodes()[0]!);
      return x?.nodes.find((n) => n.name === b.name)?.state === 'gone' ? x : undefined;
    }, 10_000, 100, `${b.name} gone after SIGTERM`))!;
    console.log(`cluster view: ${b.name} shown as gone ${Date.now() - t0} ms after SIGTERM`);
    expect(v.nodes.find((n) => n.name === b.name)!.stopped).toBe(true);
  }, 30_000);
});
