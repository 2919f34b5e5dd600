/**
 * The few etcd calls an etcd instance needs, on the `etcd3` client (docs/ARCHITECTURE.md,
 * dependencies): grant, one keep-alive, the create-if-absent transaction, a read, a watch and
 * the release. Each request is bounded by `requestTimeoutMs` (a gRPC deadline, and our own timer
 * around the client's retries across endpoints). Loaded only when an etcd instance is configured.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IKeyValue, type IOptions, type Watcher } from 'etcd3';
import type { EtcdSettings } from '../../config/model.js';

/** Who holds the key: node name, lease id, and the revision that is the fencing token. */
export interface HolderInfo {
  readonly holder: string | null;
  readonly lease: string | null;
  /** The key's create revision while it exists (grows with every new holder), else etcd's revision. */
  readonly revision: number;
  /** The key's version: 1 once taken, 2 once its holder confirmed it holds the addresses (0 = no key). */
  readonly version?: number;
}

/**
 * A keep-alive's answer: the lease's TTL in ms as etcd answers (0 = etcd no longer knows it),
 * and, from a client that shares the lease, when the answered keep-alive was *sent* (it may have
 * gone out before this request: the bound is counted from then).
 */
export type KeepAliveAnswer = number | { readonly ttlMs: number; readonly sentAt: number };

/** A confirmation of a lease shared by several instances, handed to each of them. */
export interface LeaseConfirmation {
  readonly lease: string;
  readonly ttlMs: number;
  readonly sentAt: number;
}

/** The create-if-absent transaction's answer; `handoverTo`: the node a hand-over is reserved for (it alone may take the key). */
export interface TxnResult {
  readonly won: boolean;
  readonly revision: number;
  readonly holder: string | null;
  readonly lease: string | null;
  readonly handoverTo?: string | null;
}

/** One node's candidacy for the key (preference, docs/etcd.md): its document and what identifies this registration. */
export interface CandidateEntry {
  readonly node: string;
  readonly value: string;
  /** Changes when the node registers again (another lease or a new key): `<lease>@<create revision>`. */
  readonly id: string;
}

/** What the shell needs of etcd (a fake in unit tests). */
export interface EtcdClient {
  /** A lease; `sentAt` when the confirmation it is valid from was sent (a shared lease: maybe before this request). */
  grant(ttlMs: number): Promise<{ lease: string; ttlMs: number; sentAt?: number }>;
  keepAlive(lease: string): Promise<KeepAliveAnswer>;
  /**
   * Put `node` under the key with `lease` if the key does not exist and no hand-over is reserved
   * for another node (`<key>/handover` absent); else say who holds it and for whom it is reserved.
   */
  txn(lease: string, node: string): Promise<TxnResult>;
  /**
   * The reserved take-over: put `node` under the key with `lease` if the key does not exist and
   * `<key>/handover` names `target`, deleting `<key>/handover` in the same transaction.
   */
  takeOver(lease: string, node: string, target: string): Promise<TxnResult>;
  /**
   * A hand-over to one node: if the key is attached to `lease`, delete it and put `<key>/handover`
   * = `target` with the same lease (it vanishes with the lease), in one transaction.
   */
  handOver(lease: string, target: string): Promise<void>;
  /** Put this node's candidacy `<key>/candidates/<node>` = `value`, attached to `lease`. */
  publishCandidate(lease: string, node: string, value: string): Promise<void>;
  /** Every candidacy under `<key>/candidates/`. */
  candidates(): Promise<CandidateEntry[]>;
  read(): Promise<HolderInfo>;
  /** Delete the key if it is attached to `lease` (a planned hand-over); the lease lives on. */
  resign(lease: string): Promise<void>;
  /** Rewrite the key (same value and lease) if it is attached to `lease`: its version goes up. */
  confirm(lease: string, node: string): Promise<void>;
  /** Revoke the lease: etcd deletes the key with it when it is ours. */
  release(lease: string): Promise<void>;
  /** Follow the key; events as HolderInfo. Errors are reported, the client re-establishes the watch. */
  watch(onHolder: (h: HolderInfo) => void, onError: (error: string) => void): void;
  /** Every confirmation of a lease this client shares with other instances (shared clients only). */
  onLease?(listener: (c: LeaseConfirmation) => void): void;
  close(): void;
}

/** A connection lent by the daemon's pool (etcd-pool.ts): `release` when done, never close it. */
export interface SharedConnection {
  readonly client: Etcd3;
  release(): void;
}

/** Connection settings read from their files (PEM, password): a missing file throws a clear error. */
export function clientOptions(s: EtcdSettings, readFile: (path: string) => Buffer = readFileSync): IOptions {
  const file = (what: string, path: string): Buffer => {
    try {
      return readFile(path);
    } catch (e) {
      throw new Error(`cannot read the etcd ${what} ${path}: ${(e as Error).message}`, { cause: e });
    }
  };
  return {
    hosts: [...s.endpoints],
    dialTimeout: s.requestTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + s.requestTimeoutMs }),
    ...(s.tls ? {
      credentials: {
        rootCertificate: s.tls.ca ? file('CA', s.tls.ca) : Buffer.alloc(0),
        ...(s.tls.cert && s.tls.key ? { certChain: file('certificate', s.tls.cert), privateKey: file('key', s.tls.key) } : {}),
      },
    } : {}),
    ...(s.user !== undefined && s.passwordFile ? { auth: { username: s.user, password: file('password file', s.passwordFile).toString('utf8').split('\n')[0]! } } : {}),
  };
}

/**
 * `p`, or a timeout error if it is not answered within `timeoutMs`. The timeout is settled in
 * the event loop's check phase (setImmediate), after the I/O already received: when the loop
 * was stalled past the bound (a busy daemon, a slow machine), the timer and the reply become
 * ready together, and the reply — received in time — must win (a keep-alive answered in time
 * taken for a failure made a master step down for nothing).
 */
export function bounded<T>(what: string, timeoutMs: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let later: NodeJS.Immediate | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { later = setImmediate(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`))); }, timeoutMs);
  });
  return Promise.race([p, timeout]).finally(() => {
    clearTimeout(timer);
    if (later) clearImmediate(later);
  });
}

/** gRPC status UNAVAILABLE: the endpoint cannot be reached (refused, reset, no route). */
const GRPC_UNAVAILABLE = 14;

export class Etcd3Client implements EtcdClient {
  protected readonly client: Etcd3;
  private watcher: Watcher | undefined;
  private closed = false;

  private readonly shared: SharedConnection | undefined;

  /** With `shared`, the calls go over a connection the daemon already has (closing gives it back). */
  constructor(protected readonly s: EtcdSettings, shared?: SharedConnection) {
    this.shared = shared;
    this.client = shared?.client ?? new Etcd3(clientOptions(s));
  }

  protected bounded<T>(what: string, p: Promise<T>): Promise<T> {
    return bounded(what, this.s.requestTimeoutMs, p);
  }

  async grant(ttlMs: number): Promise<{ lease: string; ttlMs: number }> {
    const r = await this.bounded('grant', this.client.leaseClient.leaseGrant({ TTL: Math.ceil(ttlMs / 1000), ID: 0 }));
    if (r.error) throw new Error(r.error);
    return { lease: r.ID, ttlMs: Number(r.TTL) * 1000 };
  }

  /**
   * The client fails unary calls over to another endpoint, but not a stream that breaks after it
   * was opened (a keep-alive is a stream): an unreachable endpoint is retried here, on another
   * randomly chosen one, within the same time bound.
   */
  keepAlive(lease: string): Promise<number> {
    return this.bounded('keepAlive', keepAliveOnAny(this.client, lease, this.s.endpoints.length));
  }


  async txn(lease: string, node: string): Promise<TxnResult> {
    return txnResult(await this.bounded('txn', guardedCreate(this.client, this.s.key, lease, node).commit()), node, lease);
  }

  async takeOver(lease: string, node: string, target: string): Promise<TxnResult> {
    return txnResult(await this.bounded('takeOver', reservedCreate(this.client, this.s.key, lease, node, target).commit()), node, lease);
  }

  async handOver(lease: string, target: string): Promise<void> {
    await this.bounded('handOver', reserve(this.client, this.s.key, lease, target).commit());
  }

  async publishCandidate(lease: string, node: string, value: string): Promise<void> {
    await this.bounded('publishCandidate', this.client.put(candidacyKey(this.s.key, node)).value(value).lease(lease).exec());
  }

  async candidates(): Promise<CandidateEntry[]> {
    const dir = candidacyKey(this.s.key, '');
    return candidateEntries(await this.bounded('candidates', this.client.getAll().prefix(dir).exec()), dir);
  }

  async read(): Promise<HolderInfo> {
    const r = await this.bounded('read', this.client.get(this.s.key).exec());
    const kv = r.kvs[0];
    return kv ? holderOfKv(kv) : { holder: null, lease: null, revision: Number(r.header.revision), version: 0 };
  }

  async resign(lease: string): Promise<void> {
    const c = this.client;
    await this.bounded('resign', c.if(this.s.key, 'Lease', '==', lease).then(c.delete().key(this.s.key)).commit());
  }

  async confirm(lease: string, node: string): Promise<void> {
    const c = this.client;
    await this.bounded('confirm', c.if(this.s.key, 'Lease', '==', lease).then(c.put(this.s.key).value(node).lease(lease)).commit());
  }

  async release(lease: string): Promise<void> {
    await this.bounded('release', this.client.leaseClient.leaseRevoke({ ID: lease }));
  }

  watch(onHolder: (h: HolderInfo) => void, onError: (error: string) => void): void {
    this.client.watch().key(this.s.key).create().then((w) => {
      if (this.closed) {
        void w.cancel();
        return;
      }
      this.watcher = w;
      w.on('put', (kv) => onHolder(holderOfKv(kv)));
      w.on('delete', (kv) => onHolder({ holder: null, lease: null, revision: Number(kv.mod_revision), version: 0 }));
      w.on('disconnected', (e: Error) => onError(`watch lost: ${e.message}`));
      w.on('error', (e: Error) => onError(`watch: ${e.message}`));
    }, (e: Error) => onError(`watch: ${e.message}`));
  }

  close(): void {
    this.closed = true;
    void this.watcher?.cancel().catch(() => undefined);
    if (this.shared) this.shared.release();
    else this.client.close();
  }
}

/** One keep-alive, tried on up to `tries` endpoints while the one picked is unreachable; the TTL in ms. */
export async function keepAliveOnAny(client: Etcd3, lease: string, tries: number): Promise<number> {
  let last: unknown;
  for (let i = 0; i < Math.max(1, tries); i++) {
    try {
      return await keepAliveOnce(client, lease);
    } catch (e) {
      last = e;
      if ((e as { code?: unknown }).code !== GRPC_UNAVAILABLE) throw e;
    }
  }
  throw last;
}

async function keepAliveOnce(client: Etcd3, lease: string): Promise<number> {
  const stream = await client.leaseClient.leaseKeepAlive();
  try {
    return await new Promise<number>((resolve, reject) => {
      stream.on('data', (res: { TTL: string }) => resolve(Number(res.TTL) * 1000));
      stream.on('error', reject);
      stream.write({ ID: lease });
    });
  } finally {
    stream.end();
  }
}

// --- preference (docs/etcd.md "Preference"): the reserved hand-over and the candidacies ------

/** Where a hand-over is reserved, and where a node's candidacy is. */
export const reservationKey = (key: string): string => `${key}/handover`;
export const candidacyKey = (key: string, node: string): string => `${key}/candidates/${node}`;

/** Create the key if absent and not reserved. */
export function guardedCreate(c: Etcd3, key: string, lease: string, node: string) {
  return c.if(key, 'Create', '==', 0).and(reservationKey(key), 'Create', '==', 0)
    .then(c.put(key).value(node).lease(lease)).else(c.get(key), c.get(reservationKey(key)));
}

/** Create the key if absent and reserved for `target`, and drop the reservation. */
export function reservedCreate(c: Etcd3, key: string, lease: string, node: string, target: string) {
  return c.if(key, 'Create', '==', 0).and(reservationKey(key), 'Value', '==', target)
    .then(c.put(key).value(node).lease(lease), c.delete().key(reservationKey(key))).else(c.get(key), c.get(reservationKey(key)));
}

/** Delete the key if ours and reserve it for `target` under our lease. */
export function reserve(c: Etcd3, key: string, lease: string, target: string) {
  return c.if(key, 'Lease', '==', lease).then(c.delete().key(key), c.put(reservationKey(key)).value(target).lease(lease));
}

/** The answer of a guarded create: who holds the key (first read) and for whom a hand-over is reserved (second read). */
export function txnResult(r: { succeeded: boolean; header: { revision: string }; responses: { response_range?: { kvs: IKeyValue[] } }[] }, node: string, lease: string): TxnResult {
  if (r.succeeded) return { won: true, revision: Number(r.header.revision), holder: node, lease };
  const kv = r.responses[0]?.response_range?.kvs[0];
  const reserved = r.responses[1]?.response_range?.kvs[0];
  const handoverTo = reserved ? reserved.value.toString('utf8') : null;
  return kv ? { won: false, ...holderOfKv(kv), handoverTo } : { won: false, revision: Number(r.header.revision), holder: null, lease: null, handoverTo };
}

export function candidateEntries(r: { kvs: IKeyValue[] }, dir: string): CandidateEntry[] {
  return r.kvs.map((kv) => ({ node: kv.key.toString('utf8').slice(dir.length), value: kv.value.toString('utf8'), id: `${kv.lease}@${kv.create_revision}` }));
}

export function holderOfKv(kv: IKeyValue): HolderInfo {
  return { holder: kv.value.toString('utf8'), lease: kv.lease === '0' ? null : kv.lease, revision: Number(kv.create_revision), version: Number(kv.version) };
}
