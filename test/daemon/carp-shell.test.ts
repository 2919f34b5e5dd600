/**
 * The CARP instance shell against a fake port and fake timers: timers re-armed from the
 * machine after every step, drops counted by reason, a removed address put back and
 * announced, operator inputs, shutdown.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CarpInstance } from '../../src/config/model.js';
import { CarpShell } from '../../src/daemon/carp-shell.js';
import { HookQueue } from '../../src/daemon/hooks.js';
import { packet, shellWorld, vip } from './fakes.js';

const MCAST = '224.0.0.18';
const VIP = '10.9.0.100';

function carpInstance(over: Partial<CarpInstance> = {}): CarpInstance {
  return {
    kind: 'carp', name: 'web', interface: 'eth0', vhid: 10, password: 'secret', advbase: 1, advskew: 0, deadratio: 3,
    preempt: true, neutral: false, addresses: [vip(VIP)], mcast: MCAST, nomcast: false, manageAddresses: true,
    shutdownHooks: false, ignoreIfState: false, ...over,
  };
}

function shell(over: Partial<CarpInstance> = {}, src = '10.9.0.1') {
  const { port, addresses, log, lines, transitions, onTransition } = shellWorld();
  const s = new CarpShell(carpInstance(over), src, {
    port, log, hooks: new HookQueue(log), addresses, now: () => Date.now(), ucarpStyle: false, onTransition,
  });
  return { s, port, addresses, lines, transitions };
}

/** Started alone: nobody answers, so it becomes master after master-down (3 s). */
function master(over: Partial<CarpInstance> = {}) {
  const t = shell(over);
  t.s.start();
  vi.advanceTimersByTime(3500);
  expect(t.s.status().state).toBe('MASTER');
  return t;
}

describe('CarpShell', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('re-arms its timer after every step: master after master-down, then one advert per advbase', () => {
    const { s, port, addresses, transitions } = shell();
    s.start();
    expect(s.status().state).toBe('BACKUP');
    vi.advanceTimersByTime(2900);
    expect(s.status().state).toBe('BACKUP');
    vi.advanceTimersByTime(200);
    expect(s.status().state).toBe('MASTER');
    expect(transitions).toEqual(['web INIT->BACKUP', 'web BACKUP->MASTER']);
    expect(addresses.added).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    expect(port.garpsFor(VIP).length).toBeGreaterThan(0);
    const n = port.sent.length;
    vi.advanceTimersByTime(5000);
    expect(port.sent.length - n).toBe(5);
    const gaps = port.sent.slice(-5).map((p, i, a) => (i ? p.at - a[i - 1]!.at : 1000));
    expect(gaps).toEqual([1000, 1000, 1000, 1000, 1000]);
    expect(port.sent.every((p) => p.dst === MCAST && p.src === '10.9.0.1')).toBe(true);
    expect(s.status().counters.advertsSent).toBe(port.sent.length);
  });

  it('a valid advert from a better master keeps it backup; malformed packets are dropped and counted by reason', () => {
    const peer = master();
    const advert = peer.port.sent.at(-1)!.payload;
    const { s, lines } = shell({ advskew: 100 }, '10.9.0.2');
    s.start();
    const from = '10.9.0.1';
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(1000);
      expect(s.receive(packet(advert, from, MCAST))).toBe(true);
    }
    expect(s.status().state).toBe('BACKUP');
    expect(s.status().master).toBe(from);
    expect(s.receive(packet(advert, from, MCAST, 64))).toBe(true);
    expect(s.receive(packet(advert.slice(0, 20), from, MCAST))).toBe(true);
    const badSum = advert.slice();
    badSum[7] = badSum[7]! ^ 0xff;
    expect(s.receive(packet(badSum, from, MCAST))).toBe(true);
    const other = shell({ password: 'other' }, '10.9.0.3').s;
    other.start();
    expect(other.receive(packet(advert, from, MCAST))).toBe(true);
    expect(s.status().counters.drops).toMatchObject({ ttl: 1, length: 1, checksum: 1, digest: 0 });
    expect(other.status().counters.drops).toMatchObject({ digest: 1 });
    expect(s.status().counters.advertsReceived).toBe(5);
    expect(lines.some((l) => l.includes('Bad TTL: [64] from 10.9.0.1'))).toBe(true);
    // A VRRPv3 packet (version 3) is not CARP's: left to the next listener, not counted.
    const v3 = advert.slice();
    v3[0] = 0x31;
    expect(s.receive(packet(v3, from, MCAST))).toBe(false);
    expect(s.status().state).toBe('BACKUP');
  });

  it('re-asserts a removed address while it holds it: added again and announced with a gratuitous ARP', () => {
    const { s, port, addresses, lines } = master();
    const garps = port.garpsFor(VIP).length;
    expect(s.reassert(port.ifindex, VIP)).toBe(true);
    expect(addresses.added.at(-1)).toEqual({ dev: 'eth0', ifindex: 7, addresses: [VIP] });
    expect(port.garpsFor(VIP).length).toBe(garps + 1);
    expect(lines.some((l) => l.includes(`virtual address ${VIP} was removed behind our back`))).toBe(true);
    // Not ours, or on another interface: nothing happens.
    expect(s.reassert(port.ifindex, '10.9.0.55')).toBe(false);
    expect(s.reassert(99, VIP)).toBe(false);
    expect(addresses.added.length).toBe(2);
  });

  it('does not re-add an address it does not hold (backup) nor one it does not manage', () => {
    const b = shell();
    b.s.start();
    expect(b.s.reassert(b.port.ifindex, VIP)).toBe(true);
    expect(b.addresses.added).toEqual([]);
    expect(b.port.frames).toEqual([]);
    const unmanaged = master({ manageAddresses: false });
    expect(unmanaged.s.reassert(unmanaged.port.ifindex, VIP)).toBe(false);
  });

  it('demote raises the advertised skew until cleared; standby hands over; a link down goes backup', () => {
    const { s, port } = master();
    s.demote(true);
    expect(s.status().priority).toMatchObject({ demoted: true, advskewEffective: 240 });
    // A demoted master bows out (advbase = advskew = 255; CARP header byte 2 is advskew).
    expect(s.status().state).toBe('BACKUP');
    expect(port.sent.at(-1)!.payload[2]).toBe(255);
    // Alone, it takes over again after master-down (3 s + 240/256 s), advertising the demoted skew.
    vi.advanceTimersByTime(3900);
    expect(s.status().state).toBe('BACKUP');
    vi.advanceTimersByTime(100);
    expect(s.status().state).toBe('MASTER');
    expect(port.sent.at(-1)!.payload[2]).toBe(240);
    s.demote(false);
    expect(s.status().priority).toMatchObject({ demoted: false, advskewEffective: 0 });
    vi.advanceTimersByTime(2000); // the advert already armed at the demoted interval (1 + 240/256 s) goes first
    expect(port.sent.at(-1)!.payload[2]).toBe(0);
    s.standby(true, 'test');
    expect(s.status().state).toBe('BACKUP');
    s.standby(false, 'test');
    const t = master();
    t.s.linkChanged('eth1', false);
    expect(t.s.status().state).toBe('MASTER');
    t.s.linkChanged('eth0', false);
    expect(t.s.status().state).toBe('BACKUP');
    expect(t.s.status().linkUp).toBe(false);
  });

  it('shutdown: resolves at once without shutdown hooks; with them after bowing out and releasing', async () => {
    const plain = master();
    await plain.s.shutdown();
    const n = plain.port.sent.length;
    vi.advanceTimersByTime(5000);
    expect(plain.port.sent.length).toBe(n); // halted: no more adverts
    const graceful = master({ shutdownHooks: true });
    let done = false;
    const p = graceful.s.shutdown().then(() => { done = true; });
    // Bow-out advert (advbase = advskew = 255), then the addresses go within a second.
    expect(graceful.port.sent.at(-1)!.payload[2]).toBe(255);
    await vi.advanceTimersByTimeAsync(1500);
    await p;
    expect(done).toBe(true);
    expect(graceful.addresses.removed).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
  });

  it('reconfigure on a master: only the added and removed addresses move, the added one is announced, no transition', () => {
    const t = master();
    const before = t.s.status().transitions;
    t.addresses.added.length = 0;
    t.port.frames.length = 0;
    t.s.reconfigure(carpInstance({ advskew: 40, addresses: [vip(VIP), vip('10.9.0.101')] }));
    expect(t.addresses.added).toEqual([{ dev: 'eth0', ifindex: 7, addresses: ['10.9.0.101'] }]);
    expect(t.addresses.removed).toEqual([]);
    expect(t.port.garpsFor('10.9.0.101')).toHaveLength(1);
    expect(t.port.garpsFor(VIP)).toHaveLength(0);
    t.s.reconfigure(carpInstance({ advskew: 40, addresses: [vip('10.9.0.101')] }));
    expect(t.addresses.removed).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    vi.advanceTimersByTime(3000);
    expect(t.port.sent.at(-1)!.payload[2]).toBe(40); // the new advskew on the wire
    expect(t.s.status()).toMatchObject({ state: 'MASTER', transitions: before, addresses: ['10.9.0.101/24'], priority: { advskew: 40 } });
    expect(() => t.s.reconfigure(carpInstance({ vhid: 11 }))).toThrow(/vhid/);
  });

  it('reconfigure on a backup changes no address', () => {
    const t = shell();
    t.s.start();
    t.s.reconfigure(carpInstance({ addresses: [vip('10.9.0.101')] }));
    expect(t.addresses.added).toEqual([]);
    expect(t.addresses.removed).toEqual([]);
  });

  it('retire: a master bows out and releases even without shutdown hooks, then stays silent', async () => {
    const t = master({ shutdownHooks: false });
    const p = t.s.retire();
    expect(t.port.sent.at(-1)!.payload[2]).toBe(255);
    expect(t.addresses.removed).toEqual([]); // make before break: held until the successor is heard (or 1 s)
    await vi.advanceTimersByTimeAsync(1500);
    await p;
    expect(t.addresses.removed).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    const n = t.port.sent.length;
    vi.advanceTimersByTime(5000);
    expect(t.port.sent.length).toBe(n);
  });
});
