/**
 * Command-line handling of the commander commands (issue 13): the real CLI in a child process
 * (TypeScript sources through tsx, so no build is needed), with a run directory of its own.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWatchSeconds } from '../../src/cli/commands.js';

const runDir = mkdtempSync(join(tmpdir(), 'carpool-cli-'));
afterAll(() => rmSync(runDir, { recursive: true, force: true }));

interface Result { code: number | null; stdout: string; stderr: string }

/** Run `carpool ...args`; kill it after `killAfterMs` (for commands that never end). */
function carpool(args: string[], killAfterMs = 20_000): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e',
      "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(process.argv.slice(1)) ?? 0", ...args],
    { env: { ...process.env, CARPOOL_RUN_DIR: runDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGTERM'), killAfterMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

describe('status --watch', () => {
  it('takes a positive number of seconds', () => {
    expect(parseWatchSeconds('2')).toBe('2');
    expect(parseWatchSeconds('0.5')).toBe('0.5');
    for (const bad of ['abc', '0', '-1', '', ' ', 'Infinity', 'NaN', '1s']) {
      expect(() => parseWatchSeconds(bad), bad).toThrow(/expected a positive number of seconds/);
    }
  });

  it.each([['abc'], ['0'], ['-1']])('--watch %s is an error naming the option, not a busy loop', async (value) => {
    const r = await carpool(['status', '--watch', value]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`option '-w, --watch [seconds]' argument '${value}' is invalid. expected a positive number of seconds`);
    expect(r.stdout).toBe('');
  });

  it('--watch 0.5 refreshes twice a second', async () => {
    const r = await carpool(['status', '--watch', '0.5'], 4000);
    // Start-up through tsx takes a while; whatever remains of 4 s holds at most 8 refreshes (it spun ~600/s before).
    const refreshes = r.stderr.split('no running daemon found').length - 1;
    expect(refreshes).toBeGreaterThanOrEqual(1);
    expect(refreshes).toBeLessThanOrEqual(8);
  });
});

describe('unknown options', () => {
  it('run --conifg x names the unknown option and suggests --config (not "required option -c")', async () => {
    const r = await carpool(['run', '--conifg', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: unknown option '--conifg'");
    expect(r.stderr).toContain('(Did you mean --config?)');
    expect(r.stderr).not.toContain('required option');
  });

  it('a missing mandatory option is still reported', async () => {
    const r = await carpool(['check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: required option '-c, --config <file>' not specified");
  });
});

describe('demote and resource without a daemon', () => {
  it.each([[['demote']], [['resource', 'status']]])('%j says no daemon runs in this namespace\'s run directory', async (args) => {
    const r = await carpool(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no running daemon found (no control socket in ${runDir})`);
  });
});
