/**
 * The cluster view's I/O (docs/etcd.md, "Cluster view"): the daemon publishes its status
 * document under `<prefix>/nodes/<node>` with its own lease (kept alive every ttl/3, the document
 * written again then, and at once when it changed), and `<prefix>/seen/<node>` without a lease,
 * so a node that stops publishing is still listed, as gone, with when it was last seen.
 * `readCluster` is the other side: `carpool status --cluster` reads both directories straight
 * from etcd, so it works while the local daemon is down. The merge is pure
 * (src/coordination/core/cluster-view.ts).
 */
import type { ClusterConfig, EtcdSettings } from '../../config/model.js';
import type { DaemonStatus } from '../../control/status.js';
import { clusterView, fingerprint, nodeDocument, type ClusterView, type SeenRecord, type StoredEntry } from '../core/cluster-view.js';
import { EtcdErrorExplainer } from '../core/etcd-errors.js';
import { Etcd3Client, type SharedConnection } from './etcd-client.js';

/** What the publisher needs of etcd (a fake in unit tests). */
export interface ClusterStore {
  grant(ttlMs: number): Promise<{ lease: string; ttlMs: number }>;
  keepAlive(lease: string): Promise<number>;
  /** Put `value` under `key` with `lease` if the key is absent or already ours; else the lease that holds it. */
  publish(key: string, value: string, lease: string): Promise<{ ok: true } | { ok: false; lease: string }>;
  put(key: string, value: string): Promise<void>;
  release(lease: string): Promise<void>;
  /** Every key under `dir` (the live dashboard's cluster view reads `nodes/` and `seen/`). */
  list(dir: string): Promise<StoredEntry[]>;
  close(): void;
}

/** The etcd calls of the cluster view, on the instances' client (same connection settings, TLS, auth). */
export class ClusterEtcd extends Etcd3Client implements ClusterStore {
  constructor(s: EtcdSettings, shared?: SharedConnection) {
    super(s, shared);
  }

  async publish(key: string, value: string, lease: string): Promise<{ ok: true } | { ok: false; lease: string }> {
    const c = this.client;
    const mine = await this.bounded('publish', c.if(key, 'Lease', '==', lease).then(c.put(key).value(value).lease(lease)).else(c.get(key)).commit());
    if (mine.succeeded) return { ok: true };
    const kv = mine.responses[0]?.response_range?.kvs[0];
    if (kv) return { ok: false, lease: kv.lease };
    const fresh = await this.bounded('publish', c.if(key, 'Create', '==', 0).then(c.put(key).value(value).lease(lease)).else(c.get(key)).commit());
    if (fresh.succeeded) return { ok: true };
    return { ok: false, lease: fresh.responses[0]?.response_range?.kvs[0]?.lease ?? '?' };
  }

  async put(key: string, value: string): Promise<void> {
    await this.bounded('put', this.client.put(key).value(value).exec());
  }

  /** Every key under `dir` (ends with /). */
  async list(dir: string): Promise<StoredEntry[]> {
    const r = await this.bounded('read', this.client.getAll().prefix(dir).exec());
    return r.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) }));
  }
}

/** Read the cluster's documents and seen records (`carpool status --cluster`). */
export async function readCluster(s: EtcdSettings): Promise<{ nodes: StoredEntry[]; seen: StoredEntry[] }> {
  const c = new ClusterEtcd(s);
  try {
    const [nodes, seen] = await Promise.all([c.list(`${s.prefix}/nodes/`), c.list(`${s.prefix}/seen/`)]);
    return { nodes, seen };
  } finally {
    c.close();
  }
}

export interface PublisherDeps {
  readonly store: ClusterStore;
  readonly node: string;
  readonly status: () => DaemonStatus;
  /** Wall clock (ISO times in the documents, for people). */
  readonly wallNow: () => Date;
  readonly log: { info(text: string): void; logLimited(level: 'warning' | 'error', text: string, key: string): void };
  /** How often the document is compared with the last one written (default 1 s). */
  readonly checkMs?: number;
}

/** What `carpool status` shows of the publisher (`cluster` section of the status document). */
export interface ClusterPublisherStatus {
  readonly node: string;
  readonly prefix: string;
  readonly published: number;
  readonly failures: number;
  readonly lastError: string | null;
}

export class ClusterPublisher {
  private lease: string | null = null;
  private last = '';
  private published = 0;
  private failures = 0;
  private lastError: string | null = null;
  private refreshTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly nodeKey: string;
  private readonly seenKey: string;
  private readonly explainer: EtcdErrorExplainer;

  constructor(private readonly cfg: ClusterConfig, private readonly deps: PublisherDeps) {
    this.nodeKey = `${cfg.etcd.prefix}/nodes/${deps.node}`;
    this.seenKey = `${cfg.etcd.prefix}/seen/${deps.node}`;
    this.explainer = new EtcdErrorExplainer(cfg.etcd.endpoints);
  }

  start(): void {
    this.deps.log.info(`cluster: publishing this node's status as ${this.deps.node} under ${this.nodeKey} (ttl ${this.cfg.etcd.ttlMs / 1000}s)`);
    void this.refresh();
    this.refreshTimer = setInterval(() => void this.refresh(), Math.max(500, Math.round(this.cfg.etcd.ttlMs / 3)));
    this.checkTimer = setInterval(() => this.changed(), this.deps.checkMs ?? 1000);
  }

  /** Something may have changed (a transition): written at once when the document differs. */
  changed(): void {
    if (this.stopped || this.lease === null) return;
    if (fingerprint(this.deps.status()) === this.last) return;
    void this.serial(() => this.write());
  }

  status(): ClusterPublisherStatus {
    return { node: this.deps.node, prefix: this.cfg.etcd.prefix, published: this.published, failures: this.failures, lastError: this.lastError };
  }

  /**
   * The whole cluster as etcd has it now (what `carpool status --cluster` shows), for the live
   * dashboard: read on this daemon's connection, merged by the pure cluster view.
   */
  async view(): Promise<ClusterView> {
    const prefix = this.cfg.etcd.prefix;
    const [nodes, seen] = await Promise.all([this.deps.store.list(`${prefix}/nodes/`), this.deps.store.list(`${prefix}/seen/`)]);
    return clusterView({ prefix, nodes, seen, now: this.deps.wallNow().getTime(), staleAfterMs: 2 * this.cfg.etcd.ttlMs });
  }

  /** Stop publishing: the lease is revoked (the node shows as gone at once), the seen record says stopped. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.checkTimer);
    await this.busy;
    try {
      await this.deps.store.put(this.seenKey, this.seen(true));
      if (this.lease !== null) await this.deps.store.release(this.lease);
    } catch (e) {
      this.fail(e);
    }
    this.deps.store.close();
  }

  /** One etcd exchange at a time, in order. */
  private serial(fn: () => Promise<void>): Promise<void> {
    this.busy = this.busy.then(fn).catch((e: unknown) => this.fail(e));
    return this.busy;
  }

  private fail(e: unknown): void {
    this.failures++;
    const message = (e as Error).message;
    // Our own refusal (two daemons with one node name) says what to do already.
    this.lastError = message.includes('is held by another daemon') ? message : this.explainer.explain(message);
    this.deps.log.logLimited('warning', `cluster: cannot publish this node's status to etcd: ${this.lastError}`, 'cluster:publish');
  }

  private seen(stopped = false): string {
    const r: SeenRecord = { node: this.deps.node, lastSeen: this.deps.wallNow().toISOString(), ...(stopped ? { stopped: true } : {}) };
    return JSON.stringify(r);
  }

  /** Keep the lease alive (a new one when etcd forgot it), write the document and the seen record. */
  private refresh(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      const store = this.deps.store;
      if (this.lease !== null && (await store.keepAlive(this.lease)) <= 0) this.lease = null;
      if (this.lease === null) this.lease = (await store.grant(this.cfg.etcd.ttlMs)).lease;
      await this.write();
      await store.put(this.seenKey, this.seen());
    });
  }

  private async write(): Promise<void> {
    if (this.stopped || this.lease === null) return;
    const st = this.deps.status();
    const { doc, text } = nodeDocument(this.deps.node, st, this.deps.wallNow().toISOString());
    const r = await this.deps.store.publish(this.nodeKey, text, this.lease);
    if (!r.ok) {
      throw new Error(`${this.nodeKey} is held by another daemon's lease ${r.lease}: two nodes with the node name '${this.deps.node}'? `
        + '(set cluster.node; a restarted daemon waits for its predecessor\'s lease to expire)');
    }
    if (doc.truncated) this.deps.log.logLimited('warning', `cluster: the status document is over the size bound; left out: ${doc.truncated.join(', ')}`, 'cluster:truncated');
    this.last = fingerprint(st);
    this.published++;
  }
}
