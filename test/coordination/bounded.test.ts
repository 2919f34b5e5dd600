/**
 * The request bound of the etcd clients (shell/etcd-client.ts `bounded`): a reply received in
 * time is not taken for a timeout when the event loop was stalled past the bound and the timer
 * and the reply became ready together (issue 16: a keep-alive could false-timeout).
 */
import { closeSync, openSync, read, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bounded } from '../../src/coordination/shell/etcd-client.js';

/** Busy-wait: the event loop does nothing meanwhile (a stalled daemon). */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* stalled */ }
}

describe('bounded (etcd request timeout)', () => {
  it('a reply received before the bound wins even when the loop wakes up after the bound', async () => {
    const file = join(tmpdir(), `carpool-bounded-${process.pid}`);
    writeFileSync(file, 'reply');
    const fd = openSync(file, 'r');
    try {
      // One thread-pool read: done within the stall, its callback waits in the poll phase.
      const reply = new Promise<string>((resolve, reject) => {
        const buf = Buffer.alloc(5);
        read(fd, buf, 0, 5, 0, (err) => (err ? reject(err) : resolve(buf.toString())));
      });
      const answer = bounded('keepAlive', 20, reply);
      stall(200); // past the 20 ms bound: the timer is due when the loop runs again
      await expect(answer).resolves.toBe('reply');
    } finally {
      closeSync(fd);
      rmSync(file, { force: true });
    }
  });

  it('no reply: the timeout error names the request and the bound', async () => {
    await expect(bounded('keepAlive', 10, new Promise<never>(() => undefined))).rejects.toThrow('keepAlive: no answer within 10 ms');
  });

  it('a reply before the bound settles at once; a failure is passed on', async () => {
    await expect(bounded('read', 1000, Promise.resolve(7))).resolves.toBe(7);
    await expect(bounded('read', 1000, Promise.reject(new Error('refused')))).rejects.toThrow('refused');
  });
});
