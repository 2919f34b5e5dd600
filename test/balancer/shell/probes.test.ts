import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Checker } from '../../../src/config/model.js';
import { runProbe } from '../../../src/balancer/shell/probes.js';
import { resolveUser } from '../../../src/balancer/shell/misc-check.js';
import { parseTrackValue } from '../../../src/balancer/shell/file-check.js';
import { replyMatches } from '../../../src/balancer/shell/udp-check.js';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

// ---------------------------------------------------------------------------------------------
// The other checkers, against local peers (no root needed).

const misc = (argv: string[], over: Partial<Extract<Checker, { type: 'MISC_CHECK' }>> = {}): Checker => ({
  ...timing, type: 'MISC_CHECK', command: { argv, shell: false }, timeoutMs: 500, dynamic: false, ...over,
});

describe('MISC_CHECK', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'carpool-misc-'));
    const script = (name: string, body: string) => {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
      return join(dir, name);
    };
    script('exit', 'echo "exiting $1" >&2; exit "$1"');
    script('hang', `sleep 30 & echo $! > ${dir}/child.pid; wait`);
    script('garbage', 'head -c 50000000 /dev/urandom; head -c 5000000 /dev/urandom >&2; exit 0');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exit 0 passes, 1 and 5 fail, and the exit code travels for misc_dynamic; no shell', async () => {
    expect(await probe(misc([join(dir, 'exit'), '0']))).toEqual({ ok: true, exitCode: 0, detail: 'exit 0: exiting 0' });
    expect(await probe(misc([join(dir, 'exit'), '1']))).toMatchObject({ ok: false, exitCode: 1 });
    expect(await probe(misc([join(dir, 'exit'), '5'], { dynamic: true }))).toMatchObject({ ok: false, exitCode: 5, detail: 'exit 5: exiting 5' });
    // Without a shell, shell syntax is just an argument.
    expect(await probe(misc(['/bin/sh', '-c', 'echo "$0" >&2', '$(id);false']))).toEqual({ ok: true, exitCode: 0, detail: 'exit 0: $(id);false' });
    expect(await probe(misc(['/nonexistent/check']))).toMatchObject({ ok: false, detail: expect.stringContaining('cannot run /nonexistent/check') });
  });

  it('a script that hangs is killed with its process group at misc_timeout', async () => {
    const t0 = performance.now();
    const r = await probe(misc([join(dir, 'hang')], { timeoutMs: 300 }));
    expect(r).toEqual({ ok: false, detail: 'timed out after 300 ms, killed' });
    expect(performance.now() - t0).toBeLessThan(1500);
    const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    await new Promise((r2) => setTimeout(r2, 100));
    // The backgrounded sleep went with the group (gone, or a zombie waiting for init to reap it).
    const state = (() => { try { return readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]![0]; } catch { return 'gone'; } })();
    expect(['gone', 'Z']).toContain(state);
  });

  it('50 MB of garbage on stdout and 5 MB on stderr: memory stays flat', async () => {
    const before = process.memoryUsage().rss;
    const r = await probe(misc([join(dir, 'garbage')], { timeoutMs: 20_000 }));
    expect(r.ok).toBe(true);
    expect(r.detail.length).toBeLessThan(200);
    expect(process.memoryUsage().rss - before).toBeLessThan(30_000_000);
  });

  it('user: unknown users fail with a clear detail; names and ids resolve from the account files', async () => {
    expect(await probe(misc(['/bin/true'], { user: { user: 'no-such-user-xyz' } }))).toEqual({ ok: false, detail: "cannot run as no-such-user-xyz: no user 'no-such-user-xyz' in /etc/passwd" });
    expect(await resolveUser('root')).toEqual({ uid: 0, gid: 0 });
    expect(await resolveUser('0', '0')).toEqual({ uid: 0, gid: 0 });
  });
});

describe('FILE_CHECK', () => {
  it('reads the number as strtol(…, 0) does; a missing file is 0', async () => {
    expect(['42\n', '  -7 x', '0x1f', '010', 'abc', '', '+3', '99999999999'].map(parseTrackValue)).toEqual([42, -7, 31, 8, 0, 0, 3, undefined]);
    const dir = mkdtempSync(join(tmpdir(), 'carpool-file-'));
    try {
      const path = join(dir, 'maint');
      const spec = { checker: { type: 'FILE_CHECK' as const, trackFile: 'maint', path, weight: 0, reverse: false }, address: '127.0.0.1', port: 0 };
      expect(await runProbe(spec, new AbortController().signal)).toMatchObject({ fileValue: 0, detail: expect.stringContaining('ENOENT') });
      writeFileSync(path, '3\n');
      expect(await runProbe(spec, new AbortController().signal)).toMatchObject({ fileValue: 3 });
      writeFileSync(path, '99999999999\n'); // out of range: the last value stands
      expect(await runProbe(spec, new AbortController().signal)).toMatchObject({ fileValue: 3, detail: expect.stringContaining('out of range') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('UDP_CHECK', () => {
  let echo: UdpSocket;
  let echoPort = 0;
  let closedUdp = 0;
  beforeAll(async () => {
    echo = createSocket('udp4');
    echo.on('message', (m, from) => echo.send(Buffer.concat([Buffer.from([0x01]), m]), from.port, from.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
    echoPort = echo.address().port;
    const tmp = createSocket('udp4');
    await new Promise<void>((r) => tmp.bind(0, '127.0.0.1', r));
    closedUdp = tmp.address().port;
    await new Promise<void>((r) => tmp.close(() => r()));
  });
  afterAll(() => echo.close());
  const udp = (port: number, over: Partial<Extract<Checker, { type: 'UDP_CHECK' }>> = {}): Checker => ({
    ...timing, type: 'UDP_CHECK', connectPort: port, requireReply: false, minReplyLength: 0, maxReplyLength: 255, ...over,
  });

  it('require_reply: length and pattern (x = any nibble); ICMP port unreachable fails at once', async () => {
    expect(await probe(udp(echoPort, { payload: 'cafe', requireReply: true, replyPattern: '01ca' }))).toEqual({ ok: true, detail: 'reply of 3 bytes' });
    expect(await probe(udp(echoPort, { payload: 'cafe', requireReply: true, replyPattern: 'x1cxfe' }))).toMatchObject({ ok: true });
    expect(await probe(udp(echoPort, { payload: 'cafe', requireReply: true, replyPattern: '02' }))).toMatchObject({ ok: false, detail: 'reply 01cafe does not match 02' });
    expect(await probe(udp(echoPort, { payload: 'cafe', requireReply: true, minReplyLength: 4 }))).toMatchObject({ ok: false, detail: 'reply of 3 bytes, expected 4..255' });
    const t0 = performance.now();
    expect(await probe(udp(closedUdp, { requireReply: true }))).toEqual({ ok: false, detail: 'port unreachable (ICMP)' });
    expect(await probe(udp(closedUdp))).toEqual({ ok: false, detail: 'port unreachable (ICMP)' });
    expect(performance.now() - t0).toBeLessThan(250);
  });

  it('without require_reply silence passes; with it silence fails', async () => {
    const quiet = createSocket('udp4');
    await new Promise<void>((r) => quiet.bind(0, '127.0.0.1', r));
    try {
      expect(await probe(udp(quiet.address().port))).toEqual({ ok: true, detail: 'no ICMP error within 300 ms' });
      expect(await probe(udp(quiet.address().port, { requireReply: true }))).toEqual({ ok: false, detail: 'no reply within 300 ms' });
    } finally {
      quiet.close();
    }
    expect(replyMatches(Uint8Array.from([0xab]), 'abcd')).toBe(true); // compared over the shorter
  });
});

describe('a probe never rejects', () => {
  it('a bad bindto is a failed probe with its reason', async () => {
    const r = await probe({ ...tcp(1), bindto: '192.0.2.77' } as Checker);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/EADDRNOTAVAIL/);
  });
});
