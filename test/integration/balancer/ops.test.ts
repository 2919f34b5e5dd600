/**
 * Operating the load balancer (issue 12 item 5), end to end: a director running carpool with a
 * keepalived.conf — a `virtual_server_group` of two VIPs (wrr), a second virtual server (rr)
 * and a `virtual_server fwmark 7` fed by the host's own marking rule — over Debian nginx real servers on a private LAN (the director is their gateway), a
 * client on the public side. Runtime commands (`carpool balancer weight|drain|add|remove`)
 * change the ruleset without a reload; a drained server's open connection finishes while new
 * ones go elsewhere; a reload that changes one service leaves the other's established
 * connection alone and does not put a failed server back.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../src/lib/exec.js';
import type { BalancersStatus } from '../../../src/control/status.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';

const NET = '10.127';
const VIP1 = `${NET}.0.100`;
const VIP2 = `${NET}.0.101`;
const VIP3 = `${NET}.0.102`;
/** Marked with fwmark 7 by the host's own nft rule; balanced by `virtual_server fwmark 7`. */
const VIP4 = `${NET}.0.103`;
const rs = (n: number) => `${NET}.1.${n}`;
/** A real server address nothing answers at: its checker fails, it stays down. */
const DEAD = rs(9);
/** The slow page: BIG bytes at RATE bytes/s (nginx limit_rate), a connection of some seconds. */
const BIG = 1_200_000;
const RATE = 200_000;

const checker = `    TCP_CHECK {
      connect_timeout 1
      retry 0
    }`;
const conf = (h2Weight: number) => `global_defs {
  router_id director
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP1}/24
    ${VIP2}/24
    ${VIP3}/24
    ${VIP4}/24
  }
}
virtual_server_group web {
  ${VIP1}-101 80
}
virtual_server group web {
  delay_loop 1
  warmup 0
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  real_server ${rs(2)} 80 {
    weight ${h2Weight}
${checker}
  }
  real_server ${rs(3)} 80 {
${checker}
  }
  real_server ${DEAD} 80 {
${checker}
  }
}
virtual_server ${VIP3} 80 {
  delay_loop 1
  warmup 0
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server ${rs(2)} 80 {
${checker}
  }
  real_server ${rs(3)} 80 {
${checker}
  }
}
virtual_server fwmark 7 {
  delay_loop 1
  warmup 0
  lb_algo rr
  lb_kind NAT
  real_server ${rs(2)} {
  }
  real_server ${rs(3)} {
  }
}
`;

describe.skipIf(!isRoot)(`load balancing operations: runtime commands, reload, virtual_server_group (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbo', { hosts: 4, subnet: `${NET}.0`, lans: 2, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  let director: Proc;
  const socket = () => wd.path('run/carpool.sock');
  const ns = (n: number) => lan.host(n).ns;

  const startNginx = async (n: number) => {
    const dir = wd.path(`h${n}`);
    for (const d of ['body', 'proxy', 'fcgi', 'uwsgi', 'scgi', 'www']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'www', 'big'), Buffer.alloc(BIG, `h${n}`));
    const file = join(dir, 'nginx.conf');
    // Workers as root: the test's directory is private (0700).
    writeFileSync(file, `user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen ${rs(n)}:80;
    location / { return 200 "h${n}\\n"; }
    location = /big { root ${dir}/www; limit_rate ${RATE}; }
  }
}
`);
    procs.add(new Proc(`nginx-h${n}`, inNs(ns(n), ['nginx', '-c', file, '-g', 'daemon off;'])));
    await until(async () => (await run(inNs(ns(n), ['curl', '-s', '--max-time', '1', `http://${rs(n)}/`]), { allowFail: true })).stdout.trim() === `h${n}`,
      5000, 50, `nginx on h${n}`);
  };
  const get = async (vip: string) => {
    const r = await run(inNs(lan.client!.ns, ['curl', '-s', '--max-time', '2', `http://${vip}/`]), { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : 'failed';
  };
  const spread = async (vip: string, n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const who = await get(vip);
      counts[who] = (counts[who] ?? 0) + 1;
    }
    return counts;
  };
  const balancers = async () => (await status(socket())).balancers as BalancersStatus;
  const service = async (name: string) => (await balancers()).services.find((s) => s.name === name)!;
  const server = async (svc: string, key: string) => (await service(svc)).servers.find((s) => s.key === key);
  const carpool = async (args: string[]) => run(carpoolArgv(ns(1), [...args, '-s', socket()]), { allowFail: true });
  /** A slow download from the client: resolves with curl's exit code and the bytes received. */
  const download = (vip: string) => run(inNs(lan.client!.ns, ['curl', '-s', '--max-time', '30', '-o', '/dev/null', '-w', '%{size_download}', `http://${vip}/big`]), { allowFail: true });
  /** Which real server (2 or 3) holds an established connection from the client now (the director's TCP_CHECKs left out). */
  const holder = async (): Promise<number | undefined> => {
    for (const n of [2, 3]) {
      const r = await run(inNs(ns(n), ['ss', '-Htn', 'state', 'established', `( sport = :80 ) and not dst ${NET}.1.1`]), { allowFail: true });
      if (r.stdout.trim()) return n;
    }
    return undefined;
  };

  it('a virtual_server_group of two VIPs balances both over the same real servers; the dead one stays out', async () => {
    for (const n of [2, 3, 4]) {
      await run(inNs(ns(n), ['ip', 'link', 'set', 'eth0', 'down']));
      await run(inNs(ns(n), ['ip', 'route', 'add', 'default', 'via', `${NET}.1.1`]));
    }
    await run(inNs(ns(1), ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    for (const n of [2, 3, 4]) await startNginx(n);
    mkdirSync(wd.path('run'), { recursive: true, mode: 0o700 });
    const file = wd.write('keepalived.conf', conf(1));
    director = procs.add(new Proc('director', carpoolArgv(ns(1), ['run', '-c', file]), { CARPOOL_RUN_DIR: wd.path('run') }));
    await until(() => carpoolVrrpState(director, 'VI_1') === 'MASTER', 10_000, 100, 'VI_1 MASTER');
    await until(async () => {
      const b = await balancers();
      return b.plane.inForce && b.services.every((s) => s.servers.every((r) => r.checkers.every((c) => c.last !== undefined)));
    }, 10_000, 100, 'every server checked');
    expect((await server('group:web', `${DEAD}:80`))!.health).toBe('down');
    expect((await service('group:web')).entries).toEqual([`${VIP1}:80/tcp`, `${VIP2}:80/tcp`]);
    expect(await spread(VIP1, 10)).toEqual({ h2: 5, h3: 5 });
    expect(await spread(VIP2, 10)).toEqual({ h2: 5, h3: 5 });
    const list = (await carpool(['balancer', 'list'])).stdout;
    expect(list).toContain(`TCP  ${VIP1}:80 wrr (group web)`);
    expect(list).toContain(`TCP  ${VIP2}:80 wrr (group web)`);
    expect(list).toMatch(new RegExp(`-> ${DEAD}:80 +Masq +- +.* down`));
  }, 60_000);

  it('virtual_server fwmark 7: what the host\'s own rule marks is balanced (the client\'s port kept)', async () => {
    await run(inNs(ns(1), ['nft', '-f', '-']), { input: `table ip hostmarks {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    ip daddr ${VIP4} tcp dport 80 meta mark set 7
  }
}
` });
    expect(await spread(VIP4, 10)).toEqual({ h2: 5, h3: 5 });
    expect((await carpool(['balancer', 'list'])).stdout).toContain('FWM  7 rr');
  }, 30_000);

  it('weight: in force at once, without a reload (3:1 over 20 requests)', async () => {
    const r = await carpool(['balancer', 'weight', 'web', rs(2), '3']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`group:web: real server ${rs(2)}:80 weight 3`);
    expect(await spread(VIP1, 20)).toEqual({ h2: 15, h3: 5 });
    expect(await server('group:web', `${rs(2)}:80`)).toMatchObject({ weight: 3, weightOverride: 3 });
    expect(director.lines.some((l) => l.includes(`operator: group:web: real server ${rs(2)}:80 weight 3`))).toBe(true);
    await carpool(['balancer', 'weight', 'web', rs(2), '1']);
  }, 30_000);

  it('drain: the open connection finishes, every new one goes to the other server', async () => {
    const dl = download(VIP1);
    const n = (await until(holder, 5000, 50, 'the download established'))!;
    const other = n === 2 ? 3 : 2;
    const r = await carpool(['balancer', 'drain', `${VIP1}:80`, rs(n)]);
    expect(r.code).toBe(0);
    expect(await spread(VIP1, 10)).toEqual({ [`h${other}`]: 10 });
    expect(await holder()).toBe(n); // still downloading from the drained server
    const d = await dl;
    expect(d.code).toBe(0);
    expect(Number(d.stdout)).toBe(BIG);
    await carpool(['balancer', 'enable', `${VIP1}:80`, rs(n)]);
    expect(await spread(VIP1, 10)).toEqual({ h2: 5, h3: 5 });
  }, 30_000);

  it('add and remove a real server at runtime', async () => {
    const a = await carpool(['balancer', 'add', `${VIP2}:80`, rs(4)]);
    expect(a.stdout).toContain(`real server ${rs(4)}:80 added (weight 1, TCP_CHECK)`);
    await until(async () => (await server('group:web', `${rs(4)}:80`))?.checkers[0]?.last?.ok === true, 5000, 100, 'h4 checked');
    expect(await spread(VIP2, 30)).toEqual({ h2: 10, h3: 10, h4: 10 });
    const r = await carpool(['balancer', 'remove', 'web', `${rs(4)}:80`]);
    expect(r.code).toBe(0);
    expect(await spread(VIP2, 10)).toEqual({ h2: 5, h3: 5 });
    // A runtime server stays until the configuration says otherwise: add it back for the reload.
    await carpool(['balancer', 'add', `${VIP2}:80`, rs(4)]);
  }, 30_000);

  it('a reload that changes one service keeps the other\'s established connection and does not re-add the failed server', async () => {
    const dl = download(VIP3);
    await until(holder, 5000, 50, 'the download established');
    wd.write('keepalived.conf', conf(2));
    const r = await carpool(['reload']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`balancer: group:web: real server ${rs(2)}:80 changed; ${rs(2)}:80: operator override dropped: the configuration changed this server`);
    expect(r.stdout).not.toContain(VIP3);
    // The failed server is still down and out; the runtime-added one is kept.
    expect(await server('group:web', `${DEAD}:80`)).toMatchObject({ health: 'down', weight: null });
    expect(await server('group:web', `${rs(4)}:80`)).toMatchObject({ runtime: true, weight: 1 });
    const counts = await spread(VIP1, 16);
    expect(counts.failed).toBeUndefined();
    expect(counts).toEqual({ h2: 8, h3: 4, h4: 4 });
    const d = await dl;
    expect(d.code).toBe(0);
    expect(Number(d.stdout)).toBe(BIG);
  }, 30_000);

  it('a reload without virtual servers stops the balancer (table gone); one with them starts it again', async () => {
    const vrrpOnly = conf(2).slice(0, conf(2).indexOf('virtual_server_group'));
    wd.write('keepalived.conf', vrrpOnly);
    const off = await carpool(['reload']);
    expect(off.stdout).toContain('balancer: stopped (no virtual servers left), nftables table removed');
    expect((await run(inNs(ns(1), ['nft', 'list', 'tables']))).stdout).not.toMatch(/carpool/);
    expect((await carpool(['balancer', 'list'])).stderr).toContain('this daemon runs no load balancer');
    wd.write('keepalived.conf', conf(1));
    const on = await carpool(['reload']);
    expect(on.stdout).toContain('balancer: started (3 virtual servers)');
    // Without alpha, servers start in the pool: wait for the first verdicts (the dead one's takes connect_timeout).
    await until(async () => (await service('group:web')).servers.every((r) => r.checkers[0]?.last !== undefined), 5000, 100, 'every server checked');
    expect(await server('group:web', `${DEAD}:80`)).toMatchObject({ health: 'down', weight: null });
    expect(await spread(VIP2, 4)).toEqual({ h2: 2, h3: 2 });
  }, 30_000);

  it('a clean stop removes the carpool table and leaves the host\'s own', async () => {
    expect((await director.stop('SIGTERM', 10_000)).code).toBe(0);
    const tables = (await run(inNs(ns(1), ['nft', 'list', 'tables']))).stdout;
    expect(tables).not.toMatch(/carpool/);
    expect(tables).toMatch(/table ip hostmarks/);
  }, 20_000);
});
