import { describe, expect, it } from 'vitest';
import {
  decodeFailsafe, encodeFailsafe, failsafeDecision, judgeAnswer, majority, ReplayGuard, type FailsafeAnswer, type FailsafeMessage,
} from '../../src/coordination/core/failsafe.js';
import { LeaseElection, type LeaseEffect, type LeaseInput, type LeaseParams } from '../../src/coordination/core/lease.js';
import { SharedLease } from '../../src/coordination/core/shared-lease.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const NONCE = '00112233445566778899aabbccddeeff';
const P: Omit<LeaseParams, 'node'> = { ttlMs: 3000, renewMs: 1000, requestTimeoutMs: 500, marginMs: 300, pollMs: 1000 };

describe('failsafe peer messages', () => {
  const q: FailsafeMessage = { type: 'query', instance: 'web', node: 'n1', nonce: NONCE, ts: 1_700_000_000_000 };
  const a: FailsafeMessage = { type: 'answer', instance: 'web', node: 'n2', nonce: NONCE, ts: 1_700_000_000_010, holding: false, etcdReachable: false, holder: 'n1' };

  it('round-trips a question and an answer with the right key', () => {
    expect(decodeFailsafe(encodeFailsafe(q, KEY), KEY)).toEqual({ ok: true, message: q });
    expect(decodeFailsafe(encodeFailsafe(a, KEY), KEY)).toEqual({ ok: true, message: a });
  });

  it('drops a wrong key, a flipped bit, a wrong magic, a truncated or oversized datagram', () => {
    const buf = encodeFailsafe(a, KEY);
    expect(decodeFailsafe(buf, Buffer.from('another key of 32 bytes.........'))).toEqual({ ok: false, drop: 'auth' });
    const flipped = Buffer.from(buf);
    flipped[20] = flipped[20]! ^ 1;
    expect(decodeFailsafe(flipped, KEY)).toEqual({ ok: false, drop: 'auth' });
    const magic = Buffer.from(buf);
    magic[0] = 0x41;
    expect(decodeFailsafe(magic, KEY)).toEqual({ ok: false, drop: 'malformed' });
    expect(decodeFailsafe(buf.subarray(0, 20), KEY)).toEqual({ ok: false, drop: 'malformed' });
    expect(decodeFailsafe(Buffer.alloc(2000), KEY)).toEqual({ ok: false, drop: 'malformed' });
  });

  it('drops authenticated bodies with missing or mistyped fields', () => {
    const bad = (body: unknown) => {
      const head = Buffer.concat([Buffer.from('carpool-fs1\n'), Buffer.from(JSON.stringify(body))]);
      // Re-encode through the real encoder's HMAC by building the message by hand.
      const full = encodeFailsafe(body as FailsafeMessage, KEY);
      expect(full.subarray(0, head.length).equals(head)).toBe(true);
      return decodeFailsafe(full, KEY);
    };
    expect(bad({ ...q, nonce: 'short' })).toEqual({ ok: false, drop: 'malformed' });
    expect(bad({ ...q, ts: 'now' })).toEqual({ ok: false, drop: 'malformed' });
    expect(bad({ ...a, holding: 'no' })).toEqual({ ok: false, drop: 'malformed' });
    expect(bad({ ...q, type: 'hello' })).toEqual({ ok: false, drop: 'malformed' });
    expect(bad({ ...q, instance: '' })).toEqual({ ok: false, drop: 'malformed' });
  });

  it('replay guard: once within the window; stale outside it either way', () => {
    const g = new ReplayGuard(3000);
    expect(g.check('n1', NONCE, 10_000, 10_500)).toBe('ok');
    expect(g.check('n1', NONCE, 10_000, 10_600)).toBe('replay');
    expect(g.check('n2', NONCE, 10_000, 10_600)).toBe('ok');
    expect(g.check('n1', NONCE.replace('0', '1'), 10_000, 13_001)).toBe('stale');
    expect(g.check('n1', NONCE.replace('0', '2'), 20_000, 16_999)).toBe('stale');
  });
});

describe('failsafe decision (pure)', () => {
  const ans = (node: string, sentAt: number, v: Partial<FailsafeAnswer> = {}): FailsafeAnswer => ({ node, sentAt, holding: false, etcdReachable: false, holder: null, ...v });

  it('judges an answer: not holding and etcd away, naming the asker or nobody, confirms; a holder or another holder refuses', () => {
    expect(judgeAnswer('n1', { holding: false, etcdReachable: false, holder: null }).confirms).toBe(true);
    expect(judgeAnswer('n1', { holding: false, etcdReachable: true, holder: 'n1' }).confirms).toBe(true);
    expect(judgeAnswer('n1', { holding: true, etcdReachable: false, holder: 'n1' })).toEqual({ confirms: false, why: 'it holds the instance' });
    expect(judgeAnswer('n1', { holding: false, etcdReachable: true, holder: 'n3' }).confirms).toBe(false);
    expect(judgeAnswer('n1', { holding: false, etcdReachable: true, holder: null }).confirms).toBe(true); // key free: promises not to contend
  });

  it('majority of the members, this node counted', () => {
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
  });

  it('3 members: one fresh confirmation is enough; it lasts validMs from the question', () => {
    const d = failsafeDecision('n1', 3, [ans('n2', 1000)], 2700, 1500);
    expect(d).toEqual({ until: 3700, confirmed: 2, needed: 2, refusals: [] });
    expect(failsafeDecision('n1', 3, [ans('n2', 1000)], 2700, 3700).until).toBeUndefined(); // no longer fresh
    expect(failsafeDecision('n1', 3, [], 2700, 1500).until).toBeUndefined();
  });

  it('5 members: two confirmations needed; until = the older of the two best', () => {
    expect(failsafeDecision('n1', 5, [ans('n2', 1000)], 2700, 1500).until).toBeUndefined();
    expect(failsafeDecision('n1', 5, [ans('n2', 1000), ans('n3', 2000), ans('n4', 1500)], 2700, 2100).until).toBe(1500 + 2700);
  });

  it('any fresh refusal (a holder, or a peer that reaches etcd and sees another holder) means no failsafe', () => {
    expect(failsafeDecision('n1', 3, [ans('n2', 1000), ans('n3', 1000, { holding: true })], 2700, 1500).until).toBeUndefined();
    const d = failsafeDecision('n1', 3, [ans('n2', 1000), ans('n3', 1000, { etcdReachable: true, holder: 'n3' })], 2700, 1500);
    expect(d.until).toBeUndefined();
    expect(d.refusals).toEqual([{ node: 'n3', why: 'etcd reachable there and names n3' }]);
  });

  it('the latest answer of a peer counts: a refusal after a confirmation cancels it, and the reverse', () => {
    expect(failsafeDecision('n1', 3, [ans('n2', 1000), ans('n2', 2000, { holding: true })], 2700, 2100).until).toBeUndefined();
    expect(failsafeDecision('n1', 3, [ans('n2', 1000, { holding: true }), ans('n2', 2000)], 2700, 2100).until).toBe(4700);
    // Its own answers (a looped-back datagram) do not count.
    expect(failsafeDecision('n1', 3, [ans('n1', 1000)], 2700, 1500).until).toBeUndefined();
  });
});

/** A master that got the key at t=10 with lease '7' (ttl 3000, sent at 0). */
function master(unreachable: 'step-down' | 'failsafe'): LeaseElection {
  const m = new LeaseElection({ ...P, node: 'a', unreachable });
  m.step({ type: 'start' }, 0);
  m.step({ type: 'granted', lease: '7', ttlMs: P.ttlMs, sentAt: 0 }, 5);
  m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10);
  m.step({ type: 'confirmed' }, 15);
  return m;
}
const transitions = (fx: LeaseEffect[]) => fx.filter((e) => e.type === 'transition');

describe('etcd lease election with policy failsafe (pure)', () => {
  it('step-down (default): no peer is asked, the bound applies', () => {
    const m = master('step-down');
    const fx = m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    expect(fx.some((e) => e.type === 'askPeers')).toBe(false);
    expect(m.step({ type: 'failsafe', until: 10_000 }, 1600)).toEqual([]); // ignored
    expect(transitions(m.step({ type: 'tick' }, 2700))).toEqual([expect.objectContaining({ to: 'BACKUP' })]);
    expect(m.status(2700).unreachable).toBe('step-down');
  });

  it('failsafe: asks the peers as soon as etcd fails, then every renew; keeps the role past the bound while confirmed', () => {
    const m = master('failsafe');
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    expect(m.nextDeadline()).toBeLessThanOrEqual(1500);
    expect(m.step({ type: 'tick' }, 1500)).toContainEqual({ type: 'askPeers' });
    m.step({ type: 'failsafe', until: 1500 + 2700 }, 1510);
    expect(m.status(2800)).toMatchObject({ role: 'MASTER', failsafeActive: true, etcdReachable: false });
    expect(m.step({ type: 'tick' }, 2500)).toContainEqual({ type: 'askPeers' });
    m.step({ type: 'failsafe', until: 2500 + 2700 }, 2510);
    m.step({ type: 'tick' }, 4000);
    expect(m.state).toBe('MASTER'); // lease bound (2700) long past
    // No further confirmation: down at the failsafe bound.
    expect(transitions(m.step({ type: 'tick' }, 5200))).toEqual([expect.objectContaining({ to: 'BACKUP', reason: expect.stringMatching(/no fresh confirmation of a majority/) })]);
  });

  it('failsafe without a majority (peers cut or refusing): down at the lease bound, as step-down', () => {
    const m = master('failsafe');
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    m.step({ type: 'failsafe', until: undefined }, 1600);
    expect(transitions(m.step({ type: 'tick' }, 2700))).toHaveLength(1);
    // A refusal after confirmations: down at once when past the lease bound.
    const m2 = master('failsafe');
    m2.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    m2.step({ type: 'failsafe', until: 4200 }, 1600);
    m2.step({ type: 'tick' }, 3000);
    expect(m2.state).toBe('MASTER');
    expect(transitions(m2.step({ type: 'failsafe', until: undefined }, 3100))).toEqual([expect.objectContaining({ to: 'BACKUP' })]);
  });

  it('etcd naming another holder still means down at once, confirmations or not', () => {
    const m = master('failsafe');
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    m.step({ type: 'failsafe', until: 4200 }, 1600);
    expect(transitions(m.step({ type: 'holder', holder: 'b', lease: '9', revision: 12 }, 3000))).toEqual([expect.objectContaining({ to: 'BACKUP', reason: 'etcd names another holder (b)' })]);
  });

  it('a keep-alive confirmation already past its bound (a shared lease reusing an old one) does not end the failsafe hold', () => {
    const m = master('failsafe');
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    m.step({ type: 'failsafe', until: 4200 }, 1600);
    m.step({ type: 'keptAlive', ttlMs: P.ttlMs, sentAt: 0, lease: '7' }, 3000);
    expect(m.status(3000)).toMatchObject({ role: 'MASTER', failsafeActive: true });
    m.step({ type: 'tick' }, 3100);
    expect(m.state).toBe('MASTER');
  });

  it('etcd back, our lease gone: resync without a transition (new lease, the transaction, confirm)', () => {
    const m = master('failsafe');
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    m.step({ type: 'failsafe', until: 4200 }, 1600);
    const fx = m.step({ type: 'keptAlive', ttlMs: 0, sentAt: 3000 }, 3010);
    expect(transitions(fx)).toEqual([]);
    expect(fx).toContainEqual({ type: 'request', request: 'grant', ttlMs: P.ttlMs });
    expect(m.step({ type: 'granted', lease: '8', ttlMs: P.ttlMs, sentAt: 3010 }, 3020)).toContainEqual({ type: 'request', request: 'txn', lease: '8' });
    const won = m.step({ type: 'txn', won: true, revision: 20, holder: 'a', lease: '8' }, 3030);
    expect(transitions(won)).toEqual([]);
    expect(won).toContainEqual({ type: 'request', request: 'confirm', lease: '8' });
    expect(m.status(3030)).toMatchObject({ role: 'MASTER', revision: 20, failsafeActive: false, etcdReachable: true });
    // A keep-alive of the old lease answers late: not news either.
    expect(transitions(m.step({ type: 'keptAlive', ttlMs: 0, sentAt: 2900, lease: '7' }, 3035))).toEqual([]);
    expect(m.status(3035).revision).toBe(20);
    // A read sent before the resync answers late, with our name under the old lease: not news.
    expect(transitions(m.step({ type: 'holder', holder: 'a', lease: '7', revision: 10, version: 2 }, 3040))).toEqual([]);
    m.step({ type: 'tick' }, 5000);
    expect(m.state).toBe('MASTER'); // the new lease holds it
  });

  it('a grant retry scheduled during the outage does not take a second lease after the resync', () => {
    const m = master('failsafe');
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    m.step({ type: 'failsafe', until: 4200 }, 1600);
    m.step({ type: 'tick' }, 3000); // the lease bound: resync, a grant
    m.step({ type: 'failed', request: 'grant', error: 'timeout' }, 3600); // retry scheduled at 4600
    m.step({ type: 'failsafe', until: 6000 }, 3700);
    expect(m.step({ type: 'tick' }, 4600)).toContainEqual({ type: 'request', request: 'grant', ttlMs: P.ttlMs });
    m.step({ type: 'granted', lease: '8', ttlMs: P.ttlMs, sentAt: 4600 }, 4700);
    m.step({ type: 'txn', won: true, revision: 20, holder: 'a', lease: '8' }, 4710);
    const later = m.step({ type: 'tick' }, 5700);
    expect(later.some((e) => e.type === 'request' && e.request === 'grant')).toBe(false);
    expect(transitions(m.step({ type: 'holder', holder: 'a', lease: '8', revision: 20, version: 2 }, 5710))).toEqual([]);
    expect(m.state).toBe('MASTER');
  });

  it('etcd back with another holder: the resync transaction loses and the master steps down at once', () => {
    const m = master('failsafe');
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    m.step({ type: 'failsafe', until: 4200 }, 1600);
    m.step({ type: 'holder', holder: null, lease: null, revision: 15, version: 0 }, 3000); // a watch event: key free
    m.step({ type: 'granted', lease: '8', ttlMs: P.ttlMs, sentAt: 3000 }, 3010);
    expect(transitions(m.step({ type: 'txn', won: false, revision: 16, holder: 'b', lease: '9' }, 3020))).toEqual([expect.objectContaining({ to: 'BACKUP', reason: 'etcd names another holder (b)' })]);
  });

  it('resync that outlasts the confirmations: down at the failsafe bound', () => {
    const m = master('failsafe');
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1500);
    m.step({ type: 'failsafe', until: 4200 }, 1600);
    m.step({ type: 'keptAlive', ttlMs: 0, sentAt: 3000 }, 3010);
    expect(m.nextDeadline()).toBeLessThanOrEqual(4200);
    expect(transitions(m.step({ type: 'tick' }, 4200))).toHaveLength(1);
  });

  it('a backup that confirmed a failsafe master does not contend before its promise ends, then reads and contends', () => {
    const b = new LeaseElection({ ...P, node: 'b', unreachable: 'failsafe' });
    b.step({ type: 'start' }, 0);
    b.step({ type: 'granted', lease: '9', ttlMs: P.ttlMs, sentAt: 0 }, 5);
    b.step({ type: 'txn', won: false, revision: 10, holder: 'a', lease: '7' }, 10);
    b.step({ type: 'promised', until: 5000 }, 1000);
    expect(b.status(1000).promisedMs).toBe(4000);
    const fx = b.step({ type: 'holder', holder: null, lease: null, revision: 11, version: 0 }, 2000);
    expect(fx.some((e) => e.type === 'request' && e.request === 'txn')).toBe(false);
    expect(b.nextDeadline()).toBeLessThanOrEqual(5000);
    b.step({ type: 'keptAlive', ttlMs: P.ttlMs, sentAt: 4000 }, 4010);
    const later = b.step({ type: 'tick' }, 5000);
    expect(later).toContainEqual({ type: 'request', request: 'read', lease: expect.any(String) as string });
    expect(b.step({ type: 'holder', holder: null, lease: null, revision: 11, version: 0 }, 5010)).toContainEqual({ type: 'request', request: 'txn', lease: expect.any(String) as string });
  });
});

/**
 * The exact sequence of issue 16's failsafe defect, with the shared lease of the daemon's pool
 * (core/shared-lease.ts) and a small etcd: leases expire ttl after their last keep-alive, a key
 * goes with its lease, and a newly elected leader extends every lease by its ttl. Quorum is lost
 * for 9 s, the failsafe master holds on its peers' confirmations past its lease bound, gives the
 * lease up by that bound and asks for one again; quorum returns with the old lease extended and
 * the key still under it. Before the fix the pool granted a new lease, the resync's transaction
 * failed (the key under the old lease), nothing kept the old lease alive, the key lapsed a ttl
 * later and the master dropped the VIP and took it back. Now the old lease is revived: no
 * transition at all.
 */
describe('failsafe resync on the shared lease after etcd loses quorum (issue 16)', () => {
  it('the lease etcd kept is revived: the key stays ours, no drop, no second lease', () => {
    const TTL = P.ttlMs;
    const shared = new SharedLease(TTL, P.renewMs);
    shared.join('fs', P.renewMs);
    const m = new LeaseElection({ ...P, node: 'a', unreachable: 'failsafe' });
    const leases = new Map<string, number>(); // id → expiry (etcd's clock = ours)
    let key: { holder: string; lease: string; rev: number } | undefined;
    let rev = 10;
    let leaseNo = 0;
    const DOWN_FROM = 1200;
    const DOWN_UNTIL = 10_200;
    const up = (t: number) => t < DOWN_FROM || t >= DOWN_UNTIL;
    const moves: string[] = [];
    const granted: string[] = [];
    const queue: { at: number; input: LeaseInput }[] = [];
    const later = (at: number, input: LeaseInput): void => { queue.push({ at, input }); };
    const etcdTick = (t: number) => {
      for (const [id, exp] of leases) {
        if (exp > t) continue;
        leases.delete(id);
        if (key?.lease === id) {
          key = undefined;
          later(t, { type: 'holder', holder: null, lease: null, revision: ++rev, version: 0 }); // the watch event
        }
      }
    };
    const effects = (fx: LeaseEffect[], t: number) => {
      for (const e of fx) {
        if (e.type === 'transition') moves.push(`${t}:${e.to}`);
        if (e.type === 'askPeers') later(t + 10, { type: 'failsafe', until: t + TTL - P.marginMs }); // both peers confirm
        if (e.type !== 'request') continue;
        const fail = (): void => later(t + P.requestTimeoutMs, { type: 'failed', request: e.request, error: 'no answer' });
        if (e.request === 'grant') {
          const d = shared.acquire(t);
          if (d.type === 'use') later(t, { type: 'granted', lease: d.lease, ttlMs: d.ttlMs, sentAt: d.sentAt });
          else if (d.type === 'wait') continue;
          else if (!up(t)) { shared.grantFailed(); fail(); }
          else if (d.type === 'revive' && leases.has(d.lease)) {
            leases.set(d.lease, t + TTL);
            const c = shared.revived(d.lease, TTL, t)!;
            later(t, { type: 'granted', ...c });
          } else {
            if (d.type === 'revive') shared.revived(d.lease, 0, t);
            const id = `L${++leaseNo}`;
            granted.push(id);
            leases.set(id, t + TTL);
            later(t, { type: 'granted', ...shared.granted(id, TTL, t) });
          }
        } else if (e.request === 'keepAlive') {
          const d = shared.keepAlive(e.lease, t);
          if (d.type === 'gone') later(t, { type: 'keptAlive', lease: e.lease, ttlMs: 0, sentAt: t });
          else if (d.type === 'reuse') later(t, { type: 'keptAlive', lease: e.lease, ttlMs: d.ttlMs, sentAt: d.sentAt });
          else if (d.type === 'send') {
            if (!up(t)) { shared.keepAliveFailed(e.lease, t); fail(); continue; }
            const alive = leases.has(e.lease);
            if (alive) leases.set(e.lease, t + TTL);
            later(t, { type: 'keptAlive', ...shared.keptAlive(e.lease, alive ? TTL : 0, t)! });
          }
        } else if (!up(t)) fail();
        else if (e.request === 'txn') {
          if (key) later(t, { type: 'txn', won: false, revision: key.rev, holder: key.holder, lease: key.lease, handoverTo: null });
          else {
            key = { holder: 'a', lease: e.lease, rev: ++rev };
            later(t, { type: 'txn', won: true, revision: key.rev, holder: 'a', lease: e.lease });
          }
        } else if (e.request === 'read') {
          later(t, key ? { type: 'holder', holder: key.holder, lease: key.lease, revision: key.rev, version: 2 } : { type: 'holder', holder: null, lease: null, revision: rev, version: 0 });
        } else if (e.request === 'confirm') later(t, { type: 'confirmed' });
      }
    };
    for (let t = 0; t <= 25_000; t += 10) {
      if (t === DOWN_UNTIL) for (const id of leases.keys()) leases.set(id, t + TTL); // the new leader extends every lease
      if (up(t)) etcdTick(t);
      effects(m.step(t === 0 ? { type: 'start' } : { type: 'tick' }, t), t);
      for (let i = 0; i < queue.length; i++) {
        if (queue[i]!.at > t) continue;
        const { input } = queue.splice(i--, 1)[0]!;
        effects(m.step(input, t), t);
      }
      if (t === 9_000) expect(m.status(t)).toMatchObject({ role: 'MASTER', failsafeActive: true }); // held on the confirmations
    }
    expect(moves).toEqual(['0:BACKUP', '0:MASTER']); // startup, the key; nothing after
    expect(granted).toEqual(['L1']); // the lease etcd kept served again: no second one
    expect(key).toMatchObject({ holder: 'a', lease: 'L1' });
    expect(m.status(25_000)).toMatchObject({ role: 'MASTER', failsafeActive: false, etcdReachable: true });
  });
});
