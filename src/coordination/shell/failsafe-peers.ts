/**
 * The peer channel of the `failsafe` policy (docs/etcd.md "When etcd cannot be reached"): one
 * UDP socket per etcd instance, bound to the configured `listen` address only. The master asks
 * every other member (`ask`), each answers from what it knows of itself; the messages, their
 * authentication and the decision are pure (core/failsafe.ts). Anything dropped is counted by
 * reason and shown in the status.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import type { EtcdFailsafe } from '../../config/model.js';
import type { EtcdFailsafeStatus } from '../../control/status.js';
import {
  decodeFailsafe, encodeFailsafe, FAILSAFE_MIN_KEY_BYTES, failsafeDecision, failsafeKeyOf, judgeAnswer, majority, ReplayGuard,
  type FailsafeAnswer, type FailsafeDrop, type FailsafeMessage, type FailsafeSelfView,
} from '../core/failsafe.js';

export interface FailsafePeersDeps {
  readonly instance: string;
  /** This node's name (the value it writes under the key). */
  readonly node: string;
  readonly settings: EtcdFailsafe;
  readonly key: Uint8Array;
  readonly ttlMs: number;
  readonly marginMs: number;
  /** Monotonic ms (question times, freshness) and wall-clock ms (the messages' time window). */
  readonly now: () => number;
  readonly wallNow: () => number;
  readonly self: () => FailsafeSelfView;
  /** The master's failsafe bound from the latest answers (undefined = no majority). */
  readonly onDecision: (until: number | undefined) => void;
  /** This node confirmed `asker`: no contending before `until`. */
  readonly onPromise: (until: number) => void;
  readonly log: (level: 'info' | 'warning' | 'error', text: string) => void;
}

/** The shared key: the key file's first line; a missing file or a short key throws a clear error. */
export function readFailsafeKey(s: EtcdFailsafe, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): Buffer {
  let text: string;
  try {
    text = readFile(s.keyFile);
  } catch (e) {
    throw new Error(`cannot read the failsafe key_file ${s.keyFile}: ${(e as Error).message}`, { cause: e });
  }
  const key = Buffer.from(failsafeKeyOf(text), 'utf8');
  if (key.length < FAILSAFE_MIN_KEY_BYTES) throw new Error(`the failsafe key in ${s.keyFile} is shorter than ${FAILSAFE_MIN_KEY_BYTES} bytes`);
  return key;
}

const hp = (address: string, port: number) => (isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`);

export class FailsafePeers {
  private sock: Socket | undefined;
  private error: string | null = null;
  private readonly guard: ReplayGuard;
  /** Our questions still waiting: nonce → monotonic send time. */
  private readonly asked = new Map<string, number>();
  /** The latest answer per peer address. */
  private readonly answers = new Map<string, FailsafeAnswer & { name: string; at: number }>();
  private readonly drops: Record<FailsafeDrop, number> = { malformed: 0, auth: 0, unknownPeer: 0, instance: 0, stale: 0, replay: 0, unsolicited: 0 };
  private sent = 0;
  private answered = 0;
  private readonly others: { address: string; port: number }[];

  constructor(private readonly d: FailsafePeersDeps) {
    // A message older or newer than a ttl by our wall clock is refused (clocks must agree within that).
    this.guard = new ReplayGuard(d.ttlMs);
    const l = d.settings.listen;
    this.others = d.settings.peers.filter((p) => !(p.address === l.address && p.port === l.port));
  }

  start(): Promise<void> {
    const { address, port } = this.d.settings.listen;
    const sock = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    this.sock = sock;
    sock.on('message', (buf, rinfo) => this.receive(buf, rinfo));
    return new Promise((resolve) => {
      sock.once('error', (e) => {
        this.error = `cannot listen on ${hp(address, port)}: ${e.message}`;
        this.d.log('error', `failsafe: ${this.error}; without it the policy works as step-down`);
        resolve();
      });
      sock.bind({ address, port, exclusive: true }, () => {
        sock.on('error', (e) => this.d.log('warning', `failsafe socket: ${e.message}`));
        resolve();
      });
    });
  }

  close(): void {
    try {
      this.sock?.close();
    } catch {
      // already closed
    }
    this.sock = undefined;
  }

  /** One question to every other member. */
  ask(): void {
    const now = this.d.now();
    for (const [n, at] of this.asked) if (now - at > this.d.ttlMs) this.asked.delete(n);
    const nonce = randomBytes(16).toString('hex');
    this.asked.set(nonce, now);
    const buf = encodeFailsafe({ type: 'query', instance: this.d.instance, node: this.d.node, nonce, ts: this.d.wallNow() }, this.d.key);
    for (const p of this.others) this.send(buf, p.address, p.port);
    this.sent++;
    // Answers age: decide again with what is still fresh.
    this.decide();
  }

  private send(buf: Buffer, address: string, port: number): void {
    if (!this.sock || this.error) return;
    this.sock.send(buf, port, address, (e) => { if (e) this.d.log('warning', `failsafe: cannot send to ${hp(address, port)}: ${e.message}`); });
  }

  private drop(why: FailsafeDrop): void {
    this.drops[why]++;
  }

  private receive(buf: Buffer, rinfo: RemoteInfo): void {
    const from = this.d.settings.peers.find((p) => p.address === rinfo.address && p.port === rinfo.port);
    if (!from || this.others.indexOf(from) < 0) return this.drop('unknownPeer');
    const r = decodeFailsafe(buf, this.d.key);
    if (!r.ok) return this.drop(r.drop);
    const m = r.message;
    if (m.instance !== this.d.instance) return this.drop('instance');
    const g = this.guard.check(`${m.type}\0${m.node}`, m.nonce, m.ts, this.d.wallNow());
    if (g !== 'ok') return this.drop(g);
    if (m.type === 'query') this.answer(m, rinfo);
    else this.onAnswer(m, hp(rinfo.address, rinfo.port));
  }

  private answer(q: Extract<FailsafeMessage, { type: 'query' }>, rinfo: RemoteInfo): void {
    const view = this.d.self();
    const j = judgeAnswer(q.node, view);
    // The promise first: once the answer is out, the asker may count on it.
    if (j.confirms) this.d.onPromise(this.d.now() + this.d.ttlMs);
    this.send(encodeFailsafe({ type: 'answer', instance: this.d.instance, node: this.d.node, nonce: q.nonce, ts: this.d.wallNow(), ...view }, this.d.key), rinfo.address, rinfo.port);
  }

  private onAnswer(a: Extract<FailsafeMessage, { type: 'answer' }>, peer: string): void {
    const sentAt = this.asked.get(a.nonce);
    if (sentAt === undefined) return this.drop('unsolicited');
    this.answered++;
    const prev = this.answers.get(peer);
    if (!prev || sentAt >= prev.sentAt) {
      this.answers.set(peer, { node: peer, name: a.node, sentAt, at: this.d.now(), holding: a.holding, etcdReachable: a.etcdReachable, holder: a.holder });
    }
    this.decide();
  }

  private validMs(): number {
    return this.d.ttlMs - this.d.marginMs;
  }

  private decide(): void {
    const d = failsafeDecision(this.d.node, this.d.settings.peers.length, [...this.answers.values()], this.validMs(), this.d.now());
    this.d.onDecision(d.until);
  }

  status(lease: { failsafeLeftMs: number | undefined; failsafeActive: boolean; promisedMs: number | undefined }): EtcdFailsafeStatus {
    const now = this.d.now();
    return {
      members: this.d.settings.peers.length, needed: majority(this.d.settings.peers.length),
      active: lease.failsafeActive, leftMs: lease.failsafeLeftMs ?? null, promisedMs: lease.promisedMs ?? null,
      confirmations: [...this.answers.values()].map((a) => {
        const j = judgeAnswer(this.d.node, a);
        return { peer: a.node, node: a.name, agoMs: now - a.at, confirms: j.confirms, why: a.sentAt + this.validMs() <= now ? `${j.why} (no longer fresh)` : j.why };
      }),
      questionsSent: this.sent, answered: this.answered, drops: { ...this.drops }, error: this.error,
    };
  }
}
