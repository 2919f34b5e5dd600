/**
 * Least-connection scheduling with NAT, end to end: a director running carpool with a
 * keepalived.conf whose virtual_server has no lb_algo (keepalived's default, wlc), two Debian
 * nginx real servers behind it, a client outside. Connections held open on one server make it
 * the loaded one: new connections go to the other, as IPVS's wlc sends them. The counts in
 * `carpool status --json` are the ones `conntrack -L` shows, and a paced burst of held
 * connections ends as close to IPVS's exact wlc as the count period allows (measured, printed
 * for docs/balancer.md).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { run } from '../../../src/lib/exec.js';
import type { BalancersStatus, DaemonStatus } from '../../../src/control/status.js';
import { pickWlc } from '../../../src/balancer/core/schedulers.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { writeNginxConfig } from '../resources/cluster.js';

const NET = '10.126';
const VIP = `${NET}.0.100`;
const H2 = `${NET}.1.2:80`;
const H3 = `${NET}.1.3:80`;
const HELD = 30;
const BURST = 40;

const CONF = `vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 52
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
virtual_server ${VIP} 80 {
  delay_loop 1
  lb_kind NAT
  protocol TCP
  real_server ${NET}.1.2 80 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server ${NET}.1.3 80 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`;

/** Opens N connections to VIP:80, one every `every` ms, prints `open N` and holds them until killed. */
const HOLDER = `const net = require('node:net');
const [vip, n, every] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const socks = [];
let open = 0;
const one = () => {
  const s = net.connect(80, vip, () => { if (++open === n) console.log('open ' + open); });
  s.on('error', (e) => console.log('error ' + e.message));
  socks.push(s);
  if (socks.length < n) setTimeout(one, every);
};
one();
setInterval(() => {}, 1 << 30);`;

describe.skipIf(!isRoot)(`load balancing: NAT, wlc (the default) from conntrack counts, nginx real servers (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbw', { hosts: 3, subnet: `${NET}.0`, lans: 2, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  let director: Proc;
  const socket = () => wd.path('run/carpool.sock');
  const balancers = async () => (await status(socket())).balancers as BalancersStatus;
  const server = async (key: string) => (await balancers()).services[0]!.servers.find((s) => s.key === key)!;

  const startNginx = async (n: 2 | 3) => {
    const dir = wd.path(`h${n}`);
    mkdirSync(dir, { recursive: true });
    const file = writeNginxConfig(dir, `h${n}`, `${NET}.1.${n}`, 80);
    procs.add(new Proc(`nginx-h${n}`, inNs(lan.host(n).ns, ['nginx', '-c', file, '-g', 'daemon off;'])));
    await until(async () => (await run(inNs(lan.host(n).ns, ['curl', '-s', '--max-time', '1', `http://${NET}.1.${n}/`]), { allowFail: true })).stdout.trim() === `h${n}`,
      5000, 50, `nginx on h${n}`);
  };
  const hold = async (n: number, everyMs: number) => {
    const p = procs.add(new Proc(`holder-${n}`, inNs(lan.client!.ns, [process.execPath, '-e', HOLDER, VIP, String(n), String(everyMs)])));
    await p.waitFor(new RegExp(`^open ${n}$`), 5000 + n * everyMs);
    expect(p.count(/^error/)).toBe(0);
    return p;
  };
  /** Counts per real server as `conntrack -L` lists them: flows to VIP:80 by reply source, ESTABLISHED = active. */
  const conntrackCounts = async () => {
    const out = (await run(inNs(lan.host(1).ns, ['conntrack', '-L', '-p', 'tcp', '--orig-dst', VIP, '--orig-port-dst', '80']), { allowFail: true })).stdout;
    const counts: Record<string, { active: number; inactive: number }> = {};
    for (const line of out.split('\n')) {
      const m = / (\w+) src=\S+ dst=\S+ sport=\d+ dport=80 .*?src=(\S+) dst=\S+ sport=(\d+)/.exec(line);
      if (!m) continue;
      const c = (counts[`${m[2]}:${m[3]}`] ??= { active: 0, inactive: 0 });
      if (m[1] === 'ESTABLISHED') c.active++;
      else c.inactive++;
    }
    return counts;
  };

  it('with one real server loaded by held connections, new connections go to the other', async () => {
    for (const n of [2, 3] as const) {
      await run(inNs(lan.host(n).ns, ['ip', 'link', 'set', 'eth0', 'down']));
      await run(inNs(lan.host(n).ns, ['ip', 'route', 'add', 'default', 'via', `${NET}.1.1`]));
    }
    await run(inNs(lan.host(1).ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    await startNginx(2);
    mkdirSync(wd.path('run'), { recursive: true, mode: 0o700 });
    director = procs.add(new Proc('director', carpoolArgv(lan.host(1).ns, ['run', '-c', wd.write('keepalived.conf', CONF)]), { CARPOOL_RUN_DIR: wd.path('run') }));
    await until(() => carpoolVrrpState(director, 'VI_1') === 'MASTER', 10_000, 100, 'VI_1 MASTER');
    await until(async () => (await server(H2)).health === 'up' && (await server(H3)).health === 'down', 10_000, 100, 'h2 up, h3 down');
    expect((await balancers()).services[0]!.scheduler).toBe('wlc');
    // With h3 down, the held connections all land on h2.
    await hold(HELD, 10);
    await until(async () => (await server(H2)).active === HELD, 5000, 100, `h2 active ${HELD}`);
    await startNginx(3);
    await until(async () => (await server(H3)).health === 'up' && (await balancers()).plane.inForce, 10_000, 100, 'h3 up');
    // Short requests, one after another: IPVS's wlc sends every one to h3 (h2 has 30 active, h3 none).
    const got: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      const r = await run(inNs(lan.client!.ns, ['curl', '-s', '--max-time', '2', `http://${VIP}/`]), { allowFail: true });
      const who = r.code === 0 ? r.stdout.trim() : 'failed';
      got[who] = (got[who] ?? 0) + 1;
    }
    console.info(`20 short requests with h2 holding ${HELD} connections: ${JSON.stringify(got)} (IPVS wlc: all 20 to h3)`);
    expect(got.failed).toBeUndefined();
    expect(got.h3 ?? 0).toBeGreaterThanOrEqual(18);
  }, 60_000);

  it('the counts in carpool status --json are the ones conntrack -L shows', async () => {
    const json = async () => {
      const r = await run(carpoolArgv(lan.host(1).ns, ['status', '--json', '-s', socket()]));
      const st = JSON.parse(r.stdout) as DaemonStatus | DaemonStatus[];
      const lb = (Array.isArray(st) ? st[0]! : st).balancers as BalancersStatus;
      return Object.fromEntries(lb.services[0]!.servers.map((s) => [s.key, { active: s.active, inactive: s.inactive }]));
    };
    // Both are read at slightly different moments: equal once a count period has passed with no new flow.
    let last = '';
    await until(async () => {
      const [a, b] = [await json(), await conntrackCounts()];
      last = `status ${JSON.stringify(a)} conntrack ${JSON.stringify(b)}`;
      return JSON.stringify(a) === JSON.stringify({ [H2]: b[H2] ?? { active: 0, inactive: 0 }, [H3]: b[H3] ?? { active: 0, inactive: 0 } });
    }, 5000, 200, 'status counts = conntrack counts').catch((e: Error) => { throw new Error(`${e.message}: ${last}`); });
    console.info(`counts: ${last}`);
    const h2 = await server(H2);
    expect(h2.active).toBe(HELD);
    // Totals since start (nft counters): the held connections and the short requests.
    const h3 = await server(H3);
    expect(h2.stats!.connections + h3.stats!.connections).toBeGreaterThanOrEqual(HELD + 20);
    expect(h3.stats!.packets).toBeGreaterThan(0);
    expect(h3.stats!.bytes).toBeGreaterThan(h3.stats!.packets * 40);
    const text = (await run(carpoolArgv(lan.host(1).ns, ['status', '-s', socket()]))).stdout;
    console.info(text.split('\n').filter((l) => /load balancer|->|total|wlc/.test(l)).join('\n'));
    expect(text).toMatch(new RegExp(`${VIP}:80/tcp wlc nat`));
    expect(text).toMatch(new RegExp(`-> ${H2}  up  weight 1  active ${HELD}  inactive \\d+`));
    expect(text).toMatch(/total \d+ conn, \S+ pkt, \S+B; rate/);
  }, 30_000);

  it('a paced burst of held connections evens the active counts out, close to IPVS wlc (measured)', async () => {
    const before = { h2: await server(H2), h3: await server(H3) };
    // IPVS wlc, one decision per connection, from the same starting counts (no flow ends meanwhile).
    const sim = [
      { key: H2, weight: 1, active: before.h2.active!, inactive: before.h2.inactive! },
      { key: H3, weight: 1, active: before.h3.active!, inactive: before.h3.inactive! },
    ];
    for (let i = 0; i < BURST; i++) {
      const k = pickWlc(sim)!;
      sim[k] = { ...sim[k]!, active: sim[k]!.active + 1 };
    }
    const t0 = Date.now();
    await hold(BURST, 50); // 20 per second: about 20 per count period (1 s)
    const took = Date.now() - t0;
    await until(async () => (await server(H2)).active! + (await server(H3)).active! === HELD + BURST, 5000, 200, 'all counted');
    const after = { h2: (await server(H2)).active!, h3: (await server(H3)).active! };
    const spread = Math.abs(after.h2 - after.h3);
    const exact = Math.abs(sim[0]!.active - sim[1]!.active);
    console.info(`burst of ${BURST} held connections in ${took} ms from h2 ${before.h2.active} / h3 ${before.h3.active} active: `
      + `carpool h2 ${after.h2} / h3 ${after.h3} (spread ${spread}); IPVS wlc h2 ${sim[0]!.active} / h3 ${sim[1]!.active} (spread ${exact})`);
    // Water-filling per period overshoots by at most about one period's connections.
    expect(spread).toBeLessThanOrEqual(exact + 12);
    expect(after.h3).toBeGreaterThan(after.h2 - 12);
  }, 30_000);

  it('a clean stop removes the carpool table', async () => {
    const r = await director.stop('SIGTERM', 10_000);
    expect(r.code).toBe(0);
    expect((await run(inNs(lan.host(1).ns, ['nft', 'list', 'tables']))).stdout).not.toMatch(/carpool/);
  }, 30_000);
});
