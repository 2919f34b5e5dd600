/**
 * `carpool ucarp [options]`: ucarp 1.5.2's command line (`src/ucarp.c`, `src/ucarp_p.h`) turned into
 * the validated model. Same options, long and short, same meanings and defaults, same getopt_long
 * parsing (see getopt.ts), so an existing init script or systemd unit keeps working when the binary
 * name changes. Pure: file reading and the default interface are handed in.
 *
 * Deliberate differences from ucarp (each one turns a silent surprise into an error or a warning;
 * they are listed for users at the end of `ucarpUsage()` and in docs/config.md):
 * - an unknown or ambiguous option, a missing option argument and an argument given to a flag are
 *   errors (exit 1). ucarp prints its usage and exits 0, so a typo in an init script looks like success.
 * - `-b`/`-k` outside 0..255 are errors; ucarp keeps the low 8 bits (`-b 256` is 0, `-k 300` is 44).
 * - numbers must be whole numbers: `-v 5abc`, `-b 1s`, `-b ''` are errors; ucarp's `strtoul()` reads a
 *   prefix (5, 1, 0). ucarp's number syntax is kept: `0x2a` is hex and a leading 0 is octal
 *   (`-v 010` is vhid 8, with a warning), or a cluster of ucarp and carpool nodes would disagree.
 * - `-r` (deadratio) is limited to 1..255 (ucarp: any unsigned int but 0).
 * - `--mcastip` must be a multicast address unless `--nomcast` (ucarp fails later, exit 2, at
 *   IP_ADD_MEMBERSHIP); `-u ''`/`-d ''` are errors (ucarp logs a failed exec on every transition).
 * - all problems are reported at once instead of the first one only.
 * - the password is not left visible in `ps` (see `sanitizedArgv`).
 * - a password too long is an option error (exit 1); ucarp finds it later and exits 2.
 * - syslog facility `mark` is not accepted (ucarp accepts glibc's internal pseudo-facility).
 * Operands (`ucarp / --vhid=1 ...`) are ignored as ucarp ignores them, but with a warning.
 */
import { getoptLong, type GetoptError, type LongOption, type ParsedOption } from './getopt.js';
import { CARP_MCAST, DEFAULT_STATE_DIR, type CarpInstance, type CarpoolConfig, type Hook } from './model.js';
import {
  PASSWORD_MAX_BYTES, byteLength, defaultInstanceName, isIPv4Multicast, normalizeFacility, shellFields, suggest,
  ucarpControlSocket,
  passwordFromFile,
} from './common.js';
import { parseIPv4 } from '../protocol/inet.js';

/** ucarp 1.5.2's getopt string (`-m` is in the usage text but not here, so ucarp rejects it). */
export const UCARP_OPTSTRING = 'i:s:v:p:Pa:hb:k:x:nu:d:Dr:zf:Bo:SM';

/** ucarp 1.5.2's `long_options[]`, in table order (the order matters for ambiguity messages). */
export const UCARP_LONG_OPTIONS: readonly LongOption[] = [
  { name: 'interface', argument: 'required', key: 'i' },
  { name: 'srcip', argument: 'required', key: 's' },
  { name: 'mcastip', argument: 'required', key: 'm' },
  { name: 'vhid', argument: 'required', key: 'v' },
  { name: 'pass', argument: 'required', key: 'p' },
  { name: 'preempt', argument: 'none', key: 'P' },
  { name: 'neutral', argument: 'none', key: 'n' },
  { name: 'addr', argument: 'required', key: 'a' },
  { name: 'help', argument: 'none', key: 'h' },
  { name: 'advbase', argument: 'required', key: 'b' },
  { name: 'advskew', argument: 'required', key: 'k' },
  { name: 'upscript', argument: 'required', key: 'u' },
  { name: 'downscript', argument: 'required', key: 'd' },
  { name: 'deadratio', argument: 'required', key: 'r' },
  { name: 'debug', argument: 'none', key: 'D' },
  { name: 'shutdown', argument: 'none', key: 'z' },
  { name: 'facility', argument: 'required', key: 'f' },
  { name: 'daemonize', argument: 'none', key: 'B' },
  { name: 'ignoreifstate', argument: 'none', key: 'S' },
  { name: 'nomcast', argument: 'none', key: 'M' },
  { name: 'passfile', argument: 'required', key: 'o' },
  { name: 'xparam', argument: 'required', key: 'x' },
];

const LONG_BY_KEY: ReadonlyMap<string, string> = new Map(UCARP_LONG_OPTIONS.map((o) => [o.key, o.name]));

export interface UcarpArgsOptions {
  /**
   * Interface to use when `-i` is missing or empty. ucarp asks `pcap_lookupdev()` (the first up,
   * non-loopback device); the caller looks at the system, this module cannot.
   */
  readonly defaultInterface?: string;
  /** Reads a `--passfile`; throws (any Error) when the file cannot be read. */
  readonly readFile?: (path: string) => string;
  /** Directory for the control socket and state (default /run/carpool; env CARPOOL_RUN_DIR in the CLI). */
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

interface Setting<T> {
  readonly value: T;
  readonly opt: ParsedOption;
}

/** `-b`, or `--advbase` as the user spelled it, for messages. */
function optName(opt: ParsedOption): string {
  return opt.spelled;
}

function describeOption(key: string): string {
  const long = LONG_BY_KEY.get(key);
  const short = key === 'm' ? undefined : key;
  return short ? `--${long} (-${short})` : `--${long}`;
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

export function parseUcarpArgs(argv: readonly string[], options: UcarpArgsOptions = {}): UcarpArgsResult {
  const parsed = getoptLong(argv, { optstring: UCARP_OPTSTRING, longOptions: UCARP_LONG_OPTIONS });
  const sanitizedArgv = sanitize(argv, parsed.options, parsed.errors);
  const errors: UcarpError[] = [];
  const warnings: UcarpWarning[] = [];

  if (argv.length === 0) return { kind: 'help', reason: 'no-arguments', exitCode: 0, sanitizedArgv, warnings };

  let iface: Setting<string> | undefined;
  let srcip: Setting<string> | undefined;
  let mcast: Setting<string> | undefined;
  let vhid: Setting<number> | undefined;
  let password: Setting<string> | undefined;
  let addr: Setting<string> | undefined;
  let advbase: Setting<number> | undefined;
  let advskew: Setting<number> | undefined;
  let upscript: Setting<string> | undefined;
  let downscript: Setting<string> | undefined;
  let deadratio: Setting<number> | undefined;
  let xparam: Setting<string> | undefined;
  let facility = 'daemon';
  const flags = new Set<string>();
  const lastValue = new Map<string, Setting<string>>();

  const error = (e: UcarpError) => { errors.push(e); };
  const warn = (w: UcarpWarning) => { warnings.push(w); };

  /** ucarp keeps the last value of a repeated option; say so when the values differ. */
  const noteRepeat = (opt: ParsedOption, value: string, group: string, secret = false) => {
    const prev = lastValue.get(group);
    if (prev && prev.value !== value) {
      warn({
        code: 'OPTION_REPEATED', level: 'warning', option: optName(opt), index: opt.index,
        message: secret
          ? `the password is given more than once (${optName(prev.opt)}, then ${optName(opt)}); the last one is used, as ucarp does`
          : `${describeOption(opt.key)} is given more than once ('${prev.value}', then '${value}'); the last one is used, as ucarp does`,
      });
    }
    lastValue.set(group, { value, opt });
  };

  const address = (opt: ParsedOption, what: string): string | undefined => {
    const text = opt.value!;
    if (parseIPv4(text) && text !== '0.0.0.0') return text;
    if (text === '0.0.0.0' && (opt.key === 's' || opt.key === 'a')) {
      // ucarp treats 0.0.0.0 as "not given" and says so after the option loop.
      error({
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
    error({
      code: 'INVALID_ADDRESS', option: optName(opt), index: opt.index, ucarpExitCode: 1,
      message: `${optName(opt)}: Invalid address: [${text}]`, expected: `${what}, a dotted IPv4 address such as 10.0.0.1`,
      ...(hint ? { hint } : {}),
    });
    return undefined;
  };

  const integer = (opt: ParsedOption, min: number, max: number, what: string, wraps: boolean): number | undefined => {
    const text = opt.value!;
    const n = parseCNumber(text);
    const expected = `an integer ${min}..${max}`;
    if (!n.ok) {
      const ucarpReads = strtoulPrefix(text);
      error({
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
      error({
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
      warn({
        code: 'OCTAL_NUMBER', level: 'warning', option: optName(opt), index: opt.index,
        message: `${optName(opt)} ${text}: a leading 0 means octal, so this is ${n.value} (as in ucarp)`,
      });
    }
    return n.value;
  };

  const apply = (opt: ParsedOption) => {
    const v = opt.value ?? '';
    switch (opt.key) {
      case 'i': noteRepeat(opt, v, 'i'); iface = { value: v, opt }; break;
      case 's': { noteRepeat(opt, v, 's'); const a = address(opt, 'the source address'); if (a) srcip = { value: a, opt }; break; }
      case 'm': { noteRepeat(opt, v, 'm'); const a = address(opt, 'the multicast group'); if (a) mcast = { value: a, opt }; break; }
      case 'a': { noteRepeat(opt, v, 'a'); const a = address(opt, 'the virtual address'); if (a) addr = { value: a, opt }; break; }
      case 'v': { noteRepeat(opt, v, 'v'); const n = integer(opt, 1, 255, 'vhid', false); if (n !== undefined) vhid = { value: n, opt }; break; }
      case 'b': { noteRepeat(opt, v, 'b'); const n = integer(opt, 0, 255, 'advbase (seconds)', true); if (n !== undefined) advbase = { value: n, opt }; break; }
      case 'k': { noteRepeat(opt, v, 'k'); const n = integer(opt, 0, 255, 'advskew', true); if (n !== undefined) advskew = { value: n, opt }; break; }
      case 'r': { noteRepeat(opt, v, 'r'); const n = integer(opt, 1, 255, 'deadratio', false); if (n !== undefined) deadratio = { value: n, opt }; break; }
      case 'p': noteRepeat(opt, v, 'password', true); password = { value: v, opt }; break;
      case 'o': {
        const pw = readPassfile(opt, options.readFile, error, warn);
        if (pw !== undefined) { noteRepeat(opt, pw, 'password', true); password = { value: pw, opt }; }
        break;
      }
      case 'u':
      case 'd': {
        noteRepeat(opt, v, opt.key);
        if (v === '') {
          error({
            code: 'EMPTY_SCRIPT', option: optName(opt), index: opt.index, expected: 'the path of an executable',
            message: `${optName(opt)}: the script path is empty`,
            hint: 'leave the option out to run no script',
          });
        } else if (opt.key === 'u') upscript = { value: v, opt }; else downscript = { value: v, opt };
        break;
      }
      case 'f': {
        noteRepeat(opt, v, 'f');
        const f = normalizeFacility(v);
        if (f) facility = f;
        else {
          warn({
            code: 'UNKNOWN_FACILITY', level: 'error', option: optName(opt), index: opt.index,
            message: `Unknown syslog facility: [${v}] (keeping ${facility})`,
          });
        }
        break;
      }
      case 'x': noteRepeat(opt, v, 'x'); xparam = { value: v, opt }; break;
      default: flags.add(opt.key); // P n D z B S M
    }
  };

  // Walk options and getopt errors in the order getopt reports them: ucarp acts on `-h` only if
  // no error came before it (`-v 0 -h` is an error, `-h -v 0` prints the usage).
  type Event = { seq: number; opt?: ParsedOption; err?: GetoptError };
  const events: Event[] = [
    ...parsed.options.map((o): Event => ({ seq: o.seq, opt: o })),
    ...parsed.errors.map((e): Event => ({ seq: e.seq, err: e })),
  ].sort((a, b) => a.seq - b.seq);
  for (const ev of events) {
    if (ev.err) { error(fromGetoptError(ev.err)); continue; }
    const opt = ev.opt!;
    if (opt.key === 'h') {
      if (errors.length === 0) return { kind: 'help', reason: 'help-option', exitCode: 0, sanitizedArgv, warnings };
      continue;
    }
    apply(opt);
  }

  for (const op of parsed.operands) {
    const looksLikeContinuation = op.value === '/' || op.value === '\\';
    warn({
      code: 'OPERAND_IGNORED', level: 'warning', index: op.index,
      message: `ignoring argument '${op.value}': ucarp takes no operands`
        + (looksLikeContinuation ? ' (a line continuation is a backslash at the very end of the line)' : ''),
    });
  }

  // The checks ucarp makes after the option loop, in its order.
  let ifaceName = iface?.value ?? '';
  if (ifaceName === '') {
    if (options.defaultInterface) {
      ifaceName = options.defaultInterface;
      warn({ code: 'DEFAULT_INTERFACE', level: 'info', message: `Using [${ifaceName}] as a network interface` });
    } else {
      error({
        code: 'MISSING_INTERFACE', ucarpExitCode: 1, expected: 'an interface name',
        message: 'You must supply a network interface: no --interface (-i) and no default interface found',
        hint: 'give -i <interface>, e.g. -i eth0',
      });
    }
  }
  if (!vhid && !lastValue.has('v')) {
    error({ code: 'MISSING_VHID', ucarpExitCode: 1, expected: 'an integer 1..255', message: 'You must supply a valid virtual host id: --vhid (-v) is missing' });
  }
  if (password === undefined || password.value === '') {
    if (!errors.some((e) => e.code === 'PASSFILE_UNREADABLE')) {
      error({
        code: 'MISSING_PASSWORD', ucarpExitCode: 1, expected: `a non-empty password of at most ${PASSWORD_MAX_BYTES} bytes`,
        message: password === undefined
          ? 'You must supply a password: --pass (-p) or --passfile (-o) is missing'
          : `You must supply a password: the one given by ${optName(password.opt)} is empty`,
        ...(password ? { option: optName(password.opt), index: password.opt.index } : {}),
      });
    }
  } else if (byteLength(password.value) > PASSWORD_MAX_BYTES) {
    error({
      code: 'PASSWORD_TOO_LONG', option: optName(password.opt), index: password.opt.index, ucarpExitCode: 2,
      expected: `at most ${PASSWORD_MAX_BYTES} bytes`,
      message: `Password too long: ${byteLength(password.value)} bytes (from ${optName(password.opt)}); ucarp accepts at most ${PASSWORD_MAX_BYTES}`,
      hint: 'every node must use the same password, so shorten it on all of them',
    });
  }
  const base = advbase?.value ?? 1;
  const skew = advskew?.value ?? 0;
  if (base === 0 && skew === 0 && (advskew || !lastValue.has('k'))) {
    error({
      code: 'NO_ADVERTISEMENT_INTERVAL', ucarpExitCode: 1, option: optName(advbase!.opt), index: advbase!.opt.index,
      expected: 'advbase ≥ 1, or advskew ≥ 1 with advbase 0',
      message: 'You must supply an advertisement time base: advbase 0 with advskew 0 means adverts without pause',
    });
  }
  if (base === 255 && skew === 255) {
    warn({
      code: 'BOW_OUT_TIMING', level: 'warning', option: optName(advbase!.opt), index: advbase!.opt.index,
      message: 'advbase 255 with advskew 255 is the BSD "bow out" signal: a master sends one advert and then stays silent',
    });
  }
  if (!srcip && !lastValue.has('s')) {
    error({
      code: 'MISSING_SRCIP', ucarpExitCode: 1, expected: "this host's own IPv4 address on the interface",
      message: 'You must supply a persistent source address: --srcip (-s) is missing',
    });
  }
  if (!addr && !lastValue.has('a')) {
    error({
      code: 'MISSING_ADDR', ucarpExitCode: 1, expected: 'the shared virtual IPv4 address',
      message: 'You must supply a virtual host address: --addr (-a) is missing',
    });
  }
  const group = mcast?.value ?? CARP_MCAST;
  if (mcast && !isIPv4Multicast(group)) {
    if (flags.has('M')) {
      warn({
        code: 'MCAST_NOT_MULTICAST', level: 'warning', option: optName(mcast.opt), index: mcast.opt.index,
        message: `${optName(mcast.opt)} ${group} is not a multicast address; with --nomcast adverts still carry it as IP destination`,
      });
    } else {
      error({
        code: 'INVALID_MCAST', option: optName(mcast.opt), index: mcast.opt.index, ucarpExitCode: 2,
        expected: 'an IPv4 multicast address (224.0.0.0/4), normally 224.0.0.18',
        message: `${optName(mcast.opt)}: ${group} is not a multicast address`,
      });
    }
  }
  if (!upscript && !lastValue.has('u')) warn({ code: 'NO_UPSCRIPT', level: 'warning', message: 'Warning: no script called when going up' });
  if (!downscript && !lastValue.has('d')) warn({ code: 'NO_DOWNSCRIPT', level: 'warning', message: 'Warning: no script called when going down' });

  if (errors.length > 0 || !vhid || !password || !srcip || !addr) {
    return { kind: 'error', exitCode: 1, errors, sanitizedArgv, warnings };
  }

  const hook = (s: Setting<string> | undefined): Hook | undefined => (s ? { argv: [s.value], shell: false } : undefined);
  const name = defaultInstanceName(ifaceName, vhid.value);
  const upHook = hook(upscript);
  const downHook = hook(downscript);
  const instance: CarpInstance = {
    kind: 'carp',
    name,
    interface: ifaceName,
    srcip: srcip.value,
    vhid: vhid.value,
    password: password.value,
    advbase: base,
    advskew: skew,
    deadratio: deadratio?.value ?? 3,
    preempt: flags.has('P'),
    neutral: flags.has('n'),
    // ucarp manages one address and hands it to the scripts exactly as typed; inet_pton accepts
    // only canonical dotted quads, so "as typed" and canonical are the same text.
    addresses: [{ family: 4, address: addr.value, prefix: 32 }],
    mcast: group,
    nomcast: flags.has('M'),
    manageAddresses: false,
    ...(upHook ? { upHook } : {}),
    ...(downHook ? { downHook } : {}),
    ...(xparam ? { xparam: xparam.value } : {}),
    shutdownHooks: flags.has('z'),
    ignoreIfState: flags.has('S'),
  };
  const config: CarpoolConfig = {
    source: '<command line>',
    instances: [instance],
    logging: { facility, debug: flags.has('D'), ident: 'ucarp' },
    controlSocket: ucarpControlSocket(name, options.runDir),
    stateDir: options.runDir ?? DEFAULT_STATE_DIR,
    vrrpScripts: [],
    trackFiles: [],
    syncGroups: [],
  };
  return { kind: 'config', config, instance, daemonize: flags.has('B'), sanitizedArgv, warnings };
}

/** ucarp's exit status for a number it reads as `value` (it validates vhid and deadratio only). */
function ucarpExitForNumber(key: string, value: bigint): { ucarpExitCode?: 0 | 1 | 2 } {
  if (key === 'v' && (value < 1n || value > 255n)) return { ucarpExitCode: 1 }; // "vhid must be between 1 and 255." 
  if (key === 'r' && (value & 0xffffffffn) === 0n) return { ucarpExitCode: 1 }; // "Dead ratio can't be zero"
  return {};
}

function readPassfile(opt: ParsedOption, readFile: UcarpArgsOptions['readFile'],
  error: (e: UcarpError) => void, warn: (w: UcarpWarning) => void): string | undefined {
  const path = opt.value!;
  const fail = (message: string, hint?: string) => {
    error({
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
    warn({
      code: 'PASSWORD_CR', level: 'warning', option: optName(opt), index: opt.index,
      message: `passfile ${path} has a DOS line ending: the carriage return is part of the password, as in ucarp`,
    });
  }
  return line;
}

function fromGetoptError(e: GetoptError): UcarpError {
  const at = { option: e.option, index: e.index, ucarpExitCode: 0 as const };
  switch (e.code) {
    case 'INVALID_OPTION':
      if (e.option === '-m') {
        return {
          ...at, code: 'UNKNOWN_OPTION', expected: '--mcastip=<ip>',
          message: "unknown option '-m': ucarp has no short option for the multicast group (its usage text is wrong about -m)",
          hint: 'write --mcastip=<ip> (or the abbreviation --mcast=<ip>)',
        };
      }
      return { ...at, code: 'UNKNOWN_OPTION', message: `unknown option '${e.option}'`, hint: 'carpool ucarp --help lists the options' };
    case 'UNRECOGNIZED_OPTION': {
      const guess = suggest(e.option.slice(2), UCARP_LONG_OPTIONS.map((o) => o.name));
      return {
        ...at, code: 'UNKNOWN_OPTION', message: `unknown option '${e.option}'`,
        hint: guess ? `did you mean --${guess}?` : 'carpool ucarp --help lists the options',
      };
    }
    case 'AMBIGUOUS_OPTION':
      return {
        ...at, code: 'AMBIGUOUS_OPTION', expected: `one of ${(e.candidates ?? []).join(', ')}`,
        message: `option '${e.option}' is ambiguous: it could be ${(e.candidates ?? []).join(' or ')}`,
        hint: 'write more of the option name',
      };
    case 'MISSING_ARGUMENT':
      return {
        ...at, code: 'MISSING_ARGUMENT', expected: 'a value after the option',
        message: `option '${e.option}' (${describeOption(e.key ?? '')}) requires a value`,
      };
    case 'UNEXPECTED_ARGUMENT':
      return { ...at, code: 'UNEXPECTED_ARGUMENT', message: `option '${e.option}' takes no value`, hint: `write just ${e.option}` };
  }
}

/** Replace password values by `*`s; also after `=` in a bad long option that looks like --pass. */
function sanitize(argv: readonly string[], opts: readonly ParsedOption[], errors: readonly GetoptError[]): string[] {
  const out = [...argv];
  const mask = (index: number, offset: number) => {
    const el = out[index]!;
    out[index] = el.slice(0, offset) + '*'.repeat(el.length - offset);
  };
  for (const o of opts) {
    if (o.key === 'p' && o.valueIndex !== undefined) mask(o.valueIndex, o.valueOffset ?? 0);
  }
  for (const e of errors) {
    const el = argv[e.index]!;
    const eq = el.indexOf('=');
    if (!el.startsWith('--') || eq < 0) continue;
    const name = el.slice(2, eq).toLowerCase();
    if (name.includes('pass') || name.includes('pw') || (e.candidates ?? []).includes('--pass')) mask(e.index, eq + 1);
  }
  return out;
}

/**
 * The argv Debian's `/etc/network/if-up.d/ucarp` hook (ucarp 1.5.2 package) builds from ifupdown's
 * environment, or undefined when the hook would do nothing (it needs IF_UCARP_VID, IF_UCARP_VIP and
 * IF_UCARP_PASSWORD all non-empty). The hook expands the variables unquoted, so each one is split
 * into blank-separated words here too, and an empty one vanishes (`-s` with no `address` in the
 * stanza then swallows `-B`, as with the real hook). Pathname expansion is not reproduced.
 */
export function ucarpArgsFromIfupdownEnv(env: Readonly<Record<string, string | undefined>>): string[] | undefined {
  const get = (k: string) => env[k] ?? '';
  if (get('IF_UCARP_VID') === '' || get('IF_UCARP_VIP') === '' || get('IF_UCARP_PASSWORD') === '') return undefined;
  // `expr "$X" : "no\|off\|false\|0"` matches at the start, case-sensitively.
  const truthy = (k: string) => get(k) !== '' && !/^(no|off|false|0)/.test(get(k));
  const up = get('IF_UCARP_UPSCRIPT') || '/usr/share/ucarp/vip-up';
  const down = get('IF_UCARP_DOWNSCRIPT') || '/usr/share/ucarp/vip-down';
  const extra: string[] = [];
  if (truthy('IF_UCARP_MASTER')) extra.push('-P');
  if (get('IF_UCARP_ADVSKEW') !== '') extra.push('-k', ...shellFields(get('IF_UCARP_ADVSKEW')));
  if (get('IF_UCARP_ADVBASE') !== '') extra.push('-b', ...shellFields(get('IF_UCARP_ADVBASE')));
  if (get('IF_UCARP_DEADRATIO') !== '') extra.push('-r', ...shellFields(get('IF_UCARP_DEADRATIO')));
  if (truthy('IF_UCARP_NOMCAST')) extra.push('-M');
  if (get('IF_UCARP_XPARAM') !== '') extra.push('-x', ...shellFields(get('IF_UCARP_XPARAM')));
  return [
    '-i', ...shellFields(get('IFACE')),
    '-s', ...shellFields(get('IF_ADDRESS')),
    '-B', '-z',
    '-v', ...shellFields(get('IF_UCARP_VID')),
    '-p', ...shellFields(get('IF_UCARP_PASSWORD')),
    '-a', ...shellFields(get('IF_UCARP_VIP')),
    '-u', ...shellFields(up),
    '-d', ...shellFields(down),
    ...extra,
  ];
}

/** Usage text in the layout of `ucarp --help` (our own words), ending with carpool's differences. */
export function ucarpUsage(program = 'carpool ucarp'): string {
  return `${program} - ucarp 1.5.2 compatible command line

--interface=<if> (-i <if>): interface to run on (default: the first up, non-loopback interface)
--srcip=<ip> (-s <ip>): this host's own IPv4 address (advert source and tie-break) - required
--mcastip=<ip>: multicast group of the adverts (default 224.0.0.18); no short form, --mcast=<ip> works
--vhid=<id> (-v <id>): virtual host id 1-255, the same on every node - required
--pass=<pass> (-p <pass>): shared password, at most ${PASSWORD_MAX_BYTES} bytes - required unless --passfile
--passfile=<file> (-o <file>): read the password from the first line of <file>
--preempt (-P): take over from a master that advertises less often
--neutral (-n): do not run the down script when starting as backup
--addr=<ip> (-a <ip>): the shared virtual IPv4 address - required
--help (-h): show this summary
--advbase=<seconds> (-b <seconds>): advertisement interval in seconds, 0-255 (default 1)
--advskew=<skew> (-k <skew>): added to the interval in 1/256 s, 0-255 (default 0); higher = less preferred
--upscript=<file> (-u <file>): run "<file> <interface> <addr> [<xparam>]" when becoming master
--downscript=<file> (-d <file>): run "<file> <interface> <addr> [<xparam>]" when becoming backup
--deadratio=<ratio> (-r <ratio>): declare the master dead after advbase*ratio + advskew/256 s of silence (default 3)
--debug (-D): log debug messages
--shutdown (-z): run the down script when stopped by SIGTERM, SIGINT, SIGHUP or SIGQUIT
--daemonize (-B): run in the background
--ignoreifstate (-S): keep running the election when the interface is down or has no carrier
--nomcast (-M): send adverts to the Ethernet broadcast address (the IP destination stays the group)
--facility=<facility> (-f <facility>): syslog facility (default daemon; none = no syslog)
--xparam=<value> (-x <value>): extra last argument for the up and down scripts

Long options may be abbreviated while unambiguous (--inter=eth0); short ones may be grouped (-Pz).

Example: keep 10.1.1.252 on eth0 with virtual host id 1, this host being 10.1.1.1; the scripts
add and remove the address (carpool ucarp, like ucarp, does not touch it itself):

  ${program} --interface=eth0 --srcip=10.1.1.1 --vhid=1 --pass=mypassword \\
      --addr=10.1.1.252 \\
      --upscript=/etc/vip-up.sh --downscript=/etc/vip-down.sh

Where carpool deliberately differs from ucarp 1.5.2:
  - an unknown or ambiguous option, a missing value or a value given to a flag is an error (exit 1);
    ucarp prints this summary and exits 0
  - -b and -k outside 0-255 and -r outside 1-255 are errors (ucarp keeps the low 8 bits of -b/-k)
  - numbers must be whole: -b 1s is an error (ucarp reads 1); 0x2a (hex) and 010 (octal) work as in ucarp
  - --mcastip must be a multicast address unless --nomcast; -u '' and -d '' are errors
  - every problem is reported, not just the first; a too long password exits 1 (ucarp: 2)
  - the password is hidden from ps
  - a lone -m is still rejected, as by ucarp; use --mcastip
`;
}
