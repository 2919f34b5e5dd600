/**
 * Preference for an etcd instance (docs/etcd.md "Preference") against a real etcd (Debian's
 * etcd-server) in a lab LAN: h1 runs one etcd member, n1..n3 run carpool with one etcd instance
 * (ttl 3 s); n1 is preferred (priority 200, preempt, preempt_delay 4 s), n2 next (150, preempt),
 * n3 plain (100). n1 powered off (link down + SIGKILL) → n2 holds; n1 back → after its hold-down
 * n1 holds again, handed over make-before-break while a LAN client probes the VIP every 20 ms.
 * The VIP changes are followed with `ip -ts monitor address` (kernel event times), and every
 * node's status is sampled through the hand-back: never two nodes that hold the key as master.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { addressesOf } from '../../../src/lab/netns.js';
import type { LabHost } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir, instance, socketOf, startProbe, stopProbe } from '../helpers/carp.js';
import { writeEtcdConfig } from '../helpers/etcd-lab.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, inNs, isRoot, skipReason, sleep, until } from '../helpers/procs.js';

const SUBNET = '10.74.0';
const VIP = `${SUBNET}.100`;
const TTL_MS = 3000;
const DELAY_MS = 4000;
const hasEtcd = spawnSync('etcd', ['--version']).status === 0;

/** Kernel times (ms since the epoch) at which each node gained / lost the VIP. */
class AddressLog {
  readonly events: { node: string; at: number; added: boolean }[] = [];
  constructor(procs: Proc[], names: string[]) {
    procs.forEach((p, k) => p.child.stdout!.on('data', (buf: Buffer) => {
      for (const line of buf.toString().split('\n')) {
        const m = /^\[(\S+)\] (Deleted )?\d+: \S+\s+inet (\S+)/.exec(line);
        if (!m || m[3] !== `${VIP}/24`) continue;
        this.events.push({ node: names[k]!, at: Date.parse(`${m[1]!.slice(0, 23)}Z`), added: !m[2] });
      }
    }));
  }
  first(node: string, added: boolean, after: number): number | undefined {
    return this.events.find((e) => e.node === node && e.added === added && e.at >= after)?.at;
  }
}

describe.skipIf(!isRoot || !hasEtcd)(`etcd instance preference: hand-back to the preferred node (${skipReason}; needs etcd-server)`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('ep', { hosts: 4, subnet: SUBNET, client: true, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const nodes = () => [lan.host(2), lan.host(3), lan.host(4)];
  const names = ['n1', 'n2', 'n3'];
  const prefs = [`priority: 200, preempt: true, preempt_delay: ${DELAY_MS / 1000}s`, `priority: 150, preempt: true, preempt_delay: ${DELAY_MS / 1000}s`, 'priority: 100'];
  const daemons = new Map<string, Proc>();
  const hostOf = (name: string): LabHost => nodes()[names.indexOf(name)]!;
  let log: AddressLog;

  const start = (name: string): Proc => {
    const h = hostOf(name);
    const k = names.indexOf(name);
    const config = writeEtcdConfig(wd, h.name, socketOf(wd, h), [{
      name: 'web', interface: h.ifname, addresses: [`${VIP}/24`], node: name, extra: prefs[k]!.split(', '),
      etcd: `endpoints: ["http://${lan.host(1).address}:2379"], prefix: /pref, ttl: ${TTL_MS / 1000}s`,
    }]);
    const p = procs.add(new Proc(name, carpoolArgv(h.ns, ['run', '-c', config])));
    daemons.set(name, p);
    return p;
  };
  const holders = async () => (await Promise.all(names.map(async (n) => ((await addressesOf(hostOf(n).ns, hostOf(n).ifname)).includes(`${VIP}/24`) ? n : '')))).filter(Boolean);
  const holderIs = (name: string, timeoutMs: number) => until(async () => ((await holders()).join() === name ? true : undefined), timeoutMs, 20, `${name} alone holds the VIP`);
  const dump = (e: unknown) => { for (const [n, p] of daemons) console.log(n, p.lines.slice(-40).join('\n')); throw e; };

  it('three nodes: the preferred n1 ends up holding; status shows the preference and every candidate', async () => {
    const e = lan.host(1);
    const url = `http://${e.address}:2379`;
    procs.add(new Proc('etcd', inNs(e.ns, ['etcd', '--name', 'e1', '--data-dir', wd.path('etcd'), '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380', '--initial-cluster', 'e1=http://127.0.0.1:2380',
      '--log-level', 'warn'])));
    log = new AddressLog(nodes().map((h) => procs.add(new Proc(`mon-${h.name}`, inNs(h.ns, ['ip', '-ts', '-o', 'monitor', 'address'])))), names);
    for (const n of names) start(n);
    // Whoever wins the start, n1 holds after its hold-down at the latest.
    await holderIs('n1', 30_000).catch(dump);
    const st = (await until(async () => { const s = await instance(socketOf(wd, hostOf('n1'))); return s.etcd?.candidates?.length === 3 ? s : undefined; }, 10_000, 100, 'three candidates read'))!;
    expect(st.state).toBe('MASTER');
    expect(st.etcd!.preference).toEqual({ priority: 200, preempt: true, preemptDelayMs: DELAY_MS });
    expect(st.etcd!.candidates!.map((c) => [c.node, c.priority, c.preempt])).toEqual([['n1', 200, true], ['n2', 150, true], ['n3', 100, false]]);
    // n2 reads the candidacies at its own polls: once it has all three, its text status lists them.
    await until(async () => ((await instance(socketOf(wd, hostOf('n2')))).etcd?.candidates?.length === 3 ? true : undefined), 10_000, 100, 'n2 read three candidates');
    const { stdout } = await run(carpoolArgv(hostOf('n2').ns, ['status', '--socket', socketOf(wd, hostOf('n2'))]), { allowFail: true });
    expect(stdout).toMatch(/web: preference priority 150, preempt after 4\.0s; candidates: n1 \(priority 200, preempt after 4\.0s, seen [\d.]+s\), n2 .*, n3 \(priority 100, no preempt/);
  }, 60_000);

  it('n1 powered off → n2 holds; n1 back → after the hold-down n1 holds again: 0 lost probes, never two masters, the old holder lets go right after', async () => {
    const h1 = hostOf('n1');
    await run(inNs(h1.ns, ['ip', 'link', 'set', h1.ifname, 'down']));
    await daemons.get('n1')!.stop('SIGKILL');
    // n2 directly, or n3 first and then n2 after n2's hold-down (n1's dead interface keeps its address).
    await until(async () => ((await holders()).filter((n) => n !== 'n1').join() === 'n2' ? true : undefined), TTL_MS + 1000 + DELAY_MS + 3000, 20, 'n2 holds').catch(dump);
    await run(inNs(h1.ns, ['ip', 'link', 'set', h1.ifname, 'up']));
    const t0 = Date.now();
    start('n1');
    // The restarted daemon removes the VIP its predecessor left; then the client starts probing.
    await holderIs('n2', 10_000).catch(dump);
    const probe = startProbe(procs, lan.client!, VIP, 20);
    // Sample every node's view until n1 holds: at most one master that is not handing over.
    let samples = 0;
    let worst = 0;
    let handBack: number | undefined;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const st = await Promise.all(names.map((n) => instance(socketOf(wd, hostOf(n))).catch(() => undefined)));
        const masters = st.filter((s) => s?.state === 'MASTER' && !s.etcd?.handingOver).length;
        samples++;
        worst = Math.max(worst, masters);
        await sleep(20);
      }
    })();
    try {
      await until(async () => ((await holders()).join() === 'n1' ? true : undefined), DELAY_MS + 3 * TTL_MS, 20, 'n1 holds again');
      handBack = Date.now();
      await sleep(500);
    } finally {
      sampling = false;
      await sampler;
    }
    const sum = await stopProbe(probe);
    const up = log.first('n1', true, t0)!;
    const down = log.first('n2', false, t0)!;
    console.log(`etcd preference hand-back n2 -> n1: n1 restarted, held the VIP ${up - t0} ms later (hold-down ${DELAY_MS} ms, poll ${TTL_MS / 2} ms);`
      + ` n2 removed it ${down - up} ms after n1 added it; probes sent ${sum.sent}, lost ${sum.lost}; ${samples} status samples, at most ${worst} master(s) not handing over`);
    expect(handBack).toBeDefined();
    expect(sum.sent).toBeGreaterThan(50);
    expect(sum.lost).toBe(0);
    expect(up).toBeLessThanOrEqual(down); // make-before-break
    expect(up - t0).toBeGreaterThanOrEqual(DELAY_MS); // not before the hold-down
    expect(samples).toBeGreaterThan(10);
    expect(worst).toBe(1);
    expect(await holders()).toEqual(['n1']);
    const st = await instance(socketOf(wd, hostOf('n2')));
    expect(st.etcd).toMatchObject({ holder: 'n1', handingOver: false });
    expect(daemons.get('n2')!.lines.some((l) => l.includes('handing over to n1 (preferred)'))).toBe(true);
  }, 60_000);
});
