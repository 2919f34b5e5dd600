/**
 * UDP_CHECK (keepalived.conf(5)): send `payload` (hex; 16 random bytes when unset) to
 * `connect_ip`:`connect_port` on a connected socket, so an ICMP port (or host) unreachable
 * fails the check at once. With `require_reply` a datagram must come back within
 * `connect_timeout`, its length within `min_reply_length`..`max_reply_length`, and, with a hex
 * pattern, matching it over the shorter of the two (x = any nibble). Without `require_reply`
 * the check passes when no ICMP error arrives within `connect_timeout` (or a reply does).
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { bounded, sendTo, target, type Probe } from './probe-kit.js';

/** Whether `reply` matches keepalived's `require_reply` pattern (lower-case hex, x = any nibble) over min(length, pattern length). */
export function replyMatches(reply: Uint8Array, pattern: string): boolean {
  const n = Math.min(reply.length, pattern.length >> 1);
  for (let i = 0; i < n; i++) {
    const hex = reply[i]!.toString(16).padStart(2, '0');
    for (let k = 0; k < 2; k++) {
      const p = pattern[2 * i + k]!;
      if (p !== 'x' && p !== hex[k]) return false;
    }
  }
  return true;
}

export const udpCheck: Probe<'UDP_CHECK'> = (spec, signal) => {
  const c = spec.checker;
  const { host, port } = target(c, spec);
  const payload = c.payload !== undefined ? Buffer.from(c.payload, 'hex') : randomBytes(16);
  const silence = { ok: !c.requireReply, detail: c.requireReply ? `no reply within ${c.connectTimeoutMs} ms` : `no ICMP error within ${c.connectTimeoutMs} ms` };
  return bounded(signal, c.connectTimeoutMs, silence.detail, (done) => {
    const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    let closed = false;
    sock.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code === 'ECONNREFUSED' ? 'port unreachable (ICMP)' : `${err.code ?? err.message}` }));
    sock.on('message', (msg) => {
      if (!c.requireReply) { done({ ok: true, detail: `reply of ${msg.length} bytes` }); return; }
      if (msg.length < c.minReplyLength || msg.length > c.maxReplyLength) {
        done({ ok: false, detail: `reply of ${msg.length} bytes, expected ${c.minReplyLength}..${c.maxReplyLength}` });
      } else if (c.replyPattern !== undefined && !replyMatches(msg, c.replyPattern)) {
        done({ ok: false, detail: `reply ${msg.subarray(0, 16).toString('hex')} does not match ${c.replyPattern}` });
      } else {
        done({ ok: true, detail: `reply of ${msg.length} bytes` });
      }
    });
    sendTo(sock, { host, port, ...(c.bindto ? { bindto: c.bindto } : {}), ...(c.bindPort ? { bindPort: c.bindPort } : {}) }, payload, () => closed, done);
    return () => { closed = true; sock.close(); };
  }).then((r) => (r.detail === silence.detail ? silence : r)); // silence passes without require_reply
};
