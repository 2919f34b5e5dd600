/**
 * `ha_suspend` with a real VRRP transition: a director whose keepalived.conf has a VRRP instance
 * starting as BACKUP (it becomes MASTER once the master-down timer runs out, no peer) and a
 * virtual server with `ha_suspend` and a TCP_CHECK every 0.2 s; the real server, in its own
 * namespace, writes down every connection it gets with the time. Until the VIP is set on the
 * director (MASTER) no checker connection may arrive; after it, they do.
 */
import { describe, expect, it } from 'vitest';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { parseConsoleTimestamp } from '../../../src/daemon/logger.js';

const NET = '10.127.0';
const VIP = `${NET}.100`;
const RS = `${NET}.2`;

/** A TCP server on port 80 that prints `conn <epoch ms>` for each connection. */
const SERVER = `require('net').createServer((c) => { process.stdout.write('conn ' + Date.now() + '\\n'); c.destroy(); }).listen(80, () => process.stdout.write('listening\\n'));`;

describe.skipIf(!isRoot)(`ha_suspend with a real VRRP instance (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('hs', { hosts: 2, subnet: NET, client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  it('no checker connection reaches the real server before the VIP is set on the director; then they do', async () => {
    const [d, r] = [lan.host(1), lan.host(2)];
    const rs = procs.add(new Proc('rs', inNs(r.ns, [process.execPath, '-e', SERVER])));
    await rs.waitFor(/listening/, 10_000);
    const conf = wd.write('keepalived.conf', `vrrp_instance VI_1 {
  state BACKUP
  interface ${d.ifname}
  virtual_router_id 61
  priority 100
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
virtual_server ${VIP} 80 {
  delay_loop 0.2
  warmup 0
  lb_algo rr
  lb_kind NAT
  protocol TCP
  ha_suspend
  real_server ${RS} 80 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`, 0o600);
    const daemon = procs.add(new Proc('director', carpoolArgv(d.ns, ['run', '-c', conf]), { CARPOOL_RUN_DIR: wd.path('run') }));
    await daemon.waitFor(/ha_suspend: 10\.127\.0\.100 is not set here, checkers suspended/, 15_000);
    const master = parseConsoleTimestamp(await daemon.waitFor(/Entering MASTER STATE/, 15_000))!;
    const started = parseConsoleTimestamp(daemon.lines.find((l) => /checkers suspended/.test(l))!)!;
    // Suspended for the whole master-down wait (≈ 3 s with advert_int 1): ≈ 15 checks skipped.
    expect(master - started).toBeGreaterThan(2000);
    await daemon.waitFor(/ha_suspend: 10\.127\.0\.100 is set here, checkers resume/, 5000);
    await until(() => rs.count(/^conn /) >= 3, 5000, 50, 'checker connections after MASTER');
    const times = rs.lines.filter((l) => l.startsWith('conn ')).map((l) => Number(l.slice(5)));
    // Every one after the transition (both clocks are this host's).
    expect(Math.min(...times)).toBeGreaterThanOrEqual(master);
    expect(daemon.count(/Load balancer: .* real server 10\.127\.0\.2:80 (down|up)/)).toBe(0);
  }, 40_000);
});
