import { describe, expect, it } from 'vitest';
import { multicastMac, type SharedAddress } from '../../src/sharing/core/model.js';
import { diffBuckets, removeSharing, renderSharing } from '../../src/sharing/core/nft.js';
import { nftUnavailable, withNetns } from '../balancer/core/nft-check.js';

const web: SharedAddress = {
  name: 'web', address: '10.9.0.50', prefix: 24, interface: 'eth0', buckets: 64, hash: 'sourceip-sourceport',
  nodes: [{ name: 'n1', address: '10.9.0.1' }, { name: 'n2', address: '10.9.0.2' }], mode: 'multicast', mac: multicastMac('10.9.0.50'),
  vhidBase: 100, password: 'x', advbase: 1,
};
const mail: SharedAddress = { ...web, name: 'mail', address: '10.9.0.51', hash: 'sourceip', buckets: 16, mac: multicastMac('10.9.0.51') };

describe('load sharing nftables plane', () => {
  it('multicast MAC of an address: 01:00:5e and its low 23 bits', () => {
    expect(multicastMac('10.9.0.50')).toBe('01:00:5e:09:00:32');
    expect(multicastMac('192.168.200.7')).toBe('01:00:5e:28:c8:07');
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
      for (const t of [renderSharing([web, mail], new Map([['web', new Set([0, 1])]])), diffBuckets(web, new Set([0, 1]), new Set([1, 63])), renderSharing([web], new Map())]) {
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
