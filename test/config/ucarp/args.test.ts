import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getoptLong } from '../../../src/config/ucarp/getopt.js';
import {
  UCARP_LONG_OPTIONS, UCARP_OPTSTRING, parseUcarpArgs, ucarpArgsFromIfupdownEnv, ucarpUsage, type UcarpArgsOptions, type UcarpArgsResult, type UcarpRun,
} from '../../../src/config/ucarp/args.js';
import { UCARP_OPTIONS } from '../../../src/config/ucarp/options.js';
import { splitCommand } from '../../../src/config/common.js';
import type { CarpInstance } from '../../../src/config/model.js';

const BASE = ['-i', 'eth0', '-s', '10.0.0.1', '-v', '1', '-p', 'secret', '-a', '10.0.0.100'];

function files(map: Record<string, string>): UcarpArgsOptions['readFile'] {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw new Error('ENOENT: no such file or directory');
    return text;
  };
}

function run(args: string[], options?: UcarpArgsOptions): UcarpRun {
  const r = parseUcarpArgs(args, options);
  if (r.kind !== 'config') throw new Error(`expected a config, got ${JSON.stringify(r)}`);
  return r;
}

function errorCodes(r: UcarpArgsResult): string[] {
  return r.kind === 'error' ? r.errors.map((e) => e.code) : [`<${r.kind}>`];
}

function warningCodes(r: UcarpArgsResult): string[] {
  return r.warnings.map((w) => w.code);
}

describe('parseUcarpArgs: options and defaults', () => {
  it('builds one unmanaged instance with ucarp defaults', () => {
    const r = run(BASE);
    expect(r.instance).toEqual({
      kind: 'carp', name: 'eth0-vhid1', interface: 'eth0', srcip: '10.0.0.1', vhid: 1, password: 'secret',
      advbase: 1, advskew: 0, deadratio: 3, preempt: false, neutral: false,
      addresses: [{ family: 4, address: '10.0.0.100', prefix: 32 }],
      mcast: '224.0.0.18', nomcast: false, manageAddresses: false, shutdownHooks: false, ignoreIfState: false,
    } satisfies CarpInstance);
    expect(r.config.instances).toEqual([r.instance]);
    expect(r.config.logging).toEqual({ facility: 'daemon', debug: false, ident: 'ucarp' });
    expect(r.config.source).toBe('<command line>');
    expect(r.config.controlSocket).toBe('/run/carpool/ucarp-eth0-vhid1.sock');
    expect(r.config.stateDir).toBe('/run/carpool');
    expect(r.daemonize).toBe(false);
    expect(warningCodes(r)).toEqual(['NO_UPSCRIPT', 'NO_DOWNSCRIPT']);
    expect(r.warnings[0]!.message).toBe('Warning: no script called when going up');
  });

  type Check = (r: UcarpRun) => unknown;
  const cases: [string, string[], string[], Check, unknown][] = [
    ['interface', ['-i', 'eth1'], ['--interface=eth1'], (r) => r.instance.interface, 'eth1'],
    ['srcip', ['-s', '10.0.0.2'], ['--srcip=10.0.0.2'], (r) => r.instance.srcip, '10.0.0.2'],
    ['vhid', ['-v', '42'], ['--vhid=42'], (r) => r.instance.vhid, 42],
    ['pass', ['-p', 'pw'], ['--pass=pw'], (r) => r.instance.password, 'pw'],
    ['addr', ['-a', '10.0.0.200'], ['--addr=10.0.0.200'], (r) => r.instance.addresses, [{ family: 4, address: '10.0.0.200', prefix: 32 }]],
    ['advbase', ['-b', '3'], ['--advbase=3'], (r) => r.instance.advbase, 3],
    ['advskew', ['-k', '100'], ['--advskew=100'], (r) => r.instance.advskew, 100],
    ['deadratio', ['-r', '5'], ['--deadratio=5'], (r) => r.instance.deadratio, 5],
    ['preempt', ['-P'], ['--preempt'], (r) => r.instance.preempt, true],
    ['neutral', ['-n'], ['--neutral'], (r) => r.instance.neutral, true],
    ['upscript', ['-u', '/up'], ['--upscript=/up'], (r) => r.instance.upHook, { argv: ['/up'], shell: false }],
    ['downscript', ['-d', '/down'], ['--downscript=/down'], (r) => r.instance.downHook, { argv: ['/down'], shell: false }],
    ['debug', ['-D'], ['--debug'], (r) => r.config.logging.debug, true],
    ['shutdown', ['-z'], ['--shutdown'], (r) => r.instance.shutdownHooks, true],
    ['daemonize', ['-B'], ['--daemonize'], (r) => r.daemonize, true],
    ['ignoreifstate', ['-S'], ['--ignoreifstate'], (r) => r.instance.ignoreIfState, true],
    ['nomcast', ['-M'], ['--nomcast'], (r) => r.instance.nomcast, true],
    ['facility', ['-f', 'local3'], ['--facility=LOCAL3'], (r) => r.config.logging.facility, 'local3'],
    ['facility none', ['-f', 'none'], ['--facility=none'], (r) => r.config.logging.facility, 'none'],
    ['xparam', ['-x', 'extra'], ['--xparam=extra'], (r) => r.instance.xparam, 'extra'],
    ['empty xparam is still passed', ['-x', ''], ['--xparam='], (r) => r.instance.xparam, ''],
    ['mcastip (no short form)', ['--mcastip=224.0.0.19'], ['--mcast=224.0.0.19'], (r) => r.instance.mcast, '224.0.0.19'],
    ['passfile', ['-o', '/pw'], ['--passfile=/pw'], (r) => r.instance.password, 'fromfile'],
  ];
  it.each(cases)('%s: short %j and long %j', (_name, short, long, check, expected) => {
    const options = { readFile: files({ '/pw': 'fromfile\nignored\n' }) };
    expect(check(run([...BASE, ...short], options))).toEqual(expected);
    expect(check(run([...BASE, ...long], options))).toEqual(expected);
  });

  it('the last of a repeated option wins, as in ucarp, with a warning', () => {
    const r = run([...BASE, '-a', '10.0.0.101', '-p', 'other']);
    expect(r.instance.addresses[0]!.address).toBe('10.0.0.101');
    expect(r.instance.password).toBe('other');
    const repeated = r.warnings.filter((w) => w.code === 'OPTION_REPEATED').map((w) => w.message);
    expect(repeated).toHaveLength(2);
    expect(repeated.join(' ')).not.toContain('secret');
    expect(repeated.join(' ')).not.toContain('other');
  });

  it('-p after -o and -o after -p: the later one wins', () => {
    const readFile = files({ '/pw': 'fromfile\n' });
    expect(run([...BASE, '-o', '/pw'], { readFile }).instance.password).toBe('fromfile');
    expect(run([...BASE, '-o', '/pw', '-p', 'late'], { readFile }).instance.password).toBe('late');
  });

  it('numbers as strtoul(…, 0) reads whole ones: hex and octal', () => {
    expect(run([...BASE, '-v', '0x2a']).instance.vhid).toBe(42);
    const octal = parseUcarpArgs([...BASE, '-v', '010']);
    expect(octal.kind === 'config' && octal.instance.vhid).toBe(8);
    expect(warningCodes(octal)).toContain('OCTAL_NUMBER');
    expect(warningCodes(parseUcarpArgs([...BASE, '-k', '0']))).not.toContain('OCTAL_NUMBER');
    expect(warningCodes(parseUcarpArgs([...BASE, '-k', '07']))).not.toContain('OCTAL_NUMBER');
  });

  it('advbase 0 is fine with a skew; 255/255 is the bow-out signal', () => {
    expect(run([...BASE, '-b', '0', '-k', '1']).instance.advbase).toBe(0);
    expect(warningCodes(parseUcarpArgs([...BASE, '-b', '255', '-k', '255']))).toContain('BOW_OUT_TIMING');
  });

  it('an unknown facility is logged and the previous one kept', () => {
    const r = run([...BASE, '-f', 'local1', '-f', 'bogus']);
    expect(r.config.logging.facility).toBe('local1');
    const w = r.warnings.find((x) => x.code === 'UNKNOWN_FACILITY')!;
    expect(w.level).toBe('error');
    expect(w.message).toBe('Unknown syslog facility: [bogus] (keeping local1)');
    expect(run([...BASE, '-f', 'security']).config.logging.facility).toBe('auth');
  });

  it('the default interface is injected, and said so', () => {
    const without = BASE.slice(2);
    const r = run(without, { defaultInterface: 'ens3' });
    expect(r.instance.interface).toBe('ens3');
    expect(r.warnings[0]).toMatchObject({ code: 'DEFAULT_INTERFACE', level: 'info', message: 'Using [ens3] as a network interface' });
    expect(run(['-i', '', ...without], { defaultInterface: 'ens3' }).instance.interface).toBe('ens3');
    expect(errorCodes(parseUcarpArgs(without))).toEqual(['MISSING_INTERFACE']);
  });

  it('passfile: first line, newline stripped, CR kept with a warning, NUL ends it', () => {
    const readFile = files({ '/a': 'pw\nsecond', '/b': 'pw\r\n', '/c': 'pw', '/d': 'p\0w\n' });
    expect(run([...BASE, '-o', '/a'], { readFile }).instance.password).toBe('pw');
    const crlf = run([...BASE, '-o', '/b'], { readFile });
    expect(crlf.instance.password).toBe('pw\r');
    expect(warningCodes(crlf)).toContain('PASSWORD_CR');
    expect(run([...BASE, '-o', '/c'], { readFile }).instance.password).toBe('pw');
    expect(run([...BASE, '-o', '/d'], { readFile }).instance.password).toBe('p');
  });

  it('passfile readable by group or others: a warning, as for YAML password_file (issue 11)', () => {
    const readFile = files({ '/pw': 'secret\n' });
    const perm = (mode: number) => run([...BASE, '-o', '/pw'], { readFile, statMode: () => mode }).warnings
      .filter((w) => w.code === 'PASSWORD_FILE_PERMISSIONS').map((w) => `${w.level} ${w.message}`);
    expect(perm(0o100644)).toEqual(['warning passfile /pw is readable by group or others (mode 0644): chmod 600 it']);
    expect(perm(0o100640)).toHaveLength(1);
    expect(perm(0o100600)).toEqual([]);
  });

  it('operands are ignored with a warning; a lone / gets a line-continuation hint', () => {
    const r = run(['/', ...BASE, 'stray']);
    expect(r.warnings.filter((w) => w.code === 'OPERAND_IGNORED').map((w) => [w.index, w.message])).toEqual([
      [0, "ignoring argument '/': ucarp takes no operands (a line continuation is a backslash at the very end of the line)"],
      [11, "ignoring argument 'stray': ucarp takes no operands"],
    ]);
  });
});

describe('parseUcarpArgs: help', () => {
  it.each<[string[], string]>([
    [[], 'no-arguments'],
    [['-h'], 'help-option'],
    [['--help'], 'help-option'],
    [['--he'], 'help-option'],
    [[...BASE, '-h'], 'help-option'],
    [['-h', '-v', '0'], 'help-option'],
    [['-h', '--bogus'], 'help-option'],
  ])('%j → help (%s), exit 0', (args, reason) => {
    const r = parseUcarpArgs(args);
    expect(r).toMatchObject({ kind: 'help', reason, exitCode: 0 });
  });

  it('an error before -h wins, as in ucarp', () => {
    expect(errorCodes(parseUcarpArgs(['-v', '0', '-h']))[0]).toBe('OUT_OF_RANGE');
    expect(errorCodes(parseUcarpArgs(['--bogus', '-h']))[0]).toBe('UNKNOWN_OPTION');
    expect(errorCodes(parseUcarpArgs(['-Qh']))[0]).toBe('UNKNOWN_OPTION');
    expect(parseUcarpArgs(['-hQ']).kind).toBe('help');
  });
});

describe('parseUcarpArgs: errors', () => {
  it.each<[string, string[], string[], string?]>([
    ['unknown short option', ['-Q'], ['UNKNOWN_OPTION'], "unknown option '-Q'"],
    ['-m explains itself', ['-m', '224.0.0.19'], ['UNKNOWN_OPTION'], "unknown option '-m': ucarp has no short option for the multicast group"],
    ['unknown long option', ['--vid=1'], ['UNKNOWN_OPTION'], "unknown option '--vid'"],
    ['ambiguous', ['--pas=x'], ['AMBIGUOUS_OPTION'], "option '--pas' is ambiguous: it could be --pass or --passfile"],
    ['missing value', ['-x'], ['MISSING_ARGUMENT'], "option '-x' (--xparam (-x)) requires a value"],
    ['missing value, long', ['--xparam'], ['MISSING_ARGUMENT']],
    ['flag with a value', ['--preempt=yes'], ['UNEXPECTED_ARGUMENT'], "option '--preempt' takes no value"],
    ['vhid 0', ['-v', '0'], ['OUT_OF_RANGE'], "-v: vhid must be between 1 and 255 (got '0')"],
    ['vhid 256', ['-v', '256'], ['OUT_OF_RANGE']],
    ['vhid garbage', ['-v', 'one'], ['INVALID_NUMBER'], "-v: vhid must be between 1 and 255 (got 'one', which is not a whole number)"],
    ['vhid trailing garbage', ['-v', '5abc'], ['INVALID_NUMBER']],
    ['vhid negative', ['-v', '-1'], ['INVALID_NUMBER']],
    ['advbase 256', ['-b', '256'], ['OUT_OF_RANGE'], "-b: advbase (seconds) must be between 0 and 255 (got '256')"],
    ['advbase with unit', ['-b', '1s'], ['INVALID_NUMBER']],
    ['advbase empty', ['--advbase='], ['INVALID_NUMBER']],
    ['advskew 300', ['--advskew=300'], ['OUT_OF_RANGE'], "--advskew: advskew must be between 0 and 255 (got '300')"],
    ['advbase 0 and advskew 0', ['-b', '0', '-k', '0'], ['NO_ADVERTISEMENT_INTERVAL'], 'You must supply an advertisement time base'],
    ['advbase 0 and a broken advskew: one error', ['-b', '0', '-k', 'x'], ['INVALID_NUMBER'], "-k: advskew must be a whole number, got 'x'"],
    ['deadratio 0', ['-r', '0'], ['OUT_OF_RANGE'], "-r: Dead ratio can't be zero"],
    ['deadratio 256', ['-r', '256'], ['OUT_OF_RANGE']],
    ['srcip not dotted', ['-s', 'host.example'], ['INVALID_ADDRESS'], '-s: Invalid address: [host.example]'],
    ['srcip with prefix', ['-s', '10.0.0.1/24'], ['INVALID_ADDRESS']],
    ['srcip leading zero', ['-s', '010.0.0.1'], ['INVALID_ADDRESS']],
    ['srcip 0.0.0.0', ['-s', '0.0.0.0'], ['INVALID_ADDRESS'], '-s: You must supply a persistent source address (0.0.0.0 is not one)'],
    ['addr IPv6', ['-a', 'fd00::1'], ['INVALID_ADDRESS']],
    ['addr 0.0.0.0', ['-a', '0.0.0.0'], ['INVALID_ADDRESS']],
    ['mcast invalid', ['--mcastip=300.0.0.1'], ['INVALID_ADDRESS']],
    ['mcast not multicast', ['--mcastip=10.1.1.1'], ['INVALID_MCAST'], '--mcastip: 10.1.1.1 is not a multicast address'],
    ['empty upscript', ['-u', ''], ['EMPTY_SCRIPT']],
    ['empty downscript', ['--downscript='], ['EMPTY_SCRIPT']],
    ['empty password', ['-p', ''], ['MISSING_PASSWORD'], 'You must supply a password: the one given by -p is empty'],
    ['password of 20 bytes', ['-p', '12345678901234567890'], ['PASSWORD_TOO_LONG'],
      'Password too long: 20 bytes (from -p); ucarp accepts at most 19'],
    ['password of 10 characters, 20 bytes', ['-p', 'ääääääääää'], ['PASSWORD_TOO_LONG']],
    ['passfile missing', ['-o', '/nope'], ['PASSFILE_UNREADABLE'], 'unable to open passfile /nope for reading: ENOENT: no such file or directory'],
    ['passfile empty', ['-o', '/empty'], ['PASSFILE_UNREADABLE'], 'error reading passfile /empty: unexpected end of file'],
    ['passfile empty first line', ['-o', '/blank'], ['MISSING_PASSWORD']],
  ])('%s', (_name, extra, codes, message) => {
    const r = parseUcarpArgs([...BASE, ...extra], { readFile: files({ '/empty': '', '/blank': '\npw\n' }) });
    expect(errorCodes(r)).toEqual(codes);
    if (message && r.kind === 'error') expect(r.errors[0]!.message).toContain(message);
    if (r.kind === 'error') expect(r.exitCode).toBe(1);
  });

  it.each<[string, string[], string[]]>([
    ['srcip', ['-s', '10.0.0.1'], ['MISSING_SRCIP']],
    ['addr', ['-a', '10.0.0.100'], ['MISSING_ADDR']],
    ['vhid', ['-v', '1'], ['MISSING_VHID']],
    ['password', ['-p', 'secret'], ['MISSING_PASSWORD']],
  ])('missing %s is an error naming the option', (_name, drop, codes) => {
    const args = BASE.filter((_, i) => !(BASE[i] === drop[0] || BASE[i - 1] === drop[0]));
    const r = parseUcarpArgs(args);
    expect(errorCodes(r)).toEqual(codes);
    expect(r.kind === 'error' && r.errors[0]!.message).toContain(`(-${drop[0]!.slice(1)})`);
  });

  it('reports every problem at once, in ucarp\'s order', () => {
    const r = parseUcarpArgs(['-v', '0', '-b', '300', '--bogus', '-s', 'x', '-p', '']);
    expect(errorCodes(r)).toEqual(['OUT_OF_RANGE', 'OUT_OF_RANGE', 'UNKNOWN_OPTION', 'INVALID_ADDRESS', 'MISSING_INTERFACE', 'MISSING_PASSWORD', 'MISSING_ADDR']);
  });

  it('records what ucarp would have done', () => {
    const codes = (args: string[]) => {
      const r = parseUcarpArgs([...BASE, ...args]);
      return r.kind === 'error' ? r.errors.map((e) => e.ucarpExitCode) : [];
    };
    expect(codes(['--bogus'])).toEqual([0]); // usage, exit 0
    expect(codes(['-v', '0'])).toEqual([1]);
    expect(codes(['-p', '12345678901234567890'])).toEqual([2]); // found in docarp()
    expect(codes(['-b', '1s'])).toEqual([undefined]); // ucarp accepts: carpool is stricter
    expect(codes(['-r', 'x'])).toEqual([1]); // ucarp reads 0
    expect(codes(['-v', '5abc'])).toEqual([undefined]);
  });

  it('suggests the option a typo meant', () => {
    const r = parseUcarpArgs([...BASE, '--vhdi=1', '--advksew=3']);
    expect(r.kind === 'error' && r.errors.map((e) => e.hint)).toEqual(['did you mean --vhid?', 'did you mean --advskew?']);
  });

  it('messages never contain the password', () => {
    for (const args of [['-p', 'TOPSECRET1234567890x'], ['--pas=TOPSECRET'], ['--password=TOPSECRET'], ['-pTOPSECRET', '-p', 'TOPSECRET2']]) {
      const r = parseUcarpArgs(['-v', '1', ...args]);
      const text = JSON.stringify(r.kind === 'error' ? [r.errors, r.warnings] : r.warnings);
      expect(text).not.toContain('TOPSECRET');
    }
  });
});

describe('parseUcarpArgs: sanitizedArgv hides the password from ps', () => {
  it.each<[string[], string[]]>([
    [['-p', 'secret'], ['-p', '******']],
    [['-psecret'], ['-p******']],
    [['-Pzpsecret'], ['-Pzp******']],
    [['--pass=secret'], ['--pass=******']],
    [['--pass', 'secret'], ['--pass', '******']],
    [['-p', 'a', '-p', 'bb'], ['-p', '*', '-p', '**']],
    [['--pas=secret'], ['--pas=******']],
    [['--password=secret'], ['--password=******']],
    [['-o', '/etc/pw'], ['-o', '/etc/pw']],
    [['-x', 'secret'], ['-x', 'secret']],
  ])('%j → %j', (args, expected) => {
    const r = parseUcarpArgs(['-i', 'eth0', ...args], { readFile: () => 'x' });
    expect(r.sanitizedArgv).toEqual(['-i', 'eth0', ...expected]);
  });
});

describe('seed command lines', () => {
  it('000: German tutorial start.sh, with real \\ line continuations and ucarp.conf expanded', () => {
    const conf: Record<string, string> = {
      UCARP_INTERFACE: 'eth0', UCARP_SRCIP: '172.16.0.11', UCARP_VHID: '1', UCARP_PASS: 'geheim', UCARP_ADVBASE: '1',
      UCARP_ADDR: '172.16.0.1', UCARP_UPSCRIPT: '/etc/ucarp/ucarp-up.sh', UCARP_DOWNSCRIPT: '/etc/ucarp/ucarp-down.sh',
    };
    const script = `ucarp \\
  --interface=$UCARP_INTERFACE \\
  --srcip=$UCARP_SRCIP \\
  --vhid=$UCARP_VHID \\
  --pass=$UCARP_PASS \\
  --advbase=$UCARP_ADVBASE \\
  --preempt \\
  --addr=$UCARP_ADDR \\
  --daemonize \\
  --upscript=$UCARP_UPSCRIPT \\
  --downscript=$UCARP_DOWNSCRIPT`.replace(/\$(\w+)/g, (_, name: string) => conf[name]!);
    const split = splitCommand(script);
    if (!split.ok) throw new Error(split.reason);
    expect(split.words[0]).toBe('ucarp');
    const r = run(split.words.slice(1));
    expect(r.instance).toMatchObject({
      interface: 'eth0', srcip: '172.16.0.11', vhid: 1, password: 'geheim', advbase: 1, preempt: true,
      addresses: [{ family: 4, address: '172.16.0.1', prefix: 32 }],
      upHook: { argv: ['/etc/ucarp/ucarp-up.sh'], shell: false }, downHook: { argv: ['/etc/ucarp/ucarp-down.sh'], shell: false },
      manageAddresses: false, shutdownHooks: false,
    });
    expect(r.daemonize).toBe(true);
    expect(r.warnings).toEqual([]);
    expect(r.sanitizedArgv).toContain('--pass=******');
  });

  it('000 as printed (/ instead of \\), joined on one line: works with operand warnings, as with ucarp', () => {
    const r = run(['/', '--interface=eth0', '/', '--srcip=172.16.0.11', '/', '--vhid=1', '/', '--pass=geheim', '/', '--addr=172.16.0.1']);
    expect(r.instance.vhid).toBe(1);
    expect(warningCodes(r).filter((c) => c === 'OPERAND_IGNORED')).toHaveLength(5);
  });

  it('003: French init script with an alias interface', () => {
    const opts = '-z -b 1 -i eth0:carp0 -v 42 -p <password> -a 192.168.0.32 -s 192.168.0.1';
    const r = run(opts.split(' '));
    expect(r.instance).toMatchObject({
      name: 'eth0:carp0-vhid42', interface: 'eth0:carp0', vhid: 42, password: '<password>', advbase: 1, shutdownHooks: true,
      srcip: '192.168.0.1', addresses: [{ family: 4, address: '192.168.0.32', prefix: 32 }],
    });
    expect(r.sanitizedArgv.join(' ')).toBe('-z -b 1 -i eth0:carp0 -v 42 -p ********** -a 192.168.0.32 -s 192.168.0.1');
  });
});

describe('ucarpArgsFromIfupdownEnv', () => {
  const STANZA = { IFACE: 'eth0', IF_ADDRESS: '10.0.0.2', IF_UCARP_VID: '3', IF_UCARP_VIP: '10.0.0.1', IF_UCARP_PASSWORD: '16charsatmost' };
  const CORE = ['-i', 'eth0', '-s', '10.0.0.2', '-B', '-z', '-v', '3', '-p', '16charsatmost', '-a', '10.0.0.1',
    '-u', '/usr/share/ucarp/vip-up', '-d', '/usr/share/ucarp/vip-down'];

  it('README.Debian example', () => {
    expect(ucarpArgsFromIfupdownEnv({ ...STANZA, IF_UCARP_ADVSKEW: '0', IF_UCARP_ADVBASE: '1', IF_UCARP_MASTER: 'yes' }))
      .toEqual([...CORE, '-P', '-k', '0', '-b', '1']);
  });

  it.each<[string, Record<string, string>, string[]]>([
    ['bare stanza', {}, []],
    ['all extras in the hook\'s order', {
      IF_UCARP_XPARAM: 'x', IF_UCARP_NOMCAST: 'yes', IF_UCARP_DEADRATIO: '4', IF_UCARP_ADVBASE: '2', IF_UCARP_ADVSKEW: '10', IF_UCARP_MASTER: 'true',
    }, ['-P', '-k', '10', '-b', '2', '-r', '4', '-M', '-x', 'x']],
    ['master no', { IF_UCARP_MASTER: 'no' }, []],
    ['master off', { IF_UCARP_MASTER: 'off' }, []],
    ['master false', { IF_UCARP_MASTER: 'false' }, []],
    ['master 0', { IF_UCARP_MASTER: '0' }, []],
    ['master "nope" (prefix no)', { IF_UCARP_MASTER: 'nope' }, []],
    ['master "01" (prefix 0)', { IF_UCARP_MASTER: '01' }, []],
    ['master "No" (case-sensitive)', { IF_UCARP_MASTER: 'No' }, ['-P']],
    ['master "1"', { IF_UCARP_MASTER: '1' }, ['-P']],
    ['master ""', { IF_UCARP_MASTER: '' }, []],
    ['nomcast off', { IF_UCARP_NOMCAST: 'off' }, []],
    ['nomcast on', { IF_UCARP_NOMCAST: 'on' }, ['-M']],
    ['unquoted expansion splits the xparam', { IF_UCARP_XPARAM: 'a b' }, ['-x', 'a', 'b']],
  ])('%s', (_name, extra, expected) => {
    expect(ucarpArgsFromIfupdownEnv({ ...STANZA, ...extra })).toEqual([...CORE, ...expected]);
  });

  it('custom scripts replace the defaults', () => {
    const args = ucarpArgsFromIfupdownEnv({ ...STANZA, IF_UCARP_UPSCRIPT: '/etc/up', IF_UCARP_DOWNSCRIPT: '/etc/down' })!;
    expect(args.slice(12, 16)).toEqual(['-u', '/etc/up', '-d', '/etc/down']);
  });

  it.each(['IF_UCARP_VID', 'IF_UCARP_VIP', 'IF_UCARP_PASSWORD'])('does nothing without %s', (key) => {
    expect(ucarpArgsFromIfupdownEnv({ ...STANZA, [key]: '' })).toBeUndefined();
    const env: Record<string, string> = { ...STANZA };
    delete env[key];
    expect(ucarpArgsFromIfupdownEnv(env)).toBeUndefined();
  });

  it('without an address (dhcp stanza) -s swallows -B, as the real hook does', () => {
    const args = ucarpArgsFromIfupdownEnv({ ...STANZA, IF_ADDRESS: '' })!;
    expect(args.slice(0, 5)).toEqual(['-i', 'eth0', '-s', '-B', '-z']);
    const r = parseUcarpArgs(args);
    expect(r.kind === 'error' && r.errors.map((e) => [e.code, e.message])).toEqual([
      ['INVALID_ADDRESS', '-s: Invalid address: [-B]'],
    ]);
    expect(r.kind === 'error' && r.errors[0]!.hint).toContain('no value');
  });

  it('round trip: the hook\'s argv parses to a daemonized instance with shutdown hooks', () => {
    const r = run(ucarpArgsFromIfupdownEnv({ ...STANZA, IF_UCARP_MASTER: 'yes' })!);
    expect(r.daemonize).toBe(true);
    expect(r.instance).toMatchObject({ interface: 'eth0', srcip: '10.0.0.2', vhid: 3, preempt: true, shutdownHooks: true,
      upHook: { argv: ['/usr/share/ucarp/vip-up'], shell: false } });
    expect(r.sanitizedArgv).toContain('*************');
  });

  it('address with a prefix (ifupdown CIDR notation) gets a hint', () => {
    const r = parseUcarpArgs(ucarpArgsFromIfupdownEnv({ ...STANZA, IF_ADDRESS: '10.0.0.2/24' })!);
    expect(r.kind === 'error' && r.errors[0]!.hint).toBe('ucarp takes a bare address: drop the /prefix');
  });
});

describe('ucarpUsage', () => {
  it('lists every option, long and short, and the differences', () => {
    const text = ucarpUsage();
    for (const o of UCARP_LONG_OPTIONS) {
      expect(text).toContain(`--${o.name}`);
      if (o.key !== 'm') expect(text).toContain(`(-${o.key}`);
    }
    expect(text).not.toMatch(/\(-m/);
    expect(text).toContain('deliberately differs');
    expect(ucarpUsage('ucarp').split('\n')[0]).toBe('ucarp - ucarp 1.5.2 compatible command line');
  });
});

describe('parseUcarpArgs properties', () => {
  const word = fc.oneof(
    fc.string(),
    fc.constantFrom('-i', 'eth0', '-s', '10.0.0.1', '-v', '1', '-p', 'pw', '-a', '10.0.0.2', '-o', '/pw', '-b', '0', '-k', '255', '-r',
      '--mcast=224.0.0.1', '-h', '--', '-', '-Pz', '--pas', '-m', '0x10', '010', '-x', '-f', 'none', '-u', ''),
    fc.string().map((s) => `-${s}`),
    fc.string().map((s) => `--${s}`),
  );
  it('never throws, and every password value is masked in sanitizedArgv', () => {
    fc.assert(fc.property(fc.array(word, { maxLength: 16 }), fc.boolean(), (args, withReader) => {
      const r = parseUcarpArgs(args, withReader ? { readFile: (p) => (p === '/pw' ? 'filepw\n' : '') } : {});
      expect(r.sanitizedArgv).toHaveLength(args.length);
      for (const o of getoptLong(args, { optstring: UCARP_OPTSTRING, longOptions: UCARP_LONG_OPTIONS }).options) {
        if (o.key !== 'p') continue;
        const masked = r.sanitizedArgv[o.valueIndex!]!.slice(o.valueOffset);
        expect(masked).toMatch(/^\**$/);
        expect(masked).toHaveLength(o.value!.length);
      }
      if (r.kind === 'error') expect(r.errors.length).toBeGreaterThan(0);
    }), { numRuns: 1000 });
  });
});

describe('the option table', () => {
  it('agrees with ucarp\'s optstring: every short option, with an argument exactly when the long one takes one', () => {
    const shorts = [...UCARP_OPTSTRING.matchAll(/([A-Za-z])(:?)/g)].map((m) => `${m[1]}${m[2]}`).sort();
    const fromTable = UCARP_OPTIONS.filter((o) => o.short).map((o) => `${o.key}${o.argument === 'required' ? ':' : ''}`).sort();
    expect(fromTable).toEqual(shorts);
    expect(UCARP_OPTIONS.find((o) => o.long === 'mcastip')).toMatchObject({ key: 'm', short: false });
    expect(UCARP_OPTIONS.filter((o) => !o.apply).map((o) => o.long)).toEqual(['help']);
  });
});
