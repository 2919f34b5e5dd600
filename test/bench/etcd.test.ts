/** The etcd bench's pure parts (bench/etcd.ts): arguments, metrics parsing, addresses, report. */
import { describe, expect, it } from 'vitest';
import { markdown, metrics, overlapOf, parse, scaleAddr, type Result } from '../../bench/etcd.js';

describe('bench:etcd arguments', () => {
  it('has defaults equal on both sides and refuses timing carpool check would refuse', () => {
    expect(parse([])).toEqual({ ttl: 3, loop: 1000, runs: 5, instances: 1000, window: 30, settle: 300, write: true });
    expect(parse(['--help'])).toBeUndefined();
    expect(parse(['--instances', '0', '--no-write'])).toMatchObject({ instances: 0, write: false });
    expect(() => parse(['--ttl', '1'])).toThrow(/--ttl must be an integer ≥ 2, got "1"/);
    expect(() => parse(['--loop', '2500', '--ttl', '3'])).toThrow(/--loop 2500 too long for --ttl 3/);
    expect(() => parse(['--instances', '5000'])).toThrow(/≤ 4000/);
    expect(() => parse(['--bogus'])).toThrow();
  });
});

describe('etcd metrics', () => {
  it('reads Prometheus text: samples by name and labels, comments skipped', () => {
    const m = metrics([
      '# HELP grpc_server_handled_total x', '# TYPE grpc_server_handled_total counter',
      'grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 1234',
      'etcd_debugging_mvcc_watcher_total 3000', '',
    ].join('\n'));
    expect(m.get('etcd_debugging_mvcc_watcher_total')).toBe(3000);
    expect(m.get('grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"}')).toBe(1234);
    expect(m.size).toBe(2);
  });
});

describe('two holders', () => {
  const e = (t: number, host: string, added: boolean) => ({ t, host, added });
  it('measures the longest overlap, none for break-before-make, and one still open at the end', () => {
    expect(overlapOf([e(100, 'n2', true), e(160, 'n1', false)], ['n1'], 1000)).toBe(60);
    expect(overlapOf([e(100, 'n1', false), e(300, 'n2', true)], ['n1'], 1000)).toBe(0);
    expect(overlapOf([e(100, 'n2', true), e(130, 'n1', false), e(500, 'n3', true)], ['n1'], 900)).toBe(400);
  });
});

describe('scale addresses', () => {
  it('gives 4000 distinct /32s outside the lab subnets and the VIP', () => {
    const all = Array.from({ length: 4000 }, (_, i) => scaleAddr(i));
    expect(new Set(all).size).toBe(4000);
    expect(all[0]).toBe('10.215.128.1');
    expect(all[3999]).toBe('10.215.143.250');
  });
});

describe('report', () => {
  const res: Result = {
    started: '2026-12-07T00:00:00Z', args: { ttl: 3, loop: 1000, runs: 2, instances: 0, window: 5, settle: 60, write: false }, tookS: 60,
    failures: [
      { impl: 'carpool', run: 1, outageMs: 2600, lost: 260, sent: 400, unresolved: false, from: 'n1', to: 'n2' },
      { impl: 'carpool', run: 2, outageMs: 2800, lost: 280, sent: 400, unresolved: false, from: 'n2', to: 'n3' },
      { impl: 'vip-manager', run: 1, outageMs: 3200, lost: 320, sent: 400, unresolved: false, from: 'n1', to: 'n2' },
      { impl: 'vip-manager', run: 2, outageMs: 4400, lost: 440, sent: 500, unresolved: true, from: 'n2', to: 'n3' },
    ],
    switchovers: [
      { impl: 'carpool', run: 1, available: false, note: 'demote not supported' },
      { impl: 'vip-manager', run: 1, available: true, outageMs: 900, lost: 90, sent: 300, from: 'n1', to: 'n2', twoHoldersMs: 120 },
    ],
  };
  it('prints min/median/max, ratios against vip-manager, and "not available" for a missing switchover', () => {
    const md = markdown(res);
    expect(md).toContain('| carpool | 2 | 2600 / 2700 / 2800 | 260, 280 | 0.71× |');
    expect(md).toContain('| vip-manager | 2 | 3200 / 3800 / 4400 | 320, 440+ | 1.00× |');
    expect(md).toContain('carpool median 2700 ms ≤ vip-manager 3800 ms; ≤ ttl + 1 loop (4000 ms)');
    expect(md).toContain('| carpool | not available (demote not supported) | – | – |');
    expect(md).toContain('| vip-manager | 90 | 900 / 900 / 900 | 120 |');
    expect(md).not.toContain('## Scale');
  });
});
