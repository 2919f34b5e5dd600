/**
 * A smoke run of the etcd bench (bench/etcd.ts): one hard failure and one switchover each side,
 * 20 instances per node at scale. Not run by `npm test` or CI (it takes ~90 s; the bench is a
 * by-hand run); set CARPOOL_ETCD_BENCH_SMOKE=1 to run it:
 *   CARPOOL_ETCD_BENCH_SMOKE=1 npx vitest run test/integration/etcd-bench-smoke.test.ts
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../src/lib/exec.js';
import { ROOT, isRoot } from './helpers/procs.js';

describe.skipIf(!isRoot || !process.env.CARPOOL_ETCD_BENCH_SMOKE)('etcd bench smoke run (CARPOOL_ETCD_BENCH_SMOKE=1, root, etcd-server, vip-manager)', () => {
  it('measures both implementations, settles the scale part, and leaves no lab behind', async () => {
    const r = await run([process.execPath, '--import', 'tsx', `${ROOT}bench/etcd.ts`, '--runs', '1', '--instances', '20', '--window', '3', '--no-write'], { allowFail: true, timeoutMs: 280_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| carpool \| 1 \| \d+ \/ \d+ \/ \d+ \| \d+ \|/);
    expect(r.stdout).toMatch(/\| vip-manager \| 1 \| \d+ \/ \d+ \/ \d+ \| \d+ \| 1\.00× \|/);
    expect(r.stdout).toMatch(/\| vip-manager \| \d+ \| \d+ \/ \d+ \/ \d+ \|/);
    expect(r.stdout).toMatch(/All 20 instances had exactly one holder/);
    expect(r.stdout).toMatch(/\| etcd requests\/s \(grpc_server_msg_received_total[^|]*\| [1-9]\d* \|/);
    const prefix = /lab (etb\d+) up/.exec(r.stderr)?.[1];
    expect(prefix).toBeDefined();
    const ns = await run(['ip', '-o', 'netns', 'list'], { allowFail: true });
    expect(ns.stdout).not.toContain(`${prefix}-`);
  }, 300_000);
});
