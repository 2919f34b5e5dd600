/**
 * What a NAT connection needs once (its count, persistence bookkeeping) sits in carpool's nat
 * chain at postrouting (`first`, priority srcnat - 1), which the kernel's NAT core consults only
 * for a connection's first packet, after the DNAT. Checked on this kernel, end to end: a
 * director running carpool (NAT, rr, persistence, counters on), one Debian nginx real server, a
 * client outside. The connection counter equals the number of connections, also when the
 * first SYN was lost and retransmitted (a filter rule on `ct state new` counted that one twice),
 * while the per-packet counter counts every packet; persistence remembers the client; and a
 * foreign SNAT chain (full NAT) still does its SNAT, with carpool's chain before it (srcnat) or
 * after it (srcnat - 2: then the NAT core never consults carpool's chain, as documented).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { writeNginxConfig } from '../resources/cluster.js';

const NET = '10.137';
const VIP = `${NET}.0.100`;
const DIRECTOR_PRIV = `${NET}.1.1`;

const CONF = `vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 57
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
virtual_server ${VIP} 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  persistence_timeout 60
  real_server ${NET}.1.2 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;

describe.skipIf(!isRoot)(`load balancing: NAT first-packet chain, once per connection (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbfp', { hosts: 2, subnet: `${NET}.0`, lans: 2, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const director = () => lan.host(1).ns;

  /** Packets counted in one of carpool's counter sets, summed over its elements. */
  const counted = async (set: string): Promise<number> => {
    const out = (await run(inNs(director(), ['nft', '-j', 'list', 'set', 'ip', 'carpool', set]))).stdout;
    const elems = (JSON.parse(out) as { nftables: { set?: { elem?: { elem: { counter?: { packets: number } } }[] } }[] })
      .nftables.find((x) => x.set)?.set?.elem ?? [];
    return elems.reduce((s, e) => s + (e.elem.counter?.packets ?? 0), 0);
  };
  /** One connection from the client carrying `requests` requests (curl reuses it); the connections curl opened. */
  const connection = async (requests: number): Promise<number> => {
    const urls = Array.from({ length: requests }, () => ['-o', '/dev/null', `http://${VIP}/`]).flat();
    const r = await run(inNs(lan.client!.ns, ['curl', '-s', '--max-time', '5', '-w', '%{num_connects}\\n', ...urls]));
    return r.stdout.trim().split('\n').reduce((s, x) => s + Number(x), 0);
  };
  const accessLog = () => readFileSync(wd.path('h2/nginx-access.log'), 'utf8').trim().split('\n').filter(Boolean);

  it('counts each connection once and remembers the client, while every packet is counted per server', async () => {
    const h2 = lan.host(2).ns;
    await run(inNs(h2, ['ip', 'link', 'set', 'eth0', 'down']));
    await run(inNs(h2, ['ip', 'route', 'add', 'default', 'via', DIRECTOR_PRIV]));
    await run(inNs(director(), ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    mkdirSync(wd.path('h2'), { recursive: true });
    procs.add(new Proc('nginx-h2', inNs(h2, ['nginx', '-c', writeNginxConfig(wd.path('h2'), 'h2', `${NET}.1.2`, 80), '-g', 'daemon off;'])));
    await until(async () => (await run(inNs(h2, ['curl', '-s', '--max-time', '1', `http://${NET}.1.2/`]), { allowFail: true })).stdout.trim() === 'h2', 5000, 50, 'nginx on h2');
    mkdirSync(wd.path('run'), { recursive: true, mode: 0o700 });
    const d = procs.add(new Proc('director', carpoolArgv(director(), ['run', '-c', wd.write('keepalived.conf', CONF)]), { CARPOOL_RUN_DIR: wd.path('run') }));
    await until(() => carpoolVrrpState(d, 'VI_1') === 'MASTER', 10_000, 100, 'VI_1 MASTER');
    await until(async () => (await run(inNs(lan.client!.ns, ['curl', '-s', '--max-time', '1', `http://${VIP}/`]), { allowFail: true })).stdout.trim() === 'h2',
      10_000, 100, 'the VIP answers through carpool');
    const ruleset = (await run(inNs(director(), ['nft', 'list', 'table', 'ip', 'carpool']))).stdout;
    expect(ruleset).toMatch(/chain first \{\s*type nat hook postrouting priority srcnat - 1; policy accept;/);
    // No per-packet rule looks at connection state any more.
    expect(ruleset).not.toContain('ct state new');

    const conns0 = await counted('conns_tcp');
    const traffic0 = await counted('traffic_tcp');
    let opened = 0;
    for (let i = 0; i < 5; i++) opened += await connection(3);
    expect(opened).toBe(5);
    // One more whose first SYN the real server drops: the client retransmits it a second later.
    // (The client's SYNs only: the director's checker connects too.)
    await run(inNs(h2, ['nft', `add table inet lose; add chain inet lose in { type filter hook input priority 0; }; add rule inet lose in ip saddr ${NET}.0.0/24 tcp flags & (syn | ack) == syn numgen inc mod 2 0 drop`]));
    try {
      const t0 = Date.now();
      opened += await connection(1);
      expect(Date.now() - t0).toBeGreaterThan(800); // the SYN was retransmitted
    } finally {
      await run(inNs(h2, ['nft', 'delete table inet lose']), { allowFail: true });
    }
    expect(opened).toBe(6);
    expect((await counted('conns_tcp')) - conns0).toBe(6);
    // The per-packet counter: both directions, handshake, 16 requests and answers, the close.
    expect((await counted('traffic_tcp')) - traffic0).toBeGreaterThan(6 * 8);
    // Persistence: the first-packet chain remembered the client → server.
    const persist = (await run(inNs(director(), ['nft', 'list', 'map', 'ip', 'carpool', 'vs1_persist']))).stdout;
    expect(persist).toMatch(new RegExp(`${NET.replace('.', '\\.')}\\.0\\.\\d+ expires [^:]*: ${NET.replace('.', '\\.')}\\.1\\.2 \\. 80`));
  });

  it('a foreign SNAT chain at srcnat still does its SNAT, after carpool counted the connection', async () => {
    await run(inNs(director(), ['nft', `add table ip fullnat; add chain ip fullnat post { type nat hook postrouting priority srcnat; }; add rule ip fullnat post oifname "eth1" snat to ${DIRECTOR_PRIV}`]));
    try {
      const conns0 = await counted('conns_tcp');
      const lines0 = accessLog().length;
      expect(await connection(2)).toBe(1);
      expect(await connection(2)).toBe(1);
      expect((await counted('conns_tcp')) - conns0).toBe(2);
      const seen = accessLog().slice(lines0).map((l) => l.split(' ')[0]);
      expect(seen).toEqual([DIRECTOR_PRIV, DIRECTOR_PRIV, DIRECTOR_PRIV, DIRECTOR_PRIV]);
    } finally {
      await run(inNs(director(), ['nft', 'delete table ip fullnat']), { allowFail: true });
    }
  });

  it('an SNAT chain before carpool\'s (priority below srcnat - 1) does its SNAT, and the NAT core skips carpool\'s chain', async () => {
    await run(inNs(director(), ['nft', `add table ip fullnat; add chain ip fullnat post { type nat hook postrouting priority srcnat - 2; }; add rule ip fullnat post oifname "eth1" snat to ${DIRECTOR_PRIV}`]));
    try {
      const conns0 = await counted('conns_tcp');
      const lines0 = accessLog().length;
      expect(await connection(1)).toBe(1);
      expect(accessLog().slice(lines0).map((l) => l.split(' ')[0])).toEqual([DIRECTOR_PRIV]);
      // Once a chain has set up the source mapping, later nat chains at the hook are not consulted.
      expect((await counted('conns_tcp')) - conns0).toBe(0);
    } finally {
      await run(inNs(director(), ['nft', 'delete table ip fullnat']), { allowFail: true });
    }
    // Without it, counted again.
    const conns1 = await counted('conns_tcp');
    expect(await connection(1)).toBe(1);
    expect((await counted('conns_tcp')) - conns1).toBe(1);
  });
});
