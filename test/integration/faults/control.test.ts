/**
 * Defect 4 of issue 11: the control socket has limits. Before, a client that pipelined
 * requests without reading the replies grew the daemon's memory without bound, there was no
 * connection limit and no idle timeout, and when file descriptors ran out the link-event
 * callbacks threw and those link events were lost.
 */
import type { Socket } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/control/client.js';
import { ControlServer } from '../../../src/daemon/control.js';
import { Logger } from '../../../src/daemon/logger.js';
import { run } from '../../../src/lib/exec.js';
import { addressesOf, createLan, cutLink, destroyLan, restoreLink, type Lan } from '../../../src/lab/netns.js';
import { Workdir, nativeConfig, socketOf, startNative, stateOf, status } from '../helpers/carp.js';
import { ProcSet, isRoot, type Proc, skipReason, sleep, until } from '../helpers/procs.js';
import { connectUnix as connect, connectionFate as fate, rssKiB } from './helpers.js';

const VIP = '10.95.0.100';

describe.skipIf(!isRoot)(`faults: control socket limits (${skipReason})`, () => {
  const prefix = `fc${process.pid % 10000}`;
  const procs = new ProcSet();
  const wd = new Workdir();
  let lan: Lan;
  const sockets: Socket[] = [];
  let h1d: Proc;

  beforeAll(async () => {
    lan = await createLan({ prefix, hosts: 2, subnet: '10.95.0', client: false });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await procs.killAll();
    await destroyLan(prefix);
    wd.remove();
  });

  const h = (i: number) => lan.hosts[i - 1]!;
  const sock1 = () => socketOf(wd, h(1));

  it('a client pipelining requests without reading does not grow the daemon; others are answered', async () => {
    const d = h1d = startNative(procs, h(1), nativeConfig(wd, h(1), { advbase: 1, advskew: 0, preempt: true, addresses: [`${VIP}/24`] }));
    await until(async () => (await stateOf(sock1())) === 'MASTER', 15_000, 50, 'h1 MASTER');
    const rss0 = rssKiB(d.pid);
    const greedy = await connect(sock1());
    sockets.push(greedy);
    greedy.pause(); // never reads a reply
    greedy.on('error', () => undefined);
    const req = '{"cmd":"status"}\n'.repeat(50);
    const end = performance.now() + 5000;
    let written = 0;
    let answered = 0;
    let peak = rss0;
    while (performance.now() < end) {
      peak = Math.max(peak, rssKiB(d.pid));
      // Write as the kernel lets us; when the daemon stops reading, our buffer fills.
      if (greedy.writableLength < 64 * 1024) { greedy.write(req); written += 50; }
      await sleep(1);
      if (written % 5000 === 0) {
        expect((await status(sock1())).pid).toBe(d.pid);
        answered++;
      }
    }
    expect(answered).toBeGreaterThan(0);
    expect((await status(sock1())).pid).toBe(d.pid); // still answers others
    expect(greedy.destroyed).toBe(false); // slowed down, not dropped
    const grew = Math.max(peak, rssKiB(d.pid)) - rss0;
    console.log(`pipelining client: ${written} requests written in 5 s, daemon RSS +${(grew / 1024).toFixed(1)} MiB`);
    expect(grew).toBeLessThan(40 * 1024);
    greedy.destroy();
  });

  it('100 connections: 32 are served, the others get an error line and are closed', async () => {
    const conns = await Promise.all(Array.from({ length: 100 }, () => connect(sock1())));
    sockets.push(...conns);
    const fates = await Promise.all(conns.map((s) => fate(s, 1500)));
    const refused = fates.filter((f) => f.includes('CONTROL_BUSY'));
    expect(fates.filter((f) => f === 'open').length).toBeLessThanOrEqual(32);
    expect(refused.length).toBeGreaterThanOrEqual(68);
    expect(fates.filter((f) => f !== 'open' && !f.includes('CONTROL_BUSY'))).toEqual([]);
    for (const s of conns) s.destroy();
    await sleep(200);
    expect((await status(sock1())).instances[0]!.state).toBe('MASTER');
  });

  it('out of file descriptors: EMFILE is reported as such and no link event is lost', async () => {
    startNative(procs, h(2), nativeConfig(wd, h(2), { advbase: 1, advskew: 100, addresses: [`${VIP}/24`] }));
    await until(async () => (await stateOf(socketOf(wd, h(2)))) === 'BACKUP', 15_000, 50, 'h2 BACKUP');
    const pid = (await status(sock1())).pid;
    const open = readdirSync(`/proc/${pid}/fd`).length;
    const [soft, hard] = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))!.slice(1);
    await run(['prlimit', `--pid=${pid}`, `--nofile=${open + 4}:${hard}`]);
    const fillers: Socket[] = [];
    for (let i = 0; i < 12; i++) {
      try { const s = await connect(sock1()); s.on('error', () => undefined); fillers.push(s); } catch { /* refused */ }
    }
    sockets.push(...fillers);
    await sleep(300);
    expect(readdirSync(`/proc/${pid}/fd`).length).toBeGreaterThanOrEqual(open + 3);
    // The master's cable is pulled while it has no descriptor left.
    await cutLink(lan, h(1));
    await sleep(1500);
    for (const s of fillers) s.destroy();
    await run(['prlimit', `--pid=${pid}`, `--nofile=${soft}:${hard}`]);
    // The lost carrier is noticed after all: h1 gives the address up.
    await until(async () => !(await addressesOf(h(1).ns, 'eth0')).includes(`${VIP}/24`), 8000, 50, 'h1 releases the VIP');
    expect(await stateOf(sock1())).toBe('BACKUP');
    expect(h1d.running).toBe(true);
    expect(h1d.count(/EMFILE/)).toBeGreaterThan(0);
    expect(h1d.count(/NET_ENOENT/)).toBe(0);
    await restoreLink(lan, h(1));
  });
});

describe('ControlServer idle timeout (in-process)', () => {
  it('closes a connection that stays silent', async () => {
    const wd = new Workdir();
    const server = new ControlServer(wd.path('run/c.sock'), () => 'pong', new Logger({ ident: 't', facility: 'none', debug: false, console: false }), { idleMs: 300 });
    await server.listen();
    try {
      const s = await connect(wd.path('run/c.sock'));
      const t0 = performance.now();
      expect(await fate(s, 3000)).toBe('closed');
      expect(performance.now() - t0).toBeGreaterThan(250);
      expect(await controlRequest(wd.path('run/c.sock'), { cmd: 'ping' }, 1000)).toBe('pong');
    } finally {
      await server.close();
      wd.remove();
    }
  });
});
