/**
 * The one impure corner of config/: wires the real file system into the pure parsers.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, isMap, isSeq, parseDocument } from 'yaml';
import { CarpoolError, ConfigError, formatDiagnostic } from '../lib/errors.js';
import type { CarpoolConfig } from './model.js';
import { parseCarpoolYaml, type ConfigDiagnostic } from './yaml.js';
import { checkResourceAgents } from '../resources/shell/agent-check.js';

export interface LoadOptions {
  /** Called for each warning; default: printed to stderr as `file:line:col: warning: ...`. */
  readonly onWarning?: (warning: ConfigDiagnostic) => void;
  /** Check resource agents against this host (installed, required parameters from meta-data). Default true. */
  readonly checkAgents?: boolean;
  /** Also run the agents' validate-all on this host (`carpool check --validate`). */
  readonly validateAgents?: boolean;
}

function statMode(path: string): number | undefined {
  try {
    return statSync(path).mode;
  } catch {
    return undefined;
  }
}

/** keepalived.conf has blocks like `vrrp_instance VI_1 {` and `global_defs {`. */
const KEEPALIVED_RE = /^\s*(vrrp_instance|vrrp_sync_group|global_defs|virtual_server|vrrp_script)\b[^\n]*\{/m;

/**
 * Read, parse and validate a configuration file. The format is recognised by content: a YAML
 * mapping with `instances` is carpool YAML; anything else gets an error saying what it looks like
 * (keepalived.conf support comes later). Throws `ConfigError` (validation, with file:line:col) or
 * `CarpoolError` `CONFIG_UNREADABLE`.
 */
export function loadConfigFile(path: string, options: LoadOptions = {}): CarpoolConfig {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CarpoolError('CONFIG_UNREADABLE', `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
      'check the path and that carpool runs as root', { cause: err });
  }
  detectFormat(text, path);
  const { config, warnings } = parseCarpoolYaml(text, {
    file,
    readFile: (p) => readFileSync(p, 'utf8'),
    statMode,
  });
  const onWarning = options.onWarning ?? ((w: ConfigDiagnostic) => {
    process.stderr.write(`${formatDiagnostic({ ...w, message: `warning: ${w.message}` })}\n`);
  });
  const agentDiagnostics = options.checkAgents === false ? [] : checkResourceAgents(config, undefined, { validate: options.validateAgents ?? false });
  const agentErrors = agentDiagnostics.filter((d) => d.severity === 'error');
  for (const w of [...warnings, ...agentDiagnostics.filter((d) => d.severity === 'warning')]) onWarning(w);
  if (agentErrors.length > 0) throw new ConfigError(agentErrors);
  return config;
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
  const kd = KEEPALIVED_RE.exec(text);
  if (kd) {
    const line = text.slice(0, kd.index + kd[0].search(/\S/)).split('\n').length;
    throw notOurs('this looks like a keepalived.conf, which carpool cannot read yet', line);
  }
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
