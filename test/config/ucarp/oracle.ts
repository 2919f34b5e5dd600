/**
 * The real ucarp 1.5.2 as an oracle for carpool's command line handling.
 *
 * `UCARP_CASES` are command lines; `recordUcarp()` runs each through the real ucarp inside a
 * throw-away network namespace (root only) and writes what ucarp did to `golden.json`:
 * exit status (or "running" when it got as far as the election), its stderr without timestamps,
 * whether it printed its usage, and the argv its down script was started with. The unit test
 * `ucarp-compat.test.ts` replays the recording against our parser, so it runs anywhere.
 *
 * Re-record (root, ucarp installed): `npx tsx test/config/ucarp/record-golden.ts`
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/** Fixed paths, so the recorded command lines are the same every time. */
export const ORACLE_DIR = '/tmp/carpool-ucarp-oracle';
export const RECORDER = `${ORACLE_DIR}/record.sh`;
export const ORACLE_IFACE = 'vethA';

/** Password files the cases use (`-o ${ORACLE_DIR}/<name>`); `missing` is never created. */
export const PASSFILES: Readonly<Record<string, string>> = {
  ok: 'secret\nsecond line\n',
  crlf: 'secret\r\n',
  nonl: 'secret',
  empty: '',
  emptyline: '\nsecret\n',
  toolong: '12345678901234567890\n',
  max: '1234567890123456789\n',
};

export interface Observation {
  readonly args: readonly string[];
  /** Exit status, or `running` (killed after the start-up window), or `daemonized` (-B parent exited 0). */
  readonly exit: number | 'running' | 'daemonized';
  /** ucarp printed its usage text on stdout. */
  readonly usage: boolean;
  /** stderr lines, timestamps removed (`[ERROR] ...`, `ucarp: invalid option -- 'm'`). */
  readonly stderr: readonly string[];
  /** argv (without the script path) the down script was spawned with, if it ran. */
  readonly spawned: readonly string[] | null;
}

const R = RECORDER;
/** A command line that starts: everything required, the recorder as up and down script. */
const BASE = ['-i', ORACLE_IFACE, '-s', '10.0.0.1', '-v', '1', '-p', 'x', '-a', '10.0.0.9', '-d', R, '-u', R];
const without = (...drop: string[]) => {
  const out: string[] = [];
  for (let i = 0; i < BASE.length; i += 2) if (!drop.includes(BASE[i]!)) out.push(BASE[i]!, BASE[i + 1]!);
  return out;
};
const pf = (name: string) => `${ORACLE_DIR}/${name}`;

export const UCARP_CASES: readonly (readonly string[])[] = [
  // baseline and every option, long and short
  BASE,
  [...BASE, '-x', 'extra'],
  [...BASE, '--xparam=extra'],
  [...BASE, '-x', '-P'],
  [...without('-i'), '--interface=vethA'],
  [...without('-i'), '--interface', 'vethA'],
  [...without('-s'), '--srcip=10.0.0.1'],
  [...without('-v'), '--vhid=7'],
  [...without('-p'), '--pass=secret'],
  [...without('-p'), '--pass', 'secret'],
  [...without('-p'), '-psecret'],
  [...without('-a'), '--addr=10.0.0.9'],
  [...without('-d', '-u'), '--downscript=' + R, '--upscript', R],
  [...BASE, '--mcastip=224.0.0.19'],
  [...BASE, '--advbase=2', '--advskew=100', '--deadratio=4'],
  [...BASE, '-b', '2', '-k', '100', '-r', '4'],
  [...BASE, '--preempt', '--shutdown', '--ignoreifstate', '--nomcast', '--debug', '--facility=local0'],
  [...BASE, '-P', '-z', '-S', '-M', '-D', '-f', 'local0'],
  [...BASE, '--neutral'],
  [...BASE, '-n'],
  [...without('-p'), '--passfile=' + pf('ok')],
  [...without('-p'), '-o', pf('ok')],
  // clustering and attached values
  [...BASE, '-PzSD'],
  [...BASE, '-Pzb2'],
  [...without('-p'), '-zPp', 'secret'],
  [...without('-p'), '-Pzpsecret'],
  [...without('-v'), '-v42'],
  // abbreviations
  [...without('-i'), '--inter=vethA'],
  [...without('-i'), '--i', 'vethA'],
  [...BASE, '--mcast=224.0.0.19'],
  [...BASE, '--mcast', '224.0.0.19'],
  [...BASE, '--m=224.0.0.19'],
  [...BASE, '--deb'],
  [...BASE, '--pre', '--shut', '--ign', '--nom'],
  [...without('-p'), '--passf=' + pf('ok')],
  [...BASE, '--xp=extra'],
  // getopt errors: ucarp prints its usage and exits 0
  [...without('-p'), '--pas=x'],
  [...without('-p'), '--p=x'],
  [...BASE, '--=x'],
  [...BASE, '--d'],
  [...BASE, '--de=3'],
  [...BASE, '--a=10.0.0.9'],
  [...BASE, '--n'],
  [...BASE, '--preempt=yes'],
  [...BASE, '--pre=yes'],
  [...BASE, '-m', '224.0.0.19'],
  [...BASE, '--foo'],
  [...BASE, '--password=x'],
  [...BASE, '-Q'],
  [...BASE, '-PQz'],
  [...without('-p'), '-p'],
  [...without('-p'), '--pass'],
  [...BASE, '--xparam'],
  [...BASE, '-x'],
  // end of options, operands, permutation
  [...BASE, '--', '-x', 'extra'],
  ['foo', ...BASE, 'bar', '-x', 'extra', 'baz'],
  [...BASE, '-'],
  [...BASE, '/'],
  // help
  [],
  ['-h'],
  ['--help'],
  ['--h'],
  [...BASE, '-h'],
  ['-h', '-v', '0'],
  ['-v', '0', '-h'],
  ['--foo', '-h'],
  // values
  [...without('-v'), '-v', '0'],
  [...without('-v'), '-v', '256'],
  [...without('-v'), '-v', 'abc'],
  [...without('-v'), '-v', '-1'],
  [...without('-v'), '-v', '0x2a'],
  [...without('-v'), '-v', '010'],
  [...without('-v'), '-v', '5abc'],
  [...BASE, '-b', '0', '-k', '0'],
  [...BASE, '-b', '256'],
  [...BASE, '-b', '0', '-k', '1'],
  [...BASE, '-k', '256'],
  [...BASE, '-b', '1s'],
  [...BASE, '-b', ''],
  [...BASE, '-r', '0'],
  [...BASE, '-r', 'x'],
  [...without('-s'), '-s', '010.0.0.1'],
  [...without('-s'), '-s', '0.0.0.0'],
  [...without('-s'), '-s', '10.0.0.1/24'],
  [...without('-a'), '-a', '1.2.3'],
  [...without('-a'), '-a', '::1'],
  [...BASE, '--mcastip=1.2.3.4'],
  [...BASE, '--mcastip=300.1.1.1'],
  [...BASE, '-a', '10.0.0.8', '-a', '10.0.0.9'],
  [...BASE, '-f', 'bogus'],
  [...BASE, '-f', 'LOCAL3'],
  [...BASE, '-f', 'none'],
  [...BASE, '-u', ''],
  [...BASE, '-i', ''],
  [...BASE, '-B'],
  // required options
  without('-s'),
  without('-a'),
  without('-v'),
  without('-p'),
  [...without('-p'), '-p', ''],
  // passwords
  [...without('-p'), '-p', '1234567890123456789'],
  [...without('-p'), '-p', '12345678901234567890'],
  [...without('-p'), '-p', 'ääääääääää'],
  [...without('-p'), '-o', pf('crlf')],
  [...without('-p'), '-o', pf('nonl')],
  [...without('-p'), '-o', pf('empty')],
  [...without('-p'), '-o', pf('emptyline')],
  [...without('-p'), '-o', pf('missing')],
  [...without('-p'), '-o', pf('toolong')],
  [...without('-p'), '-o', pf('max')],
  [...BASE, '-o', pf('ok')],
  // seeds: 003 (French init script, alias interface) and 000 (German tutorial, long options)
  ['-z', '-b', '1', '-i', 'vethA:carp0', '-v', '42', '-p', 'password', '-a', '192.168.0.32', '-s', '10.0.0.1', '-d', R],
  ['--interface=vethA', '--srcip=10.0.0.1', '--vhid=1', '--pass=geheim', '--advbase=1', '--preempt',
    '--addr=172.16.0.1', '--upscript=' + R, '--downscript=' + R],
  ['/', '--interface=vethA', '/', '--srcip=10.0.0.1', '/', '--vhid=1', '/', '--pass=geheim', '/', '--addr=172.16.0.1',
    '/', '--downscript=' + R],
];

function sh(cmd: string[], allowFail = false): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Run every case through the real ucarp in a private namespace; returns the observations. */
export function recordUcarp(cases: readonly (readonly string[])[] = UCARP_CASES): Observation[] {
  const ns = `cfgoracle${process.pid}`;
  mkdirSync(ORACLE_DIR, { recursive: true });
  writeFileSync(RECORDER, '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$RECORD"\n');
  chmodSync(RECORDER, 0o755);
  for (const [name, text] of Object.entries(PASSFILES)) writeFileSync(pf(name), text, { mode: 0o600 });
  rmSync(pf('missing'), { force: true });
  sh(['ip', 'netns', 'add', ns]);
  try {
    sh(['ip', '-n', ns, 'link', 'add', 'vethA', 'type', 'veth', 'peer', 'name', 'vethB']);
    sh(['ip', '-n', ns, 'addr', 'add', '10.0.0.1/24', 'dev', 'vethA']);
    sh(['ip', '-n', ns, 'link', 'set', 'vethA', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'vethB', 'up']);
    return cases.map((args) => observe(ns, args));
  } finally {
    killNamespaceProcesses(ns);
    sh(['ip', 'netns', 'del', ns], true);
  }
}

/** Kill what we started inside our own namespace (a daemonized ucarp has no other handle). */
function killNamespaceProcesses(ns: string): void {
  for (const pid of sh(['ip', 'netns', 'pids', ns], true).split('\n').filter((p) => /^\d+$/.test(p))) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
  }
}

function observe(ns: string, args: readonly string[]): Observation {
  const record = `${ORACLE_DIR}/spawned`;
  rmSync(record, { force: true });
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ucarp', ...args], {
    encoding: 'utf8', timeout: 1000, killSignal: 'SIGKILL', env: { ...process.env, RECORD: record },
  });
  killNamespaceProcesses(ns);
  const daemonized = args.some((a) => a === '-B' || a === '--daemonize') && r.status === 0 && !r.stdout.includes('ucarp 1.5.2');
  const exit = r.signal ? 'running' : daemonized ? 'daemonized' : r.status ?? -1;
  const stderr = r.stderr.split('\n').filter((l) => l !== '').map((l) => l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+: /, ''));
  const spawned = existsSync(record) ? readFileSync(record, 'utf8').split('\0').slice(0, -1) : null;
  return { args, exit, usage: r.stdout.includes('ucarp 1.5.2'), stderr, spawned };
}
