/**
 * carpool's VRRP (`carpool run -c keepalived.conf`) and the real keepalived 2.2.7 from
 * Debian on one LAN: v2 with PASS and v3, IPv4 and IPv6, multicast and unicast peers.
 * keepalived must agree on the master in every direction and never complain about
 * carpool's packets.
 */
import { describe, expect, it } from 'vitest';
import { cutLink, restoreLink, addressesOf } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, isRoot, skipReason, until, sleep } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { startKeepalived, keepalivedState, carpoolVrrpState, KEEPALIVED_COMPLAINTS } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';

interface Inst { name: string; vrid: number; priority: number; state?: string; version?: 2 | 3; vip: string; pass?: string; extra?: string }

function kaConf(i: Inst): string {
  return [
    `vrrp_instance ${i.name} {`,
    `  state ${i.state ?? 'BACKUP'}`,
    '  interface eth0',
    `  virtual_router_id ${i.vrid}`,
    `  priority ${i.priority}`,
    '  advert_int 1',
    ...(i.version ? [`  version ${i.version}`] : []),
    ...(i.pass ? ['  authentication {', '    auth_type PASS', `    auth_pass ${i.pass}`, '  }'] : []),
    `  virtual_ipaddress { ${i.vip} }`,
    ...(i.extra ? [i.extra] : []),
    '}',
    '',
  ].join('\n');
}

describe.skipIf(!isRoot)(`VRRP interop with the real keepalived (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('vk', { hosts: 2, subnet: '10.81.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const h = (i: number) => lan.hosts[i - 1]!;
  const carpool = (host: number, conf: string, tag: string) => procs.add(new Proc(`carpool-${tag}`,
    carpoolArgv(h(host).ns, ['run', '-c', wd.write(`${tag}.conf`, `global_defs {\n  router_id ${tag}\n}\n${conf}`)]),
    { CARPOOL_RUN_DIR: wd.path(`run-${tag}`) }));
  const clean = (ka: Proc) => expect(ka.lines.filter((l) => KEEPALIVED_COMPLAINTS.test(l) && !/Unknown keyword|Truncating auth_pass/.test(l))).toEqual([]);

  // Each carpool needs its own control socket: the namespaces share one file system.
  const sock = (tag: string) => `control_socket ${wd.path(`run-${tag}/carpool.sock`)}`;
  void sock;

  it('v2 + PASS: carpool master -> keepalived takes over on link cut -> carpool preempts back', async () => {
    const i: Inst = { name: 'VI_A', vrid: 51, priority: 150, vip: '10.81.0.151/24', pass: 'secret', state: 'MASTER' };
    const c = carpool(1, kaConf(i), 'a1');
    await c.waitFor(/\(VI_A\) Entering MASTER STATE/, 8000);
    const ka = startKeepalived(procs, wd, h(2), kaConf({ ...i, priority: 100, state: 'BACKUP' }), 'a2');
    await ka.waitFor(/\(VI_A\) Entering BACKUP STATE/, 5000);
    await sleep(4500); // longer than keepalived's master-down: it keeps hearing carpool
    expect(keepalivedState(ka, 'VI_A')).toBe('BACKUP');
    await cutLink(lan, h(1));
    await ka.waitFor(/\(VI_A\) Entering MASTER STATE/, 8000);
    await until(async () => (await addressesOf(h(2).ns, 'eth0')).includes('10.81.0.151/24'), 3000, 50, 'VIP on keepalived');
    await restoreLink(lan, h(1));
    await until(() => keepalivedState(ka, 'VI_A') === 'BACKUP', 10_000, 50, 'keepalived back to BACKUP');
    expect(carpoolVrrpState(c, 'VI_A')).toBe('MASTER');
    await until(async () => !(await addressesOf(h(2).ns, 'eth0')).includes('10.81.0.151/24'), 3000, 50, 'keepalived released the VIP');
    expect(await addressesOf(h(1).ns, 'eth0')).toContain('10.81.0.151/24');
    clean(ka);
    await Promise.all([c.stop(), ka.stop()]);
  });

  it('v2 + PASS: keepalived master -> carpool takes over when keepalived\'s link is cut', async () => {
    const i: Inst = { name: 'VI_B', vrid: 52, priority: 150, vip: '10.81.0.152/24', pass: 'secret', state: 'MASTER' };
    const ka = startKeepalived(procs, wd, h(2), kaConf(i), 'b2');
    await ka.waitFor(/\(VI_B\) Entering MASTER STATE/, 8000);
    const c = carpool(1, kaConf({ ...i, priority: 100, state: 'BACKUP' }), 'b1');
    await c.waitFor(/\(VI_B\) Entering BACKUP STATE/, 5000);
    await sleep(4500);
    expect(carpoolVrrpState(c, 'VI_B')).toBe('BACKUP');
    await cutLink(lan, h(2));
    await c.waitFor(/\(VI_B\) Entering MASTER STATE/, 8000);
    await restoreLink(lan, h(2));
    await until(() => carpoolVrrpState(c, 'VI_B') === 'BACKUP', 10_000, 50, 'carpool back to BACKUP');
    clean(ka);
    await Promise.all([c.stop(), ka.stop()]);
  });

  it('v3, equal priority: after a partition heals exactly one master, the higher address', async () => {
    const i: Inst = { name: 'VI_C', vrid: 53, priority: 100, version: 3, vip: '10.81.0.153/24' };
    const nft = (script: string) => run(['ip', 'netns', 'exec', lan.switchNs, 'nft', '-f', '-'], { input: script });
    await nft('table bridge partition {\n chain forward { type filter hook forward priority 0; ip protocol 112 drop; }\n}\n');
    const c = carpool(1, kaConf(i), 'c1');
    const ka = startKeepalived(procs, wd, h(2), kaConf(i), 'c2');
    await c.waitFor(/\(VI_C\) Entering MASTER STATE/, 8000);
    await ka.waitFor(/\(VI_C\) Entering MASTER STATE/, 8000);
    await nft('delete table bridge partition\n');
    await until(() => carpoolVrrpState(c, 'VI_C') === 'BACKUP', 5000, 50, 'carpool (10.81.0.1, lower) yields');
    await sleep(2000);
    expect([carpoolVrrpState(c, 'VI_C'), keepalivedState(ka, 'VI_C')]).toEqual(['BACKUP', 'MASTER']);
    clean(ka);
    await Promise.all([c.stop(), ka.stop()]);
  });

  it('v3 over IPv6 (ff02::12, link-local source): failover both ways', async () => {
    const i: Inst = { name: 'VI_6', vrid: 54, priority: 150, version: 3, vip: 'fd00:81::154/64', state: 'MASTER' };
    const c = carpool(1, kaConf(i), 'd1');
    await c.waitFor(/\(VI_6\) Entering MASTER STATE/, 8000);
    const ka = startKeepalived(procs, wd, h(2), kaConf({ ...i, priority: 100, state: 'BACKUP' }), 'd2');
    await ka.waitFor(/\(VI_6\) Entering BACKUP STATE/, 5000);
    await sleep(4500);
    expect(keepalivedState(ka, 'VI_6')).toBe('BACKUP');
    expect(await addressesOf(h(1).ns, 'eth0')).toContain('fd00:81::154/64');
    await cutLink(lan, h(1));
    await ka.waitFor(/\(VI_6\) Entering MASTER STATE/, 8000);
    await restoreLink(lan, h(1));
    await until(() => keepalivedState(ka, 'VI_6') === 'BACKUP', 10_000, 50, 'keepalived back to BACKUP');
    expect(carpoolVrrpState(c, 'VI_6')).toBe('MASTER');
    clean(ka);
    await Promise.all([c.stop(), ka.stop()]);
  });

  it('unicast peers (v3): works with multicast VRRP blocked on the LAN', async () => {
    const nft = (script: string) => run(['ip', 'netns', 'exec', lan.switchNs, 'nft', '-f', '-'], { input: script });
    await nft('table bridge nomcast {\n chain forward { type filter hook forward priority 0; ip daddr 224.0.0.18 drop; }\n}\n');
    const uni = (self: string, peer: string) => `  unicast_src_ip ${self}\n  unicast_peer {\n    ${peer}\n  }`;
    const i: Inst = { name: 'VI_U', vrid: 55, priority: 150, version: 3, vip: '10.81.0.155/24', state: 'MASTER', extra: uni(h(1).address, h(2).address) };
    const c = carpool(1, kaConf(i), 'e1');
    await c.waitFor(/\(VI_U\) Entering MASTER STATE/, 8000);
    const ka = startKeepalived(procs, wd, h(2), kaConf({ ...i, priority: 100, state: 'BACKUP', extra: uni(h(2).address, h(1).address) }), 'e2');
    await ka.waitFor(/\(VI_U\) Entering BACKUP STATE/, 5000);
    await sleep(4500);
    expect(keepalivedState(ka, 'VI_U')).toBe('BACKUP'); // it hears carpool's unicast adverts
    await cutLink(lan, h(1));
    await ka.waitFor(/\(VI_U\) Entering MASTER STATE/, 8000);
    await restoreLink(lan, h(1));
    await until(() => keepalivedState(ka, 'VI_U') === 'BACKUP', 10_000, 50, 'keepalived back to BACKUP');
    clean(ka);
    await Promise.all([c.stop(), ka.stop()]);
    await nft('delete table bridge nomcast\n');
  });
});
