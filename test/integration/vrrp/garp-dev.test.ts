/**
 * A VRRP instance on eth0 with a virtual address on eth1 (`dev eth1`, seed 002's gateway
 * addresses are often written so): the gratuitous ARP for it goes out on eth1 with eth1's MAC,
 * as keepalived sends it. From eth0, hosts on the other LAN never heard it and kept the old
 * master's MAC (seen with NAT real servers after a director failover).
 */
import { describe, expect, it } from 'vitest';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { run } from '../../../src/lib/exec.js';

describe.skipIf(!isRoot)(`VRRP: an address on another device is announced there (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('gd', { hosts: 2, subnet: '10.87.0', lans: 2, client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  it('the gratuitous ARP for a dev eth1 address leaves on eth1 with eth1\'s MAC', async () => {
    const h1 = lan.host(1);
    const h2eth1 = lan.extra[0]![1]!;
    const mac = (await run(inNs(h1.ns, ['cat', '/sys/class/net/eth1/address']))).stdout.trim();
    const dump = procs.add(new Proc('tcpdump', inNs(h2eth1.ns, ['tcpdump', '-l', '-nn', '-e', '-i', 'eth1', 'arp'])));
    await dump.waitFor(/listening on/, 10_000);
    const conf = 'vrrp_instance VI_GD {\n  interface eth0\n  virtual_router_id 87\n  priority 150\n  advert_int 1\n'
      + '  virtual_ipaddress {\n    10.87.0.100/24\n    10.87.1.100/24 dev eth1\n  }\n}\n';
    const d = procs.add(new Proc('carpool', carpoolArgv(h1.ns, ['run', '-c', wd.write('gd.conf', conf)]), { CARPOOL_RUN_DIR: wd.path('run') }));
    await until(() => carpoolVrrpState(d, 'VI_GD') === 'MASTER', 10_000, 50, 'h1 master');
    const line = await dump.waitFor(/Request who-has 10\.87\.1\.100 .*tell 10\.87\.1\.100/, 5000);
    expect(line.toLowerCase()).toContain(`${mac.toLowerCase()} > ff:ff:ff:ff:ff:ff`);
    await d.stop();
    await dump.stop('SIGINT');
  }, 30_000);
});
