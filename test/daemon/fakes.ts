/** Fakes for the instance shells' unit tests: a port that records what goes out, an address manager, a quiet logger. */
import type { VirtualAddress } from '../../src/config/model.js';
import type { ShellAddresses, ShellPort } from '../../src/daemon/instance-shell.js';
import { Logger } from '../../src/daemon/logger.js';
import type { SendResult } from '../../src/net/errors.js';
import type { RawPacket } from '../../src/net/raw-socket.js';

export class FakePort implements ShellPort {
  readonly device = 'eth0';
  readonly ifindex = 7;
  readonly mac = new Uint8Array([0x02, 0, 0, 0, 0, 0x01]);
  running = true;
  /** Adverts sent: destination, payload, source, at (Date.now(), faked). */
  readonly sent: { dst: string; payload: Uint8Array; src: string | undefined; at: number }[] = [];
  readonly frames: Uint8Array[] = [];
  /** errno to fail sends with; undefined = sends succeed. */
  failWith: string | undefined;

  send(dst: string, payload: Uint8Array, src?: string): SendResult {
    if (this.failWith) return { ok: false, error: this.failWith };
    this.sent.push({ dst, payload: payload.slice(), src, at: Date.now() });
    return { ok: true, bytes: payload.length };
  }

  sendFrame(frame: Uint8Array): SendResult {
    this.frames.push(frame.slice());
    return { ok: true, bytes: frame.length };
  }

  /** Whole datagrams sent on the AH socket (auth_type AH). */
  readonly datagrams: { dst: string; datagram: Uint8Array }[] = [];
  ahEnabled = false;

  sendDatagram(dst: string, datagram: Uint8Array): SendResult {
    if (this.failWith) return { ok: false, error: this.failWith };
    this.datagrams.push({ dst, datagram: datagram.slice() });
    return { ok: true, bytes: datagram.length };
  }

  enableAh(): void {
    this.ahEnabled = true;
  }

  /** The gratuitous ARPs sent for `ip` (sender protocol address at bytes 28..31). */
  garpsFor(ip: string): Uint8Array[] {
    const want = ip.split('.').map(Number);
    return this.frames.filter((f) => f[12] === 0x08 && f[13] === 0x06 && want.every((b, i) => f[28 + i] === b));
  }
}

export class FakeAddresses implements ShellAddresses {
  readonly added: { dev: string; ifindex: number; addresses: string[] }[] = [];
  readonly removed: { dev: string; ifindex: number; addresses: string[] }[] = [];

  add(dev: string, ifindex: number, vips: readonly VirtualAddress[]): number {
    this.added.push({ dev, ifindex, addresses: vips.map((v) => v.address) });
    return 0;
  }

  remove(dev: string, ifindex: number, vips: readonly VirtualAddress[]): void {
    this.removed.push({ dev, ifindex, addresses: vips.map((v) => v.address) });
  }
}

/** A logger that prints nothing and keeps its lines. */
export function quietLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = new Logger({ ident: 'test', facility: 'none', debug: true, console: false, onLine: (level, text) => lines.push(`${level}: ${text}`) });
  return { log, lines };
}

/** A received packet as the raw socket hands it over. */
export function packet(payload: Uint8Array, src: string, dst: string, ttl = 255): RawPacket {
  return { family: 4, src, dst, ttl, ifindex: 7, payload };
}

export const vip = (address: string): VirtualAddress => ({ family: 4, address, prefix: 24 });

/** What a shell test gives an instance shell and watches: the fakes, the log lines, the transitions (`web INIT->BACKUP`). */
export function shellWorld() {
  const port = new FakePort();
  const addresses = new FakeAddresses();
  const { log, lines } = quietLogger();
  const transitions: string[] = [];
  const onTransition = (name: string, from: string, to: string) => { transitions.push(`${name} ${from}->${to}`); };
  return { port, addresses, log, lines, transitions, onTransition };
}
