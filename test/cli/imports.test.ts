/**
 * What each entry point loads at start (static imports, followed through src/): the ucarp-style
 * daemon and an idle CARP daemon stay small because the heavy parts are loaded with
 * `await import()` only when used. A new static import that pulls them in fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
// `import x from 'y'`, `import { a,\n b } from 'y'`, `export { a } from 'y'`, `import 'y'`; not `import type`.
const STATIC = /^(?:import|export)(?!\s+type\b)(?:[^;'"]*?\sfrom)?\s*'([^']+)';/gm;

/** Every module reachable from `entry` by static imports: src files relative to src/, packages by name. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    const rel = file.slice(SRC.length);
    if (seen.has(rel)) return;
    seen.add(rel);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC)) {
      const spec = m[1]!;
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) { seen.add(spec.split('/')[0]!); continue; }
      const ts = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      expect(existsSync(ts), `${rel} imports ${spec}`).toBe(true);
      visit(ts);
    }
  };
  visit(join(SRC, entry));
  return seen;
}

describe('start-up imports', () => {
  it('the scanner sees static imports and skips type-only and dynamic ones', () => {
    const text = "import { a,\n  b } from './x.js';\nimport type { T } from './t.js';\nexport { c } from './c.js';\nimport './side.js';\n" +
      "const m = await import('./lazy.js');\n";
    expect([...text.matchAll(STATIC)].map((m) => m[1])).toEqual(['./x.js', './c.js', './side.js']);
  });

  it('bin/carpool: main.ts loads nothing until it knows the command', () => {
    expect([...reachable('cli/main.ts')]).toEqual(['cli/main.ts']);
  });

  it('carpool ucarp: no YAML parser, no commander, no XML, no keepalived front end, no resources, no VRRP, no lab', () => {
    const mods = [...reachable('cli/ucarp-cmd.ts')];
    expect(mods).toContain('daemon/daemon.ts');
    expect(mods.filter((m) => /^(yaml|commander|fast-xml-parser)$|^resources\/|^lab\/|keepalived|vrrp-engine|^config\/yaml/.test(m))).toEqual([]);
  });

  it('carpool run: the resource manager, the VRRP engine and the XML parser load only when configured', () => {
    const mods = [...reachable('cli/commands.ts')];
    expect(mods).toEqual(expect.arrayContaining(['daemon/daemon.ts', 'config/yaml/parse.ts', 'yaml', 'commander']));
    expect(mods.filter((m) => /^fast-xml-parser$|^resources\/shell\/manager|vrrp-engine|^lab\//.test(m))).toEqual([]);
  });
});
