/**
 * Defect 5 of issue 11: stale-address cleanup after a crash. Before, a restart whose
 * configured prefix differed from the dead daemon's (/24 left, /32 configured) deleted with
 * the new prefix, failed, and still logged "Removed"; the state file was trusted blindly
 * (an entry naming the host's own address got it deleted); and only /run/carpool was checked
 * for being private.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/lib/exec.js';
import { addressesOf, createLan, destroyLan, type Lan } from '../../../src/lab/netns.js';
import { Workdir, nativeConfig, socketOf, startNative, stateOf } from '../helpers/carp.js';
import { ProcSet, inNs, isRoot, skipReason, sleep, until, type Proc } from '../helpers/procs.js';

const VIP = '10.94.0.100';

describe.skipIf(!isRoot)(`faults: stale addresses and the state directory (${skipReason})`, () => {
  const prefix = `fa${process.pid % 10000}`;
  const procs = new ProcSet();
  const wd = new Workdir();
  let lan: Lan;

  beforeAll(async () => {
    lan = await createLan({ prefix, hosts: 1, subnet: '10.94.0', client: false });
  });
  afterEach(async () => {
    await procs.killAll();
    for (const p of [24, 32]) await run(inNs(h1().ns, ['ip', 'addr', 'del', `${VIP}/${p}`, 'dev', 'eth0']), { allowFail: true });
  });
  afterAll(async () => {
    await procs.killAll();
    await destroyLan(prefix);
    wd.remove();
  });

  const h1 = () => lan.hosts[0]!;
  const addrs = () => addressesOf(h1().ns, 'eth0');
  const stateDir = () => wd.path('h1/state');
  const config = (vip: string, top?: string) => nativeConfig(wd, h1(), { advbase: 1, advskew: 0, addresses: [vip], ...(top ? { top } : {}) });

  it('SIGKILL with the VIP as /24, restart with /32 configured: the /24 leftover is removed', async () => {
    const d1 = startNative(procs, h1(), config(`${VIP}/24`));
    await until(async () => (await stateOf(socketOf(wd, h1()))) === 'MASTER', 15_000, 50, 'MASTER');
    await until(async () => (await addrs()).includes(`${VIP}/24`), 5000, 20, 'VIP /24 added');
    // What was added is on record, with its prefix and device.
    const rec = JSON.parse(readFileSync(`${stateDir()}/carpool.addresses.json`, 'utf8')) as { owned: unknown[] };
    expect(rec.owned).toEqual([expect.objectContaining({ dev: 'eth0', address: VIP, prefix: 24 })]);
    await d1.stop('SIGKILL');
    expect(await addrs()).toContain(`${VIP}/24`); // left behind

    const d2 = startNative(procs, h1(), config(`${VIP}/32`));
    await until(async () => (await stateOf(socketOf(wd, h1()))) === 'MASTER', 15_000, 50, 'MASTER again');
    await until(async () => (await addrs()).includes(`${VIP}/32`), 5000, 20, 'VIP /32 added');
    expect(await addrs()).not.toContain(`${VIP}/24`);
    expect(d2.count(new RegExp(`Removed stale virtual address ${VIP.replace(/\./g, '\\.')}/24 from eth0`))).toBe(1);
    await d2.stop('SIGTERM');
    expect((await addrs()).filter((a) => a.startsWith(`${VIP}/`))).toEqual([]);
  });

  it("a state file naming the host's own address does not get it deleted", async () => {
    mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
    const own = `${h1().address}/24`;
    writeFileSync(`${stateDir()}/carpool.addresses.json`, JSON.stringify({ pid: 1, owned: [{ dev: 'eth0', address: h1().address, prefix: 24 }] }), { mode: 0o600 });
    const d = startNative(procs, h1(), config(`${VIP}/24`));
    await until(async () => (await stateOf(socketOf(wd, h1()))) === 'MASTER', 15_000, 50, 'MASTER');
    expect(await addrs()).toContain(own);
    expect(d.count(new RegExp(`not a configured virtual address.*${h1().address.replace(/\./g, '\\.')}|${h1().address.replace(/\./g, '\\.')}.*not a configured virtual address`))).toBe(1);
    expect(d.count(/Removed stale/)).toBe(0);
    await d.stop('SIGTERM');
    expect(await addrs()).toContain(own);
  });

  /** Exit status, or 'still running' after `ms`. */
  const exitOf = (d: Proc, ms = 10_000) => Promise.race([d.exited.then((r) => r.code), sleep(ms).then(() => 'still running')]);
  /** h1's configuration with one top-level line replaced. */
  const variant = (name: string, key: 'state_dir' | 'control_socket', value: string) =>
    wd.write(`h1-${name}.yaml`, readFileSync(config(`${VIP}/24`), 'utf8').replace(new RegExp(`^${key}: .*$`, 'm'), `${key}: ${value}`), 0o600);

  it('a state directory writable by others is refused before anything changes', async () => {
    const dir = wd.path('h1/open-state');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const d = startNative(procs, h1(), variant('open-state', 'state_dir', dir));
    expect(await exitOf(d)).toBe(2);
    expect(d.count(/state directory .*open-state.* is writable by group or others/)).toBe(1);
    expect((await addrs()).filter((a) => a.startsWith(`${VIP}/`))).toEqual([]);
  });

  it('a control-socket (run) directory writable by others is refused too', async () => {
    const run = wd.path('h1/open-run');
    mkdirSync(run, { recursive: true });
    chmodSync(run, 0o777);
    const d = startNative(procs, h1(), variant('open-run', 'control_socket', `${run}/carpool.sock`));
    expect(await exitOf(d)).toBe(2);
    expect(d.count(/control socket directory .*open-run.* is writable by group or others/)).toBe(1);
  });
});
