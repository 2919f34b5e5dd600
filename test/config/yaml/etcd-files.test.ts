/**
 * The files an etcd connection names (issue 16, bad input), judged at `carpool check` with their
 * line: TLS certificates made by Debian's openssl in a temp dir — expired, not PEM, a key that is
 * not the certificate's — and a password file that is missing or empty.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { Pki, hasOpenssl } from '../../helpers/pki.js';

const FILE = '/etc/carpool/carpool.yaml';

function diagnostics(text: string, now?: number): { code: string | undefined; line: number; message: string; expected: string | undefined }[] {
  try {
    parseCarpoolYaml(text, { file: FILE, readFile: (p) => readFileSync(p, 'utf8'), ...(now !== undefined ? { now: () => now } : {}) });
  } catch (e) {
    if (e instanceof ConfigError) return e.diagnostics.map((d) => ({ code: d.code, line: d.line, message: d.message, expected: d.expected }));
    throw e;
  }
  return [];
}

/** An etcd instance whose `etcd:` mapping ends with `lines` (line 8 on). */
const config = (...lines: string[]) => [
  'instances:', '  - name: web', '    protocol: etcd', '    interface: eth0', '    addresses: [10.0.0.100/24]', '    etcd:',
  '      endpoints: [https://10.0.0.1:2379]', ...lines.map((l) => `      ${l}`), '',
].join('\n');

describe.skipIf(!hasOpenssl)('etcd TLS and password files at carpool check', () => {
  let dir: string;
  let pki: Pki;
  let good: { cert: string; key: string };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'carpool-etcd-pki-'));
    pki = new Pki(dir);
    good = pki.issue('client', 'node1', 'DNS:node1');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a CA, a client certificate valid now and its key', () => {
    expect(diagnostics(config('tls:', `  ca: ${pki.ca.cert}`, `  cert: ${good.cert}`, `  key: ${good.key}`))).toEqual([]);
  });

  it('refuses an expired client certificate, with its line and the date', () => {
    const old = pki.issue('old', 'node1', 'DNS:node1', { expired: true });
    const d = diagnostics(config('tls:', `  ca: ${pki.ca.cert}`, `  cert: ${old.cert}`, `  key: ${old.key}`));
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ code: 'INVALID_VALUE', line: 10 });
    expect(d[0]!.message).toBe(`cert in tls of etcd of instance 'web': ${old.cert}: the certificate CN=node1 expired on 2020-01-02T00:00:00.000Z`);
    expect(d[0]!.expected).toContain('renew it');
  });

  it('judges validity with the clock: the same certificate before its start and after its end', () => {
    const text = config('tls:', `  ca: ${pki.ca.cert}`, `  cert: ${good.cert}`, `  key: ${good.key}`);
    expect(diagnostics(text, Date.parse('2001-01-01')).map((x) => x.message)).toEqual([
      expect.stringMatching(/^ca in .*: the certificate CN=carpool test ca is not valid before /),
      expect.stringMatching(/^cert in .*: the certificate CN=node1 is not valid before /),
    ]);
    expect(diagnostics(text, Date.parse('2100-01-01')).map((x) => [x.line, /expired on/.test(x.message)])).toEqual([[9, true], [10, true]]);
  });

  it("refuses a key that is not the certificate's", () => {
    const other = pki.issue('other', 'node2', 'DNS:node2');
    const d = diagnostics(config('tls:', `  ca: ${pki.ca.cert}`, `  cert: ${good.cert}`, `  key: ${other.key}`));
    expect(d.map((x) => [x.code, x.line])).toEqual([['INVALID_VALUE', 11]]);
    expect(d[0]!.message).toBe(`key in tls of etcd of instance 'web': ${other.key}: this key does not belong to the certificate CN=node1 of cert`);
  });

  it('refuses files that are not PEM of the right kind: a key as CA, a certificate as key, text', () => {
    const junk = join(dir, 'junk.txt');
    writeFileSync(junk, 'not a certificate\n');
    const d = diagnostics(config('tls:', `  ca: ${good.key}`, `  cert: ${junk}`, `  key: ${good.cert}`));
    expect(d.map((x) => [x.line, x.message.replace(/^.*?: \/\S+: /, '')])).toEqual([
      [9, 'no PEM certificate in it'],
      [10, 'no PEM certificate in it'],
      [11, expect.stringMatching(/^not a readable unencrypted PEM private key/)],
    ]);
  });

  it('refuses an unreadable file and an empty or missing password file, each with its line', () => {
    const empty = join(dir, 'empty.pass');
    writeFileSync(empty, '\nsecond line is not the password\n');
    const d = diagnostics(config('tls:', `  ca: ${join(dir, 'nope.pem')}`, 'user: carpool', `password_file: ${empty}`));
    expect(d.map((x) => [x.code, x.line])).toEqual([['PASSWORD_FILE_UNREADABLE', 9], ['INVALID_VALUE', 11]]);
    expect(d[0]!.message).toContain(`cannot read ${join(dir, 'nope.pem')}: ENOENT`);
    expect(d[1]!.message).toBe(`password_file in etcd of instance 'web': ${empty}: its first line (the etcd password) is empty`);
    const missing = diagnostics(config('user: carpool', `password_file: ${join(dir, 'none.pass')}`));
    expect(missing.map((x) => [x.code, x.line])).toEqual([['PASSWORD_FILE_UNREADABLE', 9]]);
  });

  it('checks the cluster block the same way', () => {
    const old = pki.issue('old2', 'node1', 'DNS:node1', { expired: true });
    const d = diagnostics(['cluster:', '  etcd:', '    endpoints: [https://10.0.0.1:2379]', '    tls:', `      cert: ${old.cert}`, `      key: ${old.key}`, ''].join('\n'));
    expect(d.map((x) => [x.line, /expired on 2020-01-02/.test(x.message)])).toContainEqual([5, true]); // besides 'no instances'
  });
});
