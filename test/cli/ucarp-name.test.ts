/**
 * Called by the name `ucarp` (a symlink /usr/sbin/ucarp -> carpool), carpool is `carpool ucarp`:
 * init scripts and Debian's ifupdown hook that run /usr/sbin/ucarp work unchanged.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Run main(args) as if the executable were `invokedAs`. */
function mainAs(invokedAs: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e',
      "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(process.argv.slice(2), process.argv[1]) ?? 0", invokedAs, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the ucarp name', () => {
  it('/usr/sbin/ucarp --help is ucarp\'s usage', async () => {
    const r = await mainAs('/usr/sbin/ucarp', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^carpool ucarp - ucarp 1\.5\.2 compatible/);
  });

  it('ucarp\'s options are ucarp\'s: a missing one is ucarp\'s error, not an unknown carpool command', async () => {
    const r = await mainAs('ucarp', ['-i', 'lo', '-v', '1', '-p', 'pw', '-a', '10.0.0.1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('You must supply a persistent source address');
  });

  it('any other name is carpool', async () => {
    const r = await mainAs('/usr/sbin/carpool', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: carpool /);
  });
});
