/**
 * A smoke run of the soak harness (bench/soak.ts): two faults in 20 s. Not run by `npm test`
 * or CI (it takes ~40 s and the soak is a by-hand run); set CARPOOL_SOAK_SMOKE=1 to run it:
 *   CARPOOL_SOAK_SMOKE=1 npx vitest run test/integration/soak-smoke.test.ts
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../src/lib/exec.js';
import { ROOT, isRoot } from './helpers/procs.js';

describe.skipIf(!isRoot || !process.env.CARPOOL_SOAK_SMOKE)('soak harness smoke run (CARPOOL_SOAK_SMOKE=1, root)', () => {
  it('runs two faults, reports every criterion and passes', async () => {
    const r = await run([process.execPath, '--import', 'tsx', `${ROOT}bench/soak.ts`, '--duration', '20s', '--faults', 'stdout,kill', '--no-write'], { allowFail: true, timeoutMs: 120_000 });
    expect(r.stdout, r.stderr).toContain('**PASS**');
    expect(r.code).toBe(0);
    for (const c of ['longest time with two holders', 'longest time with no holder', 'daemon RSS max', 'log size', 'fault stdout: checks', 'fault kill: checks']) {
      expect(r.stdout).toContain(c);
    }
    // Its lab is gone afterwards.
    const prefix = /lab (soak\d+) up/.exec(r.stderr)?.[1];
    expect(prefix).toBeDefined();
    const ns = await run(['ip', '-o', 'netns', 'list'], { allowFail: true });
    expect(ns.stdout).not.toContain(`${prefix}-`);
  }, 180_000);
});
