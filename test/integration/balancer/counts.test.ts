/**
 * Connection counts for `virtual_server fwmark N` and `virtual_server group NAME` (NAT), end to
 * end: a director running carpool with a keepalived.conf whose fwmark service and group service
 * have no lb_algo (keepalived's default, wlc), two Debian nginx real servers behind it, a client
 * outside. Every flow carries its service in its ct mark, so conntrack attributes it: with h2
 * holding long connections on both services, new connections go to h3; the counts in `carpool
 * balancer list` are the ones `conntrack -L` shows (matched there on VIP and port, the
 * reference); a paced burst on the fwmark service (no nft counters: its estimate of new
 * connections comes from conntrack ids) ends close to IPVS's exact wlc; and lblc on a fwmark
 * service that matches a whole destination range (the cache cluster case) keeps each
 * destination on one server.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { run } from '../../../src/lib/exec.js';
import type { BalancersStatus } from '../../../src/control/status.js';
import { pickWlc } from '../../../src/balancer/core/schedulers.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { writeNginxConfig } from '../resources/cluster.js';

const NET = '10.129';
const VIP = `${NET}.0.100`;
const VIP2 = `${NET}.0.101`;
/** Destinations of the lblc fwmark service (cache cluster): the client routes them through the director. */
const CACHE = `${NET}.5`;
const H2 = `${NET}.1.2:80`;
const H3 = `${NET}.1.3:80`;
/** Connections held open on h2 per address (fwmark: VIP:80; group: VIP:8080 and VIP2:8080). */
const HELD = 8;
/** The paced burst on the fwmark service. */
const BURST = 30;

const rs = (n: number, port = true) => `  real_server ${NET}.1.${n}${port ? ' 80' : ''} {
    TCP_CHECK {
      connect_timeout 1
      connect_port 80
      retry 0
    }
  }`;
const CONF = `vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 53
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
    ${VIP2}/24
  }
}
virtual_server fwmark 1 {
  delay_loop 1
  warmup 0
  lb_kind NAT
${rs(2)}
${rs(3)}
}
virtual_server_group web {
  ${VIP} 8080
  ${VIP2} 8080
}
virtual_server group web {
  delay_loop 1
  warmup 0
  lb_kind NAT
  protocol TCP
${rs(2)}
${rs(3)}
}
virtual_server fwmark 2 {
  delay_loop 1
  warmup 0
  lb_algo lblc
  lb_kind NAT
${rs(2, false)}
${rs(3, false)}
}
`;

/** The host's own marks (a table of its own): VIP:80 → 1, the cache range → 2. */
const MARKS = `table ip hostmarks {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    ip daddr ${VIP} tcp dport 80 meta mark set 1
    ip daddr ${CACHE}.0/24 tcp dport 80 meta mark set 2
  }
}
`;

/** Opens N connections to HOST:PORT, one every `every` ms, prints `open N` and holds them until killed. */
const HOLDER = `const net = require('node:net');
const [host, port, n, every] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
const socks = [];
let open = 0;
const one = () => {
  const s = net.connect(port, host, () => { if (++open === n) console.log('open ' + open); });
  s.on('error', (e) => console.log('error ' + e.message));
  socks.push(s);
  if (socks.length < n) setTimeout(one, every);
};
one();
setInterval(() => {}, 1 << 30);`;

type Counts = Record<string, { active: number; inactive: number }>;

describe.skipIf(!isRoot)(`load balancing: connection counts of fwmark and group services (NAT, wlc, lblc), nginx real servers (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbct', { hosts: 3, subnet: `${NET}.0`, lans: 2, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const socket = () => wd.path('run/carpool.sock');
  const ns = (n: number) => lan.host(n).ns;
  /** `carpool balancer list --json`: the counts per service name, per real server. */
  const listed = async (): Promise<BalancersStatus> => JSON.parse((await run(carpoolArgv(ns(1), ['balancer', 'list', '--json', '-s', socket()]))).stdout) as BalancersStatus;
  const countsOf = (b: BalancersStatus, name: string): Counts =>
    Object.fromEntries(b.services.find((s) => s.name === name)!.servers.map((s) => [s.key, { active: s.active ?? -1, inactive: s.inactive ?? -1 }]));
  /** The reference: `conntrack -L` on the director, flows to these VIP:port by reply source; ESTABLISHED = active. */
  const conntrackCounts = async (dests: readonly [string, number][]): Promise<Counts> => {
    const counts: Counts = { [H2]: { active: 0, inactive: 0 }, [H3]: { active: 0, inactive: 0 } };
    for (const [vip, port] of dests) {
      const out = (await run(inNs(ns(1), ['conntrack', '-L', '-p', 'tcp', '--orig-dst', vip, '--orig-port-dst', String(port)]), { allowFail: true })).stdout;
      for (const line of out.split('\n')) {
        const m = / (\w+) src=\S+ dst=\S+ sport=\d+ dport=\d+ .*?src=(\S+) dst=\S+ sport=(\d+)/.exec(line);
        if (!m) continue;
        const c = counts[`${m[2]}:${m[3]}`];
        if (!c) continue;
        if (m[1] === 'ESTABLISHED') c.active++;
        else c.inactive++;
      }
    }
    return counts;
  };
  const get = async (url: string) => {
    const r = await run(inNs(lan.client!.ns, ['curl', '-s', '--max-time', '2', url]), { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : 'failed';
  };
  const spread = async (url: string, n: number) => {
    const got: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const who = await get(url);
      got[who] = (got[who] ?? 0) + 1;
    }
    return got;
  };
  const hold = async (host: string, port: number, n = HELD, everyMs = 0) => {
    const p = procs.add(new Proc(`holder-${host}-${port}-${n}`, inNs(lan.client!.ns, [process.execPath, '-e', HOLDER, host, String(port), String(n), String(everyMs)])));
    await p.waitFor(new RegExp(`^open ${n}$`), 5000 + n * everyMs);
    expect(p.count(/^error/)).toBe(0);
  };
  const startNginx = async (n: 2 | 3) => {
    const dir = wd.path(`h${n}`);
    mkdirSync(dir, { recursive: true });
    const file = writeNginxConfig(dir, `h${n}`, `${NET}.1.${n}`, 80);
    procs.add(new Proc(`nginx-h${n}`, inNs(ns(n), ['nginx', '-c', file, '-g', 'daemon off;'])));
    await until(async () => (await run(inNs(ns(n), ['curl', '-s', '--max-time', '1', `http://${NET}.1.${n}/`]), { allowFail: true })).stdout.trim() === `h${n}`,
      5000, 50, `nginx on h${n}`);
  };
  const up = async (key: string, want: 'up' | 'down') => {
    const b = await listed();
    return b.plane.inForce && b.services.every((s) => s.servers.find((r) => r.key === key || r.key === key.replace(/:80$/, ''))!.health === want);
  };

  it('wlc on a fwmark and a group service: h2 holds connections on both, new ones go to h3; the listed counts are conntrack\'s', async () => {
    for (const n of [2, 3]) {
      await run(inNs(ns(n), ['ip', 'link', 'set', 'eth0', 'down']));
      await run(inNs(ns(n), ['ip', 'route', 'add', 'default', 'via', `${NET}.1.1`]));
    }
    await run(inNs(ns(1), ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    await run(inNs(ns(1), ['nft', '-f', '-']), { input: MARKS });
    await run(inNs(lan.client!.ns, ['ip', 'route', 'add', `${CACHE}.0/24`, 'via', VIP]));
    await startNginx(2);
    mkdirSync(wd.path('run'), { recursive: true, mode: 0o700 });
    const director = procs.add(new Proc('director', carpoolArgv(ns(1), ['run', '-c', wd.write('keepalived.conf', CONF)]), { CARPOOL_RUN_DIR: wd.path('run') }));
    await until(() => carpoolVrrpState(director, 'VI_1') === 'MASTER', 10_000, 100, 'VI_1 MASTER');
    await until(() => up(H2, 'up'), 10_000, 100, 'h2 up');
    expect((await listed()).services.map((s) => `${s.name} ${s.scheduler}`)).toEqual(['fwmark:1 wlc', 'group:web wlc', 'fwmark:2 lblc']);
    // With h3 down, the held connections all land on h2.
    await hold(VIP, 80);
    await hold(VIP, 8080);
    await hold(VIP2, 8080);
    await until(async () => {
      const b = await listed();
      return countsOf(b, 'fwmark:1')[H2]!.active === HELD && countsOf(b, 'group:web')[H2]!.active === 2 * HELD;
    }, 5000, 100, `h2 active ${HELD} (fwmark) and ${2 * HELD} (group)`);
    await startNginx(3);
    await until(() => up(H3, 'up'), 10_000, 100, 'h3 up');
    // Short requests, one after another: IPVS's wlc sends every one to h3 (h2 holds the connections).
    const fw = await spread(`http://${VIP}/`, 10);
    const g1 = await spread(`http://${VIP}:8080/`, 5);
    const g2 = await spread(`http://${VIP2}:8080/`, 5);
    console.info(`h2 holding ${HELD} per address; short requests: fwmark 1 ${JSON.stringify(fw)}, group web ${JSON.stringify(g1)} ${JSON.stringify(g2)} (IPVS wlc: all to h3)`);
    expect(fw.h3 ?? 0).toBeGreaterThanOrEqual(9);
    expect((g1.h3 ?? 0) + (g2.h3 ?? 0)).toBeGreaterThanOrEqual(9);
    expect([fw.failed, g1.failed, g2.failed]).toEqual([undefined, undefined, undefined]);

    // Both are read at slightly different moments: equal once a read falls in a quiet moment.
    let last = '';
    await until(async () => {
      const b = await listed();
      const [fwList, gList] = [countsOf(b, 'fwmark:1'), countsOf(b, 'group:web')];
      const [fwCt, gCt] = [await conntrackCounts([[VIP, 80]]), await conntrackCounts([[VIP, 8080], [VIP2, 8080]])];
      last = `fwmark 1: list ${JSON.stringify(fwList)} conntrack ${JSON.stringify(fwCt)}; group web: list ${JSON.stringify(gList)} conntrack ${JSON.stringify(gCt)}`;
      return JSON.stringify(fwList) === JSON.stringify(fwCt) && JSON.stringify(gList) === JSON.stringify(gCt);
    }, 5000, 200, 'listed counts = conntrack counts').catch((e: Error) => { throw new Error(`${e.message}: ${last}`); });
    console.info(`counts: ${last}`);
    const b = await listed();
    expect(countsOf(b, 'fwmark:1')[H2]!.active).toBe(HELD);
    expect(countsOf(b, 'group:web')[H2]!.active).toBe(2 * HELD);
    expect(countsOf(b, 'fwmark:1')[H3]!.inactive).toBeGreaterThanOrEqual(9);
    // The group's entries count in nft counters too (summed per server); a fwmark entry has none.
    expect(b.services.find((s) => s.name === 'group:web')!.servers.find((s) => s.key === H3)!.stats!.connections).toBeGreaterThanOrEqual(9);
    expect(b.services.find((s) => s.name === 'fwmark:1')!.servers[0]!.stats).toBeUndefined();
    // The text view shows the same numbers on the fwmark entry's servers.
    const text = (await run(carpoolArgv(ns(1), ['balancer', 'list', '-s', socket()]))).stdout;
    console.info(text);
    expect(text).toMatch(new RegExp(`FWM  1 wlc\\n  -> ${H2.replace(/\./g, '\\.')} +Masq +1 +${HELD} +0 +up`));
  }, 50_000);

  it('a paced burst of held connections on the fwmark service evens the active counts out, close to IPVS wlc (measured)', async () => {
    const before = countsOf(await listed(), 'fwmark:1');
    // IPVS wlc, one decision per connection, from the same starting counts (no flow ends meanwhile).
    const sim = [H2, H3].map((key) => ({ key, weight: 1, active: before[key]!.active, inactive: before[key]!.inactive }));
    for (let i = 0; i < BURST; i++) {
      const k = pickWlc(sim)!;
      sim[k] = { ...sim[k]!, active: sim[k]!.active + 1 };
    }
    const t0 = Date.now();
    await hold(VIP, 80, BURST, 50); // 20 per second: about 20 per count period (1 s); no counters: the period's new connections from conntrack ids
    const took = Date.now() - t0;
    let after: Counts = {};
    await until(async () => {
      after = countsOf(await listed(), 'fwmark:1');
      return after[H2]!.active + after[H3]!.active === before[H2]!.active + before[H3]!.active + BURST;
    }, 5000, 200, 'all counted');
    const spread = Math.abs(after[H2]!.active - after[H3]!.active);
    const exact = Math.abs(sim[0]!.active - sim[1]!.active);
    console.info(`fwmark 1: burst of ${BURST} held connections in ${took} ms from h2 ${before[H2]!.active} / h3 ${before[H3]!.active} active: `
      + `carpool h2 ${after[H2]!.active} / h3 ${after[H3]!.active} (spread ${spread}); IPVS wlc h2 ${sim[0]!.active} / h3 ${sim[1]!.active} (spread ${exact})`);
    // Water-filling per period overshoots by at most about one period's connections.
    expect(spread).toBeLessThanOrEqual(exact + 12);
  }, 20_000);

  it('lblc on a fwmark service over a destination range: each destination stays on one server', async () => {
    const dests = [1, 2, 3, 4].map((i) => `${CACHE}.${i}`);
    const by: Record<string, Record<string, number>> = {};
    for (const d of dests) by[d] = await spread(`http://${d}/`, 4);
    console.info(`lblc fwmark 2, 4 requests per destination: ${JSON.stringify(by)}`);
    for (const d of dests) {
      expect(by[d]!.failed).toBeUndefined();
      expect(Object.keys(by[d]!)).toHaveLength(1);
    }
    // The destinations' servers come from wlc: not all on one server.
    expect(new Set(dests.map((d) => Object.keys(by[d]!)[0])).size).toBe(2);
    // Counted like the others (a read younger than the count period is reused: wait for the next one).
    const total = async () => (await listed()).services.find((s) => s.name === 'fwmark:2')!.servers.reduce((a, s) => a + (s.active ?? 0) + (s.inactive ?? 0), 0);
    await until(async () => (await total()) === 16, 3000, 200, 'the 16 flows of fwmark 2 counted');
  }, 20_000);
});
