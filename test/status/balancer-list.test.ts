import { describe, expect, it } from 'vitest';
import type { BalancersStatus } from '../../src/control/status.js';
import { formatBalancerList } from '../../src/status/balancer-list.js';
import { golden } from '../helpers/golden.js';

const ST: BalancersStatus = {
  plane: { inForce: true, applies: 7, failures: 0 },
  services: [{
    name: '10.9.0.100:80/tcp', configName: '10.9.0.100 80', entries: ['10.9.0.100:80/tcp'], scheduler: 'wrr', method: 'nat', quorumUp: true,
    persistenceSeconds: 360, removed: ['10.9.1.9:80'],
    servers: [
      { key: '10.9.1.2:80', health: 'up', admin: 'enabled', configuredWeight: 3, weight: 3, active: 12, inactive: 4, checkers: [],
        stats: { connections: 1234, packets: 56789, bytes: 12345678 }, rates: { cps: 12, pps: 340, bps: 81920 } },
      { key: '10.9.1.3:80', health: 'up', admin: 'drained', configuredWeight: 1, weight: 0, active: 2, inactive: 0, checkers: [],
        stats: { connections: 10, packets: 100, bytes: 1000 }, rates: { cps: 0, pps: 1.4, bps: 9.6 } },
      { key: '10.9.1.4:80', health: 'up', admin: 'enabled', configuredWeight: 1, weight: 5, weightOverride: 5, checkers: [] },
      { key: '10.9.1.5:80', health: 'down', admin: 'enabled', configuredWeight: 1, weight: null, runtime: true, checkers: [] },
      { key: '10.9.1.6:80', health: 'down', admin: 'enabled', configuredWeight: 1, weight: 0, checkers: [] },
    ],
  }, {
    name: 'group:web', configName: 'group web', entries: ['10.9.0.101:443/tcp', '10.9.0.102:443/tcp', 'fwmark:5'], scheduler: 'mh', method: 'nat', quorumUp: false,
    servers: [{ key: '[fd00::2]:443', health: 'up', admin: 'disabled', configuredWeight: 1, weight: null, checkers: [] }],
  }],
};

describe('carpool balancer list (ipvsadm -L -n layout)', () => {
  it('lists services with scheduler and flags, servers with forward method, weight, connections and health', () => {
    golden('balancer/list.txt', formatBalancerList(ST));
  });
  it('--stats and --rate: exact figures, service lines sum their servers, - where the daemon reports none', () => {
    golden('balancer/list-stats.txt', formatBalancerList(ST, { stats: true }));
    golden('balancer/list-rate.txt', formatBalancerList(ST, { rate: true }));
    const lines = formatBalancerList(ST, { stats: true });
    expect(lines.find((l) => l.startsWith('TCP  10.9.0.100:80'))).toMatch(/1244 +56889 +12346678$/);
  });
});
