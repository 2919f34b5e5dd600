import { describe, expect, it } from 'vitest';
import { formatBalancers } from '../../src/status/balancers-text.js';

describe('carpool status: the balancers section', () => {
  it('shows virtual servers, real servers with health, weight and the last checker result', () => {
    expect(formatBalancers({
      plane: { inForce: true, applies: 3, failures: 1 },
      services: [{
        name: '10.9.0.100:80/tcp', scheduler: 'rr', method: 'nat', quorumUp: true, servers: [
          { key: '10.9.1.2:80', health: 'up', admin: 'enabled', configuredWeight: 1, weight: 1, checkers: [{ name: 'HTTP_GET 10.9.1.2:80', up: true, last: { ok: true, detail: '/: status 200', at: '2026-01-01T00:00:00Z' } }] },
          { key: '10.9.1.3:80', health: 'down', admin: 'enabled', configuredWeight: 2, weight: null, checkers: [{ name: 'TCP_CHECK 10.9.1.3:80', up: false, last: { ok: false, detail: 'connect ECONNREFUSED', at: '2026-01-01T00:00:00Z' } }] },
          { key: '10.9.1.4:80', health: 'up', admin: 'drained', configuredWeight: 2, weight: 0, checkers: [] },
        ],
      }],
    })).toEqual([
      'load balancer: nftables in force (3 transaction(s), 1 failed)',
      '  10.9.0.100:80/tcp rr nat',
      '    -> 10.9.1.2:80  up  weight 1  HTTP_GET 10.9.1.2:80 ok: /: status 200',
      '    -> 10.9.1.3:80  down  weight out  TCP_CHECK 10.9.1.3:80 FAIL: connect ECONNREFUSED',
      '    -> 10.9.1.4:80  up (drained)  weight 0/2',
    ]);
  });
});
