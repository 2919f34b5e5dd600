/** TCP_CHECK: a connect to `connect_ip`:`connect_port` from `bindto`:`bind_port` within `connect_timeout`. */
import { connect } from 'node:net';
import { bounded, target, type Probe } from './probe-kit.js';

export const tcpCheck: Probe<'TCP_CHECK'> = (spec, signal) => {
  const c = spec.checker;
  const { host, port } = target(c, spec);
  return bounded(signal, c.connectTimeoutMs, `connect timeout after ${c.connectTimeoutMs} ms`, (done) => {
    const sock = connect({ host, port, ...(c.bindto ? { localAddress: c.bindto } : {}), ...(c.bindPort ? { localPort: c.bindPort } : {}) });
    sock.once('connect', () => done({ ok: true, detail: 'connected' }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: `connect ${err.code ?? err.message}` }));
    return () => sock.destroy();
  });
};
