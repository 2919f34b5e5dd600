/**
 * `carpool check --strict` (issue 14): a keepalived.conf with something keepalived only logs and
 * skips is valid with a warning and exit 4, and an error with exit 3 under --strict — the codes
 * of `keepalived -t` (man keepalived, "Exit status"). The real CLI in a child process (tsx).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCarpool } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-strict-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const carpool = (args: string[]) => runCarpool(args, dir, 30_000);

describe('carpool check --strict', () => {
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(conf, 'global_defs {\n  garp_master_delay 10\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 10.0.0.1 }\n}\n');

  it('without: OK, the unknown keyword is a warning; exit 4 as keepalived -t', async () => {
    const r = await carpool(['check', '-c', conf]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('exit 4, as keepalived -t: 1 thing keepalived logs and skips');
    expect(r.stdout).toContain('OK (1 instance: VI_1; 1 warning)');
    expect(r.stderr).toContain(`${conf}:2:3: warning: unknown keyword 'garp_master_delay' in global_defs — did you mean 'vrrp_garp_master_delay'?`);
  });

  it('with: exit 3 (keepalived -t: cannot be run), the same line as an error', async () => {
    const r = await carpool(['check', '--strict', '-c', conf]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${conf}:2:3: --strict: unknown keyword 'garp_master_delay'`);
  });
});
