/**
 * Raw IP socket for one IP protocol on one interface (112 for CARP and VRRP), IPv4 or
 * IPv6. The kernel builds the IP header on send (TTL/hop limit 255, TOS as configured,
 * multicast loop off); on receive every datagram is normalised to `RawPacket`, IPv4
 * headers decoded by the pure `decodeIPv4Header`. Malformed IPv4 headers are reported to
 * the drop handler with a reason, never thrown.
 */
import { decodeIPv4Header, type IPv4DropReason, type IPv4Header } from '../protocol/ipv4.js';
import type { Family } from '../protocol/inet.js';
import { callNative, NetError, sendResult, type SendResult } from './errors.js';
import { native } from './native.js';

export interface RawSocketOptions {
  readonly family: Family;
  /** IP protocol number, 112 for CARP/VRRP. */
  readonly protocol: number;
  /** Interface to bind to (SO_BINDTODEVICE) and send multicast on; `eth0:x` aliases use `eth0`. */
  readonly ifname: string;
  /** TOS / traffic class byte: CARP 0x10, VRRP 0xC0. */
  readonly tos?: number;
  /** TTL / hop limit for unicast destinations (default 255; keepalived `unicast_ttl`). */
  readonly unicastTtl?: number;
  /** TTL / hop limit for multicast (default 255). Only tests should change it. */
  readonly multicastTtl?: number;
  /** IPv6: let the kernel fill and verify the checksum at this payload offset (VRRPv3: 6). */
  readonly checksumOffset?: number;
  /** IPv4: `send` takes the whole datagram, IP header included (IP_HDRINCL; VRRP's IPsec AH). */
  readonly headerIncluded?: boolean;
}

export interface RawPacket {
  readonly family: Family;
  readonly src: string;
  readonly dst: string;
  /** IPv4 TTL or IPv6 hop limit as received; adverts must carry 255. -1 if unknown. */
  readonly ttl: number;
  /** Interface the datagram arrived on. */
  readonly ifindex: number;
  /** IPv4 only: the decoded header. */
  readonly ipHeader?: IPv4Header;
  /** Bytes after the IP header (IPv4: up to the header's total length). */
  readonly payload: Uint8Array;
}

export interface RawDrop {
  readonly family: Family;
  readonly reason: IPv4DropReason;
  readonly detail: string;
  /** As far as the kernel could tell (from the header bytes when they were there). */
  readonly src: string;
  readonly ifindex: number;
  readonly length: number;
}

export type RawPacketHandler = (packet: RawPacket) => void;
export type RawDropHandler = (drop: RawDrop) => void;

/**
 * A raw socket. Receiving starts with `onPacket`; a throwing handler does not stop the
 * receive path (the addon reports the exception through `process.emitWarning`).
 */
export class RawSocket {
  #fd: number;
  #receiving = false;

  private constructor(
    fd: number,
    readonly family: Family,
    readonly protocol: number,
    readonly ifname: string,
  ) {
    this.#fd = fd;
  }

  /** Open and configure; throws NetError (`NET_EPERM` without CAP_NET_RAW, `NET_ENODEV`...). */
  static open(opts: RawSocketOptions): RawSocket {
    const { family, protocol, ifname } = opts;
    const what = `IPv${family} protocol ${protocol} on ${ifname || 'any interface'}`;
    const fd = callNative('rawOpen', what, () => native().rawOpen(family, protocol, ifname, {
      ...(opts.tos !== undefined ? { tos: opts.tos } : {}),
      ...(opts.unicastTtl !== undefined ? { unicastTtl: opts.unicastTtl } : {}),
      ...(opts.multicastTtl !== undefined ? { multicastTtl: opts.multicastTtl } : {}),
      ...(opts.headerIncluded ? { headerIncluded: true } : {}),
    }));
    const sock = new RawSocket(fd, family, protocol, ifname);
    if (opts.checksumOffset !== undefined) {
      try {
        sock.setChecksumOffset(opts.checksumOffset);
      } catch (err) {
        sock.close();
        throw err;
      }
    }
    return sock;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The fd (for diagnostics); -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  #open(op: string): number {
    if (this.#fd < 0) throw new NetError(op, 'EBADF', `${op}: the raw socket on ${this.ifname} is closed`);
    return this.#fd;
  }

  /**
   * Bind to a local address: it becomes the source of everything sent. Note that Linux
   * then also delivers only datagrams addressed to it, so a bound socket no longer hears
   * multicast adverts: to receive and choose the source, use `send(dst, payload, src)`.
   */
  bind(srcAddress: string): void {
    const fd = this.#open('rawBind');
    callNative('rawBind', `to ${srcAddress} on ${this.ifname}`, () => native().rawBind(fd, this.family, srcAddress));
  }

  /** Join a multicast group on the socket's interface (or `ifname`). */
  join(group: string, ifname: string = this.ifname): void {
    const fd = this.#open('rawJoin');
    callNative('rawJoin', `${group} on ${ifname}`, () => native().rawJoin(fd, this.family, group, ifname));
  }

  leave(group: string, ifname: string = this.ifname): void {
    const fd = this.#open('rawLeave');
    callNative('rawLeave', `${group} on ${ifname}`, () => native().rawLeave(fd, this.family, group, ifname));
  }

  /** IPv6: kernel checksum at `offset` of the payload (RFC 3542 IPV6_CHECKSUM), -1 = off. */
  setChecksumOffset(offset: number): void {
    const fd = this.#open('rawSetChecksumOffset');
    callNative('rawSetChecksumOffset', `${offset}`, () => native().rawSetChecksumOffset(fd, offset));
  }

  /**
   * Send `payload` (the bytes after the IP header) to `dst`, from `src` when given (a
   * local address, chosen per datagram with IP_PKTINFO/IPV6_PKTINFO; the socket keeps
   * receiving everything). Network trouble (ENOBUFS, ENETDOWN, EADDRNOTAVAIL, a `src` that
   * is not local...) comes back as `{ok: false}` for the caller to count; only misuse throws.
   */
  send(dst: string, payload: Uint8Array, src?: string): SendResult {
    const fd = this.#open('rawSend');
    return sendResult(callNative('rawSend', `to ${dst}`, () => native().rawSend(fd, this.family, dst, payload, src)));
  }

  /** Start delivering datagrams. One handler per socket; call `stop()` first to replace it. */
  onPacket(handler: RawPacketHandler, onDrop?: RawDropHandler): void {
    const fd = this.#open('rawStart');
    const family = this.family;
    const receive = family === 4
      ? (packet: Buffer, src: string, _dst: string, _ttl: number, ifindex: number): void => {
        const r = decodeIPv4Header(packet);
        if (r.ok) {
          const h = r.header;
          handler({ family, src: h.src, dst: h.dst, ttl: h.ttl, ifindex, ipHeader: h, payload: r.payload });
        } else {
          onDrop?.({ family, reason: r.reason, detail: r.detail, src, ifindex, length: packet.length });
        }
      }
      : (packet: Buffer, src: string, dst: string, ttl: number, ifindex: number): void => {
        handler({ family, src, dst, ttl, ifindex, payload: packet });
      };
    callNative('rawStart', `on ${this.ifname}`, () => native().rawStart(fd, family, receive));
    this.#receiving = true;
  }

  get receiving(): boolean {
    return this.#receiving;
  }

  /** Stop receiving (the socket stays open for sending). */
  stop(): void {
    if (this.#fd < 0 || !this.#receiving) return;
    native().rawStop(this.#fd);
    this.#receiving = false;
  }

  /** Stop and close. Idempotent; safe from inside a packet handler. */
  close(): void {
    if (this.#fd < 0) return;
    native().rawClose(this.#fd);
    this.#fd = -1;
    this.#receiving = false;
  }
}
