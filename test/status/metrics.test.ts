import { describe, expect, it } from 'vitest';
import { escapeLabelValue, renderMetrics } from '../../src/status/metrics.js';
import { golden } from '../helpers/golden.js';
import { balancers, carp, status } from './fixtures.js';

describe('renderMetrics (Prometheus text format 0.0.4)', () => {
  it('renders a daemon with CARP, VRRP and resources', () => {
    golden('status/metrics.txt', renderMetrics(status));
  });

  it('declares every family once, before its samples, and ends with a newline', () => {
    const text = renderMetrics(status);
    expect(text.endsWith('\n')).toBe(true);
    const seen = new Set<string>();
    let current = '';
    for (const line of text.trimEnd().split('\n')) {
      const type = /^# TYPE (\S+) (gauge|counter)$/.exec(line);
      if (type) {
        expect(seen.has(type[1]!), `${type[1]} declared twice`).toBe(false);
        seen.add(type[1]!);
        current = type[1]!;
        continue;
      }
      if (line.startsWith('# HELP ')) continue;
      expect(line, 'a sample of the family declared last').toMatch(new RegExp(`^${current}(\\{[^}]*\\})? \\S+$`));
    }
  });

  it('has one state series per possible state, 1 for the current one', () => {
    const text = renderMetrics(status);
    const states = text.split('\n').filter((l) => l.startsWith('carpool_instance_state{instance="VI_1"'));
    expect(states.map((l) => /state="(\w+)"\} (\d)/.exec(l)!.slice(1).join('='))).toEqual(['INIT=0', 'BACKUP=1', 'MASTER=0', 'FAULT=0']);
  });

  it('keeps a state it does not know as a series of its own', () => {
    const text = renderMetrics({ ...status, instances: [{ ...carp, state: 'BOWING-OUT' }], resources: undefined });
    expect(text).toContain('carpool_instance_state{instance="web",protocol="carp",interface="eth0",vhid="10",state="BOWING-OUT"} 1');
    expect(text).toContain('state="MASTER"} 0');
  });

  it('escapes label values: backslash, double quote, line feed', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const text = renderMetrics({ ...status, version: '1.0 "x"\n\\', instances: [], interfaces: [], resources: undefined });
    expect(text).toContain('carpool_info{version="1.0 \\"x\\"\\n\\\\",mode="run"} 1\n');
  });

  it('renders takeover and start times as seconds since the epoch', () => {
    const text = renderMetrics(status);
    expect(text).toContain('carpool_start_time_seconds 1795427939.5\n');
    expect(text).toContain('carpool_instance_last_takeover_timestamp_seconds{instance="web",protocol="carp",interface="eth0",vhid="10"} 1795428000.25\n');
    expect(text).not.toMatch(/last_takeover\S*\{instance="VI_1"/);
  });

  it('per real server of the load balancer (labels vs, rs): health, weight, connections, totals', () => {
    const text = renderMetrics({ ...status, balancers });
    const l = '{vs="10.9.0.100:80/tcp",rs="10.9.1.2:80"}';
    const d = '{vs="10.9.0.100:80/tcp",rs="10.9.1.3:80"}';
    for (const line of [
      '# TYPE carpool_balancer_active_connections gauge', `carpool_balancer_active_connections${l} 7`, `carpool_balancer_inactive_connections${l} 1`,
      '# TYPE carpool_balancer_connections_total counter', `carpool_balancer_connections_total${l} 120`, `carpool_balancer_packets_total${l} 2400`,
      `carpool_balancer_bytes_total${l} 1200000`, `carpool_balancer_real_server_up${l} 1`, `carpool_balancer_real_server_weight${l} 2`,
      `carpool_balancer_real_server_up${d} 0`, `carpool_balancer_real_server_weight${d} -1`, `carpool_balancer_inactive_connections${d} 2`,
      'carpool_balancer_plane_in_force 1',
    ]) expect(text.split('\n')).toContain(line);
    // No totals for a server that was never counted; nothing at all without a balancer.
    expect(text).not.toContain(`carpool_balancer_connections_total${d}`);
    expect(renderMetrics(status)).not.toContain('carpool_balancer');
  });
});
