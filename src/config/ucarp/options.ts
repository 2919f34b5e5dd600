/**
 * ucarp 1.5.2's options as a table: one entry per option with its long name, its key (the short
 * letter, or `m` for `--mcastip`, which has none), whether it takes an argument and what it sets.
 * getopt's long-option table is derived from it; `OptionReader` holds what the options set so far
 * and the checks every value goes through (addresses, C numbers, repeats, the passfile).
 */
import type { LongOption, ArgumentRule, ParsedOption } from './getopt.js';
import { normalizeFacility, passwordFromFile } from '../common.js';
import { parseIPv4 } from '../../protocol/inet.js';
import type { UcarpArgsOptions, UcarpError, UcarpWarning } from './types.js';

/** ucarp 1.5.2's getopt string (`-m` is in the usage text but not here, so ucarp rejects it). */
export const UCARP_OPTSTRING = 'i:s:v:p:Pa:hb:k:x:nu:d:Dr:zf:Bo:SM';

export interface Setting<T> {
  readonly value: T;
  readonly opt: ParsedOption;
}

/** What the options set; a flag (`-P`, `-n`, `-D`, `-z`, `-B`, `-S`, `-M`) is in `flags` by its key. */
export interface Settings {
  iface?: Setting<string>;
  srcip?: Setting<string>;
  mcast?: Setting<string>;
  vhid?: Setting<number>;
  password?: Setting<string>;
  addr?: Setting<string>;
  advbase?: Setting<number>;
  advskew?: Setting<number>;
  upscript?: Setting<string>;
  downscript?: Setting<string>;
  deadratio?: Setting<number>;
  xparam?: Setting<string>;
  facility: string;
  readonly flags: Set<string>;
}

/** `-b`, or `--advbase` as the user spelled it, for messages. */
export function optName(opt: ParsedOption): string {
  return opt.spelled;
}

export function describeOption(key: string): string {
  const long = UCARP_OPTIONS.find((o) => o.key === key)?.long;
  const short = key === 'm' ? undefined : key;
  return short ? `--${long} (-${short})` : `--${long}`;
}

/** The settings so far, the problems found, and the readers the handlers share. */
export class OptionReader {
  readonly errors: UcarpError[] = [];
  readonly warnings: UcarpWarning[] = [];
  readonly s: Settings = { facility: 'daemon', flags: new Set() };
  /** The last value of each option (group), valid or not. */
  readonly lastValue = new Map<string, Setting<string>>();

  constructor(readonly options: UcarpArgsOptions) {}

  error(e: UcarpError): void { this.errors.push(e); }
  warn(w: UcarpWarning): void { this.warnings.push(w); }

  /** ucarp keeps the last value of a repeated option; say so when the values differ. */
  noteRepeat(opt: ParsedOption, value: string, group: string, secret = false): void {
    const prev = this.lastValue.get(group);
    if (prev && prev.value !== value) {
      this.warn({
        code: 'OPTION_REPEATED', level: 'warning', option: optName(opt), index: opt.index,
        message: secret
          ? `the password is given more than once (${optName(prev.opt)}, then ${optName(opt)}); the last one is used, as ucarp does`
          : `${describeOption(opt.key)} is given more than once ('${prev.value}', then '${value}'); the last one is used, as ucarp does`,
      });
    }
    this.lastValue.set(group, { value, opt });
  }

  address(opt: ParsedOption, what: string): string | undefined {
    const text = opt.value!;
    if (parseIPv4(text) && text !== '0.0.0.0') return text;
    if (text === '0.0.0.0' && (opt.key === 's' || opt.key === 'a')) {
      // ucarp treats 0.0.0.0 as "not given" and says so after the option loop.
      this.error({
        code: 'INVALID_ADDRESS', option: optName(opt), index: opt.index, ucarpExitCode: 1, expected: `${what}, a dotted IPv4 address such as 10.0.0.1`,
        message: opt.key === 's'
          ? `${optName(opt)}: You must supply a persistent source address (0.0.0.0 is not one)`
          : `${optName(opt)}: You must supply a virtual host address (0.0.0.0 is not one)`,
      });
      return undefined;
    }
    let hint: string | undefined;
    if (/^[0-9.]+\/\d+$/.test(text)) hint = 'ucarp takes a bare address: drop the /prefix';
    else if (text.includes(':')) hint = 'ucarp (and carpool in ucarp mode) handles IPv4 only';
    else if (text.startsWith('-')) hint = `the option before it probably has no value (${optName(opt)} took '${text}')`;
    this.error({
      code: 'INVALID_ADDRESS', option: optName(opt), index: opt.index, ucarpExitCode: 1,
      message: `${optName(opt)}: Invalid address: [${text}]`, expected: `${what}, a dotted IPv4 address such as 10.0.0.1`,
      ...(hint ? { hint } : {}),
    });
    return undefined;
  }

  integer(opt: ParsedOption, min: number, max: number, what: string, wraps: boolean): number | undefined {
    const text = opt.value!;
    const n = parseCNumber(text);
    const expected = `an integer ${min}..${max}`;
    if (!n.ok) {
      const ucarpReads = strtoulPrefix(text);
      this.error({
        code: 'INVALID_NUMBER', option: optName(opt), index: opt.index, expected,
        message: opt.key === 'v'
          ? `${optName(opt)}: vhid must be between 1 and 255 (got '${text}', which is not a whole number)`
          : `${optName(opt)}: ${what} must be a whole number, got '${text}'`,
        ...(opt.key === 'v' ? {} : { hint: `ucarp would read it as ${wraps ? ucarpReads & 0xffn : ucarpReads}` }),
        ...ucarpExitForNumber(opt.key, ucarpReads),
      });
      return undefined;
    }
    if (n.value < min || n.value > max) {
      const wrapped = n.value % 256;
      this.error({
        code: 'OUT_OF_RANGE', option: optName(opt), index: opt.index, expected,
        message: opt.key === 'v'
          ? `${optName(opt)}: vhid must be between 1 and 255 (got '${text}')`
          : opt.key === 'r' && n.value === 0
            ? `${optName(opt)}: Dead ratio can't be zero`
            : `${optName(opt)}: ${what} must be between ${min} and ${max} (got '${text}')`,
        ...(wraps ? { hint: `ucarp would silently use ${wrapped}` } : {}),
        ...ucarpExitForNumber(opt.key, BigInt(n.value)),
      });
      return undefined;
    }
    if (n.octal && n.value !== Number(text.replace(/^0+(?=.)/, ''))) {
      this.warn({
        code: 'OCTAL_NUMBER', level: 'warning', option: optName(opt), index: opt.index,
        message: `${optName(opt)} ${text}: a leading 0 means octal, so this is ${n.value} (as in ucarp)`,
      });
    }
    return n.value;
  }

  /** `--passfile`: the first line, as ucarp reads it. */
  passfile(opt: ParsedOption): string | undefined {
    const readFile = this.options.readFile;
    const path = opt.value!;
    const fail = (message: string, hint?: string) => {
      this.error({
        code: 'PASSFILE_UNREADABLE', option: optName(opt), index: opt.index, ucarpExitCode: 1,
        expected: 'a readable file whose first line is the password', message, ...(hint ? { hint } : {}),
      });
    };
    if (!readFile) {
      fail(`unable to open passfile ${path} for reading: no file reader available`);
      return undefined;
    }
    let text: string;
    try {
      text = readFile(path);
    } catch (e) {
      fail(`unable to open passfile ${path} for reading: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
    if (text === '') {
      fail(`error reading passfile ${path}: unexpected end of file`, 'put the password on the first line');
      return undefined;
    }
    const { password: line, endsWithCR } = passwordFromFile(text);
    if (endsWithCR) {
      this.warn({
        code: 'PASSWORD_CR', level: 'warning', option: optName(opt), index: opt.index,
        message: `passfile ${path} has a DOS line ending: the carriage return is part of the password, as in ucarp`,
      });
    }
    // ucarp does not check; carpool's YAML password_file gets the same warning.
    const mode = this.options.statMode?.(path);
    if (mode !== undefined && (mode & 0o044) !== 0) {
      this.warn({
        code: 'PASSWORD_FILE_PERMISSIONS', level: 'warning', option: optName(opt), index: opt.index,
        message: `passfile ${path} is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it`,
      });
    }
    return line;
  }
}

type CNumber = { ok: true; value: number; octal: boolean } | { ok: false };

/**
 * A number as C `strtoul(s, NULL, 0)` reads it, but only when the whole text is the number:
 * `0x2a` hex, `010` octal, `42` decimal.
 */
function parseCNumber(text: string): CNumber {
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return { ok: true, value: parseInt(text.slice(2), 16), octal: false };
  if (/^0[0-7]*$/.test(text)) return { ok: true, value: text.length > 1 ? parseInt(text, 8) : 0, octal: text.length > 1 };
  if (/^[1-9][0-9]*$/.test(text)) return { ok: true, value: Number(text), octal: false };
  return { ok: false };
}

/** What `strtoul()` reads from `text` (a prefix; 0 when none), as ucarp would use it. */
function strtoulPrefix(text: string): bigint {
  const t = text.trimStart();
  const neg = t.startsWith('-');
  const s = t.replace(/^[+-]/, '');
  const hex = /^0[xX]([0-9a-fA-F]+)/.exec(s);
  const radix = hex ? 16 : s.startsWith('0') ? 8 : 10;
  const digits = hex ? hex[1]! : (radix === 8 ? /^[0-7]*/ : /^[0-9]*/).exec(s)![0];
  let v = 0n;
  for (const d of digits) v = v * BigInt(radix) + BigInt(parseInt(d, radix));
  const max = (1n << 64n) - 1n;
  if (v > max) v = max;
  return neg && v !== 0n ? (max + 1n - v) & max : v;
}

/** ucarp's exit status for a number it reads as `value` (it validates vhid and deadratio only). */
function ucarpExitForNumber(key: string, value: bigint): { ucarpExitCode?: 0 | 1 | 2 } {
  if (key === 'v' && (value < 1n || value > 255n)) return { ucarpExitCode: 1 }; // "vhid must be between 1 and 255." 
  if (key === 'r' && (value & 0xffffffffn) === 0n) return { ucarpExitCode: 1 }; // "Dead ratio can't be zero"
  return {};
}

type Apply = (opt: ParsedOption, x: OptionReader) => void;

export interface UcarpOption {
  /** The long name (`interface`). */
  readonly long: string;
  /** The short letter, or for an option without one (`--mcastip`) the key it is known by. */
  readonly key: string;
  readonly short: boolean;
  readonly argument: ArgumentRule;
  /** What the option sets; `-h` has none (it is acted on while walking the options). */
  readonly apply?: Apply;
}

const text = (field: 'iface' | 'xparam'): Apply => (opt, x) => {
  const v = opt.value ?? '';
  x.noteRepeat(opt, v, opt.key);
  x.s[field] = { value: v, opt };
};

const address = (field: 'srcip' | 'mcast' | 'addr', what: string): Apply => (opt, x) => {
  x.noteRepeat(opt, opt.value ?? '', opt.key);
  const a = x.address(opt, what);
  if (a) x.s[field] = { value: a, opt };
};

const integer = (field: 'vhid' | 'advbase' | 'advskew' | 'deadratio', min: number, max: number, what: string, wraps: boolean): Apply => (opt, x) => {
  x.noteRepeat(opt, opt.value ?? '', opt.key);
  const n = x.integer(opt, min, max, what, wraps);
  if (n !== undefined) x.s[field] = { value: n, opt };
};

const script = (field: 'upscript' | 'downscript'): Apply => (opt, x) => {
  const v = opt.value ?? '';
  x.noteRepeat(opt, v, opt.key);
  if (v === '') {
    x.error({
      code: 'EMPTY_SCRIPT', option: optName(opt), index: opt.index, expected: 'the path of an executable',
      message: `${optName(opt)}: the script path is empty`,
      hint: 'leave the option out to run no script',
    });
  } else x.s[field] = { value: v, opt };
};

const flag: Apply = (opt, x) => { x.s.flags.add(opt.key); };

const opt = (long: string, key: string, argument: ArgumentRule, apply?: Apply, short = true): UcarpOption =>
  ({ long, key, short, argument, ...(apply ? { apply } : {}) });

/** ucarp 1.5.2's `long_options[]`, in table order (the order matters for ambiguity messages). */
export const UCARP_OPTIONS: readonly UcarpOption[] = [
  opt('interface', 'i', 'required', text('iface')),
  opt('srcip', 's', 'required', address('srcip', 'the source address')),
  opt('mcastip', 'm', 'required', address('mcast', 'the multicast group'), false),
  opt('vhid', 'v', 'required', integer('vhid', 1, 255, 'vhid', false)),
  opt('pass', 'p', 'required', (o, x) => {
    const v = o.value ?? '';
    x.noteRepeat(o, v, 'password', true);
    x.s.password = { value: v, opt: o };
  }),
  opt('preempt', 'P', 'none', flag),
  opt('neutral', 'n', 'none', flag),
  opt('addr', 'a', 'required', address('addr', 'the virtual address')),
  opt('help', 'h', 'none'),
  opt('advbase', 'b', 'required', integer('advbase', 0, 255, 'advbase (seconds)', true)),
  opt('advskew', 'k', 'required', integer('advskew', 0, 255, 'advskew', true)),
  opt('upscript', 'u', 'required', script('upscript')),
  opt('downscript', 'd', 'required', script('downscript')),
  opt('deadratio', 'r', 'required', integer('deadratio', 1, 255, 'deadratio', false)),
  opt('debug', 'D', 'none', flag),
  opt('shutdown', 'z', 'none', flag),
  opt('facility', 'f', 'required', (o, x) => {
    const v = o.value ?? '';
    x.noteRepeat(o, v, 'f');
    const f = normalizeFacility(v);
    if (f) x.s.facility = f;
    else {
      x.warn({
        code: 'UNKNOWN_FACILITY', level: 'error', option: optName(o), index: o.index,
        message: `Unknown syslog facility: [${v}] (keeping ${x.s.facility})`,
      });
    }
  }),
  opt('daemonize', 'B', 'none', flag),
  opt('ignoreifstate', 'S', 'none', flag),
  opt('nomcast', 'M', 'none', flag),
  opt('passfile', 'o', 'required', (o, x) => {
    const pw = x.passfile(o);
    if (pw !== undefined) { x.noteRepeat(o, pw, 'password', true); x.s.password = { value: pw, opt: o }; }
  }),
  opt('xparam', 'x', 'required', text('xparam')),
];

/** getopt's view of `UCARP_OPTIONS`. */
export const UCARP_LONG_OPTIONS: readonly LongOption[] = UCARP_OPTIONS.map((o) => ({ name: o.long, argument: o.argument, key: o.key }));

export const OPTION_BY_KEY: ReadonlyMap<string, UcarpOption> = new Map(UCARP_OPTIONS.map((o) => [o.key, o]));
