/**
 * Load balancing with direct routing (DR), end to end, and director failover: two directors
 * running carpool with the same keepalived.conf (a VRRP instance moving the VIP, two
 * `virtual_server VIP PORT { lb_kind DR }`: one `lb_algo mh` + `mh-port`, one `lb_algo sh` +
 * `sh-port`), two real servers holding the VIP on `lo` with arp_ignore=1 / arp_announce=2 (seed
 * 002 §5.3.3) running a TCP echo service that greets with its name, and a client on the same LAN.
 * New connections spread over both servers; long-lived connections, exercised every 50 ms,
 * survive the cut of director 1 (link down) with zero resets, because director 2 hashes every
 * established flow onto the same real server with no state shared; a killed real server gets
 * no new connection, and one drained by a failed checker with inhibit_on_failure keeps its
 * established ones. TUN: on a kernel without ipip `carpool check` and `carpool run` say so
 * (TUN_UNSUPPORTED) and leave nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { run } from '../../../src/lib/exec.js';
import { cutLink } from '../../../src/lab/netns.js';
import { ipipSupport } from '../../../src/balancer/shell/direct.js';
import type { BalancersStatus } from '../../../src/control/status.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';

const NET = '10.126.0';
const VIP = `${NET}.100`;
const PORTS = { mh: 7000, sh: 7001 } as const;
/** The mh service's checkers connect here (closed to fail a server that keeps serving). */
const HEALTH = 7100;
const EVERY_MS = 50;
/** Long-lived connections per real server and service. */
const PER_SERVER = 3;

/** Real server: greets each connection with its name, then echoes lines; SIGUSR2 closes the health port. */
const SERVER = `import net from 'node:net';
const [name, health, ...ports] = process.argv.slice(2);
for (const port of ports) {
  net.createServer((s) => {
    s.on('error', () => {});
    s.setNoDelay(true);
    s.write(name + '\\n');
    s.pipe(s);
  }).listen(Number(port), '0.0.0.0', () => console.log('listening ' + port));
}
const h = net.createServer((s) => s.destroy()).listen(Number(health), '0.0.0.0');
process.on('SIGUSR2', () => { h.close(); console.log('health closed'); });
`;

/**
 * Client. \`short VIP PORT N\`: N connections one after the other, prints the count per greeting.
 * \`long VIP PORT K EVERY\`: opens connections until each of two servers holds K (at most 40),
 * then writes a counter line on each every EVERY ms and checks its echo; every 200 ms prints the
 * largest number of lines not echoed yet (a huge one once a connection failed); on SIGTERM prints per
 * connection what was sent, echoed, the errors, whether it closed and the longest echo gap.
 */
const CLIENT = `import net from 'node:net';
const [mode, host, port, n, every] = process.argv.slice(2);
const open = () => new Promise((resolve) => {
  const c = { server: undefined, sent: 0, echoed: 0, errors: [], closed: false, maxGapMs: 0, last: 0 };
  const s = net.connect({ host, port: Number(port) });
  c.socket = s;
  s.setNoDelay(true);
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    for (let k = buf.indexOf('\\n'); k >= 0; k = buf.indexOf('\\n')) {
      const line = buf.slice(0, k);
      buf = buf.slice(k + 1);
      const now = performance.now();
      if (c.server === undefined) { c.server = line; c.last = now; resolve(c); continue; }
      if (line === String(c.echoed)) { c.echoed++; c.maxGapMs = Math.max(c.maxGapMs, now - c.last); c.last = now; }
      else c.errors.push('unexpected ' + line);
    }
  });
  s.on('error', (e) => { c.errors.push(e.code || e.message); resolve(c); });
  s.on('close', () => { c.closed = true; resolve(c); });
  setTimeout(() => { if (c.server === undefined) { c.errors.push('no greeting'); s.destroy(); resolve(c); } }, 2000);
});
if (mode === 'short') {
  const counts = {};
  for (let i = 0; i < Number(n); i++) {
    const c = await open();
    const who = c.server ?? 'failed:' + c.errors.join(',');
    counts[who] = (counts[who] ?? 0) + 1;
    c.socket.destroy();
  }
  console.log(JSON.stringify(counts));
} else {
  const conns = [];
  const per = {};
  for (let i = 0; i < 40 && !(Object.keys(per).length >= 2 && Object.values(per).every((v) => v >= Number(n))); i++) {
    const c = await open();
    if (c.server === undefined) { console.log(JSON.stringify({ error: c.errors })); process.exit(1); }
    if ((per[c.server] ?? 0) >= Number(n)) { c.socket.destroy(); continue; }
    per[c.server] = (per[c.server] ?? 0) + 1;
    conns.push(c);
  }
  for (const c of conns) {
    c.timer = setInterval(() => { if (!c.closed) { c.socket.write(c.sent + '\\n'); c.sent++; } }, Number(every));
  }
  console.log(JSON.stringify({ ready: per }));
  setInterval(() => console.log(JSON.stringify({ lag: Math.max(...conns.map((c) => (c.closed || c.errors.length ? 1e9 : c.sent - c.echoed))) })), 200);
  process.on('SIGTERM', () => {
    const now = performance.now();
    const out = conns.map((c) => ({ server: c.server, sent: c.sent, echoed: c.echoed, errors: c.errors, closed: c.closed,
      maxGapMs: Math.round(Math.max(c.maxGapMs, now - c.last)) }));
    console.log(JSON.stringify({ summary: out }));
    process.exit(0);
  });
}
`;

interface ConnSummary { server: string; sent: number; echoed: number; errors: string[]; closed: boolean; maxGapMs: number }

const conf = (priority: number, kind = 'DR') => `global_defs {
  router_id d${priority}
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  version 3
  virtual_router_id 61
  priority ${priority}
  advert_int 0.3
  virtual_ipaddress {
    ${VIP}/24
  }
}
${Object.entries(PORTS).map(([algo, port]) => `virtual_server ${VIP} ${port} {
  delay_loop 1
  lb_algo ${algo}
  ${algo}-port
  lb_kind ${kind}
  protocol TCP
${['3', '4'].map((h) => `  real_server ${NET}.${h} ${port} {
${algo === 'mh' ? '    inhibit_on_failure\n' : ''}    TCP_CHECK {
${algo === 'mh' ? `      connect_port ${HEALTH}\n` : ''}      connect_timeout 1
      retry 0
    }
  }
`).join('')}}
`).join('')}`;

describe.skipIf(!isRoot)(`load balancing: DR, mh and sh, director failover without resets (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbdr', { hosts: 4, subnet: NET, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const directors = new Map<1 | 2, Proc>();
  const servers = new Map<3 | 4, Proc>();
  const socket = (d: 1 | 2) => wd.path(`run${d}/carpool.sock`);

  const startDirector = (d: 1 | 2, text: string, name = `director${d}`) => {
    mkdirSync(wd.path(`run${d}`), { recursive: true, mode: 0o700 });
    return procs.add(new Proc(name, carpoolArgv(lan.host(d).ns, ['run', '-c', wd.write(`${name}.conf`, text)]), { CARPOOL_RUN_DIR: wd.path(`run${d}`) }));
  };
  const balancers = async (d: 1 | 2) => (await status(socket(d))).balancers as BalancersStatus;
  const allUp = async (d: 1 | 2, want: Record<string, 'up' | 'down'> = { [`${NET}.3`]: 'up', [`${NET}.4`]: 'up' }) =>
    (await balancers(d)).services.every((s) => s.servers.every((r) => r.health === want[r.key.split(':')[0]!] && r.checkers.every((c) => c.last)))
    && (await balancers(d)).plane.inForce;
  const client = (args: string[]) => inNs(lan.client!.ns, [process.execPath, wd.path('client.mjs'), ...args]);
  const short = async (port: number, n: number) => JSON.parse((await run(client(['short', VIP, String(port), String(n)]), { timeoutMs: 30_000 })).stdout) as Record<string, number>;
  const nft = async (d: number, what: string[]) => (await run(inNs(lan.host(d).ns, ['nft', ...what]), { allowFail: true })).stdout;

  it('two directors hold the same DR rules; new connections spread over both real servers', async () => {
    wd.write('server.mjs', SERVER);
    wd.write('client.mjs', CLIENT);
    for (const h of [3, 4] as const) {
      const ns = lan.host(h).ns;
      // Seed 002 §5.3.3: no ARP for the VIP from a real server, which holds it on lo.
      await run(inNs(ns, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.eth0.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2']));
      await run(inNs(ns, ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo']));
      const p = procs.add(new Proc(`server-h${h}`, inNs(ns, [process.execPath, wd.path('server.mjs'), `h${h}`, String(HEALTH), String(PORTS.mh), String(PORTS.sh)])));
      servers.set(h, p);
      await p.waitFor(new RegExp(`listening ${PORTS.sh}`), 5000);
    }
    directors.set(1, startDirector(1, conf(150)));
    directors.set(2, startDirector(2, conf(100)));
    await until(() => carpoolVrrpState(directors.get(1)!, 'VI_1') === 'MASTER' && carpoolVrrpState(directors.get(2)!, 'VI_1') === 'BACKUP', 15_000, 100, 'd1 MASTER, d2 BACKUP');
    await until(async () => (await allUp(1)) && (await allUp(2)), 15_000, 100, 'both directors see both real servers up');
    for (const d of [1, 2]) {
      const t = await nft(d, ['list', 'table', 'netdev', 'carpool']);
      expect(t).toMatch(/hook ingress device "eth0"/);
      expect(t).toMatch(new RegExp(`fwd ip to meta mark map @vs\\d+_servers device "eth0"`));
    }
    const text = (await run(carpoolArgv(lan.host(1).ns, ['status', '-s', socket(1)]))).stdout;
    expect(text).toMatch(new RegExp(`${VIP}:${PORTS.mh}/tcp mh dr`));
    for (const port of Object.values(PORTS)) {
      const counts = await short(port, 20);
      console.log(`DR spread, port ${port}, 20 new connections: ${JSON.stringify(counts)}`);
      expect(Object.keys(counts).sort()).toEqual(['h3', 'h4']);
      expect(counts.h3! + counts.h4!).toBe(20);
    }
  }, 60_000);

  it('long-lived connections survive the cut of director 1 with zero resets (mh and sh)', async () => {
    const longs = Object.entries(PORTS).map(([algo, port]) =>
      procs.add(new Proc(`client-${algo}`, client(['long', VIP, String(port), String(PER_SERVER), String(EVERY_MS)]))));
    for (const c of longs) await c.waitFor(/"ready"/, 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    await cutLink(lan, lan.host(1));
    await until(() => carpoolVrrpState(directors.get(2)!, 'VI_1') === 'MASTER', 10_000, 20, 'd2 MASTER');
    const failoverMs = Date.now() - t0;
    // Every connection has caught up through director 2 (TCP retransmits after its back-off),
    // then goes on for another second.
    const from = longs.map((c) => c.lines.length);
    await until(() => longs.every((c, i) => c.lines.slice(from[i]).some((l) => /"lag":[0-2]\}/.test(l))), 20_000, 50, 'all connections caught up');
    await new Promise((r) => setTimeout(r, 1000));
    const summaries: ConnSummary[] = [];
    for (const [i, c] of longs.entries()) {
      await c.stop('SIGTERM');
      const line = c.lines.find((l) => l.includes('"summary"'));
      expect(line, `client ${i} summary`).toBeDefined();
      const s = (JSON.parse(line!) as { summary: ConnSummary[] }).summary;
      console.log(`DR failover, ${Object.keys(PORTS)[i]}: ${s.map((x) => `${x.server} sent ${x.sent} echoed ${x.echoed} errors ${x.errors.length} gap ${x.maxGapMs} ms`).join('; ')}`);
      summaries.push(...s);
    }
    console.log(`DR failover: d2 MASTER ${failoverMs} ms after the cut; ${summaries.length} connections, `
      + `${summaries.filter((x) => x.errors.length || x.closed).length} reset or failed, longest echo gap ${Math.max(...summaries.map((x) => x.maxGapMs))} ms`);
    expect(summaries).toHaveLength(2 * 2 * PER_SERVER);
    for (const s of summaries) {
      expect(s.errors).toEqual([]);
      expect(s.closed).toBe(false);
      // Every line sent before, during and after the cut came back (but the last in flight).
      expect(s.sent - s.echoed).toBeLessThanOrEqual(2);
      expect(s.echoed).toBeGreaterThan((2000 + failoverMs) / EVERY_MS / 2);
    }
    // Director 2 carried them: its flow maps learnt them without any state from director 1.
    const flows = await nft(2, ['list', 'table', 'netdev', 'carpool']);
    expect(flows).toMatch(/vs\d+_flows[\s\S]*elements = \{/);
  }, 60_000);

  it('a failed real server with inhibit_on_failure (weight 0) keeps its connections and gets no new one', async () => {
    const long = procs.add(new Proc('client-drain', client(['long', VIP, String(PORTS.mh), '2', String(EVERY_MS)])));
    await long.waitFor(/"ready"/, 20_000);
    servers.get(4)!.signal('SIGUSR2');
    await until(async () => (await balancers(2)).services[0]!.servers.find((r) => r.key.startsWith(`${NET}.4:`))?.weight === 0 && (await balancers(2)).plane.inForce,
      10_000, 50, 'h4 inhibited (weight 0) on director 2');
    expect(await short(PORTS.mh, 10)).toEqual({ h3: 10 });
    await new Promise((r) => setTimeout(r, 500));
    await long.stop('SIGTERM');
    const s = (JSON.parse(long.lines.find((l) => l.includes('"summary"'))!) as { summary: ConnSummary[] }).summary;
    console.log(`DR drain: ${s.map((x) => `${x.server} sent ${x.sent} echoed ${x.echoed} errors ${x.errors.length}`).join('; ')}`);
    expect(s.filter((x) => x.server === 'h4')).toHaveLength(2);
    for (const x of s) {
      expect(x.errors).toEqual([]);
      expect(x.sent - x.echoed).toBeLessThanOrEqual(2);
    }
  }, 30_000);

  it('a killed real server gets no new connection', async () => {
    await servers.get(4)!.stop('SIGKILL');
    await until(() => allUp(2, { [`${NET}.3`]: 'up', [`${NET}.4`]: 'down' }), 10_000, 50, 'h4 down on director 2');
    for (const port of Object.values(PORTS)) expect(await short(port, 10)).toEqual({ h3: 10 });
  }, 30_000);

  it('a clean stop removes the netdev table', async () => {
    expect((await directors.get(2)!.stop('SIGTERM', 10_000)).code).toBe(0);
    expect(await nft(2, ['list', 'tables'])).not.toMatch(/carpool/);
    expect((await directors.get(1)!.stop('SIGTERM', 10_000)).code).toBe(0);
    expect(await nft(1, ['list', 'tables'])).not.toMatch(/carpool/);
  }, 30_000);

  it('TUN: a kernel without ipip is named at check and start, and nothing stays behind', async () => {
    const file = wd.write('tun.conf', conf(150, 'TUN'));
    const ns = lan.host(1).ns;
    const check = await run(carpoolArgv(ns, ['check', '-c', file]), { allowFail: true });
    const ipip = ipipSupport();
    if (ipip.verdict === 'no') {
      expect(check.code).toBe(3); // keepalived.conf: `keepalived -t`'s "cannot be run"
      expect(check.stderr).toMatch(/lb_kind TUN needs ipip tunnel devices: .*CONFIG_NET_IPIP/);
      expect(check.stderr).toMatch(/hint: .*modprobe ipip.*lb_kind DR/);
    } else {
      expect(check.code, check.stderr).toBe(0);
    }
    const d = startDirector(1, conf(150, 'TUN'), 'tun');
    const made = async () => (await run(inNs(ns, ['ip', 'link', 'show', 'cptun2']), { allowFail: true })).code === 0;
    await until(async () => !d.running || (await made()), 10_000, 100, 'TUN start refused or its devices made');
    if (!d.running) {
      // The kernel refused ipip (this machine: CONFIG_NET_IPIP is not set).
      const r = await d.exited;
      console.log(`TUN start on a kernel without ipip: exit ${r.code}: ${d.lines.filter((l) => /ipip|hint/.test(l)).join(' | ')}`);
      expect(r.code).toBe(2);
      expect(d.lines.join('\n')).toMatch(/cannot make the ipip tunnel to real server 10\.126\.0\.3 \(ip link add cptun1 type ipip remote 10\.126\.0\.3: /);
      expect(d.lines.join('\n')).toMatch(/hint: .*modprobe ipip/);
    } else {
      // A kernel with ipip: the devices live while carpool runs and go with it.
      expect(ipip.verdict).not.toBe('no');
      expect((await d.stop('SIGTERM', 10_000)).code).toBe(0);
    }
    expect((await run(inNs(ns, ['ip', '-o', 'link', 'show']))).stdout).not.toMatch(/cptun/);
    expect(await nft(1, ['list', 'tables'])).not.toMatch(/carpool/);
  }, 30_000);
});
