/**
 * The layering of src/, as a test (docs/ARCHITECTURE.md, "Where things live"):
 * - no import cycles anywhere in src/;
 * - the pure core folders do not reach the shell (daemon/, net/, cli/, lab/) or a Node I/O module;
 * - config/ (front ends producing the model) does not reach resources/shell/ (the agent runner);
 * - src/ does not import bench/ or test/.
 * Every import counts: static, dynamic (`await import()`: a lazy edge is still a dependency) and
 * type-only. A type-only cycle is harmless at run time (the compiler erases it), but it still
 * ties two rooms together: neither can be read, moved or tested without the other. So it counts.
 * eslint.config.js enforces the same purity per file as you type (`coreFolders`); this test
 * checks the whole graph and that the two lists agree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCycles, importsOf, ROOT, sourceFiles, resolves, type ImportEdge } from '../helpers/imports.js';

/**
 * Pure core: codecs, state machines, status documents and their rendering. They take `now` and
 * inputs and return data; the shell does the I/O. src/control/client.ts is the control socket's
 * client (node:net), so it is shell; the rest of src/control/ (status document, messages) is pure.
 */
const PURE: readonly string[] = [
  'src/protocol/',
  'src/election/',
  'src/resources/core/',
  'src/control/',
  'src/status/',
];
/** Pure folders the open issues add (load balancer, load sharing, coordination); checked once they exist. */
const PURE_TO_COME: readonly string[] = ['src/balancer/core/', 'src/sharing/core/', 'src/coordination/core/'];
const NOT_PURE: readonly string[] = ['src/control/client.ts'];

const SHELL = /^src\/(daemon|net|cli|lab)\//;
/** Node modules that do I/O, keep time or touch the process. */
const NODE_IO = /^(node:)?(fs|fs\/promises|child_process|net|dgram|os|timers|timers\/promises|process|worker_threads)$/;

const files = sourceFiles('src');
const edges: ImportEdge[] = files.flatMap((f) => importsOf(f));
const show = (e: ImportEdge): string => `${e.from} -> ${e.spec.startsWith('.') ? e.to : e.spec}`;
const isPure = (f: string): boolean => [...PURE, ...PURE_TO_COME].some((d) => f.startsWith(d)) && !NOT_PURE.includes(f);

/** Fails listing what is new (not allowed) and what is allowed but gone (delete the allowance). */
function expectNone(found: readonly string[], what: string): void {
  if (found.length) expect.fail([`${what}:`, ...found.map((x) => `  ${x}`)].join('\n'));
}

describe('layers of src/', () => {
  it('the scanner reads every import: single-quoted specifiers, relative ones resolve', () => {
    const odd = files.filter((f) => /^(?:import|export)\s+(?:type\s+)?(?:\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s*[^'\s]|\bimport\(\s*[^'\s]/m.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(odd, 'imports the scanner cannot read (write them with a single-quoted literal)').toEqual([]);
    expect(edges.filter((e) => !resolves(e)).map(show)).toEqual([]);
    // It sees all three kinds somewhere in src/.
    expect(new Set(edges.map((e) => e.kind))).toEqual(new Set(['static', 'type', 'dynamic']));
  });

  it('no import cycles (static, dynamic or type-only)', () => {
    expectNone(findCycles(files), 'import cycles in src/ (move the shared piece to its own module)');
  });

  it('the pure core folders exist and do not import the shell or Node I/O', () => {
    for (const d of PURE) expect(files.some((f) => f.startsWith(d)), `${d} has no .ts files: update PURE here and coreFolders in eslint.config.js`).toBe(true);
    const bad = edges.filter((e) => isPure(e.from) && (SHELL.test(e.to) || NODE_IO.test(e.spec))).map(show);
    expectNone(bad, 'pure core importing daemon/, net/, cli/, lab/ or a Node I/O module (hand the value in from the shell)');
  });

  it('config/ does not import resources/shell/', () => {
    const bad = edges.filter((e) => e.from.startsWith('src/config/') && e.to.startsWith('src/resources/shell/')).map(show);
    expectNone(bad, 'config/ importing resources/shell/ (run the agents from the CLI or the daemon)');
  });

  it('src/ does not import bench/ or test/', () => {
    expectNone(edges.filter((e) => /^(bench|test)\//.test(e.to)).map(show), 'src/ importing bench/ or test/');
  });

  it('eslint.config.js names the same pure folders (coreFolders)', () => {
    const text = readFileSync(join(ROOT, 'eslint.config.js'), 'utf8');
    const list = /const coreFolders = \[([^\]]*)\]/.exec(text)?.[1] ?? '';
    const globs = [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]!.replace(/\*\*\/\*\.ts$/, ''));
    expect(globs.sort()).toEqual([...PURE, ...PURE_TO_COME].sort());
    for (const f of NOT_PURE) expect(text, `eslint.config.js exempts ${f} from the purity rules`).toContain(`'${f}'`);
  });
});
