/**
 * The daemon-wide etcd shape against a real etcd (Debian's etcd-server) in a lab LAN: h1 runs
 * one etcd member, h2 and h3 run carpool with 30 etcd instances each (ttl 3 s) plus one whose
 * key is outside the prefix. etcd itself is asked what the daemons hold: one lease per daemon
 * (`etcdctl lease list`), one watch stream per daemon (its /metrics), every instance with one
 * holder. Then the shared lease is revoked behind one daemon's back (all its keys go at once:
 * its instances drop together and the other node takes them all), and a SIGTERM deletes each
 * key and revokes the lease (the other node takes everything at once).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { decodeHolder } from '../../../src/coordination/core/holder-value.js';
import { addressesOf } from '../../../src/lab/netns.js';
import type { LabHost } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir, socketOf, status } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, inNs, isRoot, skipReason, sleep, until } from '../helpers/procs.js';

const SUBNET = '10.76.0';
const K = 30;
const TTL_MS = 3000;
const hasEtcd = spawnSync('etcd', ['--version']).status === 0 && spawnSync('etcdctl', ['version']).status === 0 && spawnSync('curl', ['--version']).status === 0;
const vip = (i: number): string => `${SUBNET}.${100 + i}`;
const NAMES = [...Array.from({ length: K }, (_, i) => `s${i}`), 'ext'];

describe.skipIf(!isRoot || !hasEtcd)(`etcd instances share one connection, lease and watch per daemon (${skipReason}; needs etcd-server, etcd-client, curl)`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('esh', { hosts: 3, subnet: SUBNET, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const etcdHost = () => lan.host(1);
  const nodes = () => [lan.host(2), lan.host(3)];
  const url = () => `http://${etcdHost().address}:2379`;
  const daemons = new Map<string, Proc>();
  let etcdProc: Proc | undefined;

  const config = (h: LabHost): string => {
    mkdirSync(wd.path(h.name), { recursive: true });
    const etcd = `endpoints: ["${url()}"], prefix: /sh, ttl: ${TTL_MS / 1000}s`;
    const inst = (name: string, addr: string, extra = ''): string[] => [
      `  - name: ${name}`, '    protocol: etcd', `    interface: ${h.ifname}`, `    addresses: [${addr}/24]`, `    node: ${h.name}`, `    etcd: { ${etcd}${extra} }`,
    ];
    return wd.write(`${h.name}.yaml`, [
      `control_socket: ${socketOf(wd, h)}`, `state_dir: ${wd.path(`${h.name}/state`)}`, 'instances:',
      ...Array.from({ length: K }, (_, i) => inst(`s${i}`, vip(i))).flat(),
      ...inst('ext', vip(K), ', key: /elsewhere/ext/leader'), '',
    ].join('\n'), 0o600);
  };
  const start = (h: LabHost): Proc => {
    const p = procs.add(new Proc(h.name, carpoolArgv(h.ns, ['run', '-c', config(h)])));
    daemons.set(h.name, p);
    return p;
  };
  const etcdctl = async (...args: string[]): Promise<string> =>
    (await run(inNs(nodes()[0]!.ns, ['etcdctl', `--endpoints=${url()}`, ...args]), { env: { ...process.env, ETCDCTL_API: '3' } })).stdout;
  /** etcdctl's JSON, lease ids as strings (they do not fit in a double). */
  const getJson = async (...args: string[]): Promise<{ kvs?: { key: string; value: string; lease: string; create_revision: number }[] }> =>
    JSON.parse((await etcdctl('get', ...args, '-w', 'json')).replace(/"lease":(\d+)/g, '"lease":"$1"')) as { kvs?: { key: string; value: string; lease: string; create_revision: number }[] };
  const leases = async (): Promise<string[]> => (await etcdctl('lease', 'list')).split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-f]+$/.test(l));
  const metric = async (name: string): Promise<number> => {
    const text = (await run(inNs(nodes()[0]!.ns, ['curl', '-s', '--max-time', '5', `${url()}/metrics`]))).stdout;
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  };
  /** Node holding each instance's address ('' = none, '!' = two). */
  const holders = async (): Promise<string[]> => {
    const held = await Promise.all(nodes().map(async (h) => new Set(await addressesOf(h.ns, h.ifname))));
    return NAMES.map((_, i) => {
      const at = nodes().filter((_, k) => held[k]!.has(`${vip(i)}/24`)).map((h) => h.name);
      return at.length === 1 ? at[0]! : at.length ? '!' : '';
    });
  };
  const settled = async (timeoutMs: number, pred: (hs: string[]) => boolean = () => true): Promise<string[]> =>
    (await until(async () => { const hs = await holders(); return hs.every((x) => x !== '' && x !== '!') && pred(hs) ? hs : undefined; }, timeoutMs, 100, 'one holder per instance')) as string[];

  it(`two nodes with ${K + 1} instances each: one holder each, one lease and one watch stream per daemon`, async () => {
    const e = etcdHost();
    etcdProc = procs.add(new Proc('etcd', inNs(e.ns, ['etcd', '--name', 'e1', '--data-dir', wd.path('etcd'), '--listen-client-urls', url(), '--advertise-client-urls', url(),
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380', '--initial-cluster', 'e1=http://127.0.0.1:2380',
      '--log-level', 'warn'])));
    await until(async () => (await run(inNs(nodes()[0]!.ns, ['etcdctl', `--endpoints=${url()}`, 'endpoint', 'health']), { allowFail: true, env: { ...process.env, ETCDCTL_API: '3' } })).code === 0 || undefined, 15_000, 200, 'etcd up');
    for (const h of nodes()) start(h);
    const hs = await settled(30_000);
    expect(hs).toHaveLength(K + 1);
    expect(await leases()).toHaveLength(2);
    // One gRPC watch stream per daemon; in it, one watcher for the prefix and one for the key outside it.
    expect(await metric('etcd_debugging_mvcc_watch_stream_total')).toBe(2);
    expect(await metric('etcd_debugging_mvcc_watcher_total')).toBe(4);
    // Every key's value is its holder, under that holder's lease; the status shows the create revision (fencing token).
    const all = [...(await getJson('--prefix', '/sh/')).kvs ?? [], ...(await getJson('/elsewhere/ext/leader')).kvs ?? []];
    expect(all).toHaveLength(K + 1);
    const st = await Promise.all(nodes().map((h) => status(socketOf(wd, h))));
    const leaseOf = new Map<string, string>();
    for (const kv of all) {
      const name = Buffer.from(kv.key, 'base64').toString().split('/')[2]!;
      const node = decodeHolder(Buffer.from(kv.value, 'base64').toString()).node; // `<node> config=<fingerprint>`
      expect(hs[NAMES.indexOf(name)]).toBe(node);
      if (leaseOf.has(node)) expect(kv.lease).toBe(leaseOf.get(node));
      leaseOf.set(node, kv.lease);
      const mine = st[nodes().findIndex((h) => h.name === node)]!.instances.find((x) => x.name === name)!;
      expect([mine.state, mine.etcd!.revision]).toEqual(['MASTER', kv.create_revision]);
    }
  }, 60_000);

  it('etcd paused longer than a keep-alive\'s timeout: one warning per daemon\'s lease naming its instances, none per instance', async () => {
    await settled(10_000);
    const from = new Map(nodes().map((h) => [h.name, daemons.get(h.name)!.lines.length]));
    // renew 1 s + request timeout 600 ms: a keep-alive sent in the pause fails (the lease bound,
    // 2.7 s from the last confirmation, may pass too: the instances then take their keys again).
    process.kill(etcdProc!.pid, 'SIGSTOP');
    try {
      await sleep(2000);
    } finally {
      process.kill(etcdProc!.pid, 'SIGCONT');
    }
    await settled(15_000);
    const since = (h: LabHost) => daemons.get(h.name)!.lines.slice(from.get(h.name));
    const perLease = nodes().map((h) => since(h).filter((l) => /\[WARNING\] etcd keep-alive of the shared lease \d+ \(ttl 3 s, carrying 31 instances\) failed: /.test(l)).length);
    const perInstance = nodes().map((h) => since(h).filter((l) => /\[WARNING\] (s\d+|ext): etcd keepAlive failed/.test(l)).length);
    console.log(`etcd paused 2 s: shared-lease keep-alive warnings per daemon ${perLease.join(', ')}; per-instance keep-alive warnings ${perInstance.join(', ')}`);
    expect(Math.max(...perLease)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...perLease)).toBeLessThanOrEqual(2); // one per failed keep-alive of the lease (a retry at most)
    expect(perInstance).toEqual([0, 0]);
  }, 40_000);

  it('the shared lease revoked behind a daemon\'s back: all its instances drop together, the other node takes them all', async () => {
    const hs = await settled(10_000);
    const count = (n: string, xs: string[]) => xs.filter((x) => x === n).length;
    const victim = count('h2', hs) >= count('h3', hs) ? 'h2' : 'h3';
    const other = victim === 'h2' ? 'h3' : 'h2';
    const lease = BigInt((await getJson(`/sh/s${hs.indexOf(victim)}/leader`)).kvs![0]!.lease).toString(16);
    const t0 = Date.now();
    await etcdctl('lease', 'revoke', lease);
    const after = await settled(10_000, (xs) => xs.every((x) => x === other));
    console.log(`shared lease of ${victim} revoked (${count(victim, hs)} instances): ${other} holds all ${after.length} after ${Date.now() - t0} ms`);
    // The victim got a new lease and follows the keys as backup: two leases again.
    await until(async () => ((await leases()).length === 2) || undefined, 10_000, 100, 'a new lease');
    const st = await status(socketOf(wd, nodes().find((h) => h.name === victim)!));
    expect(st.instances.map((i) => i.state)).toEqual(NAMES.map(() => 'BACKUP'));
    expect(st.instances.map((i) => i.etcd!.holder)).toEqual(NAMES.map(() => other));
  }, 40_000);

  it('SIGTERM: each key deleted and the lease revoked; the other node takes everything at once', async () => {
    const hs = await settled(10_000);
    const holder = hs[0]!;
    const t0 = Date.now();
    await daemons.get(holder)!.stop('SIGTERM');
    const other = nodes().find((h) => h.name !== holder)!.name;
    await settled(TTL_MS, (xs) => xs.every((x) => x === other));
    console.log(`SIGTERM of ${holder}: ${other} holds all ${NAMES.length} after ${Date.now() - t0} ms`);
    expect(await leases()).toHaveLength(1);
  }, 30_000);
});
