/**
 * Per-server packets and bytes from conntrack accounting (no per-packet nftables rule): a
 * director running carpool (NAT, rr, counters on), one real server answering a known payload,
 * a client outside. Checked end to end on this kernel: carpool turns `nf_conntrack_acct` on in
 * its namespace; `carpool balancer list --stats --json` equals the packets/bytes conntrack
 * reports for the service's flows while they are live, and still after they ended (destroy
 * events), each flow counted once across live → ended; a flood of 2,000 short connections is
 * counted exactly, or the loss is reported.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { run } from '../../../src/lib/exec.js';
import type { BalancersStatus } from '../../../src/control/status.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';

const NET = '10.141';
const VIP = `${NET}.0.100`;
const DIRECTOR_PRIV = `${NET}.1.1`;
const SERVER = `${NET}.1.2`;
const ASK = 1000;
const ANSWER = 3000;

const CONF = `vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 61
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
virtual_server ${VIP} 80 {
  delay_loop 5
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server ${SERVER} 80 {
  }
}
`;

/** The real server: reads ASK bytes, answers ANSWER bytes, closes. */
const SERVER_PY = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('${SERVER}', 80)); s.listen(512)
print('listening', flush=True)
while True:
    c, _ = s.accept()
    got = 0
    while got < ${ASK}:
        d = c.recv(65536)
        if not d: break
        got += len(d)
    c.sendall(b'y' * ${ANSWER}); c.close()
`;

/** The client: N connections one after the other, ASK bytes out, reads the answer to the end. */
const CLIENT_PY = `
import socket, sys
n = int(sys.argv[1]); ok = 0
for i in range(n):
    c = socket.create_connection(('${VIP}', 80), timeout=5)
    c.sendall(b'x' * ${ASK}); got = 0
    while True:
        d = c.recv(65536)
        if not d: break
        got += len(d)
    c.close(); ok += got == ${ANSWER}
print(ok)
`;

describe.skipIf(!isRoot)(`load balancing: per-server packets/bytes from conntrack accounting (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbac', { hosts: 2, subnet: `${NET}.0`, lans: 2, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const director = () => lan.host(1).ns;
  const socket = () => wd.path('run/carpool.sock');
  const stats = async (): Promise<{ connections: number; packets: number; bytes: number; lost: number }> => {
    const b = JSON.parse((await run(carpoolArgv(director(), ['balancer', 'list', '--stats', '--json', '-s', socket()]))).stdout) as BalancersStatus;
    const r = b.services[0]!.servers[0]!;
    return { ...(r.stats ?? { connections: -1, packets: -1, bytes: -1 }), lost: b.accounting?.lostEvents ?? -1 };
  };
  /** The reference: conntrack's own accounting of carpool's flows on the director, both directions. */
  const conntrack = async (): Promise<{ flows: number; packets: number; bytes: number }> => {
    const out = (await run(inNs(director(), ['conntrack', '-L', '-p', 'tcp', '--mark', '0xca000000/0xff000000', '-o', 'extended']), { allowFail: true })).stdout;
    const r = { flows: 0, packets: 0, bytes: 0 };
    for (const l of out.split('\n')) {
      if (!l.includes(`src=${SERVER}`)) continue;
      r.flows++;
      for (const m of l.matchAll(/ packets=(\d+) bytes=(\d+)/g)) {
        r.packets += Number(m[1]);
        r.bytes += Number(m[2]);
      }
    }
    return r;
  };
  const connect = async (n: number): Promise<number> =>
    Number((await run(inNs(lan.client!.ns, ['python3', '-c', CLIENT_PY, String(n)]), { timeoutMs: 120_000 })).stdout.trim());
  const forget = () => run(inNs(director(), ['conntrack', '-D', '-p', 'tcp', '--mark', '0xca000000/0xff000000']), { allowFail: true });

  it('turns accounting on; live flows equal conntrack\'s counters, and still after they ended, each counted once', async () => {
    const h2 = lan.host(2).ns;
    await run(inNs(h2, ['ip', 'link', 'set', 'eth0', 'down']));
    await run(inNs(h2, ['ip', 'route', 'add', 'default', 'via', DIRECTOR_PRIV]));
    await run(inNs(director(), ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    expect((await run(inNs(director(), ['sysctl', '-n', 'net.netfilter.nf_conntrack_acct']))).stdout.trim()).toBe('0');
    const srv = procs.add(new Proc('server-h2', inNs(h2, ['python3', '-u', '-c', SERVER_PY])));
    await srv.waitFor(/listening/, 5000);
    mkdirSync(wd.path('run'), { recursive: true, mode: 0o700 });
    const d = procs.add(new Proc('director', carpoolArgv(director(), ['run', '-c', wd.write('keepalived.conf', CONF)]), { CARPOOL_RUN_DIR: wd.path('run') }));
    await until(() => carpoolVrrpState(d, 'VI_1') === 'MASTER', 10_000, 100, 'VI_1 MASTER');
    await until(async () => (await connect(1).catch(() => 0)) === 1, 10_000, 200, 'the VIP answers through carpool');
    expect((await run(inNs(director(), ['sysctl', '-n', 'net.netfilter.nf_conntrack_acct']))).stdout.trim()).toBe('1');
    expect(d.lines.join('\n')).toContain('nf_conntrack_acct=1');
    const ruleset = (await run(inNs(director(), ['nft', 'list', 'table', 'ip', 'carpool']))).stdout;
    expect(ruleset).not.toMatch(/traffic_|chain after|hook prerouting priority dstnat \+ 1/);

    await forget(); // the probe connection: ended, counted by its event
    await until(async () => (await stats()).packets > 0, 5000, 200, 'the first flow\'s event counted');
    const base = await stats();
    expect(base.connections).toBe(1);
    expect(await connect(5)).toBe(5);
    // All five are live (TIME_WAIT on the director): what conntrack says of them, plus the first one.
    const live = await conntrack();
    expect(live.flows).toBe(5);
    // Both directions: the payloads and at least a handshake, a close and an ACK each way.
    expect(live.bytes).toBeGreaterThanOrEqual(5 * (ASK + ANSWER + 6 * 40));
    expect(live.bytes).toBeLessThan(5 * (ASK + ANSWER + 20 * 80));
    await until(async () => (await stats()).packets === base.packets + live.packets, 5000, 300, 'live totals');
    expect(await stats()).toEqual({ connections: 6, packets: base.packets + live.packets, bytes: base.bytes + live.bytes, lost: 0 });
    // They end (destroy events): the totals stay, the flows are not counted twice.
    await forget();
    expect((await conntrack()).flows).toBe(0);
    await new Promise((r) => setTimeout(r, 1500)); // past the status's count period: a fresh read
    expect(await stats()).toEqual({ connections: 6, packets: base.packets + live.packets, bytes: base.bytes + live.bytes, lost: 0 });
  }, 60_000);

  it('a flood of 2,000 short connections: counted exactly, or the loss reported', async () => {
    const before = await stats();
    expect(await connect(2000)).toBe(2000);
    const live = await conntrack();
    expect(live.flows).toBe(2000);
    await forget();
    await new Promise((r) => setTimeout(r, 1500));
    const after = await stats();
    expect(after.connections - before.connections).toBe(2000);
    if (after.lost === 0) {
      expect({ packets: after.packets - before.packets, bytes: after.bytes - before.bytes }).toEqual({ packets: live.packets, bytes: live.bytes });
    } else {
      // Events lost: the totals fall short, never over, and the status says so.
      expect(after.packets - before.packets).toBeLessThan(live.packets);
      const text = (await run(carpoolArgv(director(), ['balancer', 'list', '--stats', '-s', socket()]))).stdout;
      expect(text).toContain(`stats incomplete (${after.lost} events lost)`);
    }
  }, 120_000);
});
