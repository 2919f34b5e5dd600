/**
 * Defect 1 of issue 11: the daemon's own output. A reader that goes away (`carpool run ...
 * | head -n 4`) must not end the daemon — before, the EPIPE handler meant for `carpool
 * status | head` made it exit 0 holding its VIP, with no down hooks — and a reader that
 * never reads must neither block it nor grow it, nor keep SIGTERM from finishing.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressesOf, createLan, destroyLan, type Lan } from '../../../src/lab/netns.js';
import { Workdir, nativeConfig, socketOf, startNative, stateOf } from '../helpers/carp.js';
import { fileURLToPath } from 'node:url';
import { Proc, ProcSet, carpoolArgv, inNs, isRoot, skipReason, sleep, until } from '../helpers/procs.js';
import { SyslogListener, rssKiB } from './helpers.js';

const VIP = '10.91.0.100';
const CRASH = fileURLToPath(new URL('./fixtures/crash-daemon.ts', import.meta.url));

describe.skipIf(!isRoot)(`faults: the daemon's stdout/stderr (${skipReason})`, () => {
  const prefix = `fo${process.pid % 10000}`;
  const procs = new ProcSet();
  const wd = new Workdir();
  let lan: Lan;
  let syslog: SyslogListener;

  beforeAll(async () => {
    lan = await createLan({ prefix, hosts: 2, subnet: '10.91.0', client: false });
    syslog = new SyslogListener(wd.path('syslog.sock'));
    await syslog.ready;
  });
  afterAll(async () => {
    await procs.killAll();
    syslog.stop();
    await destroyLan(prefix);
    wd.remove();
  });

  const h = (i: number) => lan.hosts[i - 1]!;
  const hasVip = async (i: number) => (await addressesOf(h(i).ns, 'eth0')).includes(`${VIP}/24`);
  const hooks = (i: number) => {
    const down = wd.write(`down${i}.sh`, `#!/bin/sh\necho "down hook output $*"\necho down >> ${wd.path(`h${i}.hooks`)}\n`, 0o755);
    return `    hooks: { down: ${down} }`;
  };
  const downs1 = () => (existsSync(wd.path('h1.hooks')) ? readFileSync(wd.path('h1.hooks'), 'utf8').trim().split('\n').length : 0);
  /** h1 as master, its stdout and stderr one pipe to us (as `2>&1 | head`). */
  const startMaster = () => {
    const cfg = nativeConfig(wd, h(1), { advbase: 1, deadratio: 3, advskew: 0, preempt: true, addresses: [`${VIP}/24`], extra: hooks(1) });
    const child = spawn(carpoolArgv(h(1).ns, ['run', '-c', cfg])[0]!, carpoolArgv(h(1).ns, ['run', '-c', cfg]).slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CARPOOL_SYSLOG_SOCKET: syslog.path },
    });
    procs.adopt(child.pid!);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return { child, exited, running: () => child.exitCode === null && child.signalCode === null };
  };

  it('a closed stdout turns the console off; the daemon stays master and logs on to syslog', async () => {
    startNative(procs, h(2), nativeConfig(wd, h(2), { advbase: 1, deadratio: 3, advskew: 100, addresses: [`${VIP}/24`] }));
    const m = startMaster();
    const head: string[] = [];
    m.child.stdout.on('data', (b: Buffer) => head.push(b.toString()));
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'MASTER', 15_000, 50, 'h1 MASTER');
    await until(async () => (await stateOf(socketOf(wd, h(2)))) === 'BACKUP', 5000, 50, 'h2 BACKUP');
    // `| head -n 4` has read enough: the read ends close.
    m.child.stdout.destroy();
    m.child.stderr.destroy();
    await sleep(100);
    const before = syslog.lines.length;
    process.kill(m.child.pid!, 'SIGUSR1'); // any log line now meets EPIPE
    await until(() => syslog.count(/Console output failed \(EPIPE\)/) > 0 || !m.running(), 5000, 20, 'EPIPE noticed');
    await sleep(3500); // more than the peer's master-down interval
    expect(m.running(), `daemon exited: ${JSON.stringify(await Promise.race([m.exited, sleep(10)]))}`).toBe(true);
    expect(await stateOf(socketOf(wd, h(1)))).toBe('MASTER');
    expect(await stateOf(socketOf(wd, h(2)))).toBe('BACKUP');
    expect(await hasVip(1)).toBe(true);
    expect(await hasVip(2)).toBe(false);
    // The log goes on to syslog.
    process.kill(m.child.pid!, 'SIGUSR1');
    await until(() => syslog.lines.slice(before).filter((l) => /web: MASTER on eth0/.test(l)).length >= 2, 5000, 20, 'status lines in syslog');
    // And it still stops cleanly: down hook run, address released, exit 0.
    const downs = downs1();
    process.kill(m.child.pid!, 'SIGTERM');
    expect(await m.exited).toEqual({ code: 0, signal: null });
    expect(downs1()).toBe(downs + 1);
    expect(await hasVip(1)).toBe(false);
  });

  it('a reader that never reads neither grows the daemon nor keeps SIGTERM from finishing', async () => {
    await until(async () => (await stateOf(socketOf(wd, h(2)))) === 'MASTER', 10_000, 50, 'h2 MASTER after h1 left');
    const m = startMaster(); // stdout/stderr pipes we never read
    m.child.stdout.pause();
    m.child.stderr.pause();
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'MASTER', 15_000, 50, 'h1 MASTER again');
    const rss0 = rssKiB(m.child.pid!);
    // Far more than the pipe holds: every SIGUSR1 logs a line.
    for (let i = 0; i < 3000; i++) {
      process.kill(m.child.pid!, 'SIGUSR1');
      if (i % 20 === 0) await sleep(2);
    }
    await sleep(500);
    expect(m.running()).toBe(true);
    expect(await stateOf(socketOf(wd, h(1)))).toBe('MASTER'); // the control socket still answers
    const grew = rssKiB(m.child.pid!) - rss0;
    expect(grew).toBeLessThan(30 * 1024);
    const downs = downs1();
    const t0 = performance.now();
    process.kill(m.child.pid!, 'SIGTERM');
    const res = await Promise.race([m.exited, sleep(10_000).then(() => 'hung')]);
    expect(res).toEqual({ code: 0, signal: null });
    expect(performance.now() - t0).toBeLessThan(8000);
    expect(downs1()).toBe(downs + 1);
    expect(await hasVip(1)).toBe(false);
  });

  it('a fatal error releases what the daemon holds and exits non-zero', async () => {
    const cfg = nativeConfig(wd, h(1), { advbase: 1, deadratio: 3, advskew: 0, preempt: true, addresses: [`${VIP}/24`], extra: hooks(1) });
    const d = procs.add(new Proc('h1-crash', inNs(h(1).ns, [process.execPath, '--import', 'tsx', CRASH, cfg])));
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'MASTER', 20_000, 50, 'h1 MASTER');
    await until(async () => hasVip(1), 5000, 20, 'h1 holds the VIP');
    const downs = downs1();
    d.signal('SIGWINCH'); // an uncaught exception inside the daemon
    const res = await Promise.race([d.exited, sleep(15_000).then(() => 'still running')]);
    expect(res).toEqual({ code: 1, signal: null });
    expect(d.count(/internal error: Error: injected fault/)).toBe(1);
    expect(downs1()).toBe(downs + 1);
    expect(await hasVip(1)).toBe(false);
  });
});
