/**
 * An in-memory LAN for VRRP machines (the VRRP twin of carp-sim.ts; clock, timers and lossy
 * LAN from test/helpers/sim.ts): adverts delivered after `latencyMs` through the real receive
 * ladder unless the loss function drops them, sync-group coordinators wired as the daemon shell must
 * wire them, and a client whose ARP cache follows gratuitous ARPs so that probe loss can
 * be measured.
 */
import { VrrpMachine } from '../../src/election/vrrp.js';
import { vrrpRxInstance, type VrrpEffect, type VrrpInput, type VrrpParams } from '../../src/election/vrrp-model.js';
import { SyncGroupCoordinator, stepMembers, type SyncEffect } from '../../src/election/sync-group.js';
import { checkAdvert, isMulticast, passwordAuthData, sameBytes } from '../../src/protocol/vrrp/packet.js';
import { formatIP, parseIP, type Family } from '../../src/protocol/inet.js';
import type { GarpSettings } from '../../src/config/model.js';
import { LanSim } from '../helpers/sim.js';

/** Debian keepalived 2.2.7 defaults (man page; lower-priority GARPs seen in keepalived-v2-partition.pcap). */
export const KEEPALIVED_227_GARP: GarpSettings = {
  masterDelayMs: 5000, masterRepeat: 5, masterRefreshMs: 0, masterRefreshRepeat: 1, lowerPrioRepeat: 5, lowerPrioDelayMs: 5000, intervalMs: 0,
};
/** No re-announce on a lower-priority advert (keepalived `garp_lower_prio_repeat 0`). */
export const NO_LOWER_PRIO_GARP: GarpSettings = { ...KEEPALIVED_227_GARP, lowerPrioRepeat: 0, lowerPrioDelayMs: 0 };
/** What the simulator uses unless told: one re-announce GARP per lower-priority advert. */
export const CARPOOL_GARP: GarpSettings = { ...NO_LOWER_PRIO_GARP, lowerPrioRepeat: 1 };

export interface SimInstanceSpec {
  readonly vrid?: number;
  readonly priority?: number;
  readonly version?: 2 | 3;
  readonly intervalMs?: number;
  readonly preempt?: boolean;
  readonly preemptDelayMs?: number;
  readonly initialState?: 'MASTER' | 'BACKUP';
  readonly password?: string;
  /** Unicast peer addresses (one advert per peer instead of the group). */
  readonly unicastPeers?: readonly string[];
  readonly lowerPrioNoAdvert?: boolean;
  readonly higherPrioSendAdvert?: boolean;
  readonly garp?: Partial<GarpSettings>;
  readonly syncGroup?: string;
  readonly v3ChecksumAsV2?: boolean;
  readonly routes?: boolean;
  readonly downTimerAdverts?: number;
}

export interface SimNodeSpec {
  readonly name: string;
  readonly ip: string;
  /** One instance per entry; default a single instance with the sim defaults. */
  readonly instances?: readonly SimInstanceSpec[];
  /** Shorthand for a single instance. */
  readonly priority?: number;
  readonly preempt?: boolean;
  readonly preemptDelayMs?: number;
  readonly initialState?: 'MASTER' | 'BACKUP';
  readonly password?: string;
  readonly intervalMs?: number;
  readonly garp?: Partial<GarpSettings>;
}

export interface SimInstance {
  readonly node: SimNode;
  readonly name: string;
  readonly m: VrrpMachine;
  hasVip: boolean;
  hasRoutes: boolean;
  stopped: boolean;
  readonly effects: { t: number; e: VrrpEffect }[];
  readonly notifies: string[];
}

export interface SimNode {
  readonly spec: SimNodeSpec;
  readonly ip: Uint8Array;
  readonly instances: SimInstance[];
  readonly groups: Map<string, { coord: SyncGroupCoordinator; effects: SyncEffect[] }>;
  /** Member name -> machine, and member -> its group's coordinator (what the shell keeps). */
  readonly machines: Map<string, VrrpMachine>;
  readonly groupOf: Map<string, SyncGroupCoordinator>;
  alive: boolean;
  linkUp: boolean;
  readonly dropped: Record<string, number>;
}

export interface SimOptions {
  readonly version?: 2 | 3;
  readonly family?: Family;
  readonly seed?: number;
  readonly intervalMs?: number;
  readonly garp?: Partial<GarpSettings>;
}

export class VrrpSim extends LanSim<SimNode> {
  /** Client's view per VRID: which node its ARP cache points at for the VIP. */
  readonly arpCache = new Map<number, SimNode>();
  readonly probes = { sent: 0, lost: 0 };
  private readonly work: [SimInstance, VrrpInput][] = [];
  private draining = false;
  readonly version: 2 | 3;
  readonly family: Family;
  readonly group: Uint8Array;

  constructor(specs: readonly SimNodeSpec[], readonly opts: SimOptions = {}) {
    super(opts.seed ?? 1);
    this.version = opts.version ?? 2;
    this.family = opts.family ?? 4;
    this.group = parseIP(this.family === 4 ? '224.0.0.18' : 'ff02::12')!.bytes;
    for (const s of specs) this.add(s);
  }

  add(spec: SimNodeSpec): SimNode {
    const node: SimNode = { spec, ip: parseIP(spec.ip)!.bytes, instances: [], groups: new Map(), machines: new Map(), groupOf: new Map(), alive: true, linkUp: true, dropped: {} };
    this.nodes.push(node);
    const specs = spec.instances ?? [{
      priority: spec.priority, preempt: spec.preempt, preemptDelayMs: spec.preemptDelayMs, initialState: spec.initialState,
      password: spec.password, intervalMs: spec.intervalMs, garp: spec.garp,
    }];
    for (const is of specs) {
      const version = is.version ?? this.version;
      const vrid = is.vrid ?? 1;
      const params: VrrpParams = {
        name: `VI_${vrid}`, version, family: this.family, vrid, priority: is.priority ?? 100,
        advertIntervalMs: is.intervalMs ?? this.opts.intervalMs ?? 1000, initialState: is.initialState ?? 'BACKUP',
        preempt: is.preempt ?? true, preemptDelayMs: is.preemptDelayMs ?? 0,
        authData: is.password !== undefined ? passwordAuthData(is.password) : undefined,
        srcip: node.ip, mcastGroup: this.group, unicastPeers: (is.unicastPeers ?? []).map((p) => parseIP(p)!.bytes), v3ChecksumAsV2: is.v3ChecksumAsV2 ?? false,
        addresses: [parseIP(this.family === 4 ? `10.0.${vrid}.100` : `fd00::${vrid}:100`)!.bytes],
        routes: is.routes ?? false,
        garp: { ...CARPOOL_GARP, ...this.opts.garp, ...spec.garp, ...is.garp },
        lowerPrioNoAdvert: is.lowerPrioNoAdvert ?? false, higherPrioSendAdvert: is.higherPrioSendAdvert ?? false,
        downTimerAdverts: is.downTimerAdverts ?? 3, syncGroup: is.syncGroup !== undefined,
      };
      const inst: SimInstance = { node, name: `${spec.name}/${params.name}`, m: new VrrpMachine(params), hasVip: false, hasRoutes: false, stopped: false, effects: [], notifies: [] };
      node.instances.push(inst);
      node.machines.set(inst.name, inst.m);
    }
    const groupNames = new Set(specs.map((is) => is.syncGroup).filter((g): g is string => g !== undefined));
    for (const gname of groupNames) {
      const members = node.instances.filter((_, k) => specs[k]!.syncGroup === gname).map((i) => i.name);
      const coord = new SyncGroupCoordinator(gname, members);
      node.groups.set(gname, { coord, effects: [] });
      for (const m of members) node.groupOf.set(m, coord);
    }
    return node;
  }

  inst(name: string, vrid = 1): SimInstance {
    const i = this.node(name).instances.find((x) => x.m.params.vrid === vrid);
    if (!i) throw new Error(`no instance ${name}/${vrid}`);
    return i;
  }

  /**
   * Feed an input to an instance and carry out effects (the daemon shell's role): through
   * `stepMembers`, so sync-group decisions reach the other members; inputs raised by
   * effects (send results) are queued and run afterwards.
   */
  input(inst: SimInstance, input: VrrpInput): void {
    this.work.push([inst, input]);
    if (this.draining) return;
    this.draining = true;
    try {
      let next: [SimInstance, VrrpInput] | undefined;
      while ((next = this.work.shift())) {
        const [i, inp] = next;
        const node = i.node;
        if (!node.alive) continue;
        const r = stepMembers(node.machines, (m) => node.groupOf.get(m), i.name, inp, this.now);
        for (const { member, effect } of r.effects) this.apply(node.instances.find((x) => x.name === member)!, effect);
        for (const { group, effect } of r.group) {
          node.groups.get(group)!.effects.push(effect);
          if (effect.type === 'notify') this.log(`${node.spec.name} group ${group}: notify ${effect.which}`);
        }
        for (const x of node.instances) if (node.alive) this.rearm(x, x.m.nextDeadline(), () => this.input(x, { type: 'tick' }));
      }
    } finally {
      this.draining = false;
    }
  }

  private apply(inst: SimInstance, e: VrrpEffect): void {
    inst.effects.push({ t: this.now, e });
    const node = inst.node;
    switch (e.type) {
      case 'transition':
        this.log(`${inst.name}: ${e.from} -> ${e.to} (${e.reason})`);
        break;
      case 'addAddresses': inst.hasVip = true; break;
      case 'removeAddresses': inst.hasVip = false; break;
      case 'addRoutes': inst.hasRoutes = true; break;
      case 'removeRoutes': inst.hasRoutes = false; break;
      case 'notify': inst.notifies.push(e.which); break;
      case 'stopped': inst.stopped = true; this.log(`${inst.name}: stopped`); break;
      case 'garp': {
        if (!node.linkUp) break;
        const vrid = inst.m.params.vrid;
        this.transmit(() => {
          if (inst.hasVip && node.alive) this.arpCache.set(vrid, node);
        });
        break;
      }
      case 'send': {
        if (!node.linkUp) { this.work.push([inst, { type: 'sendResult', ok: false }]); break; }
        this.work.push([inst, { type: 'sendResult', ok: true }]);
        // One send effect per destination: the group reaches everyone, a unicast copy its peer.
        for (const to of this.nodes) {
          if (to === node || !to.alive || !to.linkUp) continue;
          if (!isMulticast(e.dst) && !sameBytes(e.dst, to.ip)) continue;
          if (this.loss(node, to, e.payload)) continue;
          const { dst, payload } = e;
          this.transmit(() => this.deliver(node, to, dst, payload));
        }
        break;
      }
      default: break;
    }
  }

  private deliver(from: SimNode, to: SimNode, dst: Uint8Array, payload: Uint8Array): void {
    if (!to.alive || !to.linkUp) return;
    const v = checkAdvert({ family: this.family, src: from.ip, dst, ttl: 255, payload }, (vrid) => {
      const i = to.instances.find((x) => x.m.params.vrid === vrid);
      return i ? vrrpRxInstance(i.m.params) : undefined;
    });
    if (!v.ok) { to.dropped[v.reason] = (to.dropped[v.reason] ?? 0) + 1; return; }
    const inst = to.instances.find((x) => x.m.params.vrid === v.value.advert.vrid)!;
    this.input(inst, { type: 'advert', advert: v.value.advert, src: from.ip });
  }

  start(node?: SimNode): void {
    for (const n of node ? [node] : this.nodes) for (const i of n.instances) this.input(i, { type: 'start' });
  }

  /** Send the client probe to the VIP of `vrid` every `everyMs` until `untilMs`. */
  probe(vrid: number, everyMs: number, untilMs: number): void {
    const tick = () => {
      if (this.now > untilMs) return;
      this.probes.sent++;
      const n = this.arpCache.get(vrid);
      const ok = n !== undefined && n.alive && n.instances.some((i) => i.m.params.vrid === vrid && i.hasVip);
      if (!ok) this.probes.lost++;
      this.schedule(this.now + everyMs, tick);
    };
    this.schedule(this.now, tick);
  }

  masters(vrid = 1): SimInstance[] {
    return this.nodes.filter((n) => n.alive).flatMap((n) => n.instances).filter((i) => i.m.params.vrid === vrid && i.m.state === 'MASTER');
  }

  holders(vrid = 1): SimInstance[] {
    return this.nodes.filter((n) => n.alive).flatMap((n) => n.instances).filter((i) => i.m.params.vrid === vrid && i.hasVip);
  }

  /** Time of the first transition of `inst` to `to` after `after`. */
  firstTransition(inst: SimInstance, to: string, after = -1): number | undefined {
    return inst.effects.find((x) => x.t > after && x.e.type === 'transition' && x.e.to === to)?.t;
  }

  lastSend(inst: SimInstance, before = Infinity): number | undefined {
    return inst.effects.filter((x) => x.t <= before && x.e.type === 'send').at(-1)?.t;
  }
}

export const ipText = (b: Uint8Array): string => formatIP(b);
