/**
 * The health probes keepalived's checkers run, as promises bounded in time: TCP_CHECK (a
 * connect within `connect_timeout`) and HTTP_GET (each `url`: GET `path`, the status within
 * the accepted ranges and, when `digest` is set, the MD5 of the body — what keepalived's
 * `genhash` prints). Asynchronous sockets only: a probe never blocks the event loop, and a
 * server that hangs costs at most the timeout. The verdict belongs to the core (health.ts).
 */
import { connect } from 'node:net';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import type { Checker, HttpUrl } from '../../config/model.js';
import type { ProbeSpec } from '../from-config.js';
import { smtpCheck, smtpTargets } from './smtp-check.js';

export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** Run one probe; resolves (never rejects) within the checker's connect_timeout (or is aborted). */
export function runProbe(spec: ProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  const c = spec.checker;
  switch (c.type) {
    case 'TCP_CHECK': return tcpCheck(c, spec, signal);
    case 'HTTP_GET': return httpGet(c, spec, signal);
    // SMTP_CHECK (bal-b11): greeting, HELO, QUIT on every host, in smtp-check.ts.
    case 'SMTP_CHECK': return smtpCheck(smtpTargets(c, spec.address, spec.port), signal);
    default: return Promise.resolve({ ok: false, detail: `${c.type} is not supported yet` });
  }
}

type NetChecker = Extract<Checker, { connectTimeoutMs: number }>;

function target(c: NetChecker, spec: ProbeSpec): { host: string; port: number } {
  return { host: c.connectIp ?? spec.address, port: c.connectPort ?? spec.port };
}

function tcpCheck(c: NetChecker, spec: ProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  const { host, port } = target(c, spec);
  return new Promise((resolve) => {
    const sock = connect({ host, port, ...(c.bindto ? { localAddress: c.bindto } : {}), ...(c.bindPort ? { localPort: c.bindPort } : {}) });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      sock.destroy();
      resolve(r);
    };
    const abort = () => done({ ok: false, detail: 'aborted' });
    const timer = setTimeout(() => done({ ok: false, detail: `connect timeout after ${c.connectTimeoutMs} ms` }), c.connectTimeoutMs);
    signal.addEventListener('abort', abort);
    sock.once('connect', () => done({ ok: true, detail: 'connected' }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: `connect ${err.code ?? err.message}` }));
  });
}

const statusOk = (u: HttpUrl, code: number) => u.statusCodes.some(([lo, hi]) => code >= lo && code <= hi);

function httpGet(c: Extract<Checker, { type: 'HTTP_GET' | 'SSL_GET' }>, spec: ProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  const { host, port } = target(c, spec);
  const one = (u: HttpUrl): Promise<ProbeResult> => new Promise((resolve) => {
    const vhost = u.virtualhost ?? c.virtualhost;
    const req = request({
      host, port: port || 80, path: u.path, method: 'GET', agent: false,
      ...(c.bindto ? { localAddress: c.bindto } : {}),
      headers: { ...(vhost ? { Host: vhost } : {}), 'User-Agent': 'carpool-checker', Connection: 'close' },
    });
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      req.destroy();
      resolve(r);
    };
    const abort = () => done({ ok: false, detail: 'aborted' });
    // keepalived's connect_timeout bounds the whole exchange of an HTTP check.
    const timer = setTimeout(() => done({ ok: false, detail: `${u.path}: timeout after ${c.connectTimeoutMs} ms` }), c.connectTimeoutMs);
    signal.addEventListener('abort', abort);
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: `${u.path}: ${err.code ?? err.message}` }));
    req.on('response', (res) => {
      const code = res.statusCode ?? 0;
      if (!statusOk(u, code)) {
        done({ ok: false, detail: `${u.path}: status ${code}` });
        return;
      }
      const md5 = createHash('md5');
      res.on('data', (chunk: Buffer) => md5.update(chunk));
      res.on('error', (err) => done({ ok: false, detail: `${u.path}: ${err.message}` }));
      res.on('end', () => {
        const digest = md5.digest('hex');
        if (u.digest && digest !== u.digest.toLowerCase()) done({ ok: false, detail: `${u.path}: digest ${digest}, expected ${u.digest}` });
        else done({ ok: true, detail: `${u.path}: status ${code}` });
      });
    });
    req.end();
  });
  return (async () => {
    let last: ProbeResult = { ok: true, detail: 'no url' };
    for (const u of c.urls) {
      last = await one(u);
      if (!last.ok) return last;
    }
    return last;
  })();
}
