import { describe, expect, it } from 'vitest';
import { EndedFlows } from '../../../src/balancer/shell/ct-accounting.js';
import type { CtEvent } from '../../../src/balancer/core/ctevents.js';

const ev = (id: number | undefined, mark: number, server: string, sport: number | undefined, packets: number, type: CtEvent['type'] = 'destroy'): CtEvent => ({
  type, family: 'ipv4', ...(id !== undefined ? { id } : {}), mark,
  orig: { src: '10.0.0.9', dst: '10.0.0.100', proto: 6, sport: 5000, dport: 80 },
  reply: { src: server, dst: '10.0.0.9', proto: 6, ...(sport !== undefined ? { sport } : {}), dport: 5000 },
  counters: { origPackets: packets, origBytes: packets * 10, replyPackets: 1, replyBytes: 100 },
});

describe('EndedFlows', () => {
  it('adds carpool\'s destroyed flows by mark and server (port, or any port), both directions', () => {
    const f = new EndedFlows();
    f.take([ev(1, 0xca000001, '10.0.1.2', 80, 4), ev(2, 0xca000001, '10.0.1.2', 8080, 2), ev(3, 0xca000002, '10.0.1.2', 80, 9)]);
    expect(f.ended(0xca000001, '10.0.1.2', 80)).toEqual({ packets: 5, bytes: 140 });
    expect(f.ended(0xca000001, '10.0.1.2', 8080)).toEqual({ packets: 3, bytes: 120 });
    expect(f.ended(0xca000001, '10.0.1.2')).toEqual({ packets: 8, bytes: 260 });
    expect(f.ended(0xca000002, '10.0.1.2', 80)).toEqual({ packets: 10, bytes: 190 });
    expect(f.ended(0xca000003, '10.0.1.2', 80)).toEqual({ packets: 0, bytes: 0 });
    expect(f.taken).toBe(3);
  });

  it('ignores other marks, new/update events and a repeated event of the same id', () => {
    const f = new EndedFlows();
    f.take([ev(1, 0x00000001, '10.0.1.2', 80, 4), ev(2, 0xcb000001, '10.0.1.2', 80, 4), ev(3, 0xca000001, '10.0.1.2', 80, 4, 'new')]);
    expect(f.taken).toBe(0);
    f.take([ev(7, 0xca000001, '10.0.1.2', 80, 4), ev(7, 0xca000001, '10.0.1.2', 80, 4)]);
    expect(f.ended(0xca000001, '10.0.1.2', 80).packets).toBe(5);
  });

  it('remembers ended ids for the current and the previous live read, then forgets them', () => {
    const f = new EndedFlows();
    f.take([ev(7, 0xca000001, '10.0.1.2', 80, 4)]);
    expect(f.isEnded(7)).toBe(true);
    f.rotate();
    expect(f.isEnded(7)).toBe(true);
    f.rotate();
    expect(f.isEnded(7)).toBe(false);
    expect(f.ended(0xca000001, '10.0.1.2', 80).packets).toBe(5); // the totals stay
  });
});
