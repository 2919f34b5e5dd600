/**
 * A pure work-alike of glibc `getopt_long()` (glibc 2.36, `posix/getopt.c`), because ucarp's command
 * line is defined by it and no JavaScript option parser reproduces its rules:
 *
 * - short options cluster (`-Pz`), a short option's argument is the rest of the element (`-pSECRET`)
 *   or the next element, whatever it looks like (`-p -P` gives the password `-P`);
 * - `--name=value` and `--name value`; a long option may be abbreviated to any unambiguous prefix
 *   (`--mcast=` is `--mcastip`); an exact name always wins over longer names it prefixes (`--pass`
 *   is not ambiguous with `--passfile`); prefixes shared by options that differ are ambiguous;
 * - `--` ends the options; a lone `-` is an operand;
 * - GNU permutation: operands may be interleaved with options (unless the optstring starts with `+`,
 *   glibc's REQUIRE_ORDER, which stops at the first operand);
 * - errors do not stop the scan: glibc prints a message, returns `?` and carries on, so do we
 *   (collecting every error in argv order).
 *
 * Nothing here prints or throws: the result is data. `message` is glibc's text without the
 * `program: ` prefix, so callers can reproduce ucarp's stderr byte for byte if they wish.
 */

export type ArgumentRule = 'none' | 'required' | 'optional';

export interface LongOption {
  /** Name without the leading `--`. */
  readonly name: string;
  readonly argument: ArgumentRule;
  /**
   * What the option means, usually its short letter (`'i'` for `--interface`). Two long options with
   * the same key and argument rule are aliases, so a prefix matching both is not ambiguous (glibc
   * compares `has_arg`, `flag` and `val`).
   */
  readonly key: string;
}

export interface GetoptSpec {
  /** A getopt optstring: `x` flag, `x:` required argument, `x::` optional (attached only). */
  readonly optstring: string;
  readonly longOptions: readonly LongOption[];
}

export interface ParsedOption {
  /** The short letter or the long option's `key`. */
  readonly key: string;
  /** How the option was written, without any `=value`: `-p`, `--pass`, `--mcast`. */
  readonly spelled: string;
  /** For long options, the full name matched (`mcastip` for `--mcast`). */
  readonly longName?: string;
  /** Index in argv of the element holding the option. */
  readonly index: number;
  /** Position in the sequence getopt reports options and errors in (orders `-hm` vs `-mh`). */
  readonly seq: number;
  readonly value?: string;
  /** Index in argv of the element holding the value (same as `index` when attached). */
  readonly valueIndex?: number;
  /** Offset of the value inside `argv[valueIndex]` (0 when it is a whole element). */
  readonly valueOffset?: number;
}

export type GetoptErrorCode =
  /** `--foo`: no long option has this name or prefix. */
  | 'UNRECOGNIZED_OPTION'
  /** `-m`: not in the optstring. */
  | 'INVALID_OPTION'
  /** `--pas`: a prefix of several long options that mean different things. */
  | 'AMBIGUOUS_OPTION'
  /** `-p` or `--pass` at the end of argv. */
  | 'MISSING_ARGUMENT'
  /** `--preempt=yes`: the option takes no argument. */
  | 'UNEXPECTED_ARGUMENT';

export interface GetoptError {
  readonly code: GetoptErrorCode;
  /** glibc's message, without the `program: ` prefix. May contain the `=value` part (as glibc's does). */
  readonly message: string;
  /** The option as written, without any `=value` (`--pas`, `-m`). Safe to show: never a value. */
  readonly option: string;
  readonly index: number;
  /** Position in the sequence getopt reports options and errors in. */
  readonly seq: number;
  /** For AMBIGUOUS_OPTION, the full names (with `--`) of the candidates, in table order. */
  readonly candidates?: readonly string[];
  /** For errors about a known option, its key. */
  readonly key?: string;
}

export interface Operand {
  readonly value: string;
  readonly index: number;
}

export interface GetoptResult {
  /** Options in the order getopt returns them. */
  readonly options: readonly ParsedOption[];
  /** Non-option arguments in argv order (what glibc permutes to the end). */
  readonly operands: readonly Operand[];
  readonly errors: readonly GetoptError[];
  /** Index of the `--` that ended option processing, if there was one. */
  readonly endOfOptions?: number;
}

interface ShortRule {
  readonly argument: ArgumentRule;
}

interface ParsedOptstring {
  readonly shorts: ReadonlyMap<string, ShortRule>;
  /** `+` prefix (or POSIXLY_CORRECT in glibc): stop at the first operand. */
  readonly requireOrder: boolean;
}

function parseOptstring(optstring: string): ParsedOptstring {
  let s = optstring;
  let requireOrder = false;
  // glibc: leading '-' (RETURN_IN_ORDER) or '+' (REQUIRE_ORDER), then an optional ':' (quiet mode,
  // which only changes the return value, irrelevant for structured results).
  if (s.startsWith('+')) { requireOrder = true; s = s.slice(1); } else if (s.startsWith('-')) s = s.slice(1);
  if (s.startsWith(':')) s = s.slice(1);
  const shorts = new Map<string, ShortRule>();
  const chars = [...s];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === ':' || c === ';') continue;
    let argument: ArgumentRule = 'none';
    if (chars[i + 1] === ':') {
      argument = chars[i + 2] === ':' ? 'optional' : 'required';
      i += argument === 'optional' ? 2 : 1;
    }
    shorts.set(c, { argument });
  }
  return { shorts, requireOrder };
}

function sameMeaning(a: LongOption, b: LongOption): boolean {
  return a.argument === b.argument && a.key === b.key;
}

type OptionNoSeq = Omit<ParsedOption, 'seq'>;
type ErrorNoSeq = Omit<GetoptError, 'seq'>;

/** Collects options and errors in the order getopt would report them. */
class Collector {
  readonly options: ParsedOption[] = [];
  readonly errors: GetoptError[] = [];
  private seq = 0;
  option(o: OptionNoSeq): void { this.options.push({ ...o, seq: this.seq++ }); }
  error(e: ErrorNoSeq): void { this.errors.push({ ...e, seq: this.seq++ }); }
}

/**
 * Parse `args` (argv without the program name) the way glibc `getopt_long()` would with this spec.
 * Never throws.
 */
export function getoptLong(args: readonly string[], spec: GetoptSpec): GetoptResult {
  const { shorts, requireOrder } = parseOptstring(spec.optstring);
  const out = new Collector();
  const operands: Operand[] = [];
  let endOfOptions: number | undefined;

  let i = 0;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === '--') {
      endOfOptions = i;
      for (let j = i + 1; j < args.length; j++) operands.push({ value: args[j]!, index: j });
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (requireOrder) {
        for (let j = i; j < args.length; j++) operands.push({ value: args[j]!, index: j });
        break;
      }
      operands.push({ value: arg, index: i });
      i++;
      continue;
    }
    i = arg.startsWith('--') ? longOption(args, i, spec.longOptions, out) : shortCluster(args, i, shorts, out);
  }
  const result = { options: out.options, operands, errors: out.errors };
  return endOfOptions === undefined ? result : { ...result, endOfOptions };
}

/** Handle `args[i]`, which starts with `--` and is longer than 2. Returns the next index. */
function longOption(args: readonly string[], i: number, table: readonly LongOption[], out: Collector): number {
  const arg = args[i]!;
  const body = arg.slice(2);
  const eq = body.indexOf('=');
  const name = eq >= 0 ? body.slice(0, eq) : body;
  const spelled = `--${name}`;

  let found = table.find((o) => o.name === name);
  if (!found) {
    const matches = table.filter((o) => o.name.startsWith(name));
    const first = matches[0];
    if (first && matches.some((o) => !sameMeaning(o, first))) {
      // glibc lists the first match and every later match that differs from it, in table order.
      const candidates = matches.filter((o, k) => k === 0 || !sameMeaning(o, first)).map((o) => `--${o.name}`);
      out.error({
        code: 'AMBIGUOUS_OPTION', option: spelled, index: i, candidates,
        message: `option '${arg}' is ambiguous; possibilities: ${candidates.map((c) => `'${c}'`).join(' ')}`,
      });
      return i + 1;
    }
    found = first;
  }
  if (!found) {
    out.error({ code: 'UNRECOGNIZED_OPTION', option: spelled, index: i, message: `unrecognized option '${arg}'` });
    return i + 1;
  }
  const base = { key: found.key, spelled, longName: found.name, index: i };
  if (eq >= 0) {
    if (found.argument === 'none') {
      out.error({
        code: 'UNEXPECTED_ARGUMENT', option: spelled, index: i, key: found.key,
        message: `option '--${found.name}' doesn't allow an argument`,
      });
      return i + 1;
    }
    out.option({ ...base, value: body.slice(eq + 1), valueIndex: i, valueOffset: 2 + eq + 1 });
    return i + 1;
  }
  if (found.argument === 'required') {
    if (i + 1 < args.length) {
      out.option({ ...base, value: args[i + 1]!, valueIndex: i + 1, valueOffset: 0 });
      return i + 2;
    }
    out.error({
      code: 'MISSING_ARGUMENT', option: spelled, index: i, key: found.key,
      message: `option '--${found.name}' requires an argument`,
    });
    return i + 1;
  }
  out.option(base);
  return i + 1;
}

/** Handle `args[i]`, a `-xyz` cluster. Returns the next index. */
function shortCluster(args: readonly string[], i: number, shorts: ReadonlyMap<string, ShortRule>, out: Collector): number {
  const arg = args[i]!;
  // Iterate by code point so a non-ASCII character is reported whole (glibc works on bytes).
  let offset = 1;
  while (offset < arg.length) {
    const c = String.fromCodePoint(arg.codePointAt(offset)!);
    offset += c.length;
    const rule = shorts.get(c);
    if (!rule) {
      out.error({ code: 'INVALID_OPTION', option: `-${c}`, index: i, message: `invalid option -- '${c}'` });
      continue;
    }
    const base = { key: c, spelled: `-${c}`, index: i };
    if (rule.argument === 'none') {
      out.option(base);
      continue;
    }
    if (offset < arg.length) {
      out.option({ ...base, value: arg.slice(offset), valueIndex: i, valueOffset: offset });
      return i + 1;
    }
    if (rule.argument === 'optional') {
      out.option(base);
      return i + 1;
    }
    if (i + 1 < args.length) {
      out.option({ ...base, value: args[i + 1]!, valueIndex: i + 1, valueOffset: 0 });
      return i + 2;
    }
    out.error({
      code: 'MISSING_ARGUMENT', option: `-${c}`, index: i, key: c,
      message: `option requires an argument -- '${c}'`,
    });
    return i + 1;
  }
  return i + 1;
}

/** `program: message`, as glibc prints it on stderr. */
export function formatGetoptError(error: GetoptError, program: string): string {
  return `${program}: ${error.message}`;
}
