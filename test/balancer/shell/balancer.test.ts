import { afterAll, describe, expect, it } from 'vitest';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeepalivedConf } from '../../../src/config/keepalived/parse.js';
import { Balancer, parseSetCounters } from '../../../src/balancer/shell/balancer.js';

/** As `nft -j list set ip carpool <name>` prints a counter set of VIP 10.9.0.100:80: [server, packets] (bytes = 100 × packets). */
function setDoc(name: string, servers: readonly [string, number][]): string {
  return JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6' } }, { set: { family: 'ip', name, table: 'carpool', type: ['ipv4_addr', 'inet_service', 'ipv4_addr', 'inet_service'], handle: 4,
    elem: servers.map(([a, n]) => ({ elem: { val: { concat: ['10.9.0.100', 80, a, 80] }, counter: { packets: n, bytes: n * 100 } } })), stmt: [{ counter: null }] } }] });
}
import type { CountQuery } from '../../../src/balancer/shell/conntrack.js';
import type { NftRunner } from '../../../src/balancer/shell/nft-applier.js';
import { Logger } from '../../../src/daemon/logger.js';

const log = new Logger({ ident: 'test', facility: 'none', debug: false, console: false });

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!fn()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Balancer shell (localhost probes, fake nft)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carpool-lb-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a failed checker takes the server out of the plane, runs notify_down (no shell); stop removes the table', async () => {
    const live = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
    const livePort = (live.address() as AddressInfo).port;
    const tmp = createTcpServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const deadPort = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    const flag = join(dir, 'down');
    const { config } = parseKeepalivedConf(`vrrp_instance V {
  interface lo
  virtual_router_id 51
  priority 100
  virtual_ipaddress { 10.9.0.100/32 }
}
virtual_server 10.9.0.100 80 {
  delay_loop 1
  warmup 0
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 127.0.0.1 ${livePort} {
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 127.0.0.2 ${deadPort} {
    notify_down "/usr/bin/touch ${flag}"
    TCP_CHECK {
      connect_ip 127.0.0.1
      connect_timeout 1
      retry 0
    }
  }
}
`, { file: 'k.conf' });
    const txns: string[] = [];
    const nft: NftRunner = (_args, input) => {
      if (input !== undefined) txns.push(input);
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    };
    const b = new Balancer(config.balancers!, { log, now: () => performance.now(), nft, conntrack: () => Promise.resolve({ counts: new Map(), lines: 0, malformed: 0 }) });
    await b.start();
    expect(txns.length).toBeGreaterThanOrEqual(2); // nft -c, then the whole plane
    expect(txns.at(-1)).toContain(`127.0.0.2 . ${deadPort}`);
    await until(() => b.status().services[0]!.servers[1]!.health === 'down', 3000, 'server 2 down');
    await until(() => existsSync(flag), 3000, 'notify_down ran');
    await until(() => !txns.at(-1)!.includes(`127.0.0.2 . ${deadPort} :`) && !txns.at(-1)!.includes('delete table'), 3000, 'diff without server 2');
    const st = b.status();
    expect(st.services[0]!.servers.map((s) => [s.health, s.weight])).toEqual([['up', 1], ['down', null]]);
    expect(st.services[0]!.servers[1]!.checkers[0]!.last).toMatchObject({ ok: false, detail: 'connect ECONNREFUSED' });
    await b.stop();
    expect(txns.at(-1)).toBe('add table ip carpool\ndelete table ip carpool\nadd table ip6 carpool\ndelete table ip6 carpool\nadd table netdev carpool\ndelete table netdev carpool\n');
    live.close();
  }, 10_000);
});

describe('Balancer shell: count periods (fake conntrack and nft)', () => {
  const conf = (sched: string) => parseKeepalivedConf(`virtual_server 10.9.0.100 80 {
  ${sched ? `lb_algo ${sched}` : ''}
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.2 80 {
  }
  real_server 10.9.1.3 80 {
    weight 2
  }
}
`, { file: 'k.conf' }).config.balancers!;

  it('wlc (the default): each period the table follows the counts; status has active/inactive, totals and rates', async () => {
    const txns: string[] = [];
    let counters = { a: 0, b: 0 };
    const nft: NftRunner = (args, input) => {
      if (input !== undefined) txns.push(input);
      if (args[1] === 'list' && args[2] === 'set') {
        // As `nft -j list set ip carpool traffic_tcp` (conns_tcp) prints them; servers 1 and 2.
        const conns = args[5] === 'conns_tcp';
        return Promise.resolve({ code: 0, stderr: '', stdout: setDoc(args[5]!, [['10.9.1.2', conns ? counters.a : counters.a * 10], ['10.9.1.3', conns ? counters.b : counters.b * 10]]) });
      }
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    };
    let load = new Map([['10.9.1.2:80', { active: 30, inactive: 0 }], ['10.9.1.3:80', { active: 0, inactive: 5 }]]);
    const asked: CountQuery[][] = [];
    const conntrack = (q: readonly CountQuery[]) => {
      asked.push([...q]);
      return Promise.resolve({ counts: new Map([[q[0]!.name, new Map(load)]]), lines: 2, malformed: 0 });
    };
    let now = 0;
    const b = new Balancer(conf(''), { log, now: () => now, nft, conntrack, countIntervalMs: 30 });
    await b.start();
    expect(asked[0]).toEqual([{ name: '10.9.0.100:80/tcp', family: 'ipv4', protocol: 'tcp', vip: '10.9.0.100', port: 80,
      servers: [{ key: '10.9.1.2:80', address: '10.9.1.2', port: 80 }, { key: '10.9.1.3:80', address: '10.9.1.3', port: 80 }] }]);
    // Server 1 is loaded: every new connection of the first period goes to server 2.
    const first = txns.at(-1)!;
    expect(first).toContain('set conns_tcp { type ipv4_addr . inet_service . ipv4_addr . inet_service; counter; elements = { 10.9.0.100 . 80 . 10.9.1.2 . 80, 10.9.0.100 . 80 . 10.9.1.3 . 80 } }');
    expect(first).toMatch(/vs1_slots \{[^}]*elements = \{ 0(-1)? : 10\.9\.1\.3 \. 80 \}/);
    expect(b.status().services[0]!.scheduler).toBe('wlc');
    // Next periods: 20 new connections per second; then server 2 is the loaded one.
    counters = { a: 0, b: 20 };
    now = 1000;
    await until(() => b.status().services[0]!.servers[1]!.stats?.connections === 20, 3000, 'first totals');
    load = new Map([['10.9.1.2:80', { active: 0, inactive: 0 }], ['10.9.1.3:80', { active: 60, inactive: 2 }]]);
    counters = { a: 0, b: 40 };
    now = 2000;
    await until(() => b.status().services[0]!.servers[1]!.stats?.connections === 40, 3000, 'second totals');
    await until(() => /add element ip carpool vs1_slots \{ [^}]*10\.9\.1\.2 \. 80/.test(txns.join('\n')), 3000, 'table moved to server 1');
    const st = b.status().services[0]!.servers;
    expect(st[1]).toMatchObject({ active: 60, inactive: 2, stats: { connections: 40, packets: 400, bytes: 40000 }, rates: { cps: 20, pps: 200, bps: 20000 } });
    expect(st[0]).toMatchObject({ active: 0, inactive: 0, stats: { connections: 0, packets: 0, bytes: 0 } });
    // The period's estimate is 20 new connections, all of them for server 1 (server 2 is 60/2 = 30 ahead): one slot.
    expect(txns.at(-1)).toBe('delete element ip carpool vs1_slots { 0 }\nadd element ip carpool vs1_slots { 0 : 10.9.1.2 . 80 }\n');
    // A counter that restarts (the server left the plane and came back) keeps the total growing.
    counters = { a: 0, b: 5 };
    now = 3000;
    await until(() => b.status().services[0]!.servers[1]!.stats?.connections === 45, 3000, 'totals across a restart');
    await b.stop();
  }, 10_000);

  it('rr: no reads every period; the status reads counts and counters when asked, once per period at most', async () => {
    let lists = 0;
    let packets = 0;
    const nft: NftRunner = (args) => {
      if (args[1] !== 'list') return Promise.resolve({ code: 0, stdout: '', stderr: '' });
      if (args[5] === 'traffic_tcp') lists++;
      return Promise.resolve({ code: 0, stderr: '', stdout: setDoc(args[5]!, [['10.9.1.2', args[5] === 'conns_tcp' ? packets / 10 : packets]]) });
    };
    let reads = 0;
    const conntrack = (q: readonly CountQuery[]) => {
      reads++;
      return Promise.resolve({ counts: new Map([[q[0]!.name, new Map([['10.9.1.2:80', { active: 7, inactive: 1 }]])]]), lines: 1, malformed: 0 });
    };
    let now = 0;
    const b = new Balancer(conf('rr'), { log, now: () => now, nft, conntrack, countIntervalMs: 20 });
    await b.start();
    expect(reads).toBe(1); // flows from before a restart, at start
    await new Promise((r) => setTimeout(r, 150));
    expect({ reads, lists }).toEqual({ reads: 1, lists: 0 });
    packets = 100;
    now = 1000;
    // Two callers at once share one read.
    await Promise.all([b.refresh(), b.refresh()]);
    expect({ reads, lists }).toEqual({ reads: 2, lists: 1 });
    expect(b.status().services[0]!.servers[0]).toMatchObject({ active: 7, inactive: 1, stats: { connections: 10, packets: 100, bytes: 10000 }, rates: { cps: 10, pps: 100 } });
    // Within the period: the last read answers.
    now = 1010;
    await b.refresh();
    expect(lists).toBe(1);
    packets = 300;
    now = 3000;
    await b.refresh();
    expect(lists).toBe(2);
    expect(b.status().services[0]!.servers[0]).toMatchObject({ stats: { packets: 300 }, rates: { pps: 100, cps: 10 } });
    await b.stop();
  });

  it('a count-based scheduler without conntrack stops the start with what to do; rr only warns', async () => {
    const nft: NftRunner = () => Promise.resolve({ code: 0, stdout: '', stderr: '' });
    const conntrack = () => Promise.reject(new Error('cannot run conntrack: spawn conntrack ENOENT (install the conntrack package: apt install conntrack)'));
    const b = new Balancer(conf('lc'), { log, now: () => performance.now(), nft, conntrack });
    await expect(b.start()).rejects.toMatchObject({ code: 'CONNTRACK_UNAVAILABLE', hint: expect.stringMatching(/apt install conntrack/) });
    await b.stop();
    const rr = new Balancer(conf('rr'), { log, now: () => performance.now(), nft, conntrack });
    await rr.start();
    expect(rr.status().services[0]!.servers[0]!.active).toBeUndefined();
    await rr.stop();
  });

  it('parseSetCounters reads the element counters of nft -j list set and ignores everything else', () => {
    expect(parseSetCounters('{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "ip", "name": "traffic_tcp", "table": "carpool", "type": ["ipv4_addr", "inet_service", "ipv4_addr", "inet_service"], "handle": 3, '
      + '"elem": [{"elem": {"val": {"concat": ["10.9.0.100", 80, "10.9.1.2", 80]}, "counter": {"packets": 48, "bytes": 60771}}}, {"elem": {"val": "x"}}, 7], "stmt": [{"counter": null}]}}, {"counter": {"name": 5}}]}'))
      .toEqual([{ family: 'ip', set: 'traffic_tcp', key: '10.9.0.100 . 80 . 10.9.1.2 . 80', packets: 48, bytes: 60771 }]);
    expect(parseSetCounters('not json')).toEqual([]);
    expect(parseSetCounters('null')).toEqual([]);
  });
});
