/**
 * The one reader of carpool.yaml (docs/config.md): a `Checker` holds the document and collects every
 * diagnostic with its file:line:column (merge keys applied, duplicate and unknown keys reported), and a
 * `Reader` reads the typed values of one mapping, each read reporting its own diagnostic. The
 * sections (carp.ts, vrrp.ts, resources.ts) are written on these two.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { ConfigDiagnostic, ConfigDiagnosticCode, SourceLoc } from '../diagnostics.js';
import { parseCidr, parseIPv4 } from '../../protocol/inet.js';
import { byteLength, suggest } from '../common.js';
import type { At } from '../vrrp/spec.js';

export interface YamlConfigOptions {
  /** Path of the file, for diagnostics, `config.source` and resolving a relative `password_file`. */
  readonly file?: string;
  /** Reads a `password_file`; throws (any Error) when it cannot. Without it password_file is an error. */
  readonly readFile?: (path: string) => string;
  /** `st_mode` of a path, or undefined if unknown; enables the permission warnings. */
  readonly statMode?: (path: string) => number | undefined;
  /** Wall clock in ms (the validity of TLS certificates); default Date.now. */
  readonly now?: () => number;
}

/** Instance names (CARP and VRRP). */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/;

export type Where = string;

export interface Entry {
  readonly key: string;
  readonly keyNode: Node;
  readonly value: Node | null;
}

export class Checker {
  readonly errors: ConfigDiagnostic[] = [];
  readonly warnings: ConfigDiagnostic[] = [];

  constructor(
    readonly file: string,
    readonly text: string,
    readonly lines: LineCounter,
    readonly doc: Document.Parsed,
  ) {}

  pos(at: Node | number | null | undefined): { line: number; column: number } {
    const offset = typeof at === 'number' ? at : at?.range?.[0] ?? 0;
    const p = this.lines.linePos(offset);
    return { line: Math.max(1, p.line), column: Math.max(1, p.col) };
  }

  error(at: Node | number | null | undefined, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.errors.push({ file: this.file, ...this.pos(at), message, expected, code, severity: 'error' });
  }

  warn(at: Node | number | null | undefined, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.warnings.push({ file: this.file, ...this.pos(at), message, expected, code, severity: 'warning' });
  }

  resolve(node: Node | null | undefined): Node | null {
    if (!node) return null;
    if (isAlias(node)) return node.resolve(this.doc) ?? null;
    return node;
  }

  /** Source text of a node (for the leading-zero check). */
  source(node: Node): string {
    const r = node.range;
    return r ? this.text.slice(r[0], r[1]) : '';
  }

  /**
   * Entries of a mapping, with merge keys applied (explicit keys win, then earlier merges) and
   * duplicate keys reported. Undefined (and a diagnostic) when `node` is not a mapping.
   */
  entries(node: Node | null, where: Where, fallback: Node | number | null): Map<string, Entry> | undefined {
    const map = this.resolve(node);
    if (!map || !isMap(map)) {
      this.error(map ?? fallback, map ? 'INVALID_TYPE' : 'NO_VALUE', `${where}: got ${describe(map)}`, 'a mapping of key: value lines');
      return undefined;
    }
    const out = new Map<string, Entry>();
    const merged: Entry[] = [];
    for (const pair of map.items) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key === 'symbol' || key === '<<') {
        this.mergeInto(merged, pair.value as Node | null, where, keyNode);
        continue;
      }
      if (typeof key !== 'string') {
        this.error(keyNode ?? map, 'INVALID_TYPE', `${where}: a key is ${describe(keyNode)}`, 'plain text keys');
        continue;
      }
      const prev = out.get(key);
      if (prev) {
        this.error(keyNode, 'DUPLICATE_KEY', `duplicate key '${key}' in ${where} (first at line ${this.pos(prev.keyNode).line})`,
          'each key once');
        continue;
      }
      out.set(key, { key, keyNode: keyNode!, value: (pair.value as Node | null) ?? null });
    }
    for (const e of merged) if (!out.has(e.key)) out.set(e.key, e);
    return out;
  }

  private mergeInto(merged: Entry[], value: Node | null, where: Where, at: Node | null): void {
    const sources = isSeq(value) ? (value.items as Node[]) : [value];
    for (const s of sources) {
      const m = this.resolve(s);
      if (!m || !isMap(m)) {
        this.error(s ?? at, 'INVALID_TYPE', `${where}: '<<' merges ${describe(m)}`, 'an alias of a mapping (<<: *defaults)');
        continue;
      }
      const inner = this.entries(m, where, at);
      for (const e of inner?.values() ?? []) if (!merged.some((x) => x.key === e.key)) merged.push(e);
    }
  }

  /** Report keys not in `allowed`, suggesting the nearest one. */
  unknownKeys(entries: Map<string, Entry>, allowed: readonly string[], where: Where, aliases: Readonly<Record<string, string>> = {}): void {
    for (const e of entries.values()) {
      if (allowed.includes(e.key)) continue;
      const guess = aliases[e.key.toLowerCase()] ?? suggest(e.key, allowed);
      this.error(e.keyNode, 'UNKNOWN_KEY',
        `unknown key '${e.key}' in ${where}${guess ? ` — did you mean '${guess}'?` : ''}`, `one of ${allowed.join(', ')}`);
    }
  }
}

export function describe(node: Node | null | undefined): string {
  if (!node) return 'nothing';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'nothing (null)';
    if (typeof v === 'string') return `'${v}'`;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    return 'a value';
  }
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'a value';
}

/**
 * Typed reads of one mapping: each reports its own diagnostic and returns undefined on failure.
 * `string`, `integer`, ... return the value with its node; `str`, `int`, ... (for the VRRP builder)
 * return it located (`At`) and undefined when the key is absent.
 */
export class Reader {
  constructor(readonly c: Checker, readonly where: Where, readonly entries: Map<string, Entry>) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The value node of `key`, aliases resolved. */
  node(key: string): Node | null {
    return this.c.resolve(this.entries.get(key)?.value ?? null);
  }

  keyNode(key: string): Node | undefined {
    return this.entries.get(key)?.keyNode;
  }

  /** The scalar value node, or undefined with a diagnostic when the key has no value. */
  private scalar(key: string, expected: string): { node: Node; value: unknown } | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const node = this.c.resolve(e.value);
    if (!node || (isScalar(node) && (node.value === null || node.value === undefined))) {
      this.c.error(e.keyNode, 'NO_VALUE', `${key} in ${this.where} has no value (leave the key out for the default)`, expected);
      return undefined;
    }
    if (!isScalar(node)) {
      this.c.error(node, 'INVALID_TYPE', `${key} in ${this.where}: got ${describe(node)}`, expected);
      return undefined;
    }
    return { node, value: node.value };
  }

  string(key: string, expected: string): { value: string; node: Node } | undefined {
    const s = this.scalar(key, expected);
    if (!s) return undefined;
    if (typeof s.value !== 'string') {
      this.c.error(s.node, 'INVALID_TYPE', `${key} in ${this.where}: got ${describe(s.node)} — quote it to make it text: '${this.c.source(s.node)}'`, expected);
      return undefined;
    }
    return { value: s.value, node: s.node };
  }

  integer(key: string, min: number, max: number): { value: number; node: Node } | undefined {
    const expected = `an integer ${min}..${max}`;
    const s = this.scalar(key, expected);
    if (!s) return undefined;
    if (typeof s.value === 'string') {
      const quoted = /^\s*-?\d+\s*$/.test(s.value);
      this.c.error(s.node, 'INVALID_TYPE',
        `${key} in ${this.where}: got ${quoted ? `the text '${s.value}' — remove the quotes` : `'${s.value}'`}`, expected);
      return undefined;
    }
    if (typeof s.value !== 'number' || !Number.isInteger(s.value)) {
      this.c.error(s.node, 'INVALID_TYPE', `${key} in ${this.where}: got ${describe(s.node)}`, expected);
      return undefined;
    }
    if (s.value < min || s.value > max) {
      this.c.error(s.node, 'OUT_OF_RANGE', `${key} in ${this.where}: got ${s.value}`, expected);
      return undefined;
    }
    const src = this.c.source(s.node);
    if (/^[+-]?0\d/.test(src)) {
      this.c.warn(s.node, 'DECIMAL_LEADING_ZERO',
        `${key} in ${this.where}: ${src} is decimal ${s.value} in YAML 1.2 (ucarp would read it as octal)`, `${s.value} without the leading zero`);
    }
    return { value: s.value, node: s.node };
  }

  boolean(key: string): boolean | undefined {
    const expected = 'true or false';
    const s = this.scalar(key, expected);
    if (!s) return undefined;
    if (typeof s.value === 'boolean') return s.value;
    let hint = '';
    if (typeof s.value === 'string' && /^(y|yes|on|n|no|off)$/i.test(s.value)) {
      const t = /^(y|yes|on)$/i.test(s.value);
      hint = ` — YAML 1.2 reads ${s.value} as text; write ${t}`;
    }
    this.c.error(s.node, 'INVALID_TYPE', `${key} in ${this.where}: got ${describe(s.node)}${hint}`, expected);
    return undefined;
  }

  ipv4(key: string, what: string): { value: string; node: Node } | undefined {
    const expected = `${what}, a dotted IPv4 address such as 10.0.0.1`;
    const s = this.string(key, expected);
    if (!s) return undefined;
    if (!parseIPv4(s.value) || s.value === '0.0.0.0') {
      this.c.error(s.node, 'INVALID_ADDRESS', `${key} in ${this.where}: '${s.value}' is not usable`, expected);
      return undefined;
    }
    return s;
  }

  /** An absolute path (no NUL). */
  path(key: string, what: string): { value: string; node: Node } | undefined {
    const expected = `${what}, an absolute path`;
    const s = this.string(key, expected);
    if (!s) return undefined;
    if (!s.value.startsWith('/') || s.value.includes('\0')) {
      this.c.error(s.node, 'INVALID_VALUE', `${key} in ${this.where}: '${s.value}' is not an absolute path`, expected);
      return undefined;
    }
    return s;
  }
  keyLoc(k: string): SourceLoc { return locOf(this.c, this.entries.get(k)?.keyNode); }
  int(k: string, min: number, max: number): At<number> | undefined {
    if (!this.has(k)) return undefined;
    const v = this.integer(k, min, max);
    return v && { value: v.value, at: locOf(this.c, v.node) };
  }
  /** Seconds (decimals allowed). */
  seconds(k: string, min: number, max: number): At<number> | undefined {
    if (!this.has(k)) return undefined;
    const n = this.node(k);
    const expected = `seconds ${min}..${max} (decimals allowed)`;
    if (!n || !isScalar(n) || typeof n.value !== 'number' || !Number.isFinite(n.value)) {
      this.c.error(n ?? this.entries.get(k)!.keyNode, n ? 'INVALID_TYPE' : 'NO_VALUE', `${k} in ${this.where}: got ${describe(n)}`, expected);
      return undefined;
    }
    if (n.value < min || n.value > max) {
      this.c.error(n, 'OUT_OF_RANGE', `${k} in ${this.where}: got ${n.value}`, expected);
      return undefined;
    }
    return { value: n.value, at: locOf(this.c, n) };
  }
  bool(k: string): At<boolean> | undefined {
    if (!this.has(k)) return undefined;
    const v = this.boolean(k);
    return v === undefined ? undefined : { value: v, at: locOf(this.c, this.node(k)) };
  }
  str(k: string, expected: string): At<string> | undefined {
    if (!this.has(k)) return undefined;
    const v = this.string(k, expected);
    return v && { value: v.value, at: locOf(this.c, v.node) };
  }
  ip(k: string, what: string): At<string> | undefined {
    const s = this.str(k, `${what}, an IPv4 or IPv6 address`);
    if (!s) return undefined;
    const cidr = s.value.includes('/') ? undefined : parseCidr(s.value);
    if (!cidr) {
      this.c.error(this.node(k), 'INVALID_ADDRESS', `${k} in ${this.where}: '${s.value}' is not an IP address`, `${what}, an IPv4 or IPv6 address`);
      return undefined;
    }
    return { value: cidr.address, at: s.at };
  }
  list(k: string, expected: string): Node[] {
    if (!this.has(k)) return [];
    const n = this.node(k);
    if (!n || !isSeq(n)) {
      this.c.error(n ?? this.entries.get(k)!.keyNode, n ? 'INVALID_TYPE' : 'NO_VALUE', `${k} in ${this.where}: got ${describe(n)}`, expected);
      return [];
    }
    return (n.items as (Node | null)[]).map((x) => this.c.resolve(x) ?? n);
  }
}

/** Linux interface names: 1..15 bytes (IFNAMSIZ 16 with the NUL), no '/', no blanks, not . or .. */
export function validIfname(name: string): boolean {
  return name.length > 0 && byteLength(name) <= 15 && !/[/\s]/.test(name) && name !== '.' && name !== '..';
}

export function locOf(c: Checker, node: Node | null | undefined): SourceLoc {
  return { file: c.file, ...c.pos(node) };
}

export function vreader(c: Checker, node: Node | null, where: string, fallback: Node | number | null, keys: readonly string[],
  aliases: Readonly<Record<string, string>> = {}): Reader | undefined {
  const entries = c.entries(node, where, fallback);
  if (!entries) return undefined;
  c.unknownKeys(entries, keys, where, aliases);
  return new Reader(c, where, entries);
}
