/**
 * Issue 14's hostile inputs, against every front end's pure part: nesting 100 / 10,000 / 100,000
 * levels deep (YAML flow and block, braces, XML tags), a 10 MB token, binary data, NUL bytes, text
 * that is not UTF-8, an empty file, CRLF, unterminated quotes and braces, include loops, a file
 * given to the wrong command. Each gives its error (file:line:col where there is a line), never a
 * stack overflow or an out-of-memory abort. The built CLI on the worst of them, under a small heap:
 * test/integration/hostile-input.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ConfigDiagnostic } from '../../src/config/diagnostics.js';
import {
  MAX_NESTING, checkEncoding, classify, clip, rightCommand, xmlLimits, yamlNesting,
} from '../../src/config/input-guard.js';
import { parseKeepalivedConf } from '../../src/config/keepalived/parse.js';
import { parseCarpoolYaml } from '../../src/config/yaml/parse.js';
import { importCib } from '../../src/resources/cib.js';
import { importHeartbeat } from '../../src/resources/heartbeat.js';
import { formatDiagnostic } from '../../src/lib/errors.js';
import { configErrors } from '../helpers/config.js';

const F = '/etc/carpool/carpool.yaml';
const TOKEN = 'x'.repeat(10 * 1024 * 1024);
const LEVELS = [100, 10_000, 100_000];

const flowSeq = (n: number) => `a: ${'['.repeat(n)}${']'.repeat(n)}\n`;
const flowMap = (n: number) => `a: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\n`;
const blockMap = (n: number) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + `\n${' '.repeat(n)}v: 1\n`;
const blockSeq = (n: number) => 'a:\n' + Array.from({ length: n }, (_, i) => `${' '.repeat(i + 1)}-`).join('\n') + '\n';
const dashes = (n: number) => `a:\n  ${'- '.repeat(n)}x\n`;
const xmlDeep = (n: number) => `<cib><configuration><resources>${'<group>'.repeat(n)}${'</group>'.repeat(n)}</resources></configuration></cib>\n`;

const VALID_YAML = [
  'instances:',
  '  - name: vip',
  '    interface: eth0',
  '    vhid: 7',
  '    password: "[not { a flow"',
  "    addresses: ['10.0.0.1/24'] # [[[[",
  '    up: |',
  ...Array.from({ length: 100 }, (_, i) => `      ${' '.repeat(i)}echo ${i} [ {`),
  '',
].join('\n');

describe('yamlNesting (before the YAML library, which recurses per level)', () => {
  const deep: [string, (n: number) => string, number][] = [
    ['flow sequences', flowSeq, 1], ['flow mappings', flowMap, 1], ['block mappings', blockMap, MAX_NESTING + 1],
    ['block sequences', blockSeq, MAX_NESTING + 1], ['- - - on one line', dashes, 2],
  ];
  for (const [what, make, line] of deep) {
    for (const n of what.startsWith('block') ? LEVELS.slice(0, 2) : LEVELS) {
      it(`${what}, ${n} levels: NESTING at line ${line}`, () => {
        const d = yamlNesting(make(n), F);
        expect(d).toMatchObject({ code: 'NESTING', severity: 'error', file: F, line });
        expect(d!.message).toContain(`more than ${MAX_NESTING} levels`);
      });
    }
  }
  it('a real configuration: brackets in quotes, comments and block scalars are no levels', () => {
    expect(yamlNesting(VALID_YAML, F)).toBeUndefined();
    expect(yamlNesting(flowSeq(MAX_NESTING - 1), F)).toBeUndefined();
  });
  it('parseCarpoolYaml says it, with file:line:col, instead of "Maximum call stack size exceeded"', () => {
    for (const text of [flowSeq(5000), flowMap(100_000), blockMap(2000), `a: ${'['.repeat(5000)}\n`]) {
      const [e] = configErrors(() => parseCarpoolYaml(text, { file: F }));
      expect(e).toMatchObject({ code: 'NESTING', file: F });
    }
  });
});

describe('xmlLimits (before fast-xml-parser)', () => {
  for (const n of LEVELS) {
    it(`${n} nested tags: NESTING with line and column`, () => {
      expect(xmlLimits(xmlDeep(n), 'cib.xml')).toMatchObject({ code: 'NESTING', line: 1, column: 32 + 7 * (MAX_NESTING - 3) });
    });
  }
  it('a 10 MB attribute value or tag name: refused before the validator runs out of memory', () => {
    expect(xmlLimits(`<cib>\n<primitive id="${TOKEN}"/></cib>`, 'c')).toMatchObject({ line: 2, column: 1 });
    expect(xmlLimits(`<cib><${TOKEN}/></cib>`, 'c')?.message).toContain('XML tag longer than');
  });
  it('comments, CDATA, self-closing tags and declarations open no level', () => {
    const text = `<?xml version="1.0"?>\n<!-- ${'<a>'.repeat(100)} --><cib>${'<nvpair id="x" value="a>b"/>'.repeat(100)}<![CDATA[${'<b>'.repeat(100)}]]></cib>`;
    expect(xmlLimits(text, 'c')).toBeUndefined();
  });
});

describe('checkEncoding and classify', () => {
  const cases: [string, string, boolean, string | undefined, string | undefined][] = [
    // name, text, bytes are UTF-8, code, position
    ['plain text', 'instances: []\n', true, undefined, undefined],
    ['a NUL byte', 'instances:\n  \0\n', true, 'NOT_TEXT', '2:3'],
    ['binary (many U+FFFD)', '\uFFFD'.repeat(100), false, 'NOT_TEXT', '1:1'],
    ['one Latin-1 byte', 'a: 1\nname: caf\uFFFD\n', false, 'NOT_UTF8', '2:10'],
  ];
  for (const [name, text, utf8, code, at] of cases) {
    it(`${name}: ${code ?? 'accepted'}`, () => {
      const d = checkEncoding(text, utf8, 'f');
      expect(d?.code).toBe(code);
      if (at) expect(`${d!.line}:${d!.column}`).toBe(at);
    });
  }
  it('keepalived.conf not in UTF-8 is a warning (keepalived reads bytes); binary data is an error everywhere', () => {
    expect(checkEncoding('a\uFFFD', false, 'f', 'warning')?.severity).toBe('warning');
    expect(checkEncoding('a\0', true, 'f', 'warning')?.severity).toBe('error');
  });
  const kinds: [string, string, string | undefined][] = [
    ['', 'empty', undefined],
    ['\0\0\0', 'binary', undefined],
    ['<?xml version="1.0"?>\n<cib epoch="1">', 'cib', 'carpool import-cib f'],
    ['<html>', 'xml', undefined],
    ['global_defs {\n}\nvrrp_instance VI {\n', 'keepalived', 'carpool check -c f (or carpool convert f)'],
    ['instances:\n  - name: x\n', 'yaml', 'carpool check -c f'],
    ['keepalive 2\ndeadtime 30\nnode a b\n', 'heartbeat', 'carpool import-heartbeat DIR (the directory of f)'],
  ];
  for (const [text, kind, command] of kinds) {
    it(`${JSON.stringify(text.slice(0, 20))} is ${kind}`, () => {
      expect(classify(text)).toBe(kind);
      expect(rightCommand(classify(text), 'f')).toBe(command);
    });
  }
  it('clip: a 10 MB token becomes 120 characters and its size', () => {
    expect(clip(TOKEN)).toBe(`${'x'.repeat(120)}… (${TOKEN.length} characters)`);
    expect(clip('short')).toBe('short');
  });
  it('formatDiagnostic never prints a 10 MB line', () => {
    const line = formatDiagnostic({ file: 'f', line: 1, column: 1, message: `unknown key '${TOKEN}'`, expected: TOKEN });
    expect(line.length).toBeLessThan(1200);
  });
});

describe('keepalived.conf front end', () => {
  const host = (files: Record<string, string>) => ({
    readFile: (p: string) => { if (!(p in files)) throw new Error(`ENOENT: ${p}`); return files[p]!; },
    glob: (p: string) => (p in files ? [p] : []),
  });
  const ka = (text: string, files: Record<string, string> = {}) => {
    const warnings: ConfigDiagnostic[] = [];
    let errors: ConfigDiagnostic[] = [];
    try {
      warnings.push(...parseKeepalivedConf(text, { file: '/k.conf', configId: 'a', host: host(files) }).warnings);
    } catch (err) {
      errors = configErrors(() => { throw err; });
    }
    return { errors, warnings };
  };
  const VI = 'vrrp_instance VI {\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress {\n    10.0.0.1/24\n  }\n}\n';
  for (const n of LEVELS) {
    it(`${n} nested braces: NESTING, and the rest is read`, () => {
      expect(ka(`vrrp_instance VI {\n${'{'.repeat(n)}${'}'.repeat(n)}\n}\n`).errors.map((e) => e.code)).toContain('NESTING');
      expect(ka(`global_defs ${'{\n'.repeat(n)}`).errors.map((e) => e.code)).toContain('UNBALANCED_BRACE');
    });
  }
  it('a 10 MB keyword: one line, cut, no did-you-mean over it', () => {
    const r = ka(`global_defs {\n ${TOKEN}\n}\n${VI}`);
    expect(r.errors).toEqual([]);
    const w = r.warnings.find((d) => d.code === 'UNKNOWN_KEYWORD')!;
    expect(w.line).toBe(2);
    expect(formatDiagnostic(w).length).toBeLessThan(1200);
  });
  it('CRLF line endings read as LF', () => {
    expect(ka(VI.replaceAll('\n', '\r\n')).errors).toEqual([]);
  });
  it('an unterminated quote and an unclosed brace at EOF: file:line of each', () => {
    const e = ka('vrrp_instance VI {\n  notify "abc\n').errors;
    expect(e.map((d) => `${d.code}@${d.line}`)).toEqual(expect.arrayContaining(['SYNTAX@2', 'UNBALANCED_BRACE@1']));
  });
  it('include loops: INCLUDE_LOOP, not a hang', () => {
    expect(ka('include /a.conf\n', { '/a.conf': 'include /b.conf\n', '/b.conf': 'include /a.conf\n' }).errors.map((d) => d.code)).toContain('INCLUDE_LOOP');
  });
});

describe('import-cib and import-heartbeat', () => {
  const cib = (xml: string) => importCib(xml, { instance: 'vip', source: 'cib.xml' });
  const worst: [string, string, RegExp][] = [
    ['empty', '', /cib.xml: the file is empty/],
    ['binary', '\0\x01\x02'.repeat(100), /binary data/],
    ['keepalived.conf', 'vrrp_instance VI {\n}\n', /this is keepalived.conf, not a CIB: carpool check -c cib.xml/],
    ['carpool YAML', 'instances:\n  - name: x\n', /carpool check -c cib.xml reads it/],
    ['100 nested tags', xmlDeep(100), /cib.xml:1:\d+: XML elements nested more than 64 levels deep/],
    ['100,000 nested tags', xmlDeep(100_000), /nested more than 64/],
    ['a 10 MB attribute', `<cib><configuration><resources><primitive id="${TOKEN}"/></resources></configuration></cib>`, /cib.xml:1:32: an XML tag longer than/],
    ['an unterminated attribute', '<cib><configuration><resources><primitive id="a\n', /not well-formed XML: .*line 1/],
  ];
  for (const [name, xml, message] of worst) {
    it(`import-cib, ${name}: one error`, () => {
      const r = cib(xml);
      expect(r.resources).toBe(0);
      expect(r.messages).toHaveLength(1);
      expect(r.messages[0]!.text).toMatch(message);
    });
  }
  const hb = (haCf: string) => importHeartbeat({ dir: '/etc/ha.d', haCf }, { node: 'n1', ownAddresses: [] });
  const files: [string, string, RegExp][] = [
    ['a 10 MB node name', `node ${TOKEN}\n`, /^\/etc\/ha.d\/ha.cf:1: a line of 10485765 characters \(at most 4096\)/],
    ['binary', '\0'.repeat(10), /binary data/],
    ['a CIB', xmlDeep(3), /a CIB.*carpool import-cib/],
    ['keepalived.conf', 'vrrp_instance VI {\n}\n', /keepalived.conf.*carpool check -c/],
  ];
  for (const [name, text, message] of files) {
    it(`import-heartbeat, ${name}: one error, no YAML`, () => {
      const r = hb(text);
      expect(r.yaml).toBe('');
      expect(r.messages.map((m) => m.level)).toEqual(['error']);
      expect(r.messages[0]!.text).toMatch(message);
      expect(r.messages[0]!.text.length).toBeLessThan(400);
    });
  }
  it('import-heartbeat: CRLF ha.cf reads as LF', () => {
    const lf = 'keepalive 2\ndeadtime 30\nucast eth0 10.0.0.2\nnode n1 n2\n';
    const files = (haCf: string) => ({ dir: '/etc/ha.d', haCf, haresources: haCf.includes('\r') ? 'n1 10.0.0.100\r\n' : 'n1 10.0.0.100\n' });
    const [a, b] = [lf, lf.replaceAll('\n', '\r\n')].map((t) => importHeartbeat(files(t), { node: 'n1', ownAddresses: [] }));
    expect(a!.yaml).toContain('advert_int');
    expect(b).toEqual(a);
  });
});
