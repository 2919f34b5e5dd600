/**
 * The daemon's etcd connections (docs/etcd.md, "One connection, one lease, one watch"): one
 * `etcd3` client per distinct connection settings (endpoints, TLS, authentication), shared by
 * every etcd instance that uses them. Per connection:
 *
 * - one lease per distinct ttl, kept alive for all the instances of that ttl (the decisions in
 *   core/shared-lease.ts: join, reuse or send; each answer carries the keep-alive's sent time
 *   and goes to every holder, whose LeaseElection counts its bound from it);
 * - one watch per key prefix, its events handed to the instances by key;
 * - reads batched: the reads asked within a few ms (≤ poll/10, ≤ 100 ms) go out as one
 *   transaction of gets per 100 keys;
 * - transactions, reads and deletes bounded to MAX_IN_FLIGHT at once, the rest queued (each
 *   fails if it waited 5 request timeouts unsent, or got no answer a request timeout after it
 *   was sent);
 * - an instance that stops deletes its own key if it still holds the shared lease; the lease
 *   is revoked when its last holder stops.
 *
 * Each instance sees an `EtcdClient`, as if it had etcd to itself. The cluster view's publisher
 * borrows the connection of its settings too (its document keeps a lease of its own).
 */
import { Etcd3, type Watcher } from 'etcd3';
import type { EtcdSettings } from '../../config/model.js';
import type { LogLevel } from '../../lib/log-level.js';
import { EtcdErrorExplainer } from '../core/etcd-errors.js';
import {
  InFlightLimit, KeyFanOut, MAX_IN_FLIGHT, SharedLease, TXN_OPS, candidacyReads, chunk, isUnder, prefixRangeEnd, readDelayMs, watchScope, type Confirmation,
} from '../core/shared-lease.js';
import {
  bounded, candidacyKey, candidateEntries, clientOptions, guardedCreate, holderOfKv, keepAliveOnAny, reservationKey, reserve, reservedCreate, txnResult,
  type CandidateEntry, type EtcdClient, type HolderInfo, type LeaseConfirmation, type SharedConnection, type TxnResult,
} from './etcd-client.js';

export interface EtcdPoolDeps {
  /** Monotonic clock in ms: the one the instances' shells use (sent times are compared with it). */
  readonly now: () => number;
  readonly log: (level: LogLevel, text: string, key: string) => void;
}

/** What makes two instances' connections the same one. */
export function connectionKey(s: Pick<EtcdSettings, 'endpoints' | 'tls' | 'user' | 'passwordFile'>): string {
  return JSON.stringify([[...s.endpoints].sort(), s.tls?.ca ?? null, s.tls?.cert ?? null, s.tls?.key ?? null, s.user ?? null, s.passwordFile ?? null]);
}

export class EtcdPool {
  private readonly conns = new Map<string, EtcdConnection>();

  constructor(private readonly deps: EtcdPoolDeps) {}

  /**
   * The client of one instance (`name`, unique in the daemon). Throws when a TLS or password
   * file cannot be read (only when the connection is new: the same files were read then).
   */
  client(name: string, s: EtcdSettings): EtcdClient {
    return this.open(s).instance(name, s);
  }

  private open(s: EtcdSettings): EtcdConnection {
    const k = connectionKey(s);
    let c = this.conns.get(k);
    if (!c) {
      c = new EtcdConnection(s, this.deps, () => this.conns.delete(k));
      this.conns.set(k, c);
    }
    return c;
  }

  /**
   * The connection of `s` for another user of the daemon (the cluster view's publisher, with its
   * own lease): opened if no instance uses these settings, closed when its last user is done.
   */
  connection(s: EtcdSettings): SharedConnection {
    return this.open(s).lend(s);
  }

  /** Open connections (one per distinct settings). */
  get size(): number {
    return this.conns.size;
  }
}

/**
 * How long a request may wait for its turn, in request timeouts: a burst (1,000 instances
 * contending at start) is sent in turn rather than failed and asked again a poll later. Waiting
 * costs no safety: whatever a late transaction wins, the lease bound still decides.
 */
const QUEUE_WAIT_FACTOR = 5;

/** The gRPC deadline of a unary call, in request timeouts. */
const GRPC_DEADLINE_FACTOR = 10;

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
}

interface LeaseSlot {
  readonly shared: SharedLease;
  /** Keep-alives and grants give up after the shortest request timeout of the holders. */
  timeoutMs: number;
  readonly listeners: Set<(c: LeaseConfirmation) => void>;
  grantWaiters: Waiter<Confirmation>[];
  keepAliveWaiters: Waiter<{ ttlMs: number; sentAt: number }>[];
}

interface WatchSlot {
  readonly fan: KeyFanOut<(h: HolderInfo) => void>;
  watcher: Watcher | undefined;
  cancelled: boolean;
}

interface ReadBatch {
  readonly waiters: Map<string, Waiter<HolderInfo>[]>;
  timer: NodeJS.Timeout | undefined;
  due: number;
  timeoutMs: number;
}

/** Candidacy reads asked within a few ms, by instance key (with the prefix its watch covers). */
interface CandidateBatch {
  readonly waiters: Map<string, { readonly prefix: string; readonly list: Waiter<CandidateEntry[]>[] }>;
  timer: NodeJS.Timeout | undefined;
  due: number;
  timeoutMs: number;
}

class EtcdConnection {
  readonly client: Etcd3;
  private users = 0;
  /** gRPC deadline of unary calls: the longest request timeout of the users (each has its own timer too). */
  private deadlineMs: number;
  private readonly endpoints: number;
  private readonly leases = new Map<number, LeaseSlot>();
  private readonly watches = new Map<string, WatchSlot>();
  private readonly limit = new InFlightLimit<() => void>(MAX_IN_FLIGHT);
  private batch: ReadBatch | undefined;
  private candidateBatch: CandidateBatch | undefined;
  private readonly revokes = new Set<Promise<unknown>>();
  /** A failure as the endpoint concerned and what to check (as each instance's shell explains its own). */
  private readonly explainer: EtcdErrorExplainer;

  constructor(s: EtcdSettings, private readonly deps: EtcdPoolDeps, private readonly onClosed: () => void) {
    this.deadlineMs = s.requestTimeoutMs;
    this.endpoints = s.endpoints.length;
    this.explainer = new EtcdErrorExplainer(s.endpoints);
    this.client = new Etcd3({
      ...clientOptions(s),
      // Our own timers bound every request. The gRPC deadline is a backstop only: the etcd3 client
      // takes a DEADLINE_EXCEEDED as a broken host and closes its channel, which would fail every
      // request in flight on the shared connection (found at 1,000 instances on a loaded machine).
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + GRPC_DEADLINE_FACTOR * this.deadlineMs }),
    });
  }

  lend(s: EtcdSettings): SharedConnection {
    this.users++;
    this.deadlineMs = Math.max(this.deadlineMs, s.requestTimeoutMs);
    let given = false;
    return { client: this.client, release: () => { if (!given) { given = true; this.release(); } } };
  }

  instance(name: string, s: EtcdSettings): EtcdClient {
    this.users++;
    this.deadlineMs = Math.max(this.deadlineMs, s.requestTimeoutMs);
    let slot = this.leases.get(s.ttlMs);
    if (!slot) {
      slot = { shared: new SharedLease(s.ttlMs, s.renewMs), timeoutMs: s.requestTimeoutMs, listeners: new Set(), grantWaiters: [], keepAliveWaiters: [] };
      this.leases.set(s.ttlMs, slot);
    }
    slot.shared.join(name, s.renewMs);
    slot.timeoutMs = Math.min(slot.timeoutMs, s.requestTimeoutMs);
    return new InstanceEtcd(this, name, s, slot);
  }

  // --- the lease of one ttl --------------------------------------------------------------

  grant(slot: LeaseSlot): Promise<Confirmation> {
    const d = slot.shared.acquire(this.deps.now());
    if (d.type === 'use') return Promise.resolve(d);
    const p = new Promise<Confirmation>((resolve, reject) => slot.grantWaiters.push({ resolve, reject }));
    if (d.type === 'grant') this.sendGrant(slot);
    else if (d.type === 'revive') this.revive(slot, d.lease);
    return p;
  }

  private sendGrant(slot: LeaseSlot): void {
    const sentAt = this.deps.now();
    const ttlS = Math.ceil(slot.shared.requestedTtlMs / 1000);
    this.bounded('grant', slot.timeoutMs, this.client.leaseClient.leaseGrant({ TTL: ttlS, ID: 0 })).then((r) => {
      if (r.error) throw new Error(r.error);
      const c = slot.shared.granted(r.ID, Number(r.TTL) * 1000, sentAt);
      for (const w of slot.grantWaiters.splice(0)) w.resolve(c);
    }).catch((e: unknown) => this.grantFailed(slot, e));
  }

  /** One keep-alive of the lease our bound gave up: still in etcd, it serves again (with our keys); else a grant. */
  private revive(slot: LeaseSlot, lease: string): void {
    const sentAt = this.deps.now();
    this.bounded('grant', slot.timeoutMs, keepAliveOnAny(this.client, lease, this.endpoints)).then((ttlMs) => {
      const c = slot.shared.revived(lease, ttlMs, sentAt);
      if (!c) {
        this.sendGrant(slot);
        return;
      }
      this.deps.log('info', `etcd lease ${lease} (ttl ${slot.shared.requestedTtlMs / 1000} s) confirmed again after a lapse: kept, with its ${slot.shared.holderCount} instance(s)' keys`, `etcd-lease:${lease}`);
      for (const w of slot.grantWaiters.splice(0)) w.resolve(c);
      for (const l of [...slot.listeners]) l(c);
    }, (e: unknown) => this.grantFailed(slot, e));
  }

  private grantFailed(slot: LeaseSlot, e: unknown): void {
    slot.shared.grantFailed();
    this.leaseFailed(slot, 'grant', e);
    for (const w of slot.grantWaiters.splice(0)) w.reject(e);
  }

  /**
   * One warning for a failed request of the shared lease, whatever the number of instances it
   * carries (their own lines are at debug level); rate-limited per lease like the instances' lines.
   */
  private leaseFailed(slot: LeaseSlot, what: 'grant' | 'keep-alive', e: unknown): void {
    const ttlS = slot.shared.requestedTtlMs / 1000;
    const n = slot.shared.holderCount;
    const lease = slot.shared.current;
    this.deps.log('warning', `etcd ${what} of the shared lease${lease !== undefined ? ` ${lease}` : ''} (ttl ${ttlS} s, carrying ${n} instance${n === 1 ? '' : 's'}) failed: `
      + `${this.explainer.explain(e instanceof Error ? e.message : String(e))}; each master keeps its role at most until its lease bound`, `etcd-lease:${ttlS}:${what}`);
  }

  keepAlive(slot: LeaseSlot, lease: string): Promise<{ ttlMs: number; sentAt: number }> {
    const now = this.deps.now();
    const d = slot.shared.keepAlive(lease, now);
    switch (d.type) {
      case 'gone':
        return Promise.resolve({ ttlMs: 0, sentAt: now });
      case 'reuse':
        return Promise.resolve({ ttlMs: d.ttlMs, sentAt: d.sentAt });
      case 'join':
        return new Promise((resolve, reject) => slot.keepAliveWaiters.push({ resolve, reject }));
      case 'send': {
        const p = new Promise<{ ttlMs: number; sentAt: number }>((resolve, reject) => slot.keepAliveWaiters.push({ resolve, reject }));
        this.bounded('keepAlive', slot.timeoutMs, keepAliveOnAny(this.client, lease, this.endpoints)).then((ttlMs) => {
          const c = slot.shared.keptAlive(lease, ttlMs, now);
          for (const w of slot.keepAliveWaiters.splice(0)) w.resolve({ ttlMs, sentAt: now });
          if (c) for (const l of [...slot.listeners]) l(c);
        }, (e: unknown) => {
          slot.shared.keepAliveFailed(lease, now);
          this.leaseFailed(slot, 'keep-alive', e);
          for (const w of slot.keepAliveWaiters.splice(0)) w.reject(e);
        });
        return p;
      }
    }
  }

  /** An instance is gone: revoke the lease if it was the last holder. */
  leave(slot: LeaseSlot, name: string): Promise<void> {
    const lease = slot.shared.leave(name);
    if (lease === undefined) return Promise.resolve();
    const p = this.bounded('release', slot.timeoutMs, this.client.leaseClient.leaseRevoke({ ID: lease })).then(() => undefined);
    const tracked = p.catch(() => undefined).finally(() => this.revokes.delete(tracked));
    this.revokes.add(tracked);
    return p;
  }

  // --- requests bounded in number ---------------------------------------------------------

  /**
   * Run `fn` when fewer than MAX_IN_FLIGHT requests are out. It gives up if it could not be sent
   * within QUEUE_WAIT_FACTOR × `timeoutMs`, or was not answered within `timeoutMs` of being sent.
   */
  limited<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let expired = false;
      const waitMs = QUEUE_WAIT_FACTOR * timeoutMs;
      let timer = setTimeout(() => {
        expired = true;
        reject(new Error(`${what}: not sent within ${waitMs} ms (${this.limit.waiting} requests waiting for ${MAX_IN_FLIGHT} in flight)`));
      }, waitMs);
      const run = (): void => {
        if (expired) {
          this.next();
          return;
        }
        // The place is freed by the answer or by the timeout, whichever comes first: a request
        // that hangs does not hold up the others.
        let done = false;
        const free = (): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.next();
        };
        clearTimeout(timer);
        // Settled after the I/O already received (see `bounded`): a reply that came in time wins.
        timer = setTimeout(() => setImmediate(() => {
          reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
          free();
        }), timeoutMs);
        fn().then(resolve, reject).finally(free);
      };
      if (this.limit.admit(run)) run();
    });
  }

  private next(): void {
    this.limit.finish()?.();
  }

  bounded<T>(what: string, timeoutMs: number, p: Promise<T>): Promise<T> {
    return bounded(what, timeoutMs, p);
  }

  // --- batched reads ----------------------------------------------------------------------

  read(key: string, pollMs: number, timeoutMs: number): Promise<HolderInfo> {
    const now = this.deps.now();
    const due = now + readDelayMs(pollMs);
    const b = (this.batch ??= { waiters: new Map<string, Waiter<HolderInfo>[]>(), timer: undefined, due: Infinity, timeoutMs });
    b.timeoutMs = Math.max(b.timeoutMs, timeoutMs);
    const p = new Promise<HolderInfo>((resolve, reject) => {
      const ws = b.waiters.get(key) ?? [];
      ws.push({ resolve, reject });
      b.waiters.set(key, ws);
    });
    if (due < b.due) {
      b.due = due;
      clearTimeout(b.timer);
      b.timer = setTimeout(() => this.flush(b), due - now);
    }
    return p;
  }

  private flush(b: ReadBatch): void {
    if (this.batch === b) this.batch = undefined;
    for (const keys of chunk([...b.waiters.keys()], TXN_OPS)) {
      this.limited('read', b.timeoutMs, () => this.client.kv.txn({ compare: [], success: keys.map((k) => ({ request_range: { key: Buffer.from(k) } })), failure: [] })).then((r) => {
        keys.forEach((k, i) => {
          const kv = r.responses[i]?.response_range?.kvs[0];
          const h: HolderInfo = kv ? holderOfKv(kv) : { holder: null, lease: null, revision: Number(r.header.revision), version: 0 };
          for (const w of b.waiters.get(k) ?? []) w.resolve(h);
        });
      }, (e: unknown) => {
        for (const k of keys) for (const w of b.waiters.get(k) ?? []) w.reject(e);
      });
    }
  }

  // --- batched candidacy reads (preference) ---------------------------------------------------

  /**
   * The candidacies under `<key>/candidates/`, read with the other instances' of this poll: one
   * range read of each prefix directory (as its watch) for the keys under it, and transactions
   * of TXN_OPS prefix ranges for keys outside any prefix.
   */
  candidates(key: string, prefix: string, pollMs: number, timeoutMs: number): Promise<CandidateEntry[]> {
    const now = this.deps.now();
    const due = now + readDelayMs(pollMs);
    const b = (this.candidateBatch ??= { waiters: new Map<string, { prefix: string; list: Waiter<CandidateEntry[]>[] }>(), timer: undefined, due: Infinity, timeoutMs });
    b.timeoutMs = Math.max(b.timeoutMs, timeoutMs);
    const p = new Promise<CandidateEntry[]>((resolve, reject) => {
      const w = b.waiters.get(key) ?? { prefix, list: [] };
      w.list.push({ resolve, reject });
      b.waiters.set(key, w);
    });
    if (due < b.due) {
      b.due = due;
      clearTimeout(b.timer);
      b.timer = setTimeout(() => this.flushCandidates(b), due - now);
    }
    return p;
  }

  private flushCandidates(b: CandidateBatch): void {
    if (this.candidateBatch === b) this.candidateBatch = undefined;
    const { byDir, alone } = candidacyReads([...b.waiters].map(([key, w]) => ({ key, prefix: w.prefix })));
    const answer = (key: string, entries: CandidateEntry[]): void => { for (const w of b.waiters.get(key)?.list ?? []) w.resolve(entries); };
    const fail = (keys: readonly string[], e: unknown): void => { for (const k of keys) for (const w of b.waiters.get(k)?.list ?? []) w.reject(e); };
    for (const [dir, keys] of byDir) {
      this.limited('candidates', b.timeoutMs, () => this.client.getAll().prefix(dir).exec()).then((r) => {
        for (const key of keys) {
          const cdir = candidacyKey(key, '');
          answer(key, candidateEntries({ kvs: r.kvs.filter((kv) => isUnder(kv.key.toString('utf8'), cdir)) }, cdir));
        }
      }, (e: unknown) => fail(keys, e));
    }
    for (const keys of chunk(alone, TXN_OPS)) {
      this.limited('candidates', b.timeoutMs, () => this.client.kv.txn({
        compare: [], failure: [],
        success: keys.map((k) => { const dir = Buffer.from(candidacyKey(k, '')); return { request_range: { key: dir, range_end: Buffer.from(prefixRangeEnd(dir)) } }; }),
      })).then((r) => {
        keys.forEach((k, i) => answer(k, candidateEntries({ kvs: r.responses[i]?.response_range?.kvs ?? [] }, candidacyKey(k, ''))));
      }, (e: unknown) => fail(keys, e));
    }
  }

  // --- one watch per prefix ----------------------------------------------------------------

  watch(key: string, prefix: string, onHolder: (h: HolderInfo) => void): void {
    const scope = watchScope(key, prefix);
    const id = `${scope.range}:${scope.value}`;
    let slot = this.watches.get(id);
    if (!slot) {
      const fresh: WatchSlot = { fan: new KeyFanOut(), watcher: undefined, cancelled: false };
      slot = fresh;
      this.watches.set(id, fresh);
      const b = this.client.watch();
      (scope.range === 'prefix' ? b.prefix(scope.value) : b.key(scope.value)).create().then((w) => {
        if (fresh.cancelled) {
          void w.cancel().catch(() => undefined);
          return;
        }
        fresh.watcher = w;
        const warn = (text: string): void => this.deps.log('warning', `etcd watch of ${scope.value}: ${text}; the instances read their keys every poll meanwhile`, `etcd-watch:${id}`);
        w.on('put', (kv) => { for (const l of fresh.fan.route(kv.key.toString('utf8'))) l(holderOfKv(kv)); });
        w.on('delete', (kv) => {
          const h: HolderInfo = { holder: null, lease: null, revision: Number(kv.mod_revision), version: 0 };
          for (const l of fresh.fan.route(kv.key.toString('utf8'))) l(h);
        });
        w.on('disconnected', (e: Error) => warn(`lost (${e.message})`));
        w.on('error', (e: Error) => warn(e.message));
      }, (e: Error) => this.deps.log('warning', `etcd watch of ${scope.value}: ${e.message}; the instances read their keys every poll`, `etcd-watch:${id}`));
    }
    slot.fan.add(key, onHolder);
  }

  unwatch(key: string, prefix: string, onHolder: (h: HolderInfo) => void): void {
    const scope = watchScope(key, prefix);
    const id = `${scope.range}:${scope.value}`;
    const slot = this.watches.get(id);
    if (!slot || !slot.fan.remove(key, onHolder)) return;
    slot.cancelled = true;
    this.watches.delete(id);
    void slot.watcher?.cancel().catch(() => undefined);
  }

  /** One user less; the last one closes the client (after a pending revoke had its chance). */
  release(): void {
    if (--this.users > 0) return;
    this.onClosed();
    for (const w of this.watches.values()) {
      w.cancelled = true;
      void w.watcher?.cancel().catch(() => undefined);
    }
    this.watches.clear();
    void Promise.all([...this.revokes]).finally(() => this.client.close());
  }
}

/** One instance's view: its key, its ttl's shared lease, its share of the prefix watch. */
class InstanceEtcd implements EtcdClient {
  private closed = false;
  private left = false;
  private onHolder: ((h: HolderInfo) => void) | undefined;
  /** Our candidacy's key, once written (deleted on release: the shared lease outlives the instance). */
  private candidacy: { lease: string; key: string } | undefined;
  private leaseListener: ((c: LeaseConfirmation) => void) | undefined;

  constructor(private readonly conn: EtcdConnection, private readonly name: string, private readonly s: EtcdSettings, private readonly slot: LeaseSlot) {}

  grant(): Promise<{ lease: string; ttlMs: number; sentAt: number }> {
    return this.conn.grant(this.slot);
  }

  keepAlive(lease: string): Promise<{ ttlMs: number; sentAt: number }> {
    return this.conn.keepAlive(this.slot, lease);
  }

  txn(lease: string, node: string): Promise<TxnResult> {
    return this.conn.limited('txn', this.s.requestTimeoutMs, async () => txnResult(await guardedCreate(this.conn.client, this.s.key, lease, node).commit(), node, lease));
  }

  takeOver(lease: string, node: string, target: string): Promise<TxnResult> {
    return this.conn.limited('takeOver', this.s.requestTimeoutMs, async () => txnResult(await reservedCreate(this.conn.client, this.s.key, lease, node, target).commit(), node, lease));
  }

  handOver(lease: string, target: string): Promise<void> {
    return this.conn.limited('handOver', this.s.requestTimeoutMs, async () => { await reserve(this.conn.client, this.s.key, lease, target).commit(); });
  }

  publishCandidate(lease: string, node: string, value: string): Promise<void> {
    this.candidacy = { lease, key: candidacyKey(this.s.key, node) };
    return this.conn.limited('publishCandidate', this.s.requestTimeoutMs, async () => { await this.conn.client.put(this.candidacy!.key).value(value).lease(lease).exec(); });
  }

  candidates(): Promise<CandidateEntry[]> {
    return this.conn.candidates(this.s.key, this.s.prefix, this.s.pollMs, this.s.requestTimeoutMs);
  }

  read(): Promise<HolderInfo> {
    return this.conn.read(this.s.key, this.s.pollMs, this.s.requestTimeoutMs);
  }

  resign(lease: string): Promise<void> {
    const c = this.conn.client;
    return this.conn.limited('resign', this.s.requestTimeoutMs, async () => {
      await c.if(this.s.key, 'Lease', '==', lease).then(c.delete().key(this.s.key)).commit();
    });
  }

  confirm(lease: string, node: string): Promise<void> {
    const c = this.conn.client;
    return this.conn.limited('confirm', this.s.requestTimeoutMs, async () => {
      await c.if(this.s.key, 'Lease', '==', lease).then(c.put(this.s.key).value(node).lease(lease)).commit();
    });
  }

  /**
   * Our key goes if it still holds the lease (the lease is shared: not revoked for one instance),
   * and so do our candidacy and a hand-over we reserved (they would outlive the instance).
   */
  async release(lease: string): Promise<void> {
    await this.resign(lease);
    const c = this.conn.client;
    const reserved = reservationKey(this.s.key);
    if (this.candidacy) {
      const cand = this.candidacy.key;
      await this.conn.limited('release', this.s.requestTimeoutMs, () => c.if(cand, 'Lease', '==', lease).then(c.delete().key(cand)).commit()).catch(() => undefined);
    }
    await this.conn.limited('release', this.s.requestTimeoutMs, () => c.if(reserved, 'Lease', '==', lease).then(c.delete().key(reserved)).commit()).catch(() => undefined);
    if (this.left) return;
    this.left = true;
    await this.conn.leave(this.slot, this.name);
  }

  watch(onHolder: (h: HolderInfo) => void): void {
    this.onHolder = onHolder;
    this.conn.watch(this.s.key, this.s.prefix, onHolder);
  }

  onLease(listener: (c: LeaseConfirmation) => void): void {
    this.leaseListener = listener;
    this.slot.listeners.add(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.onHolder) this.conn.unwatch(this.s.key, this.s.prefix, this.onHolder);
    if (this.leaseListener) this.slot.listeners.delete(this.leaseListener);
    this.leave();
    this.conn.release();
  }

  private leave(): void {
    if (this.left) return;
    this.left = true;
    this.conn.leave(this.slot, this.name).catch(() => undefined);
  }
}
