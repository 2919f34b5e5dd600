/**
 * What each entry point loads at start (static imports, followed through src/): the ucarp-style
 * daemon and an idle CARP daemon stay small because the heavy parts are loaded with
 * `await import()` only when used. A new static import that pulls them in fails here.
 */
import { describe, expect, it } from 'vitest';
import { importsOf, reachable, STATIC } from '../helpers/imports.js';

describe('start-up imports', () => {
  it('the scanner sees static imports and skips type-only and dynamic ones', () => {
    const text = "import { a,\n  b } from './x.js';\nimport type { T } from './t.js';\nexport { c } from './c.js';\nimport './side.js';\n" +
      "const m = await import('./lazy.js');\n";
    expect([...text.matchAll(STATIC)].map((m) => m[1])).toEqual(['./x.js', './c.js', './side.js']);
    // The layer test (layers.test.ts) counts the other two kinds as well.
    expect(importsOf('src/cli/x.ts', text).map((e) => [e.kind, e.to])).toEqual([
      ['static', 'src/cli/x.ts'], ['static', 'src/cli/c.ts'], ['static', 'src/cli/side.ts'],
      ['type', 'src/cli/t.ts'], ['dynamic', 'src/cli/lazy.ts'],
    ]);
  });

  it('bin/carpool: main.ts loads nothing until it knows the command', () => {
    expect([...reachable('cli/main.ts')]).toEqual(['cli/main.ts']);
  });

  it('carpool ucarp: no YAML parser, no commander, no XML, no keepalived front end, no resources, no VRRP, no lab', () => {
    const mods = [...reachable('cli/ucarp-cmd.ts')];
    expect(mods).toContain('daemon/daemon.ts');
    expect(mods.filter((m) => /^(yaml|commander|fast-xml-parser)$|^resources\/|^lab\/|keepalived|vrrp-shell|^config\/yaml/.test(m))).toEqual([]);
  });

  it('carpool run, the daemon\'s process: no YAML parser, no commander, no front ends (a child reads the file)', () => {
    const mods = [...reachable('cli/run-cmd.ts')];
    expect(mods).toContain('daemon/daemon.ts');
    expect(mods.filter((m) => /^(yaml|commander|fast-xml-parser)$|^resources\/shell\/manager|^lab\/|keepalived|vrrp-shell|^config\/(yaml|load)/.test(m))).toEqual([]);
  });

  it('carpool run, the child that reads the file: the resource manager, the VRRP shell and the XML parser load only when configured', () => {
    const mods = [...reachable('cli/commands.ts')];
    expect(mods).toEqual(expect.arrayContaining(['daemon/daemon.ts', 'config/yaml/parse.ts', 'yaml', 'commander']));
    expect(mods.filter((m) => /^fast-xml-parser$|^resources\/shell\/manager|vrrp-shell|^lab\//.test(m))).toEqual([]);
  });

  it('carpool run and ucarp: the etcd client (gRPC) loads only with etcd instances', () => {
    for (const entry of ['cli/commands.ts', 'cli/ucarp-cmd.ts']) {
      expect([...reachable(entry)].filter((m) => /^etcd3$|^@grpc|^coordination\/shell\//.test(m)), entry).toEqual([]);
    }
  });
});
