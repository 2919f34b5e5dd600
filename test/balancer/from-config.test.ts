import { describe, expect, it } from 'vitest';
import { parseKeepalivedConf } from '../../src/config/keepalived/parse.js';
import { parseCarpoolYaml } from '../../src/config/yaml/parse.js';
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

  it('takes the count-based schedulers for NAT; wlc is the default when lb_algo is absent (keepalived)', () => {
    for (const sched of ['lc', 'wlc', 'sed', 'nq', 'ovf', 'lblc', 'lblcr']) {
      expect(mapBalancers(balancers(NAT.replace('lb_algo wrr', `lb_algo ${sched}`))).services[0]!.service.scheduler).toBe(sched);
    }
    expect(mapBalancers(balancers(NAT.replace('  lb_algo wrr\n', ''))).services[0]!.service.scheduler).toBe('wlc');
    // lblc/lblcr need counts too: not with DR (no conntrack on the director).
    expect(() => mapBalancers(balancers(NAT.replace('lb_algo wrr', 'lb_algo lblcr').replace(/lb_kind NAT/g, 'lb_kind DR').replace(/ 8080/g, ' 80'))))
      .toThrow(/lb_algo lblcr with lb_kind DR needs connection counts/);
     // NAT fwmark and group services are counted too (by ct mark): keepalived's usual `virtual_server fwmark 1 { lb_algo wlc }`.
    const fwg = mapBalancers(balancers(`virtual_server fwmark 1 {
  lb_algo wlc
  lb_kind NAT
  real_server 10.9.1.2 80 {
  }
}
virtual_server_group web {
  10.9.0.100-101 80
}
virtual_server group web {
  lb_algo lblc
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.2 80 {
  }
}
`));
    expect(fwg.services.map((x) => `${x.service.name} ${x.service.scheduler}`)).toEqual(['fwmark:1 wlc', 'group:web lblc']);
    // DR/TUN: keepalived accepts it, carpool cannot count those flows: refused, naming the combination.
    let msg = '';
    try {
      mapBalancers(balancers(`virtual_server fwmark 1 {
  lb_algo wlc
  lb_kind DR
  interface eth0
  real_server 10.9.1.2 80 {
  }
}
`));
    } catch (e) { msg = (e as Error).message; }
    expect(msg).toContain('virtual_server fwmark 1: lb_algo wlc with lb_kind DR needs connection counts');
    expect(msg).toContain('use sh or mh (or rr, wrr), or lb_kind NAT');
  });

  it('maps MISC_CHECK (misc_dynamic) and FILE_CHECK (file weight, read every second); warns about checker fwmark', () => {
    const text = `track_file maint {
  file /run/maint
  weight 2 reverse
}
virtual_server 10.9.0.100 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.2 80 {
    MISC_CHECK {
      misc_path "/bin/check 1"
      misc_dynamic
      delay_loop 3
    }
    FILE_CHECK {
      track_file maint
    }
    PING_CHECK {
      fwmark 5
    }
  }
}
`;
    const m = mapBalancers(parseKeepalivedConf(conf(text), { file: 'k.conf' }).config.balancers!);
    const [misc, file] = m.services[0]!.service.realServers[0]!.checkers;
    expect(misc).toMatchObject({ name: 'MISC_CHECK /bin/check', dynamicWeight: true, delayLoopMs: 3000, retry: 0 });
    expect(file).toMatchObject({ name: 'FILE_CHECK maint', delayLoopMs: 1000, retry: 0, alpha: false, file: { weight: 2, reverse: true } });
    expect(m.services[0]!.probes[0]![1]!.checker).toMatchObject({ type: 'FILE_CHECK', path: '/run/maint' });
    expect(m.services[0]!.warnings).toEqual(['virtual_server 10.9.0.100 80: real_server 10.9.1.2 80: PING_CHECK: fwmark of checker packets is not honoured (Node sets no SO_MARK)']);
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
  lb_kind DR
  real_server 10.9.1.2 25 {
  }
}
virtual_server 10.9.0.100 0 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.2 0 {
  }
}
`;
    let err: unknown;
    try { mapBalancers(balancers(bad)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CarpoolError);
    expect((err as CarpoolError).code).toBe('BALANCER_NOT_SUPPORTED');
    const msg = (err as Error).message;
    expect(msg).toContain('virtual_server 10.9.0.100 25: lb_algo wlc with lb_kind DR needs connection counts, which this service has none of (DR/TUN flows do not pass conntrack on the director');
    expect(msg).toContain('lb_kind DR needs the interface the VIP 10.9.0.100 arrives on, and no vrrp_instance holds it');
    expect(msg).toContain('virtual_server fwmark 7: lb_kind DR with a fwmark needs the interface the marked packets arrive on: the instances use none; carpool YAML: set interface: on the virtual server');
    expect(msg).toContain('virtual_server 10.9.0.100: a virtual server without a port (all ports) is not supported');
  });

  it('virtual_server_group: one plane entry per address of its ranges and per fwmark, one service (shared checkers)', () => {
    const m = mapBalancers(balancers(`virtual_server_group web {
  10.9.0.100-102 80
  10.9.0.200 8080
  fwmark 5
}
virtual_server group web {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.2 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`));
    expect(m.services).toHaveLength(1);
    const s = m.services[0]!;
    expect(s.service.name).toBe('group:web');
    expect(s.configName).toBe('group web');
    expect(s.entries.map((e) => e.name)).toEqual(['10.9.0.100:80/tcp', '10.9.0.101:80/tcp', '10.9.0.102:80/tcp', '10.9.0.200:8080/tcp', 'fwmark:5']);
    expect(s.entries[4]!.match).toEqual({ kind: 'fwmark', mark: 5 });
    expect(s.service.match).toEqual({ kind: 'addr', vip: '10.9.0.100', port: 80 });
    expect(s.probes).toHaveLength(1);
    expect(s.warnings.join('\n')).toContain('only TCP packets with the mark are forwarded');
  });

  it('the same group from carpool YAML maps the same', () => {
    const { config } = parseCarpoolYaml(`instances:
  - { name: vip, protocol: vrrp, interface: eth0, virtual_router_id: 1, addresses: [10.9.0.1/24] }
balancers:
  virtual_server_groups:
    - { name: web, entries: [{ range: 10.9.0.100-101, port: 80 }, { fwmark: 5 }] }
  virtual_servers:
    - { group: web, protocol: TCP, lvs_sched: rr, lvs_method: NAT, real_servers: [{ address: 10.9.1.2, port: 80 }] }
`, { file: 'c.yaml' });
    const s = mapBalancers(config.balancers!).services[0]!;
    expect([s.service.name, s.configName]).toEqual(['group:web', 'group web']);
    expect(s.entries.map((e) => e.name)).toEqual(['10.9.0.100:80/tcp', '10.9.0.101:80/tcp', 'fwmark:5']);
  });

  it('virtual_server fwmark N with NAT maps; a group too large or without ports is refused', () => {
    const m = mapBalancers(balancers(`virtual_server fwmark 7 {
  lb_algo rr
  lb_kind NAT
  persistence_timeout 60
  real_server 10.9.1.2 {
  }
}
`));
    expect(m.services[0]!.service).toMatchObject({ name: 'fwmark:7', match: { kind: 'fwmark', mark: 7 } });
    expect(m.services[0]!.warnings).toEqual([]);
    const refused = (conf: string) => {
      try { mapBalancers(balancers(conf)); } catch (e) { return (e as Error).message; }
      return '';
    };
    expect(refused(`virtual_server_group big {
  10.9.0.0/21 80
}
virtual_server group big {
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.2 80 {
  }
}
`)).toContain('virtual_server_group big expands to more than 1024 addresses');
    expect(refused(`virtual_server_group all {
  10.9.0.100 0
}
virtual_server group all {
  lb_kind NAT
  protocol TCP
  persistence_timeout 60
  real_server 10.9.1.2 80 {
  }
}
`)).toContain('virtual_server_group all: 10.9.0.100 without a port (all ports) is not supported');
  });

  const DR = (kind: string, extra = '') => `virtual_server 10.9.0.100 80 {
  lb_algo mh
  mh-port
  lb_kind ${kind}
  protocol TCP
${extra}  real_server 10.9.0.2 80 {
  }
  real_server 10.9.0.3 {
  }
}
`;

  it('groups and fwmark services with DR/TUN: one ingress device for all their VIPs; fwmark: the instances\' one, ports ignored', () => {
    const group = `vrrp_instance V {
  interface eth0
  virtual_router_id 51
  priority 100
  virtual_ipaddress { 10.9.0.100/32
    10.9.0.101/32 }
}
virtual_server_group web {
  10.9.0.100-101 80
  fwmark 7
}
virtual_server group web {
  lb_algo mh
  lb_kind DR
  protocol TCP
  real_server 10.9.1.2 80 {
  }
  real_server 10.9.1.3 80 {
  }
}
virtual_server fwmark 8 {
  lb_algo sh
  lb_kind DR
  real_server 10.9.1.2 443 {
  }
}
`;
    const parsed = parseKeepalivedConf(group, { file: 'k.conf' }).config;
    const m = mapBalancers(parsed.balancers!, parsed.instances);
    expect(m.services[0]!.service).toMatchObject({ method: 'dr', ingressDevice: 'eth0' });
    expect(m.services[0]!.entries.map((e) => e.name)).toEqual(['10.9.0.100:80/tcp', '10.9.0.101:80/tcp', 'fwmark:7']);
    expect(m.services[0]!.service.realServers.map((r) => r.port)).toEqual([undefined, undefined]);
    expect(m.services[1]!.service).toMatchObject({ method: 'dr', ingressDevice: 'eth0', match: { kind: 'fwmark', mark: 8 } });
    expect(m.services[1]!.warnings.join('\n')).toContain("lb_kind DR with a fwmark forwards packets unchanged: the real servers' ports are ignored");
    // VIPs on two devices: refused, saying why.
    const split = parseKeepalivedConf(group.replace('10.9.0.101/32 }', '10.9.0.101/32 dev eth1 }'), { file: 'k.conf' }).config;
    expect(() => mapBalancers(split.balancers!, split.instances)).toThrow(/its VIPs arrive on different interfaces \(eth0, eth1\)/);
  });

  it('DR and TUN take the ingress device from the instance holding the VIP', () => {
    const parsed = parseKeepalivedConf(conf(DR('DR')), { file: 'k.conf' }).config;
    const vs = mapBalancers(parsed.balancers!, parsed.instances).services[0]!.service;
    expect(vs).toMatchObject({ method: 'dr', ingressDevice: 'eth0', scheduler: 'mh', hashPort: true });
    expect(vs.realServers.map((r) => r.port)).toEqual([80, 80]);
    const tun = parseKeepalivedConf(conf(DR('TUN')), { file: 'k.conf' }).config;
    expect(mapBalancers(tun.balancers!, tun.instances).services[0]!.service).toMatchObject({ method: 'tun', ingressDevice: 'eth0' });
    // A VIP with its own dev, on an alias label: the device.
    const dev = parseKeepalivedConf(conf(DR('DR')).replace('10.9.0.100/32 }', '10.9.0.100/32 dev eth1 label eth1:1 }'), { file: 'k.conf' }).config;
    expect(mapBalancers(dev.balancers!, dev.instances).services[0]!.service.ingressDevice).toBe('eth1');
  });

  it('refuses mixed methods, TUN other than ipip, and a VIP no instance holds', () => {
    const msg = (text: string) => {
      const c = parseKeepalivedConf(conf(text), { file: 'k.conf' }).config;
      try { mapBalancers(c.balancers!, c.instances); } catch (e) { return (e as Error).message; }
      return '';
    };
    expect(msg(DR('DR').replace('real_server 10.9.0.3 {', 'real_server 10.9.0.3 {\n    lvs_method NAT'))).toContain('its real servers mix lb_kind DR and NAT');
    expect(msg(DR('TUN type gre'))).toContain('lb_kind TUN type gre is not supported yet (supported: ipip)');
    expect(msg(DR('DR').replace('10.9.0.100 80', '10.9.0.101 80'))).toContain('lb_kind DR needs the interface the VIP 10.9.0.101 arrives on');
  });
});
