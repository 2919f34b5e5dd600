import { describe, expect, it } from 'vitest';
import { multicastMac, sharedMac, unicastMac, type SharedAddress } from '../../src/sharing/core/model.js';
import { checksumCompensation, diffBuckets, removeSharing, renderSharing } from '../../src/sharing/core/nft.js';
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
    expect(diffBuckets(six, new Set([1]), new Set([2]))).toBe('delete element ip6 carpool_sharing six_local { 1 }\nadd element ip6 carpool_sharing six_local { 2 }\n');
    // Without the node's MAC no ND rule (the node answers with its own MAC: logged by the shell).
    expect(renderSharing([six], new Map())).not.toContain('nd_out');
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
    expect(text).toContain('elements = { 0, 3, 5 }');
    expect(text).toContain('ip daddr 10.9.0.50 jump web');
    expect(text).toContain('jhash ip saddr . th sport mod 64 seed 0x63617270 @web_local meta pkttype set host accept');
    expect(text).toContain('arp saddr ip 10.9.0.50 arp saddr ether set 01:00:5e:09:00:32');
    const lines = text.split('\n').map((l) => l.trim());
    // established before the bucket test (flows stay), mid-flow TCP of unknown flows dropped before it
    expect(lines.indexOf('ct state established,related meta pkttype set host accept')).toBeLessThan(lines.findIndex((l) => l.startsWith('jhash')));
  });

  it('bucket changes are one small transaction; none when equal', () => {
    expect(diffBuckets(web, new Set([1, 2]), new Set([2, 3]))).toBe('delete element ip carpool_sharing web_local { 1 }\nadd element ip carpool_sharing web_local { 3 }\n');
    expect(diffBuckets(web, new Set([1]), new Set([1]))).toBe('');
  });

  it.skipIf(!!nftUnavailable())(`the real nft and kernel accept the plane, its updates and its removal (${nftUnavailable() ?? 'root'})`, () => {
    withNetns(['eth0'], (ns) => {
      for (const t of [renderSharing([web, mail, uni, hid, six], new Map([['web', new Set([0, 1])]]), () => '02:00:00:00:00:01'), diffBuckets(web, new Set([0, 1]), new Set([1, 63])), renderSharing([web], new Map())]) {
        const r = ns.nft(t);
        expect(r.code, `${r.stderr}\n${t}`).toBe(0);
      }
      const listed = ns.run('nft', ['list', 'set', 'ip', 'carpool_sharing', 'web_local']);
      expect(listed.stdout).not.toMatch(/elements/); // the full load replaced the table: no bucket
      expect(ns.nft(removeSharing()).code).toBe(0);
      expect(ns.run('nft', ['list', 'ruleset']).stdout.trim()).toBe('');
      expect(ns.nft(removeSharing()).code).toBe(0); // idempotent
    });
  });
});
