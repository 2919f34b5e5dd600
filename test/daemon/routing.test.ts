/** Routes and rules of the model → the addon's netlink requests (no root: `lo` exists everywhere). */
import { describe, expect, it } from 'vitest';
import { routeSpec, ruleSpec } from '../../src/daemon/routing.js';

describe('routeSpec', () => {
  it('a gateway route goes on the instance interface unless it names its dev; static routes let the kernel choose', () => {
    expect(routeSpec({ family: 4, dst: '10.1.0.0', prefix: 16, gateway: '127.0.0.2', table: 85, scope: 'global', proto: 12 }, 'lo'))
      .toEqual({ family: 4, dst: '10.1.0.0', prefix: 16, gateway: '127.0.0.2', ifindex: 1, table: 85, scope: 0, proto: 12 });
    expect(routeSpec({ family: 4, dst: '10.1.0.0', prefix: 16, gateway: '127.0.0.2' }, undefined)).toEqual({ family: 4, dst: '10.1.0.0', prefix: 16, gateway: '127.0.0.2' });
  });
  it('multipath: next hops with their devices and weights, no top-level device; blackhole: no device', () => {
    expect(routeSpec({ family: 4, dst: '10.2.0.0', prefix: 16, nexthops: [{ gateway: '127.0.0.2', dev: 'lo', weight: 3 }, { gateway: '127.0.0.3' }] }, 'lo'))
      .toEqual({ family: 4, dst: '10.2.0.0', prefix: 16, nexthops: [{ gateway: '127.0.0.2', ifindex: 1, weight: 3 }, { gateway: '127.0.0.3' }] });
    expect(routeSpec({ family: 4, dst: '10.3.0.0', prefix: 16, type: 'blackhole' }, 'lo')).toEqual({ family: 4, dst: '10.3.0.0', prefix: 16, type: 6 });
  });
  it('a missing device is an error naming it', () => {
    expect(() => routeSpec({ family: 4, dst: '10.1.0.0', prefix: 16, dev: 'nosuchif0' }, undefined)).toThrow('no interface nosuchif0');
  });
});

describe('ruleSpec', () => {
  it('splits the prefixes, looks up main by default, and a type is an action instead of a table', () => {
    expect(ruleSpec({ family: 4, from: '10.0.0.0/24', priority: 100 })).toEqual({ family: 4, from: { address: '10.0.0.0', prefix: 24 }, table: 254, priority: 100 });
    expect(ruleSpec({ family: 6, to: 'fd00::/64', type: 'prohibit', fwmark: 7, fwmask: 255, iif: 'eth0' }))
      .toEqual({ family: 6, to: { address: 'fd00::', prefix: 64 }, action: 8, fwmark: 7, fwmask: 255, iif: 'eth0' });
  });
});
