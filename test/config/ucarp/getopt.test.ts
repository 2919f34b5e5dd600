import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatGetoptError, getoptLong, type GetoptSpec } from '../../../src/config/ucarp/getopt.js';
import { UCARP_LONG_OPTIONS, UCARP_OPTSTRING } from '../../../src/config/ucarp/args.js';

const UCARP: GetoptSpec = { optstring: UCARP_OPTSTRING, longOptions: UCARP_LONG_OPTIONS };

/** Options as compact `key=value` / `key` strings, for readable tables. */
function opts(args: string[], spec: GetoptSpec = UCARP): string[] {
  return getoptLong(args, spec).options.map((o) => (o.value === undefined ? o.key : `${o.key}=${o.value}`));
}

function errs(args: string[], spec: GetoptSpec = UCARP): string[] {
  return getoptLong(args, spec).errors.map((e) => `${e.code} ${formatGetoptError(e, 'ucarp')}`);
}

describe('getoptLong with ucarp\'s table', () => {
  it.each<[string, string[], string[]]>([
    ['every short flag', ['-P', '-n', '-h', '-D', '-z', '-B', '-S', '-M'], ['P', 'n', 'h', 'D', 'z', 'B', 'S', 'M']],
    ['every short option with a separate value',
      ['-i', 'eth0', '-s', '1.1.1.1', '-v', '1', '-p', 'pw', '-a', '2.2.2.2', '-b', '1', '-k', '2', '-x', 'X', '-u', 'U', '-d', 'D',
        '-r', '3', '-f', 'daemon', '-o', '/f'],
      ['i=eth0', 's=1.1.1.1', 'v=1', 'p=pw', 'a=2.2.2.2', 'b=1', 'k=2', 'x=X', 'u=U', 'd=D', 'r=3', 'f=daemon', 'o=/f']],
    ['every long option with =',
      ['--interface=eth0', '--srcip=1.1.1.1', '--mcastip=224.0.0.18', '--vhid=1', '--pass=pw', '--passfile=/f', '--addr=2.2.2.2',
        '--advbase=1', '--advskew=2', '--upscript=U', '--downscript=D', '--deadratio=3', '--facility=daemon', '--xparam=X'],
      ['i=eth0', 's=1.1.1.1', 'm=224.0.0.18', 'v=1', 'p=pw', 'o=/f', 'a=2.2.2.2', 'b=1', 'k=2', 'u=U', 'd=D', 'r=3', 'f=daemon', 'x=X']],
    ['every long flag', ['--preempt', '--neutral', '--help', '--debug', '--shutdown', '--daemonize', '--ignoreifstate', '--nomcast'],
      ['P', 'n', 'h', 'D', 'z', 'B', 'S', 'M']],
    ['long option, value in the next element', ['--pass', 'secret', '--vhid', '7'], ['p=secret', 'v=7']],
    ['attached short value', ['-psecret', '-v42'], ['p=secret', 'v=42']],
    ['cluster of flags', ['-PzSD'], ['P', 'z', 'S', 'D']],
    ['cluster ending in an option with attached value', ['-Pzb2'], ['P', 'z', 'b=2']],
    ['cluster ending in an option, value separate', ['-zPp', 'secret'], ['z', 'P', 'p=secret']],
    ['value that looks like an option is still the value', ['-x', '-P', '-p', '--vhid'], ['x=-P', 'p=--vhid']],
    ['value that is "--" is still the value', ['-p', '--', '-P'], ['p=--', 'P']],
    ['empty values', ['-p', '', '--xparam='], ['p=', 'x=']],
    ['= inside a value', ['--xparam=a=b', '-xa=b'], ['x=a=b', 'x=a=b']],
    ['abbreviation --mcast=', ['--mcast=224.0.0.19'], ['m=224.0.0.19']],
    ['abbreviation --mcast value', ['--mcast', '224.0.0.19'], ['m=224.0.0.19']],
    ['abbreviation --m', ['--m=224.0.0.19'], ['m=224.0.0.19']],
    ['abbreviation --inter', ['--inter', 'eth0', '--inte=eth1'], ['i=eth0', 'i=eth1']],
    ['abbreviations of flags', ['--pre', '--shut', '--ign', '--nom', '--deb', '--dae', '--neu', '--he'], ['P', 'z', 'S', 'M', 'D', 'B', 'n', 'h']],
    ['exact --pass beats --passfile', ['--pass=x'], ['p=x']],
    ['--passf is passfile', ['--passf=/f'], ['o=/f']],
    ['--xp', ['--xp=1'], ['x=1']],
    ['a single dash is an operand', ['-', '-P'], ['P']],
    ['-- ends options', ['-P', '--', '-z', '--vhid=1'], ['P']],
    ['operands interleaved (GNU permutation)', ['foo', '-P', 'bar', '-v', '1', 'baz'], ['P', 'v=1']],
    ['a single-dash long name is a short cluster', ['-interface'], ['i=nterface']],
  ])('%s', (_name, args, expected) => {
    expect(opts(args)).toEqual(expected);
  });

  it.each<[string, string[], string[]]>([
    ['ambiguous --pas', ['--pas=x'], ["AMBIGUOUS_OPTION ucarp: option '--pas=x' is ambiguous; possibilities: '--pass' '--passfile'"]],
    ['ambiguous --p', ['--p=x'], ["AMBIGUOUS_OPTION ucarp: option '--p=x' is ambiguous; possibilities: '--pass' '--preempt' '--passfile'"]],
    ['ambiguous --i (interface, ignoreifstate)', ['--i', 'eth0'],
      ["AMBIGUOUS_OPTION ucarp: option '--i' is ambiguous; possibilities: '--interface' '--ignoreifstate'"]],
    ['ambiguous --d', ['--d'], ["AMBIGUOUS_OPTION ucarp: option '--d' is ambiguous; possibilities: '--downscript' '--deadratio' '--debug' '--daemonize'"]],
    ['ambiguous --de', ['--de=3'], ["AMBIGUOUS_OPTION ucarp: option '--de=3' is ambiguous; possibilities: '--deadratio' '--debug'"]],
    ['ambiguous --a', ['--a=1'], ["AMBIGUOUS_OPTION ucarp: option '--a=1' is ambiguous; possibilities: '--addr' '--advbase' '--advskew'"]],
    ['ambiguous --n', ['--n'], ["AMBIGUOUS_OPTION ucarp: option '--n' is ambiguous; possibilities: '--neutral' '--nomcast'"]],
    ['unknown long', ['--foo'], ["UNRECOGNIZED_OPTION ucarp: unrecognized option '--foo'"]],
    ['unknown long with value', ['--password=x'], ["UNRECOGNIZED_OPTION ucarp: unrecognized option '--password=x'"]],
    ['-m is not a ucarp option', ['-m', '224.0.0.19'], ["INVALID_OPTION ucarp: invalid option -- 'm'"]],
    ['unknown short inside a cluster', ['-PQz'], ["INVALID_OPTION ucarp: invalid option -- 'Q'"]],
    ['missing short argument', ['-p'], ["MISSING_ARGUMENT ucarp: option requires an argument -- 'p'"]],
    ['missing long argument', ['--pass'], ["MISSING_ARGUMENT ucarp: option '--pass' requires an argument"]],
    ['missing argument of an abbreviation names the full option', ['--xp'], ["MISSING_ARGUMENT ucarp: option '--xparam' requires an argument"]],
    ['flag given a value', ['--preempt=yes'], ["UNEXPECTED_ARGUMENT ucarp: option '--preempt' doesn't allow an argument"]],
    ['abbreviated flag given a value', ['--pre=yes'], ["UNEXPECTED_ARGUMENT ucarp: option '--preempt' doesn't allow an argument"]],
    ['errors do not stop the scan', ['-Q', '--foo', '-p'],
      ["INVALID_OPTION ucarp: invalid option -- 'Q'", "UNRECOGNIZED_OPTION ucarp: unrecognized option '--foo'",
        "MISSING_ARGUMENT ucarp: option requires an argument -- 'p'"]],
  ])('%s', (_name, args, expected) => {
    expect(errs(args)).toEqual(expected);
  });

  it('lists every option for the empty name --=x, in table order', () => {
    const [e] = getoptLong(['--=x'], UCARP).errors;
    expect(e?.code).toBe('AMBIGUOUS_OPTION');
    expect(e?.candidates).toEqual(UCARP_LONG_OPTIONS.map((o) => `--${o.name}`));
  });

  it('records where values are, for masking', () => {
    const r = getoptLong(['-Pzpsecret', '--pass=pw', '-p', 'x'], UCARP);
    expect(r.options.filter((o) => o.key === 'p').map((o) => [o.valueIndex, o.valueOffset])).toEqual([[0, 4], [1, 7], [3, 0]]);
    expect(r.options.find((o) => o.spelled === '--pass')?.longName).toBe('pass');
  });

  it('collects operands with their index and the -- position', () => {
    const r = getoptLong(['a', '-P', '-', 'b', '--', '-z', 'c'], UCARP);
    expect(r.operands).toEqual([{ value: 'a', index: 0 }, { value: '-', index: 2 }, { value: 'b', index: 3 },
      { value: '-z', index: 5 }, { value: 'c', index: 6 }]);
    expect(r.endOfOptions).toBe(4);
  });

  it('orders options and errors as getopt reports them', () => {
    const r = getoptLong(['-hQ', '-Qh'], UCARP);
    const seq = [...r.options.map((o) => [o.seq, o.spelled]), ...r.errors.map((e) => [e.seq, e.option])]
      .sort((a, b) => Number(a[0]) - Number(b[0])).map((x) => x[1]);
    expect(seq).toEqual(['-h', '-Q', '-Q', '-h']);
  });
});

describe('getoptLong, general glibc rules', () => {
  const spec: GetoptSpec = {
    optstring: 'ab:c::',
    longOptions: [
      { name: 'alpha', argument: 'none', key: 'a' },
      { name: 'all', argument: 'none', key: 'a' }, // alias: same key and rule
      { name: 'color', argument: 'optional', key: 'c' },
      { name: 'colour', argument: 'optional', key: 'c' },
      { name: 'bravo', argument: 'required', key: 'b' },
    ],
  };

  it('a prefix shared only by aliases is not ambiguous (first one wins)', () => {
    expect(opts(['--al'], spec)).toEqual(['a']);
    expect(getoptLong(['--al'], spec).options[0]?.longName).toBe('alpha');
    expect(opts(['--col'], spec)).toEqual(['c']);
  });

  it('optional arguments: attached only', () => {
    expect(opts(['-c', 'x', '-cy', '--color', 'z', '--color=w'], spec)).toEqual(['c', 'c=y', 'c', 'c=w']);
    expect(getoptLong(['-c', 'x'], spec).operands).toEqual([{ value: 'x', index: 1 }]);
  });

  it('a leading + stops at the first operand (REQUIRE_ORDER)', () => {
    const r = getoptLong(['-a', 'op', '-b', '1'], { ...spec, optstring: `+${spec.optstring}` });
    expect(r.options.map((o) => o.key)).toEqual(['a']);
    expect(r.operands.map((o) => o.value)).toEqual(['op', '-b', '1']);
  });

  it('leading - and : in the optstring are modes, not options', () => {
    expect(errs(['-:'], { ...spec, optstring: '-:ab:' })).toEqual(["INVALID_OPTION ucarp: invalid option -- ':'"]);
    expect(errs(['--'], spec)).toEqual([]);
  });

  it('reports a non-ASCII option character whole', () => {
    expect(getoptLong(['-é'], spec).errors[0]?.option).toBe('-é');
  });
});

describe('getoptLong properties', () => {
  const argArb = fc.array(fc.oneof(
    fc.string(),
    fc.constantFrom('-', '--', '-p', '--pass', '--pas=x', '-Pz', '--mcast=', '--=', '-h', '--help=1', '-pX'),
    fc.string().map((s) => `-${s}`),
    fc.string().map((s) => `--${s}`),
  ), { maxLength: 12 });

  it('never throws, and every element is accounted for', () => {
    fc.assert(fc.property(argArb, (args) => {
      const r = getoptLong(args, UCARP);
      const used = new Set<number>();
      for (const o of r.options) { used.add(o.index); if (o.valueIndex !== undefined) used.add(o.valueIndex); }
      for (const e of r.errors) used.add(e.index);
      for (const o of r.operands) used.add(o.index);
      if (r.endOfOptions !== undefined) used.add(r.endOfOptions);
      expect([...used].sort((a, b) => a - b)).toEqual(args.map((_, i) => i));
      for (const o of r.options) {
        if (o.value !== undefined) expect(args[o.valueIndex!]!.slice(o.valueOffset)).toBe(o.value);
      }
    }), { numRuns: 500 });
  });
});
