/**
 * Load sharing of an IPv6 address (issue 15): three nodes hold fd09:7::50 at once; the kernel's
 * neighbour advertisements for it are rewritten to its multicast MAC 33:33:00:00:00:50
 * (src/sharing/core/nft.ts, ND rules), so the client sends every frame to all three; each node
 * keeps the connections whose `jhash ip6 saddr . th sport` falls into its buckets. Real nginx
 * listening on [::]:80. Short: 1,000 connections spread with no duplicate and no error, then a
 * node cut off and killed: the two survivors answer everything.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../../src/control/status.js';
import { cutLink } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import type { SharingStatus } from '../../../src/sharing/core/model.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';

const VIP = 'fd09:7::50';
const FLOWS = fileURLToPath(new URL('./fixtures/flows.ts', import.meta.url));
type Burst = { served: Record<string, number>; errors: Record<string, number> };

describe.skipIf(!isRoot)(`load sharing of an IPv6 address: three nodes, 32 buckets (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('shsix', { hosts: 3, subnet: '10.9.7', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const daemons = new Map<number, Proc>();

  const sharing = async (n: number): Promise<SharingStatus | undefined> => {
    const r = await run(carpoolArgv(lan.host(n).ns, ['status', '--json', '--socket', wd.path(`n${n}.sock`)]), { allowFail: true });
    if (r.code !== 0) return undefined;
    const doc = JSON.parse(r.stdout) as DaemonStatus | DaemonStatus[];
    return ((Array.isArray(doc) ? doc[0] : doc)?.sharing as SharingStatus[] | undefined)?.[0];
  };
  const partitioned = async (nodes: number[]) => {
    const sets = await Promise.all(nodes.map(sharing));
    if (sets.some((s) => !s)) return false;
    const all = sets.flatMap((s) => s!.local);
    return all.length === 32 && new Set(all).size === 32;
  };
  const burst = async (count: number): Promise<Burst> => JSON.parse((await run(inNs(lan.client!.ns,
    [process.execPath, '--import', 'tsx', FLOWS, 'burst', VIP, String(count), '50', 'fd09:7::', '101', '20']), { timeoutMs: 60_000 })).stdout) as Burst;

  it('every connection served once, spread over the nodes; the ND answer carries the shared MAC', async () => {
    for (let k = 101; k <= 120; k++) await run(inNs(lan.client!.ns, ['ip', '-6', 'addr', 'add', `fd09:7::${k}/64`, 'dev', 'eth0', 'nodad']));
    for (const n of [1, 2, 3]) {
      await run(inNs(lan.host(n).ns, ['ip', '-6', 'addr', 'add', `fd09:7::${n}/64`, 'dev', 'eth0', 'nodad']));
      const dir = wd.path(`nginx${n}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/nginx.conf`, `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 4096; }\n`
        + `http { access_log off; client_body_temp_path ${dir};\n  server { listen [::]:80 ipv6only=on; location / { return 200 "n${n}\\n"; } } }\n`);
      procs.add(new Proc(`nginx${n}`, inNs(lan.host(n).ns, ['nginx', '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'])));
      const cfg = wd.write(`n${n}.yaml`, [
        `control_socket: ${wd.path(`n${n}.sock`)}`, `state_dir: ${wd.path(`n${n}`)}`, 'instances: []', 'sharing:',
        '  - name: web', `    address: ${VIP}/64`, '    interface: eth0', '    vhid_base: 100', '    buckets: 32',
        '    hash: sourceip-sourceport', '    password: share',
        '    nodes: [{ name: n1, address: 10.9.7.1 }, { name: n2, address: 10.9.7.2 }, { name: n3, address: 10.9.7.3 }]', '',
      ].join('\n'), 0o600);
      daemons.set(n, procs.add(new Proc(`n${n}`, carpoolArgv(lan.host(n).ns, ['run', '-c', cfg]))));
    }
    const settled = async () => (await partitioned([1, 2, 3])) && (await Promise.all([1, 2, 3].map(sharing))).every((x) => (x?.local.length ?? 0) >= 10);
    await until(settled, 30_000, 200, 'all 32 buckets served, each by one node');
    await new Promise((r) => setTimeout(r, 1500));
    await until(settled, 10_000, 200, 'the layout stays settled');
    await daemons.get(1)!.waitFor(/ND with 33:33:00:00:00:50/, 1000);
    const r = await burst(1000);
    console.log(`sharing IPv6: 1000 flows -> ${JSON.stringify(r)}`);
    expect(r.errors).toEqual({});
    expect(Object.keys(r.served).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(Object.values(r.served).reduce((a, b) => a + b, 0)).toBe(1000);
    for (const k of Object.values(r.served)) expect(Math.abs(k - 1000 / 3) / (1000 / 3)).toBeLessThanOrEqual(0.25);
    // The client learnt the shared MAC from the nodes' (rewritten) neighbour advertisements.
    expect((await run(inNs(lan.client!.ns, ['ip', '-6', 'neigh', 'show', VIP]))).stdout).toContain('lladdr 33:33:00:00:00:50');
  }, 90_000);

  it("a dead node's buckets go to the survivors", async () => {
    await cutLink(lan, lan.host(3));
    await daemons.get(3)!.stop('SIGKILL');
    await until(() => partitioned([1, 2]), 15_000, 100, 'n1 and n2 serve all 32 buckets');
    const r = await burst(600);
    console.log(`sharing IPv6: n3 dead, 600 flows -> ${JSON.stringify(r)}`);
    expect(r.errors).toEqual({});
    expect(Object.keys(r.served).sort()).toEqual(['n1', 'n2']);
    expect(r.served.n1! + r.served.n2!).toBe(600);

    // The ND counter (status `ndSkipped`): zero while every advertisement is rewritten; node 1
    // without its NA rewrite rule answers the client's next solicitation with its own MAC: counted.
    expect([(await sharing(1))?.ndSkipped, (await sharing(2))?.ndSkipped]).toEqual([0, 0]);
    const rules = (await run(inNs(lan.host(1).ns, ['nft', '-a', 'list', 'chain', 'ip6', 'carpool_sharing', 'nd_out']))).stdout;
    const handle = /nd-neighbor-advert [^\n]* set 0x3333[^\n]* # handle (\d+)/.exec(rules)![1]!;
    await run(inNs(lan.host(1).ns, ['nft', 'delete', 'rule', 'ip6', 'carpool_sharing', 'nd_out', 'handle', handle]));
    await run(inNs(lan.client!.ns, ['ip', '-6', 'neigh', 'flush', 'dev', 'eth0']));
    await burst(20); // resolves the address again (its result does not matter: n1 now spoils the client's entry)
    await until(async () => ((await sharing(1))?.ndSkipped ?? 0) > 0, 10_000, 200, "n1 counts the advertisement that left with its own MAC");
    expect((await sharing(2))?.ndSkipped).toBe(0);
    console.log(`sharing IPv6: ND not rewritten: n1 ${(await sharing(1))?.ndSkipped}, n2 ${(await sharing(2))?.ndSkipped}`);
  }, 60_000);
});
