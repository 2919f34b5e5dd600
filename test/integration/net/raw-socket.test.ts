/**
 * Raw IP sockets for real: two hosts on a bridge in network namespaces exchange protocol
 * 112 datagrams through src/net/raw-socket.ts (each side runs in an agent process).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { onesComplementSum } from '../../../src/protocol/checksum.js';
import { parseIPv6 } from '../../../src/protocol/inet.js';
import { hex, isRoot, linkLocal, NsAgent, sleep, waitDad, type AgentEvent } from './agent.js';
import { useLab } from '../helpers/lab.js';

const SUBNET = '10.201.0';
// Genuine ucarp CARP header (notes §8.1) as a realistic payload.
const CARP = '212a00070001c373858cf9588822913ba8a16e1fe776bd0849c9d40853b18b697e624c86';

interface Pkt {
  family: number; src: string; dst: string; ttl: number; ifindex: number;
  ipHeader?: { protocol: number; tos: number; ttl: number; totalLength: number; headerLength: number };
  payload: { hex: string };
}
const packetsOf = (a: NsAgent, handle: number): Pkt[] =>
  a.events.filter((e) => e.event === 'packet' && e.handle === handle).map((e) => e.packet as Pkt);
const isPacketFor = (handle: number) => (e: AgentEvent): boolean => e.event === 'packet' && e.handle === handle;

describe.skipIf(!isRoot)('raw IP sockets between namespaces', () => {
  const lan = useLab('ntr', { hosts: 2, subnet: SUBNET, client: false, beforeDestroy: () => Promise.allSettled([a1?.stop(), a2?.stop()]) });
  let a1: NsAgent;
  let a2: NsAgent;
  let ifindex2: number;

  beforeAll(async () => {
    [a1, a2] = await Promise.all([NsAgent.start(lan.hosts[0]!.ns), NsAgent.start(lan.hosts[1]!.ns)]);
    ifindex2 = (await a2.call<{ index: number }>('ifInfo', 'eth0')).index;
  });

  it('delivers IPv4 multicast adverts with TTL 255 and the sender does not hear itself', async () => {
    const r2 = await a2.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    await a2.call('rawJoin', r2, '224.0.0.18');
    await a2.call('rawListen', r2);
    const r1 = await a1.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0', tos: 0x10 });
    await a1.call('rawJoin', r1, '224.0.0.18'); // joined too: with loop on it would hear itself
    await a1.call('rawListen', r1);
    for (let i = 0; i < 3; i++) {
      expect(await a1.call('rawSend', r1, '224.0.0.18', hex(CARP))).toEqual({ ok: true, bytes: 36 });
    }
    await a2.waitEvents(isPacketFor(r2), 3);
    for (const p of packetsOf(a2, r2)) {
      expect(p).toMatchObject({ family: 4, src: `${SUBNET}.1`, dst: '224.0.0.18', ttl: 255, ifindex: ifindex2 });
      expect(p.ipHeader).toMatchObject({ protocol: 112, tos: 0x10, ttl: 255, headerLength: 20, totalLength: 56 });
      expect(p.payload.hex).toBe(CARP);
    }
    await sleep(300);
    expect(packetsOf(a1, r1)).toHaveLength(0); // IP_MULTICAST_LOOP 0
    await a1.call('rawClose', r1);
    await a2.call('rawClose', r2);
  });

  it('shows a lower TTL so the daemon can drop injected packets (multicast and unicast)', async () => {
    const r2 = await a2.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    await a2.call('rawJoin', r2, '224.0.0.18');
    await a2.call('rawListen', r2);
    const low = await a1.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0', multicastTtl: 64, unicastTtl: 64 });
    const normal = await a1.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    await a1.call('rawSend', low, '224.0.0.18', hex(CARP));
    await a2.waitEvents(isPacketFor(r2), 1);
    await a1.call('rawSend', low, `${SUBNET}.2`, hex(CARP));
    await a2.waitEvents(isPacketFor(r2), 2);
    await a1.call('rawSend', normal, `${SUBNET}.2`, hex(CARP));
    await a2.waitEvents(isPacketFor(r2), 3);
    const got = packetsOf(a2, r2).map((p) => [p.dst, p.ttl]);
    expect(got).toEqual([['224.0.0.18', 64], [`${SUBNET}.2`, 64], [`${SUBNET}.2`, 255]]);
    for (const [a, h] of [[a1, low], [a1, normal], [a2, r2]] as const) await a.call('rawClose', h);
  });

  it('chooses the source per datagram (IP_PKTINFO) or by bind(), which also filters receive', async () => {
    const idx1 = (await a1.call<{ index: number }>('ifInfo', 'eth0')).index;
    await a1.call('addAddress', { ifindex: idx1, address: `${SUBNET}.11`, prefix: 24 });
    const r2 = await a2.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    await a2.call('rawJoin', r2, '224.0.0.18');
    await a2.call('rawListen', r2);
    const r1 = await a1.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    await a1.call('rawJoin', r1, '224.0.0.18');
    await a1.call('rawListen', r1);
    expect(await a1.call('rawSend', r1, '224.0.0.18', hex(CARP), `${SUBNET}.11`)).toEqual({ ok: true, bytes: 36 });
    expect(await a1.call('rawSend', r1, '224.0.0.18', hex(CARP))).toEqual({ ok: true, bytes: 36 });
    await a2.waitEvents(isPacketFor(r2), 2);
    expect(packetsOf(a2, r2).map((p) => p.src)).toEqual([`${SUBNET}.11`, `${SUBNET}.1`]);
    // A source the host does not have is a send result, not an exception.
    expect(await a1.call('rawSend', r1, '224.0.0.18', hex(CARP), '10.9.9.9')).toMatchObject({ ok: false });
    // The per-datagram source left r1 receiving multicast: h2 sends, r1 hears it.
    const s2 = await a2.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    await a2.call('rawSend', s2, '224.0.0.18', hex(CARP));
    await a1.waitEvents(isPacketFor(r1), 1);
    // bind(): the source of everything sent, but Linux then delivers only datagrams for that address.
    const bound = await a1.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    await a1.call('rawBind', bound, `${SUBNET}.11`);
    await a1.call('rawJoin', bound, '224.0.0.18');
    await a1.call('rawListen', bound);
    await a1.call('rawSend', bound, '224.0.0.18', hex(CARP));
    await a2.waitEvents(isPacketFor(r2), 3);
    expect(packetsOf(a2, r2)[2]!.src).toBe(`${SUBNET}.11`);
    await a2.call('rawSend', s2, '224.0.0.18', hex(CARP));
    await a2.call('rawSend', s2, `${SUBNET}.11`, hex(CARP));
    await a1.waitEvents(isPacketFor(bound), 1);
    await sleep(300);
    expect(packetsOf(a1, bound).map((p) => p.dst)).toEqual([`${SUBNET}.11`]); // the multicast one was not delivered
    // Binding an address the host does not have is an operator error with a hint.
    await expect(a1.call('rawBind', r1, `${SUBNET}.99`)).rejects.toMatchObject({ code: 'NET_EADDRNOTAVAIL' });
    for (const [a, h] of [[a1, r1], [a1, bound], [a2, r2], [a2, s2]] as const) await a.call('rawClose', h);
  });

  it('delivers IPv6 adverts to ff02::12 with hop limit 255; kernel checksum at offset 6', async () => {
    await Promise.all([waitDad(lan.hosts[0]!.ns, 'eth0'), waitDad(lan.hosts[1]!.ns, 'eth0')]);
    const ll1 = await linkLocal(lan.hosts[0]!.ns, 'eth0');
    const verified = await a2.call<number>('rawOpen', { family: 6, protocol: 112, ifname: 'eth0', checksumOffset: 6 });
    const plain = await a2.call<number>('rawOpen', { family: 6, protocol: 112, ifname: 'eth0' });
    for (const h of [verified, plain]) {
      await a2.call('rawJoin', h, 'ff02::12');
      await a2.call('rawListen', h);
    }
    const withSum = await a1.call<number>('rawOpen', { family: 6, protocol: 112, ifname: 'eth0', tos: 0xc0, checksumOffset: 6 });
    const noSum = await a1.call<number>('rawOpen', { family: 6, protocol: 112, ifname: 'eth0', tos: 0xc0 });
    // VRRPv3 advert: v3 type 1, vrid 42, prio 100, 1 address, interval 100 cs, checksum 0, fd00::1.
    const vrrp = `312a6401 0064 0000 ${'fd00'.padEnd(30, '0')}01`.replace(/\s/g, '');
    expect(await a1.call('rawSend', withSum, 'ff02::12', hex(vrrp))).toEqual({ ok: true, bytes: 24 });
    await a2.waitEvents(isPacketFor(verified), 1);
    await a2.waitEvents(isPacketFor(plain), 1);
    const p = packetsOf(a2, plain)[0]!;
    expect(p).toMatchObject({ family: 6, src: ll1, dst: 'ff02::12', ttl: 255, ifindex: ifindex2 });
    expect(p.ipHeader).toBeUndefined();
    const payload = Buffer.from(p.payload.hex, 'hex');
    expect(payload.readUInt16BE(6)).not.toBe(0); // filled in by the sender's kernel
    const pseudo = Buffer.alloc(40);
    Buffer.from(parseIPv6(p.src)!).copy(pseudo, 0);
    Buffer.from(parseIPv6(p.dst)!).copy(pseudo, 16);
    pseudo.writeUInt32BE(payload.length, 32);
    pseudo[39] = 112;
    expect(onesComplementSum([pseudo, payload])).toBe(0xffff); // RFC 8200 §8.1 pseudo-header checksum
    // Per-datagram source for IPv6 too (IPV6_PKTINFO); the checksum follows the source.
    await a1.call('addAddress', { ifindex: (await a1.call<{ index: number }>('ifInfo', 'eth0')).index, address: 'fd00:201::1', prefix: 64, nodad: true });
    await a1.call('rawSend', withSum, 'ff02::12', hex(vrrp), 'fd00:201::1');
    await a2.waitEvents(isPacketFor(verified), 2);
    expect(packetsOf(a2, verified)[1]!.src).toBe('fd00:201::1');
    // A datagram with a wrong checksum reaches the plain socket but not the verifying one.
    await a1.call('rawSend', noSum, 'ff02::12', hex(vrrp));
    await a2.waitEvents(isPacketFor(plain), 3);
    await sleep(300);
    expect(packetsOf(a2, verified)).toHaveLength(2);
    for (const [a, h] of [[a1, withSum], [a1, noSum], [a2, verified], [a2, plain]] as const) await a.call('rawClose', h);
  });

  it('returns network errors as results and throws for misuse', async () => {
    const r1 = await a1.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    // Larger than an IPv4 datagram can be: the kernel says EMSGSIZE, the wrapper reports it.
    const huge = hex(Buffer.alloc(70_000));
    expect(await a1.call('rawSend', r1, '224.0.0.18', huge)).toEqual({ ok: false, error: 'EMSGSIZE' });
    const fd = await a1.call<number>('native', 'rawOpen', 4, 112, 'eth0', {});
    expect(await a1.call('native', 'rawSend', fd, 4, '224.0.0.18', huge)).toBe(-90); // -EMSGSIZE
    await expect(a1.call('native', 'rawSend', fd, 6, 'ff02::12', hex(CARP))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(a1.call('native', 'rawSend', fd, 4, 'not-an-ip', hex(CARP))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(a1.call('native', 'rawSend', fd, 4, '224.0.0.18', 'text')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(a1.call('native', 'packetSend', fd, 0, hex(CARP))).rejects.toMatchObject({ code: 'EBADF' }); // wrong kind
    expect(await a1.call('native', 'rawClose', fd)).toBe(true);
    expect(await a1.call('native', 'rawClose', fd)).toBe(false); // idempotent, and fd reuse is safe
    await expect(a1.call('native', 'rawSend', fd, 4, '224.0.0.18', hex(CARP))).rejects.toMatchObject({ code: 'EBADF' });
    await expect(a1.call('rawOpen', { family: 4, protocol: 112, ifname: 'nosuch0' }))
      .rejects.toMatchObject({ code: 'NET_ENODEV', hint: expect.stringContaining('ip link') as unknown });
    await expect(a1.call('rawChecksum', r1, 6)).rejects.toMatchObject({ code: 'NET_EINVAL' });
    await a1.call('rawClose', r1);
  });

  it('survives handlers that throw or close the socket mid-batch', async () => {
    const thrower = await a2.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    const closer = await a2.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    await a2.call('rawJoin', thrower, '224.0.0.18');
    await a2.call('rawListen', thrower, { throwEvery: true });
    await a2.call('rawListen', closer, { closeAfter: 1 });
    const r1 = await a1.call<number>('rawOpen', { family: 4, protocol: 112, ifname: 'eth0' });
    // Keep h2's loop busy while the datagrams arrive, so one wake-up drains all five as a batch.
    const busy = a2.call('busy', 400);
    await sleep(100);
    await Promise.all(Array.from({ length: 5 }, () => a1.call('rawSend', r1, '224.0.0.18', hex(CARP))));
    await busy;
    await a2.waitEvents(isPacketFor(thrower), 5);
    await a2.waitEvents((e) => e.event === 'warning', 5);
    expect(a2.events.filter((e) => e.event === 'warning')[0]!.message).toMatch(/handler failure #1/);
    await sleep(200);
    expect(packetsOf(a2, closer)).toHaveLength(1);
    expect(a2.events.filter((e) => e.event === 'closed' && e.handle === closer)).toHaveLength(1);
    expect(await a2.call('ifInfo', 'eth0')).toMatchObject({ name: 'eth0' }); // still responsive
    await a2.call('rawClose', thrower);
    await a1.call('rawClose', r1);
  });
});
