import type { CarpInstance } from '../../src/config/model.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import type { ConfigDiagnostic } from '../../src/config/diagnostics.js';
import { CarpoolError } from '../../src/lib/errors.js';
import { configErrors } from '../helpers/config.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  return path;
}

function diagnostics(path: string): ConfigDiagnostic[] {
  return configErrors(() => loadConfigFile(path, { onWarning: () => undefined }));
}

describe('loadConfigFile', () => {
  it('loads carpool YAML, reading password files relative to it', () => {
    file('web.pass', 'secret\n');
    const path = file('ok.yaml', 'instances:\n  - { interface: eth0, vhid: 1, password_file: web.pass, addresses: [10.0.0.1] }\n');
    const warnings: ConfigDiagnostic[] = [];
    const config = loadConfigFile(path, { onWarning: (w) => warnings.push(w) });
    expect(config.source).toBe(path);
    expect((config.instances[0]! as CarpInstance).password).toBe('secret');
    expect(warnings).toEqual([]);
  });

  it('reports permission problems through onWarning', () => {
    file('open.pass', 'secret\n', 0o644);
    const path = file('perm.yaml', 'instances:\n  - { interface: eth0, vhid: 1, password_file: open.pass, addresses: [10.0.0.1] }\n');
    const warnings: ConfigDiagnostic[] = [];
    loadConfigFile(path, { onWarning: (w) => warnings.push(w) });
    expect(warnings.map((w) => w.code)).toEqual(['PASSWORD_FILE_PERMISSIONS']);
  });

  it('warns about a keepalived.conf with auth_pass readable by group or others, as for YAML (issue 11)', () => {
    const conf = 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n' +
      '  authentication {\n    auth_type PASS\n    auth_pass s3cret\n  }\n  virtual_ipaddress {\n    10.0.0.50\n  }\n}\n';
    const warned = (path: string) => {
      const warnings: ConfigDiagnostic[] = [];
      loadConfigFile(path, { onWarning: (w) => warnings.push(w) });
      return warnings.filter((w) => w.code === 'CONFIG_PERMISSIONS').map((w) => `${w.line}:${w.column} ${w.message}`);
    };
    const open = file('ka-open.conf', conf, 0o644);
    expect(warned(open)).toEqual([`1:1 ${open} contains passwords and is readable by group or others (mode 0644)`]);
    expect(warned(file('ka-private.conf', conf, 0o600))).toEqual([]);
    expect(warned(file('ka-nopass.conf', conf.replace(/ {2}authentication \{[^}]*\}\n/, ''), 0o644))).toEqual([]);
  });

  it('an unreadable password file is reported at the key', () => {
    const path = file('nopw.yaml', 'instances:\n  - interface: eth0\n    vhid: 1\n    password_file: /nonexistent/pw\n    addresses: [10.0.0.1]\n');
    expect(diagnostics(path).map((d) => `${d.file}:${d.line}:${d.column} ${d.code}`)).toEqual([`${path}:4:5 PASSWORD_FILE_UNREADABLE`]);
  });

  it('a missing file is CONFIG_UNREADABLE', () => {
    expect(() => loadConfigFile(join(dir, 'nope.yaml'))).toThrow(expect.objectContaining({ code: 'CONFIG_UNREADABLE' }) as CarpoolError);
  });

  it.each<[string, string, number, string]>([
    ['a YAML list', '- a\n- b\n', 1, 'the YAML holds a list'],
    ['plain text', 'hello world\n', 1, 'the YAML holds a single value'],
    ['an INI file', '[global]\nkey = value\n', 2, 'it is not YAML'],
  ])('%s gets a clear error', (name, text, line, message) => {
    const path = file(`${name.replace(/\W/g, '_')}.conf`, text);
    const ds = diagnostics(path);
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ file: path, line });
    expect(ds[0]!.message).toContain(message);
    expect(ds[0]!.expected).toContain("carpool YAML: a mapping with an 'instances' list");
  });

  it('a Pacemaker CIB gets `carpool import-cib FILE`, not a YAML error', () => {
    const path = file('cib.xml', readFileSync(new URL('../../testdata/cib/plain-group.xml', import.meta.url), 'utf8'));
    const ds = diagnostics(path);
    expect(ds).toHaveLength(1);
    expect(ds[0]!.message).toContain(`carpool import-cib ${path}`);
    expect(ds[0]!.message).not.toContain('single value');
  });

  it.each<[string, string | Buffer, string]>([
    ['other XML', '<?xml version="1.0"?>\n<project/>\n', 'it is XML'],
    ['binary garbage', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)), 'binary data'],
    ['text with NUL bytes', 'instances:\0\n', 'binary data'],
  ])('%s: says what it is', (name, content, message) => {
    const path = join(dir, name.replace(/\W/g, '_'));
    writeFileSync(path, content);
    const ds = diagnostics(path);
    expect(ds).toHaveLength(1);
    expect(ds[0]!.message).toContain(message);
    expect(ds[0]!.message).not.toContain('single value');
  });

  it('a broken or incomplete YAML mapping goes to the validator', () => {
    expect(diagnostics(file('typo.yaml', 'instnces:\n  - vhid: 1\n')).map((d) => d.code)).toEqual(['UNKNOWN_KEY', 'MISSING_KEY']);
    expect(diagnostics(file('broken.yaml', 'instances: [\n')).map((d) => d.code)).toEqual(['YAML_SYNTAX']);
    expect(diagnostics(file('empty.yaml', '')).map((d) => d.code)).toEqual(['EMPTY_CONFIG']);
  });
});
