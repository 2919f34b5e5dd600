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

  it('with counts: active/inactive on the server line, totals and rates under it', () => {
    expect(formatBalancers({
      plane: { inForce: true, applies: 9, failures: 0 },
      services: [{
        name: '10.9.0.100:80/tcp', scheduler: 'wlc', method: 'nat', quorumUp: true, servers: [
          { key: '10.9.1.2:80', health: 'up', admin: 'enabled', configuredWeight: 1, weight: 1, checkers: [], active: 12, inactive: 3,
            stats: { connections: 1520, packets: 2_400_000, bytes: 1_234_567_890 }, rates: { cps: 2.5, pps: 40, bps: 20_100 } },
          { key: '10.9.1.3:80', health: 'up', admin: 'enabled', configuredWeight: 1, weight: 1, checkers: [], active: 0, inactive: 0 },
        ],
      }],
    })).toEqual([
      'load balancer: nftables in force (9 transaction(s), 0 failed)',
      '  10.9.0.100:80/tcp wlc nat',
      '    -> 10.9.1.2:80  up  weight 1  active 12  inactive 3',
      '       total 1.5K conn, 2.4M pkt, 1.2GB; rate 2.5 conn/s, 40 pkt/s, 20.1KB/s',
      '    -> 10.9.1.3:80  up  weight 1  active 0  inactive 0',
    ]);
  });
});
