/**
 * FILE_CHECK: the number in a `track_file`'s file (keepalived.conf(5) "Track files"): read as
 * C's strtol with base 0 does (leading blanks, a sign, `0x` hex, `0` octal, decimal; what
 * follows the number is ignored), a missing or empty file or no number = 0, a number outside
 * −2^31..2^31 is ignored (the last value stands). The first 127 bytes are read, asynchronously.
 * The verdict and the weight are the core's (`fileVerdict` in health.ts).
 */
import { open } from 'node:fs/promises';
import type { ProbeSpec } from '../from-config.js';
import type { Probe } from './probe-kit.js';

/** strtol(text, NULL, 0) on the file's text; undefined when the number is out of keepalived's range. */
export function parseTrackValue(text: string): number | undefined {
  const m = /^[\t\n\v\f\r ]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!m) return 0;
  const digits = m[2]!;
  const magnitude = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits.startsWith('0') ? parseInt(digits, 8) : parseInt(digits, 10);
  const v = m[1] === '-' ? -magnitude : magnitude;
  return v < -(2 ** 31) || v > 2 ** 31 ? undefined : v;
}

const lastValue = new WeakMap<ProbeSpec, number>();

export const fileCheck: Probe<'FILE_CHECK'> = async (spec) => {
  const c = spec.checker;
  let text = '';
  let why = '';
  try {
    const fh = await open(c.path, 'r');
    try {
      const { bytesRead, buffer } = await fh.read(Buffer.alloc(127), 0, 127, 0);
      text = buffer.subarray(0, bytesRead).toString('latin1');
    } finally {
      await fh.close();
    }
  } catch (err) {
    why = ` (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: read as 0)`;
  }
  const parsed = parseTrackValue(text);
  const value = parsed ?? lastValue.get(spec) ?? 0;
  lastValue.set(spec, value);
  const note = parsed === undefined ? ` (out of range, ignored: ${text.trim().slice(0, 20)})` : why;
  // ok is provisional: the core judges fileValue with the checker's weight and reverse.
  return { ok: true, fileValue: value, detail: `${c.path}: ${value}${note}` };
};
