/**
 * The one impure corner of config/: wires the real file system into the pure parsers.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { LineCounter, isMap, isSeq, parseDocument } from 'yaml';
import { CarpoolError, ConfigError, formatDiagnostic } from '../lib/errors.js';
import { DEFAULT_CONTROL_SOCKET, DEFAULT_STATE_DIR, type CarpoolConfig } from './model.js';
import { parseCarpoolYaml } from './yaml/parse.js';
import type { ConfigDiagnostic } from './diagnostics.js';
import { looksLikeKeepalived, parseKeepalivedConf } from './keepalived/parse.js';
import type { KaFileHost } from './keepalived/syntax.js';
import { expandBraces, globSegmentRegExp } from './glob.js';
import { checkEncoding, classify, yamlNesting } from './input-guard.js';

export interface LoadOptions {
  /** Called for each warning; default: printed to stderr as `file:line:col: warning: ...`. */
  readonly onWarning?: (warning: ConfigDiagnostic) => void;
  /** Force the format; default: recognised by content. */
  readonly format?: 'keepalived' | 'yaml';
  /** keepalived.conf: skip LVS blocks with a warning instead of failing (`keepalived --vrrp`). */
  readonly vrrpOnly?: boolean;
  /** keepalived.conf: refuse what keepalived only logs and skips (`carpool check --strict`). */
  readonly strict?: boolean;
  /** keepalived.conf config id for `@id` lines (keepalived `-i`); default: the host name up to the first dot. */
  readonly configId?: string;
  /**
   * Runtime directory (the CLI's per-namespace run directory, cli/paths.ts): the default control socket and state directory
   * live there when the file does not name them (keepalived.conf never does).
   */
  readonly runDir?: string;
}

/** The default `onWarning`: `file:line:col: warning: ...` on stderr. */
export function printWarning(w: ConfigDiagnostic): void {
  process.stderr.write(`${formatDiagnostic({ ...w, message: `warning: ${w.message}` })}\n`);
}

/** glob(3) for keepalived's `include`: `*`, `?`, `[...]` per path segment and csh `{a,b}`; sorted, files only. */
export function globFiles(pattern: string): string[] {
  const out = new Set<string>();
  for (const p of expandBraces(pattern)) {
    const segments = p.split('/').filter((x) => x !== '');
    let dirs = ['/'];
    segments.forEach((seg, i) => {
      const last = i === segments.length - 1;
      const next: string[] = [];
      for (const dir of dirs) {
        if (!/[*?[]/.test(seg)) {
          next.push(resolve(dir, seg));
          continue;
        }
        const re = globSegmentRegExp(seg);
        let names: string[];
        try {
          names = readdirSync(dir);
        } catch {
          continue;
        }
        for (const n of names.sort()) if (re.test(n)) next.push(resolve(dir, n));
      }
      dirs = last ? next : next.filter((d) => isDir(d));
    });
    for (const f of dirs) if (isFile(f)) out.add(f);
  }
  return [...out].sort();
}

function isDir(path: string): boolean {
  try { return statSync(path).isDirectory(); } catch { return false; }
}

function isFile(path: string): boolean {
  try { return statSync(path).isFile(); } catch { return false; }
}

/** The real file system for keepalived's `include`. */
export const fileHost: KaFileHost = {
  readFile: (p) => {
    const text = readFileSync(p, 'utf8');
    // An included binary file would give a page of syntax errors: one INCLUDE_FAILED instead.
    if (checkEncoding(text, true, p)?.code === 'NOT_TEXT') throw new Error('the file holds binary data, not text');
    return text;
  },
  glob: globFiles,
};

/** keepalived's default config id: the node name up to the first dot. */
export function defaultConfigId(): string {
  return hostname().split('.')[0] ?? '';
}

/** Which parser reads `text`: an explicit choice, else keepalived.conf when it looks like one. */
export function detectConfigFormat(text: string): 'keepalived' | 'yaml' {
  return looksLikeKeepalived(text) ? 'keepalived' : 'yaml';
}

function statMode(path: string): number | undefined {
  try {
    return statSync(path).mode;
  } catch {
    return undefined;
  }
}

/**
 * keepalived.conf holding an `auth_pass` must not be readable by group or others — the same
 * warning the YAML front end gives (keepalived itself does not check). The main file only: an
 * `include`d file is not looked at.
 */
function keepalivedPermissions(file: string, config: CarpoolConfig): ConfigDiagnostic | undefined {
  if (!config.instances.some((i) => i.kind === 'vrrp' && i.authPass !== undefined)) return undefined;
  const mode = statMode(file);
  if (mode === undefined || (mode & 0o044) === 0) return undefined;
  return {
    file, line: 1, column: 1, code: 'CONFIG_PERMISSIONS', severity: 'warning', expected: 'chmod 600',
    message: `${file} contains passwords and is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`,
  };
}

/**
 * Read, parse and validate a configuration file: keepalived.conf (recognised by its blocks, or
 * `format: 'keepalived'`) or carpool YAML. Throws `ConfigError` (validation, with file:line:col) or
 * `CarpoolError` `CONFIG_UNREADABLE`.
 */
export function loadConfigFile(path: string, options: LoadOptions = {}): CarpoolConfig {
  const file = resolve(path);
  const { text, utf8 } = readConfigText(file, path);
  const format = options.format ?? detectConfigFormat(text);
  const encoding = checkEncoding(text, utf8, path, format === 'keepalived' ? 'warning' : 'error');
  if (encoding?.severity === 'error') throw new ConfigError([encoding]);
  if (encoding) (options.onWarning ?? printWarning)(encoding);
  if (!options.format) notAConfiguration(text, path);
  const parseYaml = () => {
    const deep = yamlNesting(text, path);
    if (deep) throw new ConfigError([deep]);
    detectFormat(text, path);
    return parseCarpoolYaml(text, { file, readFile: (p) => readFileSync(p, 'utf8'), statMode });
  };
  const { config, warnings } = format === 'keepalived'
    ? parseKeepalivedConf(text, { file, host: fileHost, configId: options.configId ?? defaultConfigId(), vrrpOnly: options.vrrpOnly ?? false,
      strict: options.strict ?? false })
    : parseYaml();
  const perms = format === 'keepalived' ? keepalivedPermissions(file, config) : undefined;
  for (const w of perms ? [perms, ...warnings] : warnings) (options.onWarning ?? printWarning)(w);
  if (options.runDir === undefined) return config;
  return {
    ...config,
    controlSocket: config.controlSocket === DEFAULT_CONTROL_SOCKET ? join(options.runDir, 'carpool.sock') : config.controlSocket,
    stateDir: config.stateDir === DEFAULT_STATE_DIR ? options.runDir : config.stateDir,
  };
}

/**
 * The bytes of a configuration file as text, and whether they are UTF-8. A directory or a device
 * gets an error that says so (not EISDIR); an unreadable file `CONFIG_UNREADABLE`.
 */
export function readConfigText(file: string, shown: string = file, inside = ['keepalived.conf', 'carpool.yaml']): { text: string; utf8: boolean } {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new CarpoolError('CONFIG_UNREADABLE', `cannot read ${shown}: ${err instanceof Error ? err.message : String(err)}`,
      'check the path and that carpool runs as root', { cause: err });
  }
  if (!st.isFile()) {
    throw new ConfigError([{
      file: shown, line: 1, column: 1, code: 'NOT_A_FILE', severity: 'error',
      message: `${shown} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}, not a file to read`,
      expected: st.isDirectory() && inside.length ? `a file in it, e.g. ${inside.map((f) => join(shown, f)).join(' or ')}` : 'a regular file',
    } satisfies ConfigDiagnostic]);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new CarpoolError('CONFIG_UNREADABLE', `cannot read ${shown}: ${err instanceof Error ? err.message : String(err)}`,
      'check the path and that carpool runs as root', { cause: err });
  }
  return { text: bytes.toString('utf8'), utf8: isUtf8(bytes) };
}

/**
 * Files that are no configuration at all, recognised before either parser sees them, each with the
 * command that reads it: a Pacemaker/Heartbeat CIB (`carpool import-cib`), other XML, binary data.
 */
function notAConfiguration(text: string, path: string): void {
  const fail = (message: string, expected: string, line = 1) => new ConfigError([{ file: path, line, column: 1, message, expected }]);
  const head = text.slice(0, 65536);
  if (classify(text) === 'heartbeat') {
    throw fail("this is Heartbeat's ha.cf, not a carpool configuration: convert it with `carpool import-heartbeat DIR` (the directory of ha.cf, authkeys, haresources)",
      'carpool import-heartbeat /etc/ha.d > carpool.yaml');
  }
  const xml = /^\uFEFF?\s*</.test(head);
  if (!xml) return;
  const cib = /<(cib|configuration|resources)[\s>/]/.exec(head);
  if (cib) {
    const line = head.slice(0, cib.index).split('\n').length;
    throw fail(`this is a Pacemaker/Heartbeat CIB (<${cib[1]}>), not a carpool configuration: convert its resources with \`carpool import-cib ${path}\``,
      `carpool import-cib ${path} > resources.yaml, then add an instance for the groups to follow (docs/config.md)`, line);
  }
  throw fail('this is not a carpool configuration: it is XML', "carpool YAML (a mapping with an 'instances' list) or keepalived.conf");
}

/**
 * Throw a clear error when `text` is not meant to be carpool YAML. A YAML mapping (even a broken or
 * incomplete one) goes on to the YAML validator, whose diagnostics are more precise.
 */
function detectFormat(text: string, path: string): void {
  const notOurs = (message: string, line = 1, column = 1) => new ConfigError([{
    file: path, line, column, message,
    expected: "carpool YAML: a mapping with an 'instances' list (see docs/config.md)",
  }]);
  if (text.trim() === '') return; // the validator says "empty"
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines });
  const looksLikeMapping = /^[A-Za-z_][\w-]*\s*:(\s|$)/m.test(text);
  if (doc.errors.length > 0) {
    if (looksLikeMapping) return;
    const p = lines.linePos(doc.errors[0]!.pos[0]);
    throw notOurs(`this is not a carpool configuration: it is not YAML (${doc.errors[0]!.message.split('\n')[0]})`, Math.max(1, p.line), Math.max(1, p.col));
  }
  if (!isMap(doc.contents)) {
    throw notOurs(`this is not a carpool configuration: the YAML holds ${isSeq(doc.contents) ? 'a list' : 'a single value'}, not a mapping`);
  }
}
