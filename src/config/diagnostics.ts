/**
 * The diagnostics every configuration front end (carpool YAML, keepalived.conf) reports: a stable
 * code (tests assert on it), a severity, file:line:column, what is wrong and what would be accepted.
 */
import type { Diagnostic } from '../lib/errors.js';

/** The resources section, and what the host says about its agents (resources/shell/agent-check.ts). */
export type ResourceDiagnosticCode =
  | 'INVALID_AGENT'
  | 'UNKNOWN_INSTANCE'
  | 'UNKNOWN_RESOURCE'
  | 'UNKNOWN_GROUP'
  | 'GROUP_CYCLE'
  | 'UNGROUPED_RESOURCE'
  | 'RESOURCE_IN_TWO_GROUPS'
  | 'AGENT_NOT_FOUND'
  | 'AGENT_PARAM_MISSING'
  | 'AGENT_PARAM_UNKNOWN'
  | 'AGENT_META_DATA'
  | 'AGENT_VALIDATE'
  | 'SYSTEMD_NOT_PID1';

/** What the keepalived.conf reader (keepalived/syntax.ts) reports before any keyword is read. */
export type SyntaxCode =
  | 'SYNTAX'
  | 'UNBALANCED_BRACE'
  | 'INCLUDE_FAILED'
  | 'INCLUDE_LOOP'
  | 'SUBSTITUTION_LOOP'
  | 'NESTING'
  | 'NOT_SUPPORTED';

export type ConfigDiagnosticCode =
  | ResourceDiagnosticCode
  | 'YAML_SYNTAX'
  // input-guard.ts: what no parser should see
  | 'NOT_TEXT'
  | 'NOT_UTF8'
  | 'NOT_A_FILE'
  | 'YAML_WARNING'
  | 'EMPTY_CONFIG'
  | 'NOT_A_MAPPING'
  | 'DUPLICATE_KEY'
  | 'UNKNOWN_KEY'
  | 'MISSING_KEY'
  | 'NO_VALUE'
  | 'INVALID_TYPE'
  | 'OUT_OF_RANGE'
  | 'INVALID_VALUE'
  | 'INVALID_ADDRESS'
  | 'NOT_SUPPORTED'
  | 'PASSWORD_CONFLICT'
  | 'PASSWORD_TOO_LONG'
  | 'PASSWORD_TRUNCATED'
  | 'AH_INITIAL_STATE'
  | 'PASSWORD_FILE_UNREADABLE'
  | 'PASSWORD_FILE_PERMISSIONS'
  | 'PASSWORD_CR'
  | 'CONFIG_PERMISSIONS'
  | 'NO_ADVERTISEMENT_INTERVAL'
  | 'BOW_OUT_TIMING'
  | 'DECIMAL_LEADING_ZERO'
  | 'MCAST_NOT_MULTICAST'
  | 'DUPLICATE_NAME'
  | 'DUPLICATE_VHID'
  | 'DUPLICATE_ADDRESS'
  | 'INSECURE_LISTEN'
  | SyntaxCode
  | 'UNKNOWN_KEYWORD'
  | 'DUPLICATE_KEYWORD'
  | 'MISSING_ARGUMENT'
  | 'EXTRA_ARGUMENT'
  | 'BLOCK_EXPECTED'
  | 'UNEXPECTED_BLOCK'
  | 'LVS_NOT_SUPPORTED'
  | 'LVS_SKIPPED'
  | 'NEEDS_SHELL'
  // a value keepalived corrects (no protocol → UDP, quorum above the total weight...), with a warning
  | 'LVS_DEFAULT'
  | 'DEPRECATED'
  // accepted, but carpool does nothing with it (mail alerts, process tuning, script users)
  | 'NOT_USED'
  // VRRP semantics
  | 'PRIORITY_DEFAULT'
  | 'NO_ADDRESSES'
  | 'ADVERT_INT_ROUNDED'
  | 'NOPREEMPT_IGNORED'
  | 'UNDEFINED_REFERENCE'
  | 'SYNC_GROUP'
  | 'FAMILY_MISMATCH'
  | 'STRICT_MODE'
  // load sharing (issue 15): bucket count, node list, vhid ranges
  | 'SHARING_LAYOUT';

/** A position in an input file; 1-based. */
export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A Diagnostic with a stable code (tests assert on it) and a severity. */
export interface ConfigDiagnostic extends Diagnostic {
  readonly code: ConfigDiagnosticCode;
  readonly severity: 'error' | 'warning';
  /** Always set for carpool's own diagnostics. */
  readonly expected: string;
  /**
   * keepalived.conf: a warning about what keepalived itself logs and works around (skips the
   * keyword, ignores the word...), for which `keepalived -t` exits 4 (and `carpool check` too).
   */
  readonly keepalivedSkips?: true;
}

/** Orders diagnostics by file, then position. */
export function byPosition(a: ConfigDiagnostic, b: ConfigDiagnostic): number {
  return a.file === b.file ? a.line - b.line || a.column - b.column : 0;
}
