/**
 * Load sharing's switch modes (issue 15, docs/sharing.md "Switch modes") on a Linux bridge with
 * its defaults (learning on, ageing 300 s, `mcast_snooping 0` as every lab bridge): `unicast`
 * and `stealth` answer ARP with the unicast MAC 02:63:<address> that no node sends from, so the
 * bridge never learns it and floods every frame for it to both nodes; each node keeps only its
 * buckets. What tells the modes apart: a frame sent from a node with the shared MAC as source (a
 * misbehaving tool; injected here with a raw socket) teaches the bridge the MAC in `unicast`
 * mode — from then on the bridge sends all the address's traffic to that one port — while in
 * `stealth` mode the node's netdev egress chain drops (and counts) it and the bridge learns
 * nothing.
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

const VIP = '10.9.6.50';
const MAC = '02:63:0a:09:06:32';
const FLOWS = fileURLToPath(new URL('./fixtures/flows.ts', import.meta.url));
/** One Ethernet frame from `src` (experimental ethertype 0x88b5) out of eth0: a raw socket, the peer. */
const INJECT = (src: string) => 'import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(("eth0", 0))\n'
  + `try:\n  s.send(bytes.fromhex("ffffffffffff" + "${src.replace(/:/g, '')}" + "88b5") + bytes(46))\n  print("sent")\n`
  + 'except OSError as e:\n  print("refused", e.errno)\n';
const inject = async (n: string): Promise<string> => (await run(inNs(n, ['python3', '-c', INJECT(MAC)]))).stdout.trim();

describe.skipIf(!isRoot)(`load sharing switch modes on a Linux bridge (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('shmo', { hosts: 2, subnet: '10.9.6', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  const sharing = async (n: number): Promise<SharingStatus | undefined> => {
    const r = await run(carpoolArgv(lan.host(n).ns, ['status', '--json', '--socket', wd.path(`n${n}.sock`)]), { allowFail: true });
    if (r.code !== 0) return undefined;
    const doc = JSON.parse(r.stdout) as DaemonStatus | DaemonStatus[];
    return ((Array.isArray(doc) ? doc[0] : doc)?.sharing as SharingStatus[] | undefined)?.[0];
  };
  const learned = async () => (await run(inNs(lan.switchNs, ['bridge', 'fdb', 'show', 'br', 'br0']))).stdout.split('\n').filter((l) => l.startsWith(MAC));
  const burst = async (count: number) => JSON.parse((await run(inNs(lan.client!.ns,
    [process.execPath, '--import', 'tsx', FLOWS, 'burst', VIP, String(count), '20', '10.9.6', '101', '10']), { timeoutMs: 60_000 })).stdout) as
    { served: Record<string, number>; errors: Record<string, number> };

  const serve = async (mode: string) => {
    const daemons: Proc[] = [];
    for (const n of [1, 2]) {
      const cfg = wd.write(`${mode}-n${n}.yaml`, [
        `control_socket: ${wd.path(`n${n}.sock`)}`, `state_dir: ${wd.path(`n${n}`)}`, 'instances: []', 'sharing:',
        '  - name: web', `    address: ${VIP}/24`, '    interface: eth0', '    vhid_base: 100', '    buckets: 8', `    mode: ${mode}`,
        '    hash: sourceip-sourceport', '    password: share', '    nodes: [{ name: n1, address: 10.9.6.1 }, { name: n2, address: 10.9.6.2 }]', '',
      ].join('\n'), 0o600);
      daemons.push(procs.add(new Proc(`${mode}-n${n}`, carpoolArgv(lan.host(n).ns, ['run', '-c', cfg]))));
    }
    await until(async () => {
      const s = await Promise.all([1, 2].map(sharing));
      return s.every((x) => x?.local.length === 4) && new Set(s.flatMap((x) => x!.local)).size === 8;
    }, 20_000, 200, `${mode}: each node serves its 4 of 8 buckets`);
    await daemons[0]!.waitFor(new RegExp(`${mode} mode, ARP with ${MAC}`), 1000);
    return daemons;
  };
  const spreadOnce = async (mode: string) => {
    // The client resolves the address to the shared MAC, which the bridge has never seen as a source.
    const r = await burst(400);
    console.log(`sharing ${mode}: 400 flows -> ${JSON.stringify(r)}`);
    expect(r.errors).toEqual({});
    expect(Object.keys(r.served).sort()).toEqual(['n1', 'n2']);
    expect(r.served.n1! + r.served.n2!).toBe(400);
    for (const k of Object.values(r.served)) expect(k).toBeGreaterThan(100);
    const neigh = (await run(inNs(lan.client!.ns, ['ip', 'neigh', 'show', VIP]))).stdout;
    expect(neigh).toContain(`lladdr ${MAC}`);
    expect(await learned()).toEqual([]);
  };
  const stop = async (daemons: Proc[]) => {
    for (const d of daemons) await d.stop();
    for (const n of [1, 2]) {
      expect((await run(inNs(lan.host(n).ns, ['nft', 'list', 'tables']))).stdout).not.toContain('carpool_sharing');
      expect((await run(inNs(lan.host(n).ns, ['bridge', 'fdb', 'show', 'dev', 'eth0', 'self']))).stdout).not.toContain(MAC);
    }
    await run(inNs(lan.client!.ns, ['ip', 'neigh', 'flush', 'dev', 'eth0']));
  };

  it('unicast: the bridge floods the never-learnt MAC, both nodes serve; one frame from it and the bridge learns it', async () => {
    for (let k = 101; k <= 110; k++) await run(inNs(lan.client!.ns, ['ip', 'addr', 'add', `10.9.6.${k}/24`, 'dev', 'eth0']));
    for (const n of [1, 2]) {
      const dir = wd.path(`nginx${n}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/nginx.conf`, `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 1024; }\n`
        + `http { access_log off; client_body_temp_path ${dir};\n  server { listen 80; location / { return 200 "n${n}\\n"; } } }\n`);
      procs.add(new Proc(`nginx${n}`, inNs(lan.host(n).ns, ['nginx', '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'])));
    }
    const daemons = await serve('unicast');
    await spreadOnce('unicast');
    expect(await inject(lan.host(1).ns)).toBe('sent');
    // The hazard the mode lives with: the bridge now sends the address's frames to h1's port only.
    expect((await learned()).join('\n')).toMatch(new RegExp(`^${MAC} dev h1 master br0`));
    await run(inNs(lan.switchNs, ['bridge', 'fdb', 'del', MAC, 'dev', 'h1', 'master']));
    await stop(daemons);
  }, 60_000);

  it('stealth: the same spread; a frame from the shared MAC is dropped and counted on the node, the bridge learns nothing', async () => {
    const daemons = await serve('stealth');
    await spreadOnce('stealth');
    // The egress chain's drop reaches the sender as ENOBUFS (105).
    expect(await inject(lan.host(1).ns)).toBe('refused 105');
    await new Promise((r) => setTimeout(r, 200));
    expect(await learned()).toEqual([]);
    const out = (await run(inNs(lan.host(1).ns, ['nft', 'list', 'chain', 'netdev', 'carpool_sharing', 'web_out']))).stdout;
    expect(out).toMatch(/ether saddr 02:63:0a:09:06:32 counter packets 1 bytes \d+ drop/);
    await stop(daemons);
  }, 60_000);
});
