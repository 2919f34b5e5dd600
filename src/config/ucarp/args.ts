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
import { getoptLong, type GetoptError, type ParsedOption } from './getopt.js';
import { CARP_MCAST, DEFAULT_STATE_DIR, type CarpInstance, type CarpoolConfig, type Hook } from '../model.js';
import { PASSWORD_MAX_BYTES, byteLength, defaultInstanceName, isIPv4Multicast, shellFields, suggest, ucarpControlSocket } from '../common.js';
import {
  OPTION_BY_KEY, OptionReader, UCARP_LONG_OPTIONS, UCARP_OPTSTRING, describeOption, optName, type Settings,
} from './options.js';
import type { UcarpArgsOptions, UcarpArgsResult, UcarpError } from './types.js';

export type * from './types.js';
export { UCARP_LONG_OPTIONS, UCARP_OPTSTRING } from './options.js';
export { ucarpUsage } from './usage.js';

export function parseUcarpArgs(argv: readonly string[], options: UcarpArgsOptions = {}): UcarpArgsResult {
  const parsed = getoptLong(argv, { optstring: UCARP_OPTSTRING, longOptions: UCARP_LONG_OPTIONS });
  const sanitizedArgv = sanitize(argv, parsed.options, parsed.errors);
  const x = new OptionReader(options);
  const { errors, warnings } = x;

  if (argv.length === 0) return { kind: 'help', reason: 'no-arguments', exitCode: 0, sanitizedArgv, warnings };

  // Walk options and getopt errors in the order getopt reports them: ucarp acts on `-h` only if
  // no error came before it (`-v 0 -h` is an error, `-h -v 0` prints the usage).
  type Event = { seq: number; opt?: ParsedOption; err?: GetoptError };
  const events: Event[] = [
    ...parsed.options.map((o): Event => ({ seq: o.seq, opt: o })),
    ...parsed.errors.map((e): Event => ({ seq: e.seq, err: e })),
  ].sort((a, b) => a.seq - b.seq);
  for (const ev of events) {
    if (ev.err) { x.error(fromGetoptError(ev.err)); continue; }
    const opt = ev.opt!;
    if (opt.key === 'h') {
      if (errors.length === 0) return { kind: 'help', reason: 'help-option', exitCode: 0, sanitizedArgv, warnings };
      continue;
    }
    OPTION_BY_KEY.get(opt.key)?.apply?.(opt, x);
  }

  for (const op of parsed.operands) {
    const looksLikeContinuation = op.value === '/' || op.value === '\\';
    x.warn({
      code: 'OPERAND_IGNORED', level: 'warning', index: op.index,
      message: `ignoring argument '${op.value}': ucarp takes no operands`
        + (looksLikeContinuation ? ' (a line continuation is a backslash at the very end of the line)' : ''),
    });
  }

  const ifaceName = checkAfterOptions(x);
  const { vhid, password, srcip, addr } = x.s;
  if (errors.length > 0 || ifaceName === undefined || !vhid || !password || !srcip || !addr) {
    return { kind: 'error', exitCode: 1, errors, sanitizedArgv, warnings };
  }
  const { config, instance } = buildConfig(x.s, ifaceName, options);
  return { kind: 'config', config, instance, daemonize: x.s.flags.has('B'), sanitizedArgv, warnings };
}

/** The checks ucarp makes after the option loop, in its order. The interface name, or undefined when there is none. */
function checkAfterOptions(x: OptionReader): string | undefined {
  const { s, lastValue, errors, options } = x;
  const { iface, vhid, password, advbase, advskew, srcip, addr, mcast, upscript, downscript } = s;
  const error = x.error.bind(x);
  const warn = x.warn.bind(x);
  let ifaceName: string | undefined = iface?.value ?? '';
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
      ifaceName = undefined;
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
    if (s.flags.has('M')) {
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
  return ifaceName;
}

/** The model of one ucarp instance from valid settings. */
function buildConfig(s: Settings, ifaceName: string, options: UcarpArgsOptions): { config: CarpoolConfig; instance: CarpInstance } {
  const { vhid, password, srcip, addr, advbase, advskew, deadratio, upscript, downscript, xparam, mcast, flags, facility } = s;
  const base = advbase?.value ?? 1;
  const skew = advskew?.value ?? 0;
  const group = mcast?.value ?? CARP_MCAST;
  const hook = (x: { readonly value: string } | undefined): Hook | undefined => (x ? { argv: [x.value], shell: false } : undefined);
  const name = defaultInstanceName(ifaceName, vhid!.value);
  const upHook = hook(upscript);
  const downHook = hook(downscript);
  const instance: CarpInstance = {
    kind: 'carp',
    name,
    interface: ifaceName,
    srcip: srcip!.value,
    vhid: vhid!.value,
    password: password!.value,
    advbase: base,
    advskew: skew,
    deadratio: deadratio?.value ?? 3,
    preempt: flags.has('P'),
    neutral: flags.has('n'),
    // ucarp manages one address and hands it to the scripts exactly as typed; inet_pton accepts
    // only canonical dotted quads, so "as typed" and canonical are the same text.
    addresses: [{ family: 4, address: addr!.value, prefix: 32 }],
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
  return { config, instance };
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
