import { describe, expect, it } from 'vitest';
import { escapeLabelValue, renderMetrics } from '../../src/status/metrics.js';
import { golden } from '../helpers/golden.js';
import { carp, status } from './fixtures.js';

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
});
