/**
 * scripts/setup.sh (issue 13): Node version first, only missing packages, never stop a service it
 * did not install, `carpool` on PATH, root or sudo. The script runs for real, with the commands it
 * drives (node, npm, dpkg-query, apt-get, service, id, sudo) replaced by recording stubs on a PATH
 * that holds nothing else but the plain tools it uses, so nothing is installed and no network is used.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SETUP = fileURLToPath(new URL('../../scripts/setup.sh', import.meta.url));
const AS_ROOT = fileURLToPath(new URL('../../scripts/as-root.sh', import.meta.url));
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const root = mkdtempSync(join(tmpdir(), 'carpool-setup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TOOLS = ['bash', 'env', 'dirname', 'grep', 'sed', 'mkdir', 'chmod', 'mv', 'cat', 'printf'];
const which = (t: string) => spawnSync('bash', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();

interface World {
  /** `node --version`, or undefined for no node. */
  node?: string;
  uid?: number;
  sudo?: boolean;
  /** Installed packages (dpkg-query). */
  installed: string[];
  args: string[];
  script?: string;
}

interface Outcome { code: number | null; stdout: string; stderr: string; log: string[]; bindir: string }

let n = 0;
function setup(w: World): Outcome {
  const dir = join(root, `w${n++}`);
  const bin = join(dir, 'bin');
  const bindir = join(dir, 'usr-local-bin');
  const log = join(dir, 'log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(log, '');
  for (const t of TOOLS) symlinkSync(which(t), join(bin, t));
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!${which('bash')}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  const record = `echo "$(basename "$0") $*" >> ${log}`;
  symlinkSync(which('basename'), join(bin, 'basename'));
  if (w.node) stub('node', `${record}\necho ${w.node}`);
  stub('npm', record);
  stub('dpkg-query', `case " ${w.installed.join(' ')} " in *" \${@: -1} "*) printf 'install ok installed';; *) exit 1;; esac`);
  stub('apt-get', record);
  stub('service', `${record}\n[ "$2" = status ]`); // every service runs
  stub('id', `echo ${w.uid ?? 0}`);
  if (w.sudo) stub('sudo', record);
  const r = spawnSync(join(bin, 'bash'), [w.script ?? SETUP, ...w.args], {
    encoding: 'utf8', env: { PATH: bin, CARPOOL_BINDIR: bindir, HOME: dir },
  });
  const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('node '));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, log: lines, bindir };
}

/** Every package setup.sh knows, read from its own arrays (so a package added there needs no edit here). */
const packageArray = (name: string): string[] => {
  const m = new RegExp(`^${name}=\\(([^)]*)\\)`, 'm').exec(readFileSync(SETUP, 'utf8'));
  if (!m) throw new Error(`setup.sh has no ${name}=(...)`);
  return m[1]!.trim().split(/\s+/);
};
const ALL = [...packageArray('RUNTIME_PACKAGES'), ...packageArray('TEST_PACKAGES')];
const without = (...p: string[]) => ALL.filter((x) => !p.includes(x));

describe('scripts/setup.sh', () => {
  it('node_version_ok: at least 20.19', () => {
    const ok = (v: string) => spawnSync('bash', ['-c', `source ${SETUP}; node_version_ok ${v}`]).status === 0;
    expect(['v20.19.0', 'v20.19.5', 'v21.0.0', 'v22.12.0', 'v100.1.0'].filter((v) => !ok(v))).toEqual([]);
    expect(['v18.19.0', 'v20.18.3', 'v20.9.0', 'v8.0.0', 'garbage', ''].filter(ok)).toEqual([]);
  });

  it.each([['v18.19.0', 'v18.19.0'], [undefined, 'none']])('Node %s: says how to get Node >= 20.19 before touching anything', (node, found) => {
    const o = setup({ ...(node ? { node } : {}), installed: [], args: [] });
    expect(o.code).toBe(1);
    expect(o.stderr).toContain(`carpool needs Node.js >= 20.19 with npm (found: ${found})`);
    expect(o.stderr).toContain("Debian 12's own nodejs package is 18");
    expect(o.stderr).toContain('https://github.com/nodesource/distributions');
    expect(o.log).toEqual([]);
  });

  it('installs only the missing packages and stops only a service whose package this run installed', () => {
    // keepalived and haproxy were there (and run): the user's. nginx-light comes with this run.
    const o = setup({ node: 'v22.12.0', installed: without('nginx-light', 'ucarp', 'make'), args: ['--test'] });
    expect(o.code, o.stderr).toBe(0);
    expect(o.log).toEqual([
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends make ucarp nginx-light',
      'service nginx status',
      'service nginx stop',
      'npm ci --no-audit --no-fund',
    ]);
    expect(o.stdout).toContain('setup: stopping nginx (started by its package, which this run installed');
  });

  it('without --test: runtime and build packages only; nothing stopped when nothing was installed', () => {
    const o = setup({ node: 'v20.19.0', installed: without('nftables', 'keepalived', 'chromium'), args: [] });
    expect(o.code, o.stderr).toBe(0);
    expect(o.log).toEqual(['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends nftables', 'npm ci --no-audit --no-fund']);
    const quiet = setup({ node: 'v20.19.0', installed: ALL, args: ['--test'] });
    expect(quiet.log).toEqual(['npm ci --no-audit --no-fund']);
    expect(quiet.stdout).toContain('setup: packages: all present');
  });

  it('puts carpool on PATH: a wrapper running this checkout with the checked node; leaves a foreign one alone', () => {
    const o = setup({ node: 'v22.12.0', installed: ALL, args: [] });
    const wrapper = readFileSync(join(o.bindir, 'carpool'), 'utf8');
    expect(wrapper).toMatch(/^#!\/bin\/sh\n# written by carpool scripts\/setup\.sh/);
    expect(wrapper).toContain(`exec ${o.bindir.replace(/usr-local-bin$/, 'bin/node')} ${CHECKOUT}/bin/carpool "$@"`);
    expect(o.stdout).toContain(`setup: carpool is on PATH: ${o.bindir}/carpool -> ${CHECKOUT}/bin/carpool`);
    // A second run rewrites its own wrapper; a carpool it did not write stays.
    writeFileSync(join(o.bindir, 'carpool'), '#!/bin/sh\necho packaged carpool\n');
    const again = spawnSync('bash', [SETUP], { encoding: 'utf8', env: { ...process.env, PATH: `${join(o.bindir, '..', 'bin')}`, CARPOOL_BINDIR: o.bindir } });
    expect(again.stdout).toContain('exists and was not written by this script: left alone');
    expect(readFileSync(join(o.bindir, 'carpool'), 'utf8')).toBe('#!/bin/sh\necho packaged carpool\n');
  });

  it('not root: runs itself again through sudo (same PATH), or says to run it as root when there is no sudo', () => {
    const viaSudo = setup({ node: 'v22.12.0', uid: 1000, sudo: true, installed: [], args: ['--test'] });
    expect(viaSudo.code).toBe(0);
    expect(viaSudo.log).toEqual([expect.stringMatching(new RegExp(`^sudo -- env PATH=\\S+ bash ${SETUP} --test$`))]);
    const noSudo = setup({ node: 'v22.12.0', uid: 1000, installed: [], args: [] });
    expect(noSudo.code).toBe(1);
    expect(noSudo.stderr).toContain('sudo is not installed');
    expect(noSudo.stderr).toContain("su -c 'cd");
    expect(noSudo.log).toEqual([]);
    expect(existsSync(join(noSudo.bindir, 'carpool'))).toBe(false);
  });

  it('an unknown option is an error', () => {
    const o = setup({ node: 'v22.12.0', installed: ALL, args: ['--tests'] });
    expect(o.code).toBe(2);
    expect(o.stderr).toContain("setup: unknown option '--tests'");
    expect(o.log).toEqual([]);
  });
});

describe('scripts/as-root.sh (npm run demo, npm test)', () => {
  it('runs the command as is for root, through sudo (same PATH) otherwise, or says what to do without sudo', () => {
    const asRoot = setup({ node: 'v22.12.0', installed: [], args: ['npm', 'run', 'x'], script: AS_ROOT });
    expect(asRoot.log).toEqual(['npm run x']);
    const viaSudo = setup({ node: 'v22.12.0', uid: 1000, sudo: true, installed: [], args: ['npm', 'run', 'x'], script: AS_ROOT });
    expect(viaSudo.log).toEqual([expect.stringMatching(/^sudo -- env PATH=\S+ npm run x$/)]);
    const noSudo = setup({ node: 'v22.12.0', uid: 1000, installed: [], args: ['npm', 'run', 'x'], script: AS_ROOT });
    expect(noSudo.code).toBe(1);
    expect(noSudo.stderr).toContain('this needs root (network namespaces, raw sockets) and sudo is not installed');
    expect(noSudo.stderr).toContain("su -c 'cd");
    expect(noSudo.log).toEqual([]);
  });
});
