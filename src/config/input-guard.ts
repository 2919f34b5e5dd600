/**
 * Checks every input file passes before a parser sees it (issue 14: hostile or mistaken input gives a
 * clear error with file:line, never a crash, a hang or an out-of-memory abort):
 * - binary data, NUL bytes, text that is not UTF-8;
 * - nesting deeper than any real file (YAML flow and block collections, XML tags): the YAML and XML
 *   libraries recurse, so thousands of levels overflow the stack or exhaust memory inside them;
 * - what the file is when a command is given the wrong kind (a CIB to `check`, keepalived.conf to
 *   `import-cib`...), for a message that names the right command;
 * - `clip`: a value echoed in a message is cut, so a 10 MB token does not make a 10 MB error line.
 *
 * Pure: texts in, diagnostics out. The shell (config/load.ts, cli/commands.ts) reads the files.
 */
import type { ConfigDiagnostic } from './diagnostics.js';

/** Deeper than any carpool.yaml or CIB needs (both stay under 15 levels); far below what overflows the parsers. */
export const MAX_NESTING = 64;

/** The longest piece of input echoed in a message. */
export const MAX_ECHO = 120;

/** `s`, cut to `max` characters with a note of its length when longer. */
export function clip(s: string, max = MAX_ECHO): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}… (${s.length} characters)`;
}

/** Every line of `text` clipped (messages built from input that is several lines long). */
export function clipLines(text: string, max = 400): string {
  return text.split('\n').map((l) => clip(l, max)).join('\n');
}

/** 1-based line and column of offset `i` in `text`. */
export function position(text: string, i: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let k = text.indexOf('\n'); k !== -1 && k < i; k = text.indexOf('\n', k + 1)) {
    line++;
    start = k + 1;
  }
  return { line, column: i - start + 1 };
}

export type InputKind = 'empty' | 'binary' | 'cib' | 'xml' | 'keepalived' | 'heartbeat' | 'yaml';

const BINARY_HINT = 'a text file: carpool YAML or keepalived.conf (a Pacemaker CIB: carpool import-cib FILE; Heartbeat files: carpool import-heartbeat DIR)';

/**
 * Binary data (NUL bytes, or many bytes that are not UTF-8) or text that is not UTF-8 (`utf8` false:
 * the shell's verdict on the raw bytes; `text` is their lenient decoding, with U+FFFD for each bad
 * sequence). `severity`: keepalived reads bytes and does not care, so keepalived.conf gets a warning.
 */
export function checkEncoding(text: string, utf8: boolean, file: string, severity: 'error' | 'warning' = 'error'): ConfigDiagnostic | undefined {
  const head = text.slice(0, 65536);
  const bad = head.match(/\uFFFD/g)?.length ?? 0;
  const nul = text.indexOf('\0');
  if (nul !== -1 || (head.length > 0 && bad > 8 && bad / head.length > 0.01)) {
    const at = position(text, nul !== -1 ? nul : head.indexOf('\uFFFD'));
    return {
      file, ...at, code: 'NOT_TEXT', severity: 'error', expected: BINARY_HINT,
      message: `this is not a carpool configuration: the file holds binary data, not text${nul !== -1 ? ' (a NUL byte here)' : ''}`,
    };
  }
  if (utf8) return undefined;
  const i = text.indexOf('\uFFFD');
  return {
    file, ...position(text, Math.max(0, i)), code: 'NOT_UTF8', severity, expected: 'UTF-8 text (iconv -f LATIN1 -t UTF-8 converts a Latin-1 file)',
    message: 'a byte sequence that is not UTF-8',
  };
}

/** A best guess at what `text` is, for "wrong command" messages. */
export function classify(text: string): InputKind {
  const head = text.slice(0, 65536);
  if (head.trim() === '') return 'empty';
  if (head.includes('\0') || (head.match(/\uFFFD/g)?.length ?? 0) > 8) return 'binary';
  if (/^\uFEFF?\s*</.test(head)) return /<(cib|configuration|resources|crm_config)[\s>/]/.test(head) ? 'cib' : 'xml';
  if (/^\s*(vrrp_instance|vrrp_sync_group|global_defs|virtual_server|vrrp_script|virtual_server_group)\b[^\n]*\{/m.test(head)) return 'keepalived';
  if (/^\s*(ucast|mcast|bcast|keepalive|deadtime|initdead|node|crm|auto_failback|udpport|logfacility)\s+\S/m.test(head)
    && !/^[A-Za-z_][\w-]*:(\s|$)/m.test(head)) return 'heartbeat';
  return 'yaml';
}

/** What reads a file of kind `kind` (`file`: its name, for the command line). */
export function rightCommand(kind: InputKind, file: string): string | undefined {
  switch (kind) {
    case 'cib': return `carpool import-cib ${file}`;
    case 'keepalived': return `carpool check -c ${file} (or carpool convert ${file})`;
    case 'yaml': return `carpool check -c ${file}`;
    case 'heartbeat': return `carpool import-heartbeat DIR (the directory of ${file})`;
    default: return undefined;
  }
}

function tooDeep(file: string, text: string, i: number, what: string): ConfigDiagnostic {
  return {
    file, ...position(text, i), code: 'NESTING', severity: 'error',
    expected: `at most ${MAX_NESTING} levels (a real configuration needs fewer than 15)`,
    message: `${what} nested more than ${MAX_NESTING} levels deep`,
  };
}

/**
 * YAML nested deeper than MAX_NESTING: block collections (by indentation and `- ` markers) plus
 * flow collections (`[`, `{` outside quotes and comments). Block scalars (`|`, `>`) are skipped.
 * A bound, not a parser: it may count a level the YAML library would not, never fewer.
 */
export function yamlNesting(text: string, file: string): ConfigDiagnostic | undefined {
  const indents: number[] = []; // the block levels open at the current line, by indentation
  let flow = 0;
  let scalarIndent = -1; // inside a block scalar: lines indented more than this belong to it
  let offset = 0;
  let quote: '"' | "'" | undefined; // a quoted scalar may go on over lines
  for (const line of text.split('\n')) {
    const start = offset;
    offset += line.length + 1;
    const indent = line.length - line.trimStart().length;
    const body = line.trim();
    if (scalarIndent >= 0) {
      if (body === '' || indent > scalarIndent) continue;
      scalarIndent = -1;
    }
    if (quote === undefined && flow === 0) {
      if (body === '' || body.startsWith('#')) continue;
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
    }
    let block = indents.length;
    let i = indent;
    // `- - - x`: each marker opens a sequence on this line
    if (quote === undefined && flow === 0) {
      while (line.startsWith('- ', i) || (line[i] === '-' && i + 1 === line.length)) {
        block++;
        i += 2;
        while (line[i] === ' ') i++;
      }
    }
    if (block > MAX_NESTING) return tooDeep(file, text, start + i, 'block collections');
    for (; i < line.length; i++) {
      const ch = line[i]!;
      if (quote !== undefined) {
        if (ch === '\\' && quote === '"') i++;
        else if (ch === quote) {
          if (quote === "'" && line[i + 1] === "'") i++;
          else quote = undefined;
        }
        continue;
      }
      if (ch === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) break;
      if (ch === '"' || ch === "'") {
        // a quote starts a scalar only at the start of a value, not inside a plain word (don't)
        const prev = line.slice(0, i).trimEnd().slice(-1);
        if (prev === '' || ':-[{,?'.includes(prev)) quote = ch;
      } else if (ch === '[' || ch === '{') {
        flow++;
        if (block + flow > MAX_NESTING) return tooDeep(file, text, start + i, 'collections are');
      } else if ((ch === ']' || ch === '}') && flow > 0) flow--;
    }
    if (quote === undefined && flow === 0 && /(^|[\s:-])[|>][+-]?[0-9]?[+-]?\s*(#.*)?$/.test(body)) scalarIndent = indent;
  }
  return undefined;
}

/** The longest XML tag (name and attributes) read: a CIB's longest is a few hundred characters. */
export const MAX_XML_TAG = 65536;

/**
 * XML elements nested deeper than MAX_NESTING (the CIB reader, fast-xml-parser, recurses per level),
 * or a tag longer than MAX_XML_TAG (its validator runs out of memory on a 10 MB attribute value).
 */
export function xmlLimits(text: string, file: string): ConfigDiagnostic | undefined {
  let depth = 0;
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    const next = text[i + 1];
    if (text.startsWith('<!--', i)) { const e = text.indexOf('-->', i + 4); if (e === -1) return undefined; i = e; continue; }
    if (text.startsWith('<![CDATA[', i)) { const e = text.indexOf(']]>', i + 9); if (e === -1) return undefined; i = e; continue; }
    if (next === '?' || next === '!') continue;
    if (next === '/') { depth = Math.max(0, depth - 1); continue; }
    // the end of this tag, quotes respected; `/>` opens nothing
    let j = i + 1;
    let q: string | undefined;
    for (; j < text.length; j++) {
      const c = text[j]!;
      if (q) { if (c === q) q = undefined; } else if (c === '"' || c === "'") q = c; else if (c === '>') break;
      if (j - i > MAX_XML_TAG) {
        return {
          file, ...position(text, i), code: 'NESTING', severity: 'error', expected: `a tag of at most ${MAX_XML_TAG} characters`,
          message: `an XML tag longer than ${MAX_XML_TAG} characters${q ? ' (an attribute value whose quote is not closed?)' : ''}`,
        };
      }
    }
    if (j >= text.length) return undefined; // unterminated: the XML parser says where
    if (text[j - 1] !== '/') {
      depth++;
      if (depth > MAX_NESTING) return tooDeep(file, text, i, 'XML elements');
    }
    i = j;
  }
  return undefined;
}
