/** A status document with a CARP and a VRRP instance and a resource group, for the renderers' tests. */
import type { BalancersStatus, DaemonStatus, InstanceStatus } from '../../src/control/status.js';
import type { ResourcesStatus } from '../../src/resources/core/status.js';

export const carp: InstanceStatus = {
  name: 'web', protocol: 'carp', interface: 'eth0', vhid: 10, state: 'MASTER', master: 'self', source: '10.0.0.1',
  addresses: ['10.0.0.100/24'], holdsAddresses: true, linkUp: true,
  priority: { advbase: 1, advskew: 20, advskewEffective: 20, preempt: true, demoted: false },
  lastTransition: { from: 'BACKUP', to: 'MASTER', reason: 'master-down timeout', at: '2026-11-23T10:00:00.250Z' },
  transitions: 2, becameMasterAt: '2026-11-23T10:00:00.250Z',
  counters: { advertsSent: 71, advertsReceived: 3, sendErrors: 1, drops: { ttl: 0, digest: 12 } },
};

export const vrrp: InstanceStatus = {
  name: 'VI_1', protocol: 'vrrp', interface: 'eth1', vhid: 51, state: 'BACKUP', master: '10.0.1.2', source: '10.0.1.1',
  addresses: ['10.0.1.100/24'], holdsAddresses: false, linkUp: true,
  priority: { version: 2, base: 150, effective: 130, advertIntervalMs: 1000, preempt: true, fault: false, standby: false },
  lastTransition: { from: 'INIT', to: 'BACKUP', reason: 'startup', at: '2026-11-23T09:59:00.000Z' },
  transitions: 1, becameMasterAt: null,
  counters: { advertsSent: 0, advertsReceived: 60, sendErrors: 0, drops: { 'auth-pass': 3 } },
};

export const resources: ResourcesStatus = {
  node: 'h1',
  groups: [{
    id: 'www', instance: 'web', instanceState: 'MASTER', state: 'Started', eligible: true, ineligibleReason: null, standby: false, moved: false,
    members: [
      { id: 'web-ip', agent: 'ocf:heartbeat:IPaddr2', state: 'Started', degraded: false, blocked: false, held: false, pending: null,
        backoffMs: null, failcount: 0, migrationThreshold: 3, failureTimeoutMs: 0, lastFailure: null, monitorIntervalMs: 10_000 },
      { id: 'site', agent: 'builtin:http', state: 'Started', degraded: false, blocked: false, held: false, pending: null,
        backoffMs: null, failcount: 1, migrationThreshold: 3, failureTimeoutMs: 0, lastFailure: null, monitorIntervalMs: 2000 },
    ],
  }],
  failedActions: [{
    key: 'site_monitor_2000', resource: 'site', action: 'monitor', intervalMs: 2000, rc: 7, text: "'not running' (7)", status: 'complete',
    exitReason: 'HTTP 503 from "http://10.0.0.100/"', output: '', at: '2026-11-23T10:00:30.000Z', execMs: 12, timeoutMs: 20_000, severity: 'soft',
  }],
};

export const status: DaemonStatus = {
  version: '0.1.0', pid: 42, mode: 'run', config: '/etc/carpool/carpool.yaml', startedAt: '2026-11-23T09:58:59.500Z', uptimeSeconds: 91,
  scheduling: 'normal',
  instances: [carp, vrrp],
  interfaces: [{ name: 'eth0', up: true, drops: { vhid: 4 } }, { name: 'eth1', up: true, drops: {} }],
  resources,
};

/** A load balancer section: one wlc NAT service, one counted server with traffic, one down. */
export const balancers: BalancersStatus = {
  plane: { inForce: true, applies: 4, failures: 0 },
  services: [{
    name: '10.9.0.100:80/tcp', scheduler: 'wlc', method: 'nat', quorumUp: true, servers: [
      { key: '10.9.1.2:80', health: 'up', admin: 'enabled', configuredWeight: 2, weight: 2, active: 7, inactive: 1,
        stats: { connections: 120, packets: 2400, bytes: 1_200_000 }, rates: { cps: 2, pps: 40, bps: 20_000 },
        checkers: [{ name: 'HTTP_GET 10.9.1.2:80', up: true, last: { ok: true, detail: '/: status 200', at: '2026-11-23T10:00:00.000Z' } }] },
      { key: '10.9.1.3:80', health: 'down', admin: 'enabled', configuredWeight: 1, weight: null, active: 0, inactive: 2,
        checkers: [{ name: 'TCP_CHECK 10.9.1.3:80', up: false, last: { ok: false, detail: 'connect <ECONNREFUSED>', at: '2026-11-23T10:00:00.000Z' } }] },
    ],
  }],
};
