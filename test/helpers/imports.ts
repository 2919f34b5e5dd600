/**
 * A small import scanner over src/ for the tests that guard what loads what
 * (test/cli/imports.test.ts) and the layering (test/layers.test.ts). It reads the source text,
 * not the compiler's graph: every module in src/ writes its imports at the top level as
 * `import ... from '...'` / `export ... from '...'` with single quotes (the lint style), and lazy
 * parts as `await import('...')` with a literal.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SRC = join(ROOT, 'src/');

/**
 * `import x from 'y'`, `import { a,\n b } from 'y'`, `export { a } from 'y'`, `export * from 'y'`,
 * `import 'y'`; not `import type` / `export type` (erased at compile time).
 */
export const STATIC = /^(?:import|export)(?!\s+type\b)(?:[^;'"]*?\sfrom)?\s*'([^']+)';/gm;
/** `import type { T } from 'y'`, `export type { T } from 'y'`. */
export const TYPE_ONLY = /^(?:import|export)\s+type\b[^;'"]*?\sfrom\s*'([^']+)';/gm;
/** `await import('y')` with a literal specifier. */
export const DYNAMIC = /\bimport\(\s*'([^']+)'\s*\)/g;

export type ImportKind = 'static' | 'type' | 'dynamic';

export interface ImportEdge {
  /** The importing file, relative to the repository root (`src/cli/main.ts`). */
  readonly from: string;
  /** As written (`../lab/lab.js`, `node:fs`, `yaml`). */
  readonly spec: string;
  /** A file relative to the repository root for relative specifiers (`.js` -> `.ts`), else the spec. */
  readonly to: string;
  readonly kind: ImportKind;
}

/** The imports written in one file (path relative to the repository root). */
export function importsOf(file: string, text = readFileSync(join(ROOT, file), 'utf8')): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const add = (re: RegExp, kind: ImportKind): void => {
    for (const m of text.matchAll(re)) {
      const spec = m[1]!;
      const to = spec.startsWith('.') ? relative(ROOT, resolve(dirname(join(ROOT, file)), spec)).replace(/\.js$/, '.ts') : spec;
      edges.push({ from: file, spec, to, kind });
    }
  };
  add(STATIC, 'static');
  add(TYPE_ONLY, 'type');
  add(DYNAMIC, 'dynamic');
  return edges;
}

/** Every .ts file under `dir` (relative to the repository root), sorted. */
export function sourceFiles(dir = 'src'): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(join(ROOT, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** True when a relative import names a file that exists. */
export function resolves(edge: ImportEdge): boolean {
  return !edge.spec.startsWith('.') || existsSync(join(ROOT, edge.to));
}

/**
 * Every module reachable from `entry` (relative to src/) by static imports: src files relative
 * to src/, packages by name; node: built-ins are left out. Throws on an import of a missing file.
 */
export function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    const rel = file.slice('src/'.length);
    if (seen.has(rel)) return;
    seen.add(rel);
    for (const e of importsOf(file)) {
      if (e.kind !== 'static' || e.spec.startsWith('node:')) continue;
      if (!e.spec.startsWith('.')) { seen.add(e.spec.split('/')[0]!); continue; }
      if (!resolves(e)) throw new Error(`${rel} imports ${e.spec}, which does not exist`);
      visit(e.to);
    }
  };
  visit(`src/${entry}`);
  return seen;
}

/**
 * The elementary import cycles among `files` (edges of the given kinds between them), each
 * written as a closed path `a.ts -> b.ts -> a.ts` starting at its smallest file name, sorted, so
 * a message names the files to look at and a list of known cycles can be compared as text.
 * Enumerates every simple cycle (at most `limit`): fine for a source tree with few knots.
 */
export function findCycles(files: readonly string[], kinds: readonly ImportKind[] = ['static', 'type', 'dynamic'], limit = 200): string[] {
  const inSet = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const to = importsOf(f).filter((e) => kinds.includes(e.kind) && inSet.has(e.to)).map((e) => e.to);
    graph.set(f, [...new Set(to)].sort());
  }
  const cycles: string[] = [];
  // From each start, follow paths through files that sort after it; a path back to the start
  // is a cycle seen exactly once (from its smallest file).
  for (const start of [...graph.keys()].sort()) {
    const path = [start];
    const onPath = new Set(path);
    const walk = (v: string): void => {
      for (const w of graph.get(v)!) {
        if (cycles.length >= limit) return;
        if (w === start) cycles.push([...path, start].join(' -> '));
        else if (w > start && !onPath.has(w)) {
          path.push(w); onPath.add(w);
          walk(w);
          path.pop(); onPath.delete(w);
        }
      }
    };
    walk(start);
  }
  return cycles.sort();
}
