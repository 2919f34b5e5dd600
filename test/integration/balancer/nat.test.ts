/**
 * Load balancing with NAT, end to end: a director running carpool with a keepalived.conf
 * (a VRRP instance holding the VIP on the public LAN, a virtual_server VIP:80 lb_kind NAT
 * lb_algo rr over two real servers on the private LAN; HTTP_GET with the MD5 digest of the
 * page on one, TCP_CHECK on the other), two real servers running Debian's
 * nginx (each answers its own name; the director is their default gateway) and a client on
 * the public side. Requests are spread over both; a killed nginx leaves the pool within
 * delay_loop + connect_timeout (+ retries) and gets no new request; restarted, it comes
 * back; the carpool nftables table goes when the daemon stops.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { run } from '../../../src/lib/exec.js';
import type { BalancersStatus } from '../../../src/control/status.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { writeNginxConfig } from '../resources/cluster.js';

const NET = '10.124';
const VIP = `${NET}.0.100`;
const DELAY_LOOP_S = 1;
const CONNECT_TIMEOUT_S = 1;
const RETRY = 1;
const DELAY_BEFORE_RETRY_S = 1;

const CONF = `global_defs {
  router_id director
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
virtual_server ${VIP} 80 {
  delay_loop ${DELAY_LOOP_S}
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server ${NET}.1.2 80 {
    weight 1
    HTTP_GET {
      url {
        path /
        status_code 200
        digest ${createHash('md5').update('h2\n').digest('hex')}
      }
      connect_timeout ${CONNECT_TIMEOUT_S}
      retry ${RETRY}
      delay_before_retry ${DELAY_BEFORE_RETRY_S}
    }
  }
  real_server ${NET}.1.3 80 {
    weight 1
    TCP_CHECK {
      connect_timeout ${CONNECT_TIMEOUT_S}
      retry ${RETRY}
      delay_before_retry ${DELAY_BEFORE_RETRY_S}
    }
  }
}
`;

describe.skipIf(!isRoot)(`load balancing: NAT, rr, HTTP_GET + TCP_CHECK, nginx real servers (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbn', { hosts: 3, subnet: `${NET}.0`, lans: 2, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  let director: Proc;
  const nginx = new Map<number, Proc>();
  const socket = () => wd.path('run/carpool.sock');

  const startNginx = async (n: 2 | 3) => {
    const dir = wd.path(`h${n}`);
    mkdirSync(dir, { recursive: true });
    const file = writeNginxConfig(dir, `h${n}`, `${NET}.1.${n}`, 80);
    const p = procs.add(new Proc(`nginx-h${n}`, inNs(lan.host(n).ns, ['nginx', '-c', file, '-g', 'daemon off;'])));
    nginx.set(n, p);
    await until(async () => (await run(inNs(lan.host(n).ns, ['curl', '-s', '--max-time', '1', `http://${NET}.1.${n}/`]), { allowFail: true })).stdout.trim() === `h${n}`,
      5000, 50, `nginx on h${n}`);
  };
  /** One request from the client to the VIP: the real server's name, or undefined. */
  const get = async () => {
    const r = await run(inNs(lan.client!.ns, ['curl', '-s', '--max-time', '2', `http://${VIP}/`]), { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const spread = async (n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const who = (await get()) ?? 'failed';
      counts[who] = (counts[who] ?? 0) + 1;
    }
    return counts;
  };
  const balancers = async () => (await status(socket())).balancers as BalancersStatus;
  const health = async (key: string) => (await balancers()).services[0]!.servers.find((s) => s.key === key)?.health;
  const tables = async () => (await run(inNs(lan.host(1).ns, ['nft', 'list', 'tables']))).stdout;

  it('spreads requests to the VIP over both real servers (rr)', async () => {
    // Real servers live on the private LAN only, behind the director (their gateway).
    for (const n of [2, 3] as const) {
      await run(inNs(lan.host(n).ns, ['ip', 'link', 'set', 'eth0', 'down']));
      await run(inNs(lan.host(n).ns, ['ip', 'route', 'add', 'default', 'via', `${NET}.1.1`]));
    }
    await run(inNs(lan.host(1).ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    // A foreign table that must survive everything carpool does.
    await run(inNs(lan.host(1).ns, ['nft', 'add', 'table', 'ip', 'other']));
    await startNginx(2);
    await startNginx(3);
    mkdirSync(wd.path('run'), { recursive: true, mode: 0o700 });
    director = procs.add(new Proc('director', carpoolArgv(lan.host(1).ns, ['run', '-c', wd.write('keepalived.conf', CONF)]),
      { CARPOOL_RUN_DIR: wd.path('run') }));
    await until(() => carpoolVrrpState(director, 'VI_1') === 'MASTER', 10_000, 100, 'VI_1 MASTER');
    await until(async () => (await health(`${NET}.1.2:80`)) === 'up' && (await health(`${NET}.1.3:80`)) === 'up'
      && (await balancers()).services[0]!.servers.every((s) => s.checkers.every((c) => c.last?.ok)), 10_000, 100, 'both checked up');
    expect(await tables()).toMatch(/table ip carpool/);
    const counts = await spread(20);
    expect(counts.failed).toBeUndefined();
    // rr: strict alternation over the two.
    expect(counts.h2).toBe(10);
    expect(counts.h3).toBe(10);
    // rr has no count period: the status reads conntrack and the counters when asked.
    const conns = async () => (await balancers()).services[0]!.servers.map((s) => s.stats?.connections);
    await until(async () => (await conns()).join() === '10,10', 5000, 100, 'stats read on demand: 10 connections each');
    const text = (await run(carpoolArgv(lan.host(1).ns, ['status', '-s', socket()]))).stdout;
    expect(text).toMatch(new RegExp(`${VIP}:80/tcp rr nat`));
    expect(text).toMatch(new RegExp(`-> ${NET}.1.2:80  up  weight 1  active \\d+  inactive \\d+  HTTP_GET ${NET}.1.2:80 ok: /: status 200`));
  }, 60_000);

  it('a killed real server leaves within delay_loop + connect_timeout (+ retries); no new request reaches it', async () => {
    await nginx.get(3)!.stop('SIGTERM');
    const t0 = Date.now();
    await until(async () => (await health(`${NET}.1.3:80`)) === 'down', 15_000, 50, 'h3 down');
    const took = Date.now() - t0;
    const bound = (DELAY_LOOP_S + (RETRY + 1) * CONNECT_TIMEOUT_S + RETRY * DELAY_BEFORE_RETRY_S) * 1000 + 1000;
    expect(took).toBeLessThan(bound);
    await until(async () => (await balancers()).plane.inForce, 5000, 50, 'plane in force');
    const st = (await balancers()).services[0]!.servers.find((s) => s.key === `${NET}.1.3:80`)!;
    expect(st.weight).toBeNull();
    expect(st.checkers[0]!.last?.ok).toBe(false);
    const counts = await spread(10);
    expect(counts).toEqual({ h2: 10 });
    expect(director.lines.some((l) => l.includes(`real server ${NET}.1.3:80 down, removed`))).toBe(true);
  }, 30_000);

  it('a restarted real server comes back and gets requests again', async () => {
    await startNginx(3);
    await until(async () => (await health(`${NET}.1.3:80`)) === 'up', 10_000, 50, 'h3 up');
    await until(async () => (await balancers()).plane.inForce, 5000, 50, 'plane in force');
    const counts = await spread(10);
    expect(counts.h2).toBe(5);
    expect(counts.h3).toBe(5);
  }, 30_000);

  it('a clean stop removes the carpool table and leaves the others', async () => {
    const r = await director.stop('SIGTERM', 10_000);
    expect(r.code).toBe(0);
    const t = await tables();
    expect(t).not.toMatch(/carpool/);
    expect(t).toMatch(/table ip other/);
  }, 30_000);
});
