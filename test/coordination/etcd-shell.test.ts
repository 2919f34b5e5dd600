/**
 * The etcd instance shell against a fake etcd client, a fake port and fake timers: answers fed
 * to the lease core with their send time, the master's addresses, GARP and hooks (with the
 * fencing token), the step-down bound when etcd stops answering, shutdown's release.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EtcdInstance } from '../../src/config/model.js';
import type { EtcdClient, HolderInfo } from '../../src/coordination/shell/etcd-client.js';
import { EtcdShell } from '../../src/coordination/shell/etcd-shell.js';
import { HANDOVER_OVERLAP_MS } from '../../src/coordination/core/lease.js';
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
      if (this.holder.holder !== null || this.reserved) return { won: false, ...this.holder, handoverTo: this.reserved?.target ?? null };
      this.holder = { holder: node, lease, revision: 42 };
      return { won: true, ...this.holder };
    });
  }
  read() { return this.answer('read', () => this.holder); }
  /** The reserved hand-over (`<key>/handover`) and the candidacies (`<key>/candidates/<node>`). */
  reserved: { target: string; lease: string } | null = null;
  readonly candidacies = new Map<string, { value: string; id: string }>();
  takeOver(lease: string, node: string, target: string) {
    return this.answer('takeOver', () => {
      if (this.holder.holder !== null || this.reserved?.target !== target) return { won: false, ...this.holder, handoverTo: this.reserved?.target ?? null };
      this.reserved = null;
      this.holder = { holder: node, lease, revision: 44, version: 1 };
      return { won: true, ...this.holder };
    });
  }
  handOver(lease: string, target: string) {
    return this.answer('handOver', () => {
      if (this.holder.lease !== lease) return;
      this.holder = { holder: null, lease: null, revision: 43, version: 0 };
      this.reserved = { target, lease };
    });
  }
  publishCandidate(lease: string, node: string, value: string) { return this.answer('publishCandidate', () => { this.candidacies.set(node, { value, id: `${lease}@1` }); }); }
  candidates() { return this.answer('candidates', () => [...this.candidacies].map(([node, c]) => ({ node, ...c }))); }
  release() { return this.answer('release', () => undefined); }
  /** What the world looked like when `confirm` went out (the addresses and GARP must come first). */
  atConfirm: { added: number; garps: number } | undefined;
  probe: (() => { added: number; garps: number }) | undefined;
  resign(lease: string) {
    return this.answer('resign', () => { if (this.holder.lease === lease) this.holder = { holder: null, lease: null, revision: 43, version: 0 }; });
  }
  confirm(lease: string) {
    this.atConfirm = this.probe?.();
    return this.answer('confirm', () => { if (this.holder.lease === lease) this.holder = { ...this.holder, version: 2 }; });
  }
  watch(onHolder: (h: HolderInfo) => void) { this.onHolder = onHolder; }
  close() { this.closed = true; }
}

function setup(preference?: EtcdInstance['preference']) {
  const world = shellWorld();
  const etcd = new FakeEtcd();
  const hooks: HookCall[] = [];
  const cfg: EtcdInstance = {
    kind: 'etcd', name: 'web', interface: 'eth0', addresses: [vip(VIP)], node: 'n1',
    etcd: { endpoints: ['http://10.9.0.1:2379'], prefix: '/t', key: '/t/web/leader', ttlMs: 3000, renewMs: 1000, requestTimeoutMs: 600, marginMs: 300, pollMs: 1500 },
    upHook: { argv: ['/bin/true'], shell: false }, downHook: { argv: ['/bin/true'], shell: false },
    ...(preference ? { preference } : {}),
  };
  const s = new EtcdShell(cfg, {
    port: world.port, log: world.log, addresses: world.addresses, client: etcd, node: 'n1', now: () => Date.now(),
    hooks: { enqueue: (c: HookCall) => { hooks.push(c); return Promise.resolve({ code: 0, signal: null, timedOut: false, durationMs: 0 }); } },
    onTransition: world.onTransition,
  });
  etcd.probe = () => ({ added: world.addresses.added.length, garps: world.port.garpsFor(VIP).length });
  return { ...world, etcd, hooks, s };
}

describe('EtcdShell', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('preference: publishes its candidacy, hands the key to a better candidate after its delay, drops the VIP on its confirmation', async () => {
    const t = setup({ priority: 100, preempt: false, preemptDelayMs: 3000 });
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    // The candidacies read as a backup are read again once master.
    expect(t.etcd.calls).toEqual(['grant', 'txn', 'publishCandidate', 'candidates', 'confirm', 'candidates']);
    expect(JSON.parse(t.etcd.candidacies.get('n1')!.value)).toEqual({ priority: 100, preempt: false, preemptDelayMs: 3000, demoted: false });
    t.etcd.candidacies.set('n2', { value: JSON.stringify({ priority: 200, preempt: true, preemptDelayMs: 2000, demoted: false }), id: '99@5' });
    await vi.advanceTimersByTimeAsync(1500); // the next poll reads it
    expect(t.s.status().etcd).toMatchObject({ preference: { priority: 100 }, candidates: [{ node: 'n1' }, { node: 'n2', priority: 200, preempt: true, seenMs: 0 }] });
    expect(t.etcd.calls).not.toContain('handOver');
    await vi.advanceTimersByTimeAsync(2000); // its delay, timed from when it was first seen
    expect(t.etcd.calls.at(-1)).toBe('handOver');
    expect(t.etcd.reserved).toEqual({ target: 'n2', lease: '77' });
    expect(t.s.status()).toMatchObject({ state: 'MASTER', holdsAddresses: true, etcd: { handingOver: true, handoverTo: 'n2' } });
    // Another node contending meanwhile is refused by the reservation; n2 takes the key, then confirms.
    expect(await t.etcd.txn('55', 'n3')).toMatchObject({ won: false, handoverTo: 'n2' });
    expect(await t.etcd.takeOver('99', 'n2', 'n2')).toMatchObject({ won: true });
    t.etcd.onHolder!({ holder: 'n2', lease: '99', revision: 44, version: 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.s.status()).toMatchObject({ state: 'MASTER', holdsAddresses: true });
    t.etcd.onHolder!({ holder: 'n2', lease: '99', revision: 44, version: 2 });
    await vi.advanceTimersByTimeAsync(0);
    // Both hold for a moment (make-before-break), then the addresses go.
    expect(t.s.status()).toMatchObject({ state: 'MASTER', holdsAddresses: true });
    await vi.advanceTimersByTimeAsync(HANDOVER_OVERLAP_MS);
    expect(t.s.status()).toMatchObject({ state: 'BACKUP', holdsAddresses: false, etcd: { handingOver: false, holder: 'n2' } });
    expect(t.lines.some((l) => l.includes('handed over to n2'))).toBe(true);
  });

  it('preference: the target is named by the reservation and takes the key with takeOver', async () => {
    const t = setup({ priority: 200, preempt: true, preemptDelayMs: 0 });
    t.etcd.reserved = { target: 'n1', lease: '5' };
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.etcd.calls.slice(0, 2)).toEqual(['grant', 'txn']);
    expect(t.etcd.calls).toContain('takeOver');
    expect(t.etcd.reserved).toBeNull();
    expect(t.s.status()).toMatchObject({ state: 'MASTER', holdsAddresses: true, etcd: { holder: 'n1' } });
    expect(t.etcd.calls).toContain('confirm');
  });

  it('wins the key: addresses, GARP and the up hook with the fencing token', async () => {
    const t = setup();
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.etcd.calls).toEqual(['grant', 'txn', 'confirm']);
    // The confirmation (which lets a handing-over master go) is written after the addresses and GARP.
    expect(t.etcd.atConfirm).toEqual({ added: 1, garps: 1 });
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

  it('carpool demote: the key goes, the addresses stay until the successor confirms; --clear contends again', async () => {
    const t = setup();
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    t.s.demote(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.etcd.calls.at(-1)).toBe('resign');
    expect(t.s.status()).toMatchObject({ state: 'MASTER', holdsAddresses: true, etcd: { demoted: true, handingOver: true } });
    t.etcd.onHolder!({ holder: null, lease: null, revision: 43, version: 0 });
    t.etcd.onHolder!({ holder: 'n2', lease: '99', revision: 44, version: 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.s.status()).toMatchObject({ state: 'MASTER', holdsAddresses: true });
    expect(t.addresses.removed).toHaveLength(0);
    t.etcd.onHolder!({ holder: 'n2', lease: '99', revision: 44, version: 2 });
    await vi.advanceTimersByTimeAsync(0);
    // Both hold for a moment (make-before-break), then the addresses go.
    expect(t.s.status()).toMatchObject({ state: 'MASTER', holdsAddresses: true });
    await vi.advanceTimersByTimeAsync(HANDOVER_OVERLAP_MS);
    expect(t.s.status()).toMatchObject({ state: 'BACKUP', holdsAddresses: false, etcd: { demoted: true, handingOver: false } });
    expect(t.addresses.removed).toHaveLength(1);
    // Demoted: a free key is left to the others.
    t.etcd.holder = { holder: null, lease: null, revision: 45, version: 0 };
    const before = t.etcd.calls.length;
    t.etcd.onHolder!({ holder: null, lease: null, revision: 45, version: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.etcd.calls.slice(before)).not.toContain('txn');
    t.s.demote(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.s.status()).toMatchObject({ state: 'MASTER', etcd: { demoted: false } });
  });

  it('a shared lease: the bound counts from the sent time the client reports, and every confirmation it hands out', async () => {
    const t = setup();
    // The lease was granted (and last confirmed) 400 ms before this instance asked for it.
    t.etcd.grant = (ttlMs: number) => { t.etcd.calls.push('grant'); return Promise.resolve({ lease: '77', ttlMs, sentAt: Date.now() - 400 }); };
    let confirm: ((c: { lease: string; ttlMs: number; sentAt: number }) => void) | undefined;
    (t.etcd as EtcdClient).onLease = (l) => { confirm = l; };
    t.etcd.keepAlive = () => new Promise(() => undefined); // this instance's own keep-alives never come back
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.s.status()).toMatchObject({ state: 'MASTER', etcd: { leaseLeftMs: 2600 } });
    // Another instance's keep-alive, sent 1,000 ms later, confirms the shared lease for this one too.
    await vi.advanceTimersByTimeAsync(1000);
    confirm!({ lease: '77', ttlMs: 3000, sentAt: Date.now() - 100 });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.s.status().etcd!.leaseLeftMs).toBe(2900);
    // A confirmation of another lease is not ours.
    confirm!({ lease: '76', ttlMs: 3000, sentAt: Date.now() });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.s.status().etcd!.leaseLeftMs).toBe(2900);
    // Nothing more: the bound (last confirmation sent + 3000 − 300 ms) steps it down.
    await vi.advanceTimersByTimeAsync(2900 - 300 - 1);
    expect(t.s.status().state).toBe('MASTER');
    await vi.advanceTimersByTimeAsync(1);
    expect(t.s.status()).toMatchObject({ state: 'BACKUP', holdsAddresses: false });
  });

  it('carpool demote with no other node: the addresses go after the hand-over wait', async () => {
    const t = setup();
    t.s.start();
    await vi.advanceTimersByTimeAsync(0);
    t.s.demote(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.s.status().state).toBe('MASTER');
    await vi.advanceTimersByTimeAsync(1500 + 2 * 600); // poll + 2 × request timeout
    expect(t.s.status()).toMatchObject({ state: 'BACKUP', holdsAddresses: false });
  });
});
