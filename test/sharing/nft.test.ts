import { describe, expect, it } from 'vitest';
import { multicastMac, sharedMac, unicastMac, type SharedAddress } from '../../src/sharing/core/model.js';
import { bucketLeaseMs, bucketRenewMs, checksumCompensation, diffBuckets, parseCounters, removeSharing, renderSharing, renewBuckets } from '../../src/sharing/core/nft.js';
import { nftUnavailable, withNetns } from '../balancer/core/nft-check.js';

const web: SharedAddress = {
  name: 'web', address: '10.9.0.50', family: 4, prefix: 24, interface: 'eth0', buckets: 64, hash: 'sourceip-sourceport',
  nodes: [{ name: 'n1', address: '10.9.0.1' }, { name: 'n2', address: '10.9.0.2' }], mode: 'multicast', mac: multicastMac('10.9.0.50'),
  vhidBase: 100, password: 'x', advbase: 1,
};
const mail: SharedAddress = { ...web, name: 'mail', address: '10.9.0.51', hash: 'sourceip', buckets: 16, mac: multicastMac('10.9.0.51') };
const uni: SharedAddress = { ...web, name: 'uni', address: '10.9.0.52', mode: 'unicast', mac: unicastMac('10.9.0.52') };
const six: SharedAddress = { ...web, name: 'six', address: 'fd00::a:50', family: 6, prefix: 64, mac: multicastMac('fd00::a:50') };
const hid: SharedAddress = { ...web, name: 'hid', address: '10.9.0.53', mode: 'stealth', mac: unicastMac('10.9.0.53') };
/** A gateway: inside 10.7.0.254 on eth0 (the elections' side), outside 10.7.1.254 on eth1. */
const fw: SharedAddress = {
  ...web, name: 'fw', address: '10.7.0.254', interface: 'eth0', hash: 'symmetric-ports', mac: multicastMac('10.7.0.254'),
  outside: { address: '10.7.1.254', prefix: 24, interface: 'eth1', mac: multicastMac('10.7.1.254') },
};

describe('load sharing nftables plane', () => {
  it('multicast MAC of an address: 01:00:5e and its low 23 bits', () => {
    expect(multicastMac('10.9.0.50')).toBe('01:00:5e:09:00:32');
    expect(multicastMac('192.168.200.7')).toBe('01:00:5e:28:c8:07');
  });

  it('unicast MAC of an address: locally administered, unicast, 02:63 and its four octets', () => {
    expect(unicastMac('10.9.0.50')).toBe('02:63:0a:09:00:32');
    expect(sharedMac('stealth', '192.168.200.7')).toBe('02:63:c0:a8:c8:07');
    expect(sharedMac('multicast', '10.9.0.50')).toBe('01:00:5e:09:00:32');
    const first = parseInt(unicastMac('10.9.0.50').slice(0, 2), 16);
    expect(first & 1).toBe(0); // unicast
    expect(first & 2).toBe(2); // locally administered
  });

  it('multicast mode has no netdev chain; unicast marks frames to its MAC host; stealth also drops frames from it', () => {
    expect(renderSharing([web], new Map())).not.toContain('table netdev carpool_sharing {');
    const text = renderSharing([web, uni, hid], new Map());
    expect(text).toContain('table netdev carpool_sharing {');
    expect(text).toContain('chain uni_in {\n    type filter hook ingress device "eth0" priority -500; policy accept;\n    ether daddr 02:63:0a:09:00:34 meta pkttype set host\n  }');
    expect(text).not.toContain('uni_out');
    expect(text).toContain('chain hid_out {\n    type filter hook egress device "eth0" priority filter; policy accept;\n    ether saddr 02:63:0a:09:00:35 counter drop\n  }');
    expect(text).toContain('arp saddr ip 10.9.0.52 arp saddr ether set 02:63:0a:09:00:34');
  });

  it('IPv6: an ip6 table hashing ip6 saddr; ND answers and solicitations rewritten to the shared MAC, checksum kept', () => {
    const text = renderSharing([web, six], new Map([['six', new Set([1])]]), () => '02:00:00:00:00:01');
    expect(text).toContain('table ip6 carpool_sharing {');
    expect(text).toContain('ip6 daddr fd00::a:50 jump six');
    expect(text).toContain('chain six {\n    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } meta pkttype set host accept\n    ct state established');
    expect(text).not.toContain('chain web {\n    icmpv6');
    expect(text).toContain('jhash ip6 saddr . th sport mod 64 seed 0x63617270 @six_local meta pkttype set host accept');
    const w = checksumCompensation('02:00:00:00:00:01', '33:33:00:0a:00:50').toString(16).padStart(4, '0');
    expect(text).toContain(`icmpv6 type nd-neighbor-advert @th,64,128 0xfd0000000000000000000000000a0050 @th,192,64 0x0201020000000001 @th,48,16 0 @th,208,48 set 0x3333000a0050 @th,48,16 set 0x${w}`);
    expect(text).toContain('ip6 saddr fd00::a:50 icmpv6 type nd-neighbor-solicit @th,192,64 0x0101020000000001');
    expect(diffBuckets(six, new Set([1]), new Set([2]))).toBe('add element ip6 carpool_sharing six_local { 1 timeout 2000ms expires 2000ms }\ndelete element ip6 carpool_sharing six_local { 1 }\nadd element ip6 carpool_sharing six_local { 2 timeout 2000ms expires 2000ms }\n');
    // What the rewrite leaves alone is counted: the option still not the shared MAC, or another layout.
    expect(text).toContain('  counter six_nd_skipped {\n  }');
    expect(text).toContain('icmpv6 type nd-neighbor-advert @th,64,128 0xfd0000000000000000000000000a0050 @th,192,16 0x0201 @th,208,48 != 0x3333000a0050 counter name "six_nd_skipped"');
    expect(text).toContain('ip6 saddr fd00::a:50 icmpv6 type nd-neighbor-solicit ip6 length > 24 @th,192,16 != 0x0101 counter name "six_nd_skipped"');
    expect(text.indexOf('counter name')).toBeGreaterThan(text.indexOf('@th,48,16 set')); // after the rewrite
    // Without the node's MAC no rewrite rule (the node answers with its own MAC: logged by the shell), only the counting.
    const bare = renderSharing([six], new Map());
    expect(bare).not.toContain('set 0x3333');
    expect(bare.match(/counter name "six_nd_skipped"/g)).toHaveLength(4);
    expect(parseCounters('{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"counter": {"family": "ip6", "name": "six_nd_skipped", "table": "carpool_sharing", "handle": 4, "packets": 3, "bytes": 258}}]}'))
      .toEqual(new Map([['six_nd_skipped', 3]]));
    expect(parseCounters('Error: No such file or directory')).toEqual(new Map());
  });

  it('checksum compensation: old words + compensation = new words, in one\'s complement', () => {
    const ones = (ws: number[]) => { let s = 0; for (const x of ws) { s += x; s = (s & 0xffff) + (s >>> 16); } return s; };
    const from = [0x0200, 0x0000, 0x0001];
    const to = [0x3333, 0x000a, 0x0050];
    const w = checksumCompensation('02:00:00:00:00:01', '33:33:00:0a:00:50');
    // The sum over the message is unchanged: old MAC words equal new MAC words plus the compensation.
    expect(ones([...to, w]) % 0xffff).toBe(ones(from) % 0xffff);
  });

  it('renders the accept ladder with a fixed seed and the ARP rewrite', () => {
    const text = renderSharing([web], new Map([['web', new Set([5, 0, 3])]]));
    expect(text).toContain('flags timeout\n    elements = { 0 timeout 2000ms expires 2000ms, 3 timeout 2000ms expires 2000ms, 5 timeout 2000ms expires 2000ms }');
    expect(text).toContain('ip daddr 10.9.0.50 jump web');
    expect(text).toContain('jhash ip saddr . th sport mod 64 seed 0x63617270 @web_local meta pkttype set host accept');
    expect(text).toContain('arp saddr ip 10.9.0.50 arp saddr ether set 01:00:5e:09:00:32');
    const lines = text.split('\n').map((l) => l.trim());
    // established before the bucket test (flows stay), mid-flow TCP of unknown flows dropped before it
    expect(lines.indexOf('ct state established,related meta pkttype set host accept')).toBeLessThan(lines.findIndex((l) => l.startsWith('jhash')));
  });

  it('gateway: matched by interface and shared MAC, not by address; both sides hash the inside host first', () => {
    const text = renderSharing([fw], new Map([['fw', new Set([2, 7])]]));
    // Routed traffic is not addressed to the gateway: the MAC it was sent to on each side says it is ours.
    expect(text).toContain('iifname "eth0" ether daddr 01:00:5e:07:00:fe jump fw\n    iifname "eth1" ether daddr 01:00:5e:07:01:fe jump fw.out');
    expect(text).not.toContain('ip daddr 10.7.');
    const chain = (name: string) => text.slice(text.indexOf(`  chain ${name} {`), text.indexOf('  }', text.indexOf(`  chain ${name} {`)));
    // Inside: the packet's source is the inside host; outside: its destination is. Same order, seed and modulus.
    expect(chain('fw').split('\n').slice(1).map((l) => l.trim())).toEqual([
      'ct state established,related meta pkttype set host accept',
      'ct state new meta l4proto tcp tcp flags & (syn | ack) != syn drop',
      'meta l4proto { tcp, udp, sctp } jhash ip saddr . th sport . ip daddr . th dport mod 64 seed 0x63617270 @fw_local meta pkttype set host accept',
      'meta l4proto { tcp, udp, sctp } drop',
      'jhash ip saddr . ip daddr mod 64 seed 0x63617270 @fw_local meta pkttype set host accept',
      'drop',
      '',
    ]);
    expect(chain('fw.out')).toContain('jhash ip daddr . th dport . ip saddr . th sport mod 64 seed 0x63617270 @fw_local meta pkttype set host accept');
    expect(chain('fw.out')).toContain('jhash ip daddr . ip saddr mod 64 seed 0x63617270 @fw_local');
    // One bucket set: one election per bucket decides both sides at once.
    expect(text.match(/set fw_local/g)).toHaveLength(1);
    expect(text).toContain('elements = { 2 timeout 2000ms expires 2000ms, 7 timeout 2000ms expires 2000ms }');
    // Each side's ARP answers carry that side's shared MAC.
    expect(text).toContain('arp saddr ip 10.7.0.254 arp saddr ether set 01:00:5e:07:00:fe');
    expect(text).toContain('arp saddr ip 10.7.1.254 arp saddr ether set 01:00:5e:07:01:fe');
    // Addresses only: no port rule.
    const sym = renderSharing([{ ...fw, hash: 'symmetric' }], new Map());
    expect(sym).not.toContain('th sport');
    expect(sym).toContain('jhash ip daddr . ip saddr mod 64 seed 0x63617270 @fw_local meta pkttype set host accept\n    drop');
    // unicast/stealth: netdev chains on both interfaces, each for its side's MAC.
    const st = renderSharing([{ ...fw, mode: 'stealth', mac: unicastMac('10.7.0.254'), outside: { ...fw.outside!, mac: unicastMac('10.7.1.254') } }], new Map());
    expect(st).toContain('chain fw.o_in {\n    type filter hook ingress device "eth1" priority -500; policy accept;\n    ether daddr 02:63:0a:07:01:fe meta pkttype set host');
    expect(st).toContain('chain fw_out {\n    type filter hook egress device "eth0"');
    expect(st).toContain('chain fw.o_out {\n    type filter hook egress device "eth1" priority filter; policy accept;\n    ether saddr 02:63:0a:07:01:fe counter drop');
  });

  it('gateway: both directions of a flow hash the same bytes in the same order (the key, as nft reads it)', () => {
    // What each side's jhash reads, in the rendered order: a packet's fields by name.
    const text = renderSharing([fw], new Map());
    const key = (side: 'fw' | 'fw.out', p: Record<string, string | number>) => {
      const start = text.indexOf(`  chain ${side} {`);
      const rule = text.slice(start, text.indexOf('  }', start)).split('\n').find((l) => l.includes('jhash') && l.includes('th sport'))!;
      return /jhash (.*) mod/.exec(rule)![1]!.split(' . ').map((f) => p[f.replace(/^(ip|th) /, '')]);
    };
    const syn = { saddr: '10.7.0.101', daddr: '10.7.1.4', sport: 40001, dport: 80 };
    const synAck = { saddr: '10.7.1.4', daddr: '10.7.0.101', sport: 80, dport: 40001 };
    expect(key('fw', syn)).toEqual(['10.7.0.101', 40001, '10.7.1.4', 80]);
    expect(key('fw.out', synAck)).toEqual(key('fw', syn));
  });

  it('bucket changes are one small transaction (a removal holds even when the bucket lapsed); none when equal', () => {
    expect(diffBuckets(web, new Set([1, 2]), new Set([2, 3]))).toBe('add element ip carpool_sharing web_local { 1 timeout 2000ms expires 2000ms }\n'
      + 'delete element ip carpool_sharing web_local { 1 }\nadd element ip carpool_sharing web_local { 3 timeout 2000ms expires 2000ms }\n');
    expect(diffBuckets(web, new Set([1]), new Set([1]))).toBe('');
  });

  it('local buckets are leased: 2 advert intervals, renewed every half interval; nothing to renew without buckets', () => {
    expect(bucketLeaseMs({ advbase: 1 })).toBe(2000);
    expect(bucketRenewMs({ advbase: 2 })).toBe(1000);
    expect(renderSharing([web], new Map([['web', new Set([5, 1])]]))).toContain('flags timeout\n    elements = { 1 timeout 2000ms expires 2000ms, 5 timeout 2000ms expires 2000ms }');
    expect(renewBuckets(web, new Set([7, 2]))).toBe('add element ip carpool_sharing web_local { 2 timeout 2000ms expires 2000ms, 7 timeout 2000ms expires 2000ms }\n');
    expect(renewBuckets(web, new Set())).toBe('');
  });

  it.skipIf(!!nftUnavailable())(`the real nft and kernel accept the plane, its updates and its removal (${nftUnavailable() ?? 'root'})`, () => {
    withNetns(['eth0', 'eth1'], (ns) => {
      const fwStealth: SharedAddress = { ...fw, name: 'fws', address: '10.7.2.254', interface: 'eth1', mode: 'stealth', mac: unicastMac('10.7.2.254'), outside: { address: '10.7.3.254', prefix: 24, interface: 'eth0', mac: unicastMac('10.7.3.254') } };
      for (const t of [renderSharing([web, mail, uni, hid, six, fw, { ...fw, name: 'fwa', hash: 'symmetric' }, fwStealth], new Map([['web', new Set([0, 1])], ['fw', new Set([3])]]), () => '02:00:00:00:00:01'), diffBuckets(web, new Set([0, 1]), new Set([1, 63])), renderSharing([web], new Map())]) {
        const r = ns.nft(t);
        expect(r.code, `${r.stderr}\n${t}`).toBe(0);
      }
      const listed = ns.run('nft', ['list', 'set', 'ip', 'carpool_sharing', 'web_local']);
      expect(listed.stdout).not.toMatch(/elements/); // the full load replaced the table: no bucket
      // The lease: renewing sets the expiry anew; removing a bucket that lapsed still works.
      const short = { ...web, advbase: 0.3 }; // 600 ms lease
      expect(ns.nft(diffBuckets(short, new Set(), new Set([4, 9]))).code).toBe(0);
      expect(ns.nft(renewBuckets(short, new Set([4, 9]))).code).toBe(0);
      expect(ns.run('nft', ['list', 'set', 'ip', 'carpool_sharing', 'web_local']).stdout).toMatch(/4 timeout 600ms expires \d+ms, 9 timeout 600ms/);
      ns.run('sleep', ['0.8']);
      expect(ns.run('nft', ['list', 'set', 'ip', 'carpool_sharing', 'web_local']).stdout).not.toMatch(/elements/); // lapsed
      const removal = diffBuckets(short, new Set([4, 9]), new Set([9]));
      expect(ns.nft(removal).code, removal).toBe(0);
      expect(ns.run('nft', ['list', 'set', 'ip', 'carpool_sharing', 'web_local']).stdout).not.toMatch(/elements/);
      expect(ns.nft(renewBuckets(short, new Set([9]))).code).toBe(0); // the next renewal brings a lapsed one back
      expect(ns.run('nft', ['list', 'set', 'ip', 'carpool_sharing', 'web_local']).stdout).toMatch(/elements = \{ 9 timeout 600ms/);
      expect(ns.nft(removeSharing()).code).toBe(0);
      expect(ns.run('nft', ['list', 'ruleset']).stdout.trim()).toBe('');
      expect(ns.nft(removeSharing()).code).toBe(0); // idempotent
    });
  });
});
