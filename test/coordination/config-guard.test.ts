import { describe, expect, it } from 'vitest';
import { FOREIGN_MARK, configFingerprint, decodeHolder, encodeHolder } from '../../src/coordination/core/holder-value.js';
import { ConfigGuardClient } from '../../src/coordination/shell/config-guard.js';
import type { EtcdClient, HolderInfo } from '../../src/coordination/shell/etcd-client.js';
import { vip } from '../daemon/fakes.js';

/** etcd's key as a plain value, with the create-if-absent transaction. */
class Store implements EtcdClient {
  value: string | null = null;
  txns = 0;
  grant(ttlMs: number) { return Promise.resolve({ lease: '1', ttlMs }); }
  keepAlive() { return Promise.resolve(3000); }
  txn(lease: string, value: string) {
    this.txns++;
    if (this.value !== null) return Promise.resolve({ won: false, revision: 5, holder: this.value, lease: '9' });
    this.value = value;
    return Promise.resolve({ won: true, revision: 6, holder: value, lease });
  }
  read(): Promise<HolderInfo> { return Promise.resolve({ holder: this.value, lease: this.value ? '9' : null, revision: 5 }); }
  resign() { return Promise.resolve(); }
  confirm(_lease: string, value: string) { this.value = value; return Promise.resolve(); }
  release() { this.value = null; return Promise.resolve(); }
  watch() {}
  close() {}
}

describe('the holder value and its configuration fingerprint', () => {
  const A = configFingerprint([vip('10.0.0.100'), vip('10.0.0.101')]);
  it('is the same whatever the order of the addresses, different for other addresses', () => {
    expect(configFingerprint([vip('10.0.0.101'), vip('10.0.0.100')])).toBe(A);
    expect(configFingerprint([vip('10.0.0.100')])).not.toBe(A);
    expect(A).toMatch(/^[0-9a-f]{12}$/);
  });
  it('round-trips; a bare node name (an older carpool) has no fingerprint', () => {
    expect(decodeHolder(encodeHolder('n1', A))).toEqual({ node: 'n1', fingerprint: A });
    expect(decodeHolder('n1')).toEqual({ node: 'n1', fingerprint: undefined });
  });
});

describe('ConfigGuardClient', () => {
  const setup = () => {
    const store = new Store();
    let now = 0;
    const conflicts: string[] = [];
    const guard = (fp: string) => new ConfigGuardClient(store, { fingerprint: fp, ttlMs: 3000, now: () => now, onConflict: (t) => conflicts.push(t) });
    return { store, guard, conflicts, at: (t: number) => { now = t; } };
  };

  it('writes the name with the fingerprint and reads back the bare name', async () => {
    const t = setup();
    const g = t.guard('aaaaaaaaaaaa');
    expect(await g.txn('1', 'n1')).toMatchObject({ won: true, holder: 'n1' });
    expect(t.store.value).toBe('n1 config=aaaaaaaaaaaa');
    expect((await g.read()).holder).toBe('n1');
    expect(t.conflicts).toEqual([]);
  });

  it('another configuration under the key: marked, reported, and no contention for one ttl after it was last seen', async () => {
    const t = setup();
    t.store.value = 'n1 config=bbbbbbbbbbbb';
    const g = t.guard('aaaaaaaaaaaa');
    expect((await g.read()).holder).toBe(`n1 (${FOREIGN_MARK} bbbbbbbbbbbb)`);
    expect(t.conflicts[0]).toMatch(/held by n1 with another configuration .*two clusters share this key prefix/);
    t.store.value = null; // the other cluster's holder let go
    t.at(2999);
    expect(await g.txn('1', 'n2')).toMatchObject({ won: false, holder: `n1 (${FOREIGN_MARK} bbbbbbbbbbbb)` });
    expect(t.store.txns).toBe(0);
    t.at(3000);
    expect(await g.txn('1', 'n2')).toMatchObject({ won: true, holder: 'n2' });
  });

  it('a value of an older carpool (no fingerprint) is trusted as the node name', async () => {
    const t = setup();
    t.store.value = 'n9';
    expect((await t.guard('aaaaaaaaaaaa').read()).holder).toBe('n9');
    expect(t.conflicts).toEqual([]);
  });
});
