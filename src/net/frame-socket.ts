/**
 * Sender of whole Ethernet frames (gratuitous ARP, unsolicited neighbour advertisements)
 * on one interface. The frames are built in TypeScript; this socket (AF_PACKET, protocol 0)
 * only sends and never receives, so it costs nothing while idle.
 */
import { callNative, NetError, sendResult, type SendResult } from './errors.js';
import { native } from './native.js';

export class FrameSocket {
  #fd: number;

  private constructor(
    fd: number,
    /** The device the socket is bound to (`eth0` for `eth0:vip`). */
    readonly ifname: string,
  ) {
    this.#fd = fd;
  }

  /** Open on `ifname`; throws NetError (`NET_EPERM` without CAP_NET_RAW, `NET_ENODEV`). */
  static open(ifname: string): FrameSocket {
    const fd = callNative('packetOpen', ifname, () => native().packetOpen(ifname));
    return new FrameSocket(fd, ifname);
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * Send one frame (destination MAC = first 6 bytes, EtherType at 12). ENOBUFS, ENETDOWN
   * and friends come back as `{ok: false}`; the frame is not retried.
   */
  send(frame: Uint8Array): SendResult {
    const fd = this.#fd;
    if (fd < 0) throw new NetError('packetSend', 'EBADF', `packetSend: the frame socket on ${this.ifname} is closed`);
    return sendResult(callNative('packetSend', `on ${this.ifname}`, () => native().packetSend(fd, 0, frame)));
  }

  /** Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    native().packetClose(this.#fd);
    this.#fd = -1;
  }
}
