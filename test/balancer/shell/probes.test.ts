import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Checker } from '../../../src/config/model.js';
import { runProbe } from '../../../src/balancer/shell/probes.js';

const timing = { delayLoopMs: 1000, retry: 1, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false, logAllFailures: false, connectTimeoutMs: 300 };
const tcp = (port: number): Checker => ({ ...timing, type: 'TCP_CHECK', connectPort: port });
const http = (port: number, url: { path: string; digest?: string; codes?: [number, number][] }): Checker => ({
  ...timing, type: 'HTTP_GET', connectPort: port, httpProtocol: '1.0', fastRecovery: false, enableSni: false, tlsCompliant: false,
  urls: [{ path: url.path, statusCodes: url.codes ?? [[200, 299]], ...(url.digest ? { digest: url.digest } : {}) }],
});
const probe = (c: Checker) => runProbe({ checker: c, address: '127.0.0.1', port: 0 }, new AbortController().signal);

describe('probes (localhost servers)', () => {
  let web: Server;
  let hang: TcpServer;
  const held: Socket[] = [];
  let webPort = 0;
  let hangPort = 0;
  let closedPort = 0;
  beforeAll(async () => {
    web = createServer((req, res) => {
      if (req.url === '/ok') res.end('hello\n');
      else if (req.url === '/slow') setTimeout(() => res.end('late'), 2000).unref();
      else { res.statusCode = 503; res.end('no'); }
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webPort = (web.address() as AddressInfo).port;
    hang = createTcpServer((s) => held.push(s)); // accepts, never answers
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    hangPort = (hang.address() as AddressInfo).port;
    const tmp = createTcpServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    closedPort = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
  });
  afterAll(() => {
    for (const s of held) s.destroy();
    web.close();
    hang.close();
  });

  it('TCP_CHECK: connect ok, refused', async () => {
    expect(await probe(tcp(webPort))).toEqual({ ok: true, detail: 'connected' });
    expect(await probe(tcp(closedPort))).toEqual({ ok: false, detail: 'connect ECONNREFUSED' });
  });

  it('HTTP_GET: status in range, status out of range, MD5 digest of the body (genhash)', async () => {
    const md5 = createHash('md5').update('hello\n').digest('hex');
    expect(await probe(http(webPort, { path: '/ok' }))).toEqual({ ok: true, detail: '/ok: status 200' });
    expect(await probe(http(webPort, { path: '/ok', digest: md5 }))).toMatchObject({ ok: true });
    expect(await probe(http(webPort, { path: '/ok', digest: '0'.repeat(32) }))).toEqual({ ok: false, detail: `/ok: digest ${md5}, expected ${'0'.repeat(32)}` });
    expect(await probe(http(webPort, { path: '/other' }))).toEqual({ ok: false, detail: '/other: status 503' });
    expect(await probe(http(webPort, { path: '/other', codes: [[503, 503]] }))).toMatchObject({ ok: true });
  });

  it('a server that accepts and hangs costs at most connect_timeout', async () => {
    for (const c of [http(hangPort, { path: '/' }), http(webPort, { path: '/slow' })]) {
      const t0 = performance.now();
      const r = await probe(c);
      expect(r).toMatchObject({ ok: false, detail: expect.stringContaining('timeout after 300 ms') });
      expect(performance.now() - t0).toBeLessThan(1000);
    }
  });
});
