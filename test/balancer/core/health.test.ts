import { describe, expect, it } from 'vitest';
import { granularityPrefix, type CheckerSettings, type RealServer, type VirtualService } from '../../../src/balancer/core/model.js';
import {
  HealthInputError, fileVerdict, initialHealth, liveWeight, nextDeadline, pool, step, type HealthEffect, type HealthInput, type ServiceHealth,
} from '../../../src/balancer/core/health.js';

const checker = (over: Partial<CheckerSettings> = {}): CheckerSettings => ({
  name: 'TCP_CHECK', delayLoopMs: 6000, retry: 1, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false, rise: 1, dynamicWeight: false, ...over,
});
const rs = (address: string, over: Partial<RealServer> = {}): RealServer => ({
  address, port: 25, weight: 1, inhibitOnFailure: false, checkers: [checker()], ...over,
});
const service = (over: Partial<VirtualService> = {}): VirtualService => ({
  name: '123.123.123.1:25/tcp', family: 'ipv4', match: { kind: 'addr', vip: '123.123.123.1', port: 25 }, protocol: 'tcp',
  scheduler: 'rr', method: 'nat', hashPort: false, hashFallback: false, quorum: { quorum: 1, hysteresis: 0 },
  alpha: false, omega: false, haSuspend: false, realServers: [rs('192.168.0.101'), rs('192.168.0.102')], ...over,
});

/** Drive a service through inputs; returns the final state and all effects with their time. */
function drive(vs: VirtualService, inputs: readonly [number, HealthInput][], from?: ServiceHealth) {
  let h = from ?? initialHealth(vs);
  const log: (HealthEffect & { t: number })[] = [];
  for (const [t, inp] of inputs) {
    const r = step(vs, h, inp, t);
    h = r.state;
    log.push(...r.effects.map((e) => ({ ...e, t })));
  }
  return { h, log };
}
const A = '192.168.0.101:25';
const B = '192.168.0.102:25';
const res = (server: string, ok: boolean, extra: { exitCode?: number; checker?: number } = {}): HealthInput => ({ type: 'result', server, checker: extra.checker ?? 0, ok, exitCode: extra.exitCode });

describe('health verdicts (keepalived checker semantics)', () => {
  it('start arms each checker at now + warmup × jitter, a tick asks for the due probes once', () => {
    const vs = service({ realServers: [rs('192.168.0.101', { checkers: [checker({ warmupMs: 10_000 })] }), rs('192.168.0.102')] });
    let r = step(vs, initialHealth(vs), { type: 'start', jitter: 0.5 }, 1000);
    expect(r.effects).toEqual([]);
    expect(nextDeadline(r.state)).toBe(1000);
    r = step(vs, r.state, { type: 'tick' }, 1000);
    expect(r.effects).toEqual([{ type: 'runCheck', server: B, checker: 0, name: 'TCP_CHECK' }]);
    expect(nextDeadline(r.state)).toBe(6000);
    // a running probe is not asked for again
    expect(step(vs, r.state, { type: 'tick' }, 7000).effects.map((e) => e.type === 'runCheck' && e.server)).toEqual([A]);
  });

  it('down after retry + 1 consecutive failures, retries after delay_before_retry, then every delay_loop', () => {
    const vs = service({ realServers: [rs('192.168.0.101', { checkers: [checker({ retry: 2 })] })] });
    const { h, log } = drive(vs, [[0, { type: 'start', jitter: 0 }], [0, res(A, false)], [1000, res(A, false)], [2000, res(A, false)]]);
    expect(log.filter((e) => e.type === 'serverDown').map((e) => e.t)).toEqual([2000]);
    expect(h.servers[0]!.health).toBe('down');
    expect(nextDeadline(h)).toBe(8000);
    // between the failures the probe was due after delay_before_retry
    const mid = drive(vs, [[0, { type: 'start', jitter: 0 }], [0, res(A, false)]]).h;
    expect(nextDeadline(mid)).toBe(1000);
    expect(mid.servers[0]!.health).toBe('up');
    // a success in between resets the count
    const reset = drive(vs, [[0, { type: 'start', jitter: 0 }], [0, res(A, false)], [1, res(A, false)], [2, res(A, true)], [3, res(A, false)], [4, res(A, false)]]);
    expect(reset.h.servers[0]!.health).toBe('up');
  });

  it('retry 0: the first failure takes it down; one success brings it back (rise 1), rise 2 needs two', () => {
    const vs = service({ realServers: [rs('192.168.0.101', { checkers: [checker({ retry: 0 })] }), rs('192.168.0.102')] });
    const { log } = drive(vs, [[0, { type: 'start', jitter: 0 }], [5, res(A, false)], [10, res(A, true)]]);
    expect(log.map((e) => `${e.t} ${e.type}`)).toEqual(['5 serverDown', '10 serverUp']);
    const vs2 = service({ realServers: [rs('192.168.0.101', { checkers: [checker({ retry: 0, rise: 2 })] }), rs('192.168.0.102')] });
    const r2 = drive(vs2, [[0, { type: 'start', jitter: 0 }], [5, res(A, false)], [10, res(A, true)], [11, res(A, false)], [12, res(A, true)], [13, res(A, true)]]);
    expect(r2.log.map((e) => `${e.t} ${e.type}`)).toEqual(['5 serverDown', '13 serverUp']);
  });

  it('alpha: servers start down (quorum down at start, quorum_down runs) until their first success', () => {
    const vs = service({
      alpha: true, quorum: { quorum: 1, hysteresis: 0, upCommand: '/bin/up', downCommand: '/bin/down' },
      realServers: [rs('192.168.0.101', { checkers: [checker({ alpha: true })], notifyUp: '/bin/a-up' }), rs('192.168.0.102', { checkers: [checker({ alpha: true })] })],
    });
    expect(pool(vs, initialHealth(vs))).toEqual([]);
    const { h, log } = drive(vs, [[0, { type: 'start', jitter: 0 }], [100, res(A, true)]]);
    expect(log.map((e) => `${e.t} ${e.type}${e.type === 'runNotify' ? ` ${e.command}` : ''}`)).toEqual([
      '0 quorumDown', '0 runNotify /bin/down', '100 serverUp', '100 runNotify /bin/a-up', '100 quorumUp', '100 runNotify /bin/up',
    ]);
    expect(pool(vs, h).map((m) => m.key)).toEqual([A]);
  });

  it('inhibit_on_failure keeps a failed server with weight 0; without it the server leaves the pool', () => {
    const vs = service({ realServers: [rs('192.168.0.101', { inhibitOnFailure: true, checkers: [checker({ retry: 0 })] }), rs('192.168.0.102', { checkers: [checker({ retry: 0 })] })] });
    const { h, log } = drive(vs, [[0, { type: 'start', jitter: 0 }], [1, res(A, false)], [2, res(B, false)]]);
    expect(log.filter((e) => e.type === 'serverDown')).toMatchObject([{ server: A, inhibit: true }, { server: B, inhibit: false }]);
    expect(log.filter((e) => e.type === 'weightChanged')).toMatchObject([{ server: A, weight: 0 }]);
    expect(pool(vs, h)).toEqual([{ key: A, address: '192.168.0.101', port: 25, weight: 0 }]);
  });

  it('misc_dynamic: exit 0 = configured weight, 1 = down, 2..255 = up with weight exit − 2, others fail', () => {
    const vs = service({ realServers: [rs('192.168.0.101', { weight: 5, checkers: [checker({ name: 'MISC_CHECK', retry: 0, dynamicWeight: true })] }), rs('192.168.0.102')] });
    const { h, log } = drive(vs, [
      [0, { type: 'start', jitter: 0 }], [1, res(A, true, { exitCode: 12 })], [2, res(A, true, { exitCode: 0 })],
      [3, res(A, false, { exitCode: 1 })], [4, res(A, true, { exitCode: 2 })], [5, res(A, true, { exitCode: 300 })],
    ]);
    expect(log.map((e) => `${e.t} ${e.type}${e.type === 'weightChanged' ? ` ${e.weight}` : ''}`)).toEqual([
      '1 weightChanged 10', '2 weightChanged 5', '3 serverDown', '4 serverUp', '5 serverDown',
    ]);
    expect(h.servers[0]!.checkers[0]!.dynamicWeight).toBe(0);
    const up = drive(vs, [[0, { type: 'start', jitter: 0 }], [4, res(A, true, { exitCode: 2 })]]).h;
    expect(pool(vs, up).find((m) => m.key === A)!.weight).toBe(0);
  });

  it('a server is up only while all its checkers are up', () => {
    const vs = service({ realServers: [rs('192.168.0.101', { checkers: [checker({ retry: 0 }), checker({ name: 'HTTP_GET', retry: 0 })] })] });
    const { log } = drive(vs, [[0, { type: 'start', jitter: 0 }], [1, res(A, false, { checker: 1 })], [2, res(A, true, { checker: 0 })], [3, res(A, true, { checker: 1 })]]);
    expect(log.filter((e) => e.type.startsWith('server')).map((e) => `${e.t} ${e.type}`)).toEqual(['1 serverDown', '3 serverUp']);
  });

  it('quorum with hysteresis and the sorry server', () => {
    const servers = ['192.168.0.101', '192.168.0.102', '192.168.0.103', '192.168.0.104'].map((a) => rs(a, { weight: 1, checkers: [checker({ retry: 0 })] }));
    const vs = service({ quorum: { quorum: 3, hysteresis: 1 }, sorryServer: { address: '192.168.0.250', port: 25 }, realServers: servers });
    const k = (n: number) => `192.168.0.10${n}:25`;
    let r = drive(vs, [[0, { type: 'start', jitter: 0 }], [1, res(k(1), false)], [2, res(k(2), false)]]);
    // live 3 → 2: 2 is not below quorum − hysteresis = 2, stays up
    expect(r.h.quorumUp).toBe(true);
    r = drive(vs, [[3, res(k(3), false)]], r.h);
    expect(r.log.map((e) => e.type)).toEqual(['serverDown', 'quorumDown']);
    expect(pool(vs, r.h)).toEqual([{ key: '192.168.0.250:25', address: '192.168.0.250', port: 25, weight: 1 }]);
    // back to 3 live: not yet ≥ quorum + hysteresis = 4
    r = drive(vs, [[4, res(k(1), true)], [5, res(k(2), true)]], r.h);
    expect(r.h.quorumUp).toBe(false);
    expect(liveWeight(vs, r.h)).toBe(3);
    r = drive(vs, [[6, res(k(3), true)]], r.h);
    expect(r.log.map((e) => e.type)).toEqual(['serverUp', 'quorumUp']);
    expect(pool(vs, r.h).map((m) => m.key)).toEqual([k(1), k(2), k(3), k(4)]);
    // sorry_server_inhibit: the sorry server stays with weight 0 while the quorum is up, alone with weight 1 while it is lost.
    const inh = service({ ...vs, sorryServer: { ...vs.sorryServer!, inhibit: true } });
    expect(pool(inh, r.h).map((m) => `${m.key}=${m.weight}`)).toEqual([`${k(1)}=1`, `${k(2)}=1`, `${k(3)}=1`, `${k(4)}=1`, '192.168.0.250:25=0']);
    r = drive(inh, [[7, res(k(1), false)], [8, res(k(2), false)], [9, res(k(3), false)]], r.h);
    expect(r.h.quorumUp).toBe(false);
    expect(pool(inh, r.h)).toEqual([{ key: '192.168.0.250:25', address: '192.168.0.250', port: 25, weight: 1 }]);
  });

  it('operator: drain keeps the server with weight 0, disable removes it, weight overrides', () => {
    const vs = service();
    let r = drive(vs, [[0, { type: 'start', jitter: 0 }], [1, { type: 'admin', server: A, state: 'drained' }]]);
    expect(pool(vs, r.h)).toMatchObject([{ key: A, weight: 0 }, { key: B, weight: 1 }]);
    expect(r.log).toMatchObject([{ type: 'weightChanged', server: A, weight: 0 }]);
    r = drive(vs, [[2, { type: 'admin', server: A, state: 'disabled' }], [3, { type: 'weight', server: B, weight: 7 }]], r.h);
    expect(pool(vs, r.h)).toMatchObject([{ key: B, weight: 7 }]);
    expect(() => step(vs, r.h, { type: 'weight', server: B, weight: -1 }, 4)).toThrow(RangeError);
    expect(() => step(vs, r.h, { type: 'admin', server: '10.9.9.9:25', state: 'enabled' }, 4)).toThrow(HealthInputError);
    expect(() => step(vs, r.h, res(A, true, { checker: 3 }), 4)).toThrow(/no checker #3/);
  });

  it('omega: shutdown runs quorum_down and notify_down of live servers', () => {
    const vs = service({ omega: true, quorum: { quorum: 1, hysteresis: 0, downCommand: '/bin/qdown' }, realServers: [rs('192.168.0.101', { notifyDown: '/bin/a-down' })] });
    const { h, log } = drive(vs, [[0, { type: 'start', jitter: 0 }], [9, { type: 'shutdown' }]]);
    expect(log.map((e) => e.type === 'runNotify' && e.command)).toEqual(['/bin/qdown', '/bin/a-down']);
    expect(nextDeadline(h)).toBeUndefined();
    expect(drive(service(), [[0, { type: 'start', jitter: 0 }], [9, { type: 'shutdown' }]]).log).toEqual([]);
  });
});

describe('model helpers', () => {
  it('persistence_granularity: netmask or prefix length; holes refused', () => {
    expect(granularityPrefix('ipv4', '255.255.255.0')).toBe(24);
    expect(granularityPrefix('ipv4', '255.255.255.255')).toBe(32);
    expect(granularityPrefix('ipv4', '0.0.0.0')).toBe(0);
    expect(granularityPrefix('ipv4', '255.255.128.0')).toBe(17);
    expect(granularityPrefix('ipv4', '24')).toBe(24);
    expect(granularityPrefix('ipv6', '64')).toBe(64);
    expect(() => granularityPrefix('ipv4', '255.0.255.0')).toThrow(/contiguous netmask/);
    expect(() => granularityPrefix('ipv4', '33')).toThrow(RangeError);
    expect(() => granularityPrefix('ipv6', 'ffff::')).toThrow(/prefix length 0..128/);
  });
});

describe('FILE_CHECK (keepalived track_file for real servers)', () => {
  it('weight 0: non-zero fails, zero passes; reverse swaps them', () => {
    expect([0, 1, -3].map((v) => fileVerdict({ weight: 0, reverse: false }, v).ok)).toEqual([true, false, false]);
    expect([0, 1, -3].map((v) => fileVerdict({ weight: 0, reverse: true }, v).ok)).toEqual([false, true, true]);
  });
  it('weight ≠ 0: value × weight (negated with reverse) is added; ≤ −2^31 fails', () => {
    expect(fileVerdict({ weight: 2, reverse: false }, 3)).toEqual({ ok: true, delta: 6 });
    expect(fileVerdict({ weight: 2, reverse: true }, 3)).toEqual({ ok: true, delta: -6 });
    expect(fileVerdict({ weight: 1, reverse: false }, -(2 ** 31))).toEqual({ ok: false, delta: 0 });
    expect(fileVerdict({ weight: 4, reverse: false }, 2 ** 30)).toEqual({ ok: true, delta: 2 ** 31 - 1 });
  });
  it('the file value moves the weight (clamped at 0) and a failure takes the server down', () => {
    const file = (weight: number, reverse = false) => checker({ name: 'FILE_CHECK maint', retry: 0, file: { weight, reverse } });
    const vs = service({ realServers: [rs('192.168.0.101', { weight: 5, checkers: [file(-1)] }), rs('192.168.0.102')] });
    const fv = (v: number): HealthInput => ({ type: 'result', server: A, checker: 0, ok: true, fileValue: v });
    let d = drive(vs, [[0, { type: 'start', jitter: 0 }], [1, fv(2)]]);
    expect(pool(vs, d.h).find((m) => m.key === A)?.weight).toBe(3);
    expect(d.log).toContainEqual(expect.objectContaining({ type: 'weightChanged', server: A, weight: 3 }));
    d = drive(vs, [[2, fv(9)]], d.h);
    expect(pool(vs, d.h).find((m) => m.key === A)?.weight).toBe(0);
    d = drive(vs, [[3, fv(0)]], d.h);
    expect(pool(vs, d.h).find((m) => m.key === A)?.weight).toBe(5);
    const bin = service({ realServers: [rs('192.168.0.101', { checkers: [file(0)] }), rs('192.168.0.102')] });
    d = drive(bin, [[0, { type: 'start', jitter: 0 }], [1, fv(1)]]);
    expect(d.h.servers[0]!.health).toBe('down');
    expect(d.log).toContainEqual(expect.objectContaining({ type: 'serverDown', server: A }));
    d = drive(bin, [[2, fv(0)]], d.h);
    expect(d.h.servers[0]!.health).toBe('up');
  });
});
