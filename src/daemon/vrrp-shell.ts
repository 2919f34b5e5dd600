/**
 * The shell around one VRRP instance (`VrrpShell`) and the coordinator of a daemon's VRRP
 * instances (`VrrpCoordinator`). Each shell validates its adverts, carries out its
 * machine's effects (adverts, addresses, routes, gratuitous ARP / unsolicited NA bursts,
 * notify hooks in order) and re-arms its timer from `nextDeadline()`. The coordinator
 * steps the machines through `stepMembers`, so sync groups decide together, and turns
 * trackers (scripts, files, interfaces) into priority / FAULT inputs.
 */
import type { CarpoolConfig, Instance, NotifyHooks, SyncGroup, VirtualAddress, VrrpInstance } from '../config/model.js';
import { SyncGroupCoordinator, stepMembers, type SyncEffect } from '../election/sync-group.js';
import { sameValue } from '../config/diff.js';
import {
  TrackerBoard, fileTracker, instanceTrackUses, interfaceTracker, processTracker, scriptTracker, type TrackUse,
} from '../election/tracking.js';
import { VrrpMachine } from '../election/vrrp.js';
import { vrrpParams, vrrpRxInstance, type VrrpEffect, type VrrpInput } from '../election/vrrp-model.js';
import { assertNever } from '../lib/assert-never.js';
import { CarpoolError } from '../lib/errors.js';
import { gratuitousArp, parseMac, unsolicitedNeighbourAdvert } from '../protocol/arp.js';
import { parseIP } from '../protocol/inet.js';
import { checkAdvert, VRRP_DROP_REASONS, type VrrpRxInstance } from '../protocol/vrrp/packet.js';
import { ahKey, checkReplay, encodeAhDatagram, verifyAhDatagram, type ReplayRecord } from '../protocol/vrrp/ah.js';
import type { PortPacket } from './port.js';
import { interfaceInfo } from '../net/link.js';
import { FrameSocket } from '../net/frame-socket.js';
import { InputQueue, ShellBase, type OwnedAddress, type ShellAddresses, type ShellHooks, type ShellPort } from './instance-shell.js';
import type { Logger } from './logger.js';
import type { InstanceStatus } from '../control/status.js';
import { TrackerRunner, type TrackerResult } from './trackers.js';
import { applyRoute, applyRule } from './routing.js';
import type { NotifyFifoWriter } from './notify-fifo.js';

export interface VrrpPorts {
  /** The receiving port of (device, family). */
  readonly rx: ShellPort;
  /** Where adverts and GARPs leave: the VMAC interface's port with use_vmac, else `rx`. */
  readonly tx: ShellPort;
}

export interface VrrpShellDeps {
  readonly log: Logger;
  /** The hook queue of an instance or a sync group (one each, by name). */
  readonly hooksFor: (owner: string) => ShellHooks;
  readonly addresses: ShellAddresses;
  /** Monotonic clock in ms. */
  readonly now: () => number;
  /** Is the interface running now (tracked interfaces at start). */
  readonly linkRunning: (ifname: string) => boolean;
  /** keepalived's notify FIFO: every notify event also goes there as a line. */
  readonly notifyFifo?: Pick<NotifyFifoWriter, 'write'>;
  /** Called on every state change, with the master last heard. */
  readonly onTransition?: (name: string, from: string, to: string, reason: string, peer: string | undefined) => void;
}

/** One VRRP instance in the shell. */
export class VrrpShell extends ShellBase {
  readonly protocol = 'vrrp';
  readonly name: string;
  readonly id: number;
  readonly machine: VrrpMachine;
  private rx: VrrpRxInstance;
  private addressMismatches = 0;
  /** Frame sockets on the devices of addresses with their own `dev` (announced there). */
  private readonly devFrames = new Map<string, FrameSocket>();
  /** The instance's settings; replaced by a live reload (`reconfigure`). */
  private c: VrrpInstance;
  /** auth_type AH: the HMAC key; undefined = adverts travel without AH. */
  private ahKey: Uint8Array | undefined;
  /**
   * AH sequence number: the highest we sent or accepted (keepalived goes on from the number
   * it last received, so the whole virtual router counts up together). It starts at the wall
   * clock's seconds: the router's adverts come at most about once a second in VRRPv2, so after
   * a restart we are still above what the receivers last saw, and their anti-replay check
   * accepts us at once (keepalived starts at 1 and would be dropped until it had listened).
   */
  private ahSeq = Math.floor(Date.now() / 1000) >>> 0;
  /** IP identification of our AH datagrams (never 0). */
  private ahId = 0;
  /** AH anti-replay: the last accepted sequence number per sender. */
  private readonly ahSeen = new Map<string, ReplayRecord>();

  constructor(
    cfg: VrrpInstance,
    readonly src: string,
    private readonly ports: VrrpPorts,
    private readonly group: VrrpCoordinator,
    private readonly deps: VrrpShellDeps,
    readonly uses: readonly TrackUse[],
  ) {
    super(VRRP_DROP_REASONS.filter((r) => r !== 'vrid'), deps.log, deps.now);
    this.c = cfg;
    this.name = cfg.name;
    this.id = cfg.vrid;
    const params = vrrpParams(cfg, src);
    this.rx = vrrpRxInstance(params);
    this.machine = new VrrpMachine(params);
    this.setAh(cfg);
  }

  private setAh(cfg: VrrpInstance): void {
    this.ahKey = cfg.version === 2 && cfg.authType === 'AH' && cfg.authPass !== undefined ? ahKey(cfg.authPass) : undefined;
    if (!this.ahKey) return;
    this.ports.rx.enableAh();
    this.ports.tx.enableAh();
  }

  get cfg(): VrrpInstance {
    return this.c;
  }

  protected prefix(text: string): string {
    return `(${this.name}) ${text}`;
  }

  /** Feed one input (through the coordinator: sync-group members step together). */
  input(inp: VrrpInput): void {
    this.group.input(this.name, inp);
  }

  protected tick(): void {
    this.input({ type: 'tick' });
  }

  protected nextDeadline(): number | undefined {
    return this.machine.nextDeadline();
  }

  /** Re-arm the timer (the coordinator calls it once the inputs have settled). */
  settle(): void {
    this.rearm();
  }

  // --- InstanceShell ------------------------------------------------------------------

  /** Starts every VRRP instance of the daemon at once (trackers evaluated first); later ones (a reload) one by one. */
  start(): void {
    this.group.start(this);
  }

  linkChanged(ifname: string, running: boolean): void {
    this.group.linkChanged(ifname, running);
  }

  stepDown(reason: string): void {
    this.input({ type: 'stepDown', reason });
  }

  /** VRRP has no persistent demotion: `demote` is a planned step-down, and there is nothing to clear. */
  demote(on: boolean): void {
    if (!on) {
      throw new CarpoolError('DEMOTE_CLEAR', `${this.name} is a VRRP instance: a step-down has nothing to clear`,
        'it competes normally again once the current master fails; to move the master back, demote that one');
    }
    this.stepDown('operator demote');
  }

  standby(on: boolean, reason: string): void {
    this.input({ type: 'standby', on, reason });
  }

  /** Graceful stop of every VRRP instance: priority 0, wait for successors (bounded by the machines), release, notify stop. */
  shutdown(): Promise<void> {
    return this.group.stop();
  }

  reconfigure(cfg: Instance): void {
    if (cfg.kind !== 'vrrp' || cfg.vrid !== this.c.vrid || cfg.interface !== this.c.interface) {
      throw new Error(`${this.name}: reconfigure needs the same protocol, VRID and interface`);
    }
    const old = [...this.c.addresses, ...this.c.excludedAddresses];
    this.c = cfg;
    const params = vrrpParams(cfg, this.src);
    this.rx = vrrpRxInstance(params);
    this.setAh(cfg);
    this.input({ type: 'reconfigure', params });
    // The new base priority (with the trackers' weights) goes in as a `priority` input.
    this.group.reconfigured(this);
    if (!this.holds) return;
    const key = (a: VirtualAddress) => `${a.address}/${a.prefix}`;
    const now = this.addresses();
    const gone = old.filter((a) => !now.some((b) => key(b) === key(a)));
    const added = now.filter((a) => !old.some((b) => key(b) === key(a)));
    const tx = this.ports.tx;
    if (gone.length) this.deps.addresses.remove(tx.device, tx.ifindex, gone);
    if (added.length) {
      this.deps.addresses.add(tx.device, tx.ifindex, added);
      this.sendFrames(added.map((a) => this.announcement(a)));
    }
  }

  /** Removed by a reload: priority 0, wait for the successor (bounded), release, notify stop. */
  retire(): Promise<void> {
    return this.group.remove(this.name);
  }

  statusLine(): string {
    const i = this.status();
    return `(${i.name}) ${i.state} on ${i.interface} vrid ${i.vhid} priority ${String(i.priority.effective)}, master ${i.master ?? '-'}`;
  }

  protected ownedAddresses(): OwnedAddress[] {
    const tx = this.ports.tx;
    return this.addresses().map((vip) => ({
      vip, device: tx.device, ifindex: vip.dev && vip.dev !== tx.device ? interfaceInfo(vip.dev)?.index : tx.ifindex,
    }));
  }

  protected addAgain(device: string, ifindex: number, vips: readonly VirtualAddress[]): void {
    this.deps.addresses.add(device, ifindex, vips);
  }

  protected announce(vip: VirtualAddress): void {
    this.sendFrames([this.announcement(vip)]);
  }

  // --- PortListener -------------------------------------------------------------------

  receive(pkt: PortPacket): boolean {
    const version = pkt.payload.length >= 1 ? pkt.payload[0]! >> 4 : 0;
    if (version !== this.cfg.version) return false; // CARP (v2 header) or the other VRRP version
    if (pkt.src === this.src) return true;
    const src = parseIP(pkt.src);
    const dst = parseIP(pkt.dst);
    if (!src || !dst) return true;
    if (pkt.ah && !this.checkAh(pkt, pkt.ah)) return true;
    const v = checkAdvert({ family: pkt.family, src: src.bytes, dst: dst.bytes, ttl: pkt.ttl, payload: pkt.payload, viaAh: pkt.ah !== undefined },
      (vrid) => (vrid === this.id ? this.rx : undefined));
    if (!v.ok) {
      this.countDrop(v.reason);
      this.log.logLimited('warning', this.prefix(`dropped advert from ${pkt.src}: ${v.reason}`), `${this.name}:drop:${v.reason}`, this.fields('drop'));
      return true;
    }
    if (v.value.addressMismatch) {
      this.addressMismatches++;
      this.log.logLimited('warning', this.prefix(`advert from ${pkt.src} lists other virtual addresses than ours (accepted, as keepalived)`), `${this.name}:address-mismatch`);
    }
    this.lastPeer = pkt.src;
    this.input({ type: 'advert', advert: v.value.advert, src: src.bytes });
    return true;
  }

  /** ICV and anti-replay of an advert inside AH; false = dropped and counted. */
  private checkAh(pkt: PortPacket, ah: NonNullable<PortPacket['ah']>): boolean {
    // An AH advert for an instance without AH: the ladder counts it (auth-type).
    if (!this.ahKey) return true;
    const v = verifyAhDatagram(ah.header, ah.datagram, this.ahKey);
    let reason: 'auth-ah' | 'auth-replay' | undefined;
    if (!v.ok) reason = 'auth-ah';
    else {
      // A silent sender's record expires after a master-down interval: it may have restarted (its counter begins low again).
      const r = checkReplay(this.ahSeen.get(pkt.src), v.value.seq, this.deps.now(), 3 * this.c.advertIntervalMs + 1000);
      if (r.next) this.ahSeen.set(pkt.src, r.next);
      if (!r.ok) reason = 'auth-replay';
      else if (v.value.seq > this.ahSeq) this.ahSeq = v.value.seq;
    }
    if (!reason) return true;
    this.countDrop(reason);
    this.log.logLimited('warning', this.prefix(`dropped advert from ${pkt.src}: ${reason}${reason === 'auth-ah' ? ' (check auth_pass: the AH does not verify)' : ''}`),
      `${this.name}:drop:${reason}`, this.fields('drop'));
    return false;
  }

  private ahDatagram(dst: Uint8Array, vrrp: Uint8Array): Uint8Array {
    this.ahSeq = (this.ahSeq + 1) >>> 0;
    this.ahId = (this.ahId % 0xffff) + 1;
    return encodeAhDatagram({ src: parseIP(this.src)!.bytes, dst, seq: this.ahSeq, id: this.ahId, key: this.ahKey!, vrrp });
  }

  // --- effects ------------------------------------------------------------------------

  /** Carry out one effect of this instance's machine (called by the coordinator). */
  apply(e: VrrpEffect): void {
    const log = this.log;
    const tx = this.ports.tx;
    switch (e.type) {
      case 'send': {
        const r = this.ahKey
          ? tx.sendDatagram(e.dstText, this.ahDatagram(e.dst, e.payload))
          : tx.send(e.dstText, e.payload, this.src);
        if (!r.ok) log.logLimited('error', this.prefix(`cannot send advert to ${e.dstText}: ${r.error}`), `${this.name}:send`, this.fields('send-error'));
        this.input({ type: 'sendResult', ok: r.ok });
        break;
      }
      case 'transition':
        this.noteTransition(e.to);
        // keepalived's wording, so existing log watchers keep working.
        log.log(e.to === 'INIT' ? 'info' : 'warning', this.prefix(`Entering ${e.to} STATE (${e.reason})`), this.fields('transition', e.to));
        this.deps.onTransition?.(this.name, e.from, e.to, e.reason, this.lastPeer);
        break;
      case 'addAddresses':
        this.holds = true;
        this.deps.addresses.add(tx.device, tx.ifindex, this.addresses());
        break;
      case 'removeAddresses':
        this.holds = false;
        this.deps.addresses.remove(tx.device, tx.ifindex, this.addresses());
        break;
      case 'addRoutes':
        // keepalived's order: addresses, routes, rules on the way up; the reverse on the way down.
        for (const r of this.cfg.routes) applyRoute(r, true, tx.device, log, this.prefix(''));
        for (const r of this.cfg.rules) applyRule(r, true, log, this.prefix(''));
        break;
      case 'removeRoutes':
        for (const r of this.cfg.rules) applyRule(r, false, log, this.prefix(''));
        for (const r of this.cfg.routes) applyRoute(r, false, tx.device, log, this.prefix(''));
        break;
      case 'garp':
        this.garpBurst(e.count);
        break;
      case 'notify':
        notify(this.deps.hooksFor(this.name), this.name, 'INSTANCE', this.cfg.notify, e.which, e.priority);
        this.deps.notifyFifo?.write('INSTANCE', this.name, e.which.toUpperCase(), e.priority);
        break;
      case 'log':
        log.log(e.level, this.prefix(e.message), this.fields());
        break;
      case 'stopped':
        this.group.stopped(this.name);
        break;
      case 'syncWant':
      case 'syncFault':
        break; // handled by stepMembers
      default:
        assertNever(e);
    }
  }

  /** Advertised plus excluded addresses; each on its `dev`, else on the instance's (VMAC) interface. */
  private addresses(): VirtualAddress[] {
    return [...this.cfg.addresses, ...this.cfg.excludedAddresses];
  }

  /**
   * keepalived's gratuitous ARP (target MAC broadcast) or an unsolicited NA for IPv6, on the
   * address's own device with that device's MAC when it has a `dev` (as keepalived): announced
   * from the instance's interface instead, hosts on the other LAN would never hear it and keep
   * the old master's MAC.
   */
  private announcement(a: VirtualAddress): { frame: Uint8Array; dev: string | undefined } {
    // An alias (`eth1:0`) lives on its parent device.
    const own = a.dev?.split(':')[0];
    const dev = own !== undefined && own !== this.ports.tx.device ? own : undefined;
    const info = dev !== undefined ? interfaceInfo(dev) : undefined;
    const mac = info ? parseMac(info.mac) : this.ports.tx.mac;
    const frame = a.family === 4 ? gratuitousArp(mac, a.address, { targetMac: 'broadcast' }) : unsolicitedNeighbourAdvert(mac, a.address, a.address);
    return { frame, dev };
  }

  private sendFrames(frames: readonly { frame: Uint8Array; dev: string | undefined }[]): void {
    for (const { frame, dev } of frames) {
      let r;
      try {
        r = dev === undefined ? this.ports.tx.sendFrame(frame) : this.frameSocket(dev).send(frame);
      } catch (err) {
        r = { ok: false as const, error: (err as Error).message };
      }
      if (!r.ok) this.log.logLimited('error', this.prefix(`cannot send gratuitous ARP/NA${dev ? ` on ${dev}` : ''}: ${r.error}`), `${this.name}:garp`);
    }
  }

  override halt(): void {
    for (const sock of this.devFrames.values()) sock.close();
    this.devFrames.clear();
    super.halt();
  }

  /** A frame socket on another device (an address's `dev`), opened on first use. */
  private frameSocket(dev: string): FrameSocket {
    let sock = this.devFrames.get(dev);
    if (!sock || sock.closed) {
      sock = FrameSocket.open(dev);
      this.devFrames.set(dev, sock);
    }
    return sock;
  }

  private garpBurst(count: number): void {
    const frames = this.addresses().map((a) => this.announcement(a));
    const pace = this.cfg.garp.intervalMs;
    for (let i = 0; i < count; i++) {
      if (i === 0 || pace <= 0) this.sendFrames(frames);
      else setTimeout(() => this.sendFrames(frames), i * pace).unref();
    }
  }

  status(): InstanceStatus {
    const st = this.machine.status();
    return {
      name: this.name, protocol: 'vrrp' as const, interface: this.cfg.interface, vhid: this.cfg.vrid,
      state: st.state, master: st.master ?? null, source: this.src,
      addresses: this.cfg.addresses.map((a) => `${a.address}/${a.prefix}`),
      holdsAddresses: this.holds, linkUp: !st.fault.own || !this.group.interfaceFailed(this.uses),
      priority: {
        version: this.cfg.version, base: st.basePriority, effective: st.effectivePriority, advertIntervalMs: st.advertIntervalMs,
        preempt: this.cfg.preempt, fault: st.fault.own || st.fault.group, standby: st.standby,
      },
      lastTransition: this.transitionInfo(st.lastTransition),
      transitions: this.transitions,
      becameMasterAt: this.becameMasterAt,
      counters: { advertsSent: st.advertsSent, advertsReceived: st.advertsReceived, sendErrors: st.sendErrors, drops: { ...this.drops, 'address-mismatch': this.addressMismatches } },
    };
  }
}

/**
 * keepalived's notify convention: the specific script (`notify_master` ...) with its own
 * arguments, then the generic `notify` with `INSTANCE|GROUP name STATE priority` appended.
 * Queued in order, never blocking adverts.
 */
function notify(hooks: ShellHooks, name: string, kind: 'INSTANCE' | 'GROUP', h: NotifyHooks, which: 'master' | 'backup' | 'fault' | 'stop', priority: number): void {
  const state = which.toUpperCase();
  const env = { CARPOOL_INSTANCE: name, CARPOOL_STATE: state };
  const specific = h[which];
  if (specific) void hooks.enqueue({ hook: specific, args: [], env, label: `${name} notify_${which}` });
  if (h.generic) void hooks.enqueue({ hook: h.generic, args: [kind, name, state, String(priority)], env, label: `${name} notify` });
}

/**
 * A daemon's VRRP instances together: one input queue for all (a sync group's members
 * decide in one `stepMembers` exchange), the sync-group coordinators, and the trackers
 * whose verdicts become `priority` / `fault` inputs.
 */
export class VrrpCoordinator {
  private readonly shells = new Map<string, VrrpShell>();
  private readonly machines = new Map<string, VrrpMachine>();
  private readonly groups = new Map<string, SyncGroupCoordinator>();
  private readonly groupCfg = new Map<string, SyncGroup>();
  private readonly board: TrackerBoard;
  private readonly trackers: TrackerRunner;
  private readonly verdicts = new Map<string, { priority: number; fault: boolean }>();
  private readonly queue: InputQueue<[string, VrrpInput]>;
  /** Members whose deadlines may have moved since the queue last settled. */
  private readonly touched = new Set<string>();
  private readonly stopWaiters = new Map<string, () => void>();
  private started = false;
  private stopping: Promise<void> | undefined;
  /** Members started (at start, or one by one when a reload added them). */
  private readonly live = new Set<string>();
  /** Trackers whose runner is started (`script:name`, `file:name`). */
  private readonly running = new Set<string>();

  constructor(private config: CarpoolConfig, private readonly deps: VrrpShellDeps) {
    this.board = new TrackerBoard([
      ...config.vrrpScripts.map(scriptTracker),
      ...config.trackFiles.map(fileTracker),
      ...(config.trackProcesses ?? []).map(processTracker),
    ]);
    this.trackers = new TrackerRunner(deps.log, (r) => this.onTrackerResult(r));
    for (const g of config.syncGroups) {
      this.groupCfg.set(g.name, g);
      this.groups.set(g.name, new SyncGroupCoordinator(g.name, g.members));
    }
    this.queue = new InputQueue(([member, i]) => this.step(member, i), () => {
      const names = [...this.touched];
      this.touched.clear();
      for (const m of names) this.shells.get(m)?.settle();
    });
  }

  private get log(): Logger {
    return this.deps.log;
  }

  /** Register an instance (before `start`). */
  add(cfg: VrrpInstance, src: string, ports: VrrpPorts): VrrpShell {
    const group = cfg.syncGroup ? this.groupCfg.get(cfg.syncGroup) : undefined;
    const { uses, notes } = instanceTrackUses(cfg, group);
    for (const n of notes) this.log.warning(`(${cfg.name}) ${n}`);
    for (const u of uses) if (u.kind === 'interface') this.board.add(interfaceTracker(u.name));
    const shell = new VrrpShell(cfg, src, ports, this, this.deps, uses);
    this.shells.set(cfg.name, shell);
    this.machines.set(cfg.name, shell.machine);
    return shell;
  }

  /** Once, for all instances: interface states read, trackers started and evaluated, machines started. */
  start(shell?: VrrpShell): void {
    if (this.started) {
      if (shell) this.startLive(shell);
      return;
    }
    this.started = true;
    for (const name of this.shells.keys()) this.live.add(name);
    for (const s of this.shells.values()) {
      for (const u of s.uses) if (u.kind === 'interface') this.board.observe('interface', u.name, { kind: 'interface', ok: this.deps.linkRunning(u.name) });
    }
    this.startTrackers();
    // Feed the initial verdicts before `start`, so a faulty instance never becomes master.
    for (const s of this.shells.values()) this.reevaluate(s, true);
    for (const name of this.shells.keys()) this.input(name, { type: 'start' });
  }

  /** Start the runners of the scripts and files some instance uses and that do not run yet. */
  private startTrackers(): void {
    const used = new Set([...this.shells.values()].flatMap((s) => s.uses.map((u) => `${u.kind}:${u.name}`)));
    for (const sc of this.config.vrrpScripts) {
      if (used.has(`script:${sc.name}`) && !this.running.has(`script:${sc.name}`)) {
        this.running.add(`script:${sc.name}`);
        this.trackers.startScript(sc);
      }
    }
    for (const f of this.config.trackFiles) {
      if (used.has(`file:${f.name}`) && !this.running.has(`file:${f.name}`)) {
        this.running.add(`file:${f.name}`);
        this.trackers.startFile(f);
      }
    }
    for (const p of this.config.trackProcesses ?? []) {
      if (used.has(`process:${p.name}`) && !this.running.has(`process:${p.name}`)) {
        this.running.add(`process:${p.name}`);
        this.trackers.startProcess(p, this.deps.now);
      }
    }
  }

  // --- live reload (src/daemon/reload.ts) -----------------------------------------------

  /**
   * A reload's new configuration: tracker definitions that are new, and sync groups. A
   * changed group is created anew: `planReload` replaces all its members, so none runs now.
   */
  reload(config: CarpoolConfig): void {
    const known = new Set(this.config.vrrpScripts.map((x) => `script:${x.name}`).concat(this.config.trackFiles.map((x) => `file:${x.name}`),
      (this.config.trackProcesses ?? []).map((x) => `process:${x.name}`)));
    for (const sc of config.vrrpScripts) if (!known.has(`script:${sc.name}`)) this.board.add(scriptTracker(sc));
    for (const f of config.trackFiles) if (!known.has(`file:${f.name}`)) this.board.add(fileTracker(f));
    for (const p of config.trackProcesses ?? []) if (!known.has(`process:${p.name}`)) this.board.add(processTracker(p));
    for (const g of [...this.groupCfg.keys()]) {
      const next = config.syncGroups.find((x) => x.name === g);
      if (!next || !sameValue(next, this.groupCfg.get(g))) {
        this.groupCfg.delete(g);
        this.groups.delete(g);
      }
    }
    for (const g of config.syncGroups) {
      if (this.groupCfg.has(g.name)) continue;
      this.groupCfg.set(g.name, g);
      this.groups.set(g.name, new SyncGroupCoordinator(g.name, g.members));
    }
    this.config = config;
  }

  /** An instance added by a reload: trackers evaluated, then it starts (when the others run). */
  private startLive(shell: VrrpShell): void {
    if (this.live.has(shell.name)) return;
    this.live.add(shell.name);
    for (const u of shell.uses) if (u.kind === 'interface') this.board.observe('interface', u.name, { kind: 'interface', ok: this.deps.linkRunning(u.name) });
    this.startTrackers();
    this.reevaluate(shell, true);
    this.input(shell.name, { type: 'start' });
  }

  /** A reload changed the instance's base priority (or nothing of it): feed the tracked priority. */
  reconfigured(shell: VrrpShell): void {
    this.reevaluate(shell);
  }

  /** Stop one instance (removed or replaced by a reload): it resigns like at shutdown, then it is forgotten. */
  async remove(name: string): Promise<void> {
    const shell = this.shells.get(name);
    if (!shell) return;
    await new Promise<void>((resolve) => {
      this.stopWaiters.set(name, resolve);
      this.input(name, { type: 'shutdown' });
    });
    this.stopWaiters.delete(name);
    shell.halt();
    this.shells.delete(name);
    this.machines.delete(name);
    this.verdicts.delete(name);
    this.touched.delete(name);
    this.live.delete(name);
  }

  /** A link changed state (from the daemon's link monitor); repeats change nothing. */
  linkChanged(ifname: string, running: boolean): void {
    if (this.board.observe('interface', ifname, { kind: 'interface', ok: running })) {
      this.log.info(`tracked interface ${ifname} is ${running ? 'up' : 'down'}`);
      for (const s of this.shells.values()) if (s.uses.some((u) => u.kind === 'interface' && u.name === ifname)) this.reevaluate(s);
    }
  }

  /** Is one of the tracked interfaces in `uses` down. */
  interfaceFailed(uses: readonly TrackUse[]): boolean {
    return uses.some((u) => u.kind === 'interface' && this.board.verdict('interface', u.name)?.health === 'failed');
  }

  private onTrackerResult(r: TrackerResult): void {
    const changed = r.kind === 'file'
      ? this.board.observe('file', r.name, { kind: 'file', value: r.value })
      : this.board.observe(r.kind, r.name, { kind: r.kind, ok: r.ok });
    if (!changed) return;
    const v = this.board.verdict(r.kind, r.name);
    this.log.info(r.kind === 'file'
      ? `track_file ${r.name} now reads ${r.value}`
      : `${r.kind === 'script' ? 'vrrp_script' : 'vrrp_track_process'} ${r.name} is now ${v?.health === 'ok' ? 'OK' : 'FAILED'} (${r.detail})`);
    for (const s of this.shells.values()) if (s.uses.some((u) => u.kind === r.kind && u.name === r.name)) this.reevaluate(s);
  }

  private reevaluate(s: VrrpShell, initial = false): void {
    const v = this.board.evaluate(s.cfg.priority, s.uses);
    const prev = this.verdicts.get(s.name);
    this.verdicts.set(s.name, { priority: v.priority, fault: v.fault });
    if (initial || prev?.fault !== v.fault) {
      if (v.fault || !initial) this.input(s.name, { type: 'fault', fault: v.fault, reason: v.fault ? `${v.faultBy.join(', ')} failed` : 'trackers recovered' });
    }
    if ((initial && v.priority !== s.cfg.priority) || (prev && prev.priority !== v.priority)) {
      this.input(s.name, { type: 'priority', priority: v.priority, reason: 'tracking' });
    }
  }

  /** Feed one input; sync-group deliveries and effect follow-ups run before returning. */
  input(name: string, inp: VrrpInput): void {
    this.queue.push([name, inp]);
  }

  private step(member: string, i: VrrpInput): void {
    // An input may move a deadline without any effect (an advert pushes master-down
    // out), and sync-group deliveries reach other members: re-arm all of them.
    this.touched.add(member);
    const r = stepMembers(this.machines, (m) => this.groupOf(m), member, i, this.deps.now());
    for (const { member: m, effect } of r.effects) {
      this.touched.add(m);
      this.shells.get(m)?.apply(effect);
    }
    for (const g of r.group) this.applyGroup(g.group, g.effect);
    if (r.group.length) for (const m of this.shells.keys()) this.touched.add(m);
  }

  private groupOf(member: string): SyncGroupCoordinator | undefined {
    const g = this.shells.get(member)?.cfg.syncGroup;
    return g ? this.groups.get(g) : undefined;
  }

  private applyGroup(group: string, e: SyncEffect): void {
    switch (e.type) {
      case 'log':
        this.log.log(e.level, `(group ${group}) ${e.message}`);
        break;
      case 'notify': {
        const g = this.groupCfg.get(group);
        if (g) notify(this.deps.hooksFor(`group ${group}`), group, 'GROUP', g.notify, e.which, 0);
        this.deps.notifyFifo?.write('GROUP', group, e.which.toUpperCase(), 0);
        break;
      }
      case 'deliver':
        break; // delivered by stepMembers
      default:
        assertNever(e);
    }
  }

  /** A member's machine finished its shutdown. */
  stopped(name: string): void {
    this.stopWaiters.get(name)?.();
  }

  /** Once, for all instances: trackers stop, every machine shuts down, then the timers stop. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.trackers.stop();
      await Promise.all([...this.shells.keys()].map((name) => new Promise<void>((resolve) => {
        this.stopWaiters.set(name, resolve);
        this.input(name, { type: 'shutdown' });
      })));
      for (const s of this.shells.values()) s.halt();
    })();
    return this.stopping;
  }

  syncGroupStatus(): unknown[] {
    return [...this.groups.values()].map((g) => g.status());
  }
}
