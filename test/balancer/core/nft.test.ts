import { describe, expect, it } from 'vitest';
import { initialHealth, pool } from '../../../src/balancer/core/health.js';
import { serverKey, type Method, type RealServer, type SchedulerName, type VirtualService } from '../../../src/balancer/core/model.js';
import { assignIds, counterNames, diffPlane, planObjects, PlaneError, renderPlane, type Plane, type PlaneService } from '../../../src/balancer/core/nft.js';
import { planService } from '../../../src/balancer/core/plan.js';
import { canonicalListing, nftUnavailable, withNetns } from './nft-check.js';

const rs = (address: string, port?: number, weight = 1): RealServer => ({ address, port, weight, inhibitOnFailure: false, checkers: [] });

interface Opts {
  vip?: string;
  port?: number;
  scheduler?: SchedulerName;
  method?: Method;
  servers?: RealServer[];
  persistence?: { timeoutMs: number; prefixLength: number };
  family?: 'ipv4' | 'ipv6';
  fwmark?: number;
}
function vs(o: Opts = {}): VirtualService {
  const family = o.family ?? 'ipv4';
  return {
    name: `${o.vip ?? '123.123.123.1'}:${o.port ?? 80}`, family,
    match: o.fwmark ? { kind: 'fwmark', mark: o.fwmark } : { kind: 'addr', vip: o.vip ?? '123.123.123.1', port: o.port ?? 80 },
    protocol: 'tcp', scheduler: o.scheduler ?? 'rr', method: o.method ?? 'nat', hashPort: false, hashFallback: false,
    quorum: { quorum: 1, hysteresis: 0 }, alpha: false, omega: false, haSuspend: false,
    ingressDevice: o.method && o.method !== 'nat' ? 'lan0' : undefined, egressDevice: o.method === 'dr' ? 'lan1' : undefined,
    realServers: o.servers ?? [rs('192.168.0.101', o.method && o.method !== 'nat' ? undefined : 8080), rs('192.168.0.102', o.method && o.method !== 'nat' ? undefined : 8080)],
    ...(o.persistence ? { persistence: o.persistence } : {}),
  };
}
/** A service's plane entry with every configured server healthy, ids in configuration order. */
function plan(v: VirtualService, id: number, drop: readonly string[] = []): PlaneService {
  const members = pool(v, initialHealth(v)).filter((m) => !drop.includes(m.key));
  const serverIds = assignIds(new Map(), v.realServers.map((r) => serverKey(r.address, r.port)));
  const tunnelDevices = v.method === 'tun' ? new Map(members.map((m, i) => [m.key, `tun${i}`])) : undefined;
  return planService(v, { id, serverIds, members, tunnelDevices });
}
/** The same with the per-server counters on (what the shell asks for). */
const counted = (v: VirtualService, id: number, drop: readonly string[] = []): PlaneService => ({ ...plan(v, id, drop), counters: true });

const skip = nftUnavailable();

describe('nftables plane: text', () => {
  it('NAT: dispatch vmap, per-service chain, slot map of address . port, drop when no server', () => {
    const text = renderPlane({ services: [plan(vs({ scheduler: 'wrr', servers: [rs('192.168.0.101', 8080, 2), rs('192.168.0.102', 8080, 1)] }), 1)] }, []);
    expect(text).toContain('table ip carpool {');
    expect(text).toContain('map vs1_slots { typeof numgen inc mod 2 : ip daddr . tcp dport; flags interval; elements = { 0-1 : 192.168.0.101 . 8080, 2 : 192.168.0.102 . 8080 } }');
    expect(text).toContain('meta l4proto tcp dnat ip addr . port to numgen inc mod 3 map @vs1_slots');
    expect(text).toContain('elements = { 123.123.123.1 . tcp . 80 : jump vs1 }');
    expect(text).not.toMatch(/table (inet|bridge|arp)|table ip (?!carpool)/);
  });

  it('hash schedulers name a fixed jhash seed (directors agree); persistence masks the client', () => {
    const t = renderPlane({ services: [plan(vs({ scheduler: 'mh', persistence: { timeoutMs: 50_000, prefixLength: 24 } }), 7)] }, []);
    expect(t).toContain('jhash ip saddr mod 251 seed 0x63617270 map @vs7_slots');
    expect(t).toContain('meta l4proto tcp dnat ip addr . port to ip saddr & 255.255.255.0 map @vs7_persist');
    expect(t).toContain('update @vs7_persist { ip saddr & 255.255.255.0 timeout 50s : ip daddr . tcp dport }');
    const v6 = renderPlane({ services: [plan(vs({ family: 'ipv6', vip: 'fd00::80', servers: [rs('fd00:1::1', 80)], persistence: { timeoutMs: 1000, prefixLength: 56 } }), 2)] }, []);
    expect(v6).toContain('ip6 saddr & ffff:ffff:ffff:ff00:0:0:0:0');
  });

  it('refuses what the plane cannot hold, with a code', () => {
    const bad = (p: Plane) => {
      try {
        planObjects(p);
      } catch (e) {
        return (e as PlaneError).code;
      }
      return 'ok';
    };
    expect(bad({ services: [plan(vs({ method: 'dr', fwmark: 3, servers: [rs('10.0.0.1', 80)] }), 1)] })).toBe('BAD_SERVICE');
    expect(bad({ services: [plan(vs({ method: 'dr', fwmark: 3, servers: [rs('10.0.0.1')] }), 1), plan(vs({ fwmark: 3, servers: [rs('10.0.0.2')] }), 2)] })).toBe('DUPLICATE');
    expect(bad({ services: [plan(vs({ servers: [rs('10.0.0.1', 80), rs('10.0.0.2')] }), 1)] })).toBe('MIXED_PORTS');
    expect(bad({ services: [plan(vs({ method: 'dr', servers: [rs('10.0.0.1', 81)] }), 1)] })).toBe('BAD_SERVICE');
    expect(bad({ services: [plan(vs(), 1), plan(vs({ port: 81 }), 1)] })).toBe('DUPLICATE');
    expect(bad({ services: [plan(vs(), 1), plan(vs({ method: 'dr' }), 2)] })).toBe('DUPLICATE');
    expect(bad({ services: [{ ...plan(vs({ method: 'dr' }), 1), ingressDevice: undefined }] })).toBe('NO_DEVICE');
    expect(bad({ services: [{ ...plan(vs({ method: 'dr' }), 1), ingressDevice: 'eth0; flush ruleset' }] })).toBe('BAD_NAME');
  });

  it('a drained server leaves the slots but stays reachable for its pinned flows (DR) ', () => {
    const v = vs({ method: 'dr', scheduler: 'rr' });
    const ids = assignIds(new Map(), ['192.168.0.101', '192.168.0.102']);
    const members = pool(v, initialHealth(v)).map((m) => (m.key === '192.168.0.101' ? { ...m, weight: 0 } : m));
    const p = planService(v, { id: 1, serverIds: ids, members });
    expect(p.table.slots).toEqual(['192.168.0.102']);
    const text = renderPlane({ services: [p] }, []);
    expect(text).toContain('map vs1_servers { typeof meta mark : ip daddr; elements = { 1 : 192.168.0.101, 2 : 192.168.0.102 } }');
    expect(text).toContain('map vs1_slots { typeof numgen inc mod 2 : meta mark; flags interval; elements = { 0 : 2 } }');
    expect(text).toContain('fwd ip to meta mark map @vs1_servers device "lan1"');
  });

  it('a persistent NAT service forgets its clients when a server leaves, not when one is drained', () => {
    const v = vs({ scheduler: 'mh', persistence: { timeoutMs: 50_000, prefixLength: 24 } });
    const all = plan(v, 1);
    const removed = diffPlane({ services: [all] }, { services: [plan(v, 1, ['192.168.0.102:8080'])] }).text;
    expect(removed).toContain('flush map ip carpool vs1_persist');
    const drained = { ...all, table: { ...all.table, slots: all.table.slots.map((k) => (k === '192.168.0.102:8080' ? '192.168.0.101:8080' : k)) } };
    const d = diffPlane({ services: [all] }, { services: [drained] }).text;
    expect(d).toContain('add element ip carpool vs1_slots');
    expect(d).not.toContain('flush map');
  });

  it('DR: a flow or persistent client whose server is gone is scheduled again (ids set)', () => {
    const text = renderPlane({ services: [plan(vs({ method: 'dr', persistence: { timeoutMs: 1000, prefixLength: 32 } }), 3)] }, []);
    expect(text).toContain('set vs3_ids { typeof meta mark; elements = { 1, 2 } }');
    const rules = text.split('\n').map((l) => l.trim());
    const flows = rules.indexOf('meta mark set th sport . ip saddr map @vs3_flows');
    const check = 'meta mark != 0 meta mark != @vs3_ids meta mark set 0';
    expect(rules[flows + 1]).toBe(check);
    expect(rules[flows + 3]).toBe(check);
    expect(diffPlane({ services: [plan(vs({ method: 'dr' }), 3)] }, { services: [plan(vs({ method: 'dr' }), 3, ['192.168.0.101'])] }).text)
      .toContain('delete element netdev carpool vs3_ids { 1 }');
  });

  it('lblc/lblcr (NAT): destination → server map before the slot table, filled after the DNAT, flushed when a server leaves', () => {
    const v = vs({ fwmark: 9, scheduler: 'lblc' });
    const text = renderPlane({ services: [plan(v, 4)] }, []);
    expect(text).toContain('map vs4_locality { typeof ip saddr : ip daddr . tcp dport; size 1048576; flags dynamic, timeout; timeout 86400s; }');
    const chain = text.slice(text.indexOf('chain vs4 {')).split('\n').slice(1, 5).map((l) => l.trim());
    expect(chain).toEqual([
      'ct mark set 0xca000004',
      'meta l4proto tcp dnat ip addr . port to ip daddr map @vs4_locality',
      'meta l4proto tcp dnat ip addr . port to numgen inc mod 2 map @vs4_slots',
      'drop',
    ]);
    expect(text).toContain('update @vs4_locality { ct original ip daddr timeout 86400s : ip daddr . tcp dport }');
    expect(text).toContain('elements = { 0xca000004 : jump vs4_remember }');
    const gone = diffPlane({ services: [plan(v, 4)] }, { services: [plan(v, 4, ['192.168.0.102:8080'])] }).text;
    expect(gone).toContain('flush map ip carpool vs4_locality');
    // An overloaded server (active > weight while another is below half its weight) leaves the map's servers too.
    const ids = assignIds(new Map(), ['192.168.0.101:8080', '192.168.0.102:8080']);
    const members = pool(v, initialHealth(v));
    const counts = new Map([['192.168.0.101:8080', { active: 5, inactive: 0 }]]);
    expect(planService(v, { id: 4, serverIds: ids, members, counts }).locality?.servers).toEqual(['192.168.0.102:8080']);
    expect(planService(v, { id: 4, serverIds: ids, members }).locality?.servers).toEqual(['192.168.0.101:8080', '192.168.0.102:8080']);
  });

  it('DR/TUN fwmark services and group entries: the ingress chain dispatches on the mark per family, next to VIP . port', () => {
    const fw = plan(vs({ method: 'dr', fwmark: 5, scheduler: 'mh', servers: [rs('192.168.0.101'), rs('192.168.0.102')] }), 6);
    const entryA = plan(vs({ method: 'dr', vip: '123.123.123.10', servers: [rs('192.168.0.101'), rs('192.168.0.102')] }), 7);
    const entryB = plan(vs({ method: 'dr', vip: '123.123.123.11', servers: [rs('192.168.0.101'), rs('192.168.0.102')] }), 8);
    const text = renderPlane({ services: [fw, entryA, entryB] }, []);
    expect(text).toContain('meta pkttype host meta protocol ip meta mark vmap @in_lan0_m4');
    expect(text).toContain('map in_lan0_m4 { typeof meta mark : verdict; elements = { 5 : jump vs6 } }');
    expect(text).toContain('elements = { 123.123.123.10 . tcp . 80 : jump vs7, 123.123.123.11 . tcp . 80 : jump vs8 }');
    expect(text).toContain('fwd ip to meta mark map @vs6_servers device "lan1"');
    expect(text).not.toContain('_m6');
    // Without fwmark services the ingress chain is as before (no mark lookup per packet).
    expect(renderPlane({ services: [entryA] }, [])).not.toContain('meta mark vmap');
  });

  it('assignIds keeps ids and fills the lowest free one', () => {
    const a = assignIds(new Map(), ['a', 'b', 'c']);
    expect([...a]).toEqual([['a', 1], ['b', 2], ['c', 3]]);
    expect([...assignIds(a, ['c', 'd', 'a'])]).toEqual([['c', 3], ['a', 1], ['d', 2]]);
  });

  it('counters: one pair per server (traffic, connections), counted after the DNAT on the connection tuple, one rule per packet', () => {
    const text = renderPlane({ services: [counted(vs(), 3), plan(vs({ vip: '123.123.123.2' }), 4)] }, []);
    // Element counters, no named counter objects (nft fetches every named object before adding a rule).
    expect(text).not.toMatch(/^\s*counter /m);
    expect(text).toContain('set traffic_tcp { type ipv4_addr . inet_service . ipv4_addr . inet_service; counter; elements = { 123.123.123.1 . 80 . 192.168.0.101 . 8080, 123.123.123.1 . 80 . 192.168.0.102 . 8080 } }');
    expect(text).toContain('set conns_tcp { type ipv4_addr . inet_service . ipv4_addr . inet_service; counter; elements = { 123.123.123.1 . 80 . 192.168.0.101 . 8080, 123.123.123.1 . 80 . 192.168.0.102 . 8080 } }');
    const tuple = 'ct original ip daddr . ct original proto-dst . ct reply ip saddr . ct reply proto-src';
    const chain = (name: string) => text.slice(text.indexOf(`chain ${name} {`)).split('\n').slice(0, 4).map((l) => l.trim());
    // Every packet: one rule, one lookup; the connection counter in the first-packet nat chain at postrouting.
    expect(chain('after')).toEqual(['chain after {', 'type filter hook prerouting priority dstnat + 1; policy accept;', `meta l4proto tcp ct status dnat ${tuple} @traffic_tcp`, '}']);
    expect(chain('first')).toEqual(['chain first {', 'type nat hook postrouting priority srcnat - 1; policy accept;', `meta l4proto tcp ct status dnat ${tuple} @conns_tcp`, '}']);
    // Only where asked for: service 4 has none, and without any there is no per-packet chain at all.
    expect(text).not.toMatch(/192\.168\.0\.\d+ \. 80(,| })/);
    const bare = renderPlane({ services: [plan(vs(), 3)] }, []);
    expect(bare).not.toMatch(/counter|chain after|chain first|fwmarks|remember/);
    expect(counterNames(3, 2)).toEqual({ traffic: 'vs3_rs2', conns: 'vs3_rs2_conns' });
  });

  it('NAT fast path: one nat rule per new connection, nothing per established packet without counters or persistence', () => {
    const text = renderPlane({ services: [plan(vs({ scheduler: 'rr' }), 1)] }, []);
    const hooks = text.split('\n').filter((l) => l.includes(' hook '));
    expect(hooks).toEqual(['    type nat hook prerouting priority dstnat; policy accept;']);
    expect(text).toContain('chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    ip daddr . meta l4proto . th dport vmap @services\n  }');
    const persistent = renderPlane({ services: [plan(vs({ persistence: { timeoutMs: 1000, prefixLength: 32 } }), 1)] }, []);
    // Persistence needs the first packet only: no per-packet chain at all.
    expect(persistent).toContain('chain first {\n    type nat hook postrouting priority srcnat - 1; policy accept;\n    ct status dnat ct mark vmap @remember\n  }');
    expect(persistent).not.toContain('type filter hook');
    const fw = renderPlane({ services: [plan(vs({ fwmark: 5 }), 2)] }, []);
    expect(fw).toContain('meta mark vmap @fwmarks');
    expect(fw).not.toContain('vmap @services');
  });

  it('counters: a server that leaves takes its counter elements with it, one that comes back starts at 0', () => {
    const v = vs({ servers: [rs('192.168.0.101', 80), rs('192.168.0.102', 80), rs('192.168.0.103', 80)] });
    const d = diffPlane({ services: [counted(v, 1)] }, { services: [counted(v, 1, ['192.168.0.102:80'])] }).text.split('\n');
    expect(d).toContain('delete element ip carpool traffic_tcp { 123.123.123.1 . 80 . 192.168.0.102 . 80 }');
    expect(d).toContain('delete element ip carpool conns_tcp { 123.123.123.1 . 80 . 192.168.0.102 . 80 }');
    expect(d.filter((l) => /counter|traffic|conns/.test(l) && !/192\.168\.0\.102/.test(l))).toEqual([]);
    const back = diffPlane({ services: [counted(v, 1, ['192.168.0.102:80'])] }, { services: [counted(v, 1)] }).text.split('\n');
    expect(back).toContain('add element ip carpool traffic_tcp { 123.123.123.1 . 80 . 192.168.0.102 . 80 }');
  });

  it('no change, no transaction', () => {
    const p: Plane = { services: [plan(vs({ scheduler: 'mh' }), 1)] };
    expect(diffPlane(p, p).text).toBe('');
  });

  it('the transaction for one server change does not grow with the number of services', () => {
    const servers = Array.from({ length: 10 }, (_, i) => rs(`192.168.${i >> 8}.${(i & 255) + 10}`, 80));
    const rows: string[] = [];
    for (const [scheduler, method, counters] of [['mh', 'nat', false], ['rr', 'nat', false], ['wrr', 'nat', false], ['sh', 'nat', false], ['mh', 'dr', false], ['wlc', 'nat', true]] as const) {
      const sizes: { commands: number; elements: number; bytes: number }[] = [];
      const srv = method === 'dr' ? servers.map((r) => ({ ...r, port: undefined })) : servers;
      const gone = method === 'dr' ? '192.168.0.13' : '192.168.0.13:80';
      for (const n of [1, 10, 100, 1000]) {
        const services = Array.from({ length: n }, (_, i) => vs({ vip: `10.${(i >> 8) & 255}.${i & 255}.1`, scheduler, method, servers: srv }));
        const p = counters ? counted : plan;
        const before: Plane = { services: services.map((v, i) => p(v, i + 1)) };
        const after: Plane = { services: services.map((v, i) => p(v, i + 1, i === 0 ? [gone] : [])) };
        const d = diffPlane(before, after);
        sizes.push(d.size);
        expect(d.text).not.toMatch(/table/);
        expect(d.text).not.toMatch(/vs[2-9]|vs1\d/);
      }
      const s = sizes[0]!;
      rows.push(`${scheduler}/${method}${counters ? ' + counters' : ''}: ${s.commands} commands, ${s.elements} elements, ${s.bytes} bytes (same for 1, 10, 100, 1000 services)`);
      expect(new Set(sizes.map((x) => JSON.stringify(x))).size).toBe(1);
      expect(s.elements).toBeGreaterThan(0);
    }
    console.info(`one of 10 servers removed from one service:\n  ${rows.join('\n  ')}`);
  }, 120_000); // plans 2 × 1,111 services × 6 schedulers: 24–48 s on a loaded 2-core machine
});

/** Pairs of planes the diff must carry one into the other (applied for real in a namespace). */
function transitions(): [string, Plane, Plane][] {
  const mh = vs({ scheduler: 'mh', servers: [rs('192.168.0.101', 80), rs('192.168.0.102', 80), rs('192.168.0.103', 80)] });
  const wrr = vs({ vip: '123.123.123.2', scheduler: 'wrr', servers: [rs('192.168.0.101', 80, 3), rs('192.168.0.102', 80, 1)] });
  const wrr2 = { ...wrr, realServers: [rs('192.168.0.101', 80, 2), rs('192.168.0.102', 80, 1)] };
  const dr = vs({ vip: '123.123.123.3', method: 'dr', scheduler: 'sh', persistence: { timeoutMs: 300_000, prefixLength: 24 } });
  const tun = vs({ vip: '123.123.123.4', method: 'tun', scheduler: 'mh' });
  const v6 = vs({ family: 'ipv6', vip: 'fd00::80', scheduler: 'rr', servers: [rs('fd00:1::1', 80), rs('fd00:1::2', 80)] });
  const fw = vs({ fwmark: 12, scheduler: 'lc', servers: [rs('192.168.0.101'), rs('192.168.0.102')] });
  const persist = { ...mh, persistence: { timeoutMs: 50_000, prefixLength: 32 } };
  const lblc = { ...mh, scheduler: 'lblc' as const };
  const drMark = vs({ fwmark: 9, method: 'dr', scheduler: 'mh', servers: [rs('192.168.0.101'), rs('192.168.0.102')] });
  return [
    ['mh: one server removed', { services: [plan(mh, 1)] }, { services: [plan(mh, 1, ['192.168.0.102:80'])] }],
    ['wrr: weight change (rule and map change)', { services: [plan(wrr, 2)] }, { services: [plan(wrr2, 2)] }],
    ['service added and removed', { services: [plan(mh, 1), plan(v6, 3)] }, { services: [plan(wrr, 2), plan(v6, 3)] }],
    ['persistent NAT server removed (persistence map flushed)', { services: [plan(persist, 1)] }, { services: [plan(persist, 1, ['192.168.0.103:80'])] }],
    ['persistence switched on', { services: [plan(mh, 1)] }, { services: [plan(persist, 1)] }],
    ['persistence switched off', { services: [plan(persist, 1), plan(fw, 4)] }, { services: [plan(mh, 1), plan(fw, 4)] }],
    ['DR and TUN appear next to NAT', { services: [plan(mh, 1)] }, { services: [plan(mh, 1), plan(dr, 5), plan(tun, 6)] }],
    ['DR server removed (ids set shrinks)', { services: [plan(dr, 5), plan(tun, 6)] }, { services: [plan(dr, 5, ['192.168.0.101']), plan(tun, 6)] }],
    ['everything goes', { services: [plan(dr, 5), plan(v6, 3), plan(mh, 1)] }, { services: [] }],
    ['NAT real servers lose their ports (slot map declaration changes)', { services: [plan(wrr, 2)] }, { services: [plan({ ...wrr, realServers: wrr.realServers.map((r) => ({ ...r, port: undefined })) }, 2)] }],
    ['DR becomes TUN (servers map declaration and rules change)', { services: [plan(dr, 5)] }, { services: [plan({ ...dr, method: 'tun', egressDevice: undefined }, 5)] }],
    ['counters switched on, a counted server removed, counters off', { services: [plan(mh, 1), plan(v6, 3)] }, { services: [counted(mh, 1, ['192.168.0.102:80']), counted(v6, 3)] }],
    ['counted server removed and another service counted', { services: [counted(mh, 1), plan(wrr, 2)] }, { services: [counted(mh, 1, ['192.168.0.101:80']), counted(wrr, 2)] }],
    ['counters switched off', { services: [counted(mh, 1), counted(v6, 3)] }, { services: [plan(mh, 1), plan(v6, 3)] }],
    ['a DR fwmark service appears next to a DR VIP, then loses a server', { services: [plan(dr, 5)] }, { services: [plan(dr, 5), plan(drMark, 9)] }],
    ['DR fwmark server removed', { services: [plan(dr, 5), plan(drMark, 9)] }, { services: [plan(dr, 5), plan(drMark, 9, ['192.168.0.101'])] }],
    ['lblc: a server leaves, the locality map is flushed', { services: [plan(lblc, 7)] }, { services: [plan(lblc, 7, ['192.168.0.102:80'])] }],
    ['empty slot table (all down) and back', { services: [plan(mh, 1, ['192.168.0.101:80', '192.168.0.102:80', '192.168.0.103:80'])] }, { services: [plan(mh, 1)] }],
  ];
}

describe.skipIf(skip !== undefined)(`nftables plane against the real nft and kernel (in a throwaway namespace)${skip ? ` — skipped: ${skip}` : ''}`, () => {
  // The kernel here has no ipip (CONFIG_NET_IPIP unset): TUN's per-server devices are veth
  // stand-ins; nft and the kernel validate the ruleset the same way for any device type.
  const devices = ['lan0', 'lan1', 'tun0', 'tun1'];

  it('nft -c accepts the NAT, DR and TUN rulesets (IPv4, IPv6, TCP/UDP/SCTP, fwmark, persistence, every scheduler)', () => {
    const services: PlaneService[] = [];
    let id = 1;
    for (const scheduler of ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'mh', 'sed', 'nq', 'fo', 'ovf'] as const) {
      services.push(plan(vs({ vip: `123.123.${id}.1`, scheduler, persistence: id % 2 ? { timeoutMs: 360_000, prefixLength: 24 } : undefined }), id++));
    }
    for (const protocol of ['udp', 'sctp'] as const) {
      services.push(plan({ ...vs({ vip: `123.124.${id}.1`, scheduler: 'sh', persistence: { timeoutMs: 60_000, prefixLength: 32 } }), protocol }, id++));
      services.push(plan({ ...vs({ vip: `123.124.${id}.1`, method: 'dr', scheduler: 'mh' }), protocol }, id++));
    }
    services.push(plan(vs({ family: 'ipv6', vip: 'fd00::80', scheduler: 'mh', servers: [rs('fd00:1::1', 80)], persistence: { timeoutMs: 60_000, prefixLength: 64 } }), id++));
    services.push(plan(vs({ fwmark: 7, scheduler: 'wlc', servers: [rs('192.168.0.101'), rs('192.168.0.102')] }), id++));
    services.push(plan(vs({ fwmark: 8, scheduler: 'lblc', servers: [rs('192.168.0.101', 3128), rs('192.168.0.102', 3128)] }), id++));
    services.push(plan(vs({ family: 'ipv6', vip: 'fd00::8f', scheduler: 'lblcr', servers: [rs('fd00:1::1', 80)], persistence: { timeoutMs: 60_000, prefixLength: 64 } }), id++));
    services.push(plan(vs({ vip: '123.123.200.1', method: 'dr', scheduler: 'mh', persistence: { timeoutMs: 300_000, prefixLength: 32 } }), id++));
    services.push(plan(vs({ family: 'ipv6', vip: 'fd00::81', method: 'dr', scheduler: 'sh', servers: [rs('fd00:1::1'), rs('fd00:1::2')] }), id++));
    services.push(plan(vs({ fwmark: 21, method: 'dr', scheduler: 'mh', servers: [rs('192.168.0.101'), rs('192.168.0.102')] }), id++));
    services.push(plan(vs({ family: 'ipv6', fwmark: 21, method: 'dr', scheduler: 'sh', servers: [rs('fd00:1::1'), rs('fd00:1::2')] }), id++));
    services.push(plan(vs({ vip: '123.123.201.1', method: 'tun', scheduler: 'wrr' }), id++));
    services.push(counted(vs({ vip: '123.123.202.1', scheduler: 'wlc' }), id++));
    services.push(counted({ ...vs({ vip: '123.123.203.1', scheduler: 'lc', servers: [rs('192.168.0.101'), rs('192.168.0.102')] }), protocol: 'udp' }, id++));
    services.push(counted({ ...vs({ vip: '123.123.204.1', scheduler: 'nq' }), protocol: 'sctp' }, id++));
    services.push(counted(vs({ family: 'ipv6', vip: 'fd00::82', scheduler: 'wlc', servers: [rs('fd00:1::1', 80), rs('fd00:1::2', 80)] }), id));
    const text = renderPlane({ services }, []);
    withNetns(devices, ({ nft }) => {
      const r = nft(text, true);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // and a broken one is refused: the check is not a no-op
      const broken = nft(text.replace('fwd ip to', 'fwd ip too'), true);
      expect(broken.code).not.toBe(0);
    });
  });

  it('diffs carry the plane in force into the desired one: same ruleset as loading it whole', () => {
    for (const [what, from, to] of transitions()) {
      const viaDiff = withNetns(devices, ({ nft, run }) => {
        expect(nft(renderPlane(from, [])).stderr, `${what}: full load`).toBe('');
        const d = diffPlane(from, to);
        const r = nft(d.text);
        expect(r.stderr, `${what}: diff\n${d.text}`).toBe('');
        return canonicalListing(run('nft', ['list', 'ruleset']).stdout);
      });
      const whole = withNetns(devices, ({ nft, run }) => {
        expect(nft(renderPlane(to, [])).stderr, `${what}: full load of the target`).toBe('');
        return canonicalListing(run('nft', ['list', 'ruleset']).stdout);
      });
      expect(viaDiff, what).toBe(whole);
    }
  });

  it('a full render replaces a stale table atomically and leaves other tables alone', () => {
    withNetns(devices, ({ nft, run }) => {
      expect(nft('table ip carpool {\n chain stale {\n }\n}\ntable inet user {\n chain input {\n  type filter hook input priority 0;\n }\n}\n').code).toBe(0);
      const r = nft(renderPlane({ services: [plan(vs(), 1)] }));
      expect(r.stderr).toBe('');
      const listed = run('nft', ['list', 'ruleset']).stdout;
      expect(listed).not.toContain('chain stale');
      expect(listed).toContain('table inet user');
      expect(listed).toContain('chain vs1');
    });
  });
});
