/**
 * The contract every instance shell keeps (CARP: carp-shell.ts, VRRP: vrrp-shell.ts, etcd:
 * coordination/shell/etcd-shell.ts), so
 * the daemon treats instances alike: packets come in through `receive` (the port's
 * listener), link events, operator commands and the re-assert of a removed address go in
 * through the methods below, and each shell feeds its pure machine and carries out the
 * effects. `ShellBase` holds what both shells share: drop counters, transition
 * bookkeeping, the input queue, and the single timer re-armed from the machine's deadline.
 */
import type { Instance, VirtualAddress } from '../config/model.js';
import type { InstanceStatus, TransitionInfo } from '../control/status.js';
import type { AddressManager } from './addresses.js';
import type { HookQueue } from './hooks.js';
import type { LogFields, Logger } from './logger.js';
import type { Port, PortListener } from './port.js';

/** What a shell uses of a port: the sending half and the interface it stands for (a fake in unit tests). */
export type ShellPort = Pick<Port, 'device' | 'ifindex' | 'mac' | 'running' | 'send' | 'sendFrame' | 'sendDatagram' | 'enableAh'>;

/**
 * What a shell uses of a hook queue. Each instance gets its own (and each sync group), so a
 * hanging hook of one instance never delays another's (issue 11); order is kept within it.
 */
export type ShellHooks = Pick<HookQueue, 'enqueue'>;

/** What a shell uses of the address manager. */
export type ShellAddresses = Pick<AddressManager, 'add' | 'remove'>;

export interface InstanceShell extends PortListener {
  readonly name: string;
  readonly protocol: 'carp' | 'vrrp' | 'etcd';
  /** Start electing (after every shell of the daemon is built). */
  start(): void;
  /** A link's carrier changed (any interface: each shell picks the ones it watches). Repeats are ignored. */
  linkChanged(ifname: string, running: boolean): void;
  /** Planned switchover (ucarp's SIGUSR2, `carpool demote` of a VRRP instance). */
  stepDown(reason: string): void;
  /** `carpool demote` (on) / `carpool demote --clear` (off); throws a CarpoolError where the protocol has no such thing. */
  demote(on: boolean): void;
  /** A resource group says the instance must (not) be served here. */
  standby(on: boolean, reason: string): void;
  /**
   * Someone deleted `address` from interface `ifindex`: if it is ours and we hold it, add
   * it again and announce it (gratuitous ARP / unsolicited NA). Returns whether it was ours.
   */
  reassert(ifindex: number, address: string): boolean;
  status(): InstanceStatus;
  /** One line for SIGUSR1 (ucarp's wording in ucarp mode, keepalived's for VRRP). */
  statusLine(): string;
  /** Graceful stop: resolves when the machine says it is safe to exit. */
  shutdown(): Promise<void>;
  /** Stop timers without any protocol action. */
  halt(): void;
  /**
   * Live reload, settings `planReload` allows in place (same protocol, id, interface and
   * source): no state change; addresses added or removed while master are added / removed
   * on their own and the added ones announced.
   */
  reconfigure(cfg: Instance): void;
  /**
   * Removed by a reload: a master bows out and releases make-before-break, as on shutdown
   * (whatever its shutdown-hook setting), then the timers stop. Resolves when it is done.
   */
  retire(): Promise<void>;
}

/**
 * Inputs fed one at a time: an input raised while one is being handled (an effect's
 * follow-up, a sync-group delivery) waits its turn and runs before `push` returns, then
 * `settled` runs once (re-arm the timers).
 */
export class InputQueue<T> {
  private readonly items: T[] = [];
  private running = false;

  constructor(private readonly handle: (item: T) => void, private readonly settled: () => void) {}

  push(item: T): void {
    this.items.push(item);
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.items.shift(); next !== undefined; next = this.items.shift()) this.handle(next);
    } finally {
      this.running = false;
    }
    this.settled();
  }
}

/** An address this shell adds while it holds the addresses, and the interface it lives on. */
export interface OwnedAddress {
  readonly vip: VirtualAddress;
  readonly device: string;
  readonly ifindex: number | undefined;
}

export abstract class ShellBase implements InstanceShell {
  abstract readonly name: string;
  abstract readonly protocol: 'carp' | 'vrrp' | 'etcd';
  abstract readonly id: number;
  /** Dropped packets by reason; every reason present from the start (status shows zeros). */
  protected readonly drops: Record<string, number>;
  protected transitions = 0;
  protected lastTransitionAt: string | null = null;
  /** Monotonic time of the last transition (its age in status survives wall-clock jumps). */
  private lastTransitionMono: number | undefined;
  /** ISO time this host last became MASTER (the last takeover), null before the first. */
  protected becameMasterAt: string | null = null;
  /** The addresses are on this host (set by the add/remove effects). */
  protected holds = false;
  /** Source of the last valid advert from another node: the peer a fence command is aimed at. */
  protected lastPeer: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;

  constructor(dropReasons: readonly string[], protected readonly log: Logger, protected readonly now: () => number) {
    this.drops = Object.fromEntries(dropReasons.map((r) => [r, 0]));
  }

  abstract receive(pkt: Parameters<PortListener['receive']>[0]): boolean;
  abstract start(): void;
  abstract linkChanged(ifname: string, running: boolean): void;
  abstract stepDown(reason: string): void;
  abstract demote(on: boolean): void;
  abstract standby(on: boolean, reason: string): void;
  abstract status(): InstanceStatus;
  abstract statusLine(): string;
  abstract shutdown(): Promise<void>;
  abstract reconfigure(cfg: Instance): void;
  abstract retire(): Promise<void>;

  /** The machine's earliest deadline (monotonic ms), undefined when nothing is due. */
  protected abstract nextDeadline(): number | undefined;
  /** Feed the machine a timer tick. */
  protected abstract tick(): void;
  /** The instance's log line for `text` (`name: text`, `(name) text`, or ucarp's bare text). */
  protected abstract prefix(text: string): string;
  /** Every address the shell adds while it holds them. */
  protected abstract ownedAddresses(): OwnedAddress[];
  /** Put addresses back on `device` (the add effect's path). */
  protected abstract addAgain(device: string, ifindex: number, vips: readonly VirtualAddress[]): void;
  /** Announce one address: gratuitous ARP (IPv4) or unsolicited NA (IPv6). */
  protected abstract announce(vip: VirtualAddress): void;

  /** What the journal records about this instance's log lines (CARPOOL_INSTANCE, _VHID, _STATE, _EVENT). */
  protected fields(event?: string, state?: string): LogFields {
    return { instance: this.name, vhid: this.id, ...(state !== undefined ? { state } : {}), ...(event !== undefined ? { event } : {}) };
  }

  protected countDrop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  /** Bookkeeping of a state change, for status. */
  protected noteTransition(to: string): void {
    this.transitions++;
    this.lastTransitionAt = new Date().toISOString();
    this.lastTransitionMono = this.now();
    if (to === 'MASTER') this.becameMasterAt = this.lastTransitionAt;
  }

  /** The machine's last transition for status: `at` for people, `agoSeconds` from the monotonic clock. */
  protected transitionInfo(t: { readonly from: string; readonly to: string; readonly reason: string } | undefined): TransitionInfo | null {
    if (!t || !this.lastTransitionAt || this.lastTransitionMono === undefined) return null;
    return { from: t.from, to: t.to, reason: t.reason, at: this.lastTransitionAt, agoSeconds: Math.max(0, (this.now() - this.lastTransitionMono) / 1000) };
  }

  /** One timer per instance, for the machine's earliest deadline (OpenBSD carp_setrun()). */
  protected rearm(): void {
    const d = this.nextDeadline();
    if (d === this.armedFor && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = d;
    if (d === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.tick();
    }, Math.max(0, d - this.now()));
  }

  halt(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  reassert(ifindex: number, address: string): boolean {
    const hit = this.ownedAddresses().filter((o) => o.vip.address === address && o.ifindex === ifindex);
    const first = hit[0];
    if (!first) return false;
    if (!this.holds) return true;
    // The master must answer for it: keepalived puts a deleted VIP back and announces it.
    this.log.warning(this.prefix(`virtual address ${address} was removed behind our back; adding it again`), this.fields('address-readded'));
    this.addAgain(first.device, ifindex, hit.map((o) => o.vip));
    for (const o of hit) this.announce(o.vip);
    return true;
  }
}
