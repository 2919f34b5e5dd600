import { describe, expect, it } from 'vitest';
import { drEgress, Tunnels, type IpRunner } from '../../../src/balancer/shell/direct.js';
import type { VirtualService } from '../../../src/balancer/core/model.js';
import { CarpoolError } from '../../../src/lib/errors.js';

const vs = (method: 'dr' | 'tun', addrs: string[]): VirtualService => ({
  name: '10.0.0.100:80/tcp', family: 'ipv4', match: { kind: 'addr', vip: '10.0.0.100', port: 80 }, protocol: 'tcp', scheduler: 'mh', method,
  hashPort: false, hashFallback: false, quorum: { quorum: 1, hysteresis: 0 }, alpha: false, omega: false, haSuspend: false, ingressDevice: 'eth0',
  realServers: addrs.map((address) => ({ address, port: 80, weight: 1, inhibitOnFailure: false, checkers: [] })),
});

/** A fake `ip`: routes by address, and a kernel that refuses ipip from the `failAt`-th device on. */
function fakeIp(routes: Record<string, object>, failAt = Infinity): { ip: IpRunner; calls: string[]; links: Set<string> } {
  const calls: string[] = [];
  const links = new Set<string>();
  const ip: IpRunner = (args) => {
    calls.push(args.join(' '));
    const ok = (stdout = '') => Promise.resolve({ code: 0, stdout, stderr: '' });
    if (args[1] === 'route') {
      const r = routes[args[3]!];
      return r ? ok(JSON.stringify([r])) : Promise.resolve({ code: 2, stdout: '', stderr: 'RTNETLINK answers: Network is unreachable' });
    }
    if (args[1] === 'add') {
      if (links.size + 1 >= failAt) return Promise.resolve({ code: 2, stdout: '', stderr: 'Error: Unknown device type.' });
      links.add(args[2]!);
      return ok();
    }
    if (args[1] === 'del') return links.delete(args[2]!) ? ok() : Promise.resolve({ code: 1, stdout: '', stderr: 'Cannot find device' });
    return ok();
  };
  return { ip, calls, links };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try { await p; } catch (e) { return e instanceof CarpoolError ? e.code : String(e); }
  return undefined;
}

describe('DR egress from the kernel routes', () => {
  it('the device of the on-link route; gateways, local addresses and mixed devices are refused', async () => {
    const { ip } = fakeIp({ '10.0.1.2': { dev: 'eth1' }, '10.0.1.3': { dev: 'eth1' }, '10.0.2.2': { dev: 'eth2' },
      '192.0.2.1': { dev: 'eth0', gateway: '10.0.0.254' }, '10.0.0.1': { dev: 'lo', type: 'local' } });
    expect(await drEgress(vs('dr', ['10.0.1.2', '10.0.1.3']), ip)).toBe('eth1');
    expect(await code(drEgress(vs('dr', ['10.0.1.2', '192.0.2.1']), ip))).toBe('DR_NOT_ON_LINK');
    expect(await code(drEgress(vs('dr', ['10.0.0.1']), ip))).toBe('DR_NOT_ON_LINK');
    expect(await code(drEgress(vs('dr', ['10.9.9.9']), ip))).toBe('DR_NOT_ON_LINK');
    expect(await code(drEgress(vs('dr', ['10.0.1.2', '10.0.2.2']), ip))).toBe('DR_EGRESS');
  });
});

describe('TUN devices', () => {
  it('one ipip device per real server address, shared across services, deleted on remove', async () => {
    const { ip, links } = fakeIp({});
    const t = new Tunnels(ip);
    t.plan([vs('tun', ['10.0.1.2', '10.0.1.3']), vs('dr', ['10.0.1.9']), vs('tun', ['10.0.1.3'])]);
    expect([...t.devices(vs('tun', ['10.0.1.3', '10.0.1.2']))]).toEqual([['10.0.1.3:80', 'cptun2'], ['10.0.1.2:80', 'cptun1']]);
    await t.create();
    expect([...links]).toEqual(['cptun1', 'cptun2']);
    await t.remove();
    expect(links.size).toBe(0);
  });

  it('a kernel that refuses the second device: TUN_UNSUPPORTED, and the first one is gone again', async () => {
    const { ip, links, calls } = fakeIp({}, 2);
    const t = new Tunnels(ip);
    t.plan([vs('tun', ['10.0.1.2', '10.0.1.3'])]);
    const err = await t.create().catch((e: unknown) => e as CarpoolError);
    expect(err).toBeInstanceOf(CarpoolError);
    expect((err as CarpoolError).code).toBe('TUN_UNSUPPORTED');
    expect((err as CarpoolError).message).toMatch(/10\.0\.1\.3 .*Unknown device type.*CONFIG_NET_IPIP/);
    expect(links.size).toBe(0);
    expect(calls).toContain('link add cptun1 type ipip remote 10.0.1.2');
  });
});
