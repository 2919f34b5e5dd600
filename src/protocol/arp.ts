/**
 * Link-layer announcements a new master sends so clients and switches move to it at once:
 * gratuitous ARP (IPv4) and unsolicited neighbour advertisement (IPv6). Whole Ethernet
 * frames, sent on an AF_PACKET socket by the shell.
 */
import { internetChecksum } from './checksum.js';
import { parseIPv4, parseIPv6 } from './inet.js';

export function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`bad MAC address: ${text}`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/**
 * Gratuitous ARP as ucarp sends it (notes §4.3): broadcast ARP *request*, sender MAC =
 * `mac`, sender IP = target IP = the virtual address, target MAC = `mac` (ucarp) or
 * broadcast (`targetMac: 'broadcast'`, keepalived).
 */
export function gratuitousArp(mac: Uint8Array, vip: string, opts: { targetMac?: 'self' | 'broadcast' } = {}): Uint8Array {
  const ip = parseIPv4(vip);
  if (!ip) throw new Error(`not an IPv4 address: ${vip}`);
  const f = new Uint8Array(42);
  f.set(BROADCAST, 0);
  f.set(mac, 6);
  f[12] = 0x08; f[13] = 0x06;
  f.set([0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01], 14); // Ethernet/IPv4, request
  f.set(mac, 22);
  f.set(ip, 28);
  f.set(opts.targetMac === 'broadcast' ? BROADCAST : mac, 32);
  f.set(ip, 38);
  return f;
}

/**
 * Unsolicited neighbour advertisement (RFC 4861 §7.2.6) for `target`, from `source`
 * (an address of the interface, usually its link-local), to all-nodes ff02::1, hop limit
 * 255, Override flag set (Router flag optional), with the target link-layer address option.
 */
export function unsolicitedNeighbourAdvert(mac: Uint8Array, source: string, target: string, opts: { router?: boolean } = {}): Uint8Array {
  const src = parseIPv6(source);
  const tgt = parseIPv6(target);
  if (!src || !tgt) throw new Error(`not IPv6 addresses: ${source}, ${target}`);
  const dst = parseIPv6('ff02::1')!;
  const icmp = new Uint8Array(32);
  icmp[0] = 136; // Neighbor Advertisement
  icmp[4] = (opts.router ? 0x80 : 0) | 0x20; // R, S=0 (unsolicited), O=1
  icmp.set(tgt, 8);
  icmp[24] = 2; icmp[25] = 1; // option: target link-layer address, 8 bytes
  icmp.set(mac, 26);
  const pseudo = new Uint8Array(40);
  pseudo.set(src, 0);
  pseudo.set(dst, 16);
  pseudo[34] = 0; pseudo[35] = icmp.length;
  pseudo[39] = 58;
  const sum = internetChecksum(pseudo, icmp);
  icmp[2] = sum >> 8; icmp[3] = sum & 0xff;
  const f = new Uint8Array(14 + 40 + icmp.length);
  f.set([0x33, 0x33, 0, 0, 0, 1], 0);
  f.set(mac, 6);
  f[12] = 0x86; f[13] = 0xdd;
  f[14] = 0x60;
  f[18] = 0; f[19] = icmp.length;
  f[20] = 58; // ICMPv6
  f[21] = 255;
  f.set(src, 22);
  f.set(dst, 38);
  f.set(icmp, 54);
  return f;
}
