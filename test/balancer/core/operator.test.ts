import { describe, expect, it } from 'vitest';
import type { CheckerSettings, RealServer, VirtualService } from '../../../src/balancer/core/model.js';
import { initialHealth, pool, settle, step } from '../../../src/balancer/core/health.js';
import {
  effectiveService, findServer, findService, OperatorError, parseServerRef, reconcile,
} from '../../../src/balancer/core/operator.js';

const check: CheckerSettings = { name: 'TCP_CHECK', delayLoopMs: 1000, retry: 0, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false, rise: 1, dynamicWeight: false };
const rs = (address: string, port = 80, weight = 1): RealServer => ({ address, port, weight, inhibitOnFailure: false, checkers: [check] });
const VS: VirtualService = {
  name: '10.0.0.1:80/tcp', family: 'ipv4', match: { kind: 'addr', vip: '10.0.0.1', port: 80 }, protocol: 'tcp', scheduler: 'rr', method: 'nat',
  hashPort: false, hashFallback: false, quorum: { quorum: 1, hysteresis: 0 }, alpha: false, omega: false, haSuspend: false,
  realServers: [rs('10.0.1.2'), rs('10.0.1.3'), rs('10.0.1.3', 8080)],
};
const code = (fn: () => unknown): string => {
  try { fn(); } catch (e) { return e instanceof OperatorError ? e.code : `not an OperatorError: ${String(e)}`; }
  return 'no error';
};

describe('operator references', () => {
  it('parses IP, IP:port, IPv6 and [IPv6]:port, canonically; refuses the rest', () => {
    expect(parseServerRef('10.0.1.2')).toEqual({ address: '10.0.1.2' });
    expect(parseServerRef(' 10.0.1.2:8080 ')).toEqual({ address: '10.0.1.2', port: 8080 });
    expect(parseServerRef('FD00:0::2')).toEqual({ address: 'fd00::2' });
    expect(parseServerRef('[fd00::2]:80')).toEqual({ address: 'fd00::2', port: 80 });
    for (const bad of ['10.0.1', '10.0.1.256', 'web1', '10.0.1.2:0', '10.0.1.2:65536', '[10.0.1.2]:80', '']) expect(code(() => parseServerRef(bad)), bad).toBe('BAD_SERVER');
  });

  it('finds a service by name, config name, IP:port, IP port, group entry, fwmark', () => {
    const services = [
      { name: '10.0.0.1:80/tcp', configName: '10.0.0.1 80', entries: ['10.0.0.1:80/tcp'] },
      { name: '10.0.0.1:53/udp', configName: '10.0.0.1 53', entries: ['10.0.0.1:53/udp'] },
      { name: '10.0.0.1:53/tcp', configName: '10.0.0.1 53', entries: ['10.0.0.1:53/tcp'] },
      { name: 'group:web', configName: 'group web', entries: ['10.0.0.5:80/tcp', '10.0.0.6:80/tcp'] },
      { name: 'fwmark:7', configName: 'fwmark 7', entries: ['fwmark:7'] },
    ];
    expect(findService(services, '10.0.0.1:80/tcp')).toBe(0);
    expect(findService(services, '10.0.0.1:80')).toBe(0);
    expect(findService(services, '10.0.0.1 80')).toBe(0);
    expect(findService(services, '10.0.0.1:53/UDP')).toBe(1);
    expect(findService(services, '10.0.0.6:80')).toBe(3);
    expect(findService(services, 'web')).toBe(3);
    expect(findService(services, 'group web')).toBe(3);
    expect(findService(services, 'fwmark 7')).toBe(4);
    expect(findService(services, 'fwmark:7')).toBe(4);
    expect(code(() => findService(services, '10.0.0.1:53'))).toBe('AMBIGUOUS');
    expect(code(() => findService(services, '10.0.0.9:80'))).toBe('NO_SUCH_SERVICE');
  });

  it('finds a real server by address and port, by address alone when unique', () => {
    expect(findServer(VS, { address: '10.0.1.2' })).toBe('10.0.1.2:80');
    expect(findServer(VS, { address: '10.0.1.3', port: 8080 })).toBe('10.0.1.3:8080');
    expect(code(() => findServer(VS, { address: '10.0.1.3' }))).toBe('AMBIGUOUS');
    expect(code(() => findServer(VS, { address: '10.0.1.9' }))).toBe('NO_SUCH_SERVER');
  });
});

describe('runtime overrides and reconcile', () => {
  it('effectiveService lays additions and removals over the configured servers', () => {
    const e = effectiveService(VS, { added: [rs('10.0.1.4')], removed: ['10.0.1.3:80'] });
    expect(e.realServers.map((r) => `${r.address}:${r.port}`)).toEqual(['10.0.1.2:80', '10.0.1.3:8080', '10.0.1.4:80']);
    expect(effectiveService(VS, { added: [], removed: [] })).toBe(VS);
  });

  it('a failed server stays down across a reconcile; a changed one keeps its verdict, loses the operator override; new ones start armed', () => {
    let h = step(VS, initialHealth(VS), { type: 'start', jitter: 0 }, 0).state;
    h = step(VS, h, { type: 'tick' }, 0).state;
    h = step(VS, h, { type: 'result', server: '10.0.1.3:80', checker: 0, ok: false }, 10).state;
    h = step(VS, h, { type: 'admin', server: '10.0.1.2:80', state: 'drained' }, 20).state;
    h = step(VS, h, { type: 'weight', server: '10.0.1.3:8080', weight: 5 }, 20).state;
    expect(pool(VS, h).map((m) => [m.key, m.weight])).toEqual([['10.0.1.2:80', 0], ['10.0.1.3:8080', 5]]);
    // New definition: 10.0.1.2 unchanged, 10.0.1.3:8080 weight changed in the file, 10.0.1.5 added.
    const next: VirtualService = { ...VS, realServers: [rs('10.0.1.2'), rs('10.0.1.3'), rs('10.0.1.3', 8080, 2), rs('10.0.1.5')] };
    const r = reconcile(h, next, (k) => (k === '10.0.1.3:8080' ? 'changed' : 'same'), 100, 0.5);
    expect(r.overridesDropped).toEqual(['10.0.1.3:8080']);
    expect(r.state.servers.map((s) => [s.key, s.health, s.admin, s.weightOverride])).toEqual([
      ['10.0.1.2:80', 'up', 'drained', undefined], ['10.0.1.3:80', 'down', 'enabled', undefined],
      ['10.0.1.3:8080', 'up', 'enabled', undefined], ['10.0.1.5:80', 'up', 'enabled', undefined],
    ]);
    // The failed server's checker keeps its schedule (no reset); the new one is armed now.
    expect(r.state.servers[1]!.checkers[0]).toBe(h.servers[1]!.checkers[0]);
    expect(r.state.servers[3]!.checkers[0]!.dueAt).toBe(100);
    const s = settle(next, r.state, 'reload');
    expect(pool(next, s.state).map((m) => [m.key, m.weight])).toEqual([['10.0.1.2:80', 0], ['10.0.1.3:8080', 2], ['10.0.1.5:80', 1]]);
    // Rechecked: starts over (and its override goes).
    const again = reconcile(h, VS, (k) => (k === '10.0.1.3:80' ? 'rechecked' : 'same'), 100, 0);
    expect(again.state.servers[1]!.health).toBe('up');
  });

  it('settle takes the quorum down when a reconcile removed the weight', () => {
    const vs: VirtualService = { ...VS, quorum: { quorum: 3, hysteresis: 0, downCommand: 'down' } };
    const h = step(vs, initialHealth(vs), { type: 'start', jitter: 0 }, 0).state;
    const smaller: VirtualService = { ...vs, realServers: vs.realServers.slice(0, 2) };
    const r = settle(smaller, reconcile(h, smaller, () => 'same', 5, 0).state, 'reload');
    expect(r.state.quorumUp).toBe(false);
    expect(r.effects.map((e) => e.type)).toEqual(['quorumDown', 'runNotify']);
  });
});
