/**
 * Two clusters on one key by mistake (issue 16, bad input): wraps an instance's etcd client so
 * that its name goes under the key with the fingerprint of its configuration, and what it reads
 * back is checked. A holder with another fingerprint is reported as `<node> (OTHER
 * CONFIGURATION ...)` — never our own node, so a master steps down — logged as an error, and for
 * one ttl after it was last seen this node does not contend for the key (the transaction is
 * answered "not won" without asking etcd): the nodes of the configuration that held the key get
 * it back first, and an operator sees the conflict in the log and in `carpool status`.
 */
import type { EtcdClient, HolderInfo, KeepAliveAnswer, LeaseConfirmation } from './etcd-client.js';
import { FOREIGN_MARK, decodeHolder, encodeHolder } from '../core/holder-value.js';

export interface ConfigGuardDeps {
  readonly fingerprint: string;
  readonly ttlMs: number;
  /** Monotonic ms. */
  readonly now: () => number;
  /** A foreign value was read: log it loudly (rate-limited by the caller). */
  readonly onConflict: (text: string) => void;
}

export class ConfigGuardClient implements EtcdClient {
  private foreign: { holder: string; lease: string | null; revision: number; at: number } | undefined;

  constructor(private readonly inner: EtcdClient, private readonly deps: ConfigGuardDeps) {}

  grant(ttlMs: number): Promise<{ lease: string; ttlMs: number; sentAt?: number }> {
    return this.inner.grant(ttlMs);
  }

  keepAlive(lease: string): Promise<KeepAliveAnswer> {
    return this.inner.keepAlive(lease);
  }

  onLease(listener: (c: LeaseConfirmation) => void): void {
    this.inner.onLease?.(listener);
  }

  async txn(lease: string, node: string): Promise<{ won: boolean; revision: number; holder: string | null; lease: string | null }> {
    const f = this.foreign;
    if (f && this.deps.now() - f.at < this.deps.ttlMs) return { won: false, revision: f.revision, holder: f.holder, lease: f.lease };
    const r = await this.inner.txn(lease, encodeHolder(node, this.deps.fingerprint));
    return { ...r, holder: this.check(r.holder, r.lease, r.revision) };
  }

  async read(): Promise<HolderInfo> {
    return this.info(await this.inner.read());
  }

  resign(lease: string): Promise<void> {
    return this.inner.resign(lease);
  }

  confirm(lease: string, node: string): Promise<void> {
    return this.inner.confirm(lease, encodeHolder(node, this.deps.fingerprint));
  }

  release(lease: string): Promise<void> {
    return this.inner.release(lease);
  }

  watch(onHolder: (h: HolderInfo) => void, onError: (error: string) => void): void {
    this.inner.watch((h) => onHolder(this.info(h)), onError);
  }

  close(): void {
    this.inner.close();
  }

  private info(h: HolderInfo): HolderInfo {
    return { ...h, holder: this.check(h.holder, h.lease, h.revision) };
  }

  /** The node name of a value; a foreign fingerprint marked, remembered and reported. */
  private check(value: string | null, lease: string | null, revision: number): string | null {
    if (value === null) return null;
    const { node, fingerprint } = decodeHolder(value);
    if (fingerprint === undefined || fingerprint === this.deps.fingerprint) return node;
    const holder = `${node} (${FOREIGN_MARK} ${fingerprint})`;
    this.foreign = { holder, lease, revision, at: this.deps.now() };
    this.deps.onConflict(`the key is held by ${node} with another configuration (fingerprint ${fingerprint}, ours ${this.deps.fingerprint}: the addresses differ): `
      + 'two clusters share this key prefix, or the nodes disagree on the addresses. Not contending for it; give each cluster its own etcd prefix (docs/etcd.md)');
    return holder;
  }
}
