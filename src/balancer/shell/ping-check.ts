/**
 * PING_CHECK: one ICMP (ICMPv6) echo request to `connect_ip` (default the real server),
 * answered within `connect_timeout`. Node has no ICMP sockets; rather than fork
 * `ping -c1 -W` for every check (a process per probe, and its output to parse), this uses the
 * native addon's raw IP socket (src/net/raw-socket.ts, the one the lab's ICMP probe uses),
 * event-driven like every other socket of the daemon: protocol 1 (58 for IPv6, where the
 * kernel fills the checksum), bound to `bind_if` when set, sent from `bindto` when set. The
 * echo identifier is random per probe; only a reply from the target with it counts.
 */
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { RawSocket } from '../../net/raw-socket.js';
import { internetChecksum } from '../../protocol/checksum.js';
import { bounded, type Probe } from './probe-kit.js';

/** An echo request: type, code, checksum (IPv4 only; the kernel does ICMPv6's), id, sequence, 8 bytes of data. */
export function echoRequest(v6: boolean, id: number, seq: number): Uint8Array {
  const p = new Uint8Array(16);
  p[0] = v6 ? 128 : 8;
  p[4] = id >> 8; p[5] = id & 0xff;
  p[6] = seq >> 8; p[7] = seq & 0xff;
  p.set(new TextEncoder().encode('carpool!'), 8);
  if (!v6) {
    const sum = internetChecksum(p);
    p[2] = sum >> 8; p[3] = sum & 0xff;
  }
  return p;
}

/** Whether `icmp` (the bytes after the IP header) is the echo reply to (`id`, `seq`). */
export function isEchoReply(v6: boolean, icmp: Uint8Array, id: number, seq: number): boolean {
  return icmp.length >= 8 && icmp[0] === (v6 ? 129 : 0) && icmp[1] === 0
    && ((icmp[4]! << 8) | icmp[5]!) === id && ((icmp[6]! << 8) | icmp[7]!) === seq;
}

export const pingCheck: Probe<'PING_CHECK'> = (spec, signal) => {
  const c = spec.checker;
  const host = c.connectIp ?? spec.address;
  const v6 = isIPv6(host);
  const id = randomInt(0x10000);
  const seq = 1;
  return bounded(signal, c.connectTimeoutMs, `no echo reply within ${c.connectTimeoutMs} ms`, (done) => {
    let sock: RawSocket;
    try {
      sock = RawSocket.open({ family: v6 ? 6 : 4, protocol: v6 ? 58 : 1, ifname: c.bindIf ?? '' });
    } catch (err) {
      done({ ok: false, detail: `cannot open an ICMP socket: ${(err as Error).message}` });
      return () => undefined;
    }
    const t0 = performance.now();
    sock.onPacket((p) => {
      if (p.src === host && isEchoReply(v6, p.payload, id, seq)) done({ ok: true, detail: `echo reply in ${(performance.now() - t0).toFixed(1)} ms` });
    });
    const sent = sock.send(host, echoRequest(v6, id, seq), c.bindto);
    if (!sent.ok) done({ ok: false, detail: `send: ${sent.error}` });
    return () => sock.close();
  });
};
