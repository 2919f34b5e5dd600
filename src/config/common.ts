/**
 * Rules shared by the configuration front ends (ucarp command line, carpool YAML). Pure.
 */
import { DEFAULT_STATE_DIR } from './model.js';
import { parseIPv4 } from '../protocol/inet.js';

/** ucarp keeps the password in a 20-byte buffer including the NUL ("Password too long"). */
export const PASSWORD_MAX_BYTES = 19;

const encoder = new TextEncoder();

/** Length in bytes of the UTF-8 encoding (what goes into the HMAC key). */
export function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/**
 * syslog facility names as glibc's `facilitynames` (which ucarp matches case-insensitively), minus
 * `mark` (an internal pseudo-facility). `security` is glibc's deprecated alias of `auth`.
 */
const FACILITIES: ReadonlyMap<string, string> = new Map([
  ...['auth', 'authpriv', 'cron', 'daemon', 'ftp', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp',
    'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7', 'none'].map((f): [string, string] => [f, f]),
  ['security', 'auth'],
]);

export const FACILITY_NAMES: readonly string[] = [...FACILITIES.keys()].filter((f) => f !== 'security');

/** Canonical facility name (`LOCAL0` → `local0`, `security` → `auth`, `none`), or undefined. */
export function normalizeFacility(name: string): string | undefined {
  return FACILITIES.get(name.toLowerCase());
}

/** Default instance name: `<interface>-vhid<vhid>`. */
export function defaultInstanceName(iface: string, vhid: number): string {
  return `${iface}-vhid${vhid}`;
}

/**
 * The kernel device an interface name refers to: `eth0:carp0` (an alias label) is `eth0`.
 * Two instances on `eth0` and `eth0:1` with the same vhid are the same CARP group on the wire.
 */
export function baseDevice(iface: string): string {
  const colon = iface.indexOf(':');
  return colon >= 0 ? iface.slice(0, colon) : iface;
}

/** 224.0.0.0/4. */
export function isIPv4Multicast(text: string): boolean {
  const b = parseIPv4(text);
  return b !== undefined && (b[0]! & 0xf0) === 0xe0;
}

/**
 * Control socket for a `carpool ucarp` process. ucarp setups run one process per VIP (init scripts
 * loop over instance files), so each gets its own socket instead of the shared default.
 */
export function ucarpControlSocket(instanceName: string, runDir: string = DEFAULT_STATE_DIR): string {
  return `${runDir}/ucarp-${instanceName}.sock`;
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The closest of `candidates` to `word` when it is close enough to be a plausible typo
 * (distance ≤ max(1, ⌊len/3⌋)); camelCase and dashes are folded to snake_case first.
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const folded = word.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  // No keyword is that long: the distance would need a table of length × candidate cells (a 10 MB token: out of memory).
  if (word.length > 64) return undefined;
  for (const c of candidates) {
    const dist = Math.min(editDistance(word, c), editDistance(folded, c));
    if (dist < bestDistance) { best = c; bestDistance = dist; }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return bestDistance <= limit ? best : undefined;
}

export type SplitResult = { ok: true; words: string[] } | { ok: false; reason: string };

/**
 * Split a command string into argv the way a POSIX shell splits a simple command, without any
 * expansion: blanks separate words; `'...'` is literal; `"..."` keeps blanks and honours `\"`, `\\`,
 * `\$` and `` \` ``; a backslash outside quotes escapes the next character.
 */
export function splitCommand(text: string): SplitResult {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) { words.push(word); word = ''; inWord = false; }
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') { i++; continue; } // line continuation
    inWord = true;
    if (c === '\\') {
      if (i + 1 >= text.length) return { ok: false, reason: 'a backslash at the end escapes nothing' };
      word += text[++i];
      continue;
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { ok: false, reason: 'unterminated single quote' };
      word += text.slice(i + 1, end);
      i = end;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1]!)) {
          if (text[j + 1] !== '\n') word += text[j + 1];
          j++;
        } else {
          word += text[j];
        }
      }
      if (j >= text.length) return { ok: false, reason: 'unterminated double quote' };
      i = j;
      continue;
    }
    word += c;
  }
  if (inWord) words.push(word);
  return { ok: true, words };
}

/** What an unquoted `$VAR` expands to in sh with the default IFS: blank-separated fields, no globbing. */
export function shellFields(value: string | undefined): string[] {
  return (value ?? '').split(/[ \t\n]+/).filter((w) => w !== '');
}

/**
 * The password in a password file as ucarp reads it: `fgets()` of the first line, cut at
 * the newline; a C string also ends at a NUL byte. A trailing carriage return stays part
 * of the password (ucarp keeps it), reported so front ends can warn.
 */
export function passwordFromFile(text: string): { readonly password: string; readonly endsWithCR: boolean } {
  const nl = text.indexOf('\n');
  let line = nl >= 0 ? text.slice(0, nl) : text;
  const nul = line.indexOf('\0');
  if (nul >= 0) line = line.slice(0, nul);
  return { password: line, endsWithCR: line.endsWith('\r') };
}
