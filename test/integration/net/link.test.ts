/**
 * Interface facts, addresses and routes through the addon's ioctl/rtnetlink calls, checked
 * against what `ip` (and an independent python3 netlink dump) sees in the namespace.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { inNs, run } from '../../../src/lib/exec.js';
import { IFA_F } from '../../../src/net/link.js';
import { isRoot, NsAgent } from './agent.js';
import { useLab } from '../helpers/lab.js';

const SUBNET = '10.202.0';
const IFA_PROTO_SCRIPT = fileURLToPath(new URL('./fixtures/ifa_proto.py', import.meta.url));

interface Addr { ifindex: number; family: number; address: string; prefix: number; label: string | null; flags: number; proto: number }

describe.skipIf(!isRoot)('interfaces, addresses and routes (rtnetlink)', () => {
  const lan = useLab('ntl', { hosts: 1, subnet: SUBNET, client: false, beforeDestroy: () => agent?.stop() });
  let ns: string;
  let agent: NsAgent;
  let ifindex: number;
  const ip = async (...args: string[]): Promise<string> => (await run(inNs(ns, ['ip', ...args]))).stdout;

  beforeAll(async () => {
    ns = lan.hosts[0]!.ns;
    agent = await NsAgent.start(ns);
    ifindex = (await agent.call<{ index: number }>('ifInfo', 'eth0')).index;
  });

  it('reads interface facts like ip link does, aliases included', async () => {
    const link = await ip('-o', 'link', 'show', 'dev', 'eth0');
    const mac = /link\/ether ([0-9a-f:]{17})/.exec(link)![1];
    const index = Number(/^(\d+):/.exec(link)![1]);
    const info = await agent.call('ifInfo', 'eth0');
    expect(info).toMatchObject({ index, name: 'eth0', mac, mtu: 1500, up: true, running: true, hwType: 1 });
    expect(await agent.call('ifInfo', 'eth0:carp0')).toEqual(info);
    expect(await agent.call('ifInfo', 'nosuch0')).toBeNull();
    expect(await agent.call('ifInfo', 'nosuch0:x')).toBeNull();
    expect(await agent.call('ifInfo', 'lo')).toMatchObject({ index: 1, name: 'lo', mac: '00:00:00:00:00:00' });
  });

  it('adds, lists and deletes an IPv4 address with label, broadcast and IFA_PROTO', async () => {
    const spec = { ifindex, address: `${SUBNET}.100`, prefix: 24 };
    expect(await agent.call('addAddress', { ...spec, label: 'eth0:vip', broadcast: '+', proto: 0x12 })).toBe('added');
    expect(await agent.call('addAddress', { ...spec, label: 'eth0:vip' })).toBe('exists'); // EEXIST is a result
    expect(await ip('-o', '-4', 'addr', 'show', 'dev', 'eth0'))
      .toMatch(new RegExp(`inet ${SUBNET}\\.100/24 brd ${SUBNET}\\.255 scope global secondary eth0:vip`));
    const listed = await agent.call<Addr[]>('listAddresses', ifindex);
    expect(listed).toContainEqual(expect.objectContaining({ family: 4, address: `${SUBNET}.100`, prefix: 24, label: 'eth0:vip', proto: 0x12 }));
    expect(listed).toContainEqual(expect.objectContaining({ family: 4, address: `${SUBNET}.1`, label: 'eth0', proto: 0 }));
    const all = await agent.call<Addr[]>('listAddresses');
    expect(all.some((a) => a.ifindex === 1 && a.address === '127.0.0.1')).toBe(true);
    // The tag as the kernel stores it, read without our code (iproute2 6.1 does not print it).
    const dump = (await run(inNs(ns, ['python3', IFA_PROTO_SCRIPT]))).stdout.trim().split('\n').map((l) => JSON.parse(l) as { address: string; proto: number });
    expect(dump).toContainEqual({ index: ifindex, family: 4, address: `${SUBNET}.100`, proto: 0x12 });
    const ipHelp = (await run(inNs(ns, ['ip', 'addr', 'help']), { allowFail: true })).stderr;
    if (/proto/.test(ipHelp)) expect(await ip('addr', 'show', 'dev', 'eth0')).toMatch(/proto 0x12/);
    expect(await agent.call('deleteAddress', spec)).toBe('deleted');
    expect(await agent.call('deleteAddress', spec)).toBe('absent'); // EADDRNOTAVAIL is a result
    expect(await ip('-o', 'addr', 'show', 'dev', 'eth0')).not.toContain(`${SUBNET}.100`);
  });

  it('adds an IPv6 address without DAD and prefix route', async () => {
    const spec = { ifindex, address: 'fd00:202::100', prefix: 64 };
    expect(await agent.call('addAddress', { ...spec, nodad: true, noprefixroute: true, proto: 0x12 })).toBe('added');
    expect(await agent.call('addAddress', { ...spec, nodad: true })).toBe('exists');
    expect(await ip('-o', '-6', 'addr', 'show', 'dev', 'eth0')).toMatch(/inet6 fd00:202::100\/64 scope global nodad noprefixroute/);
    expect(await ip('-6', 'route', 'show', 'dev', 'eth0')).not.toContain('fd00:202::/64');
    const mine = (await agent.call<Addr[]>('listAddresses', ifindex)).find((a) => a.address === 'fd00:202::100')!;
    expect(mine).toMatchObject({ family: 6, prefix: 64, label: null, proto: 0x12 });
    expect(mine.flags & IFA_F.NODAD).toBe(IFA_F.NODAD);
    expect(mine.flags & IFA_F.NOPREFIXROUTE).toBe(IFA_F.NOPREFIXROUTE);
    expect(mine.flags & IFA_F.TENTATIVE).toBe(0);
    // IPv6 deletion matches the prefix length too.
    expect(await agent.call('deleteAddress', { ...spec, prefix: 128 })).toBe('absent');
    expect(await agent.call('deleteAddress', spec)).toBe('deleted');
    expect(await agent.call('deleteAddress', spec)).toBe('absent');
  });

  it('adds, replaces and deletes routes (keepalived virtual_routes)', async () => {
    const dflt = { dst: '0.0.0.0', prefix: 0, gateway: `${SUBNET}.254`, ifindex };
    expect(await agent.call('addRoute', dflt)).toBe('added');
    expect(await ip('route', 'show', 'default')).toMatch(new RegExp(`default via ${SUBNET}\\.254 dev eth0`));
    expect(await agent.call('addRoute', { ...dflt, gateway: `${SUBNET}.253` })).toBe('added'); // NLM_F_REPLACE
    expect((await ip('route', 'show', 'default')).trim().split('\n')).toEqual([expect.stringContaining(`via ${SUBNET}.253`)]);
    const other = { dst: '192.168.77.0', prefix: 24, gateway: `${SUBNET}.254`, table: 100, metric: 50, src: `${SUBNET}.1`, proto: 18 };
    expect(await agent.call('addRoute', other)).toBe('added');
    expect(await ip('route', 'show', 'table', '100'))
      .toMatch(new RegExp(`192\\.168\\.77\\.0/24 via ${SUBNET}\\.254 dev eth0 proto keepalived src ${SUBNET}\\.1 metric 50`));
    expect(await agent.call('addRoute', { dst: '192.168.78.0', prefix: 24, ifindex })).toBe('added');
    expect(await ip('route', 'show', '192.168.78.0/24')).toMatch(/192\.168\.78\.0\/24 dev eth0 scope link/);
    // IPv6 through an on-link global gateway.
    await agent.call('addAddress', { ifindex, address: 'fd00:202::1', prefix: 64, nodad: true });
    expect(await agent.call('addRoute', { dst: 'fd00:99::', prefix: 64, gateway: 'fd00:202::fe', metric: 7 })).toBe('added');
    expect(await ip('-6', 'route', 'show', 'fd00:99::/64')).toMatch(/fd00:99::\/64 via fd00:202::fe dev eth0 (proto boot )?metric 7/);
    expect(await agent.call('deleteRoute', { dst: 'fd00:99::', prefix: 64 })).toBe('deleted');
    expect(await agent.call('deleteRoute', { dst: 'fd00:99::', prefix: 64 })).toBe('absent');
    expect(await agent.call('deleteRoute', { dst: '0.0.0.0', prefix: 0 })).toBe('deleted');
    expect(await agent.call('deleteRoute', { dst: '0.0.0.0', prefix: 0 })).toBe('absent'); // ESRCH is a result
    expect(await agent.call('deleteRoute', { dst: '192.168.77.0', prefix: 24, table: 100 })).toBe('deleted');
    expect(await agent.call('deleteRoute', { dst: '192.168.78.0', prefix: 24 })).toBe('deleted');
    expect(await ip('route', 'show', 'table', 'all')).not.toMatch(/192\.168\.7[78]|default/);
  });

  it('lists addresses from a dump that spans many netlink messages', async () => {
    const batch = Array.from({ length: 800 }, (_, i) => `addr add 10.212.${i >> 8}.${i & 0xff}/32 dev eth0`).join('\n');
    await run(inNs(ns, ['ip', '-batch', '-']), { input: `${batch}\n` });
    const listed = await agent.call<Addr[]>('listAddresses', ifindex);
    expect(listed.filter((a) => a.address.startsWith('10.212.'))).toHaveLength(800);
    await run(inNs(ns, ['ip', 'addr', 'flush', 'dev', 'eth0', 'to', '10.212.0.0/16']));
    expect((await agent.call<Addr[]>('listAddresses', ifindex)).some((a) => a.address.startsWith('10.212.'))).toBe(false);
  });

  it('throws NetError with a code for real failures', async () => {
    await expect(agent.call('addAddress', { ifindex: 9999, address: '10.202.9.9', prefix: 24 })).rejects.toMatchObject({ code: 'NET_ENODEV' });
    await expect(agent.call('addRoute', { dst: '0.0.0.0', prefix: 0, gateway: '192.0.2.1' })).rejects.toMatchObject({ code: 'NET_ENETUNREACH' });
    await expect(agent.call('addAddress', { ifindex, address: 'bogus', prefix: 24 })).rejects.toMatchObject({ code: 'NET_EINVAL' });
    await expect(agent.call('native', 'addrAdd', ifindex, 4, '10.0.0.1', 33, {})).rejects.toMatchObject({ code: 'EINVAL' });
    expect(await agent.call('native', 'addrDel', ifindex, 4, '10.202.9.9', 24)).toBe(-99); // -EADDRNOTAVAIL
  });
});
