import { describe, expect, it } from 'vitest';
import type { DaemonStatus, InstanceStatus } from '../../src/control/status.js';
import { formatStatus } from '../../src/status/text.js';

const base = (over: Partial<InstanceStatus>): InstanceStatus => ({
  name: 'web', protocol: 'carp', interface: 'eth0', vhid: 1, state: 'MASTER', master: 'self', source: '10.0.0.1',
  addresses: ['10.0.0.100/24'], holdsAddresses: true, linkUp: true,
  priority: { advbase: 1, advskew: 0, advskewEffective: 0, preempt: true, demoted: false, standby: false },
  lastTransition: { from: 'BACKUP', to: 'MASTER', reason: 'master-down timeout', at: '2026-11-23T10:00:00.000Z' },
  transitions: 2, becameMasterAt: '2026-11-23T10:00:00.000Z', counters: { advertsSent: 71, advertsReceived: 0, sendErrors: 0, drops: { digest: 12, ttl: 0 } }, ...over,
});

describe('formatStatus', () => {
  it("takes a transition's age from the daemon's monotonic agoSeconds, not from the wall clock", () => {
    // `at` says 1m10s before `now`, but the daemon measured 5 s: its wall clock jumped.
    const st: DaemonStatus = {
      version: '0.1.0', pid: 42, mode: 'run', config: '/c.yaml', startedAt: '2026-11-23T09:59:00.000Z', uptimeSeconds: 9,
      instances: [base({ lastTransition: { from: 'BACKUP', to: 'MASTER', reason: 'master-down timeout', at: '2026-11-23T10:00:00.000Z', agoSeconds: 5.4 } })],
      interfaces: [],
    };
    const out = formatStatus(st, new Date('2026-11-23T10:01:10.000Z'));
    expect(out).toContain('(master-down timeout) 5s ago');
    expect(out).toContain('up 9s');
  });

  it('shows state, preference, master, held addresses, drops and the last transition', () => {
    const st: DaemonStatus = {
      version: '0.1.0', pid: 42, mode: 'run', config: '/etc/carpool.yaml', startedAt: '2026-11-23T09:59:00.000Z', uptimeSeconds: 73,
      instances: [
        base({}),
        base({ name: 'VI_1', protocol: 'vrrp', vhid: 51, state: 'BACKUP', master: '10.0.0.2', holdsAddresses: false,
          priority: { base: 150, effective: 130, version: 2, preempt: true, standby: true }, counters: { advertsSent: 0, advertsReceived: 9, sendErrors: 0, drops: { 'auth-pass': 3 } } }),
      ],
      interfaces: [{ name: 'eth0', up: true, drops: { vhid: 4 } }],
    };
    const out = formatStatus(st, new Date('2026-11-23T10:01:10.000Z'));
    expect(out).toContain('carpool 0.1.0 (run) pid 42, up 73s, config /etc/carpool.yaml');
    expect(out).toMatch(/web\s+carp\s+eth0\s+1\s+1\/0\s+MASTER\s+self\s+10\.0\.0\.100\/24 \*\s+BACKUP -> MASTER \(master-down timeout\) 1m10s ago/);
    expect(out).toMatch(/VI_1\s+vrrp\s+eth0\s+51\s+130\/150\s+BACKUP \(standby\)\s+10\.0\.0\.2\s+10\.0\.0\.100\/24\s/);
    expect(out).toContain('web: dropped digest=12');
    expect(out).toContain('VI_1: dropped auth-pass=3');
    expect(out).toContain('eth0: dropped (no instance) vhid=4');
  });

  it('an etcd instance shows its unreachable policy and, in failsafe, the last answers and drops', () => {
    const etcd = (over: Record<string, unknown>) => base({
      name: 'db', protocol: 'etcd', vhid: 0,
      etcd: { key: '/c/db/leader', node: 'n1', holder: 'n1', revision: 7, leaseLeftMs: 0, failures: 3, lastError: 'keepAlive: timeout', ...over },
    });
    const st: DaemonStatus = {
      version: '0.1.0', pid: 42, mode: 'run', config: '/c.yaml', startedAt: '2026-11-23T09:59:00.000Z', uptimeSeconds: 9, interfaces: [],
      instances: [
        etcd({ unreachable: 'step-down' }),
        etcd({
          unreachable: 'failsafe', failsafe: {
            members: 3, needed: 2, active: true, leftMs: 2100, promisedMs: null, questionsSent: 5, answered: 9, error: null,
            drops: { auth: 2, replay: 0 },
            confirmations: [{ peer: '10.0.2.2:7391', node: 'n2', agoMs: 400, confirms: true, why: 'cannot reach etcd either, not holding' },
              { peer: '10.0.3.2:7391', node: 'n3', agoMs: 400, confirms: false, why: 'it holds the instance' }],
          },
        }),
      ],
    };
    const out = formatStatus(st, new Date('2026-11-23T10:01:10.000Z'));
    expect(out).toContain('db: etcd unreachable policy step-down\n');
    expect(out).toContain('db: etcd unreachable policy failsafe (2 of 3 members), HOLDING ON CONFIRMATIONS 2.1s left, questions 5, answers 9, dropped auth=2; '
      + 'last answers: n2 (10.0.2.2:7391) confirms 0.4s ago: cannot reach etcd either, not holding; n3 (10.0.3.2:7391) refuses 0.4s ago: it holds the instance');
  });
});
