/**
 * `carpool status` when the run directory holds only control sockets of daemons that are gone (a
 * killed daemon leaves its socket file): it names each, says no daemon answers and how to start
 * one, and exits 3 (documented in `--help` and the README), not an empty line.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCarpool } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-stale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A socket file nobody listens on: bound by a process that exits without removing it. */
function staleSocket(name: string): string {
  const path = join(dir, name);
  execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
  return path;
}

describe('carpool status with only stale sockets', () => {
  it('no socket at all: "no running daemon found", exit 3', async () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const r = await runCarpool(['status'], empty, 30_000);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no running daemon found');
  });

  it('two stale sockets: each named, no daemon answers, how to start one; exit 3', async () => {
    const a = staleSocket('carpool.sock');
    const b = staleSocket('ucarp-eth0-vhid7.sock');
    const r = await runCarpool(['status'], dir, 30_000);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`carpool: no running daemon answers: none of the 2 control sockets in ${dir} (${a} (ECONNREFUSED), ${b} (ECONNREFUSED)) are left by a daemon that stopped`);
    expect(r.stderr).toContain('hint: start one with `carpool run -c FILE`');
    const json = await runCarpool(['status', '--json'], dir, 30_000);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });
});
