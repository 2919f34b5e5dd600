/**
 * An in-memory LAN for CARP machines: a virtual clock, an event queue, adverts delivered
 * to every other node after `latencyMs` unless the loss function drops them. Deterministic:
 * randomness comes from a seeded generator. Produces a transcript of transitions.
 */
import { CarpMachine, type CarpEffect, type CarpParams } from '../../src/election/carp.js';
import { carpAuthenticator } from '../../src/protocol/carp/hmac.js';
import { checkAdvert, verifyAdvert } from '../../src/protocol/carp/packet.js';
import { parseIPv4 } from '../../src/protocol/inet.js';

export interface SimNodeSpec {
  readonly name: string;
  readonly ip: string;
  readonly advbase?: number;
  readonly advskew?: number;
  readonly preempt?: boolean;
  readonly password?: string;
  readonly deadratio?: number;
  readonly neutral?: boolean;
}

export interface SimNode {
  readonly spec: SimNodeSpec;
  readonly m: CarpMachine;
  alive: boolean;
  linkUp: boolean;
  hasVip: boolean;
  readonly effects: { t: number; e: CarpEffect }[];
  hooks: string[];
  stopped: boolean;
  dropped: Record<string, number>;
}

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class CarpSim {
  now = 0;
  readonly nodes: SimNode[] = [];
  readonly transcript: string[] = [];
  private queue: { t: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  latencyMs = 0.2;
  /** Return true to drop a packet from `from` to `to`. */
  loss: (from: SimNode, to: SimNode) => boolean = () => false;
  readonly rand: () => number;

  constructor(specs: readonly SimNodeSpec[], seed = 1, readonly vip = '10.0.0.100', readonly vhid = 1) {
    this.rand = prng(seed);
    for (const spec of specs) this.add(spec);
  }

  add(spec: SimNodeSpec): SimNode {
    const params: CarpParams = {
      vhid: this.vhid, advbase: spec.advbase ?? 1, advskew: spec.advskew ?? 0, deadratio: spec.deadratio ?? 3,
      preempt: spec.preempt ?? false, neutral: spec.neutral ?? false, srcip: parseIPv4(spec.ip)!,
      auth: carpAuthenticator(new TextEncoder().encode(spec.password ?? 'secret'), [parseIPv4(this.vip)!]),
      manageAddresses: true, shutdownHooks: true, ignoreIfState: false,
      random64: () => BigInt(Math.floor(this.rand() * 2 ** 32)) << 32n | BigInt(Math.floor(this.rand() * 2 ** 32)),
    };
    const node: SimNode = { spec, m: new CarpMachine(params), alive: true, linkUp: true, hasVip: false, effects: [], hooks: [], stopped: false, dropped: {} };
    this.nodes.push(node);
    return node;
  }

  node(name: string): SimNode {
    const n = this.nodes.find((x) => x.spec.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  private schedule(t: number, run: () => void): void {
    this.queue.push({ t, seq: this.seq++, run });
    this.queue.sort((a, b) => a.t - b.t || a.seq - b.seq);
  }

  /** Feed an input to a node and carry out its effects (the role of the daemon shell). */
  input(node: SimNode, input: Parameters<CarpMachine['step']>[0]): void {
    if (!node.alive) return;
    const fx = node.m.step(input, this.now);
    for (const e of fx) this.apply(node, e);
    this.rearm(node);
  }

  private timers = new Map<SimNode, number>();

  private rearm(node: SimNode): void {
    const d = node.m.nextDeadline();
    if (d === undefined || !node.alive) return;
    if (this.timers.get(node) === d) return;
    this.timers.set(node, d);
    this.schedule(Math.max(d, this.now), () => {
      if (this.timers.get(node) !== d) return;
      this.timers.delete(node);
      this.input(node, { type: 'tick' });
    });
  }

  private apply(node: SimNode, e: CarpEffect): void {
    node.effects.push({ t: this.now, e });
    switch (e.type) {
      case 'transition':
        this.transcript.push(`${this.now.toFixed(1).padStart(9)} ${node.spec.name}: ${e.from} -> ${e.to} (${e.reason})`);
        break;
      case 'addAddresses': node.hasVip = true; break;
      case 'removeAddresses': node.hasVip = false; break;
      case 'hook': node.hooks.push(e.which); break;
      case 'stopped': node.stopped = true; break;
      case 'send': {
        if (!node.linkUp) { this.input(node, { type: 'sendResult', ok: false }); break; }
        this.input(node, { type: 'sendResult', ok: true });
        for (const peer of this.nodes) {
          if (peer === node || !peer.alive || !peer.linkUp || this.loss(node, peer)) continue;
          if (e.to !== undefined && e.to !== peer.spec.ip) continue;
          const payload = e.payload;
          this.schedule(this.now + this.latencyMs, () => this.deliver(node, peer, payload));
        }
        break;
      }
      default: break;
    }
  }

  private deliver(from: SimNode, to: SimNode, payload: Uint8Array): void {
    if (!to.alive || !to.linkUp) return;
    const c = checkAdvert(payload, 255);
    const v = c.ok ? verifyAdvert(c.value, '224.0.0.18', '224.0.0.18', to.m.params.auth, to.spec.ip) : c;
    if (!v.ok) { to.dropped[v.reason] = (to.dropped[v.reason] ?? 0) + 1; return; }
    this.input(to, { type: 'advert', advert: v.value, src: parseIPv4(from.spec.ip)!, srcText: from.spec.ip });
  }

  start(node?: SimNode): void {
    for (const n of node ? [node] : this.nodes) this.input(n, { type: 'start' });
  }

  /** Kill a node: it stops sending and receiving; its VIP stays (like SIGKILL). */
  kill(node: SimNode): void {
    node.alive = false;
    this.transcript.push(`${this.now.toFixed(1).padStart(9)} ${node.spec.name}: killed`);
  }

  setLink(node: SimNode, up: boolean): void {
    node.linkUp = up;
    this.transcript.push(`${this.now.toFixed(1).padStart(9)} ${node.spec.name}: link ${up ? 'up' : 'down'}`);
    this.input(node, { type: 'link', up });
  }

  runUntil(t: number): void {
    while (this.queue.length && this.queue[0]!.t <= t) {
      const ev = this.queue.shift()!;
      this.now = Math.max(this.now, ev.t);
      ev.run();
    }
    this.now = t;
  }

  masters(): SimNode[] {
    return this.nodes.filter((n) => n.alive && n.m.state === 'MASTER');
  }
  holders(): SimNode[] {
    return this.nodes.filter((n) => n.hasVip && n.alive);
  }
}
