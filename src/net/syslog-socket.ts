/**
 * The datagram socket to the local syslog daemon (`/dev/log`). Sending never blocks: a
 * daemon that does not keep up costs us `EAGAIN` results (the logger counts and drops), not
 * a stalled event loop, which for an HA daemon would mean missed adverts. Message
 * formatting (RFC 3164/5424) is done elsewhere. The same client carries systemd's notify
 * datagrams (`$NOTIFY_SOCKET`, src/daemon/systemd.ts).
 */
import { callNative, errnoName, NetError, sendResult, type SendResult } from './errors.js';
import { native } from './native.js';

/** A connected datagram socket "goes stale" when syslog restarts and recreates its socket file. */
const RECONNECT_ON = new Set(['ECONNREFUSED', 'ENOTCONN', 'ENOENT']);

export class SyslogSocket {
  #fd: number;

  private constructor(
    fd: number,
    readonly path: string,
  ) {
    this.#fd = fd;
  }

  /** Connect to `path` (`@name` for the abstract namespace); throws NetError if nobody listens. */
  static open(path = '/dev/log'): SyslogSocket {
    return new SyslogSocket(callNative('unixDgramOpen', path, () => native().unixDgramOpen(path)), path);
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * Send one datagram. When the receiver went away (syslog restarted) reconnect once and
   * retry; if that fails too the error is returned, the next send tries again.
   */
  send(data: Uint8Array | string): SendResult {
    if (this.#fd < 0) throw new NetError('unixDgramSend', 'EBADF', `unixDgramSend: the socket to ${this.path} is closed`);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const fd = this.#fd;
    const first = native().unixDgramSend(fd, bytes);
    if (first >= 0 || !RECONNECT_ON.has(errnoName(first))) return sendResult(first);
    try {
      const fresh = native().unixDgramOpen(this.path);
      native().unixDgramClose(fd);
      this.#fd = fresh;
    } catch {
      return sendResult(first);
    }
    return sendResult(native().unixDgramSend(this.#fd, bytes));
  }

  /** Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    native().unixDgramClose(this.#fd);
    this.#fd = -1;
  }
}
