/**
 * The built CLI (bin/carpool, after `npm run build:ts`) on the worst inputs of issue 14, each
 * command that reads a file, under a 96 MB heap (`--max-old-space-size`): a clean exit 1 with the
 * message, never V8's out-of-memory abort (exit 134), a stack overflow or a hang. The bound is the
 * process's exit code, not a time. Before the fix, `a: [[[...` 5,000 deep aborted the process with
 * "RegExpCompiler Allocation failed", a 10 MB keepalived.conf token or CIB attribute ran out of memory.
 * No root needed: nothing here touches the network. Each input's pure checks: test/config/input-guard.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CARPOOL } from './helpers/procs.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'x'.repeat(10 * 1024 * 1024);
const file = (name: string, text: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** `carpool ARGS` under a small heap; killed (SIGKILL, code null) only if it would hang for minutes. */
function carpool(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--max-old-space-size=96', CARPOOL, ...args],
      { env: { ...process.env, CARPOOL_RUN_DIR: join(dir, 'run') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < 1e6) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 1e6) stderr += d.toString(); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('close', (code) => { clearTimeout(guard); resolve({ code, stdout, stderr }); });
  });
}

describe('the built CLI on hostile input: exit 1 (check of a keepalived.conf: 3) with a message, under a 96 MB heap', () => {
  const deepYaml = file('deep.yaml', `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
  const tokenConf = file('token.conf', `global_defs {\n ${TOKEN}\n}\nvrrp_instance VI {\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress { 10.0.0.1/24 }\n}\n`);
  const bracesConf = file('braces.conf', `vrrp_instance VI {\n${'{'.repeat(100_000)}${'}'.repeat(100_000)}\n}\n`);
  const tokenCib = file('token.xml', `<cib><configuration><resources><primitive id="${TOKEN}"/></resources></configuration></cib>`);
  const deepCib = file('deep.xml', `<cib><configuration><resources>${'<group>'.repeat(100_000)}${'</group>'.repeat(100_000)}</resources></configuration></cib>`);
  const binary = file('binary', Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 256)));
  const includesBinary = file('include.conf', `include ${binary}\n`);
  const hb = join(dir, 'ha.d');
  mkdirSync(hb);
  writeFileSync(join(hb, 'ha.cf'), `node ${TOKEN}\n`);

  const cases: [string, string[], RegExp][] = [
    ['check, YAML [ 100,000 deep', ['check', '-c', deepYaml], /deep.yaml:1:67: collections are nested more than 64 levels deep/],
    ['run (the check before starting), YAML [ 100,000 deep', ['run', '-c', deepYaml], /deep.yaml:1:67: collections are nested more than 64 levels deep/],
    ['convert, YAML [ 100,000 deep', ['convert', deepYaml], /nested more than 64/],
    ['export-cib, YAML [ 100,000 deep', ['export-cib', '-c', deepYaml], /nested more than 64/],
    ['check, a 10 MB keepalived.conf token', ['check', '--strict', '-c', tokenConf], /token.conf:2:2: --strict: unknown keyword 'x{80}… \(10485760 bytes\)' in global_defs/],
    ['check, keepalived.conf braces 100,000 deep', ['check', '-c', bracesConf], /braces.conf:\d+:\d+: .*nested deeper than 64/],
    ['import-cib, a 10 MB attribute', ['import-cib', tokenCib], /token.xml:1:32: an XML tag longer than 65536 characters/],
    ['import-cib, tags 100,000 deep', ['import-cib', deepCib], /deep.xml:1:\d+: XML elements nested more than 64 levels deep/],
    ['check, binary data', ['check', '-c', binary], /binary:1:\d+: this is not a carpool configuration: the file holds binary data/],
    ['check, keepalived.conf including binary data', ['check', '-c', includesBinary], /include.conf:1:1: include .*binary: cannot read .*: the file holds binary data, not text/],
    ['check, a CIB', ['check', '-c', deepCib], /this is a Pacemaker\/Heartbeat CIB .*carpool import-cib/],
    ['check, a directory', ['check', '-c', dir], /is a directory, not a file to read/],
    ['import-heartbeat, a 10 MB ha.cf line', ['import-heartbeat', '-n', 'n1', hb], /ha.cf:1: a line of 10485765 characters \(at most 4096\)/],
  ];
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const r = await carpool(args);
      expect(r.stderr).not.toMatch(/FATAL ERROR|heap out of memory|Maximum call stack/);
      // `carpool check` of a keepalived.conf exits as `keepalived -t` does: 3, cannot be run.
      expect(r.code).toBe(args[0] === 'check' && args.at(-1)!.endsWith('.conf') ? 3 : 1);
      expect(r.stderr).toMatch(message);
      // No line of the output echoes the token whole.
      expect(Math.max(...`${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.length))).toBeLessThan(2000);
    }, 120_000);
  }
});
