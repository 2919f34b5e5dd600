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
import { EndedFlows } from '../../../src/balancer/shell/ct-accounting.js';
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

describe('Balancer shell: ha_suspend (localhost probes, fake addresses)', () => {
  it('checks nothing while the VIP is not set here, resumes when it is, suspends again when it goes; the plane stays', async () => {
    let accepted = 0;
    const srv = createTcpServer((c) => { accepted++; c.destroy(); });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const { config } = parseKeepalivedConf(`virtual_server 10.9.0.100 80 {
  delay_loop 0.05
  warmup 0
  lb_algo rr
  lb_kind NAT
  protocol TCP
  ha_suspend
  real_server 127.0.0.1 ${port} {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`, { file: 'k.conf' });
    const local = new Set<string>(['127.0.0.1']);
    const lines: string[] = [];
    const hlog = new Logger({ ident: 't', facility: 'none', debug: false, console: false, onLine: (_l, t) => { lines.push(t); } });
    const txns: string[] = [];
    const nft: NftRunner = (_args, input) => {
      if (input !== undefined) txns.push(input);
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    };
    const b = new Balancer(config.balancers!, { log: hlog, now: () => performance.now(), nft, conntrack: () => Promise.resolve({ counts: new Map(), lines: 0, malformed: 0 }), localAddresses: () => local });
    await b.start();
    await new Promise((r) => setTimeout(r, 400));
    expect(accepted).toBe(0);
    expect(b.status().services[0]!.suspended).toBe(true);
    expect(txns.join('\n')).toContain(`127.0.0.1 . ${port}`);
    expect(lines).toContain('Load balancer: 10.9.0.100:80/tcp: ha_suspend: 10.9.0.100 is not set here, checkers suspended');
    local.add('10.9.0.100');
    await until(() => accepted >= 3, 3000, 'checks after the VIP came');
    expect(b.status().services[0]!.suspended).toBeUndefined();
    expect(lines).toContain('Load balancer: 10.9.0.100:80/tcp: ha_suspend: 10.9.0.100 is set here, checkers resume');
    local.delete('10.9.0.100');
    await until(() => b.status().services[0]!.suspended === true, 3000, 'suspended again');
    const after = accepted;
    await new Promise((r) => setTimeout(r, 300));
    expect(accepted).toBe(after);
    await b.stop();
    srv.close();
  }, 10_000);
});

/** Accounting without the kernel: ended flows are fed by the test (EndedFlows.take). */
function fakeAccounting() {
  return { acct: { flows: new EndedFlows(), open: () => undefined, close: () => undefined }, enable: () => [] };
}

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
        // As `nft -j list set ip carpool conns_tcp` prints them; servers 1 and 2. No traffic_ sets any more.
        expect(args[5]).toBe('conns_tcp');
        return Promise.resolve({ code: 0, stderr: '', stdout: setDoc(args[5]!, [['10.9.1.2', counters.a], ['10.9.1.3', counters.b]]) });
      }
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    };
    let load = new Map([['10.9.1.2:80', { active: 30, inactive: 0 }], ['10.9.1.3:80', { active: 0, inactive: 5 }]]);
    const asked: CountQuery[][] = [];
    const conntrack = (q: readonly CountQuery[]) => {
      asked.push([...q]);
      // Conntrack accounting's counters of the live flows (one flow of server 2 carries them all).
      const flows = [{ name: q[0]!.name, key: '10.9.1.3:80', id: 77, packets: counters.b * 10, bytes: counters.b * 1000 }];
      return Promise.resolve({ counts: new Map([[q[0]!.name, new Map(load)]]), lines: 2, malformed: 0, flows });
    };
    let now = 0;
    const b = new Balancer(conf(''), { log, now: () => now, nft, conntrack, countIntervalMs: 30, accounting: fakeAccounting() });
    await b.start();
    expect(asked[0]).toEqual([{ name: '10.9.0.100:80/tcp', ids: [1],
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

  it('fwmark and group services (NAT): counted by their entries\' ct marks; a group sums its entries\' counters; the wlc tables follow', async () => {
    const txns: string[] = [];
    const nft: NftRunner = (args, input) => {
      if (input !== undefined) txns.push(input);
      if (args[1] === 'list' && args[2] === 'set') {
        // The group's entries (plane ids 2 and 3: VIPs .100 and .101) have element counters in
        // conns_tcp; the fwmark service (id 1) has none.
        expect(args[5]).toBe('conns_tcp');
        const el = (vip: string, server: string, packets: number) => ({ elem: { val: { concat: [vip, 80, server, 80] }, counter: { packets, bytes: packets * 100 } } });
        const elem = [el('10.9.0.100', '10.9.1.2', 3), el('10.9.0.101', '10.9.1.2', 7), el('10.9.0.100', '10.9.1.3', 0), el('10.9.0.101', '10.9.1.3', 0)];
        return Promise.resolve({ code: 0, stderr: '', stdout: JSON.stringify({ nftables: [{ set: { family: 'ip', name: args[5], table: 'carpool', elem } }] }) });
      }
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    };
    const asked: CountQuery[][] = [];
    const conntrack = (q: readonly CountQuery[]) => {
      asked.push([...q]);
      const load = new Map([['10.9.1.2:80', { active: 9, inactive: 0 }], ['10.9.1.3:80', { active: 0, inactive: 1 }]]);
      // Live flows of server 1 through each entry; flow 3 has ended meanwhile (its destroy event below).
      const flows = [1, 2, 3].map((id) => ({ name: 'group:web', key: '10.9.1.2:80', id, packets: id === 2 ? 70 : 30, bytes: (id === 2 ? 70 : 30) * 100 }));
      return Promise.resolve({ counts: new Map(q.map((x) => [x.name, new Map(load)])), lines: 2, malformed: 0, flows });
    };
    const cfg = parseKeepalivedConf(`virtual_server fwmark 5 {
  lb_kind NAT
  real_server 10.9.1.2 80 {
  }
  real_server 10.9.1.3 80 {
  }
}
virtual_server_group web {
  10.9.0.100-101 80
}
virtual_server group web {
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.2 80 {
  }
  real_server 10.9.1.3 80 {
  }
}
`, { file: 'k.conf' }).config.balancers!;
    let now = 0;
    const accounting = fakeAccounting();
    const b = new Balancer(cfg, { log, now: () => now, nft, conntrack, countIntervalMs: 20, accounting });
    await b.start();
    // Flow 3 ended with 60 packets (its live reading, 30, must not be added too); flow 4 of
    // another mark (not carpool's) and flow 5 of the fwmark entry (no counters) are not the group's.
    const ev = (id: number, mark: number, packets: number) => ({ type: 'destroy' as const, family: 'ipv4' as const, id, mark,
      orig: { src: '10.9.9.9', dst: '10.9.0.101', proto: 6, sport: 4000 + id, dport: 80 }, reply: { src: '10.9.1.2', dst: '10.9.9.9', proto: 6, sport: 80, dport: 4000 + id },
      counters: { origPackets: packets / 2, origBytes: packets * 50, replyPackets: packets / 2, replyBytes: packets * 50 } });
    accounting.acct.flows.take([ev(3, 0xca000003, 60), ev(4, 0x00000003, 1000), ev(5, 0xca000001, 1000)]);
    const servers = [{ key: '10.9.1.2:80', address: '10.9.1.2', port: 80 }, { key: '10.9.1.3:80', address: '10.9.1.3', port: 80 }];
    expect(asked[0]).toEqual([{ name: 'fwmark:5', ids: [1], trackIds: true, servers }, { name: 'group:web', ids: [2, 3], servers }]);
    // Server 1 holds 9 connections: every entry's table sends new ones to server 2.
    const first = txns.at(-1)!;
    for (const id of [1, 2, 3]) expect(first).toMatch(new RegExp(`vs${id}_slots \\{[^}]*elements = \\{ 0(-1)? : 10\\.9\\.1\\.3 \\. 80 \\}`));
    for (const id of [1, 2, 3]) expect(first).toContain(`ct mark set 0xca00000${id}`);
    // Counters for the group's VIP:port entries only.
    expect(first).toMatch(/set conns_tcp \{[^}]*elements = \{ 10\.9\.0\.100 \. 80 \. 10\.9\.1\.2 \. 80, [^}]*10\.9\.0\.101 \. 80 \. 10\.9\.1\.3 \. 80 \}/);
    now = 1000;
    await until(() => b.status().services[1]!.servers[0]!.stats?.connections === 10, 3000, 'group totals');
    const [fw, web] = b.status().services;
    expect(web!.servers[0]).toMatchObject({ active: 9, inactive: 0, stats: { connections: 10, packets: 160, bytes: 16000 } });
    expect(fw!.servers[0]).toMatchObject({ active: 9, inactive: 0 });
    expect(fw!.servers[0]!.stats).toBeUndefined();
    await b.stop();
  });

  it('a fwmark service (no counters) estimates the period\'s new connections from the conntrack ids a read had not seen', async () => {
    const txns: string[] = [];
    const nft: NftRunner = (_args, input) => {
      if (input !== undefined) txns.push(input);
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    };
    const asked: CountQuery[][] = [];
    let seen = [11, 12];
    const conntrack = (q: readonly CountQuery[]) => {
      asked.push([...q]);
      const load = new Map([['10.9.1.2:80', { active: 2, inactive: 0 }], ['10.9.1.3:80', { active: 0, inactive: 0 }]]);
      return Promise.resolve({ counts: new Map([[q[0]!.name, load]]), lines: 2, malformed: 0, ids: new Map([[q[0]!.name, new Set(seen)]]) });
    };
    const cfg = parseKeepalivedConf(`virtual_server fwmark 5 {
  lb_kind NAT
  real_server 10.9.1.2 80 {
  }
  real_server 10.9.1.3 80 {
  }
}
`, { file: 'k.conf' }).config.balancers!;
    const b = new Balancer(cfg, { log, now: () => 0, nft, conntrack, countIntervalMs: 20 });
    await b.start();
    expect(asked[0]![0]!.trackIds).toBe(true);
    // Server 1 holds 2, the estimate is one per live server (2): both new ones for server 2.
    expect(txns.at(-1)).toMatch(/vs1_slots \{[^}]*elements = \{ 0 : 10\.9\.1\.3 \. 80 \}/);
    // 6 flows the last read had not seen: water-filled 2 for server 1, 4 for server 2 (÷ 2: a 3-slot table).
    seen = [11, 12, 13, 14, 15, 16, 17, 18];
    await until(() => /10\.9\.1\.2 \. 80/.test(txns.slice(1).join('\n')), 3000, 'server 1 back in the table');
    expect(txns.at(-1)).toContain('numgen inc mod 3 map @vs1_slots');
    await b.stop();
  });

  it('rr: no reads every period; the status reads counts and counters when asked, once per period at most', async () => {
    let lists = 0;
    let packets = 0;
    const nft: NftRunner = (args) => {
      if (args[1] !== 'list') return Promise.resolve({ code: 0, stdout: '', stderr: '' });
      if (args[5] === 'conns_tcp') lists++;
      return Promise.resolve({ code: 0, stderr: '', stdout: setDoc(args[5]!, [['10.9.1.2', packets / 10]]) });
    };
    let reads = 0;
    const conntrack = (q: readonly CountQuery[]) => {
      reads++;
      const flows = [{ name: q[0]!.name, key: '10.9.1.2:80', id: 9, packets, bytes: packets * 100 }];
      return Promise.resolve({ counts: new Map([[q[0]!.name, new Map([['10.9.1.2:80', { active: 7, inactive: 1 }]])]]), lines: 1, malformed: 0, flows });
    };
    let now = 0;
    const b = new Balancer(conf('rr'), { log, now: () => now, nft, conntrack, countIntervalMs: 20, accounting: fakeAccounting() });
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

  it('reads never overlap: the period\'s reads and on-demand reads wait for the one under way', async () => {
    const nft: NftRunner = (args) => Promise.resolve({ code: 0, stderr: '', stdout: args[1] === 'list' ? setDoc(args[5]!, [['10.9.1.2', 1]]) : '' });
    let running = 0;
    let most = 0;
    let reads = 0;
    const conntrack = async (q: readonly CountQuery[]) => {
      running++;
      most = Math.max(most, running);
      reads++;
      await new Promise((r) => setTimeout(r, 15));
      running--;
      return { counts: new Map([[q[0]!.name, new Map([['10.9.1.2:80', { active: 1, inactive: 0 }]])]]), lines: 1, malformed: 0, flows: [] };
    };
    let now = 0;
    const b = new Balancer(conf('wlc'), { log, now: () => now, nft, conntrack, countIntervalMs: 10, accounting: fakeAccounting() });
    await b.start();
    for (let i = 0; i < 8; i++) {
      now += 1000;
      await Promise.all([b.refresh(), new Promise((r) => setTimeout(r, 7))]);
    }
    await b.stop();
    expect(reads).toBeGreaterThan(8);
    expect(most).toBe(1);
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
