/**
 * carpool's native mode (`carpool run -c carpool.yaml`) on a bridge LAN of network
 * namespaces: three hosts and a client that probes the virtual IP every 10 ms.
 */
import { describe, expect, it } from 'vitest';
import { statSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { cutLink, restoreLink, addressesOf } from '../../../src/lab/netns.js';
import { ProcSet, Proc, carpoolArgv, isRoot, skipReason, until, sleep } from '../helpers/procs.js';
import { Workdir, nativeConfig, startNative, socketOf, instance, tryInstance, stateOf, startProbe, stopProbe, status } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';

const VIP = '10.77.0.100';
const hasVip = async (ns: string) => (await addressesOf(ns, 'eth0')).includes(`${VIP}/24`);

describe.skipIf(!isRoot)(`carpool run: native CARP in namespaces (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('cn', { hosts: 3, subnet: '10.77.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  const h = (i: number) => lan.hosts[i - 1]!;
  const holders = async () => (await Promise.all(lan.hosts.map(async (x) => ((await hasVip(x.ns)) ? x.name : '')))).filter(Boolean);

  it('elects the fastest host, which alone holds the address; the others know the master', async () => {
    // advbase 1 with deadratio 2: a backup declares the master dead after 2 s + skew.
    const d = [1, 2, 3].map((i) => startNative(procs, h(i), nativeConfig(wd, h(i), { advbase: 1, deadratio: 2, advskew: i * 20, preempt: i === 1 })));
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'MASTER', 10_000, 50, 'h1 MASTER');
    await until(async () => (await tryInstance(socketOf(wd, h(2))))?.master === h(1).address, 5000, 50, 'h2 knows h1 is master');
    expect(await stateOf(socketOf(wd, h(2)))).toBe('BACKUP');
    expect(await stateOf(socketOf(wd, h(3)))).toBe('BACKUP');
    expect(await holders()).toEqual(['h1']);
    const st = await instance(socketOf(wd, h(1)));
    expect(st.holdsAddresses).toBe(true);
    expect(st.counters.drops).toEqual({ ttl: 0, length: 0, checksum: 0, version: 0, vhid: 0, destination: 0, digest: 0 });
    expect(d[0]!.count(/Switching to state: MASTER/)).toBe(1);
  });

  it('control socket is private: directory 0700, socket 0600', () => {
    const sock = socketOf(wd, h(1));
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(sock)).mode & 0o077).toBe(0);
  });

  it('fails over when the master link is cut; a client keeps reaching the VIP', async () => {
    const probe = startProbe(procs, lan.client!, VIP, 10);
    await probe.waitFor(/"event":"ok"/, 5000);
    await sleep(300);
    await cutLink(lan, h(1));
    await until(async () => (await stateOf(socketOf(wd, h(2)))) === 'MASTER', 8000, 20, 'h2 MASTER');
    await until(async () => (await holders()).join() === 'h2', 5000, 20, 'VIP only on h2');
    // h1 saw its carrier go and released the address too.
    expect(await stateOf(socketOf(wd, h(1)))).toBe('BACKUP');
    await sleep(1000);
    const sum = await stopProbe(probe);
    expect(sum.answered).toBeGreaterThan(0);
    expect(sum.outages.length).toBe(1);
    expect(sum.lost).toBe(sum.outages[0]!.lost);
    console.log(`client outage on link cut: ${sum.longestOutageMs.toFixed(1)} ms (${sum.lost} probes lost)`);
  });

  it('takes the address back when the preempting master returns', async () => {
    await restoreLink(lan, h(1));
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'MASTER', 10_000, 50, 'h1 MASTER again');
    await until(async () => (await holders()).join() === 'h1', 5000, 20, 'VIP back on h1 only');
    expect(await stateOf(socketOf(wd, h(2)))).toBe('BACKUP');
  });

  it('a second daemon on the same control socket refuses to start and leaves the first alone', async () => {
    const p1 = startNative(procs, h(1), nativeConfig(wd, h(1), { advbase: 1, deadratio: 2, advskew: 20 }));
    const res = await p1.exited;
    expect(res.code).toBe(2);
    expect(p1.lines.join('\n')).toMatch(/another carpool daemon is running/);
    expect(existsSync(socketOf(wd, h(1)))).toBe(true);
    expect(await stateOf(socketOf(wd, h(1)))).toBe('MASTER');
  });

  it('releases every address on SIGTERM and a backup takes over at once (bow-out)', async () => {
    const before = await instance(socketOf(wd, h(2)));
    expect(before.state).toBe('BACKUP');
    // Find h1's daemon (the first started) and stop it.
    const st = await status(socketOf(wd, h(1)));
    process.kill(st.pid, 'SIGTERM');
    await until(async () => (await stateOf(socketOf(wd, h(2)))) === 'MASTER', 3000, 10, 'h2 MASTER');
    await until(async () => !(await hasVip(h(1).ns)), 3000, 20, 'h1 released the VIP');
    await until(() => !existsSync(socketOf(wd, h(1))), 3000, 20, 'h1 removed its socket');
    const after = await instance(socketOf(wd, h(2)));
    expect(after.lastTransition?.reason).toMatch(/bowed out/);
  });

  it('without preempt, a returning faster host stays backup', async () => {
    startNative(procs, h(1), nativeConfig(wd, h(1), { advbase: 1, deadratio: 2, advskew: 20, preempt: false }));
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'BACKUP', 5000, 50, 'h1 BACKUP');
    await until(async () => (await tryInstance(socketOf(wd, h(1))))?.master === h(2).address, 5000, 50, 'h1 hears h2');
    await sleep(2500);
    expect(await stateOf(socketOf(wd, h(1)))).toBe('BACKUP');
    expect(await holders()).toEqual(['h2']);
  });

  it('after SIGKILL the address stays; a restart removes it before electing', async () => {
    // h2 is master now; kill it hard.
    const st = await status(socketOf(wd, h(2)));
    process.kill(st.pid, 'SIGKILL');
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'MASTER', 8000, 20, 'h1 takes over');
    expect(await hasVip(h(2).ns)).toBe(true); // left behind by the killed daemon: two holders
    const again = startNative(procs, h(2), nativeConfig(wd, h(2), { advbase: 1, deadratio: 2, advskew: 40 }));
    await again.waitFor(/Removed stale virtual address 10\.77\.0\.100\/24/, 5000);
    await until(async () => !(await hasVip(h(2).ns)), 3000, 20, 'stale VIP removed');
    await until(async () => (await stateOf(socketOf(wd, h(2)))) === 'BACKUP', 3000, 50, 'h2 BACKUP');
    expect(await holders()).toEqual(['h1']);
  });

  it('a wrong password is ignored and counted', async () => {
    // h3's first daemon must go: it shares the control socket path.
    process.kill((await status(socketOf(wd, h(3)))).pid, 'SIGKILL');
    const intruder = startNative(procs, h(3), nativeConfig(wd, h(3), { advbase: 1, deadratio: 2, advskew: 0, password: 'wrong', preempt: true }));
    await intruder.waitFor(/Switching to state: BACKUP/, 5000);
    await until(async () => (await instance(socketOf(wd, h(1)))).counters.drops.digest! >= 3, 8000, 100, 'digest drops on h1');
    expect(await stateOf(socketOf(wd, h(1)))).toBe('MASTER');
    expect(await stateOf(socketOf(wd, h(2)))).toBe('BACKUP');
  });

  it('rejects a bad config with file:line before touching anything', async () => {
    const bad = wd.write('bad.yaml', 'instances:\n  - interface: eth0\n    vhid: 300\n    password: x\n    addresses: [10.77.0.199/24]\n');
    const p = new Proc('bad', carpoolArgv(h(3).ns, ['run', '-c', bad]));
    const res = await p.exited;
    expect(res.code).not.toBe(0);
    expect(p.lines.join('\n')).toMatch(/bad\.yaml:3:\d+: .*vhid.*1\.\.255/);
    expect(await addressesOf(h(3).ns, 'eth0')).not.toContain('10.77.0.199/24');
  });
});
