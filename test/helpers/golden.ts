/**
 * Golden files: compare what a test produced with a file under testdata/.
 * `UPDATE_GOLDEN=1 npx vitest run ...` rewrites the files instead (review the diff, commit it).
 * A missing file is written and the test fails once, so a new golden is looked at before it
 * is trusted and a deleted one cannot make a test pass silently.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const TESTDATA = fileURLToPath(new URL('../../testdata/', import.meta.url));

/** True when the run asks to rewrite golden files (`UPDATE_GOLDEN=1`). */
export const updating = (): boolean => !!process.env.UPDATE_GOLDEN && process.env.UPDATE_GOLDEN !== '0';

/**
 * `actual` (text, or lines joined with a final newline) must equal testdata/`file`
 * (e.g. `scenarios/failover-basic.txt`, `cib/plain-group.yaml`).
 */
export function golden(file: string, actual: string | readonly string[]): void {
  const path = join(TESTDATA, file);
  const text = typeof actual === 'string' ? actual : actual.join('\n') + '\n';
  if (updating()) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return;
  }
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    expect.fail(`testdata/${file} did not exist and has been written: check it, commit it and run again`);
  }
  expect(text, `testdata/${file} (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(path, 'utf8'));
}
