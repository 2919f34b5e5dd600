/**
 * Holding an instance through an etcd lease (issue 16), pure: the decisions of one node; the
 * shell talks to etcd (grant, keep-alive, transaction, read, watch) and feeds the answers back
 * with the time each request was *sent*. Time is a monotonic ms number handed in.
 *
 * Safety: etcd expires a lease at the earliest TTL after it processed the last keep-alive,
 * which is after we sent it. So the lease is surely ours until `sentAt + ttl` of the last
 * confirmed keep-alive; a master steps down `margin` before that (VIP removed, hooks told),
 * whatever it hears or does not hear — etcd unreachable, a stalled watch, a hung loop that
 * wakes up late (the first tick after a stall steps down before anything else). Two holders
 * never overlap as long as clocks run at about the same rate (the margin covers the drift).
 *
 * Two kinds of bad news are told apart:
 * - etcd names another holder (a read or watch event): step down at once;
 * - etcd is unreachable: keep the role until the bound above, then step down (policy
 *   `step-down`, the default); with policy `failsafe` the master asks its carpool peers and
 *   may keep the role past the bound while a majority confirms (core/failsafe.ts: the shell
 *   feeds the decision back as a `failsafe` input). When etcd answers again the master
 *   resyncs: its lease gone, it contends at once while still within the failsafe bound.
 * Watches are never trusted alone: every `pollMs` the key is read again (vip-manager once kept
 * a VIP for a week after a lost watch).
 *
 * Planned hand-over (`carpool demote`), make-before-break: a demoted master deletes the key
 * (only while it holds our lease) but keeps its addresses; the backups see the key free and
 * contend; the winner adds the addresses, sends gratuitous ARP and only then rewrites the key
 * once (`confirm`: same value and lease, so the key's version goes to 2). The old master drops
 * its addresses HANDOVER_OVERLAP_MS after etcd names another holder with version ≥ 2 — the
 * successor's addresses and GARP went out before that write, so both hold for a moment, as
 * with CARP's demote, whatever the delays of the watch — or, with no successor, after
 * `handoverWaitMs`; the lease bound applies throughout. A demoted node does not
 * contend until the demotion is cleared (CARP's advskew 240).
 *
 * Preference (`priority`, `preempt`, `preempt_delay`; ./preference.ts): a node with a preference
 * publishes its candidacy under its lease and reads the others' every poll. A holder that sees a
 * better candidate asking to preempt, unchanged for that candidate's delay, hands over to it
 * alone: one transaction deletes the key and reserves it (`<key>/handover` = the target, under
 * the holder's lease); the others' create-if-absent fails while the reservation stands; the
 * target takes the key and deletes the reservation in one transaction, then adds the addresses
 * and confirms as above. If the target has not taken the key within `handoverWaitMs`, the
 * holder — which kept its addresses — takes it back the same way (it keeps serving); if the
 * holder dies instead, the reservation goes with its lease and everyone contends again.
 */
import type { LogLevel } from '../../lib/log-level.js';
import { candidacyDocument, parseCandidacy, preemptionDue, preferredSuccessor, trackCandidates, type Candidate, type Preference } from './preference.js';

export interface LeaseParams {
  /** This node's name (the value it writes under the key). */
  readonly node: string;
  readonly ttlMs: number;
  /** Keep-alive interval. */
  readonly renewMs: number;
  /** One request to etcd gives up after this. */
  readonly requestTimeoutMs: number;
  /** Step down this long before the lease can have expired. */
  readonly marginMs: number;
  /** Read the key again this often, watches or not. */
  readonly pollMs: number;
  /** This node's preference (docs/etcd.md "Preference"); none = no candidacy, no hand-back (as before). */
  readonly preference?: Preference;
  /** The policy when etcd cannot be reached (default `step-down`). */
  readonly unreachable?: UnreachablePolicy;
  /**
   * The lease is the daemon's, shared by its instances of this ttl: a failed grant or keep-alive
   * is one event, logged once for the lease by the pool; the instance logs it at debug level.
   */
  readonly sharedLease?: boolean;
}

export type UnreachablePolicy = 'step-down' | 'failsafe';

export type LeaseRole = 'INIT' | 'BACKUP' | 'MASTER';

export type LeaseInput =
  | { readonly type: 'start' }
  | { readonly type: 'tick' }
  | { readonly type: 'granted'; readonly lease: string; readonly ttlMs: number; readonly sentAt: number }
  /**
   * Keep-alive answer: ttlMs 0 = etcd no longer knows the lease. `lease`: the lease it is for
   * (a lease shared by several instances confirms to all; one not ours any more is ignored).
   */
  | { readonly type: 'keptAlive'; readonly ttlMs: number; readonly sentAt: number; readonly lease?: string }
  /**
   * The create-if-absent transaction: won (key created with our lease at `revision`) or not;
   * `lease` is the lease the key is attached to (ours when won).
   */
  | { readonly type: 'txn'; readonly won: boolean; readonly revision: number; readonly holder: string | null; readonly lease: string | null; readonly handoverTo?: string | null }
  /** The reserved take-over's answer (as `txn`). */
  | { readonly type: 'tookOver'; readonly won: boolean; readonly revision: number; readonly holder: string | null; readonly lease: string | null; readonly handoverTo?: string | null }
  /** The candidacies under `<key>/candidates/` as read (documents not yet checked). */
  | { readonly type: 'candidates'; readonly list: readonly { readonly node: string; readonly value: string; readonly id: string }[] }
  /** Answers to `publish` (our candidacy written) and `handOver` (key deleted and reserved, if ours). */
  | { readonly type: 'published' }
  | { readonly type: 'handedOver' }
  /** A read or a watch event: who holds the key now (null = nobody) and with which lease. */
  | { readonly type: 'holder'; readonly holder: string | null; readonly lease: string | null; readonly revision: number; readonly version?: number }
  /** `carpool demote` (on) / `carpool demote --clear` (off). */
  | { readonly type: 'demote'; readonly on: boolean }
  /** Answers to `resign` (key deleted if it held our lease) and `confirm` (key rewritten if ours). */
  | { readonly type: 'resigned' }
  | { readonly type: 'confirmed' }
  /** A request failed (timeout, connection refused, TLS, auth...). */
  | { readonly type: 'failed'; readonly request: LeaseRequest; readonly error: string }
  | { readonly type: 'shutdown' }
  /** Policy `failsafe`: the peers' confirmations allow the role until `until` (undefined = no majority). */
  | { readonly type: 'failsafe'; readonly until: number | undefined }
  /** Policy `failsafe`: this node confirmed another master's question; it does not contend before `until`. */
  | { readonly type: 'promised'; readonly until: number }
  /** The release (key deleted if ours, lease revoked) was answered. */
  | { readonly type: 'released' };

export type LeaseRequest = 'grant' | 'keepAlive' | 'txn' | 'read' | 'release' | 'resign' | 'confirm' | PreferenceRequest;
export type PreferenceRequest = 'publish' | 'candidates' | 'handOver' | 'takeOver';

export type LeaseEffect =
  | { readonly type: 'request'; readonly request: 'grant'; readonly ttlMs: number }
  | { readonly type: 'request'; readonly request: 'keepAlive' | 'txn' | 'read' | 'resign' | 'confirm'; readonly lease: string }
  /** Delete the key if it still holds our lease, and revoke the lease. */
  | { readonly type: 'request'; readonly request: 'release'; readonly lease: string }
  /** Our candidacy document, under our lease. */
  | { readonly type: 'request'; readonly request: 'publish'; readonly lease: string; readonly value: string }
  | { readonly type: 'request'; readonly request: 'candidates'; readonly lease: string }
  /** handOver: delete the key if ours and reserve it for `target`; takeOver: take the key reserved for `target`. */
  | { readonly type: 'request'; readonly request: 'handOver' | 'takeOver'; readonly lease: string; readonly target: string }
  | { readonly type: 'transition'; readonly from: LeaseRole; readonly to: LeaseRole; readonly reason: string; readonly fencingToken?: number }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string }
  /** Policy `failsafe`: the master cannot reach etcd; ask every peer now. */
  | { readonly type: 'askPeers' }
  | { readonly type: 'stopped' };

export interface LeaseStatus {
  readonly role: LeaseRole;
  readonly holder: string | null;
  readonly revision: number | undefined;
  /** ms left until this node's lease may have expired (from the last confirmation), or undefined. */
  readonly leaseLeftMs: number | undefined;
  readonly failures: number;
  readonly lastError: string | undefined;
  /** `carpool demote` in force: this node does not contend. */
  readonly demoted: boolean;
  /** A demoted master keeping its addresses until its successor confirms (make-before-break). */
  readonly handingOver: boolean;
  /** This node's preference, if configured. */
  readonly preference?: Preference;
  /** The candidacies last read (with a preference only), and since when each was seen unchanged (ms ago). */
  readonly candidates?: readonly (Candidate & { readonly seenMs: number })[];
  /** The node a preference hand-over is reserved for, while one runs. */
  readonly handoverTo?: string;
  /** Candidacy documents that could not be used (malformed), since start. */
  readonly badCandidacies?: number;
  readonly unreachable: UnreachablePolicy;
  /** The last request to etcd was answered. */
  readonly etcdReachable: boolean;
  /** Policy `failsafe`: ms the peers' confirmations still allow (undefined = none). */
  readonly failsafeLeftMs: number | undefined;
  /** A master holding past its lease bound on the peers' confirmations. */
  readonly failsafeActive: boolean;
  /** This node confirmed another master's question: not contending for this long. */
  readonly promisedMs: number | undefined;
}

/** Settings that cannot be safe, as messages (empty = fine). Patroni's rule, adapted. */
export function checkTiming(p: Omit<LeaseParams, 'node'>): string[] {
  const out: string[] = [];
  if (p.renewMs + 2 * p.requestTimeoutMs > p.ttlMs - p.marginMs) {
    out.push(`renew (${p.renewMs} ms) + 2 × request timeout (${p.requestTimeoutMs} ms) must fit in ttl (${p.ttlMs} ms) − margin (${p.marginMs} ms): one keep-alive may fail and be retried before the lease runs out`);
  }
  if (p.marginMs < 100) out.push(`margin ${p.marginMs} ms is too small to remove the address before the lease can expire (at least 100 ms)`);
  if (p.pollMs > p.ttlMs) out.push(`poll (${p.pollMs} ms) longer than ttl (${p.ttlMs} ms): a lost watch would go unnoticed for longer than a lease`);
  return out;
}

/**
 * A master that handed over keeps its addresses this long after its successor confirmed holding
 * them (make-before-break with a margin: packets still sent to the old holder's MAC are served).
 */
export const HANDOVER_OVERLAP_MS = 100;

/** A failed keep-alive is sent again after this (not sooner: an endpoint refusing at once must not make a busy loop). */
export const KEEPALIVE_RETRY_MS = 200;

export class LeaseElection {
  private role: LeaseRole = 'INIT';
  private lease: string | undefined;
  /** Our lease is surely alive until this time (sentAt + ttl of the last confirmation). */
  private validUntil: number | undefined;
  private holder: string | null = null;
  private revision: number | undefined;
  private pending = new Set<LeaseRequest>();
  private nextKeepAlive: number | undefined;
  private nextPoll: number | undefined;
  private nextGrant: number | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private stopping = false;
  private demoted = false;
  /** While handing over: the addresses go at the latest then. */
  private handoverUntil: number | undefined;
  /** Handed over and confirmed by `to`: the addresses go at `at` (HANDOVER_OVERLAP_MS later). */
  private letGo: { readonly at: number; readonly to: string } | undefined;
  // --- preference (./preference.ts) ---
  private candidateList: readonly Candidate[] = [];
  private candidateSeen = new Map<string, { id: string; since: number }>();
  private badCandidacies = 0;
  /** Our candidacy must be written (new lease, demotion changed, or the last write failed). */
  private candidacyDirty = false;
  /** The node our running hand-over is for. */
  private handoverTarget: string | undefined;
  /** A reservation we wrote that may still stand: we contend with `takeOver` for it, not `txn`. */
  private reservedFor: string | undefined;
  /** The target did not come: taking the key back, addresses kept. */
  private retaking = false;
  /** The candidacies request under way was sent before we took the key: its answer is not used. */
  private staleCandidates = false;
  // --- policy `failsafe` (kept apart: the fields and methods below marked failsafe) ---
  private reachable = true;
  /** The last keep-alive failed: the lease is not being renewed, whatever reads say. */
  private keepAliveFailing = false;
  private failsafeUntil: number | undefined;
  private nextAsk: number | undefined;
  private promisedUntil: number | undefined;
  private contendAt: number | undefined;

  constructor(private readonly p: LeaseParams) {}

  get state(): LeaseRole {
    return this.role;
  }

  nextDeadline(): number | undefined {
    const ds = [this.nextKeepAlive, this.nextPoll, this.nextGrant, this.handoverUntil, this.letGo?.at, this.role === 'MASTER' ? this.masterBound() : undefined, this.preemptAt(),
      this.nextAsk, this.contendAt]
      .filter((d): d is number => d !== undefined);
    return ds.length ? Math.min(...ds) : undefined;
  }

  status(now: number): LeaseStatus {
    return {
      role: this.role, holder: this.holder, revision: this.revision,
      leaseLeftMs: this.validUntil === undefined ? undefined : Math.max(0, this.validUntil - now),
      failures: this.failures, lastError: this.lastError, demoted: this.demoted, handingOver: this.handoverUntil !== undefined || this.retaking || this.letGo !== undefined,
      unreachable: this.p.unreachable ?? 'step-down', etcdReachable: this.reachable,
      failsafeLeftMs: this.failsafeUntil === undefined || this.failsafeUntil <= now ? undefined : this.failsafeUntil - now,
      failsafeActive: this.role === 'MASTER' && this.failsafeUntil !== undefined && now < this.failsafeUntil && now >= (this.stepDownAt() ?? -Infinity),
      promisedMs: this.promisedUntil === undefined || this.promisedUntil <= now ? undefined : this.promisedUntil - now,
      ...(this.p.preference ? {
        preference: this.p.preference, badCandidacies: this.badCandidacies,
        candidates: this.candidateList.map((c) => ({ ...c, seenMs: Math.max(0, now - (this.candidateSeen.get(c.node)?.since ?? now)) })),
        ...(this.handoverTarget !== undefined ? { handoverTo: this.handoverTarget } : {}),
      } : {}),
    };
  }

  /** How long a demoted master waits for a successor: one poll and two requests, within the lease bound. */
  handoverWaitMs(): number {
    return this.p.pollMs + 2 * this.p.requestTimeoutMs;
  }

  step(input: LeaseInput, now: number): LeaseEffect[] {
    const fx: LeaseEffect[] = [];
    // A stalled loop wakes up here: the bound comes first, whatever the input.
    this.enforceBound(now, fx);
    if (this.stopping && input.type !== 'failed' && input.type !== 'released') return fx;
    this.noteReachable(input, now, fx);
    switch (input.type) {
      case 'start':
        if (this.role === 'INIT') {
          this.transition('BACKUP', 'startup', fx);
          this.request(fx, 'grant');
          this.nextPoll = now + this.p.pollMs;
        }
        break;
      case 'tick':
        this.onTick(now, fx);
        break;
      case 'granted':
        this.pending.delete('grant');
        this.nextGrant = undefined; // a retry scheduled by an earlier failure would take a second lease
        this.lease = input.lease;
        this.validUntil = input.sentAt + input.ttlMs;
        this.nextKeepAlive = now + this.p.renewMs;
        if (this.holder === null && !this.demoted) this.request(fx, 'txn');
        else this.request(fx, 'read');
        if (this.p.preference) {
          this.candidacyDirty = true;
          this.publishCandidacy(fx);
          this.prefRequest(fx, 'candidates');
        }
        break;
      case 'keptAlive':
        this.pending.delete('keepAlive');
        if (input.lease !== undefined && input.lease !== this.lease) break; // shared lease: an old one
        if (input.ttlMs <= 0) {
          this.leaseLost('etcd no longer knows our lease', fx, now);
        } else {
          this.validUntil = Math.max(this.validUntil ?? 0, input.sentAt + input.ttlMs);
          // Only a confirmation that covers us again ends the failsafe hold (a shared lease may
          // hand back an older confirmation, already past its bound).
          if ((this.stepDownAt() ?? 0) > now) this.failsafeUntil = undefined;
        }
        break;
      case 'txn':
        this.pending.delete('txn');
        this.revision = input.revision;
        if (input.won) {
          this.holder = this.p.node;
          if (this.resyncedWithoutTransition(input.revision, fx)) break;
          this.maybeMaster(now, 'acquired the key', fx);
        } else {
          if (this.resyncing && this.role === 'MASTER' && input.holder !== this.p.node) {
            this.holder = input.holder;
            this.failsafeUntil = undefined;
            this.transition('BACKUP', this.otherHolderReason(input.holder, input.lease), fx);
            break;
          }
          this.holder = input.holder;
          if (input.holder === this.p.node && input.lease === this.lease && this.resyncedKept(input.revision, fx)) break;
          // Our name under another lease (one we lost, or a predecessor's): not ours to hold, since
          // nothing keeps that lease alive; it expires and the key is contended again.
          if (input.holder === this.p.node && input.lease === this.lease) this.maybeMaster(now, 'the key is ours', fx);
          else if (input.holder === this.p.node) fx.push({ type: 'log', level: 'warning', message: `the key holds our name under another lease (${input.lease ?? 'none'}): waiting for it to expire` });
          else if (input.holder === null && input.handoverTo) this.onReserved(input.handoverTo, fx);
        }
        break;
      case 'tookOver':
        this.pending.delete('takeOver');
        this.onTookOver(input, now, fx);
        break;
      case 'candidates':
        this.pending.delete('candidates');
        this.onCandidates(input.list, now, fx);
        break;
      case 'published':
        this.pending.delete('publish');
        break;
      case 'handedOver':
        this.pending.delete('handOver');
        break;
      case 'holder':
        this.pending.delete('read');
        this.onHolder(input.holder, input.lease, input.revision, input.version ?? 1, now, fx);
        break;
      case 'demote':
        this.onDemote(input.on, now, fx);
        break;
      case 'resigned':
        this.pending.delete('resign');
        break;
      case 'confirmed':
        this.pending.delete('confirm');
        break;
      case 'failed':
        this.pending.delete(input.request);
        this.failures++;
        this.lastError = `${input.request}: ${input.error}`;
        fx.push({ type: 'log', level: this.p.sharedLease && (input.request === 'keepAlive' || input.request === 'grant') ? 'debug' : 'warning', message: `etcd ${input.request} failed: ${input.error}${this.role === 'MASTER' ? `; keeping the role at most ${Math.max(0, (this.masterBound() ?? now) - now)} ms more` : ''}` });
        if (input.request === 'grant') this.nextGrant = now + Math.min(this.p.renewMs, 1000);
        // The timing rule (renew + 2 × request timeout ≤ ttl − margin) counts on a failed
        // keep-alive being retried at once, not a renew later (found in the lab: an etcd member
        // killed, two keep-alives in a row lost to it, and the master stepped down).
        if (input.request === 'keepAlive' && this.nextKeepAlive !== undefined) this.nextKeepAlive = Math.min(this.nextKeepAlive, now + Math.min(KEEPALIVE_RETRY_MS, this.p.renewMs));
        if (input.request === 'release' && this.stopping) fx.push({ type: 'stopped' });
        if (input.request === 'publish') this.candidacyDirty = true;
        if (input.request === 'candidates') this.staleCandidates = false;
        if (input.request === 'takeOver' && this.retaking) {
          // etcd is failing: the bound applies; as a backup we contend again (with takeOver) every poll.
          this.endHandover(now);
          this.transition('BACKUP', 'hand-over: could not take the key back', fx);
        }
        break;
      case 'released':
        fx.push({ type: 'stopped' });
        break;
      case 'failsafe':
        this.onFailsafe(input.until, now, fx);
        break;
      case 'promised':
        this.promisedUntil = Math.max(this.promisedUntil ?? 0, input.until);
        break;
      case 'shutdown':
        if (this.stopping) break;
        this.stopping = true;
        if (this.role === 'MASTER') this.transition('BACKUP', 'shutdown', fx);
        this.nextKeepAlive = this.nextPoll = this.nextGrant = this.handoverUntil = undefined;
        this.handoverTarget = undefined;
        this.retaking = false;
        if (this.lease !== undefined) fx.push({ type: 'request', request: 'release', lease: this.lease });
        else fx.push({ type: 'stopped' });
        break;
    }
    return fx;
  }

  private onDemote(on: boolean, now: number, fx: LeaseEffect[]): void {
    if (on === this.demoted) {
      fx.push({ type: 'log', level: 'info', message: on ? 'already demoted' : 'not demoted' });
      return;
    }
    this.demoted = on;
    if (this.p.preference) {
      this.candidacyDirty = true;
      this.publishCandidacy(fx);
    }
    if (on) {
      fx.push({ type: 'log', level: 'info', message: 'demoted (carpool demote): not contending until carpool demote --clear' });
      if (this.role === 'MASTER') this.startHandover(now, fx);
      return;
    }
    fx.push({ type: 'log', level: 'info', message: 'demotion cleared: contending again' });
    if (this.role === 'BACKUP' && this.holder === null) this.request(fx, 'txn');
  }

  /** Make-before-break: the key goes, the addresses stay until the successor confirms. */
  private startHandover(now: number, fx: LeaseEffect[], target?: string): void {
    if (this.handoverUntil !== undefined || this.retaking) return;
    const bound = this.stepDownAt() ?? now;
    this.handoverUntil = Math.min(bound, now + this.handoverWaitMs());
    if (target !== undefined) {
      this.handoverTarget = this.reservedFor = target;
      fx.push({ type: 'log', level: 'info', message: `handing over to ${target} (preferred): key reserved for it, keeping the addresses until it confirms (at most ${this.handoverUntil - now} ms)` });
      this.prefRequest(fx, 'handOver', target);
      return;
    }
    fx.push({ type: 'log', level: 'info', message: `handing over: key released, keeping the addresses until a successor confirms (at most ${this.handoverUntil - now} ms)` });
    this.request(fx, 'resign');
  }

  private onTick(now: number, fx: LeaseEffect[]): void {
    this.failsafeTick(now, fx);
    if (this.letGo !== undefined && now >= this.letGo.at) {
      const to = this.letGo.to;
      this.letGo = undefined;
      this.transition('BACKUP', `handed over to ${to}`, fx);
    }
    if (this.handoverUntil !== undefined && now >= this.handoverUntil) {
      this.handoverUntil = undefined;
      // Demoted meanwhile too: taken back first (our reservation must not outlive the hand-over), then resigned.
      // (holder = us: a read older than the hand-over answered last; the transaction tells.)
      if (this.role === 'MASTER' && this.handoverTarget !== undefined && (this.holder === null || this.holder === this.p.node)) {
        this.retakeKey(now, fx);
      } else {
        if (this.handoverTarget !== undefined) this.holdDownAgain(this.handoverTarget, now);
        this.endHandover(now);
        if (this.role === 'MASTER') this.transition('BACKUP', 'hand-over: no successor confirmed in time', fx);
      }
      this.request(fx, 'read');
    }
    if (this.nextGrant !== undefined && now >= this.nextGrant) {
      this.nextGrant = undefined;
      this.request(fx, 'grant');
    }
    if (this.nextKeepAlive !== undefined && now >= this.nextKeepAlive) {
      this.nextKeepAlive = now + this.p.renewMs;
      this.request(fx, 'keepAlive');
    }
    if (this.nextPoll !== undefined && now >= this.nextPoll) {
      this.nextPoll = now + this.p.pollMs;
      this.request(fx, 'read');
      if (this.p.preference) {
        this.publishCandidacy(fx);
        this.prefRequest(fx, 'candidates');
      }
    }
    // Our own lease ran out while backup: get a new one.
    if (this.validUntil !== undefined && now >= this.validUntil && this.lease !== undefined) {
      this.leaseLost('our lease may have expired (no keep-alive confirmed in time)', fx, now);
    }
    this.considerPreemption(now, fx);
  }

  private onHolder(holder: string | null, lease: string | null, revision: number, version: number, now: number, fx: LeaseEffect[]): void {
    // Our own name under an older lease, older than the key we hold now: a late answer (a read
    // sent before a failsafe resync), not news.
    if (holder === this.p.node && lease !== this.lease && this.revision !== undefined && revision < this.revision && this.holder === this.p.node) return;
    this.revision = revision;
    const prev = this.holder;
    this.holder = holder;
    const ours = holder === this.p.node && lease === this.lease;
    // Someone else holds the key: any reservation of ours was taken with it (only its target can).
    if (holder !== null && !ours) this.reservedFor = undefined;
    if ((this.handoverUntil !== undefined || this.retaking) && this.role === 'MASTER') {
      if (holder === null) {
        if (!this.demoted && this.handoverTarget === undefined) this.request(fx, 'txn'); // demotion cleared meanwhile: take it back
      } else if (ours) {
        if (this.handoverTarget !== undefined) {
          if (!this.retaking) this.prefRequest(fx, 'handOver', this.handoverTarget); // an answer older than our hand-over
        } else if (this.demoted) this.request(fx, 'resign');
        else this.handoverUntil = undefined; // cleared and won again: simply master
      } else if (version >= 2) {
        this.endHandover(now);
        this.letGoAfter(holder, now, fx);
      } else if (prev !== holder) {
        fx.push({ type: 'log', level: 'info', message: `${holder} took the key: keeping the addresses until it confirms` });
      }
      return;
    }
    // Handed over: the successor's key, as expected; the addresses go at the time set.
    if (this.letGo !== undefined && this.role === 'MASTER' && holder === this.letGo.to) return;
    if (holder === null) {
      if (this.demoted) {
        if (this.role === 'MASTER') this.transition('BACKUP', 'etcd shows the key free', fx);
        // A reservation of ours may still bar the others: take the key to give it back (a demoted node resigns it).
        if (this.reservedFor !== undefined) this.request(fx, 'txn');
        return;
      }
      if (prev !== null) fx.push({ type: 'log', level: 'info', message: `the key is free (was ${prev}): contending` });
      if (this.role === 'MASTER' && this.failsafeHolds(now)) {
        this.resync('etcd shows the key free after a failsafe hold', fx);
        return;
      }
      if (this.role === 'MASTER') this.transition('BACKUP', 'etcd shows the key free', fx);
      this.request(fx, 'txn');
      return;
    }
    if (!ours) this.failsafeUntil = undefined;
    if (ours && this.resyncing && this.role === 'MASTER') {
      // The resync's transaction answer was lost, but the key is ours with the new lease.
      this.resyncing = false;
      this.failsafeUntil = undefined;
      this.nextAsk = undefined;
    }
    if (ours) {
      // A missed watch event or a lost transaction answer: the key is ours after all.
      if (this.role === 'BACKUP') this.maybeMaster(now, 'etcd names us the holder', fx);
    } else if (this.role === 'MASTER') {
      this.transition('BACKUP', this.otherHolderReason(holder, lease), fx);
    }
  }

  /** Why a master steps down for a key it does not hold: another node, or our own name under a lease we no longer keep alive. */
  private otherHolderReason(holder: string | null | undefined, lease: string | null | undefined): string {
    if (holder === this.p.node) return `etcd holds the key in our name under another lease (${lease ?? 'none'}), which nothing keeps alive`;
    return `etcd names another holder (${holder ?? '?'})`;
  }

  /** The successor confirmed it holds the addresses: ours go HANDOVER_OVERLAP_MS later (never past the lease bound). */
  private letGoAfter(successor: string, now: number, fx: LeaseEffect[]): void {
    const at = Math.min(now + HANDOVER_OVERLAP_MS, this.stepDownAt() ?? now);
    if (at <= now) {
      this.transition('BACKUP', `handed over to ${successor}`, fx);
      return;
    }
    this.letGo = { at, to: successor };
    fx.push({ type: 'log', level: 'info', message: `${successor} confirmed it holds the addresses: removing ours in ${at - now} ms` });
  }

  private maybeMaster(now: number, reason: string, fx: LeaseEffect[]): void {
    if (this.role === 'MASTER' && this.handoverUntil !== undefined && !this.demoted && this.handoverTarget === undefined) this.handoverUntil = undefined;
    if (this.role !== 'BACKUP') return;
    if (this.demoted) {
      // The key came to us anyway (a transaction sent before the demotion): give it back untouched.
      fx.push({ type: 'log', level: 'info', message: `${reason} while demoted: releasing it` });
      this.request(fx, 'resign');
      return;
    }
    const bound = this.stepDownAt();
    if (bound === undefined || now >= bound) {
      fx.push({ type: 'log', level: 'warning', message: `${reason}, but our lease is too close to expiry to take the role` });
      return;
    }
    this.transition('MASTER', reason, fx, this.revision);
    // After the addresses and GARP (effects run in order): tells a handing-over master to let go.
    this.request(fx, 'confirm');
    this.freshCandidates(fx);
  }

  private leaseLost(why: string, fx: LeaseEffect[], now?: number): void {
    if (this.role === 'MASTER' && now !== undefined && this.failsafeHolds(now)) {
      this.resync(why, fx);
      return;
    }
    if (this.role === 'MASTER') this.transition('BACKUP', why, fx);
    this.handoverUntil = undefined;
    this.handoverTarget = this.reservedFor = undefined; // a reservation goes with the lease
    this.retaking = false;
    fx.push({ type: 'log', level: 'warning', message: `${why}: requesting a new lease` });
    this.lease = undefined;
    this.validUntil = undefined;
    this.nextKeepAlive = undefined;
    if (this.holder === this.p.node) this.holder = null;
    this.nextGrant = undefined;
    this.request(fx, 'grant');
  }

  private enforceBound(now: number, fx: LeaseEffect[]): void {
    const bound = this.masterBound();
    if (this.role === 'MASTER' && bound !== undefined && now >= bound) {
      this.failsafeUntil = undefined;
      this.transition('BACKUP', this.p.unreachable === 'failsafe'
        ? `lease not confirmed within ttl − margin (${this.p.ttlMs - this.p.marginMs} ms) and no fresh confirmation of a majority of the peers`
        : `lease not confirmed within ttl − margin (${this.p.ttlMs - this.p.marginMs} ms)`, fx);
    }
    if (this.role !== 'MASTER') {
      this.handoverUntil = this.handoverTarget = undefined;
      this.retaking = false;
    }
  }

  private stepDownAt(): number | undefined {
    return this.validUntil === undefined ? undefined : this.validUntil - this.p.marginMs;
  }

  private request(fx: LeaseEffect[], request: 'grant' | 'keepAlive' | 'txn' | 'read' | 'resign' | 'confirm'): void {
    // While a reservation of ours may stand, our own create-if-absent would fail on it.
    if (request === 'txn' && this.reservedFor !== undefined) {
      this.prefRequest(fx, 'takeOver', this.reservedFor);
      return;
    }
    if (this.pending.has(request)) return;
    if (request === 'txn' && this.role !== 'MASTER' && this.promisedUntil !== undefined && this.contendAt === undefined) {
      // failsafe: we confirmed another master's question; no contending before the promise ends.
      this.contendAt = this.promisedUntil;
      fx.push({ type: 'log', level: 'info', message: 'the key is free, but this node confirmed a failsafe master: contending when that confirmation expires' });
      return;
    }
    if (request === 'txn' && this.contendAt !== undefined) return;
    if (request === 'grant') {
      this.pending.add(request);
      fx.push({ type: 'request', request, ttlMs: this.p.ttlMs });
      return;
    }
    if (this.lease === undefined) return;
    this.pending.add(request);
    fx.push({ type: 'request', request, lease: this.lease });
  }

  // --- preference (docs/etcd.md "Preference") -------------------------------------------

  private prefRequest(fx: LeaseEffect[], request: PreferenceRequest, target?: string): void {
    if (this.pending.has(request) || this.lease === undefined) return;
    const lease = this.lease;
    if (request === 'publish') {
      if (!this.p.preference) return;
      fx.push({ type: 'request', request, lease, value: candidacyDocument(this.p.preference, this.demoted) });
    } else if (request === 'candidates') {
      fx.push({ type: 'request', request, lease });
    } else {
      if (target === undefined) return;
      fx.push({ type: 'request', request, lease, target });
    }
    this.pending.add(request);
  }

  /**
   * A new holder decides on candidacies read after it took the key, not on a list read as a
   * backup (the node whose death gave it the key would still be in it).
   */
  private freshCandidates(fx: LeaseEffect[]): void {
    if (!this.p.preference) return;
    this.candidateList = [];
    // An answer already under way may predate the key: skipped, and asked again.
    if (this.pending.has('candidates')) this.staleCandidates = true;
    else this.prefRequest(fx, 'candidates');
  }

  private publishCandidacy(fx: LeaseEffect[]): void {
    if (!this.candidacyDirty || this.lease === undefined || this.pending.has('publish')) return;
    this.candidacyDirty = false;
    this.prefRequest(fx, 'publish');
  }

  private onCandidates(list: readonly { node: string; value: string; id: string }[], now: number, fx: LeaseEffect[]): void {
    if (this.staleCandidates) {
      this.staleCandidates = false;
      this.prefRequest(fx, 'candidates');
      return;
    }
    const good: Candidate[] = [];
    for (const e of list) {
      const c = parseCandidacy(e.node, e.value, e.id);
      if ('error' in c) {
        this.badCandidacies++;
        fx.push({ type: 'log', level: 'warning', message: `${c.error}: left out` });
      } else good.push(c);
    }
    this.candidateList = good;
    this.candidateSeen = trackCandidates(this.candidateSeen, good, now);
    this.considerPreemption(now, fx);
  }

  /** The holder hands over to a better candidate whose hold-down has passed. */
  private considerPreemption(now: number, fx: LeaseEffect[]): void {
    const pref = this.p.preference;
    if (!pref || this.role !== 'MASTER' || this.demoted || this.stopping || this.handoverUntil !== undefined || this.retaking || this.letGo !== undefined) return;
    const target = preferredSuccessor(this.p.node, pref.priority, this.candidateList, this.candidateSeen, now);
    if (target !== undefined) this.startHandover(now, fx, target);
  }

  /** When a waiting better candidate's hold-down ends (the holder's timer), if the holder may hand over. */
  private preemptAt(): number | undefined {
    const pref = this.p.preference;
    if (!pref || this.role !== 'MASTER' || this.demoted || this.handoverUntil !== undefined || this.retaking || this.letGo !== undefined) return undefined;
    return preemptionDue(this.p.node, pref.priority, this.candidateList, this.candidateSeen);
  }

  /** The key is free but reserved: for us, take it; for another node, wait (its holder takes it back if it does not come). */
  private onReserved(target: string, fx: LeaseEffect[]): void {
    if (target === this.p.node && !this.demoted) {
      fx.push({ type: 'log', level: 'info', message: 'the holder hands the key over to us (preferred): taking it' });
      this.prefRequest(fx, 'takeOver', this.p.node);
    } else if (target !== this.p.node && this.reservedFor === undefined) {
      fx.push({ type: 'log', level: 'info', message: `the key is reserved for ${target} (preferred): not contending` });
    }
  }

  private onTookOver(r: Extract<LeaseInput, { type: 'tookOver' }>, now: number, fx: LeaseEffect[]): void {
    this.revision = r.revision;
    if (r.won) {
      this.holder = this.p.node;
      this.reservedFor = undefined;
      if (this.role === 'MASTER' && this.retaking) {
        this.endHandover(now);
        fx.push({ type: 'log', level: 'warning', message: `took the key back (its preferred node did not take it in time), fencing token now ${r.revision}; kept the addresses` });
        if (this.demoted) this.startHandover(now, fx); // carpool demote came meanwhile: a plain hand-over now
        return;
      }
      this.maybeMaster(now, 'took over the key reserved for us', fx);
      return;
    }
    this.holder = r.holder;
    if (r.holder !== null && r.holder !== this.p.node) this.reservedFor = undefined;
    if (this.retaking && this.role === 'MASTER' && r.holder === this.p.node && r.lease === this.lease) {
      // The hand-over never happened (the key is still ours): simply master.
      this.endHandover(now);
      this.reservedFor = undefined;
      if (this.demoted) this.startHandover(now, fx);
      return;
    }
    if (r.holder === null && (r.handoverTo ?? null) === null) {
      // No reservation any more (gone with its lease, or never written): contend as usual.
      this.reservedFor = undefined;
      if (!this.demoted) this.request(fx, 'txn');
    }
    if (this.retaking && this.role === 'MASTER') {
      this.retaking = false;
      // The target came after all: keep the addresses until it confirms, within the bound.
      if (r.holder !== null) this.handoverUntil = Math.min(this.stepDownAt() ?? now, now + 2 * this.p.requestTimeoutMs);
      else {
        this.endHandover(now);
        this.transition('BACKUP', 'hand-over: could not take the key back', fx);
      }
    }
  }

  /** The target has not taken the key in time: take it back (addresses kept), or step down if that fails. */
  private retakeKey(now: number, fx: LeaseEffect[]): void {
    const target = this.handoverTarget!;
    this.holdDownAgain(target, now);
    this.retaking = true;
    fx.push({ type: 'log', level: 'warning', message: `${target} did not take the key within ${this.handoverWaitMs()} ms: taking it back` });
    this.prefRequest(fx, 'takeOver', target);
  }

  /** A target that failed to come waits its hold-down again (no bouncing every hand-over wait). */
  private holdDownAgain(node: string, now: number): void {
    const s = this.candidateSeen.get(node);
    if (s) this.candidateSeen.set(node, { id: s.id, since: now });
  }

  private endHandover(_now: number): void {
    this.handoverUntil = undefined;
    this.handoverTarget = undefined;
    this.retaking = false;
  }

  // --- policy `failsafe` -----------------------------------------------------------------

  /** The master's step-down instant: the lease bound, or later while the peers' confirmations allow. */
  private masterBound(): number | undefined {
    const lease = this.stepDownAt();
    // Resyncing without a lease: only the confirmations allow the role (none: at once).
    if (lease === undefined) return this.failsafeUntil ?? (this.role === 'MASTER' ? 0 : undefined);
    return this.failsafeUntil === undefined ? lease : Math.max(lease, this.failsafeUntil);
  }

  /** The master is holding (or may hold) on the peers' confirmations. */
  private failsafeHolds(now: number): boolean {
    return this.p.unreachable === 'failsafe' && this.failsafeUntil !== undefined && now < this.failsafeUntil;
  }

  /** Every answer from etcd says it is reachable again; every failure that it is not. */
  private noteReachable(input: LeaseInput, now: number, fx: LeaseEffect[]): void {
    const answered = input.type === 'granted' || input.type === 'keptAlive' || input.type === 'txn' || input.type === 'resigned' || input.type === 'confirmed'
      || (input.type === 'holder' && this.pending.has('read'));
    if (input.type === 'keptAlive' && input.ttlMs > 0) this.keepAliveFailing = false;
    if (input.type === 'failed' && input.request === 'keepAlive') this.keepAliveFailing = true;
    if (answered && !this.reachable) {
      this.reachable = true;
      if (this.p.unreachable === 'failsafe') fx.push({ type: 'log', level: 'info', message: 'etcd answers again: resyncing' });
    } else if (input.type === 'failed' && input.request !== 'release') {
      this.reachable = false;
    }
    // The master asks its peers as soon as its lease is in doubt (a read may get through while
    // keep-alives do not, e.g. a stream stuck to a stopped member).
    if (this.p.unreachable === 'failsafe' && this.role === 'MASTER' && !this.stopping && this.nextAsk === undefined && this.inDoubt()) this.nextAsk = now;
  }

  private inDoubt(): boolean {
    return !this.reachable || this.resyncing || this.keepAliveFailing;
  }

  private failsafeTick(now: number, fx: LeaseEffect[]): void {
    if (this.promisedUntil !== undefined && now >= this.promisedUntil) this.promisedUntil = undefined;
    if (this.contendAt !== undefined && now >= this.contendAt) {
      this.contendAt = undefined;
      if (this.promisedUntil === undefined) this.request(fx, 'read'); // the answer contends if the key is still free
      else this.contendAt = this.promisedUntil;
    }
    if (this.nextAsk !== undefined && now >= this.nextAsk) {
      // Asked on while resyncing: the confirmations must outlast the new lease and transaction.
      if (this.role === 'MASTER' && this.inDoubt() && this.p.unreachable === 'failsafe') {
        this.nextAsk = now + this.p.renewMs;
        fx.push({ type: 'askPeers' });
      } else this.nextAsk = undefined;
    }
  }

  private onFailsafe(until: number | undefined, now: number, fx: LeaseEffect[]): void {
    if (this.p.unreachable !== 'failsafe' || this.role !== 'MASTER') return;
    const was = this.failsafeHolds(now);
    this.failsafeUntil = until !== undefined && until > now ? until : undefined;
    const is = this.failsafeHolds(now);
    if (is && !was) fx.push({ type: 'log', level: 'warning', message: `etcd unreachable: a majority of the peers confirms; keeping the role up to ${this.failsafeUntil! - now} ms past the last confirmation` });
    if (!is && was) fx.push({ type: 'log', level: 'warning', message: 'failsafe: no longer confirmed by a majority of the peers: the lease bound applies' });
    this.enforceBound(now, fx);
  }

  /**
   * The master held on the peers' confirmations and etcd answers again without its lease (or
   * the key): a new lease, then the create-if-absent transaction, keeping the addresses while
   * the confirmations last; another holder named on the way makes it step down at once.
   */
  private resync(why: string, fx: LeaseEffect[]): void {
    fx.push({ type: 'log', level: 'warning', message: `${why}: contending again, keeping the addresses within the failsafe bound` });
    this.lease = undefined;
    this.validUntil = undefined;
    this.nextKeepAlive = undefined;
    this.holder = null;
    this.resyncing = true;
    this.nextAsk ??= 0;
    this.nextGrant = undefined;
    // A grant still in flight serves (a second one would leave us two leases, the key under one).
    this.request(fx, 'grant');
  }

  private resyncing = false;

  /**
   * The resync's transaction found the key still ours under our lease: etcd kept the lease
   * through the outage (a new leader extends every lease) and the shared lease revived it
   * (core/shared-lease.ts). Master as before, same fencing token, nothing rewritten.
   */
  private resyncedKept(revision: number, fx: LeaseEffect[]): boolean {
    if (!this.resyncing || this.role !== 'MASTER') return false;
    this.resyncing = false;
    this.failsafeUntil = undefined;
    this.nextAsk = undefined;
    fx.push({ type: 'log', level: 'warning', message: `resynced: etcd kept our lease through the outage, the key is still ours, fencing token ${revision} unchanged` });
    return true;
  }

  /** The transaction of a resync won: master without a transition (the new fencing token logged). */
  private resyncedWithoutTransition(revision: number, fx: LeaseEffect[]): boolean {
    if (!this.resyncing || this.role !== 'MASTER') return false;
    this.resyncing = false;
    this.failsafeUntil = undefined;
    this.nextAsk = undefined;
    fx.push({ type: 'log', level: 'warning', message: `resynced: the key is ours again with a new lease, fencing token ${revision}` });
    this.request(fx, 'confirm');
    return true;
  }

  private transition(to: LeaseRole, reason: string, fx: LeaseEffect[], fencingToken?: number): void {
    const from = this.role;
    if (from === to) return;
    this.role = to;
    if (to !== 'MASTER') {
      this.letGo = undefined;
      this.resyncing = false;
      this.failsafeUntil = undefined;
      this.nextAsk = undefined;
    }
    fx.push({ type: 'transition', from, to, reason, ...(fencingToken !== undefined ? { fencingToken } : {}) });
  }
}
