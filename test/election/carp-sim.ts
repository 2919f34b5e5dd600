/**
 * An in-memory LAN for CARP machines (clock, timers and lossy LAN from test/helpers/sim.ts):
 * adverts delivered to every other node after `latencyMs` through the real receive ladder
 * unless the loss function drops them. Produces a transcript of transitions.
 */
import { CarpMachine, type CarpEffect, type CarpParams } from '../../src/election/carp.js';
import { carpAuthenticator } from '../../src/protocol/carp/hmac.js';
import { checkAdvert, verifyAdvert } from '../../src/protocol/carp/packet.js';
import { parseIPv4 } from '../../src/protocol/inet.js';
import { LanSim } from '../helpers/sim.js';

export interface SimNodeSpec {
  readonly name: string;
  readonly ip: string;
  readonly advbase?: number;
  readonly advskew?: number;
  readonly preempt?: boolean;
  readonly password?: string;
  readonly deadratio?: number;
  readonly neutral?: boolean;
  readonly shutdownHooks?: boolean;
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

export class CarpSim extends LanSim<SimNode> {
  constructor(specs: readonly SimNodeSpec[], seed = 1, readonly vip = '10.0.0.100', readonly vhid = 1) {
    super(seed);
    for (const spec of specs) this.add(spec);
  }

  add(spec: SimNodeSpec): SimNode {
    const params: CarpParams = {
      vhid: this.vhid, advbase: spec.advbase ?? 1, advskew: spec.advskew ?? 0, deadratio: spec.deadratio ?? 3,
      preempt: spec.preempt ?? false, neutral: spec.neutral ?? false, srcip: parseIPv4(spec.ip)!,
      auth: carpAuthenticator(new TextEncoder().encode(spec.password ?? 'secret'), [parseIPv4(this.vip)!]),
      manageAddresses: true, shutdownHooks: spec.shutdownHooks ?? true, ignoreIfState: false,
      random64: () => BigInt(Math.floor(this.rand() * 2 ** 32)) << 32n | BigInt(Math.floor(this.rand() * 2 ** 32)),
    };
    const node: SimNode = { spec, m: new CarpMachine(params), alive: true, linkUp: true, hasVip: false, effects: [], hooks: [], stopped: false, dropped: {} };
    this.nodes.push(node);
    return node;
  }

  /** Feed an input to a node and carry out its effects (the role of the daemon shell). */
  input(node: SimNode, input: Parameters<CarpMachine['step']>[0]): void {
    if (!node.alive) return;
    const fx = node.m.step(input, this.now);
    for (const e of fx) this.apply(node, e);
    if (node.alive) this.rearm(node, node.m.nextDeadline(), () => this.input(node, { type: 'tick' }));
  }

  private apply(node: SimNode, e: CarpEffect): void {
    node.effects.push({ t: this.now, e });
    switch (e.type) {
      case 'transition':
        this.log(`${node.spec.name}: ${e.from} -> ${e.to} (${e.reason})`);
        break;
      case 'addAddresses': node.hasVip = true; break;
      case 'removeAddresses': node.hasVip = false; break;
      case 'hook': node.hooks.push(e.which); break;
      case 'stopped': node.stopped = true; break;
      case 'send': {
        if (!node.linkUp) { this.input(node, { type: 'sendResult', ok: false }); break; }
        this.input(node, { type: 'sendResult', ok: true });
        for (const peer of this.nodes) {
          if (peer === node || !peer.alive || !peer.linkUp || this.loss(node, peer, e.payload)) continue;
          if (e.to !== undefined && e.to !== peer.spec.ip) continue;
          const payload = e.payload;
          this.transmit(() => this.deliver(node, peer, payload));
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

  /** Pull or plug the cable: the machine hears of it (carrier) at once. */
  override setLink(node: SimNode, up: boolean): void {
    super.setLink(node, up);
    this.input(node, { type: 'link', up });
  }

  masters(): SimNode[] {
    return this.nodes.filter((n) => n.alive && n.m.state === 'MASTER');
  }
  holders(): SimNode[] {
    return this.nodes.filter((n) => n.hasVip && n.alive);
  }
}
