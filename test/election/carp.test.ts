import { describe, expect, it } from 'vitest';
import { golden } from '../helpers/golden.js';
import fc from 'fast-check';
import { CarpSim } from './carp-sim.js';
import { CarpMachine, ucarpTieKey } from '../../src/election/carp.js';
import { carpAuthenticator } from '../../src/protocol/carp/hmac.js';
import { checkAdvert, decodeAdvert } from '../../src/protocol/carp/packet.js';
import { parseIPv4 } from '../../src/protocol/inet.js';

describe('CARP election (ucarp semantics)', () => {
  it('elects the node with the shortest interval and fails over when it dies', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1', advskew: 0 }, { name: 'b', ip: '10.0.0.2', advskew: 50 }]);
    sim.start();
    sim.runUntil(10_000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['a']);
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['a']);
    const killedAt = sim.now;
    sim.kill(sim.node('a'));
    sim.runUntil(killedAt + 5000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['b']);
    // b declares a dead 3 s + 50/256 s after a's last advert.
    const took = sim.node('b').effects.find((x) => x.e.type === 'transition' && x.e.to === 'MASTER')!;
    const lastAdvert = Math.max(...sim.node('a').effects.filter((x) => x.e.type === 'send').map((x) => x.t));
    expect(took.t - lastAdvert).toBeCloseTo(3000 + 50 * 1000 / 256, 0);
    golden('scenarios/failover-basic.txt', sim.transcript);
  });

  it('starts as BACKUP, runs the down hook unless neutral, and takes over after master-down', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1' }, { name: 'n', ip: '10.0.0.9', advskew: 100, neutral: true }]);
    sim.start();
    sim.runUntil(100);
    expect(sim.node('a').hooks).toEqual(['down']);
    expect(sim.node('n').hooks).toEqual([]);
    sim.runUntil(3100);
    expect(sim.node('a').m.state).toBe('MASTER');
    expect(sim.node('a').hooks).toEqual(['down', 'up']);
  });

  it('sends GARP on takeover and a second one with the third advert (ucarp order)', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1' }]);
    sim.start();
    sim.runUntil(6000);
    const kinds = sim.node('a').effects.filter((x) => ['send', 'garp'].includes(x.e.type)).slice(0, 5).map((x) => x.e.type);
    expect(kinds).toEqual(['send', 'garp', 'send', 'send', 'garp']);
  });

  it('preempts a slower master only with --preempt', () => {
    for (const preempt of [true, false]) {
      const sim = new CarpSim([{ name: 'slow', ip: '10.0.0.2', advskew: 100 }]);
      sim.start();
      sim.runUntil(5000);
      const fast = sim.add({ name: 'fast', ip: '10.0.0.1', advskew: 0, preempt });
      sim.start(fast);
      sim.runUntil(15_000);
      expect(sim.masters().map((n) => n.spec.name)).toEqual([preempt ? 'fast' : 'slow']);
      expect(sim.holders()).toHaveLength(1);
    }
  });

  it('a master yields to a faster master even without preempt (ucarp §3.5)', () => {
    const sim = new CarpSim([{ name: 'slow', ip: '10.0.0.2', advskew: 100 }, { name: 'fast', ip: '10.0.0.1', advskew: 0 }]);
    // Both start master (partitioned), then the partition heals.
    sim.loss = () => true;
    sim.start();
    sim.runUntil(5000);
    expect(sim.masters()).toHaveLength(2);
    sim.loss = () => false;
    sim.runUntil(7000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['fast']);
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['fast']);
  });

  it('a usurper that yields repeats its advert, so the rightful master re-announces even when adverts are lost', () => {
    const sim = new CarpSim([{ name: 'slow', ip: '10.0.0.2', advskew: 100 }, { name: 'fast', ip: '10.0.0.1', advskew: 0 }]);
    sim.loss = () => true;
    sim.start();
    sim.runUntil(5000);
    const healed = sim.now;
    // The first two adverts from the usurper after the heal are lost on the way to the master.
    let lostFromSlow = 0;
    sim.loss = (from) => from.spec.name === 'slow' && lostFromSlow++ < 2;
    sim.runUntil(healed + 8000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['fast']);
    const slow = sim.node('slow');
    const yielded = slow.effects.find((x) => x.t >= healed && x.e.type === 'transition' && x.e.to === 'BACKUP')!;
    const sentAfter = slow.effects.filter((x) => x.t >= yielded.t && x.e.type === 'send').length;
    expect(sentAfter).toBe(1 + 3);
    // The echoes go to the master only (unicast); other backups never see them.
    expect(slow.effects.filter((x) => x.t > yielded.t && x.e.type === 'send').map((x) => (x.e as { to?: string }).to)).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1']);
    // The master heard at least one of them and re-announced itself to the clients.
    const garps = sim.node('fast').effects.filter((x) => x.t > healed && x.e.type === 'garp');
    expect(garps.length).toBeGreaterThan(0);
  });

  it('breaks ties on equal intervals like ucarp on x86: 10.99.2.1 beats 10.99.1.2', () => {
    // The same outcome as the genuine capture's vhid-7 run (testdata/ucarp-a.pcap).
    expect(ucarpTieKey(parseIPv4('10.99.2.1')!)).toBeLessThan(ucarpTieKey(parseIPv4('10.99.1.2')!));
    for (const order of [['x', 'y'], ['y', 'x']]) {
      const specs = { x: { name: 'x', ip: '10.99.1.2' }, y: { name: 'y', ip: '10.99.2.1' } } as const;
      const sim = new CarpSim(order.map((k) => specs[k as 'x' | 'y']));
      sim.loss = () => true;
      sim.start();
      sim.runUntil(4000);
      sim.loss = () => false;
      sim.runUntil(8000);
      expect(sim.masters().map((n) => n.spec.ip)).toEqual(['10.99.2.1']);
    }
  });

  it('supports sub-second adverts (advbase 0, advskew > 0)', () => {
    const sim = new CarpSim([{ name: 'm', ip: '10.0.0.1', advbase: 0, advskew: 3 }, { name: 'b', ip: '10.0.0.2', advbase: 0, advskew: 9 }]);
    sim.start();
    sim.runUntil(1000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['m']);
    const sends = sim.node('m').effects.filter((x) => x.e.type === 'send').map((x) => x.t);
    const gaps = sends.slice(1).map((t, i) => t - sends[i]!);
    expect(Math.min(...gaps.slice(1))).toBeCloseTo(11.718, 2);
    const t0 = sim.now;
    sim.kill(sim.node('m'));
    sim.runUntil(t0 + 200);
    const took = sim.node('b').effects.find((x) => x.e.type === 'transition' && x.e.to === 'MASTER' && x.t > t0)!;
    // master-down = 0*3 + 9/256 s = 35.16 ms after the last advert heard.
    expect(took.t - t0).toBeLessThanOrEqual(35.2 + 0.5);
  });

  it('ignores adverts with a wrong password (counted) and both become master', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1', password: 'right' }, { name: 'b', ip: '10.0.0.2', password: 'wrong', advskew: 10 }]);
    sim.start();
    sim.runUntil(6000);
    expect(sim.masters()).toHaveLength(2);
    expect(sim.node('b').dropped.digest).toBeGreaterThan(1);
  });

  it('steps down with a bow-out: the backup takes over at once, addresses released after it is heard', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1' }, { name: 'b', ip: '10.0.0.2', advskew: 50 }]);
    sim.start();
    sim.runUntil(6000);
    const t0 = sim.now;
    sim.input(sim.node('a'), { type: 'stepDown', reason: 'operator' });
    // Make before break: right after the step-down both still hold the address.
    expect(sim.node('a').hasVip).toBe(true);
    sim.runUntil(t0 + 5);
    expect(sim.node('b').m.state).toBe('MASTER');
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['b']);
    const release = sim.node('a').effects.find((x) => x.e.type === 'removeAddresses')!;
    expect(release.t - t0).toBeLessThan(2);
    // ucarp holds the step-down for 3 s; a has no preempt, so b stays master.
    sim.runUntil(t0 + 20_000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['b']);
  });

  it('a demoted instance stays backup at sub-second adverts until the demotion is lifted', () => {
    // advbase 0: a better backup normally takes over from any slower master (its dead time
    // is shorter than the master's interval). Demoted, it counts with advskew 240 and waits.
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1', advbase: 0, advskew: 20 }, { name: 'b', ip: '10.0.0.2', advbase: 0, advskew: 50 }]);
    sim.start();
    sim.runUntil(2000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['a']);
    const t0 = sim.now;
    sim.input(sim.node('a'), { type: 'demote', demoted: true, reason: 'operator' });
    sim.runUntil(t0 + 10_000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['b']);
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['b']);
    sim.input(sim.node('a'), { type: 'demote', demoted: false, reason: 'operator' });
    sim.runUntil(t0 + 12_000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['a']);
  });

  it('on shutdown bows out and reports stopped once the successor is heard', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1' }, { name: 'b', ip: '10.0.0.2', advskew: 50 }]);
    sim.start();
    sim.runUntil(6000);
    const t0 = sim.now;
    sim.input(sim.node('a'), { type: 'shutdown' });
    expect(sim.node('a').stopped).toBe(false);
    sim.runUntil(t0 + 10);
    expect(sim.node('a').stopped).toBe(true);
    expect(sim.node('a').hasVip).toBe(false);
    expect(sim.node('b').m.state).toBe('MASTER');
    // Alone, a master still stops within min(master-down, 1 s).
    const lone = new CarpSim([{ name: 'z', ip: '10.0.0.3' }]);
    lone.start();
    lone.runUntil(5000);
    lone.input(lone.node('z'), { type: 'shutdown' });
    lone.runUntil(6001);
    expect(lone.node('z').stopped).toBe(true);
    expect(lone.node('z').hooks.at(-1)).toBe('down');
  });

  it('goes BACKUP on carrier loss and re-elects when the link returns', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1', preempt: true }, { name: 'b', ip: '10.0.0.2', advskew: 50 }]);
    sim.start();
    sim.runUntil(6000);
    sim.setLink(sim.node('a'), false);
    sim.runUntil(10_000);
    expect(sim.node('a').m.state).toBe('BACKUP');
    expect(sim.node('a').hasVip).toBe(false);
    expect(sim.node('b').m.state).toBe('MASTER');
    sim.setLink(sim.node('a'), true);
    sim.runUntil(14_000);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['a']);
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['a']);
    golden('scenarios/link-cut-preempt.txt', sim.transcript);
  });

  it('advertises skew 240 after three failed sends and recovers after three good ones', () => {
    const m = new CarpMachine({
      vhid: 1, advbase: 1, advskew: 0, deadratio: 3, preempt: false, neutral: false, srcip: parseIPv4('10.0.0.1')!,
      auth: carpAuthenticator(new Uint8Array([1]), [parseIPv4('10.0.0.100')!]), manageAddresses: true, shutdownHooks: true, ignoreIfState: false,
      random64: () => 7n,
    });
    m.step({ type: 'start' }, 0);
    m.step({ type: 'tick' }, 3001);
    for (let i = 0; i < 3; i++) m.step({ type: 'sendResult', ok: false }, 3001);
    const fx = m.step({ type: 'tick' }, 5000);
    const sent = fx.find((e) => e.type === 'send');
    expect(sent && decodeAdvert(sent.payload).advskew).toBe(240);
    for (let i = 0; i < 3; i++) m.step({ type: 'sendResult', ok: true }, 5000);
    expect(m.status().advskewEffective).toBe(0);
  });

  it('uses a random counter until it hears a peer, then continues from the peer counter', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1' }, { name: 'b', ip: '10.0.0.2', advskew: 50 }]);
    sim.start();
    sim.runUntil(8000);
    const ctr = (n: string) => sim.node(n).effects.filter((x) => x.e.type === 'send')
      .map((x) => { const c = checkAdvert((x.e as { payload: Uint8Array }).payload, 255); return c.ok ? Buffer.from(c.value.counter).readBigUInt64BE() : -1n; });
    const a = ctr('a');
    // b never sends while a is master, so a's counters are random... until it hears nobody: all random.
    expect(new Set(a).size).toBe(a.length);
    sim.kill(sim.node('a'));
    sim.runUntil(20_000);
    const b = ctr('b');
    // b heard a's last counter; its adverts continue from there, +1 each.
    expect(b[1]! - b[0]!).toBe(1n);
    expect(b[0]! - a.at(-1)!).toBe(1n);
  });
});

describe('CARP standby', () => {
  it('a master in standby hands over at once and a standby backup never takes over', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1', preempt: true }, { name: 'b', ip: '10.0.0.2', advskew: 50 }]);
    sim.start();
    sim.runUntil(6000);
    sim.input(sim.node('a'), { type: 'standby', on: true, reason: 'group failed' });
    sim.runUntil(6010);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['b']);
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['b']);
    // No ping-pong: a (preempt, faster) stays backup while in standby...
    sim.runUntil(20_000);
    expect(sim.node('a').m.state).toBe('BACKUP');
    // ...even when b dies.
    sim.kill(sim.node('b'));
    sim.runUntil(30_000);
    expect(sim.node('a').m.state).toBe('BACKUP');
    sim.input(sim.node('a'), { type: 'standby', on: false, reason: 'cleanup' });
    sim.runUntil(35_000);
    expect(sim.node('a').m.state).toBe('MASTER');
  });
});

describe('CARP live reload', () => {
  it('reconfigure changes the advertised skew without a transition; the backup follows the master', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1', advskew: 0 }, { name: 'b', ip: '10.0.0.2', advskew: 50 }]);
    sim.start();
    sim.runUntil(6000);
    const a = sim.node('a');
    const before = a.effects.filter((x) => x.e.type === 'transition').length;
    const fx = a.m.step({ type: 'reconfigure', params: { ...a.m.params, advskew: 30 } }, sim.now);
    expect(fx).toEqual([{ type: 'log', level: 'info', message: 'Now advertising advbase 1 advskew 30' }]);
    sim.runUntil(20_000);
    expect(a.m.state).toBe('MASTER');
    expect(a.effects.filter((x) => x.e.type === 'transition')).toHaveLength(before);
    expect(sim.node('b').m.state).toBe('BACKUP');
    const adverts = a.effects.filter((x) => x.e.type === 'send' && x.t > 7000).map((x) => decodeAdvert((x.e as { payload: Uint8Array }).payload));
    expect(adverts.length).toBeGreaterThan(5);
    expect(adverts.every((ad) => ad?.advskew === 30)).toBe(true);
  });

  it('reconfigure refuses another vhid (that is a replacement)', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1' }]);
    const a = sim.node('a');
    expect(() => a.m.step({ type: 'reconfigure', params: { ...a.m.params, vhid: 9 } }, 0)).toThrow(/vhid/);
  });

  it('a removed master bows out and releases make-before-break even without shutdown hooks', () => {
    const sim = new CarpSim([{ name: 'a', ip: '10.0.0.1', advskew: 0, shutdownHooks: false }, { name: 'b', ip: '10.0.0.2', advskew: 50 }]);
    sim.start();
    sim.runUntil(6000);
    sim.input(sim.node('a'), { type: 'shutdown', release: true });
    const at = sim.now;
    // Still holding until b is heard as master: no gap for clients.
    expect(sim.node('a').m.state).toBe('BACKUP');
    expect(sim.node('a').hasVip).toBe(true);
    sim.runUntil(at + 1500);
    expect(sim.masters().map((n) => n.spec.name)).toEqual(['b']);
    expect(sim.holders().map((n) => n.spec.name)).toEqual(['b']);
    expect(sim.node('a').effects.some((x) => x.e.type === 'stopped')).toBe(true);
  });
});

describe('CARP election properties', () => {
  it('after the network settles there is exactly one master and one address holder', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ skew: fc.integer({ min: 0, max: 200 }), preempt: fc.boolean(), last: fc.integer({ min: 1, max: 254 }) }), { minLength: 2, maxLength: 4 }),
      fc.double({ min: 0, max: 0.6, noNaN: true }),
      fc.integer(),
      (nodes, lossRate, seed) => {
        const uniq = [...new Map(nodes.map((n) => [n.last, n])).values()];
        if (uniq.length < 2) return true;
        const sim = new CarpSim(uniq.map((n, i) => ({ name: `n${i}`, ip: `10.0.0.${n.last}`, advskew: n.skew, preempt: n.preempt })), seed);
        sim.loss = () => sim.rand() < lossRate;
        sim.start();
        sim.runUntil(20_000);
        sim.loss = () => false;
        sim.runUntil(40_000);
        return sim.masters().length === 1 && sim.holders().length === 1 && sim.holders()[0] === sim.masters()[0];
      }), { numRuns: 150 });
  });

  it('no input sequence, however hostile, makes the machine throw', () => {
    const auth = carpAuthenticator(new Uint8Array([1, 2]), [parseIPv4('10.0.0.100')!]);
    const input = fc.oneof(
      fc.constant({ type: 'tick' as const }), fc.constant({ type: 'start' as const }), fc.constant({ type: 'shutdown' as const }),
      fc.record({ type: fc.constant('link' as const), up: fc.boolean() }),
      fc.record({ type: fc.constant('stepDown' as const), reason: fc.constant('x') }),
      fc.record({ type: fc.constant('sendResult' as const), ok: fc.boolean() }),
      fc.record({ type: fc.constant('demote' as const), demoted: fc.boolean(), reason: fc.constant('x') }),
      fc.record({ base: fc.integer({ min: 0, max: 255 }), skew: fc.integer({ min: 0, max: 255 }), last: fc.integer({ min: 0, max: 255 }) })
        .map(({ base, skew, last }) => ({ type: 'advert' as const, advert: decodeAdvert(Uint8Array.from({ length: 36 }, (_, i) => (i === 5 ? base : i === 2 ? skew : i === 0 ? 0x21 : 1))), src: Uint8Array.of(10, 0, 0, last), srcText: `10.0.0.${last}` })),
    );
    fc.assert(fc.property(fc.array(fc.tuple(input, fc.double({ min: 0, max: 100, noNaN: true })), { maxLength: 60 }), (steps) => {
      const m = new CarpMachine({ vhid: 1, advbase: 0, advskew: 5, deadratio: 3, preempt: true, neutral: false, srcip: parseIPv4('10.0.0.1')!, auth, manageAddresses: true, shutdownHooks: true, ignoreIfState: false, random64: () => 1n });
      let now = 0;
      for (const [inp, dt] of steps) { now += dt; m.step(inp, now); }
      return true;
    }), { numRuns: 2000 });
  });
});
