/**
 * Load sharing with node lists that differ (issue 15, bad input `carpool check` cannot see on one
 * host): n2 lists a third node n1 does not. The bucket elections' key covers the layout, so each
 * drops the other's adverts as bad digests and would take every bucket; instead both report the
 * mismatch (log, status), and only one of them, n1 (a tie goes to the lowest address), serves:
 * every connection is answered exactly once, by n1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../../src/control/status.js';
import { run } from '../../../src/lib/exec.js';
import type { SharingStatus } from '../../../src/sharing/core/model.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';

const VIP = '10.9.4.50';
const FLOWS = fileURLToPath(new URL('./fixtures/flows.ts', import.meta.url));

describe.skipIf(!isRoot)(`load sharing: two nodes whose node lists differ (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('shm', { hosts: 2, subnet: '10.9.4', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const daemons = new Map<number, Proc>();

  const config = (n: number, nodes: string) => wd.write(`n${n}.yaml`, [
    `control_socket: ${wd.path(`n${n}.sock`)}`, `state_dir: ${wd.path(`n${n}`)}`, 'instances: []', 'sharing:',
    '  - name: web', `    address: ${VIP}/24`, '    interface: eth0', '    vhid_base: 100', '    buckets: 8',
    '    hash: sourceip-sourceport', '    password: share', `    nodes: [${nodes}]`, '',
  ].join('\n'), 0o600);
  const sharing = async (n: number): Promise<SharingStatus | undefined> => {
    const r = await run(carpoolArgv(lan.host(n).ns, ['status', '--json', '--socket', wd.path(`n${n}.sock`)]), { allowFail: true });
    if (r.code !== 0) return undefined;
    const doc = JSON.parse(r.stdout) as DaemonStatus | DaemonStatus[];
    return ((Array.isArray(doc) ? doc[0] : doc)?.sharing as SharingStatus[] | undefined)?.[0];
  };

  it('both report the mismatch; only n1 serves, every connection answered once', async () => {
    for (let k = 101; k <= 110; k++) await run(inNs(lan.client!.ns, ['ip', 'addr', 'add', `10.9.4.${k}/24`, 'dev', 'eth0']));
    const two = '{ name: n1, address: 10.9.4.1 }, { name: n2, address: 10.9.4.2 }';
    for (const n of [1, 2]) {
      const dir = wd.path(`nginx${n}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/nginx.conf`, `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 1024; }\n`
        + `http { access_log off; client_body_temp_path ${dir};\n  server { listen 80; location / { return 200 "n${n}\\n"; } } }\n`);
      procs.add(new Proc(`nginx${n}`, inNs(lan.host(n).ns, ['nginx', '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'])));
      const cfg = config(n, n === 1 ? two : `${two}, { name: n3, address: 10.9.4.3 }`);
      daemons.set(n, procs.add(new Proc(`n${n}`, carpoolArgv(lan.host(n).ns, ['run', '-c', cfg]))));
    }
    await until(async () => {
      const [a, b] = [await sharing(1), await sharing(2)];
      return !!a && !!b && a.serving && a.local.length === 8 && !b.serving && b.local.length === 0
        && a.mismatches.some((m) => m.node === 'n2') && b.mismatches.some((m) => m.node === 'n1');
    }, 20_000, 200, 'n1 serves all 8 buckets, n2 none, both see the mismatch');
    await daemons.get(1)!.waitFor(/node list or bucket count differs from n2's \(10\.9\.4\.2\)/, 1000);
    await daemons.get(2)!.waitFor(/sharing web: not serving any bucket: 1 node\(s\) with another node list or bucket count \(10\.9\.4\.1\)/, 1000);
    const text = (await run(carpoolArgv(lan.host(2).ns, ['status', '--socket', wd.path('n2.sock')]))).stdout;
    expect(text).toContain('NOT SERVING');
    expect(text).toMatch(/node list or bucket count differs from n1's \(10\.9\.4\.1\): \d+ bad digest/);

    const out = (await run(inNs(lan.client!.ns, [process.execPath, '--import', 'tsx', FLOWS, 'burst', VIP, '400', '20', '10.9.4', '101', '10']), { timeoutMs: 60_000 })).stdout;
    const r = JSON.parse(out) as { served: Record<string, number>; errors: Record<string, number> };
    console.log(`sharing mismatch: 400 flows -> ${JSON.stringify(r)}`);
    expect(r.errors).toEqual({});
    expect(r.served).toEqual({ n1: 400 });
  }, 60_000);
});
