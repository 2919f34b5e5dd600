/**
 * DNS_CHECK: one UDP query (`type`, `name`; our own codec, src/protocol/dns.ts) to
 * `connect_ip`:`connect_port` (the real server's port, usually 53), answered within
 * `connect_timeout` with NOERROR and a record of that type. Answers with another id or from
 * another address are ignored (a late answer to an earlier probe, a spoofed one); an ICMP
 * port unreachable fails at once (the socket is connected).
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { dnsVerdict, encodeQuery, parseResponse } from '../../protocol/dns.js';
import { bounded, sendTo, target, type Probe } from './probe-kit.js';

export const dnsCheck: Probe<'DNS_CHECK'> = (spec, signal) => {
  const c = spec.checker;
  const { host, port } = target(c, spec);
  const id = randomInt(0x10000);
  const query = encodeQuery(id, c.name, c.queryType);
  return bounded(signal, c.connectTimeoutMs, `no answer within ${c.connectTimeoutMs} ms`, (done) => {
    const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    sock.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code === 'ECONNREFUSED' ? 'port unreachable' : `${err.code ?? err.message}` }));
    sock.on('message', (msg) => {
      const r = parseResponse(msg, id);
      if (!r.ok && r.reason === 'id') return; // not ours: keep waiting
      const v = dnsVerdict(r, c.queryType);
      done({ ok: v.ok, detail: `${c.queryType} ${c.name}: ${v.detail}` });
    });
    let closed = false;
    sendTo(sock, { host, port, ...(c.bindto ? { bindto: c.bindto } : {}), ...(c.bindPort ? { bindPort: c.bindPort } : {}) }, query, () => closed, done);
    return () => { closed = true; sock.close(); };
  });
};
