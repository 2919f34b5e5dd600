/**
 * keepalived features carpool's VRRP honours, between two carpool daemons in namespaces:
 * track_script weights, notify scripts (order and arguments), virtual_routes, use_vmac.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { addressesOf } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';

describe.skipIf(!isRoot)(`VRRP features between carpool daemons (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('vf', { hosts: 2, subnet: '10.82.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const h = (i: number) => lan.hosts[i - 1]!;
  const start = (host: number, tag: string, conf: string) => procs.add(new Proc(`${tag}`,
    carpoolArgv(h(host).ns, ['run', '-c', wd.write(`${tag}.conf`, conf)]), { CARPOOL_RUN_DIR: wd.path(`run-${tag}`) }));
  const instance = (name: string, vrid: number, priority: number, body: string) =>
    `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n  priority ${priority}\n  advert_int 1\n${body}\n}\n`;

  it('a failing track_script lowers priority by its weight and moves the VIP; recovery moves it back', async () => {
    const ok = wd.path('h1-healthy');
    writeFileSync(ok, '');
    const script = `vrrp_script chk {\n  script "/usr/bin/test -f ${ok}"\n  interval 0.2\n  weight -60\n}\n`;
    const a = start(1, 'ts1', script + instance('VI_T', 61, 150, '  virtual_ipaddress { 10.82.0.161/24 }\n  track_script { chk }'));
    const b = start(2, 'ts2', instance('VI_T', 61, 100, '  virtual_ipaddress { 10.82.0.161/24 }'));
    await until(() => carpoolVrrpState(a, 'VI_T') === 'MASTER' && carpoolVrrpState(b, 'VI_T') === 'BACKUP', 10_000, 50, 'h1 master');
    rmSync(ok);
    await a.waitFor(/vrrp_script chk is now FAILED/, 3000);
    await until(() => carpoolVrrpState(b, 'VI_T') === 'MASTER', 8000, 50, 'h2 takes over (150 - 60 = 90 < 100)');
    await until(() => carpoolVrrpState(a, 'VI_T') === 'BACKUP', 3000, 50, 'h1 yields');
    await until(async () => (await addressesOf(h(2).ns, 'eth0')).includes('10.82.0.161/24'), 3000, 50, 'VIP on h2');
    writeFileSync(ok, '');
    await a.waitFor(/vrrp_script chk is now OK/, 3000);
    await until(() => carpoolVrrpState(a, 'VI_T') === 'MASTER' && carpoolVrrpState(b, 'VI_T') === 'BACKUP', 8000, 50, 'h1 preempts back');
    await Promise.all([a.stop(), b.stop()]);
  });

  it('runs notify_master, notify_backup and the generic notify with INSTANCE name STATE priority, in order', async () => {
    const log = wd.path('notify.log');
    const sh = wd.write('notify.sh', `#!/bin/sh\necho "$*" >> ${log}\n`, 0o755);
    const body = (p: number) => `  virtual_ipaddress { 10.82.0.162/24 }\n  notify_master "${sh} master-of ${p}"\n  notify_backup "${sh} backup-of ${p}"\n  notify ${sh}`;
    const a = start(1, 'nt1', instance('VI_N', 62, 150, body(150)));
    await until(() => carpoolVrrpState(a, 'VI_N') === 'MASTER', 8000, 50, 'master');
    await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('INSTANCE VI_N MASTER 150'), 3000, 50, 'notify lines');
    await a.stop();
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.slice(0, 4)).toEqual(['backup-of 150', 'INSTANCE VI_N BACKUP 150', 'master-of 150', 'INSTANCE VI_N MASTER 150']);
  });

  it('installs virtual_routes while master only, and moves them on failover', async () => {
    const body = '  virtual_ipaddress { 10.82.0.163/24 }\n  virtual_routes {\n    10.99.99.0/24 via 10.82.0.254 dev eth0\n  }';
    const a = start(1, 'rt1', instance('VI_R', 63, 150, body));
    const b = start(2, 'rt2', instance('VI_R', 63, 100, body));
    const routes = async (i: number) => (await run(inNs(h(i).ns, ['ip', 'route', 'show', '10.99.99.0/24']))).stdout.trim();
    await until(() => carpoolVrrpState(a, 'VI_R') === 'MASTER' && carpoolVrrpState(b, 'VI_R') === 'BACKUP', 8000, 50, 'elected');
    await until(async () => (await routes(1)).includes('via 10.82.0.254'), 3000, 50, 'route on h1');
    expect(await routes(2)).toBe('');
    await a.stop();
    await until(async () => (await routes(2)).includes('via 10.82.0.254'), 5000, 50, 'route on h2');
    expect(await routes(1)).toBe('');
    await b.stop();
  });

  it('use_vmac: the VIP lives on a macvlan with the RFC virtual MAC, and clients resolve it to 00:00:5e:00:01:VRID', async () => {
    const a = start(1, 'vm1', instance('VI_V', 64, 150, '  virtual_ipaddress { 10.82.0.164/24 }\n  use_vmac vrrp.64'));
    await until(() => carpoolVrrpState(a, 'VI_V') === 'MASTER', 8000, 50, 'master');
    const link = (await run(inNs(h(1).ns, ['ip', '-br', 'link', 'show', 'vrrp.64']))).stdout;
    expect(link).toContain('00:00:5e:00:01:40');
    await until(async () => (await addressesOf(h(1).ns, 'vrrp.64')).includes('10.82.0.164/24'), 3000, 50, 'VIP on the VMAC interface');
    await run(inNs(lan.client!.ns, ['ping', '-c', '1', '-W', '2', '10.82.0.164']));
    const neigh = (await run(inNs(lan.client!.ns, ['ip', 'neigh', 'show', '10.82.0.164']))).stdout;
    expect(neigh).toContain('00:00:5e:00:01:40');
    await a.stop();
    // The macvlan is removed again when the daemon exits.
    expect((await run(inNs(h(1).ns, ['ip', 'link', 'show', 'vrrp.64']), { allowFail: true })).code).not.toBe(0);
  });
});
