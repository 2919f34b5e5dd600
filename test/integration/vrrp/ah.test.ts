/**
 * `auth_type AH` (VRRPv2 inside IPsec AH) between carpool and the real keepalived 2.2.7: each
 * accepts the other's adverts in both roles, across a link cut and back (sequence numbers
 * keep rising on both sides), and a wrong password is dropped and counted (`auth-ah`), so
 * both sides go master.
 */
import { describe, expect, it } from 'vitest';
import { cutLink, restoreLink, addressesOf } from '../../../src/lab/netns.js';
import { ProcSet, Proc, carpoolArgv, isRoot, skipReason, until, sleep } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { startKeepalived, keepalivedState, carpoolVrrpState, KEEPALIVED_COMPLAINTS } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';

const conf = (name: string, vrid: number, priority: number, vip: string, pass: string, state = 'BACKUP') => [
  `vrrp_instance ${name} {`, `  state ${state}`, '  interface eth0', `  virtual_router_id ${vrid}`, `  priority ${priority}`,
  '  advert_int 1', '  authentication {', '    auth_type AH', `    auth_pass ${pass}`, '  }', `  virtual_ipaddress { ${vip} }`, '}', '',
].join('\n');

describe.skipIf(!isRoot)(`VRRP auth_type AH with the real keepalived (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('va', { hosts: 2, subnet: '10.91.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const h = (i: number) => lan.hosts[i - 1]!;
  const sockOf = (tag: string) => wd.path(`run-${tag}/carpool.sock`);
  const carpool = (host: number, text: string, tag: string) => procs.add(new Proc(`carpool-${tag}`,
    carpoolArgv(h(host).ns, ['run', '-c', wd.write(`${tag}.conf`, `global_defs {\n  router_id ${tag}\n}\n${text}`)]),
    { CARPOOL_RUN_DIR: wd.path(`run-${tag}`) }));
  const complaints = (ka: Proc) => ka.lines.filter((l) => KEEPALIVED_COMPLAINTS.test(l) && !/Unknown keyword|Initial state master is incompatible with AH/.test(l));
  const drops = async (tag: string, name: string) => (await status(sockOf(tag))).instances.find((i) => i.name === name)!.counters.drops;
  const dropTotal = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);

  it('carpool master, keepalived backup; keepalived takes over on a link cut; carpool preempts back', async () => {
    const c = carpool(1, conf('VI_A', 71, 150, '10.91.0.171/24', 'ahsecret', 'MASTER'), 'a1');
    await c.waitFor(/\(VI_A\) Entering MASTER STATE/, 8000);
    const ka = startKeepalived(procs, wd, h(2), conf('VI_A', 71, 100, '10.91.0.171/24', 'ahsecret'), 'a2');
    await ka.waitFor(/\(VI_A\) Entering BACKUP STATE/, 5000);
    await sleep(4500); // longer than keepalived's master-down: it keeps accepting carpool's AH adverts
    expect(keepalivedState(ka, 'VI_A')).toBe('BACKUP');
    await cutLink(lan, h(1));
    await ka.waitFor(/\(VI_A\) Entering MASTER STATE/, 8000);
    await restoreLink(lan, h(1));
    await until(() => keepalivedState(ka, 'VI_A') === 'BACKUP', 10_000, 50, 'keepalived yields to carpool again');
    expect(carpoolVrrpState(c, 'VI_A')).toBe('MASTER');
    await until(async () => !(await addressesOf(h(2).ns, 'eth0')).includes('10.91.0.171/24'), 3000, 50, 'keepalived released the VIP');
    expect(complaints(ka)).toEqual([]);
    const d = await drops('a1', 'VI_A');
    expect(d['auth-ah']).toBe(0);
    await Promise.all([c.stop(), ka.stop()]);
  });

  it('keepalived master, carpool backup; carpool takes over on keepalived\'s link cut; keepalived preempts back', async () => {
    const ka = startKeepalived(procs, wd, h(2), conf('VI_B', 72, 150, '10.91.0.172/24', 'ahsecret', 'MASTER'), 'b2');
    await ka.waitFor(/\(VI_B\) Entering MASTER STATE/, 8000);
    const c = carpool(1, conf('VI_B', 72, 100, '10.91.0.172/24', 'ahsecret'), 'b1');
    await c.waitFor(/\(VI_B\) Entering BACKUP STATE/, 5000);
    await sleep(4500);
    expect(carpoolVrrpState(c, 'VI_B')).toBe('BACKUP');
    expect(dropTotal(await drops('b1', 'VI_B'))).toBe(0);
    await cutLink(lan, h(2));
    await c.waitFor(/\(VI_B\) Entering MASTER STATE/, 8000);
    await until(async () => (await addressesOf(h(1).ns, 'eth0')).includes('10.91.0.172/24'), 3000, 50, 'VIP on carpool');
    await restoreLink(lan, h(2));
    await until(() => carpoolVrrpState(c, 'VI_B') === 'BACKUP', 10_000, 50, 'carpool yields to keepalived again');
    expect(keepalivedState(ka, 'VI_B')).toBe('MASTER');
    expect(complaints(ka)).toEqual([]);
    await Promise.all([c.stop(), ka.stop()]);
  });

  it('a wrong password: every advert is dropped as auth-ah and both sides are master', async () => {
    const ka = startKeepalived(procs, wd, h(2), conf('VI_C', 73, 150, '10.91.0.173/24', 'ahsecret', 'MASTER'), 'c2');
    await ka.waitFor(/\(VI_C\) Entering MASTER STATE/, 8000);
    const c = carpool(1, conf('VI_C', 73, 100, '10.91.0.173/24', 'otherpw'), 'c1');
    await c.waitFor(/\(VI_C\) Entering MASTER STATE/, 8000);
    await until(async () => (await drops('c1', 'VI_C'))['auth-ah']! >= 3, 8000, 100, 'auth-ah drops counted');
    await c.waitFor(/dropped advert from 10\.91\.0\.2: auth-ah \(check auth_pass/, 1000);
    expect(keepalivedState(ka, 'VI_C')).toBe('MASTER');
    await Promise.all([c.stop(), ka.stop()]);
  });
});
