/**
 * Process lifetime with the addon: a closed socket must not keep Node alive, an open one
 * must (like any server handle), and environment teardown (process.exit, worker
 * termination) must close handles without hanging or aborting.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/exit-check.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;

interface Outcome { code: number | null; signal: string | null; stdout: string; stderr: string; ms: number; timedOut: boolean }

/** Run the fixture; kill it (by PID) after `limitMs`. */
function runFixture(argv: string[], limitMs: number): Promise<Outcome> {
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => { timedOut = true; process.kill(child.pid!, 'SIGKILL'); }, limitMs);
  return new Promise((resolve) => child.on('exit', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, stdout, stderr, ms: performance.now() - started, timedOut });
  }));
}

const node = (mode: string): string[] => [process.execPath, '--import', 'tsx', FIXTURE, mode];

describe('process exit with native handles', () => {
  it('exits by itself once the link monitor is closed', async () => {
    const r = await runFixture(node('monitor-closed'), 10_000);
    expect(r).toMatchObject({ code: 0, timedOut: false });
    expect(r.stdout).toContain('ok closed');
  });

  it('stays alive while a monitor is open (it is a real event source)', async () => {
    const r = await runFixture(node('monitor-open'), 2500);
    expect(r.stdout).toContain('ok open');
    expect(r.timedOut).toBe(true);
  });

  it('process.exit() with an open handle runs the cleanup hook and exits 0', async () => {
    const r = await runFixture(node('monitor-exit-open'), 10_000);
    expect(r).toMatchObject({ code: 0, signal: null, timedOut: false });
  });

  it('a worker with open handles can be terminated cleanly', async () => {
    const r = await runFixture(node('worker'), 15_000);
    expect(r.stderr).not.toMatch(/Assertion|Check failed|uv_loop_close/);
    expect(r).toMatchObject({ code: 0, signal: null, timedOut: false });
    expect(r.stdout).toContain('ok worker says monitor open');
    expect(r.stdout).toMatch(/ok worker terminated/);
    expect(r.stdout).toContain('ok self-exiting worker ended 0');
  });

  it.skipIf(!isRoot)('a raw socket closed inside its own packet handler lets the process exit', async () => {
    // A private network namespace just for this process: nothing outside is touched.
    const script = `ip link set lo up && exec ${node('raw-close-in-callback').map((a) => `'${a}'`).join(' ')}`;
    const r = await runFixture(['unshare', '-n', 'sh', '-c', script], 10_000);
    expect(r.stdout).toContain('ok sent {"ok":true,"bytes":5}');
    expect(r.stdout).toContain('ok got ttl=255 from 127.0.0.1');
    expect(r).toMatchObject({ code: 0, timedOut: false });
  });
});
