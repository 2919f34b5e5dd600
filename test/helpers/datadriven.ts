/**
 * Scenario files that hold the inputs and the expected output together, in the format of
 * etcd raft's testdata/ (cockroachdb/datadriven):
 *
 *     # comments and blank lines between cases
 *     command arg key=value ...
 *     ----
 *     expected output, one line per effect
 *     (a case whose command produces nothing expects the single line `ok`)
 *
 * `runDataDriven` runs every case in order through `run` and compares; with UPDATE_GOLDEN=1 it
 * rewrites the expected sections instead (comments and commands stay as written).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { expect } from 'vitest';
import { updating } from './golden.js';

export interface Command {
  /** First word of the line. */
  readonly name: string;
  /** Words without `=`, in order. */
  readonly args: readonly string[];
  /** `key=value` words (a value may be double-quoted to hold spaces). */
  readonly kv: ReadonlyMap<string, string>;
  /** The line as written. */
  readonly line: string;
  /** 1-based line number in the file. */
  readonly lineNo: number;
}

export interface Case {
  /** Comment and blank lines before the command, kept when the file is rewritten. */
  readonly preamble: readonly string[];
  readonly cmd: Command;
  readonly expected: readonly string[];
}

/** One command line: `name arg key=value key="two words"`. */
export function parseCommand(line: string, lineNo = 0): Command {
  const words = [...line.matchAll(/(\S+?=)"([^"]*)"|"([^"]*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1] + m[2]! : m[3] ?? m[4]!));
  const [name, ...rest] = words;
  if (!name) throw new Error(`line ${lineNo}: empty command`);
  const args: string[] = [];
  const kv = new Map<string, string>();
  for (const w of rest) {
    const eq = w.indexOf('=');
    if (eq > 0) kv.set(w.slice(0, eq), w.slice(eq + 1));
    else args.push(w);
  }
  return { name, args, kv, line, lineNo };
}

export function parseDataDriven(text: string, file = '<text>'): { cases: Case[]; trailer: string[] } {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const cases: Case[] = [];
  let preamble: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() === '' || l.startsWith('#')) { preamble.push(l); continue; }
    if (lines[i + 1] !== '----') throw new Error(`${file}:${i + 2}: expected ---- after the command "${l}"`);
    const expected: string[] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trim() !== ''; j++) expected.push(lines[j]!);
    cases.push({ preamble, cmd: parseCommand(l, i + 1), expected });
    preamble = [];
    i = j; // the blank line that ends the case belongs to it
  }
  return { cases, trailer: preamble };
}

export function formatDataDriven(cases: readonly { preamble: readonly string[]; cmd: Command; output: readonly string[] }[], trailer: readonly string[] = []): string {
  const out: string[] = [];
  for (const c of cases) out.push(...c.preamble, c.cmd.line, '----', ...(c.output.length ? c.output : ['ok']), '');
  // Trailing comments stay; trailing blank lines do not pile up.
  while (out.at(-1) === '' && trailer.length === 0) out.pop();
  out.push(...trailer);
  while (out.at(-1) === '') out.pop();
  return out.join('\n') + '\n';
}

/**
 * Run `path` case by case: `run` gets each command and returns its output lines (it may throw
 * for a bad command: the error names the file and line). Fails at the first case whose output
 * differs, showing the command; UPDATE_GOLDEN=1 rewrites the expectations.
 */
export function runDataDriven(path: string, run: (cmd: Command) => readonly string[]): void {
  const name = relative(process.cwd(), path);
  const { cases, trailer } = parseDataDriven(readFileSync(path, 'utf8'), name);
  const results = cases.map((c) => {
    let output: readonly string[];
    try {
      output = run(c.cmd);
    } catch (err) {
      throw new Error(`${name}:${c.cmd.lineNo}: ${c.cmd.line}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return { ...c, output: output.length ? output : ['ok'] };
  });
  if (updating()) {
    writeFileSync(path, formatDataDriven(results, trailer));
    return;
  }
  for (const r of results) {
    expect(r.output.join('\n'), `${name}:${r.cmd.lineNo}: ${r.cmd.line} (UPDATE_GOLDEN=1 rewrites the file)`).toBe(r.expected.join('\n'));
  }
}
