import { describe, expect, it } from 'vitest';
import { parseKeepalivedConf } from '../../src/config/keepalived/parse.js';
import { mapBalancers } from '../../src/balancer/from-config.js';
import { CarpoolError } from '../../src/lib/errors.js';

const conf = (vs: string) => `vrrp_instance V {
  interface eth0
  virtual_router_id 51
  priority 100
  virtual_ipaddress { 10.9.0.100/32 }
}
${vs}`;

const NAT = `virtual_server 10.9.0.100 80 {
  delay_loop 2
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  persistence_timeout 60
  persistence_granularity 255.255.255.0
  quorum 2
  quorum_up "/usr/local/bin/up now"
  real_server 10.9.1.2 8080 {
    weight 3
    notify_down /bin/down
    HTTP_GET {
      url {
        path /health
        status_code 200
        digest 0123456789abcdef0123456789abcdef
      }
      connect_timeout 1
      retry 2
      delay_before_retry 1
    }
  }
  real_server 10.9.1.3 80 {
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 3
      connect_port 81
    }
  }
}
`;

function balancers(vs: string) {
  return parseKeepalivedConf(conf(vs), { file: 'k.conf' }).config.balancers!;
}

describe('config model -> balancer core model', () => {
  it('maps names, family, times, persistence, quorum and checkers', () => {
    const m = mapBalancers(balancers(NAT));
    expect(m.services).toHaveLength(1);
    const { service: vs, probes } = m.services[0]!;
    expect(vs).toMatchObject({
      name: '10.9.0.100:80/tcp', family: 'ipv4', match: { kind: 'addr', vip: '10.9.0.100', port: 80 }, protocol: 'tcp',
      scheduler: 'wrr', method: 'nat', persistence: { timeoutMs: 60_000, prefixLength: 24 },
      quorum: { quorum: 2, hysteresis: 0, upCommand: '/usr/local/bin/up now' },
    });
    expect(vs.realServers.map((r) => [r.address, r.port, r.weight, r.inhibitOnFailure])).toEqual([
      ['10.9.1.2', 8080, 3, false], ['10.9.1.3', 80, 1, true],
    ]);
    expect(vs.realServers[0]!.checkers[0]).toMatchObject({ name: 'HTTP_GET 10.9.1.2:8080', delayLoopMs: 2000, retry: 2, delayBeforeRetryMs: 1000, rise: 1 });
    expect(vs.realServers[1]!.checkers[0]!.name).toBe('TCP_CHECK 10.9.1.3:81');
    expect(probes[1]![0]!.checker.type).toBe('TCP_CHECK');
    expect(m.hooks.get(vs.realServers[0]!.notifyDown!)?.argv).toEqual(['/bin/down']);
    expect(m.hooks.get('/usr/local/bin/up now')?.argv).toEqual(['/usr/local/bin/up', 'now']);
  });

  it('refuses, all at once, what the shell cannot run yet, saying what it can', () => {
    const bad = `virtual_server 10.9.0.100 25 {
  lb_algo wlc
  lb_kind DR
  protocol TCP
  real_server 10.9.1.2 25 {
    UDP_CHECK {
    }
  }
}
virtual_server fwmark 7 {
  lb_algo rr
  lb_kind NAT
  real_server 10.9.1.2 25 {
  }
}
`;
    let err: unknown;
    try { mapBalancers(balancers(bad)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CarpoolError);
    expect((err as CarpoolError).code).toBe('BALANCER_NOT_SUPPORTED');
    const msg = (err as Error).message;
    expect(msg).toContain('lb_algo wlc is not supported yet (supported: rr, wrr, sh, dh, mh, fo)');
    expect(msg).toContain('lb_kind DR is not supported yet (supported: NAT)');
    expect(msg).toContain('UDP_CHECK is not supported yet (supported: TCP_CHECK, HTTP_GET, SMTP_CHECK)');
    expect(msg).toContain('virtual_server fwmark 7: fwmark services are not supported yet');
  });
});
