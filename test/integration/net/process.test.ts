/**
 * Local sockets and process helpers: the non-blocking syslog datagram socket against a
 * python3 listener, and SCHED_RR for the JS thread. No network namespace needed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { run } from '../../../src/lib/exec.js';
import { SyslogSocket } from '../../../src/net/syslog-socket.js';
import { isRoot, sleep } from './agent.js';

const LISTENER = fileURLToPath(new URL('./fixtures/dgram_listener.py', import.meta.url));
const SCHED = fileURLToPath(new URL('./fixtures/sched.ts', import.meta.url));

interface Listener { child: ChildProcess; lines: string[] }

const children: ChildProcess[] = [];

async function listen(path: string, mode: 'echo' | 'deaf'): Promise<Listener> {
  const child = spawn('python3', [LISTENER, path, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('listener did not start')), 10_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        if (l === 'ready') { clearTimeout(timer); resolve(); } else lines.push(l);
      }
    });
  });
  return { child, lines };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  process.kill(child.pid!, 'SIGTERM');
  await exited;
}

async function waitLines(l: Listener, n: number): Promise<string[]> {
  for (let i = 0; i < 100 && l.lines.length < n; i++) await sleep(50);
  return l.lines;
}

describe('SyslogSocket (AF_UNIX datagrams)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carpool-syslog-'));
  afterEach(async () => { for (const c of children.splice(0)) await stopChild(c); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers the bytes to the listener', async () => {
    const path = join(dir, 'log1');
    const l = await listen(path, 'echo');
    const sock = SyslogSocket.open(path);
    try {
      expect(sock.send(Buffer.from('<30>ucarp[1]: Switching to state: MASTER'))).toEqual({ ok: true, bytes: 40 });
      expect(sock.send('second')).toEqual({ ok: true, bytes: 6 });
      expect(await waitLines(l, 2)).toEqual([
        Buffer.from('<30>ucarp[1]: Switching to state: MASTER').toString('hex'), Buffer.from('second').toString('hex'),
      ]);
    } finally {
      sock.close();
    }
  });

  it('never blocks: a listener that does not read costs EAGAIN results', async () => {
    const path = join(dir, 'log2');
    await listen(path, 'deaf');
    const sock = SyslogSocket.open(path);
    try {
      const started = performance.now();
      const results = Array.from({ length: 2000 }, () => sock.send('x'.repeat(200)));
      const ms = performance.now() - started;
      const failed = results.filter((r) => !r.ok);
      expect(results[0]).toEqual({ ok: true, bytes: 200 });
      expect(failed.length).toBeGreaterThan(0);
      expect(new Set(failed.map((r) => (r.ok ? '' : r.error)))).toEqual(new Set(['EAGAIN']));
      expect(ms).toBeLessThan(1000);
    } finally {
      sock.close();
    }
  });

  it('reconnects when syslog restarts and recreates its socket', async () => {
    const path = join(dir, 'log3');
    const first = await listen(path, 'echo');
    const sock = SyslogSocket.open(path);
    try {
      expect(sock.send('before').ok).toBe(true);
      await waitLines(first, 1);
      await stopChild(first.child);
      rmSync(path);
      expect(sock.send('while down')).toEqual({ ok: false, error: 'ECONNREFUSED' }); // and the reconnect failed
      const second = await listen(path, 'echo');
      expect(sock.send('after')).toEqual({ ok: true, bytes: 5 });
      expect(await waitLines(second, 1)).toEqual([Buffer.from('after').toString('hex')]);
    } finally {
      sock.close();
    }
  });

  it('supports the abstract namespace (@name)', async () => {
    const name = `@carpool-test-${process.pid}`;
    const l = await listen(name, 'echo');
    const sock = SyslogSocket.open(name);
    try {
      expect(sock.send('abstract').ok).toBe(true);
      expect(await waitLines(l, 1)).toEqual([Buffer.from('abstract').toString('hex')]);
    } finally {
      sock.close();
    }
  });
});

describe.skipIf(!isRoot)('process helpers', () => {
  it('switches the JS thread to SCHED_RR and back', async () => {
    const res = await run([process.execPath, '--import', 'tsx', SCHED], { env: { ...process.env }, timeoutMs: 20_000 });
    const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(r).toMatchObject({
      rt: { ok: true }, during: { policy: 2, priority: 10 }, back: { ok: true }, after: { policy: 0, priority: 0 },
      lock: 0, unlock: 0,
    });
    expect(r.vmlck).toBeGreaterThan(0);
  });
});
