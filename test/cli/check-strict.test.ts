/**
 * `carpool check --strict` (issue 14): a keepalived.conf with something keepalived only logs and
 * skips is OK with a warning, and exit 1 with --strict. The real CLI in a child process (tsx).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'carpool-strict-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function carpool(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e',
      "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(process.argv.slice(1)) ?? 0", ...args],
    { env: { ...process.env, CARPOOL_RUN_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGTERM'), 30_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

describe('carpool check --strict', () => {
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(conf, 'global_defs {\n  garp_master_delay 10\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 10.0.0.1 }\n}\n');

  it('without: OK, the unknown keyword is a warning', async () => {
    const r = await carpool(['check', '-c', conf]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('OK (1 instance: VI_1; 1 warning)');
    expect(r.stderr).toContain(`${conf}:2:3: warning: unknown keyword 'garp_master_delay' in global_defs — did you mean 'vrrp_garp_master_delay'?`);
  });

  it('with: exit 1, the same line as an error', async () => {
    const r = await carpool(['check', '--strict', '-c', conf]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${conf}:2:3: --strict: unknown keyword 'garp_master_delay'`);
  });
});
