/**
 * keepalived.conf below the keywords: the preprocessor (comments, `\` continuation, `include` with
 * globs, `@id` conditional lines, `$NAME=value` definitions and substitution) and the block structure
 * (words, quotes, `{`/`}` splitting lines). The result is a tree of statements, each located at
 * file:line:column of the file it came from, including included files. Pure: the file reader and the
 * glob are handed in, so the same code runs in tests, `carpool check` and the daemon.
 *
 * The rules follow keepalived's lib/parser.c as documented in keepalived.conf(5) (2.2.x) — see
 * docs/config.md "keepalived.conf" for the few deliberate differences (a superset: `include` is also
 * recognised after conditionals and substitution; `~SEQ`, `~LST` and `${_RANDOM}` are rejected).
 */
import { posix } from 'node:path';

import type { SourceLoc, SyntaxCode } from '../diagnostics.js';

export type { SourceLoc } from '../diagnostics.js';

export interface KaToken {
  readonly text: string;
  readonly loc: SourceLoc;
  /** Offsets in the line's (expanded) text, for the raw rest of a script keyword. */
  readonly start: number;
  readonly end: number;
}

/** One keyword line, with its block when a `{` follows (on the same or the next line). */
export interface KaStatement {
  readonly keyword: string;
  readonly loc: SourceLoc;
  readonly args: readonly KaToken[];
  /** The text after the keyword up to the end of the last argument (script keywords re-parse it). */
  readonly rest: string;
  readonly block?: readonly KaStatement[];
  /** Where the block's `{` is. */
  readonly blockLoc?: SourceLoc;
}

export interface SyntaxProblem {
  readonly severity: 'error' | 'warning';
  readonly code: SyntaxCode;
  readonly loc: SourceLoc;
  readonly message: string;
  readonly expected: string;
}

/** The file system as the preprocessor sees it; both may throw (any Error). */
export interface KaFileHost {
  /** Text of an absolute path. */
  readonly readFile: (path: string) => string;
  /** Absolute paths matching an absolute glob pattern (`*`, `?`, `[...]`, `{a,b}`), sorted; [] when none. */
  readonly glob: (pattern: string) => readonly string[];
}

export interface KaSyntaxOptions {
  /** Path of the main file: diagnostics, `${_PWD}` and relative includes. */
  readonly file: string;
  /** keepalived's config id (`-i`, default the host name's first label) for `@id` lines and `${_INSTANCE}`. */
  readonly configId: string;
  /** Without a host, `include` is an error. */
  readonly host?: KaFileHost;
}

/** A preprocessed line: what the block parser reads. */
interface Line {
  readonly text: string;
  readonly loc: SourceLoc;
}

const MAX_INCLUDE_DEPTH = 32;
const MAX_EXPANSION_DEPTH = 64;
const MAX_LINES = 1_000_000;
/** Deepest block nesting read; keepalived's own deepest is 4 (virtual_server > real_server > HTTP_GET > url). */
export const MAX_NESTING = 64;
const NAME = '[A-Za-z_][A-Za-z0-9_]*';
const DEFINITION_RE = new RegExp(`^\\$(${NAME})=(.*)$`, 's');
const SUBST_RE = new RegExp(`\\$\\{(${NAME})\\}|\\$(${NAME})(?=\\s|$)`, 'g');
const INCLUDE_RE = /^(include[rmwba]?)(?:\s+(.*))?$/s;

/**
 * Remove a comment (`#` or `!` outside double quotes, not escaped with `\`). keepalived strips
 * comments before anything else, which is why `${_HASH}` and `${_BANG}` exist.
 */
export function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\') { i++; continue; }
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '#' || c === '!')) return line.slice(0, i);
  }
  return line;
}

class Preprocessor {
  readonly lines: Line[] = [];
  private readonly defs = new Map<string, string>();
  private readonly stack: string[] = [];

  constructor(private readonly opts: KaSyntaxOptions, private readonly problems: SyntaxProblem[]) {}

  problem(severity: 'error' | 'warning', code: SyntaxCode, loc: SourceLoc, message: string, expected: string): void {
    this.problems.push({ severity, code, loc, message, expected });
  }

  /** Read one file's text: physical lines → logical lines (comments off, continuations joined). */
  file(text: string, file: string): void {
    this.stack.push(file);
    const physical = text.split(/\r?\n/);
    for (let i = 0; i < physical.length; i++) {
      const first = i;
      let raw = stripComment(physical[i]!);
      const indent = raw.length - raw.trimStart().length;
      let trimmed = raw.trim();
      const isDefinition = DEFINITION_RE.test(trimmed);
      const parts: string[] = [];
      // A trailing backslash continues the line. Definitions keep their lines apart (each becomes a
      // line of its own when substituted); other lines are joined with a blank.
      while (/(^|[^\\])\\$/.test(trimmed) && i + 1 < physical.length) {
        parts.push(trimmed.slice(0, -1).trimEnd());
        raw = stripComment(physical[++i]!);
        trimmed = raw.trim();
      }
      if (/(^|[^\\])\\$/.test(trimmed)) trimmed = trimmed.slice(0, -1).trimEnd(); // continuation at EOF
      parts.push(trimmed);
      const joined = parts.join(isDefinition ? '\n' : ' ');
      if (joined.trim() === '') continue;
      this.process(joined, { file, line: first + 1, column: indent + 1 }, 0);
      if (this.lines.length > MAX_LINES) {
        this.problem('error', 'SUBSTITUTION_LOOP', { file, line: first + 1, column: 1 }, `more than ${MAX_LINES} lines after expansion`, 'a finite configuration');
        break;
      }
    }
    this.stack.pop();
  }

  /** One logical line: conditional, definition, substitution, include — then it is a config line. */
  private process(text: string, loc: SourceLoc, depth: number): void {
    let t = text.trim();
    let column = loc.column;
    if (t === '') return;
    if (depth > MAX_EXPANSION_DEPTH) {
      this.problem('error', 'SUBSTITUTION_LOOP', loc, 'definitions expand into each other without end', 'definitions that do not refer to themselves');
      return;
    }
    if (t.startsWith('@')) {
      const m = /^@(\^?)(\S*)\s*(.*)$/s.exec(t)!;
      const negated = m[1] === '^';
      if ((m[2] === this.opts.configId) === negated) return;
      column += t.length - m[3]!.length;
      t = m[3]!;
      if (t === '') return;
    }
    const def = DEFINITION_RE.exec(t);
    if (def) {
      this.defs.set(def[1]!, def[2]!.replace(/^[ \t]+/, ''));
      return;
    }
    if (/^~(SEQx?|LST)\b/.test(t)) {
      this.problem('error', 'NOT_SUPPORTED', { ...loc, column }, `${/^~\w+/.exec(t)![0]} blocks are not supported by carpool`,
        'the lines written out, or $NAME definitions');
      return;
    }
    const expanded = this.substitute(t, { ...loc, column });
    if (expanded === undefined) return;
    if (expanded !== t) {
      for (const part of expanded.split('\n')) this.process(part, { ...loc, column }, depth + 1);
      return;
    }
    const inc = INCLUDE_RE.exec(t);
    if (inc) {
      this.include(inc[1]!, (inc[2] ?? '').trim(), { ...loc, column });
      return;
    }
    this.lines.push({ text: t, loc: { ...loc, column } });
  }

  /** `$NAME` (followed by a blank or the end) and `${NAME}`, recursively; undefined names stay. */
  private substitute(text: string, loc: SourceLoc): string | undefined {
    if (!text.includes('$')) return text;
    if (/\$\{_RANDOM\b/.test(text)) {
      this.problem('error', 'NOT_SUPPORTED', loc, '${_RANDOM} is not supported by carpool (a configuration must read the same every time)',
        'a fixed value');
      return undefined;
    }
    const dir = posix.dirname(loc.file);
    const builtin = (name: string): string | undefined => {
      if (this.defs.has(name)) return this.defs.get(name);
      switch (name) {
        case '_PWD': return dir;
        case '_INSTANCE': return this.opts.configId;
        case '_HASH': return '#';
        case '_BANG': return '!';
        default: return undefined;
      }
    };
    let out = text;
    for (let round = 0; round < MAX_EXPANSION_DEPTH; round++) {
      const next = out.replace(SUBST_RE, (whole, braced: string | undefined, bare: string | undefined) =>
        builtin((braced ?? bare)!) ?? whole);
      if (next === out) return out;
      if (next.length > 1_000_000) break;
      out = next;
    }
    this.problem('error', 'SUBSTITUTION_LOOP', loc, 'definitions expand into each other without end', 'definitions that do not refer to themselves');
    return undefined;
  }

  private include(keyword: string, pattern: string, loc: SourceLoc): void {
    if (pattern === '') {
      this.problem('error', 'INCLUDE_FAILED', loc, `${keyword} needs a file name or pattern`, `${keyword} /etc/keepalived/conf.d/*.conf`);
      return;
    }
    const host = this.opts.host;
    if (!host) {
      this.problem('error', 'INCLUDE_FAILED', loc, `cannot ${keyword} '${pattern}': no file system access here`, 'a configuration without include');
      return;
    }
    const unquoted = pattern.replace(/^"(.*)"$/s, '$1');
    const abs = unquoted.startsWith('/') ? unquoted : posix.join(posix.dirname(loc.file), unquoted);
    let files: readonly string[];
    try {
      files = host.glob(abs);
    } catch (e) {
      this.problem('error', 'INCLUDE_FAILED', loc, `${keyword} ${pattern}: ${e instanceof Error ? e.message : String(e)}`, 'a readable file or pattern');
      return;
    }
    if (files.length === 0) {
      // keepalived's plain `include` does not complain about a pattern that matches nothing (an
      // empty conf.d is fine); the checking variants do.
      this.problem(keyword === 'include' ? 'warning' : 'error', 'INCLUDE_FAILED', loc, `${keyword} ${pattern}: no file matches ${abs}`,
        'an existing file, or a pattern that matches one');
      return;
    }
    if (this.stack.length >= MAX_INCLUDE_DEPTH) {
      this.problem('error', 'INCLUDE_LOOP', loc, `includes nested more than ${MAX_INCLUDE_DEPTH} deep`, 'fewer nested includes');
      return;
    }
    for (const f of files) {
      if (this.stack.includes(f)) {
        this.problem('error', 'INCLUDE_LOOP', loc, `${f} includes itself (through ${this.stack.slice(this.stack.indexOf(f)).join(' → ')})`,
          'no include cycle');
        continue;
      }
      let text: string;
      try {
        text = host.readFile(f);
      } catch (e) {
        this.problem('error', 'INCLUDE_FAILED', loc, `${keyword} ${pattern}: cannot read ${f}: ${e instanceof Error ? e.message : String(e)}`,
          'a readable file');
        continue;
      }
      this.file(text, f);
    }
  }
}

type Tok = KaToken & { readonly kind: 'word' | 'open' | 'close' | 'eol'; readonly lineText: string };

/**
 * Words of a line: blanks separate; `"` quotes (removed; `a" b "c` is one word, as in keepalived);
 * a backslash keeps the next character; `{` and `}` outside quotes are words of their own.
 */
function tokenize(line: Line, out: Tok[], problems: SyntaxProblem[]): void {
  const s = line.text;
  const at = (i: number): SourceLoc => ({ ...line.loc, column: line.loc.column + i });
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    if (c === '{' || c === '}') {
      out.push({ kind: c === '{' ? 'open' : 'close', text: c, loc: at(i), start: i, end: i + 1, lineText: s });
      i++;
      continue;
    }
    const start = i;
    // The word is put together from slices: one `+=` per character builds a rope of one node per
    // character, and a 10 MB token then takes hundreds of MB (out of memory).
    const parts: string[] = [];
    let run = i;
    let quoted = false;
    for (; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '\\' && i + 1 < s.length) { parts.push(s.slice(run, i)); run = ++i; continue; }
      if (ch === '"') { parts.push(s.slice(run, i)); run = i + 1; quoted = !quoted; continue; }
      if (!quoted && (ch === ' ' || ch === '\t' || ch === '{' || ch === '}')) break;
    }
    parts.push(s.slice(run, i));
    const word = parts.join('');
    if (quoted) {
      problems.push({ severity: 'error', code: 'SYNTAX', loc: at(start), message: 'a double quote is not closed on this line', expected: 'a closing "' });
    }
    out.push({ kind: 'word', text: word, loc: at(start), start, end: i, lineText: s });
  }
  out.push({ kind: 'eol', text: '', loc: at(s.length), start: s.length, end: s.length, lineText: s });
}

class TreeBuilder {
  private pos = 0;
  constructor(private readonly toks: readonly Tok[], private readonly problems: SyntaxProblem[]) {}

  private error(code: SyntaxCode, loc: SourceLoc, message: string, expected: string): void {
    this.problems.push({ severity: 'error', code, loc, message, expected });
  }

  /** Statements up to the matching `}` (depth > 0) or the end. */
  block(opener?: { keyword: string; loc: SourceLoc }, depth = 0): KaStatement[] {
    const out: KaStatement[] = [];
    for (;;) {
      const t = this.toks[this.pos];
      if (!t) {
        if (opener) {
          this.error('UNBALANCED_BRACE', opener.loc, `the block of '${opener.keyword}' opened here is never closed`, "a matching '}'");
        }
        return out;
      }
      if (t.kind === 'eol') { this.pos++; continue; }
      if (t.kind === 'close') {
        this.pos++;
        if (opener) return out;
        this.error('UNBALANCED_BRACE', t.loc, "unexpected '}' (no block is open here)", 'as many } as {');
        continue;
      }
      if (t.kind === 'open') {
        this.pos++;
        this.error('SYNTAX', t.loc, "'{' without a keyword before it", "a keyword such as 'vrrp_instance NAME {'");
        this.nested({ keyword: '{', loc: t.loc }, depth); // keep the braces balanced
        continue;
      }
      out.push(this.statement(t, depth));
    }
  }

  /**
   * The block of a `{` at `depth`; past MAX_NESTING the block is reported once and skipped
   * without recursion, so thousands of braces cannot overflow the stack.
   */
  private nested(opener: { keyword: string; loc: SourceLoc }, depth: number): KaStatement[] {
    if (depth < MAX_NESTING) return this.block(opener, depth + 1);
    this.error('NESTING', opener.loc, `blocks nested deeper than ${MAX_NESTING} (at '${opener.keyword} {'); the rest of this block is skipped`,
      'keepalived.conf nests a few levels (virtual_server > real_server > HTTP_GET > url)');
    let open = 1;
    while (open > 0) {
      const t = this.toks[this.pos++];
      if (!t) {
        this.error('UNBALANCED_BRACE', opener.loc, `the block of '${opener.keyword}' opened here is never closed`, "a matching '}'");
        return [];
      }
      if (t.kind === 'open') open++;
      else if (t.kind === 'close') open--;
    }
    return [];
  }

  private statement(kw: Tok, depth: number): KaStatement {
    this.pos++;
    const args: KaToken[] = [];
    while (this.toks[this.pos]?.kind === 'word') {
      const a = this.toks[this.pos++]!;
      args.push({ text: a.text, loc: a.loc, start: a.start, end: a.end });
    }
    const last = args[args.length - 1];
    const rest = last ? kw.lineText.slice(kw.end, last.end).trim() : '';
    // A block may open on the same line or on a following one.
    let look = this.pos;
    while (this.toks[look]?.kind === 'eol') look++;
    const open = this.toks[look];
    if (open?.kind === 'open') {
      this.pos = look + 1;
      const block = this.nested({ keyword: kw.text, loc: open.loc }, depth);
      return { keyword: kw.text, loc: kw.loc, args, rest, block, blockLoc: open.loc };
    }
    return { keyword: kw.text, loc: kw.loc, args, rest };
  }
}

/**
 * Preprocess and parse keepalived.conf text into statements. Never throws for bad input: every
 * problem is returned, located in the file it came from.
 */
export function parseKeepalivedSyntax(text: string, options: KaSyntaxOptions): { statements: KaStatement[]; problems: SyntaxProblem[] } {
  const problems: SyntaxProblem[] = [];
  const pre = new Preprocessor(options, problems);
  pre.file(text, options.file);
  const toks: Tok[] = [];
  for (const line of pre.lines) tokenize(line, toks, problems);
  const statements = new TreeBuilder(toks, problems).block();
  return { statements, problems };
}

/** C-style escapes of keepalived's script strings: `\n \t \xHH \nnn \cC`, `\C` = C. */
function unescapeAt(s: string, i: number): { text: string; next: number } {
  const c = s[i + 1];
  if (c === undefined) return { text: '\\', next: i + 1 };
  const simple: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
  if (simple[c] !== undefined) return { text: simple[c], next: i + 2 };
  if (c === 'x') {
    const m = /^[0-9a-fA-F]+/.exec(s.slice(i + 2));
    if (m) return { text: String.fromCharCode(parseInt(m[0].slice(-2), 16)), next: i + 2 + m[0].length };
  }
  if (/[0-7]/.test(c)) {
    const m = /^[0-7]{1,3}/.exec(s.slice(i + 1))!;
    return { text: String.fromCharCode(parseInt(m[0], 8) & 0xff), next: i + 1 + m[0].length };
  }
  if (c === 'c' && i + 2 < s.length) return { text: String.fromCharCode(s.charCodeAt(i + 2) & 0x1f), next: i + 3 };
  return { text: c, next: i + 2 };
}

/**
 * Split a script string as keepalived does for `script`, `notify*` and the like: blanks separate
 * words, `"..."` and `'...'` group (the other quote is literal inside), C-style escapes everywhere.
 * Returns undefined for an unclosed quote.
 */
export function splitScriptWords(text: string): string[] | undefined {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < text.length;) {
    const c = text[i]!;
    if (!quote && (c === ' ' || c === '\t')) {
      if (inWord) { words.push(word); word = ''; inWord = false; }
      i++;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      const u = unescapeAt(text, i);
      word += u.text;
      i = u.next;
      continue;
    }
    if (quote ? c === quote : c === '"' || c === "'") {
      quote = quote ? undefined : c;
      i++;
      continue;
    }
    word += c;
    i++;
  }
  if (quote) return undefined;
  if (inWord) words.push(word);
  return words;
}
