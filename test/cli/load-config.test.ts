/**
 * `carpool run`, `check` and `convert` load a configuration and then check its resource agents
 * on this host (cli/load-config.ts): the agents' own meta-data says which parameters are required.
 * `run` refuses load balancing until its data plane exists.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckedConfig } from '../../src/cli/load-config.js';
import { refuseBeforeRun as refuseBalancers } from '../../src/cli/preflight.js';
import { CarpoolError, ConfigError } from '../../src/lib/errors.js';
import type { ConfigDiagnostic } from '../../src/config/diagnostics.js';
import { INSTANCES } from '../helpers/config.js';


describe('loadCheckedConfig', () => {
  it('rejects a missing required agent parameter at load, using the agent\'s own meta-data', () => {
    const dir = mkdtempSync(join(tmpdir(), 'carpool-cfg-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `${INSTANCES}
resources:
  - id: vip2
    agent: ocf:heartbeat:IPaddr2
    params: { cidr_netmask: 24, nic: eth0, cidr_netmak: 24 }
  - id: custom
    agent: ocf:myResources:GentooService
    params: { service: postfix }
groups:
  - { id: g, instance: web, resources: [vip2, custom] }
`, { mode: 0o600 });
    const warnings: ConfigDiagnostic[] = [];
    let err: unknown;
    try {
      loadCheckedConfig(file, { onWarning: (w) => warnings.push(w) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const diag = (err as ConfigError).diagnostics;
    expect(diag).toHaveLength(1);
    expect(diag[0]).toMatchObject({ line: 9, code: 'AGENT_PARAM_MISSING', severity: 'error' });
    expect(diag[0]!.message).toMatch(/^resource 'vip2': ocf:heartbeat:IPaddr2 requires parameter 'ip' \(.+\), according to its meta-data$/);
    expect(warnings.map((w) => [w.line, w.code])).toEqual([[9, 'AGENT_PARAM_UNKNOWN'], [12, 'AGENT_NOT_FOUND']]);
    expect(warnings[0]!.message).toContain("did you mean 'cidr_netmask'?");
    expect(warnings[1]!.message).toContain("'myResources' is a custom provider: install its agent in that directory");
  });
});

describe('carpool run with load balancing', () => {
  const seed = join(import.meta.dirname, '../../testdata/keepalived/seed-002/director1.conf');
  it('runs seed 002 B.11 (SMTP_CHECK, TCP_CHECK, HTTP_GET); refuses what it cannot run yet with a clear list and --vrrp-only', async () => {
    const config = loadCheckedConfig(seed, { onWarning: () => undefined });
    expect(config.balancers?.virtualServers).toHaveLength(4);
    await expect(refuseBalancers(config, seed)).resolves.toBeUndefined();
    const udp = loadCheckedConfig(seed, { onWarning: () => undefined });
    const vs = udp.balancers!.virtualServers[0]!;
    const patched = { ...udp, balancers: { ...udp.balancers!, virtualServers: [{ ...vs, onePacket: true }] } };
    let err: unknown;
    try { await refuseBalancers(patched, seed); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CarpoolError);
    expect((err as CarpoolError).code).toBe('BALANCER_NOT_SUPPORTED');
    expect((err as CarpoolError).message).toContain('virtual_server 123.123.123.1 25: ops (one-packet scheduling) is not supported yet');
    expect((err as CarpoolError).hint).toContain('--vrrp-only');
    const vrrpOnly = loadCheckedConfig(seed, { vrrpOnly: true, onWarning: () => undefined });
    await expect(refuseBalancers(vrrpOnly, seed)).resolves.toBeUndefined();
  });

  it('accepts NAT and DR balancers in carpool YAML; DR needs the interface the VIP arrives on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carpool-cfg-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'c.yaml');
    const write = (extra: string) => {
      writeFileSync(file, `${INSTANCES}balancers:\n  virtual_servers:\n    - { port: 80, protocol: TCP, lvs_sched: rr${extra}, real_servers: [{ address: 10.0.0.2 }] }\n`, { mode: 0o600 });
      return loadCheckedConfig(file, { onWarning: () => undefined });
    };
    await expect(refuseBalancers(write(', address: 10.0.0.100'), file)).resolves.toBeUndefined();
    // The CARP instance holds the VIP: its interface is where DR's packets arrive.
    await expect(refuseBalancers(write(', address: 10.0.0.100, lvs_method: DR'), file)).resolves.toBeUndefined();
    await expect(refuseBalancers(write(', address: 10.0.0.101, lvs_method: DR'), file)).rejects.toThrow(/lb_kind DR needs the interface the VIP 10\.0\.0\.101 arrives on/);
    await expect(refuseBalancers(write(', address: 10.0.0.101, lvs_method: DR, interface: eth1'), file)).resolves.toBeUndefined();
  });
});
