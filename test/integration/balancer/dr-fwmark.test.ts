/**
 * DR for a `virtual_server fwmark N` and a `virtual_server group` (issue 12): one director
 * running carpool, two real servers holding the VIP on `lo` (arp_ignore/arp_announce, seed
 * 002 §5.3.3) that greet each connection with their name, a client on the same LAN. The host
 * marks the fwmark service's packets in a netdev ingress chain of its own (priority −10, before
 * carpool's at 0: the IP stack's marks come after ingress); carpool's ingress chain dispatches
 * on that mark and on the group's two VIPs, and forwards to the real servers' MACs.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { run } from '../../../src/lib/exec.js';
import type { BalancersStatus } from '../../../src/control/status.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';

const NET = '10.127.0';
const VIP = `${NET}.100`;
const VIP2 = `${NET}.101`;
const MARKED = 7010;
const GROUP = 7011;

const SERVER = `import net from 'node:net';
const [name, ...ports] = process.argv.slice(2);
for (const port of ports) {
  net.createServer((s) => { s.on('error', () => {}); s.end(name + '\\n'); }).listen(Number(port), '0.0.0.0', () => console.log('listening ' + port));
}
`;
/** N connections one after the other to HOST PORT; prints the count per greeting. */
const CLIENT = `import net from 'node:net';
const [host, port, n] = process.argv.slice(2);
const per = {};
for (let i = 0; i < Number(n); i++) {
  const name = await new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) });
    let buf = '';
    s.setTimeout(3000, () => { s.destroy(); resolve('timeout'); });
    s.on('data', (d) => { buf += d; });
    s.on('error', () => resolve('error'));
    s.on('close', () => resolve(buf.trim() || 'closed'));
  });
  per[name] = (per[name] ?? 0) + 1;
}
console.log(JSON.stringify(per));
`;

const conf = `global_defs {
  router_id fw1
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 62
  priority 150
  advert_int 0.3
  virtual_ipaddress {
    ${VIP}/24
    ${VIP2}/24
  }
}
virtual_server fwmark 9 {
  delay_loop 1
  lb_algo rr
  lb_kind DR
${['2', '3'].map((h) => `  real_server ${NET}.${h} ${MARKED} {
    TCP_CHECK {
      connect_timeout 1
    }
  }
`).join('')}}
virtual_server_group both {
  ${VIP}-101 ${GROUP}
}
virtual_server group both {
  delay_loop 1
  lb_algo rr
  lb_kind DR
  protocol TCP
${['2', '3'].map((h) => `  real_server ${NET}.${h} ${GROUP} {
    TCP_CHECK {
      connect_timeout 1
    }
  }
`).join('')}}
`;

describe.skipIf(!isRoot)(`load balancing: DR for a fwmark service and a virtual_server_group (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbfw', { hosts: 3, subnet: NET, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  it('the ingress chain dispatches on the host\'s mark and on every VIP of the group; new connections spread over both real servers', async () => {
    wd.write('server.mjs', SERVER);
    wd.write('client.mjs', CLIENT);
    for (const h of [2, 3] as const) {
      const ns = lan.host(h).ns;
      await run(inNs(ns, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.eth0.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2']));
      for (const v of [VIP, VIP2]) await run(inNs(ns, ['ip', 'addr', 'add', `${v}/32`, 'dev', 'lo']));
      const p = procs.add(new Proc(`server-h${h}`, inNs(ns, [process.execPath, wd.path('server.mjs'), `h${h}`, String(MARKED), String(GROUP)])));
      await p.waitFor(new RegExp(`listening ${GROUP}`), 5000);
    }
    const d = lan.host(1).ns;
    // The host's own marking, before carpool's chain (priority 0) on the same device.
    const marks = wd.write('marks.nft', `table netdev hostmarks {
  chain in {
    type filter hook ingress device "eth0" priority -10; policy accept;
    ip daddr ${VIP} tcp dport ${MARKED} meta mark set 9
  }
}
`);
    await run(inNs(d, ['nft', '-f', marks]));
    mkdirSync(wd.path('run1'), { recursive: true, mode: 0o700 });
    const director = procs.add(new Proc('director1', carpoolArgv(d, ['run', '-c', wd.write('director1.conf', conf)]), { CARPOOL_RUN_DIR: wd.path('run1') }));
    await until(() => carpoolVrrpState(director, 'VI_1') === 'MASTER', 15_000, 100, 'director MASTER');
    const socket = wd.path('run1/carpool.sock');
    await until(async () => {
      const b = (await status(socket)).balancers as BalancersStatus;
      return b.plane.inForce && b.services.every((s) => s.servers.every((r) => r.health === 'up'));
    }, 15_000, 100, 'all real servers up, plane in force');
    const table = (await run(inNs(d, ['nft', 'list', 'table', 'netdev', 'carpool']))).stdout;
    expect(table).toMatch(/meta protocol ip meta mark vmap @in_eth0_m4/);
    expect(table).toMatch(new RegExp(`${VIP.replace(/\./g, '\\.')} \\. tcp \\. ${GROUP} : jump vs\\d+`));
    expect(table).toMatch(new RegExp(`${VIP2.replace(/\./g, '\\.')} \\. tcp \\. ${GROUP} : jump vs\\d+`));
    const client = async (host: string, port: number) =>
      JSON.parse((await run(inNs(lan.client!.ns, [process.execPath, wd.path('client.mjs'), host, String(port), '10']), { timeoutMs: 40_000 })).stdout) as Record<string, number>;
    for (const [host, port] of [[VIP, MARKED], [VIP, GROUP], [VIP2, GROUP]] as const) {
      const counts = await client(host, port);
      console.log(`DR ${host}:${port}, 10 new connections: ${JSON.stringify(counts)}`);
      // rr over two servers: 5 and 5, all answered by a real server.
      expect(counts).toEqual({ h2: 5, h3: 5 });
    }
    // The host's foreign table is left alone; a clean stop removes carpool's.
    await director.stop();
    expect((await run(inNs(d, ['nft', 'list', 'tables']))).stdout).toMatch(/table netdev hostmarks/);
    expect((await run(inNs(d, ['nft', 'list', 'tables']))).stdout).not.toMatch(/carpool/);
  }, 60_000);
});
