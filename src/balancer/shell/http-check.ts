/**
 * HTTP_GET and SSL_GET: each `url` is fetched (GET `path`, Host: `virtualhost`), its status
 * checked against `status_code` (default 200–299) and, with `digest`, the MD5 of the body
 * (what `genhash` / `carpool checker digest` prints). `connect_timeout` bounds the whole
 * exchange of one URL, as in keepalived. SSL_GET is the same over TLS; like keepalived it does
 * not verify the server's certificate (a health check asks "does it answer", not "is it who
 * it claims"), and it sends SNI only with `enable_sni` (`sni_name`, else the virtualhost).
 * The body is hashed as it streams: memory stays flat whatever the server sends.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createHash } from 'node:crypto';
import type { HttpUrl } from '../../config/model.js';
import { bounded, target, type Probe, type ProbeResult } from './probe-kit.js';

export interface HttpExchange {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly tls: boolean;
  /** Host header; none = the target's address. */
  readonly virtualhost?: string;
  /** TLS server name to send (SNI); none = no SNI. */
  readonly sni?: string;
  readonly localAddress?: string;
  readonly timeoutMs: number;
}

export type HttpOutcome =
  | { readonly ok: true; readonly status: number; readonly httpVersion: string; readonly headers: IncomingHttpHeaders; readonly md5: string; readonly bytes: number }
  | { readonly ok: false; readonly detail: string };

/** One GET, bounded by `timeoutMs`: the status, headers and MD5 of the whole body (or why not). */
export function fetchDigest(x: HttpExchange, signal: AbortSignal): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    let result: HttpOutcome | undefined;
    void bounded(signal, x.timeoutMs, `timeout after ${x.timeoutMs} ms`, (done) => {
      const finish = (r: HttpOutcome): void => { result = r; done({ ok: r.ok, detail: '' }); };
      const common = {
        host: x.host, port: x.port, path: x.path, method: 'GET', agent: false as const,
        ...(x.localAddress ? { localAddress: x.localAddress } : {}),
        headers: { ...(x.virtualhost ? { Host: x.virtualhost } : {}), 'User-Agent': 'carpool-checker', Connection: 'close' },
      };
      // servername '' keeps node from deriving SNI from the Host header (keepalived sends none without enable_sni).
      const req = x.tls
        ? httpsRequest({ ...common, rejectUnauthorized: false, servername: x.sni ?? '' })
        : httpRequest(common);
      req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, detail: err.code ?? err.message }));
      req.on('response', (res) => {
        const md5 = createHash('md5');
        let bytes = 0;
        res.on('data', (chunk: Buffer) => { md5.update(chunk); bytes += chunk.length; });
        res.on('error', (err) => finish({ ok: false, detail: err.message }));
        res.on('end', () => finish({
          ok: true, status: res.statusCode ?? 0, httpVersion: res.httpVersion, headers: res.headers, md5: md5.digest('hex'), bytes,
        }));
      });
      req.end();
      return () => req.destroy();
    }).then((r) => resolve(result ?? { ok: false, detail: r.detail }));
  });
}

const statusOk = (u: HttpUrl, code: number) => u.statusCodes.some(([lo, hi]) => code >= lo && code <= hi);

export const httpGet: Probe<'HTTP_GET' | 'SSL_GET'> = async (spec, signal) => {
  const c = spec.checker;
  const { host, port } = target(c, spec);
  const tls = c.type === 'SSL_GET';
  let last: ProbeResult = { ok: true, detail: 'no url' };
  for (const u of c.urls) {
    const vhost = u.virtualhost ?? c.virtualhost;
    const sni = tls && c.enableSni ? c.sniName ?? vhost : undefined;
    const r = await fetchDigest({
      host, port: port || (tls ? 443 : 80), path: u.path, tls, timeoutMs: c.connectTimeoutMs,
      ...(vhost ? { virtualhost: vhost } : {}), ...(sni ? { sni } : {}), ...(c.bindto ? { localAddress: c.bindto } : {}),
    }, signal);
    if (!r.ok) return { ok: false, detail: `${u.path}: ${r.detail}` };
    if (!statusOk(u, r.status)) return { ok: false, detail: `${u.path}: status ${r.status}` };
    if (u.digest && r.md5 !== u.digest.toLowerCase()) return { ok: false, detail: `${u.path}: digest ${r.md5}, expected ${u.digest}` };
    last = { ok: true, detail: `${u.path}: status ${r.status}` };
  }
  return last;
};
