/** HookQueues (issue 11, defect 3): one ordered queue per owner; owners never wait for each other. */
import { describe, expect, it } from 'vitest';
import { HookQueues } from '../../src/daemon/hooks.js';
import { quietLogger } from '../daemon/fakes.js';

const call = (argv: string[], label: string) => ({ hook: { argv, shell: false }, args: [], env: {}, label });

describe('HookQueues', () => {
  it("a hanging hook of one owner delays only that owner's later hooks; drain waits for all; the timeout kills", async () => {
    const { log, lines } = quietLogger();
    const q = new HookQueues(log);
    const a = q.queue('A', 1500);
    expect(q.queue('A')).toBe(a); // the same queue for the same owner
    const t0 = performance.now();
    const hang = a.enqueue(call(['/bin/sleep', '30'], 'A up'));
    const aNext = a.enqueue(call(['/bin/true'], 'A down'));
    const b = await q.queue('B').enqueue(call(['/bin/true'], 'B up'));
    expect(b).toMatchObject({ code: 0, timedOut: false });
    expect(performance.now() - t0).toBeLessThan(1000); // not behind A's hanging hook
    expect(q.busy).toBe(2);
    await q.drain();
    expect((await hang).timedOut).toBe(true);
    expect((await aNext).code).toBe(0); // order kept within A: after the killed hook
    expect(performance.now() - t0).toBeGreaterThan(1400);
    expect(lines.some((l) => /A up hook \/bin\/sleep timed out after 1500 ms/.test(l))).toBe(true);
    expect(q.busy).toBe(0);
  });
});
