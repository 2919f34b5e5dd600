/**
 * Errors that reach an operator carry a stable code (tests assert on it), a message
 * that says what is wrong, and a hint that says what to do. Modelled on ws `WS_ERR_*`
 * and undici `UND_ERR_*`.
 */
export class CarpoolError extends Error {
  override readonly name = 'CarpoolError';
  constructor(
    /** Stable machine-readable code, e.g. `CONFIG_INVALID`, `NATIVE_MISSING`. */
    readonly code: string,
    message: string,
    /** What the operator should do about it. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** One line for the console: message plus hint. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/** A located problem in an input file: `file:line:col: message (expected ...)`. */
export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** What would have been accepted, e.g. `an integer 1..255`. */
  readonly expected?: string;
  /** Stable code for tests, e.g. `UNKNOWN_KEY`. */
  readonly code?: string;
  readonly severity?: 'error' | 'warning';
}

/** Longest message (and `expected`) of one diagnostic line: input echoed in it (a 10 MB token) is cut. */
const MAX_DIAGNOSTIC = 500;

function cut(s: string): string {
  return s.length <= MAX_DIAGNOSTIC ? s : `${s.slice(0, MAX_DIAGNOSTIC)}… (${s.length} characters)`;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.line}:${d.column}`;
  return d.expected ? `${where}: ${cut(d.message)} (expected ${cut(d.expected)})` : `${where}: ${cut(d.message)}`;
}

/** Thrown when a configuration does not validate; nothing has been changed yet. */
export class ConfigError extends CarpoolError {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super('CONFIG_INVALID', diagnostics.map(formatDiagnostic).join('\n'),
      'fix the lines above; `carpool check -c FILE` validates without touching the network');
  }
}
