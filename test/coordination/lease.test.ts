import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HANDOVER_OVERLAP_MS, checkTiming, LeaseElection, type LeaseEffect, type LeaseInput, type LeaseParams } from '../../src/coordination/core/lease.js';

const P: Omit<LeaseParams, 'node'> = { ttlMs: 3000, renewMs: 1000, requestTimeoutMs: 500, marginMs: 300, pollMs: 1000 };

/**
 * An in-memory etcd (one key, leases expiring on the server's clock) and nodes that reach it
 * with a latency each way, unless cut off. Requests that get no answer fail after the timeout.
 */
class Sim {
  now = 0;
  private rev = 1;
  private nextLease = 1;
  readonly leases = new Map<string, number>(); // id -> expires at (server time)
  key: { holder: string; lease: string; rev: number; version: number } | null = null;
  readonly nodes = new Map<string, { m: LeaseElection; cut: boolean; stalledUntil: number; log: string[] }>();
  private queue: { at: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  readonly masters: { t: number; node: string; up: boolean }[] = [];
  readonly violations: string[] = [];

  constructor(names: string[], private readonly latency: (node: string) => number = () => 5, params = P) {
    for (const n of names) this.nodes.set(n, { m: new LeaseElection({ ...params, node: n }), cut: false, stalledUntil: 0, log: [] });
  }

  at(t: number, run: () => void): void {
    this.queue.push({ at: t, seq: this.seq++, run });
  }

  input(name: string, inp: LeaseInput): void {
    const n = this.nodes.get(name)!;
    if (this.now < n.stalledUntil) { this.at(n.stalledUntil, () => this.input(name, inp)); return; }
    for (const e of n.m.step(inp, this.now)) this.effect(name, e);
    const d = n.m.nextDeadline();
    if (d !== undefined) this.at(Math.max(d, this.now), () => this.input(name, { type: 'tick' }));
  }

  private expire(): void {
    for (const [id, exp] of this.leases) if (this.now >= exp) this.leases.delete(id);
    if (this.key && !this.leases.has(this.key.lease)) { this.key = null; this.rev++; this.notify(); }
  }

  /** Watch events: every connected node hears the key's new holder (immediately, as a stream). */
  private notify(): void {
    const k = this.key;
    for (const [name, n] of this.nodes) {
      if (!n.cut) this.at(this.now + this.latency(name), () => this.input(name, { type: 'holder', holder: k?.holder ?? null, lease: k?.lease ?? null, revision: this.rev, version: k?.version ?? 0 }));
    }
  }

  private effect(name: string, e: LeaseEffect): void {
    const n = this.nodes.get(name)!;
    if (e.type === 'transition') {
      n.log.push(`${e.from}->${e.to} (${e.reason})`);
      if (e.to === 'MASTER' || e.from === 'MASTER') this.masters.push({ t: this.now, node: name, up: e.to === 'MASTER' });
      if (e.to === 'MASTER') {
        // Another master at this instant is allowed only while it hands over (make-before-break).
        for (const [other, o] of this.nodes) {
          if (other !== name && o.m.state === 'MASTER' && !o.m.status(this.now).handingOver) this.violations.push(`${this.now}: ${name} up while ${other} is master`);
        }
      }
      return;
    }
    if (e.type !== 'request') return;
    const sentAt = this.now;
    const lat = this.latency(name);
    const fail = () => this.at(sentAt + P.requestTimeoutMs, () => this.input(name, { type: 'failed', request: e.request, error: 'timeout' }));
    if (n.cut) { fail(); return; }
    this.at(sentAt + lat, () => {
      this.expire();
      if (n.cut) { fail(); return; }
      let answer: LeaseInput;
      switch (e.request) {
        case 'grant': {
          const id = String(this.nextLease++);
          this.leases.set(id, this.now + e.ttlMs);
          answer = { type: 'granted', lease: id, ttlMs: e.ttlMs, sentAt };
          break;
        }
        case 'keepAlive': {
          const alive = this.leases.has(e.lease);
          if (alive) this.leases.set(e.lease, this.now + P.ttlMs);
          answer = { type: 'keptAlive', ttlMs: alive ? P.ttlMs : 0, sentAt };
          break;
        }
        case 'txn':
          if (this.key === null && this.leases.has(e.lease)) {
            this.key = { holder: name, lease: e.lease, rev: ++this.rev, version: 1 };
            answer = { type: 'txn', won: true, revision: this.rev, holder: name, lease: e.lease };
            this.notify();
          } else {
            answer = { type: 'txn', won: false, revision: this.rev, holder: this.key?.holder ?? null, lease: this.key?.lease ?? null };
          }
          break;
        case 'read':
          answer = { type: 'holder', holder: this.key?.holder ?? null, lease: this.key?.lease ?? null, revision: this.rev, version: this.key?.version ?? 0 };
          break;
        case 'resign':
          if (this.key?.lease === e.lease) { this.key = null; this.rev++; this.notify(); }
          answer = { type: 'resigned' };
          break;
        case 'confirm':
          if (this.key?.lease === e.lease) { this.key.version++; this.rev++; this.notify(); }
          answer = { type: 'confirmed' };
          break;
        case 'release':
          if (this.key?.lease === e.lease) { this.key = null; this.rev++; this.notify(); }
          this.leases.delete(e.lease);
          answer = { type: 'released' };
          break;
      }
      this.at(this.now + lat, () => (n.cut ? this.input(name, { type: 'failed', request: e.request, error: 'timeout' }) : this.input(name, answer)));
    });
  }

  run(until: number): void {
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      if (!next || next.at > until) break;
      this.queue.shift();
      this.now = next.at;
      next.run();
    }
    this.now = until;
  }

  start(): void {
    for (const name of this.nodes.keys()) this.input(name, { type: 'start' });
  }

  role(name: string): string {
    return this.nodes.get(name)!.m.state;
  }
}

describe('etcd lease election (pure)', () => {
  it('one node acquires the key and becomes master with the revision as fencing token', () => {
    const sim = new Sim(['a']);
    sim.start();
    sim.run(100);
    expect(sim.role('a')).toBe('MASTER');
    // The transaction's answer or the watch event, whichever arrives first.
    expect(sim.nodes.get('a')!.log).toEqual(['INIT->BACKUP (startup)', expect.stringMatching(/^BACKUP->MASTER \((acquired the key|etcd names us the holder)\)$/)]);
    sim.run(20_000);
    expect(sim.role('a')).toBe('MASTER'); // keep-alives hold it
  });

  it('a master cut off from etcd steps down before its lease can expire; another takes over only after', () => {
    const sim = new Sim(['a', 'b']);
    sim.start();
    sim.run(1000);
    const master = sim.role('a') === 'MASTER' ? 'a' : 'b';
    const other = master === 'a' ? 'b' : 'a';
    sim.nodes.get(master)!.cut = true;
    sim.run(10_000);
    expect(sim.role(master)).toBe('BACKUP');
    expect(sim.role(other)).toBe('MASTER');
    const down = sim.masters.find((e) => e.node === master && !e.up)!.t;
    const up = sim.masters.filter((e) => e.node === other && e.up).at(-1)!.t;
    expect(down).toBeLessThan(up);
    expect(sim.nodes.get(master)!.log.at(-1)).toMatch(/lease not confirmed within ttl − margin/);
  });

  it('etcd naming another holder makes a master step down at once', () => {
    const m = new LeaseElection({ ...P, node: 'a' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '7', ttlMs: 3000, sentAt: 0 }, 5);
    expect(m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10)).toContainEqual({ type: 'transition', from: 'BACKUP', to: 'MASTER', reason: 'acquired the key', fencingToken: 10 });
    const fx = m.step({ type: 'holder', holder: 'b', lease: '9', revision: 12 }, 20);
    expect(fx).toContainEqual({ type: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'etcd names another holder (b)' });
  });

  it('our own name under a lease we do not keep alive is named as such when a master steps down', () => {
    const m = new LeaseElection({ ...P, node: 'a' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '7', ttlMs: 3000, sentAt: 0 }, 5);
    m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10);
    const fx = m.step({ type: 'holder', holder: 'a', lease: '8', revision: 12 }, 20);
    expect(fx).toContainEqual({ type: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'etcd holds the key in our name under another lease (8), which nothing keeps alive' });
  });

  it('a failed keep-alive is retried at once (200 ms), not a renew later', () => {
    const m = new LeaseElection({ ...P, node: 'a' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '7', ttlMs: P.ttlMs, sentAt: 0 }, 5);
    m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10);
    expect(m.step({ type: 'tick' }, 5 + P.renewMs)).toContainEqual({ type: 'request', request: 'keepAlive', lease: '7' });
    const failedAt = 5 + P.renewMs + P.requestTimeoutMs;
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, failedAt);
    expect(m.nextDeadline()).toBe(failedAt + 200);
    expect(m.step({ type: 'tick' }, failedAt + 200)).toContainEqual({ type: 'request', request: 'keepAlive', lease: '7' });
  });

  it('a failed keep-alive or grant of a shared lease is logged once by the pool: the instance logs it at debug level only', () => {
    const logs = (shared: boolean) => {
      const m = new LeaseElection({ ...P, node: 'a', ...(shared ? { sharedLease: true } : {}) });
      m.step({ type: 'start' }, 0);
      m.step({ type: 'granted', lease: '7', ttlMs: P.ttlMs, sentAt: 0 }, 5);
      m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10);
      m.step({ type: 'tick' }, 1005);
      const fx = [...m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1505), ...m.step({ type: 'failed', request: 'grant', error: 'timeout' }, 1600),
        ...m.step({ type: 'failed', request: 'read', error: 'timeout' }, 1700)];
      return fx.flatMap((e) => (e.type === 'log' && e.message.startsWith('etcd ') ? [`${e.level} ${e.message.split(':')[0]!}`] : []));
    };
    expect(logs(false)).toEqual(['warning etcd keepAlive failed', 'warning etcd grant failed', 'warning etcd read failed']);
    // The instance's own requests (reads, transactions) stay warnings: they are its own.
    expect(logs(true)).toEqual(['debug etcd keepAlive failed', 'debug etcd grant failed', 'warning etcd read failed']);
  });

  it('our name under a lease we no longer keep alive is not ours: no MASTER on it', () => {
    const m = new LeaseElection({ ...P, node: 'b' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '9', ttlMs: 3000, sentAt: 0 }, 5);
    const fx = m.step({ type: 'txn', won: false, revision: 10, holder: 'b', lease: '8' }, 10);
    expect(fx.some((e) => e.type === 'transition')).toBe(false);
    expect(m.state).toBe('BACKUP');
    expect(m.step({ type: 'txn', won: false, revision: 10, holder: 'b', lease: '9' }, 20)).toContainEqual(expect.objectContaining({ type: 'transition', to: 'MASTER' }));
  });

  it('a lost watch does not matter: the periodic read finds the key free and the backup takes it', () => {
    const m = new LeaseElection({ ...P, node: 'b' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '8', ttlMs: 3000, sentAt: 0 }, 5);
    m.step({ type: 'txn', won: false, revision: 10, holder: 'a', lease: '7' }, 10);
    // No watch event arrives; the poll asks again.
    const fx = m.step({ type: 'tick' }, 1000);
    expect(fx).toContainEqual({ type: 'request', request: 'read', lease: '8' });
    const fx2 = m.step({ type: 'holder', holder: null, lease: null, revision: 11 }, 1005);
    expect(fx2).toContainEqual({ type: 'request', request: 'txn', lease: '8' });
  });

  it('a loop that stalled past the bound steps down on its first step, before anything else', () => {
    const m = new LeaseElection({ ...P, node: 'a' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '7', ttlMs: 3000, sentAt: 0 }, 5);
    m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10);
    const fx = m.step({ type: 'holder', holder: 'a', lease: '7', revision: 10 }, 2800); // woke up late
    expect(fx[0]).toMatchObject({ type: 'transition', to: 'BACKUP' });
    expect(m.state).toBe('BACKUP');
  });

  it('keeps the role through a failed keep-alive that is retried in time (no flap)', () => {
    const m = new LeaseElection({ ...P, node: 'a' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '7', ttlMs: 3000, sentAt: 0 }, 5);
    m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10);
    m.step({ type: 'tick' }, 1005);
    m.step({ type: 'failed', request: 'keepAlive', error: 'timeout' }, 1505);
    m.step({ type: 'tick' }, 2005);
    m.step({ type: 'keptAlive', ttlMs: 3000, sentAt: 2005 }, 2010);
    m.step({ type: 'tick' }, 2900);
    expect(m.state).toBe('MASTER');
  });

  it('a shared lease: a confirmation for a lease that is not ours any more changes nothing', () => {
    const m = new LeaseElection({ ...P, node: 'a' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '8', ttlMs: 3000, sentAt: 0 }, 5);
    m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '8' }, 10);
    // Another holder's keep-alive answer for an old lease ('7'): neither a loss nor a renewal.
    expect(m.step({ type: 'keptAlive', lease: '7', ttlMs: 0, sentAt: 1000 }, 1000)).toEqual([]);
    m.step({ type: 'keptAlive', lease: '7', ttlMs: 3000, sentAt: 2000 }, 2000);
    expect(m.status(2000).leaseLeftMs).toBe(1000);
    // Ours counts, from its sent time.
    m.step({ type: 'keptAlive', lease: '8', ttlMs: 3000, sentAt: 1500 }, 2000);
    expect(m.status(2000).leaseLeftMs).toBe(2500);
    expect(m.state).toBe('MASTER');
    // etcd lost ours: lost for this instance too.
    expect(m.step({ type: 'keptAlive', lease: '8', ttlMs: 0, sentAt: 2100 }, 2100)).toContainEqual(expect.objectContaining({ type: 'transition', to: 'BACKUP' }));
  });

  it('never two masters, whatever the latencies and cuts (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 20_000 }), node: fc.constantFrom('a', 'b', 'c'), cut: fc.boolean() }), { maxLength: 8 }),
      fc.integer({ min: 1, max: 200 }),
      (events, lat) => {
        const sim = new Sim(['a', 'b', 'c'], () => lat);
        sim.start();
        for (const ev of events) sim.at(ev.at, () => { sim.nodes.get(ev.node)!.cut = ev.cut; });
        sim.run(30_000);
        // Replay the master intervals: at most one up at any time.
        const up = new Set<string>();
        for (const ev of sim.masters) {
          if (ev.up) {
            expect(up.size, `two masters at ${ev.t}: ${[...up].join(',')} and ${ev.node}`).toBe(0);
            up.add(ev.node);
          } else up.delete(ev.node);
        }
      },
    ), { numRuns: 60 });
  });

  it('carpool demote: the successor is master before the old one lets go; the demoted node stays out until cleared', () => {
    const sim = new Sim(['a', 'b', 'c']);
    sim.start();
    sim.run(1000);
    const old = ['a', 'b', 'c'].find((n) => sim.role(n) === 'MASTER')!;
    sim.input(old, { type: 'demote', on: true });
    sim.run(1500);
    const next = ['a', 'b', 'c'].find((n) => n !== old && sim.role(n) === 'MASTER')!;
    expect(next).toBeDefined();
    expect(sim.role(old)).toBe('BACKUP');
    const up = sim.masters.find((e) => e.node === next && e.up)!.t;
    const down = sim.masters.find((e) => e.node === old && !e.up)!.t;
    expect(up).toBeLessThan(down); // make-before-break
    expect(down - up).toBeGreaterThanOrEqual(HANDOVER_OVERLAP_MS); // both hold for a moment, as with CARP's demote
    expect(down - up).toBeLessThanOrEqual(HANDOVER_OVERLAP_MS + 4 * 5); // the confirm write and its watch event: two round trips at 5 ms each way
    expect(sim.nodes.get(old)!.log.at(-1)).toBe(`MASTER->BACKUP (handed over to ${next})`);
    expect(sim.violations).toEqual([]);
    // The new master goes away: the demoted node does not contend ...
    sim.nodes.get(next)!.cut = true;
    sim.run(8000);
    expect(sim.role(old)).toBe('BACKUP');
    // ... until cleared.
    sim.input(old, { type: 'demote', on: false });
    sim.run(8100);
    expect(['a', 'b', 'c'].filter((n) => sim.role(n) === 'MASTER')).toHaveLength(1);
  });

  it('demote with no other node: addresses kept for the hand-over wait, then dropped; a demoted node gives back a key it wins', () => {
    const m = new LeaseElection({ ...P, node: 'a' });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'granted', lease: '7', ttlMs: 3000, sentAt: 0 }, 5);
    m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10);
    expect(m.step({ type: 'demote', on: true }, 100)).toContainEqual({ type: 'request', request: 'resign', lease: '7' });
    m.step({ type: 'resigned' }, 110);
    m.step({ type: 'holder', holder: null, lease: null, revision: 11, version: 0 }, 110);
    expect(m.state).toBe('MASTER');
    m.step({ type: 'tick' }, 99 + m.handoverWaitMs());
    expect(m.state).toBe('MASTER');
    expect(m.step({ type: 'tick' }, 100 + m.handoverWaitMs())).toContainEqual(expect.objectContaining({ type: 'transition', to: 'BACKUP', reason: 'hand-over: no successor confirmed in time' }));
    // A transaction sent before the demotion wins: the key is given back, no MASTER.
    const fx = m.step({ type: 'txn', won: true, revision: 12, holder: 'a', lease: '7' }, 2000);
    expect(fx.some((e) => e.type === 'transition')).toBe(false);
    expect(fx).toContainEqual({ type: 'request', request: 'resign', lease: '7' });
  });

  it('demote: the addresses go HANDOVER_OVERLAP_MS after the successor confirms (repeated events do not hurry it), never past the lease bound', () => {
    const demoted = (confirmAt: number) => {
      const m = new LeaseElection({ ...P, node: 'a' });
      m.step({ type: 'start' }, 0);
      m.step({ type: 'granted', lease: '7', ttlMs: 3000, sentAt: 0 }, 5);
      m.step({ type: 'txn', won: true, revision: 10, holder: 'a', lease: '7' }, 10);
      m.step({ type: 'demote', on: true }, 100);
      m.step({ type: 'holder', holder: null, lease: null, revision: 11, version: 0 }, 110);
      m.step({ type: 'holder', holder: 'b', lease: '9', revision: 12, version: 1 }, 120); // took the key: not yet
      expect(m.state).toBe('MASTER');
      expect(m.step({ type: 'holder', holder: 'b', lease: '9', revision: 12, version: 2 }, confirmAt)).toContainEqual(expect.objectContaining({ type: 'log', message: expect.stringMatching(/^b confirmed it holds the addresses/) as string }));
      return m;
    };
    const m = demoted(200);
    expect(m.status(200)).toMatchObject({ role: 'MASTER', handingOver: true });
    expect(m.nextDeadline()).toBeLessThanOrEqual(200 + HANDOVER_OVERLAP_MS);
    m.step({ type: 'holder', holder: 'b', lease: '9', revision: 12, version: 2 }, 250); // the periodic read, the same news
    m.step({ type: 'tick' }, 250);
    expect(m.state).toBe('MASTER');
    expect(m.step({ type: 'tick' }, 200 + HANDOVER_OVERLAP_MS)).toContainEqual({ type: 'transition', from: 'MASTER', to: 'BACKUP', reason: 'handed over to b' });
    expect(m.status(400)).toMatchObject({ role: 'BACKUP', handingOver: false, holder: 'b' });
    // Confirmed just before our bound (sent 0 + ttl 3000 − margin 300): down at the bound, not later.
    const late = demoted(2650);
    late.step({ type: 'tick' }, 2699);
    expect(late.state).toBe('MASTER');
    expect(late.step({ type: 'tick' }, 2700)).toContainEqual(expect.objectContaining({ type: 'transition', to: 'BACKUP' }));
  });

  it('never two masters outside a hand-over, with demotes and cuts at random (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 20_000 }), node: fc.constantFrom('a', 'b', 'c'), what: fc.constantFrom('cut', 'uncut', 'demote', 'clear') }), { maxLength: 10 }),
      fc.integer({ min: 1, max: 200 }),
      (events, lat) => {
        const sim = new Sim(['a', 'b', 'c'], () => lat);
        sim.start();
        for (const ev of events) {
          sim.at(ev.at, () => {
            if (ev.what === 'cut' || ev.what === 'uncut') sim.nodes.get(ev.node)!.cut = ev.what === 'cut';
            else sim.input(ev.node, { type: 'demote', on: ev.what === 'demote' });
          });
        }
        sim.run(30_000);
        expect(sim.violations).toEqual([]);
      },
    ), { numRuns: 60 });
  });

  it('refuses timing that cannot be safe', () => {
    expect(checkTiming(P)).toEqual([]);
    expect(checkTiming({ ...P, renewMs: 2500 })[0]).toMatch(/must fit in ttl/);
    expect(checkTiming({ ...P, marginMs: 10 })[0]).toMatch(/too small/);
    expect(checkTiming({ ...P, pollMs: 5000 })[0]).toMatch(/poll/);
  });
});
