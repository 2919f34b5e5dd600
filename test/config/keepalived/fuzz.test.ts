/**
 * Fuzzing the keepalived.conf tokenizer, preprocessor and parser: random text and mutated real
 * configurations (≥ 20 000 cases in all). Whatever the input, parsing ends with a config or a
 * ConfigError — no other exception — and every diagnostic points at an existing line of a file.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConfigDiagnostic } from '../../../src/config/diagnostics.js';
import { parseKeepalivedConf } from '../../../src/config/keepalived/parse.js';
import type { KaFileHost } from '../../../src/config/keepalived/syntax.js';
import { ConfigError } from '../../../src/lib/errors.js';

const DATA = fileURLToPath(new URL('../../../testdata/keepalived/', import.meta.url));
const read = (f: string) => readFileSync(posix.join(DATA, f), 'utf8');
const SEEDS = ['seed-002/director1.conf', 'seed-002/director2.conf', 'full.conf', 'vars.conf', 'include/conf.d/10-web.conf'].map(read);
const MAIN = '/etc/keepalived/keepalived.conf';

/** Small in-memory file system, with a self-include and a cycle to exercise the include checks. */
const FILES: Record<string, string> = {
  '/etc/keepalived/a.conf': 'vrrp_script chk {\n script /bin/true\n}\n',
  '/etc/keepalived/b.conf': 'include a.conf\ninclude b.conf\n',
  '/etc/keepalived/vips': '10.0.0.1\n10.0.0.2/24 dev eth0\n',
};
const host: KaFileHost = {
  readFile: (p) => {
    const t = FILES[p];
    if (t === undefined) throw new Error(`ENOENT: ${p}`);
    return t;
  },
  glob: (pattern) => Object.keys(FILES).filter((f) => f === pattern || (pattern.endsWith('*') && f.startsWith(pattern.slice(0, -1)))).sort(),
};

const TOKENS = ['{', '}', '"', "'", '\\', '\\\n', '\n', ' ', '\t', '#', '!', '@lb1 ', '@^lb1 ', '$X=', '$X', '${X}', '${_PWD}', '${_RANDOM 1 2}',
  '$X=${X}${X}', 'include a.conf', 'include b.conf', 'include *', 'include vips', 'includea nope', '~SEQ(A,1,3) ', 'vrrp_instance VI {',
  'vrrp_script s {', 'vrrp_sync_group g {', 'group {', 'global_defs {', 'virtual_server 10.0.0.1 80 {', 'real_server 10.0.0.2 80 {',
  'virtual_ipaddress {', 'virtual_routes {', 'track_script {', 'authentication {', 'auth_type AH', 'auth_pass', 'state MASTER', 'priority',
  'interface eth0', 'virtual_router_id', 'advert_int', 'notify_master', 'script', 'weight', 'reverse', '0', '255', '256', '-1', '0.001',
  '1e9', '10.0.0.1/33', 'fe80::1', '::', 'default', 'via', 'dev', 'brd', 'nopreempt', 'use_vmac', '\u00e9', '\u0000', '\r\n'];

const text = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join(' ')),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join('')),
);

type Mutation = { op: 'delete' | 'insert' | 'dupline' | 'swap' | 'truncate'; at: number; len: number; token: string };
const mutation = fc.record({
  op: fc.constantFrom('delete', 'insert', 'dupline', 'swap', 'truncate'),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 40 }),
  token: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })),
}) as fc.Arbitrary<Mutation>;

function mutate(src: string, muts: readonly Mutation[]): string {
  let s = src;
  for (const m of muts) {
    const at = s.length === 0 ? 0 : m.at % s.length;
    switch (m.op) {
      case 'delete': s = s.slice(0, at) + s.slice(at + m.len); break;
      case 'insert': s = s.slice(0, at) + m.token + s.slice(at); break;
      case 'truncate': s = s.slice(0, at); break;
      case 'dupline': case 'swap': {
        const lines = s.split('\n');
        const i = m.at % lines.length;
        const j = (m.at + m.len) % lines.length;
        if (m.op === 'dupline') lines.splice(i, 0, lines[i]!);
        else [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        s = lines.join('\n');
      }
    }
  }
  return s;
}

function check(input: string, vrrpOnly: boolean): void {
  let diagnostics: readonly ConfigDiagnostic[];
  try {
    const r = parseKeepalivedConf(input, { file: MAIN, host, configId: 'lb1', vrrpOnly });
    diagnostics = r.warnings;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    diagnostics = e.diagnostics as ConfigDiagnostic[];
    expect(diagnostics.length).toBeGreaterThan(0);
  }
  for (const d of diagnostics) {
    const lines = (d.file === MAIN ? input : FILES[d.file] ?? '').split(/\r?\n/).length;
    if (!(d.line >= 1 && d.line <= lines && d.column >= 1 && d.file !== '' && d.message !== '' && typeof d.code === 'string')) {
      throw new Error(`badly located diagnostic ${JSON.stringify(d)} for input ${JSON.stringify(input)}`);
    }
  }
}

// 10 000 parses of whole files: ~20 s of CPU on one core, more on a loaded machine. The time
// limit only guards against a hang; it says nothing about speed (that is measured in bench/).
describe('keepalived.conf parser fuzz', { timeout: 180_000 }, () => {
  it('random text and token soup (10 000 cases)', () => {
    fc.assert(fc.property(text, fc.boolean(), (t, vrrpOnly) => check(t, vrrpOnly)), { numRuns: 10_000 });
  });

  it('mutated real configurations (10 000 cases)', () => {
    fc.assert(fc.property(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.boolean(),
      (seed, muts, vrrpOnly) => check(mutate(seed, muts), vrrpOnly)), { numRuns: 10_000 });
  });

  it('the unmutated seeds parse (sanity for the mutation test)', () => {
    for (const s of SEEDS.slice(0, 3)) expect(() => parseKeepalivedConf(s, { file: MAIN, host, vrrpOnly: true })).not.toThrow();
  });
});
