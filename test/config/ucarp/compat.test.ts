/**
 * Replays what the real ucarp 1.5.2 did with each command line of `UCARP_CASES` (recorded in
 * golden.json by record-golden.ts) against carpool's parser: same getopt messages, same
 * help/usage decisions, same values reaching the scripts, an error wherever ucarp stops — except
 * for the deliberate differences listed below.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatGetoptError, getoptLong } from '../../../src/config/ucarp/getopt.js';
import { UCARP_LONG_OPTIONS, UCARP_OPTSTRING, parseUcarpArgs } from '../../../src/config/ucarp/args.js';
import { ORACLE_DIR, PASSFILES, UCARP_CASES, type Observation } from './oracle.js';

const golden = JSON.parse(readFileSync(new URL('./golden.json', import.meta.url), 'utf8')) as Observation[];

function readFixture(path: string): string {
  const name = path.startsWith(`${ORACLE_DIR}/`) ? path.slice(ORACLE_DIR.length + 1) : '';
  const text = PASSFILES[name];
  if (text === undefined) throw new Error('No such file or directory');
  return text;
}

/** What ucarp's pcap_lookupdev() picked in the recording namespace. */
const DEFAULT_INTERFACE = 'vethB';

/**
 * Deliberate differences: command lines ucarp accepts (or rejects for another reason, or with another
 * text) where carpool reports these error codes instead.
 */
const DIFFERENCES: ReadonlyMap<string, readonly string[]> = new Map([
  ['-v 5abc', ['INVALID_NUMBER']], // ucarp reads 5
  ['-k 256', ['OUT_OF_RANGE']], // ucarp uses 0
  ['-b 1s', ['INVALID_NUMBER']], // ucarp reads 1
  ['-b 256', ['OUT_OF_RANGE']], // ucarp: 0, then "You must supply an advertisement time base"
  ['-b ', ['INVALID_NUMBER']], // ucarp: 0, then "You must supply an advertisement time base"
  ['-r x', ['INVALID_NUMBER']], // ucarp reads 0: "Dead ratio can't be zero"
  ['-u ', ['EMPTY_SCRIPT']], // ucarp runs and fails to exec "" on every transition
  ['--mcastip=1.2.3.4', ['INVALID_MCAST']], // ucarp starts, then exits 2 at IP_ADD_MEMBERSHIP
]);

function differenceFor(args: readonly string[]): readonly string[] | undefined {
  const joined = args.join(' ');
  for (const [k, v] of DIFFERENCES) if (joined.endsWith(k)) return v;
  return undefined;
}

describe('carpool ucarp against the recorded real ucarp 1.5.2', () => {
  it('the recording covers every case', () => {
    expect(golden.map((o) => o.args)).toEqual(UCARP_CASES);
  });

  it.each(golden.map((o) => [o.args.join(' ') || '(no arguments)', o] as const))('%s', (_name, obs) => {
    const ours = parseUcarpArgs(obs.args, { readFile: readFixture, defaultInterface: DEFAULT_INTERFACE });
    const getoptLine = obs.stderr.find((l) => l.startsWith('ucarp: '));
    const errorLine = obs.stderr.find((l) => l.startsWith('[ERROR] '));
    const diff = differenceFor(obs.args);

    if (getoptLine) {
      // glibc complained: same complaint, byte for byte, and ours is an error where ucarp exits 0.
      const g = getoptLong(obs.args, { optstring: UCARP_OPTSTRING, longOptions: UCARP_LONG_OPTIONS });
      expect(formatGetoptError(g.errors[0]!, 'ucarp')).toBe(getoptLine);
      expect(obs.exit).toBe(0);
      expect(ours.kind).toBe('error');
      if (ours.kind === 'error') expect(ours.errors[0]!.ucarpExitCode).toBe(0);
      return;
    }
    if (obs.usage) {
      expect(obs.exit).toBe(0);
      expect(ours.kind).toBe('help');
      return;
    }
    if (diff) {
      expect(ours.kind).toBe('error');
      if (ours.kind === 'error') expect(ours.errors.map((e) => e.code)).toEqual(diff);
      return;
    }
    if (obs.exit === 'running' || obs.exit === 'daemonized') {
      expect(ours.kind).toBe('config');
      if (ours.kind !== 'config') return;
      const inst = ours.instance;
      if (obs.spawned) {
        const expected = [inst.interface, inst.addresses[0]!.address, ...(inst.xparam !== undefined ? [inst.xparam] : [])];
        expect(expected).toEqual(obs.spawned);
      } else {
        expect(inst.neutral).toBe(true); // no down script at start: only --neutral does that
      }
      expect(ours.daemonize).toBe(obs.exit === 'daemonized');
      if (errorLine) expect(ours.warnings.map((w) => `[ERROR] ${w.message}`).join('\n')).toContain(errorLine);
      return;
    }
    // ucarp stopped with 1 or 2: so do we, and our first error is the one ucarp met, in its words.
    expect(ours.kind).toBe('error');
    if (ours.kind !== 'error') return;
    const first = ours.errors[0]!;
    expect(first.ucarpExitCode).toBe(obs.exit);
    expect(errorLine).toBeDefined();
    expect(first.message).toContain(errorLine!.slice('[ERROR] '.length).replace(/\.$/, ''));
  });
});
