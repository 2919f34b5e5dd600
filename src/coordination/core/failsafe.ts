/**
 * The `failsafe` policy of an etcd instance when etcd cannot be reached (issue 16, docs/etcd.md
 * "When etcd cannot be reached: the policy"), pure: the peer messages (encode, authenticate,
 * decode), the answer a node gives, and the master's decision from the answers it collected.
 * The shell owns the UDP socket, the clock, the random nonces and the key file.
 *
 * The idea is Patroni's `failsafe_mode` (a primary that cannot update its lock in the DCS keeps
 * running while the other members confirm it), with a majority instead of all members:
 * - the master, while its keep-alives fail, asks every configured peer every `renew`;
 * - a peer *confirms* when it does not hold the instance and either cannot reach etcd itself,
 *   or sees the asking node as the holder, or sees the key free (the asker's lease expired
 *   while etcd was away: the asker contends at once as it resyncs); it *refuses* when it holds
 *   the instance, or reaches etcd and sees another holder. A peer that confirmed promises not
 *   to contend for the instance for `ttl` after the question reached it;
 * - the master keeps the addresses past its lease bound only while a majority of the members
 *   (counting itself) confirmed a question it sent less than `ttl − margin` ago, and no fresher
 *   answer of the same peer refuses. Otherwise the lease bound applies as with `step-down`.
 *
 * Messages: `carpool-fs1` magic, a JSON body, then HMAC-SHA256 (32 bytes) over magic and body
 * with the shared key. A receiver drops (and counts) anything malformed, unauthenticated, from
 * an address not in the peer list, for another instance, outside the time window (wall clocks,
 * ± `windowMs`), seen before (nonce), or an answer to no question of ours.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAGIC = Buffer.from('carpool-fs1\n', 'ascii');
const TAG_LEN = 32;
/** Larger datagrams are dropped unread. */
export const FAILSAFE_MAX_MESSAGE = 1024;

/** A question of the master, or a peer's answer to one (its nonce echoed). */
export type FailsafeMessage =
  | { readonly type: 'query'; readonly instance: string; readonly node: string; readonly nonce: string; readonly ts: number }
  | {
    readonly type: 'answer'; readonly instance: string; readonly node: string; readonly nonce: string; readonly ts: number;
    /** The answering node holds the instance (MASTER). */
    readonly holding: boolean;
    /** Its last request to etcd was answered. */
    readonly etcdReachable: boolean;
    /** The holder it last heard of from etcd (null = nobody / not known). */
    readonly holder: string | null;
  };

/** A failsafe key shorter than this is refused. */
export const FAILSAFE_MIN_KEY_BYTES = 16;

/** The failsafe key: the key file's first line (a trailing CR removed). */
export function failsafeKeyOf(text: string): string {
  return (text.split('\n')[0] ?? '').replace(/\r$/, '');
}

export type FailsafeDrop = 'malformed' | 'auth' | 'unknownPeer' | 'instance' | 'stale' | 'replay' | 'unsolicited';

export function encodeFailsafe(m: FailsafeMessage, key: Uint8Array): Buffer {
  const body = Buffer.from(JSON.stringify(m), 'utf8');
  const head = Buffer.concat([MAGIC, body]);
  return Buffer.concat([head, createHmac('sha256', key).update(head).digest()]);
}

/** Authenticated and well-formed, or why not (time, replay and peer checks are the caller's). */
export function decodeFailsafe(buf: Uint8Array, key: Uint8Array): { ok: true; message: FailsafeMessage } | { ok: false; drop: 'malformed' | 'auth' } {
  if (buf.length > FAILSAFE_MAX_MESSAGE || buf.length < MAGIC.length + TAG_LEN + 2) return { ok: false, drop: 'malformed' };
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (!b.subarray(0, MAGIC.length).equals(MAGIC)) return { ok: false, drop: 'malformed' };
  const head = b.subarray(0, b.length - TAG_LEN);
  const want = createHmac('sha256', key).update(head).digest();
  if (!timingSafeEqual(want, b.subarray(b.length - TAG_LEN))) return { ok: false, drop: 'auth' };
  let v: unknown;
  try {
    v = JSON.parse(head.subarray(MAGIC.length).toString('utf8'));
  } catch {
    return { ok: false, drop: 'malformed' };
  }
  const m = v as Record<string, unknown>;
  const str = (x: unknown, max: number) => typeof x === 'string' && x.length > 0 && x.length <= max;
  if (typeof v !== 'object' || v === null || !str(m.instance, 64) || !str(m.node, 255) || typeof m.nonce !== 'string' || !/^[0-9a-f]{32}$/.test(m.nonce)
    || typeof m.ts !== 'number' || !Number.isFinite(m.ts)) return { ok: false, drop: 'malformed' };
  const base = { instance: m.instance as string, node: m.node as string, nonce: m.nonce, ts: m.ts };
  if (m.type === 'query') return { ok: true, message: { type: 'query', ...base } };
  if (m.type === 'answer' && typeof m.holding === 'boolean' && typeof m.etcdReachable === 'boolean' && (m.holder === null || str(m.holder, 255))) {
    return { ok: true, message: { type: 'answer', ...base, holding: m.holding, etcdReachable: m.etcdReachable, holder: m.holder as string | null } };
  }
  return { ok: false, drop: 'malformed' };
}

/**
 * Replay protection: a message is accepted once, within ± `windowMs` of the receiver's wall
 * clock; nonces are remembered for the window (older ones are refused by time anyway).
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  check(node: string, nonce: string, ts: number, wallNow: number): 'ok' | 'stale' | 'replay' {
    if (Math.abs(wallNow - ts) > this.windowMs) return 'stale';
    for (const [k, at] of this.seen) if (wallNow - at > 2 * this.windowMs) this.seen.delete(k);
    const id = `${node}\0${nonce}`;
    if (this.seen.has(id)) return 'replay';
    this.seen.set(id, ts);
    return 'ok';
  }
}

/** What a node knows of itself when it answers. */
export interface FailsafeSelfView {
  readonly holding: boolean;
  readonly etcdReachable: boolean;
  readonly holder: string | null;
}

/** Whether an answer confirms the asking node `asker` may keep the instance, and why not. */
export function judgeAnswer(asker: string, a: FailsafeSelfView): { confirms: boolean; why: string } {
  if (a.holding) return { confirms: false, why: 'it holds the instance' };
  if (!a.etcdReachable) return { confirms: true, why: 'cannot reach etcd either, not holding' };
  if (a.holder === asker) return { confirms: true, why: `etcd names ${asker}, not holding` };
  // The key free (the asker's lease expired while etcd was away): the asker contends at once as
  // it resyncs; this node, by confirming, promises not to contend meanwhile.
  if (a.holder === null) return { confirms: true, why: 'etcd shows the key free, not holding (not contending for a ttl)' };
  return { confirms: false, why: `etcd reachable there and names ${a.holder}` };
}

/** One peer's latest answer, with the (monotonic) time our question was sent. */
export interface FailsafeAnswer extends FailsafeSelfView {
  readonly node: string;
  readonly sentAt: number;
}

export interface FailsafeDecision {
  /** The failsafe bound: the addresses may stay until then (undefined = no majority). */
  readonly until: number | undefined;
  /** Members confirming freshly, this node counted. */
  readonly confirmed: number;
  /** Confirmations needed (a majority of the members). */
  readonly needed: number;
  readonly refusals: readonly { readonly node: string; readonly why: string }[];
}

/** Majority of `members` (the configured peers, this node included). */
export function majority(members: number): number {
  return Math.floor(members / 2) + 1;
}

/**
 * The master's decision: the latest answer of each peer counts; a confirmation is fresh for
 * `validMs` (ttl − margin) after its question was sent. `until` is when fewer than a majority
 * (this node counted) would remain.
 */
export function failsafeDecision(self: string, members: number, answers: readonly FailsafeAnswer[], validMs: number, now: number): FailsafeDecision {
  const latest = new Map<string, FailsafeAnswer>();
  for (const a of answers) {
    if (a.node === self) continue;
    const prev = latest.get(a.node);
    if (!prev || a.sentAt >= prev.sentAt) latest.set(a.node, a);
  }
  const needed = majority(members);
  const expiries: number[] = [];
  const refusals: { node: string; why: string }[] = [];
  for (const a of latest.values()) {
    if (a.sentAt + validMs <= now) continue;
    const j = judgeAnswer(self, a);
    if (j.confirms) expiries.push(a.sentAt + validMs);
    else refusals.push({ node: a.node, why: j.why });
  }
  expiries.sort((x, y) => y - x);
  const peersNeeded = needed - 1;
  // A refusal says someone else may hold or take the key: no failsafe at all.
  const until = refusals.length > 0 ? undefined : peersNeeded === 0 ? undefined : expiries.length >= peersNeeded ? expiries[peersNeeded - 1] : undefined;
  return { until, confirmed: expiries.length + 1, needed, refusals };
}
