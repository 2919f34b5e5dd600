/**
 * Load-shared routing (issue 15, the symmetric option for firewalls): three router nodes between
 * LAN A (clients, 10.9.10.0/24) and LAN B (a real nginx server, 10.9.11.4), each LAN with one
 * shared gateway address (10.9.10.254 / 10.9.11.254) and its multicast MAC; 64 buckets, one CARP
 * election each, hash `symmetric-ports`. Traffic is routed *through* the nodes: every connection
 * must be answered, and both directions of each flow must go through the same node — counted
 * from each router's conntrack table (an entry is ASSURED only when its router saw the reply:
 * the entries add up to the connections and no flow is on two routers). TCP replies stay with
 * their flow through conntrack alone; UDP shows what the symmetric hash adds: with the outside
 * hashing in the inside's order, 412 of 600 flows got every reply three times (tried once). A dead router's
 * buckets go to the survivors without touching their long-lived connections, and it takes its
 * buckets back when it returns.
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

const A = '10.9.10';
const B = '10.9.11';
const SERVER = `${B}.4`;
const FLOWS = fileURLToPath(new URL('./fixtures/flows.ts', import.meta.url));
const UDP = fileURLToPath(new URL('./fixtures/udp.ts', import.meta.url));
const ROUTERS = [1, 2, 3];
type Burst = { served: Record<string, number>; errors: Record<string, number> };
type Held = { nodes: Record<string, number>; errors: Record<string, number>; answers: number; src: string; maxGapMs: number }[];

describe.skipIf(!isRoot)(`load-shared gateway: three routers, symmetric buckets (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  // h1..h3: routers (eth0 on LAN A, eth1 on LAN B); h4: the server (LAN B only); c: the clients.
  const lan = useLab('shgw', { hosts: 4, lans: 2, subnet: A, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const daemons = new Map<number, Proc>();
  const sideB = (n: number) => lan.extra[0]![n - 1]!;

  const config = (n: number) => wd.write(`n${n}.yaml`, [
    `control_socket: ${wd.path(`n${n}.sock`)}`,
    `state_dir: ${wd.path(`n${n}`)}`,
    'instances: []',
    'sharing:',
    '  - name: fw',
    `    inside: { address: ${A}.254/24, interface: eth0 }`,
    `    outside: { address: ${B}.254/24, interface: eth1 }`,
    '    hash: symmetric-ports',
    '    vhid_base: 100',
    '    buckets: 64',
    '    password: share',
    `    nodes: [{ name: n1, address: ${A}.1 }, { name: n2, address: ${A}.2 }, { name: n3, address: ${A}.3 }]`,
    '',
  ].join('\n'), 0o600);
  const startDaemon = (n: number) => daemons.set(n, procs.add(new Proc(`n${n}`, carpoolArgv(lan.host(n).ns, ['run', '-c', config(n)]))));
  const sharing = async (n: number): Promise<SharingStatus | undefined> => {
    const r = await run(carpoolArgv(lan.host(n).ns, ['status', '--json', '--socket', wd.path(`n${n}.sock`)]), { allowFail: true });
    if (r.code !== 0) return undefined;
    const doc = JSON.parse(r.stdout) as DaemonStatus | DaemonStatus[];
    return ((Array.isArray(doc) ? doc[0] : doc)?.sharing as SharingStatus[] | undefined)?.[0];
  };
  const partitioned = async (nodes: number[]): Promise<boolean> => {
    const sets = await Promise.all(nodes.map(sharing));
    if (sets.some((s) => !s)) return false;
    const all = sets.flatMap((s) => s!.local);
    return all.length === 64 && new Set(all).size === 64;
  };
  const flows = async (mode: 'burst' | 'hold', a: number, b: number, port: number): Promise<string> =>
    (await run(inNs(lan.client!.ns, [process.execPath, '--import', 'tsx', FLOWS, mode, SERVER, String(a), String(b), A, '101', '40', String(port)]), { timeoutMs: 120_000 })).stdout;
  /** `count` connections from 40 client addresses, source ports `port`.. (unique tuples). */
  const burst = async (count: number, port: number): Promise<Burst> => JSON.parse(await flows('burst', count, 100, port)) as Burst;
  /**
   * Each router's conntrack entries of flows between a client and the server's `port`, by the
   * client's `address:port` (whichever direction the entry was made in) → whether the router saw
   * both directions (TCP: ASSURED, the handshake seen; UDP: not UNREPLIED — UDP is ASSURED only
   * after 2 s).
   */
  const tracked = async (n: number, proto: 'tcp' | 'udp', port: number): Promise<Map<string, boolean>> => {
    const r = await run(inNs(lan.host(n).ns, ['conntrack', '-L', '-p', proto]), { allowFail: true });
    const out = new Map<string, boolean>();
    const both = (line: string) => (proto === 'tcp' ? line.includes('[ASSURED]') : !line.includes('[UNREPLIED]'));
    for (const line of r.stdout.split('\n')) {
      const m = /src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) /.exec(line);
      if (!m) continue;
      const [, src, dst, sport, dport] = m;
      if (src === SERVER && Number(sport) === port) out.set(`${dst}:${dport}`, both(line));
      else if (dst === SERVER && Number(dport) === port) out.set(`${src}:${sport}`, both(line));
    }
    return out;
  };
  /** Per router, the flows of a burst (client source ports `port`..`port + 49`) in its conntrack table. */
  const perRouter = async (routers: number[], port: number, proto: 'tcp' | 'udp' = 'tcp'): Promise<Map<number, Map<string, boolean>>> => {
    const inBurst = (k: string) => { const p = Number(k.split(':')[1]); return p >= port && p < port + 50; };
    return new Map(await Promise.all(routers.map(async (n) => [n, new Map([...(await tracked(n, proto, proto === 'tcp' ? 80 : 7007))].filter(([k]) => inBurst(k)))] as const)));
  };
  /** Every flow on exactly one router, which saw both directions; returns the count per router. */
  const attribution = (per: Map<number, Map<string, boolean>>, expected: number): Record<string, number> => {
    const seen = new Map<string, number>();
    for (const [n, flowsOf] of per) {
      for (const [k, assured] of flowsOf) {
        expect(seen.get(k), `flow ${k} on router ${seen.get(k)} and ${n}`).toBeUndefined();
        expect(assured, `flow ${k} on router ${n} without its reply direction`).toBe(true);
        seen.set(k, n);
      }
    }
    expect(seen.size).toBe(expected);
    return Object.fromEntries([...per].map(([n, f]) => [`n${n}`, f.size]));
  };

  it('every routed connection is answered, both directions through one router, evenly', async () => {
    const client = lan.client!.ns;
    for (let k = 101; k <= 140; k++) await run(inNs(client, ['ip', 'addr', 'add', `${A}.${k}/24`, 'dev', 'eth0']));
    await run(inNs(client, ['ip', 'route', 'add', `${B}.0/24`, 'via', `${A}.254`]));
    // The server is on LAN B only; its way back to LAN A is the outside gateway address.
    await run(inNs(lan.host(4).ns, ['ip', 'link', 'set', 'eth0', 'down']));
    await run(inNs(lan.host(4).ns, ['ip', 'route', 'add', `${A}.0/24`, 'via', `${B}.254`]));
    for (const n of ROUTERS) await run(inNs(lan.host(n).ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    const dir = wd.path('nginx');
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/nginx.conf`, `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 4096; }\n`
      + `http { access_log off; keepalive_timeout 300s; keepalive_requests 1000000; client_body_temp_path ${dir};\n`
      + `  server { listen ${SERVER}:80 backlog=4096; location / { return 200 "srv\\n"; } } }\n`);
    const echo = procs.add(new Proc('udp-echo', inNs(lan.host(4).ns, [process.execPath, '--import', 'tsx', UDP, 'echo', SERVER, '7007'])));
    await echo.waitFor(/listening/, 15_000);
    procs.add(new Proc('nginx', inNs(lan.host(4).ns, ['nginx', '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'])));
    await until(async () => (await run(inNs(lan.host(4).ns, ['ss', '-Hltn', `src ${SERVER}:80`]))).stdout.includes(':80'), 10_000, 100, 'nginx listening');
    for (const n of ROUTERS) startDaemon(n);
    const settled = async () => (await partitioned(ROUTERS)) && (await Promise.all(ROUTERS.map(sharing))).every((x) => (x?.local.length ?? 0) >= 21);
    await until(settled, 30_000, 200, 'all 64 buckets served, each by one router');
    await new Promise((r) => setTimeout(r, 1500));
    await until(settled, 10_000, 200, 'the layout stays settled');
    const st = await sharing(1);
    expect(st?.outside).toBe(`${B}.254/24 on eth1`);
    expect(st?.hash).toBe('symmetric-ports');

    const r = await burst(2000, 20000);
    expect(r.errors).toEqual({});
    expect(r.served).toEqual({ srv: 2000 });
    const counts = attribution(await perRouter(ROUTERS, 20000), 2000);
    console.log(`gateway: 2000 routed connections -> answered ${r.served.srv}, errors ${JSON.stringify(r.errors)}, conntrack per router ${JSON.stringify(counts)}`);
    for (const k of Object.values(counts)) expect(Math.abs(k - 2000 / 3) / (2000 / 3)).toBeLessThanOrEqual(0.1);

    // UDP, where conntrack alone does not keep a reply on its flow's router (a reply no router
    // tracks is hashed like a new flow): 600 flows of two datagrams each, every one answered
    // exactly twice — a reply hashed into another router's bucket would be forwarded twice.
    const udp = JSON.parse((await run(inNs(client, [process.execPath, '--import', 'tsx', UDP, 'flows', SERVER, '7007', '600', A, '101', '40', '40000']), { timeoutMs: 60_000 })).stdout) as { flows: number; replies: Record<string, number> };
    const udpPer = await perRouter(ROUTERS, 40000, 'udp');
    const udpCounts = attribution(udpPer, 600);
    console.log(`gateway: 600 UDP flows x 2 datagrams -> flows by replies received ${JSON.stringify(udp.replies)}, conntrack per router ${JSON.stringify(udpCounts)}`);
    expect(udp.replies).toEqual({ 2: 600 });
    // The client learnt the shared MAC for its gateway, the server for its own.
    expect((await run(inNs(client, ['ip', 'neigh', 'show', `${A}.254`]))).stdout).toContain('01:00:5e:09:0a:fe');
    expect((await run(inNs(lan.host(4).ns, ['ip', 'neigh', 'show', `${B}.254`]))).stdout).toContain('01:00:5e:09:0b:fe');
  }, 90_000);

  it("a dead router's buckets go to the survivors, whose connections are untouched; it takes them back", async () => {
    const held = flows('hold', 30, 22, 30000); // 30 keep-alive connections, a request every 100 ms for 22 s
    await until(async () => [...(await perRouter(ROUTERS, 30000)).values()].reduce((x, m) => x + m.size, 0) === 30, 5000, 100, 'the 30 held connections tracked');
    const heldOn = new Map<string, number>();
    for (const [n, f] of await perRouter(ROUTERS, 30000)) for (const k of f.keys()) heldOn.set(k, n);

    await cutLink(lan, lan.host(3));
    await cutLink(lan, sideB(3));
    await daemons.get(3)!.stop('SIGKILL');
    await until(() => partitioned([1, 2]), 15_000, 100, 'n1 and n2 serve all buckets');
    const during = await burst(2000, 20100);
    expect(during.errors).toEqual({});
    const duringCounts = attribution(await perRouter([1, 2], 20100), 2000);
    console.log(`gateway: n3 dead, 2000 connections -> errors ${JSON.stringify(during.errors)}, conntrack per router ${JSON.stringify(duringCounts)}`);

    // It comes back as after a reboot: no stale rules, no conntrack state, links up, daemon started.
    await run(inNs(lan.host(3).ns, ['nft', 'flush', 'ruleset']));
    await run(inNs(lan.host(3).ns, ['conntrack', '-F']), { allowFail: true });
    await restoreLink(lan, lan.host(3));
    await restoreLink(lan, sideB(3));
    startDaemon(3);
    await until(async () => (await partitioned(ROUTERS)) && ((await sharing(3))?.local.length ?? 0) >= 21, 20_000, 100, 'n3 serves its buckets again');
    const after = await burst(2000, 20200);
    expect(after.errors).toEqual({});
    const afterCounts = attribution(await perRouter(ROUTERS, 20200), 2000);
    console.log(`gateway: n3 back, 2000 connections -> errors ${JSON.stringify(after.errors)}, conntrack per router ${JSON.stringify(afterCounts)}`);
    expect(afterCounts.n3).toBeGreaterThan(0);

    const conns = JSON.parse(await held) as Held;
    const onSurvivors = conns.filter((c) => heldOn.get(c.src) !== 3);
    console.log(`gateway: held connections: ${conns.length}, on survivors ${onSurvivors.length} (errors ${JSON.stringify(onSurvivors.map((c) => c.errors).filter((e) => Object.keys(e).length))}, `
      + `answers ${Math.min(...onSurvivors.map((c) => c.answers))}..${Math.max(...onSurvivors.map((c) => c.answers))}, longest wait ${Math.max(...onSurvivors.map((c) => c.maxGapMs))} ms); `
      + `on n3: ${conns.length - onSurvivors.length} (errors ${JSON.stringify(conns.filter((c) => heldOn.get(c.src) === 3).map((c) => c.errors))})`);
    expect(heldOn.size).toBe(30);
    expect(onSurvivors.length).toBeGreaterThan(0);
    for (const c of onSurvivors) {
      expect(c.errors, c.src).toEqual({}); // zero resets, none stalled, through the failure and the hand-back
      expect(c.answers, c.src).toBeGreaterThan(150);
    }
    // Still on the router they started on, and only there.
    const end = await perRouter(ROUTERS, 30000);
    for (const c of onSurvivors) expect(ROUTERS.filter((n) => end.get(n)!.has(c.src)), c.src).toEqual([heldOn.get(c.src)]);
  }, 90_000);
});
