/**
 * One network interface and address family as the daemon uses it: a raw IP socket for
 * protocol 112 shared by every instance on the interface (CARP and VRRP, demultiplexed by
 * vhid/VRID and version), an AF_PACKET socket for gratuitous ARP / NA frames, and
 * counters for packets no instance could take. A send-only port (a VRRP virtual-MAC
 * interface) never reads: the base interface's port receives. A VRRPv2 instance with
 * `auth_type AH` adds a second raw socket for protocol 51 (IPsec AH) on its port: it sends
 * whole datagrams (IP_HDRINCL: the AH's ICV covers the identification field) and hands the
 * VRRP message inside a received AH to the instance with the AH part for it to verify.
 */
import { FrameSocket } from '../net/frame-socket.js';
import { interfaceInfo } from '../net/link.js';
import { RawSocket, type RawPacket } from '../net/raw-socket.js';
import type { SendResult } from '../net/errors.js';
import { CarpoolError } from '../lib/errors.js';
import { parseMac } from '../protocol/arp.js';
import type { IPv4Header } from '../protocol/ipv4.js';
import { IPPROTO_AH, splitAh } from '../protocol/vrrp/ah.js';
import type { Logger } from './logger.js';

export const PROTO_CARP_VRRP = 112;

/** A received packet; `payload` is the CARP/VRRP message (for AH: the one inside the AH). */
export interface PortPacket extends RawPacket {
  /** Present when the message came inside an IPsec AH: what the receiver verifies. */
  readonly ah?: { readonly header: IPv4Header; readonly datagram: Uint8Array };
}

/** Receives packets for one (protocol kind, id) on a port. */
export interface PortListener {
  /** vhid / VRID this listener answers for. */
  readonly id: number;
  /** Called with every packet whose id byte matches; returns true when it took the packet. */
  receive(pkt: PortPacket): boolean;
}

export class Port {
  private raw: RawSocket | undefined;
  /** Protocol 51 (IPsec AH), opened once an AH instance asks for it. */
  private ahRaw: RawSocket | undefined;
  private ahWanted = false;
  private frames: FrameSocket | undefined;
  private readonly listeners: PortListener[] = [];
  private readonly groups = new Set<string>();
  /** Drops that no instance could be charged with, by reason. */
  readonly drops: Record<string, number> = {};
  ifindex = 0;
  mac: Uint8Array = new Uint8Array(6);
  running = false;

  /** `device` is the real interface (`eth0` for an alias `eth0:carp0`). */
  constructor(
    readonly device: string,
    private readonly log: Logger,
    private readonly tos: number,
    readonly family: 4 | 6 = 4,
    private readonly sendOnly = false,
  ) {}

  /** Look the interface up and open the sockets. Throws a clear error when it is missing. */
  open(): void {
    const info = interfaceInfo(this.device);
    if (!info) {
      throw new CarpoolError('IFACE_MISSING', `Unable to find MAC address of [${this.device}]: no such interface`,
        'check the interface name with `ip link`');
    }
    this.ifindex = info.index;
    this.mac = parseMac(info.mac);
    this.running = info.running;
    this.raw = RawSocket.open({ family: this.family, protocol: PROTO_CARP_VRRP, ifname: this.device, tos: this.tos });
    if (!this.sendOnly) {
      for (const g of this.groups) this.raw.join(g);
      this.raw.onPacket((p) => this.dispatch(p), (d) => this.count(`ip-${d.reason}`));
    }
    this.frames = FrameSocket.open(this.device);
    if (this.ahWanted) this.openAh();
  }

  /** Send and receive VRRP inside IPsec AH too (IPv4 only; idempotent). */
  enableAh(): void {
    this.ahWanted = true;
    if (this.raw && !this.ahRaw) this.openAh();
  }

  private openAh(): void {
    this.ahRaw = RawSocket.open({ family: 4, protocol: IPPROTO_AH, ifname: this.device, headerIncluded: true });
    if (this.sendOnly) return;
    for (const g of this.groups) this.ahRaw.join(g);
    this.ahRaw.onPacket((p) => this.dispatchAh(p), (d) => this.count(`ip-${d.reason}`));
  }

  /** Send a whole IPv4 datagram (header included) on the AH socket. */
  sendDatagram(dst: string, datagram: Uint8Array): SendResult {
    if (!this.ahRaw) return { ok: false, error: 'ENODEV' };
    return this.ahRaw.send(dst, datagram);
  }

  get isOpen(): boolean {
    return this.raw !== undefined;
  }

  /** Re-open after the interface was deleted and re-created (new ifindex). */
  reopen(): void {
    this.closeSockets();
    this.open();
  }

  join(group: string): void {
    if (this.groups.has(group)) return;
    this.groups.add(group);
    if (!this.sendOnly) {
      this.raw?.join(group);
      this.ahRaw?.join(group);
    }
  }

  attach(l: PortListener): void {
    this.listeners.push(l);
  }

  /** Stop dispatching to `l` (an instance removed by a reload). */
  detach(l: PortListener): void {
    const i = this.listeners.indexOf(l);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  /** How many instances receive through this port. */
  get listenerCount(): number {
    return this.listeners.length;
  }

  /**
   * Send from `src`: chosen per packet (IP_PKTINFO), not by bind(), because a bound raw
   * socket would only receive packets addressed to that address and miss the multicast.
   */
  send(dst: string, payload: Uint8Array, src?: string): SendResult {
    if (!this.raw) return { ok: false, error: 'ENODEV' };
    return this.raw.send(dst, payload, src);
  }

  sendFrame(frame: Uint8Array): SendResult {
    if (!this.frames) return { ok: false, error: 'ENODEV' };
    return this.frames.send(frame);
  }

  count(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  private dispatchAh(pkt: RawPacket): void {
    const split = splitAh(pkt.payload);
    if (!split.ok || !pkt.ipHeader) {
      this.count(split.ok ? 'ah-length' : split.reason);
      return;
    }
    this.dispatch({ ...pkt, payload: split.value.vrrp, ah: { header: pkt.ipHeader, datagram: pkt.payload } });
  }

  private dispatch(pkt: PortPacket): void {
    if (pkt.payload.length < 2) {
      this.count('length');
      return;
    }
    const id = pkt.payload[1]!;
    for (const l of this.listeners) {
      if (l.id === id && l.receive(pkt)) return;
    }
    // No instance answers for this id and protocol version on this interface.
    this.count('vhid');
    this.log.debug(`Ignoring vhid: [${id}] from ${pkt.src}`);
  }

  private closeSockets(): void {
    this.raw?.close();
    this.ahRaw?.close();
    this.frames?.close();
    this.raw = undefined;
    this.ahRaw = undefined;
    this.frames = undefined;
  }

  close(): void {
    this.closeSockets();
  }
}
