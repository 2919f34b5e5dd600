/** VRRP frames of the keepalived golden captures in testdata/, as the receive path sees them. */
import { readPcap } from './pcap.js';
import { decodeIPv4Header } from '../../src/protocol/ipv4.js';
import { parseIP } from '../../src/protocol/inet.js';
import type { VrrpRxPacket } from '../../src/protocol/vrrp/packet.js';

export const testdata = (name: string): string => new URL(`../../testdata/${name}`, import.meta.url).pathname;

export interface Captured {
  readonly t: number;
  readonly frame: Uint8Array;
  readonly pkt: VrrpRxPacket;
  /** IPv4 only: TOS, ID, DF; IPv6: traffic class. */
  readonly tos: number;
  readonly id: number;
  readonly df: boolean;
}

/** VRRP frames (IPv4 protocol or IPv6 next header 112) of a capture. */
export function vrrpFrames(file: string): Captured[] {
  const out: Captured[] = [];
  for (const r of readPcap(testdata(file))) {
    const f = r.frame;
    const type = (f[12]! << 8) | f[13]!;
    if (type === 0x0800) {
      const ip = decodeIPv4Header(f.subarray(14));
      if (!ip.ok || ip.header.protocol !== 112) continue;
      out.push({
        t: r.tsMicros / 1000, frame: f, tos: ip.header.tos, id: ip.header.id, df: ip.header.dontFragment,
        pkt: { family: 4, src: parseIP(ip.header.src)!.bytes, dst: parseIP(ip.header.dst)!.bytes, ttl: ip.header.ttl, payload: ip.payload },
      });
    } else if (type === 0x86dd && f[14 + 6] === 112) {
      const plen = (f[18]! << 8) | f[19]!;
      out.push({
        t: r.tsMicros / 1000, frame: f, tos: ((f[14]! & 0x0f) << 4) | (f[15]! >> 4), id: 0, df: false,
        pkt: { family: 6, src: f.slice(22, 38), dst: f.slice(38, 54), ttl: f[21]!, payload: f.subarray(54, 54 + plen) },
      });
    }
  }
  return out;
}

