/**
 * A master whose virtual address is removed behind its back (`ip addr del`) puts it back
 * and announces it again with a gratuitous ARP, as keepalived does: for VRRP and CARP,
 * two carpool daemons on a namespace LAN, the ARP captured by tcpdump on the backup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLan, destroyLan, addressesOf, type Lan, type LabHost } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, sleep, until } from '../helpers/procs.js';
import { Workdir, nativeConfig, socketOf, startNative, stateOf } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';

describe.skipIf(!isRoot)(`re-assert of a removed virtual address (${skipReason})`, () => {
  const prefix = `ra${process.pid % 10000}`;
  const procs = new ProcSet();
  const wd = new Workdir();
  let lan: Lan;
  const h = (i: number) => lan.hosts[i - 1]!;

  beforeAll(async () => {
    lan = await createLan({ prefix, hosts: 2, subnet: '10.83.0', client: false });
  });
  afterAll(async () => {
    await procs.killAll();
    await destroyLan(prefix);
    wd.remove();
  });

  /** tcpdump on `host` printing every ARP frame, line-buffered; resolves once it listens. */
  async function arpCapture(host: LabHost): Promise<Proc> {
    const p = procs.add(new Proc(`tcpdump-${host.name}`, inNs(host.ns, ['tcpdump', '-l', '-nn', '-e', '-i', host.ifname, 'arp'])));
    await p.waitFor(/listening on/, 10_000);
    return p;
  }

  /** Wait until `p` printed nothing for `quietMs` (the takeover's GARP bursts are over). */
  async function quiet(p: Proc, quietMs: number, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    let n = p.lines.length;
    let since = Date.now();
    while (Date.now() - since < quietMs) {
      if (Date.now() > end) throw new Error(`${p.name} never fell quiet:\n${p.lines.slice(-10).join('\n')}`);
      await sleep(100);
      if (p.lines.length !== n) {
        n = p.lines.length;
        since = Date.now();
      }
    }
  }

  /** Delete `vip` on `master`; expect it back and a gratuitous ARP for it on the wire. */
  async function removeAndExpectReassert(master: LabHost, vip: string, dump: Proc): Promise<void> {
    const has = async () => (await addressesOf(master.ns, master.ifname)).includes(`${vip}/24`);
    await until(has, 5000, 50, `${vip} on ${master.name}`);
    await quiet(dump, 1500);
    const from = dump.lines.length;
    await run(inNs(master.ns, ['ip', 'addr', 'del', `${vip}/24`, 'dev', master.ifname]));
    await until(has, 5000, 20, `${vip} back on ${master.name}`);
    const line = await dump.waitFor(new RegExp(`Request who-has ${vip.replace(/\./g, '\\.')} .*tell ${vip.replace(/\./g, '\\.')}`), 3000, from);
    expect(line).toContain('ff:ff:ff:ff:ff:ff');
  }

  it('VRRP: the master adds a deleted VIP again and sends gratuitous ARP', async () => {
    const vip = '10.83.0.171';
    const conf = (prio: number) => `vrrp_instance VI_RA {\n  interface eth0\n  virtual_router_id 71\n  priority ${prio}\n  advert_int 1\n` +
      `  virtual_ipaddress { ${vip}/24 }\n}\n`;
    const start = (i: number, prio: number) => procs.add(new Proc(`vrrp-h${i}`,
      carpoolArgv(h(i).ns, ['run', '-c', wd.write(`vrrp-h${i}.conf`, conf(prio))]), { CARPOOL_RUN_DIR: wd.path(`run-vrrp-h${i}`) }));
    const dump = await arpCapture(h(2));
    const a = start(1, 150);
    const b = start(2, 100);
    await until(() => carpoolVrrpState(a, 'VI_RA') === 'MASTER' && carpoolVrrpState(b, 'VI_RA') === 'BACKUP', 10_000, 50, 'h1 master');
    await removeAndExpectReassert(h(1), vip, dump);
    await a.waitFor(/removed behind our back/, 1000);
    expect(carpoolVrrpState(a, 'VI_RA')).toBe('MASTER');
    await Promise.all([a.stop(), b.stop(), dump.stop('SIGINT')]);
  });

  it('CARP: the master adds a deleted VIP again and sends gratuitous ARP', async () => {
    const vip = '10.83.0.172';
    const dump = await arpCapture(h(2));
    const a = startNative(procs, h(1), nativeConfig(wd, h(1), { vhid: 72, advbase: 1, advskew: 0, preempt: true, addresses: [`${vip}/24`] }));
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'MASTER', 10_000, 50, 'h1 MASTER');
    const b = startNative(procs, h(2), nativeConfig(wd, h(2), { vhid: 72, advbase: 1, advskew: 100, addresses: [`${vip}/24`] }));
    await until(async () => (await stateOf(socketOf(wd, h(2)))) === 'BACKUP', 10_000, 50, 'h2 BACKUP');
    await removeAndExpectReassert(h(1), vip, dump);
    await a.waitFor(/removed behind our back/, 1000);
    expect(await stateOf(socketOf(wd, h(1)))).toBe('MASTER');
    await Promise.all([a.stop(), b.stop(), dump.stop('SIGINT')]);
  });
});
