/**
 * The unit files in contrib/systemd/, checked by systemd's own `systemd-analyze verify` (it
 * parses every directive and checks that the commands exist). The units name the installed
 * /usr/sbin/carpool; the test points them at this checkout's bin/carpool in a temp copy.
 * Man pages are the package's business (`--man=no`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseUcarpArgs } from '../../src/config/ucarp/args.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNITS = join(ROOT, 'contrib/systemd');
const ANALYZE = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const missing = ANALYZE.error ? 'systemd-analyze is not installed (apt-get install systemd)' : undefined;

const dir = mkdtempSync(join(tmpdir(), 'carpool-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of `unit` (text edited by `edit`) in the temp dir, with the checkout's carpool. */
function copy(unit: string, as = unit, edit = (t: string) => t): string {
  const text = readFileSync(join(UNITS, unit), 'utf8').replaceAll('/usr/sbin/carpool', join(ROOT, 'bin/carpool'));
  writeFileSync(join(dir, as), edit(text));
  return join(dir, as);
}

/** `systemd-analyze verify`: exit code and everything it complained about. */
function verify(...paths: string[]): { code: number | null; complaints: string } {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...paths], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
  return { code: r.status, complaints: `${r.stdout}${r.stderr}`.trim() };
}

describe.skipIf(missing !== undefined)(`contrib/systemd units (${missing ?? 'systemd-analyze verify'})`, () => {
  it('carpool.service verifies without a complaint', () => {
    expect(verify(copy('carpool.service'))).toEqual({ code: 0, complaints: '' });
  });

  it('carpool-ucarp@.service verifies as an instance without a complaint', () => {
    copy('carpool-ucarp@.service');
    expect(verify(join(dir, 'carpool-ucarp@eth0-vip.service'))).toEqual({ code: 0, complaints: '' });
  });

  it('the check is real: a misspelt directive value or a missing binary is reported', () => {
    const typo = verify(copy('carpool.service', 'typo.service', (t) => t.replace('Type=notify', 'Type=notfy')));
    expect(typo.complaints).toMatch(/Failed to parse service type.*notfy/);
    const gone = verify(copy('carpool.service', 'gone.service', (t) => t.replaceAll(join(ROOT, 'bin/carpool'), '/nonexistent/carpool')));
    expect(gone.code).not.toBe(0);
    expect(gone.complaints).toMatch(/\/nonexistent\/carpool is not executable/);
  });

  it('both run the notifying daemon with the watchdog, and stop it gently', () => {
    for (const unit of ['carpool.service', 'carpool-ucarp@.service']) {
      const text = readFileSync(join(UNITS, unit), 'utf8');
      expect(text, unit).toMatch(/^Type=notify$/m);
      expect(text, unit).toMatch(/^WatchdogSec=\d+s$/m);
      expect(text, unit).toMatch(/^KillMode=mixed$/m);
      expect(text, unit).toMatch(/^CapabilityBoundingSet=.*\bCAP_NET_RAW\b.*$/m);
      expect(text, unit).toMatch(/^CapabilityBoundingSet=.*\bCAP_NET_ADMIN\b.*$/m);
      expect(text, unit).not.toMatch(/^(RestrictRealtime|MemoryDenyWriteExecute)=/m);
    }
  });
});

describe('contrib/systemd/ucarp-example.conf', () => {
  it("holds ucarp options that carpool ucarp accepts, split on spaces as systemd splits $UCARP_OPTS", () => {
    const text = readFileSync(join(UNITS, 'ucarp-example.conf'), 'utf8');
    const opts = /^UCARP_OPTS="([^"]*)"$/m.exec(text)?.[1];
    expect(opts).toBeDefined();
    const res = parseUcarpArgs(opts!.split(/\s+/));
    expect(res.kind, JSON.stringify(res)).toBe('config');
    expect(opts).not.toMatch(/(^|\s)(-B|--daemonize)\b/);
  });
});
