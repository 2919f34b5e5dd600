/**
 * The shell around one CARP instance: feeds the pure machine with validated adverts,
 * ticks, link events and operator commands, and carries out its effects (send, addresses,
 * GARP, hooks, logs). One timer per instance, re-armed from `nextDeadline()` after every
 * step (ShellBase).
 */
import { randomBytes } from 'node:crypto';
import type { CarpInstance, Instance, VirtualAddress } from '../config/model.js';
import { CarpMachine, type CarpEffect, type CarpInput, type CarpParams } from '../election/carp.js';
import { assertNever } from '../lib/assert-never.js';
import { carpAuthenticator } from '../protocol/carp/hmac.js';
import { CARP_DROP_REASONS, checkAdvert, verifyAdvert } from '../protocol/carp/packet.js';
import { gratuitousArp } from '../protocol/arp.js';
import { parseIPv4 } from '../protocol/inet.js';
import type { RawPacket } from '../net/raw-socket.js';
import { InputQueue, ShellBase, type OwnedAddress, type ShellAddresses, type ShellHooks, type ShellPort } from './instance-shell.js';
import type { Logger } from './logger.js';
import type { InstanceStatus } from '../control/status.js';

export interface CarpShellDeps {
  readonly port: ShellPort;
  readonly log: Logger;
  /** This instance's own hook queue. */
  readonly hooks: ShellHooks;
  readonly addresses: ShellAddresses | undefined;
  /** Monotonic clock in ms. */
  readonly now: () => number;
  /** ucarp mode logs exactly like ucarp (no instance prefix). */
  readonly ucarpStyle: boolean;
  /** Called on every state change (status watchers, resource manager), with the master last heard. */
  readonly onTransition?: (name: string, from: string, to: string, reason: string, peer: string | undefined) => void;
  /** Carrier changes of this instance's interface, for its CARP group (carp-groups.ts). */
  readonly onLink?: (name: string, up: boolean) => void;
  /** Every dropped received packet, with its reason and source (load sharing watches bad digests). */
  readonly onDrop?: (name: string, reason: string, src: string) => void;
}

export class CarpShell extends ShellBase {
  readonly protocol = 'carp';
  readonly name: string;
  readonly machine: CarpMachine;
  readonly id: number;
  private readonly srcText: string;
  private sendErrors = 0;
  /** Last link state fed to the machine (repeats are not fed again). */
  private linkUp = true;
  private stopped: (() => void) | undefined;
  private readonly queue: InputQueue<CarpInput>;

  /** The instance's settings; replaced by a live reload (`reconfigure`). */
  private c: CarpInstance;

  constructor(cfg: CarpInstance, srcip: string, private readonly deps: CarpShellDeps) {
    super(CARP_DROP_REASONS, deps.log, deps.now);
    this.c = cfg;
    this.name = cfg.name;
    this.id = cfg.vhid;
    this.srcText = srcip;
    this.machine = new CarpMachine(this.params(cfg));
    this.queue = new InputQueue((inp) => {
      for (const e of this.machine.step(inp, this.deps.now())) this.apply(e);
    }, () => this.rearm());
  }

  get cfg(): CarpInstance {
    return this.c;
  }

  private params(cfg: CarpInstance): CarpParams {
    const auth = carpAuthenticator(new TextEncoder().encode(cfg.password), cfg.addresses.filter((a) => a.family === 4).map((a) => parseIPv4(a.address)!));
    return {
      vhid: cfg.vhid, advbase: cfg.advbase, advskew: cfg.advskew, deadratio: cfg.deadratio,
      preempt: cfg.preempt, neutral: cfg.neutral, srcip: parseIPv4(this.srcText)!, auth,
      manageAddresses: cfg.manageAddresses, shutdownHooks: cfg.shutdownHooks, ignoreIfState: cfg.ignoreIfState,
      random64: () => randomBytes(8).readBigUInt64BE(),
    };
  }

  protected prefix(text: string): string {
    return this.deps.ucarpStyle ? text : `${this.cfg.name}: ${text}`;
  }

  start(): void {
    this.linkUp = this.deps.port.running;
    if (!this.linkUp && !this.cfg.ignoreIfState) {
      this.input({ type: 'link', up: false });
      this.deps.onLink?.(this.name, false);
    }
    this.input({ type: 'start' });
  }

  /** Feed one input and carry out the effects; inputs raised by effects run afterwards. */
  input(inp: CarpInput): void {
    this.queue.push(inp);
  }

  protected tick(): void {
    this.input({ type: 'tick' });
  }

  protected nextDeadline(): number | undefined {
    return this.machine.nextDeadline();
  }

  // --- InstanceShell ------------------------------------------------------------------

  linkChanged(ifname: string, running: boolean): void {
    if (ifname !== this.deps.port.device || running === this.linkUp) return;
    this.linkUp = running;
    this.input({ type: 'link', up: running });
    if (!this.cfg.ignoreIfState) this.deps.onLink?.(this.name, running);
  }

  /** Demoted by its CARP group (a member lost its link): advertise skew 240, keep the role. */
  groupDemote(on: boolean, reason: string): void {
    this.input({ type: 'groupDemote', demoted: on, reason });
  }

  stepDown(reason: string): void {
    this.input({ type: 'stepDown', reason });
  }

  /** Persistent until `carpool demote --clear`: effective advskew 240, so the others win; the addresses stay until the successor is heard. */
  demote(on: boolean): void {
    this.input({ type: 'demote', demoted: on, reason: on ? 'operator (carpool demote)' : 'operator (carpool demote --clear)' });
  }

  standby(on: boolean, reason: string): void {
    this.input({ type: 'standby', on, reason });
  }

  statusLine(): string {
    const st = this.machine.state === 'BACKUP' ? 'BACKUP' : 'MASTER';
    return this.deps.ucarpStyle ? `${st} on ${this.cfg.interface} id ${this.cfg.vhid}` : `${this.cfg.name}: ${this.machine.state} on ${this.cfg.interface} id ${this.cfg.vhid}`;
  }

  protected ownedAddresses(): OwnedAddress[] {
    if (!this.cfg.manageAddresses) return [];
    return this.cfg.addresses.map((vip) => ({ vip, device: this.deps.port.device, ifindex: this.deps.port.ifindex }));
  }

  protected addAgain(device: string, ifindex: number, vips: readonly VirtualAddress[]): void {
    this.deps.addresses?.add(device, ifindex, vips);
  }

  protected announce(vip: VirtualAddress): void {
    if (vip.family === 4) this.sendGarp(vip.address);
  }

  // --- PortListener -------------------------------------------------------------------

  receive(pkt: RawPacket): boolean {
    if (pkt.payload.length >= 1 && pkt.payload[0]! >> 4 !== 2) return false; // VRRPv3 etc.: not ours
    if (pkt.src === this.srcText) return true; // our own advert looped back
    const checked = checkAdvert(pkt.payload, pkt.ttl);
    const verdict = checked.ok ? verifyAdvert(checked.value, pkt.dst, this.cfg.mcast, this.machine.params.auth, this.srcText) : checked;
    if (!verdict.ok) {
      this.countDrop(verdict.reason);
      this.logDrop(verdict.reason, pkt);
      this.deps.onDrop?.(this.cfg.name, verdict.reason, pkt.src);
      return true;
    }
    this.lastPeer = pkt.src;
    this.input({ type: 'advert', advert: verdict.value, src: parseIPv4(pkt.src)!, srcText: pkt.src });
    return true;
  }

  /** Rate-limited per instance and reason: spoofed sources do not each get a log budget. */
  private logDrop(reason: string, pkt: RawPacket): void {
    if (reason === 'destination') {
      this.log.debug(this.prefix(`Ignoring different multicast ip: [${pkt.dst}]`));
      return;
    }
    const text = reason === 'ttl' ? `Bad TTL: [${pkt.ttl}] from ${pkt.src}`
      : reason === 'digest' ? `Bad digest from ${pkt.src} - Check vhid, password and virtual IP address`
      : reason === 'checksum' ? `Bad IP checksum from ${pkt.src}`
      : reason === 'version' ? `Bad version from ${pkt.src}`
      : `Dropped packet from ${pkt.src}: ${reason}`;
    this.log.logLimited('warning', this.prefix(text), `${this.name}:drop:${reason}`, this.fields('drop'));
  }


  // --- effects ------------------------------------------------------------------------

  private apply(e: CarpEffect): void {
    const { port, log } = this.deps;
    switch (e.type) {
      case 'send': {
        const r = port.send(e.to ?? this.cfg.mcast, e.payload, this.srcText);
        if (!r.ok) {
          this.sendErrors++;
          log.logLimited('error', this.prefix(`write() has failed: ${r.error}`), `${this.name}:send`, this.fields('send-error'));
        }
        this.queue.push({ type: 'sendResult', ok: r.ok });
        break;
      }
      case 'transition':
        this.noteTransition(e.to);
        log.log(e.to === 'INIT' ? 'info' : 'warning', this.prefix(`Switching to state: ${e.to}`), this.fields('transition', e.to));
        if (!this.deps.ucarpStyle) log.info(`${this.cfg.name}: ${e.from} -> ${e.to} (${e.reason})`, this.fields(undefined, e.to));
        this.deps.onTransition?.(this.cfg.name, e.from, e.to, e.reason, this.lastPeer);
        break;
      case 'addAddresses':
        this.holds = true;
        this.deps.addresses?.add(port.device, port.ifindex, this.cfg.addresses);
        break;
      case 'removeAddresses':
        this.holds = false;
        this.deps.addresses?.remove(port.device, port.ifindex, this.cfg.addresses);
        break;
      case 'garp':
        this.sendGarps();
        break;
      case 'hook':
        this.runHook(e.which);
        break;
      case 'log':
        log.log(e.level, this.prefix(e.message), this.fields());
        break;
      case 'stopped':
        this.stopped?.();
        break;
      default:
        assertNever(e);
    }
  }

  private sendGarps(): void {
    for (const a of this.cfg.addresses) if (a.family === 4) this.sendGarp(a.address);
  }

  /** ucarp's gratuitous ARP: a request with sender = target = the address. */
  private sendGarp(address: string): void {
    const r = this.deps.port.sendFrame(gratuitousArp(this.deps.port.mac, address));
    if (!r.ok) this.log.error(this.prefix(`Cannot send gratuitous ARP for ${address}: ${r.error}`));
  }

  private runHook(which: 'up' | 'down'): void {
    const hook = which === 'up' ? this.cfg.upHook : this.cfg.downHook;
    if (!hook) return;
    const vip = this.cfg.addresses[0]?.address ?? '';
    const args = [this.cfg.interface, vip, ...(this.cfg.xparam !== undefined ? [this.cfg.xparam] : [])];
    const env = {
      CARPOOL_INSTANCE: this.cfg.name, CARPOOL_STATE: which === 'up' ? 'MASTER' : 'BACKUP',
      CARPOOL_INTERFACE: this.cfg.interface, CARPOOL_VHID: String(this.cfg.vhid),
      CARPOOL_ADDRESSES: this.cfg.addresses.map((a) => `${a.address}/${a.prefix}`).join(' '),
    };
    void this.deps.hooks.enqueue({ hook, args, env, label: `${this.cfg.name} ${which}` }).then(() => {
      // ucarp sends its GARP after the up script has added the VIP; we sent one at once
      // (without blocking) and send another now that the script is done.
      if (which === 'up' && !this.cfg.manageAddresses && this.machine.state === 'MASTER') this.sendGarps();
    });
  }

  /**
   * Graceful stop with shutdown hooks (`-z`): bow out, wait for a successor (bounded),
   * release, run the down hook; resolves when the machine says it is safe to exit.
   * Without them the instance just stops (ucarp leaves the addresses to the next start).
   */
  shutdown(): Promise<void> {
    if (!this.cfg.shutdownHooks) {
      this.halt();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.stopped = resolve;
      this.input({ type: 'shutdown' });
    });
  }

  reconfigure(cfg: Instance): void {
    if (cfg.kind !== 'carp' || cfg.vhid !== this.c.vhid || cfg.interface !== this.c.interface) {
      throw new Error(`${this.name}: reconfigure needs the same protocol, vhid and interface`);
    }
    const old = this.c;
    this.c = cfg;
    this.input({ type: 'reconfigure', params: this.params(cfg) });
    if (!this.holds || !cfg.manageAddresses) return;
    // Only the addresses that changed: the others stay, so their connections do not notice.
    const key = (a: VirtualAddress) => `${a.address}/${a.prefix}`;
    const gone = old.addresses.filter((a) => !cfg.addresses.some((b) => key(b) === key(a)));
    const added = cfg.addresses.filter((a) => !old.addresses.some((b) => key(b) === key(a)));
    const { port } = this.deps;
    if (gone.length) this.deps.addresses?.remove(port.device, port.ifindex, gone);
    if (added.length) {
      this.deps.addresses?.add(port.device, port.ifindex, added);
      for (const a of added) this.announce(a);
    }
  }

  retire(): Promise<void> {
    return new Promise((resolve) => {
      this.stopped = () => {
        this.halt();
        resolve();
      };
      this.input({ type: 'shutdown', release: true });
    });
  }

  status(): InstanceStatus {
    const s = this.machine.status();
    return {
      name: this.cfg.name, protocol: 'carp', interface: this.cfg.interface, vhid: this.cfg.vhid,
      state: s.state, master: s.master ?? null, source: this.srcText,
      addresses: this.cfg.addresses.map((a) => `${a.address}/${a.prefix}`),
      holdsAddresses: this.cfg.manageAddresses ? this.holds : s.state === 'MASTER',
      linkUp: s.linkUp,
      priority: { advbase: this.cfg.advbase, advskew: this.cfg.advskew, advskewEffective: s.advskewEffective, preempt: this.cfg.preempt, demoted: s.demoted },
      ...(s.groupDemoted !== undefined ? { groupDemotion: s.groupDemoted } : {}),
      lastTransition: this.transitionInfo(s.lastTransition),
      transitions: this.transitions,
      becameMasterAt: this.becameMasterAt,
      counters: { advertsSent: s.advertsSent, advertsReceived: s.advertsReceived, sendErrors: this.sendErrors, drops: { ...this.drops } },
    };
  }
}
