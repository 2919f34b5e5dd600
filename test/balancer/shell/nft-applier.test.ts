import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger } from '../../../src/daemon/logger.js';
import { NFT_RETRY_MS, NftApplier, type NfnlSender, type NftRunner } from '../../../src/balancer/shell/nft-applier.js';
import type { Plane, PlaneService } from '../../../src/balancer/core/nft.js';
import { rrTable } from '../../../src/balancer/core/schedulers.js';

const lines: string[] = [];
const log = new Logger({ ident: 'test', facility: 'none', debug: false, console: false, onLine: (level, text) => lines.push(`${level}: ${text}`) });

function plane(servers: string[]): Plane {
  const svc: PlaneService = {
    id: 1, family: 'ipv4', match: { kind: 'addr', vip: '10.9.0.100', port: 80 }, protocol: 'tcp', method: 'nat',
    servers: servers.map((a, i) => ({ id: i + 1, key: `${a}:80`, address: a, port: 80 })),
    table: rrTable(servers.map((a) => ({ key: `${a}:80`, weight: 1, active: 0, inactive: 0 }))),
  };
  return { services: [svc] };
}

/** A fake nft: records each transaction, fails while `failing`. */
function fakeNft() {
  const calls: { args: readonly string[]; input?: string }[] = [];
  const state = { failing: false };
  const runner: NftRunner = (args, input) => {
    calls.push({ args, ...(input !== undefined ? { input } : {}) });
    return Promise.resolve(state.failing && args[0] === '-f' ? { code: 1, stdout: '', stderr: 'Error: Could not process rule: No such file or directory' } : { code: 0, stdout: '', stderr: '' });
  };
  return { calls, state, runner };
}

describe('nftables applier (fake nft)', () => {
  afterEach(() => { vi.useRealTimers(); lines.length = 0; });

  it('a change of servers goes flat: the new generation and the repoint in one netlink batch, no nft run; a refused batch keeps the old ruleset and retries whole', async () => {
    vi.useFakeTimers();
    const nft = fakeNft();
    const batches: { bytes: Uint8Array; expect: number }[] = [];
    let refuse = false;
    // The kernel's answers: an ack (0) per operation, or EBUSY for the second one.
    const nfnl: NfnlSender = (bytes, expect) => {
      batches.push({ bytes, expect });
      const seq0 = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
      return { sent: 0, replies: Array.from({ length: expect }, (_, i) => ({ seq: seq0 + 1 + i, error: refuse && i === expect - 3 ? -16 : 0 })) };
    };
    // A logger of its own: the error below would rate-limit the next test's.
    const own: string[] = [];
    const a = new NftApplier(new Logger({ ident: 'test', facility: 'none', debug: false, console: false, onLine: (level, text) => own.push(`${level}: ${text}`) }), nft.runner, nfnl);
    await a.apply(plane(['10.9.1.2', '10.9.1.3']));
    await a.apply(plane(['10.9.1.2']));
    expect(nft.calls).toHaveLength(1);
    // New slot map, its elements, new chain, its 3 rules (ct mark, dnat, drop); dispatch element out and in again (repointed), old chain, old slot map.
    expect(batches).toHaveLength(1);
    expect(batches[0]!.expect).toBe(3 + 3 + 4);
    expect(a.status().lastTransaction).toMatch(/^add map ip carpool vs1g1_slots .*\nadd chain ip carpool vs1g1\nadd rule ip carpool vs1g1 /s);
    expect(a.status()).toMatchObject({ inForce: true, applies: 2, flatUpdates: 1, failures: 0 });
    expect(a.status().lastTransaction).toContain('add element ip carpool services { 10.9.0.100 . tcp . 80 : jump vs1g1 }');
    refuse = true;
    await a.apply(plane(['10.9.1.2', '10.9.1.3']));
    expect(nft.calls).toHaveLength(1);
    expect(batches).toHaveLength(2);
    // The batch is atomic: the ruleset of before stays in force, the latest change waits.
    expect(a.status()).toMatchObject({ inForce: true, pending: true, failures: 1, lastError: expect.stringContaining('add element ip carpool services: EBUSY') });
    expect(own.some((l) => l.startsWith('error: Load balancer: the flat update failed, the previous ruleset stays in force'))).toBe(true);
    refuse = false;
    await vi.advanceTimersByTimeAsync(NFT_RETRY_MS);
    // Whole again: the table replaced (the unused generation goes with it), generation 0 names.
    expect(nft.calls.at(-1)!.input).toMatch(/^add table ip carpool\ndelete table ip carpool\n/);
    expect(nft.calls.at(-1)!.input).toContain('chain vs1 {');
    expect(a.status()).toMatchObject({ inForce: true, pending: false, failures: 1 });
    await a.remove();
    expect(a.status()).toMatchObject({ inForce: false, pending: false });
  });

  it('without a netlink sender (a fake nft alone) every change goes by nft -f', async () => {
    const nft = fakeNft();
    const a = new NftApplier(log, nft.runner);
    await a.apply(plane(['10.9.1.2', '10.9.1.3']));
    await a.apply(plane(['10.9.1.2']));
    expect(nft.calls[1]!.input).toContain('delete element ip carpool vs1_slots { 1 }');
    expect(nft.calls[1]!.input).not.toMatch(/vs1g\d/);
    expect(a.status().flatUpdates).toBe(0);
  });

  it('replaces the table whole first, then applies only the diff; stop removes only carpool tables', async () => {
    const nft = fakeNft();
    const a = new NftApplier(log, nft.runner);
    await a.apply(plane(['10.9.1.2', '10.9.1.3']));
    expect(nft.calls[0]!.input).toMatch(/^add table ip carpool\ndelete table ip carpool\n/);
    expect(a.status()).toMatchObject({ inForce: true, applies: 1, failures: 0 });
    await a.apply(plane(['10.9.1.2']));
    const diff = nft.calls[1]!.input!;
    expect(diff).not.toContain('delete table');
    expect(diff).toContain('vs1_slots');
    await a.apply(plane(['10.9.1.2'])); // nothing changed: no transaction
    expect(nft.calls).toHaveLength(2);
    await a.remove();
    const last = nft.calls.at(-1)!.input!;
    expect(last.split('\n').filter(Boolean).every((l) => / (ip|ip6|netdev) carpool$/.test(l))).toBe(true);
  });

  it('a failed transaction keeps the old ruleset, is logged, and is retried later with the whole plane', async () => {
    vi.useFakeTimers();
    const nft = fakeNft();
    const a = new NftApplier(log, nft.runner);
    await a.apply(plane(['10.9.1.2', '10.9.1.3']));
    nft.state.failing = true;
    await a.apply(plane(['10.9.1.2']));
    expect(a.status()).toMatchObject({ inForce: true, pending: true, failures: 1, lastError: expect.stringContaining('No such file') });
    expect(lines.some((l) => l.startsWith('error: Load balancer: nft -f failed, the previous ruleset stays in force'))).toBe(true);
    nft.state.failing = false;
    await vi.advanceTimersByTimeAsync(NFT_RETRY_MS);
    expect(a.status()).toMatchObject({ inForce: true, pending: false, applies: 2 });
    expect(nft.calls.at(-1)!.input).toMatch(/^add table ip carpool\ndelete table ip carpool\n/);
  });

  it('at start, says when nft is missing or the kernel refuses the ruleset', async () => {
    const missing = new NftApplier(log, () => Promise.reject(new Error('cannot run nft: spawn nft ENOENT')));
    await expect(missing.check(plane(['10.9.1.2']))).rejects.toMatchObject({ code: 'NFT_MISSING' });
    const refused = new NftApplier(log, (args) => Promise.resolve(args[0] === '-c' ? { code: 1, stdout: '', stderr: 'Error: Could not process rule: Not supported' } : { code: 0, stdout: 'nftables v1.0.6', stderr: '' }));
    await expect(refused.check(plane(['10.9.1.2']))).rejects.toMatchObject({ code: 'NFT_UNSUPPORTED', message: expect.stringContaining('Not supported') });
  });
});
