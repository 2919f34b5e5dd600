/**
 * `npm run package` (scripts/package.sh, issue 13 item 2): the Debian package is built once, checked
 * by lintian, then installed, upgraded, removed and purged with the real dpkg in a throwaway root
 * (`dpkg --root=DIR --force-script-chrootless`), never on the host. dpkg unpacks into DIR and runs
 * the maintainer scripts on the host with DPKG_ROOT=DIR, which is what they must cope with: they
 * must touch nothing outside DIR, so `systemctl` and `deb-systemd-invoke` are recording stubs here
 * that must never be called. dpkg's own database lives in DIR too; the dependencies (nodejs,
 * iproute2...) are not in it, hence `--force-depends`.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(CHECKOUT, 'package.json'), 'utf8')) as { version: string }).version;
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const missingTools = ['dpkg-deb', 'dpkg-shlibdeps', 'strip'].filter((t) => !has(t));
const missing = missingTools.length > 0 ? `${missingTools.join(', ')} missing (apt-get install dpkg-dev binutils)` : undefined;

const work = mkdtempSync(join(tmpdir(), 'carpool-package-'));
const root = join(work, 'root');
const stubs = join(work, 'stubs');
const calls = join(work, 'calls');
let deb = '';
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(argv: string[], env: NodeJS.ProcessEnv = process.env, timeout = 120_000): SpawnSyncReturns<string> {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env, timeout });
  if (r.error) throw r.error;
  return r;
}

/** dpkg on the throwaway root; the stubs first on PATH. */
function dpkg(...args: string[]): SpawnSyncReturns<string> {
  return run(['dpkg', `--root=${root}`, '--force-script-chrootless', '--force-depends', '--force-not-root', ...args],
    { ...process.env, PATH: `${stubs}:${process.env.PATH ?? '/usr/bin:/bin'}` });
}

/** Every file, link and directory under the root, but dpkg's own database. */
function tree(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const rel = relative(root, p);
      if (rel === 'var/lib/dpkg' || rel.startsWith('var/lib/dpkg/')) continue;
      if (e.isDirectory()) walk(p);
      if (!['var', 'var/lib'].includes(rel)) out.push(rel);
    }
  };
  walk(root);
  return out.sort();
}

const mode = (rel: string) => (lstatSync(join(root, rel)).mode & 0o7777).toString(8).padStart(4, '0');
const status = () => dpkg('-s', 'carpool');

describe.skipIf(missing !== undefined)(`Debian package (${missing ?? `carpool_${VERSION}`})`, () => {
  beforeAll(() => {
    const r = run([join(CHECKOUT, 'scripts/package.sh'), join(work, 'out')], process.env, 300_000);
    expect(r.stderr, r.stderr).toBe('');
    deb = r.stdout.trim();
    for (const d of ['info', 'updates', 'triggers']) mkdirSync(join(root, 'var/lib/dpkg', d), { recursive: true });
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    writeFileSync(join(root, 'var/lib/dpkg/available'), '');
    mkdirSync(stubs);
    for (const tool of ['systemctl', 'deb-systemd-invoke', 'deb-systemd-helper']) {
      writeFileSync(join(stubs, tool), `#!/bin/sh\necho "${tool} $*" >> ${calls}\n`);
      chmodSync(join(stubs, tool), 0o755);
    }
  }, 300_000);

  it('is named for the architecture the addon was built for, and depends on what it runs with', () => {
    const arch = run(['dpkg', '--print-architecture']).stdout.trim();
    expect(deb).toBe(join(work, 'out', `carpool_${VERSION}_${arch}.deb`));
    const control = run(['dpkg-deb', '-f', deb]).stdout;
    expect(control).toContain(`Architecture: ${arch}\n`);
    expect(control).toMatch(/^Depends: nodejs \(>= 20\.19\), libc6 \(>= [\d.]+\)[^\n]*, iproute2, nftables, conntrack$/m);
  });

  it.skipIf(!has('lintian'))('lintian finds no errors', () => {
    const r = run(['lintian', '--no-cfg', deb], process.env, 180_000);
    const errors = r.stdout.split('\n').filter((l) => /^E: /.test(l));
    expect(errors).toEqual([]);
    // The warnings docs/package.md justifies, and no others.
    const warnings = [...new Set(r.stdout.split('\n').filter((l) => /^W: /.test(l)).map((l) => l.split(' ')[2]))];
    expect(warnings.filter((w) => w !== 'non-standard-file-perm')).toEqual([]);
  }, 180_000);

  it('installs into a throwaway root: files, modes, conffiles, and nothing done to the host', () => {
    const r = dpkg('-i', deb);
    expect(r.status, r.stderr).toBe(0);
    expect(status().stdout).toMatch(/^Status: install ok installed$/m);
    expect(status().stdout).toMatch(/^Conffiles:\n \/etc\/carpool\/carpool\.yaml\.example [0-9a-f]{32}\n \/etc\/carpool\/ucarp\/example\.conf [0-9a-f]{32}$/m);
    expect(mode('etc/carpool/carpool.yaml.example')).toBe('0600');
    expect(mode('etc/carpool/ucarp/example.conf')).toBe('0600');
    for (const exe of ['usr/sbin/carpool', 'usr/lib/carpool/ucarp', 'usr/lib/carpool/bin/carpool']) expect(mode(exe)).toBe('0755');
    for (const f of ['lib/systemd/system/carpool.service', 'lib/systemd/system/carpool-ucarp@.service', 'usr/lib/carpool/build/Release/carpool_net.node',
      'usr/share/man/man8/carpool.8.gz', 'usr/share/man/man5/carpool.yaml.5.gz', 'usr/share/bash-completion/completions/carpool',
      'usr/share/doc/carpool/copyright']) expect(mode(f)).toBe('0644');
    expect(readFileSync(join(root, 'usr/sbin/carpool'), 'utf8')).toBe('#!/bin/sh\nexec /usr/bin/node /usr/lib/carpool/bin/carpool "$@"\n');
    expect(readFileSync(join(root, 'usr/lib/carpool/ucarp'), 'utf8')).toContain('/usr/lib/carpool/bin/carpool ucarp "$@"');
    // Production dependencies only.
    const modules = readdirSync(join(root, 'usr/lib/carpool/node_modules'));
    expect(modules).toEqual(expect.arrayContaining(['yaml', 'commander', 'fast-xml-parser']));
    for (const dev of ['vitest', 'typescript', 'eslint', 'tsx', 'playwright-core']) expect(modules).not.toContain(dev);
    expect(existsSync(join(calls))).toBe(false);
  });

  it('the installed tree runs on its own: version, and a check of the example configuration', () => {
    const carpool = join(root, 'usr/lib/carpool/bin/carpool');
    expect(run([process.execPath, carpool, '--version']).stdout.trim()).toBe(VERSION);
    const check = run([process.execPath, carpool, 'check', '-c', join(root, 'etc/carpool/carpool.yaml.example')]);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toContain('OK (1 instance: web)');
    const ucarp = run([process.execPath, carpool, 'ucarp', '--help']);
    expect(ucarp.stdout).toContain('ucarp 1.5.2 compatible');
  });

  it('upgrades over itself (postinst configure with the old version), removes, then purges to nothing', () => {
    expect(dpkg('-i', deb).status).toBe(0);
    // An edited conffile survives removal; the daemon's run directory goes at purge.
    writeFileSync(join(root, 'etc/carpool/carpool.yaml.example'), '# edited\n');
    mkdirSync(join(root, 'run/carpool/ns-lab'), { recursive: true });
    writeFileSync(join(root, 'run/carpool/ns-lab/addresses.json'), '{}');
    const removed = dpkg('-r', 'carpool');
    expect(removed.status, removed.stderr).toBe(0);
    expect(status().stdout).toMatch(/^Status: deinstall ok config-files$/m);
    expect(tree()).toEqual(['etc', 'etc/carpool', 'etc/carpool/carpool.yaml.example', 'etc/carpool/ucarp', 'etc/carpool/ucarp/example.conf',
      'run', 'run/carpool', 'run/carpool/ns-lab', 'run/carpool/ns-lab/addresses.json']);
    const purged = dpkg('-P', 'carpool');
    expect(purged.status, purged.stderr).toBe(0);
    expect(status().status).not.toBe(0);
    expect(tree()).toEqual(['run']);
    expect(existsSync(join(calls))).toBe(false);
  });
});
