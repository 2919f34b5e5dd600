/** Minimal classic-pcap reader for golden packets in testdata/ (Ethernet link type only). */
import { readFileSync } from 'node:fs';

export interface PcapRecord {
  readonly tsMicros: number;
  readonly frame: Uint8Array;
}

export function readPcap(path: string): PcapRecord[] {
  const buf = readFileSync(path);
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4) throw new Error(`${path}: not a microsecond pcap file`);
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`${path}: link type ${u32(20)} is not Ethernet`);
  const out: PcapRecord[] = [];
  for (let off = 24; off + 16 <= buf.length;) {
    const sec = u32(off), usec = u32(off + 4), incl = u32(off + 8);
    out.push({ tsMicros: sec * 1e6 + usec, frame: new Uint8Array(buf.subarray(off + 16, off + 16 + incl)) });
    off += 16 + incl;
  }
  return out;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
