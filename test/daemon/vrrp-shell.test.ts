/**
 * The VRRP instance shell (and its coordinator) against a fake port and fake timers:
 * timers re-armed from the machine after every step, drops counted by reason, a removed
 * address put back and announced, operator inputs, tracked link, shutdown.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CarpoolConfig, VrrpInstance } from '../../src/config/model.js';
import { HookQueue } from '../../src/daemon/hooks.js';
import { VrrpCoordinator } from '../../src/daemon/vrrp-shell.js';
import { packet, shellWorld, vip } from './fakes.js';

const GROUP = '224.0.0.18';
const VIP = '10.9.1.100';

function vrrpInstance(over: Partial<VrrpInstance> = {}): VrrpInstance {
  return {
    kind: 'vrrp', name: 'VI_1', interface: 'eth0', family: 4, version: 3, vrid: 51, priority: 150, advertIntervalMs: 100,
    initialState: 'BACKUP', preempt: true, preemptDelayMs: 0, mcastGroup: GROUP, unicastPeers: [], v3ChecksumAsV2: false,
    addresses: [vip(VIP)], excludedAddresses: [], routes: [], rules: [], trackInterfaces: [], trackScripts: [], trackFiles: [],
    trackPrimary: true, notify: {},
    garp: { masterDelayMs: 0, masterRepeat: 2, masterRefreshMs: 0, masterRefreshRepeat: 1, lowerPrioRepeat: 1, lowerPrioDelayMs: 0, intervalMs: 0 },
    lowerPrioNoAdvert: false, higherPrioSendAdvert: false, downTimerAdverts: 3, ...over,
  };
}

function shell(over: Partial<VrrpInstance> = {}, src = '10.9.1.1') {
  const { port, addresses, log, lines, transitions, onTransition } = shellWorld();
  const inst = vrrpInstance(over);
  const config = { instances: [inst], vrrpScripts: [], trackFiles: [], syncGroups: [] } as unknown as CarpoolConfig;
  const group = new VrrpCoordinator(config, {
    log, hooksFor: () => new HookQueue(log), addresses, now: () => Date.now(), linkRunning: () => true, onTransition,
  });
  const s = group.add(inst, src, { rx: port, tx: port });
  return { s, port, addresses, lines, transitions };
}

/** Started alone: master after master-down (3 x 100 ms + skew). */
function master(over: Partial<VrrpInstance> = {}, src?: string) {
  const t = shell(over, src);
  t.s.start();
  vi.advanceTimersByTime(400);
  expect(t.s.status().state).toBe('MASTER');
  return t;
}

describe('VrrpShell', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('re-arms its timer after every step: master after master-down, then one advert per interval', () => {
    const { s, port, addresses, transitions } = shell();
    s.start();
    expect(s.status().state).toBe('BACKUP');
    vi.advanceTimersByTime(300);
    expect(s.status().state).toBe('BACKUP');
    vi.advanceTimersByTime(100);
    expect(s.status().state).toBe('MASTER');
    expect(transitions).toEqual(['VI_1 INIT->BACKUP', 'VI_1 BACKUP->MASTER']);
    expect(addresses.added).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    expect(port.garpsFor(VIP).length).toBe(2); // garp master_repeat
    const n = port.sent.length;
    vi.advanceTimersByTime(1000);
    expect(port.sent.length - n).toBe(10);
    const gaps = port.sent.slice(-10).map((p, i, a) => (i ? p.at - a[i - 1]!.at : 100));
    expect(new Set(gaps)).toEqual(new Set([100]));
    expect(port.sent.every((p) => p.dst === GROUP && p.src === '10.9.1.1')).toBe(true);
  });

  it('a higher priority keeps it backup; malformed adverts are dropped and counted by reason', () => {
    const peer = master({ priority: 200 }, '10.9.1.2');
    const advert = peer.port.sent.at(-1)!.payload;
    const { s, lines } = shell();
    s.start();
    const from = '10.9.1.2';
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(100);
      expect(s.receive(packet(advert, from, GROUP))).toBe(true);
    }
    expect(s.status().state).toBe('BACKUP');
    expect(s.status().master).toBe(from);
    expect(s.receive(packet(advert, from, GROUP, 64))).toBe(true);
    expect(s.receive(packet(advert.slice(0, 6), from, GROUP))).toBe(true);
    const badSum = advert.slice();
    badSum[6] = badSum[6]! ^ 0xff;
    expect(s.receive(packet(badSum, from, GROUP))).toBe(true);
    const notAdvert = advert.slice();
    notAdvert[0] = 0x32; // version 3, type 2: not an ADVERTISEMENT
    expect(s.receive(packet(notAdvert, from, GROUP))).toBe(true);
    expect(s.status().counters.drops).toMatchObject({ ttl: 1, length: 1, checksum: 1, type: 1, destination: 0 });
    expect(s.status().counters.advertsReceived).toBe(10);
    expect(lines.some((l) => l.includes('(VI_1) dropped advert from 10.9.1.2: ttl'))).toBe(true);
    // A VRRPv2 or CARP packet (version 2) is not this v3 instance's: left to the next listener.
    const v2 = advert.slice();
    v2[0] = 0x21;
    expect(s.receive(packet(v2, from, GROUP))).toBe(false);
  });

  it('re-asserts a removed address while master: added again and announced with a gratuitous ARP', () => {
    const { s, port, addresses, lines } = master();
    const garps = port.garpsFor(VIP).length;
    expect(s.reassert(port.ifindex, VIP)).toBe(true);
    expect(addresses.added.at(-1)).toEqual({ dev: 'eth0', ifindex: 7, addresses: [VIP] });
    const g = port.garpsFor(VIP);
    expect(g.length).toBe(garps + 1);
    expect([...g.at(-1)!.subarray(0, 6)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(lines.some((l) => l.includes(`(VI_1) virtual address ${VIP} was removed behind our back`))).toBe(true);
    expect(s.reassert(port.ifindex, '10.9.1.55')).toBe(false);
    expect(s.reassert(99, VIP)).toBe(false);
    expect(addresses.added.length).toBe(2);
    // A backup does not hold the address: nothing to put back.
    const b = shell();
    b.s.start();
    expect(b.s.reassert(b.port.ifindex, VIP)).toBe(true);
    expect(b.addresses.added).toEqual([]);
  });

  it('re-asserts a removed IPv6 address with an unsolicited neighbour advertisement', () => {
    const v6 = { family: 6 as const, address: 'fd00:9::100', prefix: 64 };
    const { s, port, addresses } = master({ family: 6, mcastGroup: 'ff02::12', addresses: [v6] }, 'fe80::1');
    const before = port.frames.length;
    expect(s.reassert(port.ifindex, v6.address)).toBe(true);
    expect(addresses.added.at(-1)).toEqual({ dev: 'eth0', ifindex: 7, addresses: [v6.address] });
    expect(port.frames.length).toBe(before + 1);
    const na = port.frames.at(-1)!;
    expect([na[12], na[13]]).toEqual([0x86, 0xdd]); // IPv6
    expect(na[14 + 6]).toBe(58); // ICMPv6
    expect(na[14 + 40]).toBe(136); // Neighbor Advertisement
  });

  it('demote steps down (clear is an error); standby hands over; its tracked link down means FAULT', () => {
    const { s } = master();
    expect(() => s.demote(false)).toThrow(expect.objectContaining({ code: 'DEMOTE_CLEAR' }));
    s.demote(true);
    expect(s.status().state).toBe('BACKUP');
    const t = master();
    t.s.standby(true, 'test');
    expect(t.s.status().state).toBe('BACKUP');
    expect(t.s.status().priority).toMatchObject({ standby: true });
    vi.advanceTimersByTime(2000);
    expect(t.s.status().state).toBe('BACKUP');
    const l = master();
    l.s.linkChanged('eth1', false);
    expect(l.s.status().state).toBe('MASTER');
    l.s.linkChanged('eth0', false);
    expect(l.s.status().state).toBe('FAULT');
    expect(l.s.status().linkUp).toBe(false);
    l.s.linkChanged('eth0', true);
    vi.advanceTimersByTime(400);
    expect(l.s.status().state).toBe('MASTER');
  });

  it('shutdown resolves once the machine has released (bounded wait for a successor), then sends nothing', async () => {
    const { s, port, addresses } = master();
    let done = false;
    const p = s.shutdown().then(() => { done = true; });
    await vi.advanceTimersByTimeAsync(1500);
    await p;
    expect(done).toBe(true);
    expect(addresses.removed).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    const n = port.sent.length;
    vi.advanceTimersByTime(2000);
    expect(port.sent.length).toBe(n);
    expect(s.status().state).toBe('INIT');
  });

  it('reconfigure on a master: new base priority advertised, only the added / removed addresses move, no transition', () => {
    const t = master();
    const before = t.s.status().transitions;
    t.addresses.added.length = 0;
    t.port.frames.length = 0;
    t.s.reconfigure(vrrpInstance({ priority: 120, addresses: [vip(VIP), vip('10.9.1.101')] }));
    expect(t.addresses.added).toEqual([{ dev: 'eth0', ifindex: 7, addresses: ['10.9.1.101'] }]);
    expect(t.port.garpsFor('10.9.1.101')).toHaveLength(1);
    expect(t.port.garpsFor(VIP)).toHaveLength(0);
    vi.advanceTimersByTime(300);
    expect(t.port.sent.at(-1)!.payload[2]).toBe(120); // priority byte of the advert
    t.s.reconfigure(vrrpInstance({ priority: 120, addresses: [vip('10.9.1.101')] }));
    expect(t.addresses.removed).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    expect(t.s.status()).toMatchObject({ state: 'MASTER', transitions: before, addresses: ['10.9.1.101/24'], priority: { base: 120, effective: 120 } });
    expect(() => t.s.reconfigure(vrrpInstance({ vrid: 52 }))).toThrow(/VRID/);
  });

  it('retire: priority 0, release, and the instance is forgotten by its coordinator', async () => {
    const t = master();
    const p = t.s.retire();
    expect(t.port.sent.at(-1)!.payload[2]).toBe(0);
    await vi.advanceTimersByTimeAsync(1500);
    await p;
    expect(t.addresses.removed).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    const n = t.port.sent.length;
    vi.advanceTimersByTime(2000);
    expect(t.port.sent.length).toBe(n);
  });
});
