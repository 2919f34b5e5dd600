/**
 * The daemon-wide etcd shape, pure parts (src/coordination/core/shared-lease.ts): one lease per
 * ttl shared by the instances (grant once, keep-alives joined or reused with their real sent
 * time, lost for all together, revoked by the last holder), the watch scope and the fan-out by
 * key, the in-flight bound, the read chunks. A property test drives many LeaseElections through
 * one SharedLease and checks that no holder's bound is ever later than the lease's real expiry.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LeaseElection, type LeaseEffect } from '../../src/coordination/core/lease.js';
import { InFlightLimit, KeyFanOut, SharedLease, TXN_OPS, candidacyReads, chunk, isUnder, prefixRangeEnd, readDelayMs, watchScope } from '../../src/coordination/core/shared-lease.js';

describe('SharedLease', () => {
  it('grants once for all the instances of a ttl; the others wait for that grant, then use it with its sent time', () => {
    const l = new SharedLease(3000, 1000);
    l.join('a', 1000);
    l.join('b', 1000);
    expect(l.acquire(0)).toEqual({ type: 'grant' });
    expect(l.acquire(5)).toEqual({ type: 'wait' });
    expect(l.granted('L1', 3000, 0)).toEqual({ lease: 'L1', ttlMs: 3000, sentAt: 0 });
    // A later instance gets the lease valid from the grant's send time, not its own request's.
    expect(l.acquire(400)).toEqual({ type: 'use', lease: 'L1', ttlMs: 3000, sentAt: 0 });
  });

  it('a failed grant lets the next request grant again', () => {
    const l = new SharedLease(3000, 1000);
    expect(l.acquire(0)).toEqual({ type: 'grant' });
    l.grantFailed();
    expect(l.acquire(100)).toEqual({ type: 'grant' });
  });

  it('keep-alives: joined while one is in flight, reused within renew/2 of the last confirmation, else sent', () => {
    const l = new SharedLease(3000, 1000);
    l.join('a', 1000);
    l.acquire(0);
    l.granted('L1', 3000, 0);
    expect(l.keepAlive('L1', 300)).toEqual({ type: 'reuse', ttlMs: 3000, sentAt: 0 });
    expect(l.keepAlive('L1', 500)).toEqual({ type: 'send' });
    expect(l.keepAlive('L1', 520)).toEqual({ type: 'join' });
    expect(l.keptAlive('L1', 3000, 500)).toEqual({ lease: 'L1', ttlMs: 3000, sentAt: 500 });
    expect(l.keepAlive('L1', 900)).toEqual({ type: 'reuse', ttlMs: 3000, sentAt: 500 });
    expect(l.keepAlive('L1', 1000)).toEqual({ type: 'send' });
  });

  it('the shortest renew of the holders decides how old a reused confirmation may be', () => {
    const l = new SharedLease(3000, 1000);
    l.join('a', 1000);
    l.join('b', 400);
    l.acquire(0);
    l.granted('L1', 3000, 0);
    expect(l.keepAlive('L1', 199)).toMatchObject({ type: 'reuse' });
    expect(l.keepAlive('L1', 200)).toEqual({ type: 'send' });
  });

  it('after a failed keep-alive nothing is reused: the retry goes out', () => {
    const l = new SharedLease(3000, 1000);
    l.acquire(0);
    l.granted('L1', 3000, 0);
    expect(l.keepAlive('L1', 600)).toEqual({ type: 'send' });
    l.keepAliveFailed('L1', 600);
    expect(l.keepAlive('L1', 610)).toEqual({ type: 'send' });
  });

  it('etcd no longer knows the lease: lost for every holder; old leases are gone; the next request grants anew', () => {
    const l = new SharedLease(3000, 1000);
    l.join('a', 1000);
    l.acquire(0);
    l.granted('L1', 3000, 0);
    expect(l.keepAlive('L1', 600)).toEqual({ type: 'send' });
    expect(l.keptAlive('L1', 0, 600)).toEqual({ lease: 'L1', ttlMs: 0, sentAt: 600 });
    expect(l.keepAlive('L1', 700)).toEqual({ type: 'gone' });
    expect(l.acquire(700)).toEqual({ type: 'grant' });
    l.granted('L2', 3000, 700);
    expect(l.keepAlive('L1', 800)).toEqual({ type: 'gone' });
    // A late answer for the old lease confirms nothing.
    expect(l.keptAlive('L1', 3000, 650)).toBeUndefined();
  });

  it('a lease not confirmed within its ttl by our clock is not handed out: revived first, a new one granted if etcd lost it', () => {
    const l = new SharedLease(3000, 1000);
    l.acquire(0);
    l.granted('L1', 3000, 0);
    expect(l.acquire(2999)).toMatchObject({ type: 'use', lease: 'L1' });
    expect(l.acquire(3000)).toEqual({ type: 'revive', lease: 'L1' });
    expect(l.current).toBeUndefined();
    expect(l.keepAlive('L1', 3010)).toEqual({ type: 'gone' }); // not used while not confirmed again
    expect(l.acquire(3020)).toEqual({ type: 'wait' });
    expect(l.revived('L1', 0, 3000)).toBeUndefined(); // etcd no longer has it: the caller grants
    expect(l.granted('L2', 3000, 3100)).toEqual({ lease: 'L2', ttlMs: 3000, sentAt: 3100 });
    expect(l.current).toBe('L2');
  });

  it('a lease given up by our bound that etcd still has (a new leader extended it) serves again, from the revive\'s send time', () => {
    const l = new SharedLease(3000, 1000);
    l.join('a', 1000);
    l.acquire(0);
    l.granted('L1', 3000, 0);
    expect(l.acquire(4000)).toEqual({ type: 'revive', lease: 'L1' });
    l.grantFailed(); // etcd still away: the next request revives again, no new lease
    expect(l.acquire(5000)).toEqual({ type: 'revive', lease: 'L1' });
    expect(l.revived('L1', 3000, 5000)).toEqual({ lease: 'L1', ttlMs: 3000, sentAt: 5000 });
    expect(l.acquire(5100)).toEqual({ type: 'use', lease: 'L1', ttlMs: 3000, sentAt: 5000 });
    expect(l.keepAlive('L1', 5600)).toEqual({ type: 'send' });
    // Lost for real afterwards (ttl 0): nothing to revive, a grant.
    l.keptAlive('L1', 0, 5600);
    expect(l.acquire(5700)).toEqual({ type: 'grant' });
  });

  it('the last holder to leave revokes a lease waiting to be revived too', () => {
    const l = new SharedLease(3000, 1000);
    l.join('a', 1000);
    l.acquire(0);
    l.granted('L1', 3000, 0);
    l.acquire(4000);
    l.grantFailed();
    expect(l.leave('a')).toBe('L1');
  });

  it('the last holder to leave revokes the lease; the others do not', () => {
    const l = new SharedLease(3000, 1000);
    l.join('a', 1000);
    l.join('b', 1000);
    l.acquire(0);
    l.granted('L1', 3000, 0);
    expect(l.leave('a')).toBeUndefined();
    expect(l.holderCount).toBe(1);
    expect(l.leave('b')).toBe('L1');
    expect(l.current).toBeUndefined();
  });

  it('property: instances sharing one lease never hold past its real expiry, and keep it while etcd answers', () => {
    // A simulated etcd: a lease expires ttl after etcd *processed* its last keep-alive (after it
    // was sent, by the network delay); a dead lease never comes back. A master counts on the
    // lease it was granted: etcd must keep it alive for more than the margin (less one tick of
    // the simulation) at every moment it is master. With no request lost, every instance ends
    // up master of its own key and stays so.
    const TTL = 3000;
    const RENEW = 1000;
    const MARGIN = 300;
    const TICK = 25;
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 6 }),
      fc.array(fc.record({ delay: fc.integer({ min: 0, max: 400 }), drop: fc.integer({ min: 0, max: 9 }) }), { minLength: 20, maxLength: 60 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 6, maxLength: 6 }),
      (n, net, lossy, phases) => {
        const shared = new SharedLease(TTL, RENEW);
        const els = Array.from({ length: n }, (_, i) => new LeaseElection({ node: `n${i}`, ttlMs: TTL, renewMs: RENEW, requestTimeoutMs: 600, marginMs: MARGIN, pollMs: 1500 }));
        els.forEach((_, i) => shared.join(`i${i}`, RENEW));
        const etcdExpiry = new Map<string, number>();
        const leaseOf: (string | undefined)[] = els.map(() => undefined);
        let grantWaiters: number[] = [];
        let kaWaiters: number[] = [];
        let leaseNo = 0;
        let k = 0;
        const evs: { at: number; run: () => void }[] = [];
        const push = (at: number, run: () => void): void => {
          const i = evs.findIndex((e) => e.at > at);
          evs.splice(i < 0 ? evs.length : i, 0, { at, run });
        };
        const step = (i: number, input: Parameters<LeaseElection['step']>[0], now: number): void => {
          if (input.type === 'granted') leaseOf[i] = input.lease;
          feed(i, els[i]!.step(input, now), now);
        };
        const feed = (i: number, fx: LeaseEffect[], now: number): void => {
          for (const e of fx) {
            if (e.type !== 'request') continue;
            const hop = net[k++ % net.length]!;
            const dropped = lossy && hop.drop === 0;
            const at = now + hop.delay;
            if (e.request === 'grant') {
              const d = shared.acquire(now);
              if (d.type === 'use') push(now, () => step(i, { type: 'granted', lease: d.lease, ttlMs: d.ttlMs, sentAt: d.sentAt }, now));
              else {
                grantWaiters.push(i);
                if (d.type === 'revive') {
                  // One keep-alive of the lease our bound gave up; lost in etcd, a grant as below.
                  push(dropped ? now + 600 : at, () => {
                    if (dropped) {
                      const ws = grantWaiters;
                      grantWaiters = [];
                      shared.grantFailed();
                      for (const j of ws) step(j, { type: 'failed', request: 'grant', error: 'timeout' }, now + 600);
                      return;
                    }
                    const exp = etcdExpiry.get(d.lease);
                    const alive = exp !== undefined && at < exp;
                    if (alive) etcdExpiry.set(d.lease, at + TTL);
                    else etcdExpiry.delete(d.lease);
                    const c = shared.revived(d.lease, alive ? TTL : 0, now);
                    const ws = grantWaiters;
                    grantWaiters = [];
                    if (c) {
                      for (const j of ws) step(j, { type: 'granted', ...c }, at);
                      return;
                    }
                    const lease = `L${++leaseNo}`;
                    etcdExpiry.set(lease, at + TTL);
                    const g = shared.granted(lease, TTL, at);
                    for (const j of ws) step(j, { type: 'granted', ...g }, at);
                  });
                } else if (d.type === 'grant') {
                  push(dropped ? now + 600 : at, () => {
                    const ws = grantWaiters;
                    grantWaiters = [];
                    if (dropped) {
                      shared.grantFailed();
                      for (const j of ws) step(j, { type: 'failed', request: 'grant', error: 'timeout' }, now + 600);
                      return;
                    }
                    const lease = `L${++leaseNo}`;
                    etcdExpiry.set(lease, at + TTL);
                    const c = shared.granted(lease, TTL, now);
                    for (const j of ws) step(j, { type: 'granted', ...c }, at);
                  });
                }
              }
            } else if (e.request === 'keepAlive') {
              const d = shared.keepAlive(e.lease, now);
              const lease = e.lease;
              if (d.type === 'gone') push(now, () => step(i, { type: 'keptAlive', lease, ttlMs: 0, sentAt: now }, now));
              else if (d.type === 'reuse') push(now, () => step(i, { type: 'keptAlive', lease, ttlMs: d.ttlMs, sentAt: d.sentAt }, now));
              else {
                kaWaiters.push(i);
                if (d.type === 'send') {
                  push(dropped ? now + 600 : at, () => {
                    const ws = kaWaiters;
                    kaWaiters = [];
                    if (dropped) {
                      shared.keepAliveFailed(lease, now);
                      for (const j of ws) step(j, { type: 'failed', request: 'keepAlive', error: 'timeout' }, now + 600);
                      return;
                    }
                    const exp = etcdExpiry.get(lease);
                    const alive = exp !== undefined && at < exp;
                    if (alive) etcdExpiry.set(lease, at + TTL);
                    else etcdExpiry.delete(lease);
                    const c = shared.keptAlive(lease, alive ? TTL : 0, now);
                    for (const j of ws) step(j, { type: 'keptAlive', lease, ttlMs: alive ? TTL : 0, sentAt: now }, at);
                    // Every holder hears the confirmation (the pool's onLease).
                    if (c) els.forEach((_, j) => step(j, { type: 'keptAlive', ...c }, at));
                  });
                }
              }
            } else if (e.request === 'txn') {
              // One key per instance: whether it may hold depends on the lease alone.
              const lease = e.lease;
              push(at, () => step(i, { type: 'txn', won: true, revision: 1, holder: `n${i}`, lease }, at));
            }
          }
        };
        els.forEach((_, i) => push(phases[i]!, () => step(i, { type: 'start' }, phases[i]!)));
        const END = 12_000;
        for (let t = 0; t <= END; t += TICK) push(t, () => els.forEach((_, i) => step(i, { type: 'tick' }, t)));
        while (evs.length) {
          const ev = evs.shift()!;
          ev.run();
          els.forEach((el, i) => {
            if (el.state !== 'MASTER') return;
            const exp = etcdExpiry.get(leaseOf[i]!);
            expect(exp, `instance ${i} master on ${leaseOf[i]} at ${ev.at}`).toBeDefined();
            expect(exp! - ev.at).toBeGreaterThan(MARGIN - TICK);
          });
        }
        if (!lossy) expect(els.map((el) => el.state)).toEqual(els.map(() => 'MASTER'));
        // One lease for all of them (a new one only after a loss).
        if (!lossy) expect(leaseNo).toBe(1);
      },
    ), { numRuns: 40 });
  });
});

describe('watch scope and fan-out', () => {
  it('a key under the prefix is served by the prefix watch; another key by its own', () => {
    expect(watchScope('/carpool/web/leader', '/carpool')).toEqual({ range: 'prefix', value: '/carpool/' });
    expect(watchScope('/carpool/web/leader', '/carpool/')).toEqual({ range: 'prefix', value: '/carpool/' });
    // `/carpoolx/...` is not under `/carpool`.
    expect(watchScope('/carpoolx/web', '/carpool')).toEqual({ range: 'key', value: '/carpoolx/web' });
    expect(watchScope('/service/x/leader', '/carpool')).toEqual({ range: 'key', value: '/service/x/leader' });
  });

  it('events go to the listeners of their key only; unknown keys to nobody; the last removal says so', () => {
    const f = new KeyFanOut<string>();
    f.add('/p/a/leader', 'a1');
    f.add('/p/a/leader', 'a2');
    f.add('/p/b/leader', 'b');
    expect(f.route('/p/a/leader')).toEqual(['a1', 'a2']);
    expect(f.route('/p/b/leader')).toEqual(['b']);
    expect(f.route('/p/nodes/n1')).toEqual([]);
    expect(f.remove('/p/a/leader', 'a1')).toBe(false);
    expect(f.remove('/p/a/leader', 'a2')).toBe(false);
    expect(f.route('/p/a/leader')).toEqual([]);
    expect(f.remove('/p/b/leader', 'b')).toBe(true);
    expect(f.size).toBe(0);
  });
});

describe('InFlightLimit', () => {
  it('admits up to max, queues the rest in order, hands each freed place to the next', () => {
    const l = new InFlightLimit<string>(2);
    expect(l.admit('a')).toBe(true);
    expect(l.admit('b')).toBe(true);
    expect(l.admit('c')).toBe(false);
    expect(l.admit('d')).toBe(false);
    expect([l.inFlight, l.waiting]).toEqual([2, 2]);
    expect(l.finish()).toBe('c');
    expect(l.inFlight).toBe(2);
    expect(l.finish()).toBe('d');
    expect(l.finish()).toBeUndefined();
    expect(l.finish()).toBeUndefined();
    expect([l.inFlight, l.waiting]).toEqual([0, 0]);
    expect(l.admit('e')).toBe(true);
  });
});

describe('read batching', () => {
  it('chunks stay under etcd\'s default max-txn-ops (128)', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `/p/s${i}/leader`);
    const cs = chunk(keys, TXN_OPS);
    expect(cs).toHaveLength(10);
    expect(Math.max(...cs.map((c) => c.length))).toBeLessThanOrEqual(128);
    expect(cs.flat()).toEqual(keys);
    expect(chunk([], TXN_OPS)).toEqual([]);
  });

  it('a read waits at most a tenth of the poll, and at most 100 ms, for company', () => {
    expect(readDelayMs(1000)).toBe(100);
    expect(readDelayMs(500)).toBe(50);
    expect(readDelayMs(5000)).toBe(100);
  });
});

describe('candidacy reads batched (preference)', () => {
  it('1,000 instances under one prefix: one range read of the prefix directory; keys outside it one range each', () => {
    const asks = Array.from({ length: 1000 }, (_, i) => ({ key: `/carpool/s${i}/leader`, prefix: '/carpool' }));
    const { byDir, alone } = candidacyReads([...asks, { key: '/other/x', prefix: '/carpool' }, { key: '/b/y/leader', prefix: '/b/' }]);
    expect([...byDir.keys()]).toEqual(['/carpool/', '/b/']);
    expect(byDir.get('/carpool/')).toHaveLength(1000);
    expect(byDir.get('/b/')).toEqual(['/b/y/leader']);
    expect(alone).toEqual(['/other/x']);
  });

  it('an answer is split by candidacy directory: a key is under a directory only strictly', () => {
    expect(isUnder('/p/web/leader/candidates/n1', '/p/web/leader/candidates/')).toBe(true);
    expect(isUnder('/p/web/leader/candidates/', '/p/web/leader/candidates/')).toBe(false);
    expect(isUnder('/p/web2/leader/candidates/n1', '/p/web/leader/candidates/')).toBe(false);
    expect(isUnder('/p/web/leader', '/p/web/leader/candidates/')).toBe(false);
  });

  it('the end of a prefix range is etcd\'s: the last byte below 0xff plus one', () => {
    const end = (s: string) => Buffer.from(prefixRangeEnd(Buffer.from(s))).toString('latin1');
    expect(end('/a/b/')).toBe('/a/b0');
    expect(Buffer.from(prefixRangeEnd(Uint8Array.of(0x61, 0xff, 0xff)))).toEqual(Buffer.from([0x62]));
    expect(Buffer.from(prefixRangeEnd(Uint8Array.of(0xff)))).toEqual(Buffer.from([0]));
  });
});
