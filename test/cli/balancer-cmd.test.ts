/**
 * `carpool balancer ...` and `carpool check` of a configuration with virtual servers: the real
 * CLI in a child process against a stand-in daemon (a ControlServer answering the balancer
 * requests), so what the CLI sends and prints is checked without a network.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWeight } from '../../src/cli/commands.js';
import { ControlServer } from '../../src/daemon/control.js';
import type { ControlRequest } from '../../src/control/protocol.js';
import type { BalancersStatus } from '../../src/control/status.js';
import { runCarpool } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-lbcli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const carpool = (args: string[]) => runCarpool(args, dir, 20_000);

const STATUS: BalancersStatus = {
  plane: { inForce: true, applies: 2, failures: 0 },
  services: [{
    name: '10.9.0.100:80/tcp', entries: ['10.9.0.100:80/tcp'], scheduler: 'rr', method: 'nat', quorumUp: true,
    servers: [{ key: '10.9.1.2:80', health: 'up', admin: 'enabled', configuredWeight: 1, weight: 1, checkers: [] }],
  }],
};

const KEEPALIVED = `vrrp_instance V {
  interface eth0
  virtual_router_id 51
  priority 100
  virtual_ipaddress { 10.9.0.100/32 }
}
virtual_server_group web {
  10.9.0.100-101 80
  fwmark 5
}
virtual_server group web {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.2 80 {
  }
}
virtual_server fwmark 7 {
  lb_algo mh
  lb_kind NAT
  persistence_timeout 60
  real_server 10.9.1.3 {
  }
}
`;

describe('carpool balancer (stand-in daemon)', () => {
  const requests: ControlRequest[] = [];
  const server = new ControlServer(join(dir, 'carpool.sock'), (req: ControlRequest) => {
    requests.push(req);
    if (req.cmd === 'status') return { version: 'x', pid: 1, mode: 'run', config: '', startedAt: '', uptimeSeconds: 0, interfaces: [], instances: [], balancers: STATUS };
    if (req.cmd === 'balancer.list') return STATUS;
    if (req.cmd === 'balancer.drain') {
      return { message: `${String(req.args?.service)}: real server ${String(req.args?.server)} drained`, inForce: true,
        service: { ...STATUS.services[0]!, servers: [{ ...STATUS.services[0]!.servers[0]!, admin: 'drained', weight: 0 }] } };
    }
    throw new Error(`unexpected ${req.cmd}`);
  });
  afterAll(() => server.close());

  it('list prints the ipvsadm layout; --json the section as is', async () => {
    await server.listen();
    const r = await carpool(['balancer', 'list']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').slice(1, 5)).toEqual([
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health',
      'TCP  10.9.0.100:80 rr',
      '  -> 10.9.1.2:80                  Masq    1      -          -          up',
    ]);
    expect(JSON.parse((await carpool(['balancer', 'list', '--json'])).stdout)).toEqual(STATUS);
  });

  it('drain sends the service and server as typed and prints the result', async () => {
    const r = await carpool(['balancer', 'drain', '10.9.0.100:80', '10.9.1.2']);
    expect(r.code).toBe(0);
    expect(requests.at(-1)).toEqual({ cmd: 'balancer.drain', args: { service: '10.9.0.100:80', server: '10.9.1.2' } });
    expect(r.stdout).toContain('10.9.0.100:80: real server 10.9.1.2 drained\n');
    expect(r.stdout).toContain('  -> 10.9.1.2:80                  Masq    0      -          -          up (drained)');
  });

  it('bad arguments are refused before anything is sent', async () => {
    const n = requests.length;
    const w = await carpool(['balancer', 'weight', '10.9.0.100:80', '10.9.1.2', 'heavy']);
    expect(w.code).toBe(1);
    expect(w.stderr).toContain("value 'heavy' is invalid for argument 'weight'. expected an integer 0..2147483647");
    const c = await carpool(['balancer', 'add', '10.9.0.100:80', '10.9.1.4', '--check', 'icmp']);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain("argument 'icmp' is invalid. Allowed choices are tcp, none");
    expect(requests.length).toBe(n);
    expect(parseWeight('0')).toBe(0);
    expect(() => parseWeight('-1')).toThrow(/integer 0..2147483647/);
    expect(() => parseWeight('2147483648')).toThrow(/integer 0..2147483647/);
  });
});

describe('carpool check runs nft -c on the ruleset a daemon would start with', () => {
  it.skipIf(process.getuid?.() !== 0)('carpool check -c keepalived.conf: group and fwmark services accepted by the real nft -c', async () => {
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, KEEPALIVED);
    const r = await carpool(['check', '-c', file]);
    expect(r.stderr).toContain('only TCP packets with the mark are forwarded');
    expect(r.stdout).toContain('2 virtual servers (load balancer: runs on nftables, ruleset accepted by nft -c here)');
    expect(r.code).toBe(0);
  });
});
