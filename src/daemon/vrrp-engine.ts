/**
 * The shell around all VRRP instances of a daemon: one VrrpMachine each, stepped through
 * `stepMembers` so sync groups decide together; trackers (scripts, files, interfaces)
 * turned into priority / FAULT inputs; effects carried out (adverts, addresses, routes,
 * gratuitous ARP / unsolicited NA bursts, notify hooks in order). One timer per instance,
 * re-armed from `nextDeadline()`.
 */
import type { CarpoolConfig, NotifyHooks, SyncGroup, VirtualAddress, VirtualRoute, VrrpInstance } from '../config/model.js';
import { SyncGroupCoordinator, stepMembers, type SyncEffect } from '../election/sync-group.js';
import {
  TrackerBoard, fileTracker, instanceTrackUses, interfaceTracker, scriptTracker, type TrackUse,
} from '../election/tracking.js';
import { VrrpMachine, vrrpParams, vrrpRxInstance, type VrrpEffect, type VrrpInput, type VrrpParams } from '../election/vrrp.js';
import { gratuitousArp, unsolicitedNeighbourAdvert } from '../protocol/arp.js';
import { parseIP } from '../protocol/inet.js';
import { checkAdvert, VRRP_DROP_REASONS, type VrrpRxInstance } from '../protocol/vrrp/packet.js';
import { addRoute, deleteRoute, interfaceInfo } from '../net/link.js';
import type { RawPacket } from '../net/raw-socket.js';
import type { AddressManager } from './addresses.js';
import type { HookQueue } from './hooks.js';
import type { Logger } from './logger.js';
import type { Port, PortListener } from './port.js';
import type { InstanceStatus } from '../control/status.js';
import { TrackerRunner, type TrackerResult } from './trackers.js';

export interface VrrpPorts {
  /** The receiving port of (device, family). */
  readonly rx: Port;
  /** Where adverts and GARPs leave: the VMAC interface's port with use_vmac, else `rx`. */
  readonly tx: Port;
}

export interface VrrpEngineDeps {
  readonly log: Logger;
  readonly hooks: HookQueue;
  readonly addresses: AddressManager;
  readonly now: () => number;
  readonly onTransition?: (name: string, from: string, to: string, reason: string) => void;
}

const RT_TYPES: Readonly<Record<string, number>> = { unicast: 1, blackhole: 6, unreachable: 7, prohibit: 8 };

/** One VRRP instance in the shell. */
class VrrpInstanceShell implements PortListener {
  readonly id: number;
  readonly rx: VrrpRxInstance;
  readonly params: VrrpParams;
  timer: NodeJS.Timeout | undefined;
  armedFor: number | undefined;
  readonly drops: Record<string, number> = Object.fromEntries(VRRP_DROP_REASONS.filter((r) => r !== 'vrid').map((r) => [r, 0]));
  addressMismatches = 0;
  transitions = 0;
  lastTransitionAt: string | null = null;
  holds = false;
  readonly uses: TrackUse[];

  constructor(
    readonly cfg: VrrpInstance,
    readonly src: string,
    readonly ports: VrrpPorts,
    private readonly engine: VrrpEngine,
    uses: TrackUse[],
  ) {
    this.id = cfg.vrid;
    this.params = vrrpParams(cfg, src);
    this.rx = vrrpRxInstance(this.params);
    this.uses = uses;
  }

  receive(pkt: RawPacket): boolean {
    const version = pkt.payload.length >= 1 ? pkt.payload[0]! >> 4 : 0;
    if (version !== this.cfg.version) return false; // CARP (v2 header) or the other VRRP version
    if (pkt.src === this.src) return true;
    const src = parseIP(pkt.src);
    const dst = parseIP(pkt.dst);
    if (!src || !dst) return true;
    const v = checkAdvert({ family: pkt.family, src: src.bytes, dst: dst.bytes, ttl: pkt.ttl, payload: pkt.payload },
      (vrid) => (vrid === this.id ? this.rx : undefined));
    if (!v.ok) {
      this.drops[v.reason] = (this.drops[v.reason] ?? 0) + 1;
      this.engine.log.logLimited('warning', `(${this.cfg.name}) dropped advert from ${pkt.src}: ${v.reason}`);
      return true;
    }
    if (v.value.addressMismatch) {
      this.addressMismatches++;
      this.engine.log.logLimited('warning', `(${this.cfg.name}) advert from ${pkt.src} lists other virtual addresses than ours (accepted, as keepalived)`);
    }
    this.engine.input(this.cfg.name, { type: 'advert', advert: v.value.advert, src: src.bytes });
    return true;
  }
}

export class VrrpEngine {
  private readonly shells = new Map<string, VrrpInstanceShell>();
  private readonly machines = new Map<string, VrrpMachine>();
  private readonly groups = new Map<string, SyncGroupCoordinator>();
  private readonly groupCfg = new Map<string, SyncGroup>();
  private readonly board: TrackerBoard;
  private readonly trackers: TrackerRunner;
  private readonly verdicts = new Map<string, { priority: number; fault: boolean }>();
  private readonly pending: [string, VrrpInput][] = [];
  private stepping = false;
  private readonly stopWaiters = new Map<string, () => void>();
  private readonly routesHeld = new Set<string>();

  constructor(private readonly config: CarpoolConfig, private readonly deps: VrrpEngineDeps) {
    this.board = new TrackerBoard([
      ...config.vrrpScripts.map(scriptTracker),
      ...config.trackFiles.map(fileTracker),
    ]);
    this.trackers = new TrackerRunner(deps.log, (r) => this.onTrackerResult(r));
    for (const g of config.syncGroups) {
      this.groupCfg.set(g.name, g);
      this.groups.set(g.name, new SyncGroupCoordinator(g.name, g.members));
    }
  }

  get log(): Logger {
    return this.deps.log;
  }

  get size(): number {
    return this.shells.size;
  }

  /** Register an instance (before `start`). */
  add(cfg: VrrpInstance, src: string, ports: VrrpPorts): PortListener {
    const group = cfg.syncGroup ? this.groupCfg.get(cfg.syncGroup) : undefined;
    const { uses, notes } = instanceTrackUses(cfg, group);
    for (const n of notes) this.log.warning(`(${cfg.name}) ${n}`);
    for (const u of uses) if (u.kind === 'interface') this.board.add(interfaceTracker(u.name));
    const shell = new VrrpInstanceShell(cfg, src, ports, this, uses);
    this.shells.set(cfg.name, shell);
    this.machines.set(cfg.name, new VrrpMachine(shell.params));
    return shell;
  }

  /** Interface states known at start; trackers evaluated; machines started. */
  start(linkRunning: (ifname: string) => boolean): void {
    for (const s of this.shells.values()) {
      for (const u of s.uses) if (u.kind === 'interface') this.board.observe('interface', u.name, { kind: 'interface', ok: linkRunning(u.name) });
    }
    const used = new Set([...this.shells.values()].flatMap((s) => s.uses.map((u) => `${u.kind}:${u.name}`)));
    for (const sc of this.config.vrrpScripts) if (used.has(`script:${sc.name}`)) this.trackers.startScript(sc);
    for (const f of this.config.trackFiles) if (used.has(`file:${f.name}`)) this.trackers.startFile(f);
    // Feed the initial verdicts before `start`, so a faulty instance never becomes master.
    for (const s of this.shells.values()) this.reevaluate(s, true);
    for (const name of this.shells.keys()) this.input(name, { type: 'start' });
  }

  /** A link changed state (from the daemon's link monitor). */
  linkChanged(ifname: string, running: boolean): void {
    if (this.board.observe('interface', ifname, { kind: 'interface', ok: running })) {
      this.log.info(`tracked interface ${ifname} is ${running ? 'up' : 'down'}`);
      for (const s of this.shells.values()) if (s.uses.some((u) => u.kind === 'interface' && u.name === ifname)) this.reevaluate(s);
    }
  }

  private onTrackerResult(r: TrackerResult): void {
    const changed = r.kind === 'script'
      ? this.board.observe('script', r.name, { kind: 'script', ok: r.ok })
      : this.board.observe('file', r.name, { kind: 'file', value: r.value });
    if (!changed) return;
    const v = this.board.verdict(r.kind, r.name);
    this.log.info(r.kind === 'script'
      ? `vrrp_script ${r.name} is now ${v?.health === 'ok' ? 'OK' : 'FAILED'} (${r.detail})`
      : `track_file ${r.name} now reads ${r.value}`);
    for (const s of this.shells.values()) if (s.uses.some((u) => u.kind === r.kind && u.name === r.name)) this.reevaluate(s);
  }

  private reevaluate(s: VrrpInstanceShell, initial = false): void {
    const v = this.board.evaluate(s.cfg.priority, s.uses);
    const prev = this.verdicts.get(s.cfg.name);
    this.verdicts.set(s.cfg.name, { priority: v.priority, fault: v.fault });
    if (initial || prev?.fault !== v.fault) {
      if (v.fault || !initial) this.input(s.cfg.name, { type: 'fault', fault: v.fault, reason: v.fault ? `${v.faultBy.join(', ')} failed` : 'trackers recovered' });
    }
    if ((initial && v.priority !== s.cfg.priority) || (prev && prev.priority !== v.priority)) {
      this.input(s.cfg.name, { type: 'priority', priority: v.priority, reason: 'tracking' });
    }
  }

  /** Feed one input; sync-group deliveries and effect follow-ups run before returning. */
  input(name: string, inp: VrrpInput): void {
    this.pending.push([name, inp]);
    if (this.stepping) return;
    this.stepping = true;
    const touched = new Set<string>();
    try {
      let next: [string, VrrpInput] | undefined;
      while ((next = this.pending.shift())) {
        const [member, i] = next;
        // An input may move a deadline without any effect (an advert pushes master-down
        // out), and sync-group deliveries reach other members: re-arm all of them.
        touched.add(member);
        const r = stepMembers(this.machines, (m) => this.groupOf(m), member, i, this.deps.now());
        for (const { member: m, effect } of r.effects) {
          touched.add(m);
          this.apply(m, effect);
        }
        for (const g of r.group) this.applyGroup(g.group, g.effect);
        if (r.group.length) for (const m of this.shells.keys()) touched.add(m);
      }
    } finally {
      this.stepping = false;
    }
    for (const m of touched) this.rearm(m);
  }

  private groupOf(member: string): SyncGroupCoordinator | undefined {
    const g = this.shells.get(member)?.cfg.syncGroup;
    return g ? this.groups.get(g) : undefined;
  }

  // --- effects --------------------------------------------------------------------------

  private apply(name: string, e: VrrpEffect): void {
    const s = this.shells.get(name)!;
    const log = this.deps.log;
    switch (e.type) {
      case 'send': {
        const r = s.ports.tx.send(e.dstText, e.payload, s.src);
        if (!r.ok) log.logLimited('error', `(${name}) cannot send advert to ${e.dstText}: ${r.error}`);
        this.pending.push([name, { type: 'sendResult', ok: r.ok }]);
        break;
      }
      case 'transition':
        s.transitions++;
        s.lastTransitionAt = new Date().toISOString();
        // keepalived's wording, so existing log watchers keep working.
        log.log(e.to === 'INIT' ? 'info' : 'warning', `(${name}) Entering ${e.to} STATE (${e.reason})`);
        this.deps.onTransition?.(name, e.from, e.to, e.reason);
        break;
      case 'addAddresses':
        s.holds = true;
        this.deps.addresses.add(s.ports.tx.device, s.ports.tx.ifindex, this.addressesOf(s));
        break;
      case 'removeAddresses':
        s.holds = false;
        this.deps.addresses.remove(s.ports.tx.device, s.ports.tx.ifindex, this.addressesOf(s));
        break;
      case 'addRoutes':
        for (const r of s.cfg.routes) this.route(s, r, true);
        break;
      case 'removeRoutes':
        for (const r of s.cfg.routes) this.route(s, r, false);
        break;
      case 'garp':
        this.garpBurst(s, e.count);
        break;
      case 'notify':
        this.notify(name, 'INSTANCE', s.cfg.notify, e.which, e.priority);
        break;
      case 'log':
        log.log(e.level, `(${name}) ${e.message}`);
        break;
      case 'stopped':
        this.stopWaiters.get(name)?.();
        break;
      case 'syncWant':
      case 'syncFault':
        break; // handled by stepMembers
    }
  }

  private applyGroup(group: string, e: SyncEffect): void {
    if (e.type === 'log') this.deps.log.log(e.level, `(group ${group}) ${e.message}`);
    else if (e.type === 'notify') {
      const g = this.groupCfg.get(group);
      if (g) this.notify(group, 'GROUP', g.notify, e.which, 0);
    }
  }

  /** Advertised plus excluded addresses; each on its `dev`, else on the instance's (VMAC) interface. */
  private addressesOf(s: VrrpInstanceShell): VirtualAddress[] {
    return [...s.cfg.addresses, ...s.cfg.excludedAddresses];
  }

  private route(s: VrrpInstanceShell, r: VirtualRoute, add: boolean): void {
    const key = `${r.family}|${r.dst}/${r.prefix}|${r.table ?? 254}`;
    const type = r.type ? RT_TYPES[r.type] : undefined;
    const dev = r.dev ?? (r.gateway || type === undefined || type === 1 ? s.ports.tx.device : undefined);
    const ifindex = dev ? interfaceInfo(dev)?.index : undefined;
    const spec = {
      family: r.family, dst: r.dst, prefix: r.prefix,
      ...(r.gateway ? { gateway: r.gateway } : {}),
      ...(ifindex && (type === undefined || type === 1) ? { ifindex } : {}),
      ...(r.table ? { table: r.table } : {}),
      ...(r.metric !== undefined ? { metric: r.metric } : {}),
      ...(r.src ? { src: r.src } : {}),
      ...(type ? { type } : {}),
    };
    try {
      if (add) {
        addRoute(spec);
        this.routesHeld.add(key);
      } else {
        deleteRoute(spec);
        this.routesHeld.delete(key);
      }
    } catch (err) {
      this.deps.log.error(`(${s.cfg.name}) cannot ${add ? 'add' : 'remove'} route ${r.dst}/${r.prefix}${r.gateway ? ` via ${r.gateway}` : ''}: ${(err as Error).message}`);
    }
  }

  private garpBurst(s: VrrpInstanceShell, count: number): void {
    const port = s.ports.tx;
    const frames: Uint8Array[] = [];
    for (const a of this.addressesOf(s)) {
      if (a.family === 4) frames.push(gratuitousArp(port.mac, a.address, { targetMac: 'broadcast' }));
      else frames.push(unsolicitedNeighbourAdvert(port.mac, a.address, a.address));
    }
    const pace = s.cfg.garp.intervalMs;
    const sendAll = (): void => {
      for (const f of frames) {
        const r = port.sendFrame(f);
        if (!r.ok) this.deps.log.logLimited('error', `(${s.cfg.name}) cannot send gratuitous ARP/NA: ${r.error}`);
      }
    };
    for (let i = 0; i < count; i++) {
      if (i === 0 || pace <= 0) sendAll();
      else setTimeout(sendAll, i * pace).unref();
    }
  }

  /**
   * keepalived's notify convention: the specific script (`notify_master` ...) with its own
   * arguments, then the generic `notify` with `INSTANCE|GROUP name STATE priority` appended.
   * Queued in order, never blocking adverts.
   */
  private notify(name: string, kind: 'INSTANCE' | 'GROUP', hooks: NotifyHooks, which: 'master' | 'backup' | 'fault' | 'stop', priority: number): void {
    const state = which.toUpperCase();
    const env = { CARPOOL_INSTANCE: name, CARPOOL_STATE: state };
    const specific = hooks[which];
    if (specific) void this.deps.hooks.enqueue({ hook: specific, args: [], env, label: `${name} notify_${which}` });
    if (hooks.generic) void this.deps.hooks.enqueue({ hook: hooks.generic, args: [kind, name, state, String(priority)], env, label: `${name} notify` });
  }

  // --- timers -----------------------------------------------------------------------------

  private rearm(name: string): void {
    const s = this.shells.get(name)!;
    const d = this.machines.get(name)!.nextDeadline();
    if (d === s.armedFor && s.timer) return;
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.armedFor = d;
    if (d === undefined) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.armedFor = undefined;
      this.input(name, { type: 'tick' });
    }, Math.max(0, d - this.deps.now()));
  }

  // --- operator / daemon ---------------------------------------------------------------------

  has(name: string): boolean {
    return this.shells.has(name);
  }

  stepDown(name: string, reason: string): void {
    this.input(name, { type: 'stepDown', reason });
  }

  standby(name: string, on: boolean, reason: string): void {
    this.input(name, { type: 'standby', on, reason });
  }

  /** Graceful stop: priority 0, wait for successors (bounded by the machines), release, notify stop. */
  async stop(): Promise<void> {
    this.trackers.stop();
    await Promise.all([...this.shells.keys()].map((name) => new Promise<void>((resolve) => {
      this.stopWaiters.set(name, resolve);
      this.input(name, { type: 'shutdown' });
    })));
    for (const s of this.shells.values()) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
    }
  }

  names(): string[] {
    return [...this.shells.keys()];
  }

  status(): InstanceStatus[] {
    return [...this.shells.values()].map((s) => {
      const st = this.machines.get(s.cfg.name)!.status();
      return {
        name: s.cfg.name, protocol: 'vrrp' as const, interface: s.cfg.interface, vhid: s.cfg.vrid,
        state: st.state, master: st.master ?? null, source: s.src,
        addresses: s.cfg.addresses.map((a) => `${a.address}/${a.prefix}`),
        holdsAddresses: s.holds, linkUp: !st.fault.own || !s.uses.some((u) => u.kind === 'interface' && this.board.verdict('interface', u.name)?.health === 'failed'),
        priority: {
          version: s.cfg.version, base: st.basePriority, effective: st.effectivePriority, advertIntervalMs: st.advertIntervalMs,
          preempt: s.cfg.preempt, fault: st.fault.own || st.fault.group, standby: st.standby,
        },
        lastTransition: st.lastTransition && s.lastTransitionAt ? { from: st.lastTransition.from, to: st.lastTransition.to, reason: st.lastTransition.reason, at: s.lastTransitionAt } : null,
        transitions: s.transitions,
        counters: { advertsSent: st.advertsSent, advertsReceived: st.advertsReceived, sendErrors: st.sendErrors, drops: { ...s.drops, 'address-mismatch': s.addressMismatches } },
      };
    });
  }

  syncGroupStatus(): unknown[] {
    return [...this.groups.values()].map((g) => g.status());
  }
}
