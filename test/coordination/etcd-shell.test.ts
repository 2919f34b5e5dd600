/**
 * The etcd instance shell against a fake etcd client, a fake port and fake timers: answers fed
 * to the lease core with their send time, the master's addresses, GARP and hooks (with the
 * fencing token), the step-down bound when etcd stops answering, shutdown's release.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EtcdInstance } from '../../src/config/model.js';
import type { EtcdClient, HolderInfo } from '../../src/coordination/shell/etcd-client.js';
import { EtcdShell } from '../../src/coordination/shell/etcd-shell.js';
import type { HookCall } from '../../src/daemon/hooks.js';
import { shellWorld, vip } from '../daemon/fakes.js';

const VIP = '10.9.0.100';

class FakeEtcd implements EtcdClient {
  readonly calls: string[] = [];
  /** While set, every request fails with this error. */
  down: string | undefined;
  holder: HolderInfo = { holder: null, lease: null, revision: 1 };
  onHolder: ((h: HolderInfo) => void) | undefined;
  closed = false;
  private answer<T>(what: string, v: () => T): Promise<T> {
    this.calls.push(what);
    return this.down ? Promise.reject(new Error(this.down)) : Promise.resolve(v());
  }
  grant(ttlMs: number) { return this.answer('grant', () => ({ lease: '77', ttlMs })); }
  keepAlive() { return this.answer('keepAlive', () => 3000); }
  txn(lease: string, node: string) {
    return this.answer('txn', () => {
      if (this.holder.holder !== null) return { won: false, ...this.holder };
      this.holder = { holder: node, lease, revision: 42 };
      return { won: true, ...this.holder };
    });
  }
  read() { return this.answer('read', () => this.holder); }
  release() { return this.answer('release', () => undefined); }
  watch(onHolder: (h: HolderInfo) => void) { this.onHolder = onHolder; }
  close() { this.closed = true; }
}

function setup() {
  const world = shellWorld();
  const etcd = new FakeEtcd();
  const hooks: HookCall[] = [];
  const cfg: EtcdInstance = {
    kind: 'etcd', name: 'web', interface: 'eth0', addresses: [vip(VIP)], node: 'n1',
    etcd: { endpoints: ['http://10.9.0.1:2379'], prefix: '/t', key: '/t/web/leader', ttlMs: 3000, renewMs: 1000, requestTimeoutMs: 600, marginMs: 300, pollMs: 1500 },
    upHook: { argv: ['/bin/true'], shell: false }, downHook: { argv: ['/bin/true'], shell: false },
  };
  const s = new EtcdShell(cfg, {
    port: world.port, log: world.log, addresses: world.addresses, client: etcd, node: 'n1', now: () => Date.now(),
    hooks: { enqueue: (c: HookCall) => { hooks.push(c); return Promise.resolve({ code: 0, signal: null, timedOut: false, durationMs: 0 }); } },
    onTransition: world.onTransition,
  });
  return { ...world, etcd, hooks, s };
}

describe('EtcdShell', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('wins the key: addresses, GARP and the up hook with the fencing token', async () => {
    const t = setup();
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.etcd.calls).toEqual(['grant', 'txn']);
    expect(t.transitions).toEqual(['web INIT->BACKUP', 'web BACKUP->MASTER']);
    expect(t.addresses.added).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    expect(t.port.garpsFor(VIP)).toHaveLength(1);
    expect(t.hooks.map((h) => [h.label, h.env.CARPOOL_FENCING_TOKEN])).toEqual([['web up', '42']]);
    expect(t.s.status()).toMatchObject({ protocol: 'etcd', state: 'MASTER', master: 'self', holdsAddresses: true, etcd: { holder: 'n1', revision: 42, failures: 0 } });
  });

  it('etcd silent: steps down ttl − margin after the last confirmed keep-alive, not later', async () => {
    const t = setup();
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    // The grant (sent at 0, ttl 3 s) is the last confirmation: the bound is 3000 − 300 ms.
    t.etcd.down = 'connection refused';
    await vi.advanceTimersByTimeAsync(2699);
    expect(t.s.status().state).toBe('MASTER');
    await vi.advanceTimersByTimeAsync(1);
    expect(t.s.status().state).toBe('BACKUP');
    expect(t.addresses.removed).toEqual([{ dev: 'eth0', ifindex: 7, addresses: [VIP] }]);
    expect(t.hooks.map((h) => h.label)).toEqual(['web up', 'web down']);
    expect(t.s.status().etcd!.failures).toBeGreaterThan(0);
    // etcd stays away: requests keep failing, the warnings do not flood the log.
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.s.status().etcd!.failures).toBeGreaterThan(5);
    expect(t.lines.filter((l) => l.includes('etcd grant failed')).length).toBe(1);
  });

  it('a watch event naming another holder: BACKUP at once', async () => {
    const t = setup();
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    t.etcd.onHolder!({ holder: 'n2', lease: '99', revision: 50 });
    expect(t.s.status()).toMatchObject({ state: 'BACKUP', holdsAddresses: false, etcd: { holder: 'n2', revision: 50 } });
  });

  it('shutdown: addresses go first, then the lease is revoked and the client closed', async () => {
    const t = setup();
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    const done = t.s.shutdown();
    expect(t.addresses.removed).toHaveLength(1);
    await done;
    expect(t.etcd.calls.at(-1)).toBe('release');
    expect(t.etcd.closed).toBe(true);
  });

  it('refuses carpool demote with what to do instead', () => {
    const t = setup();
    expect(() => t.s.demote()).toThrow(expect.objectContaining({ code: 'NOT_SUPPORTED' }));
  });
});
