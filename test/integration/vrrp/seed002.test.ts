/**
 * Seed 002 (TUM report), appendix B.11: the keepalived.conf of director1 and director2 —
 * two sync groups, four VRRP instances on eth0 and eth1 — run by carpool on a 2-host lab
 * with two LANs. The files are used as written, with one substitution: the report's
 * public 123.123.123.0/24 becomes the private 10.123.123.0/24 (hosts .1/.2, so the
 * virtual addresses .1/.2 become .11/.12), because the lab only ever uses private
 * addresses. Their LVS part is skipped with --vrrp-only (like `keepalived --vrrp`).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cutLink, restoreLink, addressesOf } from '../../../src/lab/netns.js';
import { ProcSet, Proc, carpoolArgv, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';

const seed = (n: 1 | 2) => readFileSync(new URL(`../../../testdata/keepalived/seed-002/director${n}.conf`, import.meta.url), 'utf8')
  .replaceAll('123.123.123.', '10.123.123.1');

describe.skipIf(!isRoot)(`seed 002 B.11: two directors, two sync groups, two LANs (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('vs', { hosts: 2, subnet: '10.123.123', lans: 2, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  let d1: Proc;
  let d2: Proc;

  const has = async (host: number, ifname: string, addr: string) => (await addressesOf(lan.hosts[host - 1]!.ns, ifname)).includes(addr);

  it('director1 serves the mail group, director2 the web group', async () => {
    const start = (n: 1 | 2) => procs.add(new Proc(`director${n}`, carpoolArgv(lan.hosts[n - 1]!.ns,
      ['run', '--vrrp-only', '-c', wd.write(`director${n}.conf`, seed(n))]), { CARPOOL_RUN_DIR: wd.path(`run${n}`) }));
    d1 = start(1);
    d2 = start(2);
    await d1.waitFor(/virtual_server|LVS|skipp/i, 5000); // the LVS blocks are reported, not silently ignored
    await until(() => carpoolVrrpState(d1, 'mail_vip') === 'MASTER' && carpoolVrrpState(d1, 'mail_gw') === 'MASTER'
      && carpoolVrrpState(d2, 'web_vip') === 'MASTER' && carpoolVrrpState(d2, 'web_gw') === 'MASTER', 15_000, 100, 'both groups elected');
    expect(carpoolVrrpState(d1, 'web_vip')).toBe('BACKUP');
    expect(carpoolVrrpState(d2, 'mail_vip')).toBe('BACKUP');
    expect(await has(1, 'eth0', '10.123.123.11/32')).toBe(true); // mail VIP
    expect(await has(1, 'eth1', '192.168.0.1/32')).toBe(true); // mail gateway
    expect(await has(2, 'eth0', '10.123.123.12/32')).toBe(true); // web VIP
    expect(await has(2, 'eth1', '192.168.0.2/32')).toBe(true); // web gateway
  }, 60_000);

  it("cutting director1's eth0 moves the mail VIP and the mail gateway (sync group) to director2", async () => {
    await cutLink(lan, lan.hosts[0]!);
    await until(async () => (await has(2, 'eth0', '10.123.123.11/32')) && (await has(2, 'eth1', '192.168.0.1/32')), 10_000, 50, 'mail group on director2');
    // director1's eth1 is still up, yet its mail_gw left too: the sync group moved together.
    await until(async () => !(await has(1, 'eth1', '192.168.0.1/32')), 5000, 50, 'mail_gw released on director1');
    expect(carpoolVrrpState(d1, 'mail_vip')).toBe('FAULT');
    expect(carpoolVrrpState(d1, 'mail_gw')).toBe('FAULT');
    expect(carpoolVrrpState(d2, 'mail_vip')).toBe('MASTER');
    expect(carpoolVrrpState(d2, 'mail_gw')).toBe('MASTER');
    // The web group stays where it was.
    expect(await has(2, 'eth0', '10.123.123.12/32')).toBe(true);
  }, 30_000);

  it('restoring the link brings the mail group back to director1 (priority 150, preempt)', async () => {
    await restoreLink(lan, lan.hosts[0]!);
    await until(async () => (await has(1, 'eth0', '10.123.123.11/32')) && (await has(1, 'eth1', '192.168.0.1/32')), 15_000, 50, 'mail group back on director1');
    await until(async () => !(await has(2, 'eth0', '10.123.123.11/32')) && !(await has(2, 'eth1', '192.168.0.1/32')), 5000, 50, 'released on director2');
  }, 30_000);
});
