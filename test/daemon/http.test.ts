/**
 * The HTTP listener on the test process' loopback (port 0: the kernel picks one), fed a fixed
 * status document: routes, content types, read-only, the token, event streams and closing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer } from '../../src/daemon/http.js';
import { Logger } from '../../src/daemon/logger.js';
import type { HttpConfig } from '../../src/config/model.js';
import { status } from '../status/fixtures.js';

const log = new Logger({ ident: 'test', facility: 'none', debug: false, console: false });
const servers: HttpServer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(extra: Partial<HttpConfig> = {}): Promise<HttpServer> {
  const s = new HttpServer({ host: '127.0.0.1', port: 0, ...extra }, { status: () => status, log });
  servers.push(s);
  await s.listen();
  return s;
}

interface Reply { code: number; headers: Record<string, string | string[] | undefined>; body: string }

function get(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ code: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HttpServer', () => {
  it('serves /metrics, /status and the dashboard; 404 elsewhere', async () => {
    const s = await start();
    const m = await get(`${s.url}metrics`);
    expect(m.code).toBe(200);
    expect(m.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(m.body).toMatch(/^carpool_instance_state\{instance="web",protocol="carp",interface="eth0",vhid="10",state="MASTER"\} 1$/m);
    const st = await get(`${s.url}status`);
    expect(JSON.parse(st.body)).toEqual(status);
    const page = await get(s.url);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('id="initial-view"');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect((await get(`${s.url}nope`)).code).toBe(404);
  });

  it('is read-only: anything but GET and HEAD is 405', async () => {
    const s = await start();
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await get(`${s.url}status`, { method });
      expect(r.code, method).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
    }
    const head = await get(`${s.url}metrics`, { method: 'HEAD' });
    expect(head.code).toBe(200);
    expect(head.body).toBe('');
  });

  it('asks for the token when token_file is set: Bearer or Basic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carpool-http-'));
    dirs.push(dir);
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'a1b2c3d4e5f6a7b8c9d0\n', { mode: 0o600 });
    const s = await start({ tokenFile });
    const none = await get(`${s.url}metrics`);
    expect(none.code).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="carpool"/);
    expect((await get(`${s.url}metrics`, { headers: { Authorization: 'Bearer wrong-token-of-some-length' } })).code).toBe(401);
    expect((await get(`${s.url}metrics`, { headers: { Authorization: 'Bearer a1b2c3d4e5f6a7b8c9d0' } })).code).toBe(200);
    const basic = Buffer.from('anyone:a1b2c3d4e5f6a7b8c9d0').toString('base64');
    expect((await get(`${s.url}status`, { headers: { Authorization: `Basic ${basic}` } })).code).toBe(200);
  });

  it('refuses a missing or weak token file with a clear error', () => {
    expect(() => new HttpServer({ host: '127.0.0.1', port: 0, tokenFile: '/nonexistent/token' }, { status: () => status, log }))
      .toThrow(/cannot read token_file \/nonexistent\/token: ENOENT/);
    const dir = mkdtempSync(join(tmpdir(), 'carpool-http-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'short'), 'abc\n');
    expect(() => new HttpServer({ host: '127.0.0.1', port: 0, tokenFile: join(dir, 'short') }, { status: () => status, log }))
      .toThrow(/at least 16 characters/);
  });

  it('speaks TLS with tls: cert and key, and still asks for the token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carpool-http-'));
    dirs.push(dir);
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=carpool-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, '0123456789abcdef0123\n');
    const s = await start({ tls: { cert, key }, tokenFile });
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const fetchTls = (auth?: string) => new Promise<{ code: number; body: string }>((resolve, reject) => {
      httpsRequest(`${s.url}metrics`, { ca: readFileSync(cert), headers: auth ? { Authorization: auth } : {} }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ code: res.statusCode!, body }));
      }).on('error', reject).end();
    });
    expect((await fetchTls()).code).toBe(401);
    const ok = await fetchTls('Bearer 0123456789abcdef0123');
    expect(ok.code).toBe(200);
    expect(ok.body).toContain('carpool_info{version="0.1.0",mode="run"} 1');
    // Plain HTTP to the TLS port gets nothing usable.
    await expect(get(s.url.replace('https:', 'http:'))).rejects.toThrow();
  });

  it('refuses unreadable TLS files with a clear error', () => {
    expect(() => new HttpServer({ host: '127.0.0.1', port: 0, tls: { cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem' } }, { status: () => status, log }))
      .toThrow(/cannot read the TLS certificate \/nonexistent\/c\.pem: ENOENT/);
  });

  it('says which port is taken', async () => {
    const s = await start();
    const port = Number(new URL(s.url).port);
    const t = new HttpServer({ host: '127.0.0.1', port }, { status: () => status, log });
    await expect(t.listen()).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });

  it('pushes a status event at once, on a transition, and ends the stream on close', async () => {
    const s = await start();
    const events: string[] = [];
    let ended = false;
    const first = new Promise<void>((resolve, reject) => {
      request(`${s.url}events`, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (c: string) => {
          buf += c;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = /^data: (.*)$/m.exec(block);
            if (data) events.push(data[1]!);
            resolve();
          }
        });
        res.on('end', () => { ended = true; });
        res.on('error', () => { ended = true; });
      }).on('error', reject).end();
    });
    await first;
    await new Promise((r) => setTimeout(r, 50));
    const before = events.length;
    s.transition('web', 'BACKUP', 'MASTER', 'master-down timeout');
    const t0 = Date.now();
    while (events.length === before && Date.now() - t0 < 500) await new Promise((r) => setTimeout(r, 5));
    expect(Date.now() - t0, 'pushed on the transition, not on the 1 s tick').toBeLessThan(500);
    const view = JSON.parse(events.at(-1)!) as { timeline: { instance: string; to: string; reason: string }[] };
    expect(view.timeline[0]).toMatchObject({ instance: 'web', to: 'MASTER', reason: 'master-down timeout' });
    await s.close();
    const t1 = Date.now();
    while (!ended && Date.now() - t1 < 1000) await new Promise((r) => setTimeout(r, 5));
    expect(ended).toBe(true);
  });
});
