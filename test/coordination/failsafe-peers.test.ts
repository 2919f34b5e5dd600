/**
 * The failsafe peer channel over real UDP sockets on 127.0.0.1 (no root needed): a question,
 * the answers, the decision; forged, replayed, unsolicited and unknown datagrams dropped and counted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { encodeFailsafe, type FailsafeSelfView } from '../../src/coordination/core/failsafe.js';
import { FailsafePeers, readFailsafeKey } from '../../src/coordination/shell/failsafe-peers.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const base = 47_000 + (process.pid % 1000) * 3;
const peers = [0, 1, 2].map((k) => ({ address: '127.0.0.1', port: base + k }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('failsafe peer channel (UDP on loopback)', () => {
  const open: FailsafePeers[] = [];
  afterEach(() => { for (const p of open.splice(0)) p.close(); });

  const node = (k: number, view: FailsafeSelfView) => {
    const got = { decisions: [] as (number | undefined)[], promises: [] as number[] };
    const p = new FailsafePeers({
      instance: 'web', node: `n${k + 1}`, settings: { listen: peers[k]!, peers, keyFile: '/k' }, key: KEY, ttlMs: 3000, marginMs: 300,
      now: () => performance.now(), wallNow: Date.now, self: () => view,
      onDecision: (u) => got.decisions.push(u), onPromise: (u) => got.promises.push(u), log: () => undefined,
    });
    open.push(p);
    return { p, got };
  };

  it('the master asks; two peers that cannot reach etcd confirm and promise; forged and replayed datagrams are counted', async () => {
    const m = node(0, { holding: true, etcdReachable: false, holder: 'n1' });
    const b = node(1, { holding: false, etcdReachable: false, holder: 'n1' });
    const c = node(2, { holding: false, etcdReachable: true, holder: 'n3' }); // sees another holder: refuses
    await Promise.all([m.p.start(), b.p.start(), c.p.start()]);
    const t = performance.now();
    m.p.ask();
    await sleep(200);
    expect(b.got.promises).toHaveLength(1);
    expect(b.got.promises[0]!).toBeGreaterThan(t + 2900);
    expect(c.got.promises).toEqual([]);
    // A refusal cancels the failsafe: c answers "another holder".
    expect(m.got.decisions.at(-1)).toBeUndefined();
    const st = m.p.status({ failsafeLeftMs: undefined, failsafeActive: false, promisedMs: undefined });
    expect(st.confirmations.map((x) => [x.node, x.confirms]).sort()).toEqual([['n2', true], ['n3', false]]);
    expect(st).toMatchObject({ members: 3, needed: 2, questionsSent: 1, answered: 2, error: null });

    // From a member's address but another port; then from b's own socket: a wrong key, a replayed question.
    const stray = createSocket('udp4');
    await new Promise<void>((r) => stray.bind(0, '127.0.0.1', () => r()));
    const q = encodeFailsafe({ type: 'query', instance: 'web', node: 'n1', nonce: 'ab'.repeat(16), ts: Date.now() }, KEY);
    stray.send(q, peers[1]!.port, '127.0.0.1');
    await sleep(50);
    stray.close();
    const bSock = (b.p as unknown as { sock: import('node:dgram').Socket }).sock;
    bSock.send(encodeFailsafe({ type: 'query', instance: 'web', node: 'n2', nonce: 'cd'.repeat(16), ts: Date.now() }, Buffer.from('wrong key wrong key wrong key!!!')), peers[0]!.port, '127.0.0.1');
    bSock.send(Buffer.from('carpool-fs1\nnot json at all, and no tag either...'), peers[0]!.port, '127.0.0.1'); // the tag is checked first
    bSock.send(Buffer.from('x'), peers[0]!.port, '127.0.0.1');
    bSock.send(encodeFailsafe({ type: 'query', instance: 'db', node: 'n2', nonce: 'ef'.repeat(16), ts: Date.now() }, KEY), peers[0]!.port, '127.0.0.1');
    bSock.send(encodeFailsafe({ type: 'query', instance: 'web', node: 'n2', nonce: '12'.repeat(16), ts: Date.now() - 60_000 }, KEY), peers[0]!.port, '127.0.0.1');
    const answer = encodeFailsafe({ type: 'answer', instance: 'web', node: 'n2', nonce: '34'.repeat(16), ts: Date.now(), holding: false, etcdReachable: false, holder: null }, KEY);
    bSock.send(answer, peers[0]!.port, '127.0.0.1'); // to no question of m's
    const replay = encodeFailsafe({ type: 'query', instance: 'web', node: 'n2', nonce: '56'.repeat(16), ts: Date.now() }, KEY);
    bSock.send(replay, peers[0]!.port, '127.0.0.1');
    bSock.send(replay, peers[0]!.port, '127.0.0.1');
    await sleep(200);
    expect(b.p.status({ failsafeLeftMs: undefined, failsafeActive: false, promisedMs: undefined }).drops.unknownPeer).toBe(1);
    expect(m.p.status({ failsafeLeftMs: undefined, failsafeActive: false, promisedMs: undefined }).drops).toEqual({
      malformed: 1, auth: 2, unknownPeer: 0, instance: 1, stale: 1, replay: 1, unsolicited: 1,
    });
  });

  it('with the refusing peer silent, one confirmation of three members keeps the master for ttl − margin after the question', async () => {
    const m = node(0, { holding: true, etcdReachable: false, holder: 'n1' });
    const b = node(1, { holding: false, etcdReachable: false, holder: null });
    await Promise.all([m.p.start(), b.p.start()]);
    const t = performance.now();
    m.p.ask();
    await sleep(200);
    const until = m.got.decisions.at(-1);
    expect(until).toBeDefined();
    expect(until! - t).toBeGreaterThanOrEqual(2700); // from the question's send time
    expect(until! - t).toBeLessThan(2700 + 100);
  });

  it('a port in use: the error is reported in the status, not thrown', async () => {
    const a = node(0, { holding: false, etcdReachable: true, holder: null });
    await a.p.start();
    const again = node(0, { holding: false, etcdReachable: true, holder: null });
    await again.p.start();
    expect(again.p.status({ failsafeLeftMs: undefined, failsafeActive: false, promisedMs: undefined }).error).toMatch(/cannot listen on 127\.0\.0\.1:\d+/);
  });

  it('reads the key file: its first line; a short key or a missing file is a clear error', () => {
    const s = { listen: peers[0]!, peers, keyFile: '/etc/carpool/failsafe.key' };
    expect(readFailsafeKey(s, () => 'abcdefghijklmnopqrstuvwxyz\r\nsecond').toString()).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(() => readFailsafeKey(s, () => 'short')).toThrow('the failsafe key in /etc/carpool/failsafe.key is shorter than 16 bytes');
    expect(() => readFailsafeKey(s, () => { throw new Error('ENOENT'); })).toThrow('cannot read the failsafe key_file /etc/carpool/failsafe.key: ENOENT');
  });
});
