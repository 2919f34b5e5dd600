/** The client half of the control socket: one request, one answer. */
import { createConnection } from 'node:net';
import { CarpoolError } from '../lib/errors.js';
import type { ControlRequest, ControlResponse } from './protocol.js';

/** Send one request to a daemon and wait for its answer. */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new CarpoolError('CONTROL_TIMEOUT', `no answer from ${path} within ${timeoutMs} ms`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.destroy();
      const res = JSON.parse(buf.slice(0, nl)) as ControlResponse;
      if (res.ok) resolve(res.result);
      else reject(new CarpoolError(res.code ?? 'CONTROL_ERROR', res.error));
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = err.code === 'EACCES' ? 'the control socket is root-only: run as root (sudo)'
        : 'is the daemon running? `carpool run -c FILE` or `carpool ucarp ...` creates it';
      reject(new CarpoolError('CONTROL_UNREACHABLE', `cannot reach carpool daemon at ${path}: ${err.code ?? err.message}`, hint));
    });
  });
}
