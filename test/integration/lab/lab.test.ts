/**
 * `carpool lab`: up/down idempotent, cleanup after a killed run, and faults that drop what
 * they say. Runs the real CLI (bin/carpool) as a user would, plus the lab API for counters.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../src/lib/exec.js';
import { listNamespaces } from '../../../src/lab/netns.js';
import { lossCounters } from '../../../src/lab/faults.js';
import { LAB_ROOT, isOurs, labDown, loadLab } from '../../../src/lab/lab.js';
import { controlRequest } from '../../../src/control/client.js';
import type { DaemonStatus } from '../../../src/control/status.js';
import { CARPOOL, Proc, isRoot, skipReason, sleep, until } from '../helpers/procs.js';

/** The process no longer runs (absent, or a zombie waiting for a parent that is not ours). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

interface LabJson {
  vip: string;
  hosts: { name: string; daemon: string; pid?: number; state: string; holdsVip: boolean }[];
  faults: string[];
}

describe.skipIf(!isRoot)(`carpool lab (${skipReason})`, () => {
  const prefix = `cl${process.pid % 10000}`;
  const crashed = `ck${process.pid % 10000}`;
  const demo = `cd${process.pid % 10000}`;
  const lab = async (sub: string, ...args: string[]) => run([process.execPath, CARPOOL, 'lab', sub, '--prefix', prefix, ...args], { allowFail: true });
  const labStatus = async (): Promise<LabJson> => JSON.parse((await lab('status', '--json')).stdout) as LabJson;
  const holders = async () => (await labStatus()).hosts.filter((h) => h.holdsVip).map((h) => h.name);

  afterAll(async () => {
    for (const p of [prefix, crashed, demo]) await labDown(p);
  });

  it('up builds the LAN and elects one master; up again replaces it; down twice is fine', async () => {
    let r = await lab('up', '--hosts', '3', '--subnet', '10.214.0', '--advbase', '0', '--advskew', '20', '--skew-step', '30');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/VIP 10\.214\.0\.100 held by h1/);
    expect((await listNamespaces(prefix)).sort()).toEqual([`${prefix}-c`, `${prefix}-h1`, `${prefix}-h2`, `${prefix}-h3`, `${prefix}-sw`]);
    const first = loadLab(prefix).daemons.h1!;

    r = await lab('up', '--hosts', '2', '--subnet', '10.214.0', '--advbase', '0', '--advskew', '20', '--skew-step', '30');
    expect(r.code, r.stderr).toBe(0);
    expect(isOurs(first)).toBe(false);
    expect((await listNamespaces(prefix)).sort()).toEqual([`${prefix}-c`, `${prefix}-h1`, `${prefix}-h2`, `${prefix}-sw`]);
    const st = await labStatus();
    expect(st.hosts.map((h) => `${h.name}:${h.daemon}:${h.state}`)).toEqual(['h1:running:MASTER', 'h2:running:BACKUP']);

    // exec runs on the host: the client reaches the VIP.
    r = await lab('exec', 'c', 'ping', '-c', '1', '-W', '1', st.vip);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    r = await lab('exec', 'h9', 'true');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no host "h9".*\n?.*hosts: h1, h2, c/);
  });

  it('cut takes the master off the LAN and the backup takes over; restore brings it back', async () => {
    expect(await holders()).toEqual(['h1']);
    expect((await lab('cut', 'h1')).code).toBe(0);
    const carrier = await run(['ip', 'netns', 'exec', `${prefix}-h1`, 'cat', '/sys/class/net/eth0/carrier'], { allowFail: true });
    expect(carrier.stdout.trim() || 'no carrier').not.toBe('1');
    await until(async () => (await holders()).join() === 'h2', 5000, 50, 'h2 alone holds the VIP');
    expect((await labStatus()).faults).toContain('link cut: h1');
    expect((await lab('restore', 'h1')).code).toBe(0);
    await until(async () => (await holders()).join() === 'h1', 5000, 50, 'h1 back');
    expect((await labStatus()).faults).toEqual([]);
  });

  it('partition splits the LAN (both sides elect a master); heal leaves one', async () => {
    expect((await lab('partition', 'h1')).code).toBe(0);
    await until(async () => (await holders()).join() === 'h1,h2', 5000, 50, 'both sides master');
    // The client is on h2's side: it reaches h2's address but not h1's.
    expect((await lab('exec', 'c', 'ping', '-c', '1', '-W', '1', '10.214.0.2')).code).toBe(0);
    expect((await lab('exec', 'c', 'ping', '-c', '1', '-W', '1', '10.214.0.1')).code).not.toBe(0);
    expect((await labStatus()).faults[0]).toMatch(/^partition: h1/);
    expect((await lab('heal')).code).toBe(0);
    await until(async () => (await holders()).join() === 'h1', 5000, 20, 'one master after heal');
  });

  it('loss drops the share of adverts it says, counted at the switch and seen by the backup', async () => {
    const st = loadLab(prefix);
    const received = async () => ((await controlRequest(st.daemons.h2!.socket, { cmd: 'status' }) as DaemonStatus).instances[0]!.counters.advertsReceived);
    expect((await lab('loss', '30', '--from', 'h1')).code).toBe(0);
    const before = await received();
    await sleep(4000);
    const c = (await lossCounters(st.lan))!;
    const got = (await received()) - before;
    // h1 advertises every 78 ms to h2 and c: about 100 adverts over 4 s.
    const total = c.dropped + c.passed;
    expect(total).toBeGreaterThan(60);
    expect(c.dropped / total).toBeGreaterThan(0.15);
    expect(c.dropped / total).toBeLessThan(0.45);
    // What passed to h2 is what h2 counted (within the few adverts in flight at the edges).
    expect(Math.abs(got - c.passed / 2)).toBeLessThan(0.2 * got + 5);
    const off = await lab('loss', 'off');
    expect(off.stdout).toMatch(/advert loss stopped: \d+ dropped, \d+ passed/);
    expect(await lossCounters(st.lan)).toBeUndefined();
  });

  it('kill --signal STOP hangs the master (backup takes over), CONT resumes it, KILL leaves the VIP behind', async () => {
    expect((await lab('kill', 'h1', '--signal', 'STOP')).code).toBe(0);
    await until(async () => (await labStatus()).hosts.find((h) => h.name === 'h2')!.state === 'MASTER', 5000, 50, 'h2 takes over from a hung h1');
    expect((await labStatus()).hosts[0]!.daemon).toBe('paused');
    expect((await lab('kill', 'h1', '--signal', 'CONT')).code).toBe(0);
    await until(async () => (await holders()).join() === 'h1', 5000, 50, 'h1 resumes and reclaims');
    expect((await lab('kill', 'h1')).code).toBe(0);
    const st = await labStatus();
    expect(st.hosts[0]!.daemon).toBe('dead');
    // A crash does not clean up: h1 keeps the address until carpool starts there again.
    await until(async () => (await labStatus()).hosts[1]!.state === 'MASTER', 5000, 50, 'h2 master');
    expect(await holders()).toContain('h1');
    expect((await lab('start', 'h1')).code).toBe(0);
    await until(async () => (await holders()).join() === 'h1', 10_000, 50, 'stale VIP cleaned, h1 master again');
    expect((await lab('kill', 'h1', '--signal', 'TERM')).code).toBe(0);
    await until(async () => (await holders()).join() === 'h2', 5000, 50, 'clean release to h2');
  });

  it('down removes everything, also after the lab command was killed and its state lost', async () => {
    expect((await lab('down')).stdout).toMatch(/removed \(4 namespaces/);
    expect(await listNamespaces(prefix)).toEqual([]);
    expect(existsSync(join(LAB_ROOT, prefix))).toBe(false);

    // A `lab up` killed half-way, with its state file gone too.
    const up = new Proc('up', [process.execPath, CARPOOL, 'lab', 'up', '--prefix', crashed, '--subnet', '10.215.0', '--hosts', '3']);
    await until(() => existsSync(join(LAB_ROOT, crashed, 'h1', 'carpool.sock')), 20_000, 20, 'first daemon started');
    up.signal('SIGKILL');
    await up.exited;
    rmSync(join(LAB_ROOT, crashed, 'state.json'), { force: true });
    expect((await listNamespaces(crashed)).length).toBeGreaterThan(0);
    const pids = (await run(['ip', 'netns', 'pids', `${crashed}-h1`])).stdout.trim().split('\n').filter(Boolean).map(Number);
    expect(pids.length).toBeGreaterThan(0);
    const r = await run([process.execPath, CARPOOL, 'lab', 'down', '--prefix', crashed]);
    expect(r.stdout).toMatch(/removed/);
    expect(await listNamespaces(crashed)).toEqual([]);
    for (const pid of pids) expect(gone(pid), `pid ${pid} still runs`).toBe(true);
    expect((await run([process.execPath, CARPOOL, 'lab', 'down', '--prefix', crashed])).stdout).toMatch(/no lab/);
  });

  it('the demo (README main job) runs through, measures the outage and leaves nothing behind', async () => {
    const r = await run([process.execPath, CARPOOL, 'lab', 'demo', '--phase', '1', '--prefix', demo], { timeoutMs: 120_000 });
    expect(r.stdout).toMatch(/h2 took over\. The client lost \d+ pings: outage \d+ ms/);
    expect(r.stdout).toMatch(/the client lost 0 pings during the switchover/);
    expect(r.stdout).toMatch(/Tearing the lab down/);
    expect(await listNamespaces(demo)).toEqual([]);
  }, 150_000);
});
