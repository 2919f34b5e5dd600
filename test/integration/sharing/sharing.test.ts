/**
 * Load sharing (issue 15): three nodes hold 10.9.0.50 at once, each answering ARP with its
 * multicast MAC; 64 buckets, one CARP election each; every node runs a real nginx on the
 * address. A client population (many source addresses and ports, fixtures/flows.ts) must be
 * served exactly once per connection, evenly; a dead node's buckets go to the survivors without
 * touching their established connections, and the node takes its buckets back when it returns.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../../src/control/status.js';
import { cutLink, restoreLink } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import type { SharingStatus } from '../../../src/sharing/core/model.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';

const VIP = '10.9.0.50';
const FLOWS = fileURLToPath(new URL('./fixtures/flows.ts', import.meta.url));
type Burst = { served: Record<string, number>; errors: Record<string, number> };
type Held = { nodes: Record<string, number>; errors: Record<string, number>; answers: number }[];

describe.skipIf(!isRoot)(`load sharing: three nodes, one address, 64 buckets (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('sh', { hosts: 3, subnet: '10.9.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const daemons = new Map<number, Proc>();

  const config = (n: number) => wd.write(`n${n}.yaml`, [
    `control_socket: ${wd.path(`n${n}.sock`)}`,
    `state_dir: ${wd.path(`n${n}`)}`,
    'instances: []',
    'sharing:',
    '  - name: web',
    `    address: ${VIP}/24`,
    '    interface: eth0',
    '    vhid_base: 100',
    '    buckets: 64',
    '    hash: sourceip-sourceport',
    '    password: share',
    '    nodes: [{ name: n1, address: 10.9.0.1 }, { name: n2, address: 10.9.0.2 }, { name: n3, address: 10.9.0.3 }]',
    '',
  ].join('\n'), 0o600);
  const startDaemon = (n: number) => daemons.set(n, procs.add(new Proc(`n${n}`, carpoolArgv(lan.host(n).ns, ['run', '-c', config(n)]))));
  const sharing = async (n: number): Promise<SharingStatus | undefined> => {
    const r = await run(carpoolArgv(lan.host(n).ns, ['status', '--json', '--socket', wd.path(`n${n}.sock`)]), { allowFail: true });
    if (r.code !== 0) return undefined;
    const doc = JSON.parse(r.stdout) as DaemonStatus | DaemonStatus[];
    return ((Array.isArray(doc) ? doc[0] : doc)?.sharing as SharingStatus[] | undefined)?.[0];
  };
  /** Every bucket accepted by exactly one of `nodes` (their kernel sets). */
  const partitioned = async (nodes: number[]): Promise<boolean> => {
    const sets = await Promise.all(nodes.map(sharing));
    if (sets.some((s) => !s)) return false;
    const all = sets.flatMap((s) => s!.local);
    return all.length === 64 && new Set(all).size === 64;
  };
  const flows = async (mode: 'burst' | 'hold', a: number, b: number): Promise<string> =>
    (await run(inNs(lan.client!.ns, [process.execPath, '--import', 'tsx', FLOWS, mode, VIP, String(a), String(b), '10.9.0', '101', '40']), { timeoutMs: 120_000 })).stdout;
  const burst = async (count: number): Promise<Burst> => JSON.parse(await flows('burst', count, 100)) as Burst;

  it('every connection is served by exactly one node, evenly', async () => {
    for (let k = 101; k <= 140; k++) await run(inNs(lan.client!.ns, ['ip', 'addr', 'add', `10.9.0.${k}/24`, 'dev', 'eth0']));
    for (const n of [1, 2, 3]) {
      const dir = wd.path(`nginx${n}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/nginx.conf`, `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 4096; }\n`
        + `http { access_log off; keepalive_timeout 300s; keepalive_requests 1000000; client_body_temp_path ${dir};\n`
        + `  server { listen 80 reuseport; location / { return 200 "n${n}\\n"; } } }\n`);
      procs.add(new Proc(`nginx${n}`, inNs(lan.host(n).ns, ['nginx', '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'])));
      startDaemon(n);
    }
    // Settled: every node serves its own buckets (the daemons start one after another, so the
    // first ones take everything and hand buckets back as the others come up), twice 1.5 s apart.
    const settled = async () => (await partitioned([1, 2, 3])) && (await Promise.all([1, 2, 3].map(sharing))).every((x) => (x?.local.length ?? 0) >= 21);
    await until(settled, 30_000, 200, 'all 64 buckets served, each by one node');
    await new Promise((r) => setTimeout(r, 1500));
    await until(settled, 10_000, 200, 'the layout stays settled');
    const st = await sharing(1);
    expect(new Set(st!.servedBy)).toEqual(new Set(['n1', 'n2', 'n3']));
    const r = await burst(10_000);
    console.log(`sharing: 10000 flows -> ${JSON.stringify(r)}`);
    expect(r.errors).toEqual({});
    const served = Object.values(r.served);
    expect(served.reduce((x, y) => x + y, 0)).toBe(10_000);
    expect(Object.keys(r.served).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const k of served) expect(Math.abs(k - 10_000 / 3) / (10_000 / 3)).toBeLessThanOrEqual(0.1);
  }, 120_000);

  it("a dead node's buckets go to the survivors, whose connections are untouched; it takes them back", async () => {
    const held = flows('hold', 30, 25); // 30 keep-alive connections, a request every 100 ms for 25 s
    await new Promise((r) => setTimeout(r, 2000));
    await cutLink(lan, lan.host(3));
    await daemons.get(3)!.stop('SIGKILL');
    await until(() => partitioned([1, 2]), 15_000, 100, 'n1 and n2 serve all buckets');
    const during = await burst(2000);
    console.log(`sharing: n3 dead, 2000 flows -> ${JSON.stringify(during)}`);
    expect(during.errors).toEqual({});
    expect(Object.keys(during.served).sort()).toEqual(['n1', 'n2']);

    await restoreLink(lan, lan.host(3));
    startDaemon(3);
    await until(async () => (await partitioned([1, 2, 3])) && ((await sharing(3))?.local.length ?? 0) > 0, 20_000, 100, 'n3 serves its buckets again');
    const after = await burst(2000);
    console.log(`sharing: n3 back, 2000 flows -> ${JSON.stringify(after)}`);
    expect(after.errors).toEqual({});
    expect(Object.keys(after.served).sort()).toEqual(['n1', 'n2', 'n3']);

    const conns = JSON.parse(await held) as Held;
    const onSurvivors = conns.filter((c) => !c.nodes.n3);
    console.log(`sharing: long-lived connections: ${conns.length}, on survivors ${onSurvivors.length}, `
      + `errors ${JSON.stringify(conns.map((c) => c.errors).filter((e) => Object.keys(e).length))}, answers ${conns.map((c) => c.answers).join(',')}`);
    expect(onSurvivors.length).toBeGreaterThan(0);
    // Zero resets on the survivors, through the failure and the hand-back.
    for (const c of onSurvivors) {
      expect(c.errors).toEqual({});
      expect(Object.keys(c.nodes)).toHaveLength(1); // never moved to another node
    }
  }, 120_000);

  it("a daemon killed while its node's link stays up: its buckets lapse in the kernel before the survivors take them", async () => {
    await until(() => partitioned([1, 2, 3]), 20_000, 100, 'all three serve');
    const mine = (await sharing(3))!.local.length;
    expect(mine).toBeGreaterThan(0);
    const kernelSet = async () => (await run(inNs(lan.host(3).ns, ['nft', 'list', 'set', 'ip', 'carpool_sharing', 'web_local']))).stdout;
    expect(await kernelSet()).toMatch(/elements = \{/);
    const killed = performance.now();
    await daemons.get(3)!.stop('SIGKILL'); // n3's link, nginx and nft table stay
    // Sample n3's kernel set and the survivors' status until the survivors serve everything.
    let lapsedAt: number | undefined;
    let takenAt: number | undefined;
    while (takenAt === undefined && performance.now() - killed < 15_000) {
      if (lapsedAt === undefined && !/elements = \{/.test(await kernelSet())) lapsedAt = performance.now() - killed;
      if (await partitioned([1, 2])) takenAt = performance.now() - killed;
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`sharing: n3's daemon SIGKILLed with its link up: its ${mine} buckets lapsed ${lapsedAt?.toFixed(0)} ms after, survivors served all 64 ${takenAt?.toFixed(0)} ms after`);
    expect(takenAt).toBeDefined();
    expect(lapsedAt).toBeDefined();
    expect(lapsedAt!).toBeLessThan(takenAt!);
    // n3's nginx still listens and its table still sees every packet: none of the new flows reaches it.
    const r = await burst(2000);
    console.log(`sharing: n3 daemon dead, link up, 2000 flows -> ${JSON.stringify(r)}`);
    expect(r.errors).toEqual({});
    expect(Object.keys(r.served).sort()).toEqual(['n1', 'n2']);
    startDaemon(3);
    await until(async () => (await partitioned([1, 2, 3])) && ((await sharing(3))?.local.length ?? 0) > 0, 20_000, 100, 'n3 serves its buckets again');
  }, 120_000);
});
