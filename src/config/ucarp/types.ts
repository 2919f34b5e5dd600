/** What `parseUcarpArgs` takes and returns: options, problems (with ucarp's own exit status) and results. */
import type { CarpInstance, CarpoolConfig } from '../model.js';

export interface UcarpArgsOptions {
  /**
   * Interface to use when `-i` is missing or empty. ucarp asks `pcap_lookupdev()` (the first up,
   * non-loopback device); the caller looks at the system, this module cannot.
   */
  readonly defaultInterface?: string;
  /** Reads a `--passfile`; throws (any Error) when the file cannot be read. */
  readonly readFile?: (path: string) => string;
  /** `stat` mode of a `--passfile` (undefined = unknown): group/other-readable gets a warning. */
  readonly statMode?: (path: string) => number | undefined;
  /** Directory for the control socket and state (default /run/carpool; the CLI passes its per-namespace run directory). */
  readonly runDir?: string;
}

export type UcarpErrorCode =
  | 'UNKNOWN_OPTION'
  | 'AMBIGUOUS_OPTION'
  | 'MISSING_ARGUMENT'
  | 'UNEXPECTED_ARGUMENT'
  | 'INVALID_ADDRESS'
  | 'INVALID_NUMBER'
  | 'OUT_OF_RANGE'
  | 'INVALID_MCAST'
  | 'EMPTY_SCRIPT'
  | 'PASSFILE_UNREADABLE'
  | 'PASSWORD_TOO_LONG'
  | 'MISSING_INTERFACE'
  | 'MISSING_VHID'
  | 'MISSING_PASSWORD'
  | 'MISSING_SRCIP'
  | 'MISSING_ADDR'
  | 'NO_ADVERTISEMENT_INTERVAL';

export interface UcarpError {
  readonly code: UcarpErrorCode;
  /** What is wrong; names the option, never contains the password. */
  readonly message: string;
  readonly expected?: string;
  readonly hint?: string;
  /** The option as written (`-b`, `--adv`), when the problem is about one. */
  readonly option?: string;
  /** Index in argv of the element, when the problem is about one. */
  readonly index?: number;
  /**
   * ucarp 1.5.2's exit status when this is the first problem it meets: 0 = prints its usage and exits
   * 0, 1 = option error, 2 = fails after starting (`docarp()`). Undefined when ucarp accepts this
   * value (carpool is stricter; a later check may still stop ucarp, e.g. `-b 256` becomes advbase 0).
   */
  readonly ucarpExitCode?: 0 | 1 | 2;
}

export type UcarpWarningCode =
  | 'DEFAULT_INTERFACE'
  | 'UNKNOWN_FACILITY'
  | 'NO_UPSCRIPT'
  | 'NO_DOWNSCRIPT'
  | 'OPERAND_IGNORED'
  | 'OPTION_REPEATED'
  | 'OCTAL_NUMBER'
  | 'PASSWORD_CR'
  | 'PASSWORD_FILE_PERMISSIONS'
  | 'MCAST_NOT_MULTICAST'
  | 'BOW_OUT_TIMING';

export interface UcarpWarning {
  readonly code: UcarpWarningCode;
  /** The syslog level ucarp logs this at (an unknown facility is an ERROR that does not stop ucarp). */
  readonly level: 'info' | 'warning' | 'error';
  readonly message: string;
  readonly option?: string;
  readonly index?: number;
}

interface ResultBase {
  /** argv with every password value replaced by `*`s, for `process.title`. */
  readonly sanitizedArgv: readonly string[];
  readonly warnings: readonly UcarpWarning[];
}

/** `-h`/`--help` (before any error), or no arguments at all: print `ucarpUsage()`, exit 0 (as ucarp). */
export interface UcarpHelp extends ResultBase {
  readonly kind: 'help';
  readonly reason: 'help-option' | 'no-arguments';
  readonly exitCode: 0;
}

export interface UcarpRun extends ResultBase {
  readonly kind: 'config';
  readonly config: CarpoolConfig;
  /** The one instance (also `config.instances[0]`). */
  readonly instance: CarpInstance;
  /** `-B`: a process concern, not part of the model. */
  readonly daemonize: boolean;
}

export interface UcarpFailure extends ResultBase {
  readonly kind: 'error';
  /** carpool exits 1 for every option problem (see `UcarpError.ucarpExitCode` for ucarp's). */
  readonly exitCode: 1;
  readonly errors: readonly UcarpError[];
}

export type UcarpArgsResult = UcarpHelp | UcarpRun | UcarpFailure;
