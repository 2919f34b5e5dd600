/**
 * The daemon-wide etcd shape (docs/etcd.md, "One connection, one lease, one watch"), pure:
 * what one daemon shares between its etcd instances of one connection.
 *
 * - `SharedLease`: one lease per distinct ttl, held by every instance of that ttl. Each
 *   instance's LeaseElection still asks for grants and keep-alives as if the lease were its
 *   own; this decides whether a request joins a keep-alive already in flight, reuses the last
 *   confirmation, or sends one. Every answer carries the time the keep-alive was *sent*, so each
 *   holder's bound (sent + ttl − margin) stays what it would be with a lease of its own; the
 *   answers are also handed to every holder, so they all step down by the same confirmation.
 *   A lease that is lost is lost for all of them together (as with Patroni or kube-vip, whose
 *   one lease covers the process). A lease given up by our own bound (etcd unreachable for a
 *   while) is first *revived*: one keep-alive of it before any new grant. etcd's new leader
 *   extends every lease when it is elected, so after a loss of quorum the lease — and every key
 *   under it — is often still there; a new lease would leave those keys under one nobody keeps
 *   alive, to lapse a ttl later (issue 16: a failsafe master dropped and re-took its VIP).
 * - `KeyFanOut`: one watch per key prefix, its events handed to the instances by key.
 * - `InFlightLimit`: at most N requests of a connection in flight, the rest queued in order.
 * - `chunk`: batched reads go out as transactions of at most `TXN_OPS` gets (etcd's
 *   `--max-txn-ops` defaults to 128).
 * - `candidacyReads`: the preference candidacies of every instance asked within one poll are
 *   read as one range per prefix directory (the one its watch covers), not one read each.
 */

/** Gets per read transaction (below etcd's default `--max-txn-ops` of 128). */
export const TXN_OPS = 100;

/** Requests of one connection in flight at once (grants and keep-alives are not counted). */
export const MAX_IN_FLIGHT = 16;

/** A batched read waits at most this long (and at most a tenth of the instance's poll) for company. */
export const READ_BATCH_MS = 100;

export function readDelayMs(pollMs: number): number {
  return Math.min(READ_BATCH_MS, Math.floor(pollMs / 10));
}

/** A keep-alive confirmation: the lease is surely alive until `sentAt + ttlMs` (ttlMs 0 = lost). */
export interface Confirmation {
  readonly lease: string;
  readonly ttlMs: number;
  readonly sentAt: number;
}

export type AcquireDecision =
  /** The current lease, valid until sentAt + ttlMs of its last confirmation. */
  | { readonly type: 'use'; readonly lease: string; readonly ttlMs: number; readonly sentAt: number }
  /** Ask etcd for a lease (then `granted` or `grantFailed`). */
  | { readonly type: 'grant' }
  /**
   * Send one keep-alive of `lease`, the lease we gave up by our own bound (then `revived` with
   * its answer, or `grantFailed`): etcd may still have it, and our keys with it.
   */
  | { readonly type: 'revive'; readonly lease: string }
  /** A grant is already on its way: wait for it. */
  | { readonly type: 'wait' };

export type KeepAliveDecision =
  /** Not the lease we keep alive (lost, or replaced): answer as etcd would for an unknown lease. */
  | { readonly type: 'gone' }
  /** Join the keep-alive in flight (sent at or before now: its sent time is what counts). */
  | { readonly type: 'join' }
  /** The last confirmation is recent enough: answer with it (its own sent time). */
  | { readonly type: 'reuse'; readonly ttlMs: number; readonly sentAt: number }
  /** Send one (then `keptAlive` or `keepAliveFailed`). */
  | { readonly type: 'send' };

export class SharedLease {
  private lease: string | undefined;
  private ttlMs = 0;
  /** Sent time of the last confirmation (grant or keep-alive) of `lease`. */
  private confirmedAt: number | undefined;
  private granting = false;
  private inFlight: { readonly lease: string; readonly sentAt: number } | undefined;
  /** The last keep-alive failed after the last confirmation: do not reuse it, send again. */
  private failedSince = false;
  private readonly holders = new Set<string>();
  private renewMs: number;
  /** The lease given up by our own bound, not known to be gone in etcd: revived before a grant. */
  private previous: string | undefined;

  constructor(readonly requestedTtlMs: number, renewMs: number) {
    this.renewMs = renewMs;
  }

  get current(): string | undefined {
    return this.lease;
  }

  get holderCount(): number {
    return this.holders.size;
  }

  /** An instance joins (its renew may be shorter than the others': the shortest wins). */
  join(holder: string, renewMs: number): void {
    this.holders.add(holder);
    this.renewMs = Math.min(this.renewMs, renewMs);
  }

  /** A grant request of an instance. */
  acquire(now: number): AcquireDecision {
    if (this.lease !== undefined && this.confirmedAt !== undefined && this.confirmedAt + this.ttlMs > now) {
      return { type: 'use', lease: this.lease, ttlMs: this.ttlMs, sentAt: this.confirmedAt };
    }
    // Expired by our own bound: not used until etcd confirms it again (revive), else a new one.
    if (this.lease !== undefined) this.previous = this.lease;
    this.drop();
    if (this.granting) return { type: 'wait' };
    this.granting = true;
    return this.previous !== undefined ? { type: 'revive', lease: this.previous } : { type: 'grant' };
  }

  /**
   * The answer to the revive's keep-alive, sent at `sentAt`: etcd still has the lease (the
   * confirmation, counted from the send time as any other) or not (undefined: send a grant now,
   * the waiters keep waiting for it).
   */
  revived(lease: string, ttlMs: number, sentAt: number): Confirmation | undefined {
    if (lease !== this.previous) return undefined;
    if (ttlMs > 0) return this.granted(lease, ttlMs, sentAt);
    this.previous = undefined;
    return undefined;
  }

  granted(lease: string, ttlMs: number, sentAt: number): Confirmation {
    this.granting = false;
    this.previous = undefined;
    this.lease = lease;
    this.ttlMs = ttlMs;
    this.confirmedAt = sentAt;
    this.failedSince = false;
    this.inFlight = undefined;
    return { lease, ttlMs, sentAt };
  }

  grantFailed(): void {
    this.granting = false;
  }

  /** A keep-alive request of an instance for `lease`. */
  keepAlive(lease: string, now: number): KeepAliveDecision {
    if (lease !== this.lease) return { type: 'gone' };
    if (this.inFlight !== undefined && this.inFlight.lease === lease) return { type: 'join' };
    // Reusing a confirmation sent less than renew/2 ago keeps every holder's gap between
    // confirmations ≤ renew (the one whose request sent the last one asks again a renew later).
    if (!this.failedSince && this.confirmedAt !== undefined && now - this.confirmedAt < this.renewMs / 2) {
      return { type: 'reuse', ttlMs: this.ttlMs, sentAt: this.confirmedAt };
    }
    this.inFlight = { lease, sentAt: now };
    return { type: 'send' };
  }

  /** The answer to the keep-alive sent at `sentAt`: the confirmation to hand to every holder, if any. */
  keptAlive(lease: string, ttlMs: number, sentAt: number): Confirmation | undefined {
    if (this.inFlight?.lease === lease && this.inFlight.sentAt === sentAt) this.inFlight = undefined;
    if (lease !== this.lease) return undefined;
    if (ttlMs <= 0) {
      this.drop();
      return { lease, ttlMs: 0, sentAt };
    }
    this.confirmedAt = Math.max(this.confirmedAt ?? 0, sentAt);
    this.failedSince = false;
    this.ttlMs = ttlMs;
    return { lease, ttlMs, sentAt };
  }

  keepAliveFailed(lease: string, sentAt: number): void {
    if (this.inFlight?.lease === lease && this.inFlight.sentAt === sentAt) this.inFlight = undefined;
    if (lease === this.lease) this.failedSince = true;
  }

  /**
   * An instance leaves (its key already deleted). The lease to revoke when it was the last
   * holder, else undefined.
   */
  leave(holder: string): string | undefined {
    this.holders.delete(holder);
    const lease = this.lease ?? this.previous;
    if (this.holders.size > 0 || lease === undefined) return undefined;
    this.drop();
    this.previous = undefined;
    return lease;
  }

  private drop(): void {
    this.lease = undefined;
    this.confirmedAt = undefined;
    this.inFlight = undefined;
    this.failedSince = false;
  }
}

/**
 * What one watch covers for an instance's key: its prefix directory when the key is under it
 * (`<prefix>/...`), so that one watch serves every instance of the prefix, else the key alone.
 */
export function watchScope(key: string, prefix: string): { readonly range: 'prefix' | 'key'; readonly value: string } {
  const dir = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return key.startsWith(dir) && key.length > dir.length ? { range: 'prefix', value: dir } : { range: 'key', value: key };
}

/** Listeners by key: a watch event for a key goes to the instances following that key only. */
export class KeyFanOut<L> {
  private readonly byKey = new Map<string, Set<L>>();

  add(key: string, listener: L): void {
    let s = this.byKey.get(key);
    if (!s) this.byKey.set(key, (s = new Set()));
    s.add(listener);
  }

  /** Whether no listener is left. */
  remove(key: string, listener: L): boolean {
    const s = this.byKey.get(key);
    if (s) {
      s.delete(listener);
      if (s.size === 0) this.byKey.delete(key);
    }
    return this.byKey.size === 0;
  }

  /** The listeners of `key` (none for a key nobody follows: another cluster's, a node document). */
  route(key: string): readonly L[] {
    return [...(this.byKey.get(key) ?? [])];
  }

  get size(): number {
    return this.byKey.size;
  }
}

/** At most `max` tasks running; the others wait in order. Pure bookkeeping: the shell runs them. */
export class InFlightLimit<T> {
  private running = 0;
  private readonly queue: T[] = [];

  constructor(readonly max: number) {}

  /** The task may start now (true), or was queued (false). */
  admit(task: T): boolean {
    if (this.running < this.max) {
      this.running++;
      return true;
    }
    this.queue.push(task);
    return false;
  }

  /** A task ended: the next queued one to start, if any (it takes the freed place). */
  finish(): T | undefined {
    const next = this.queue.shift();
    if (next === undefined) this.running--;
    return next;
  }

  get inFlight(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }
}

/** `xs` in pieces of at most `n`. */
export function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * How the candidacy reads of one batch go out: one range read per prefix directory for the
 * instances whose key is under it (the answer split by `<key>/candidates/`), the others one
 * prefix range each (in transactions of TXN_OPS).
 */
export function candidacyReads(asks: readonly { readonly key: string; readonly prefix: string }[]): { byDir: Map<string, string[]>; alone: string[] } {
  const byDir = new Map<string, string[]>();
  const alone: string[] = [];
  for (const { key, prefix } of asks) {
    const scope = watchScope(key, prefix);
    if (scope.range === 'prefix') {
      const keys = byDir.get(scope.value);
      if (keys) keys.push(key);
      else byDir.set(scope.value, [key]);
    } else alone.push(key);
  }
  return { byDir, alone };
}

/** Whether `key` lies under the directory `dir` (which ends with '/'). */
export function isUnder(key: string, dir: string): boolean {
  return key.length > dir.length && key.startsWith(dir);
}

/** The end of etcd's range of every key starting with `p` (etcd's `--prefix`: the last byte below 0xff plus one). */
export function prefixRangeEnd(p: Uint8Array): Uint8Array {
  for (let i = p.length - 1; i >= 0; i--) {
    if (p[i]! < 0xff) {
      const end = p.slice(0, i + 1);
      end[i] = p[i]! + 1;
      return end;
    }
  }
  return Uint8Array.of(0); // every key
}
