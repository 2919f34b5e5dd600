/**
 * SMTP_CHECK against scripted SMTP servers on localhost: the keepalived dialogue (220, HELO →
 * 250, QUIT → 221), multi-line replies, wrong codes, garbage, a server that hangs (bounded by
 * connect_timeout), a refused port, and several hosts (every one must pass). The real exim4
 * runs in test/integration/balancer/seed002-b11.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Checker } from '../../../src/config/model.js';
import { runProbe } from '../../../src/balancer/shell/probes.js';
import { smtpTargets, takeReply } from '../../../src/balancer/shell/smtp-check.js';

const timing = { delayLoopMs: 1000, retry: 1, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false, logAllFailures: false, connectTimeoutMs: 300 };
type Smtp = Extract<Checker, { type: 'SMTP_CHECK' }>;
const smtp = (port: number, more: Partial<Smtp> = {}): Smtp => ({ ...timing, type: 'SMTP_CHECK', connectPort: port, heloName: 'smtpchecker.keepalived.org', hosts: [], ...more });
const probe = (c: Checker) => runProbe({ checker: c, address: '127.0.0.1', port: 25 }, new AbortController().signal);

/** A scripted server: `script(line)` answers each command line; `greeting` is sent on connect. */
function server(greeting: string | undefined, script: (line: string) => string | undefined, seen?: string[]): Promise<{ srv: Server; port: number; socks: Socket[] }> {
  const socks: Socket[] = [];
  const srv = createServer((s) => {
    socks.push(s);
    s.on('error', () => undefined);
    if (greeting !== undefined) s.write(greeting);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        seen?.push(line);
        const answer = script(line);
        if (answer !== undefined) s.write(answer);
        if (line === 'QUIT') s.end();
      }
    });
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, port: (srv.address() as AddressInfo).port, socks })));
}
const good = (line: string) => (line.startsWith('HELO ') ? '250 mx.example Hello\r\n' : line === 'QUIT' ? '221 mx.example closing\r\n' : '500 what\r\n');

describe('SMTP_CHECK', () => {
  const servers: Awaited<ReturnType<typeof server>>[] = [];
  const seen: string[] = [];
  let ok = 0;
  let multi = 0;
  let busy = 0;
  let rejectHelo = 0;
  let garbage = 0;
  let hang = 0;
  let closed = 0;
  beforeAll(async () => {
    const add = async (...a: Parameters<typeof server>) => { const s = await server(...a); servers.push(s); return s.port; };
    ok = await add('220 mx.example ESMTP\r\n', good, seen);
    multi = await add('220-mx.example ESMTP\r\n220-second line\r\n220 last\r\n', (l) => (l.startsWith('HELO') ? '250-mx.example\r\n250 PIPELINING\r\n' : good(l)));
    busy = await add('554 mx.example no service\r\n', good);
    rejectHelo = await add('220 mx.example\r\n', (l) => (l.startsWith('HELO') ? '501 bad name\r\n' : good(l)));
    garbage = await add('HTTP/1.1 400 Bad Request\r\n\r\n', () => undefined);
    hang = await add(undefined, () => undefined); // accepts, never greets
    const tmp = createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    closed = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
  });
  afterAll(() => {
    for (const s of servers) {
      for (const k of s.socks) k.destroy();
      s.srv.close();
    }
  });

  it('greeting 220, HELO helo_name → 250, QUIT → 221: up', async () => {
    expect(await probe(smtp(ok))).toEqual({ ok: true, detail: '220 mx.example ESMTP' });
    expect(seen.slice(-2)).toEqual(['HELO smtpchecker.keepalived.org', 'QUIT']);
    await probe(smtp(ok, { heloName: 'director1.example' }));
    expect(seen.slice(-2)).toEqual(['HELO director1.example', 'QUIT']);
  });

  it('multi-line replies count by their last line', async () => {
    expect(await probe(smtp(multi))).toEqual({ ok: true, detail: '220 last' });
  });

  it('a wrong code, garbage, a refused port: down, saying why', async () => {
    expect(await probe(smtp(busy))).toEqual({ ok: false, detail: 'greeting: 554 mx.example no service, expected 220' });
    expect(await probe(smtp(rejectHelo))).toEqual({ ok: false, detail: 'HELO: 501 bad name, expected 250' });
    expect(await probe(smtp(garbage))).toEqual({ ok: false, detail: 'not an SMTP reply: "HTTP/1.1 400 Bad Request"' });
    expect(await probe(smtp(closed))).toEqual({ ok: false, detail: 'connect ECONNREFUSED' });
  });

  it('a server that accepts and never greets costs connect_timeout, no more', async () => {
    const t0 = Date.now();
    expect(await probe(smtp(hang))).toEqual({ ok: false, detail: 'timeout after 300 ms waiting for the greeting' });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1000);
  });

  it('host { } blocks: every host must pass, checked in turn; the first failure is the verdict', async () => {
    const conn = (port: number) => ({ connectIp: '127.0.0.1', connectPort: port, connectTimeoutMs: 300 });
    expect(await probe(smtp(closed, { hosts: [conn(ok), conn(multi)] }))).toEqual({ ok: true, detail: '2 hosts: 220 last' });
    expect(await probe(smtp(ok, { hosts: [conn(ok), conn(busy), conn(hang)] })))
      .toEqual({ ok: false, detail: `127.0.0.1:${busy}: greeting: 554 mx.example no service, expected 220` });
  });

  it('targets: hosts default to the real server; port 25 when nobody names one', () => {
    expect(smtpTargets({ connectTimeoutMs: 300, heloName: 'smtpchecker.keepalived.org', hosts: [] }, '10.0.0.5', 0)).toEqual([
      { host: '10.0.0.5', port: 25, timeoutMs: 300, heloName: 'smtpchecker.keepalived.org' },
    ]);
    expect(smtpTargets(smtp(2525, { hosts: [{ connectTimeoutMs: 100 }, { connectIp: '10.0.0.9', connectPort: 587, bindto: '10.0.0.1', connectTimeoutMs: 200 }] }), '10.0.0.5', 25))
      .toEqual([
        { host: '10.0.0.5', port: 25, timeoutMs: 100, heloName: 'smtpchecker.keepalived.org' },
        { host: '10.0.0.9', port: 587, bindto: '10.0.0.1', timeoutMs: 200, heloName: 'smtpchecker.keepalived.org' },
      ]);
  });

  it('takeReply: partial, continued, complete, garbage (pure)', () => {
    expect(takeReply('220 mx')).toEqual({ kind: 'partial' });
    expect(takeReply('220-a\r\n220')).toEqual({ kind: 'partial' });
    expect(takeReply('220-a\r\n220 b\r\nrest')).toEqual({ kind: 'reply', code: 220, text: 'b', length: 14 });
    expect(takeReply('250\n')).toEqual({ kind: 'reply', code: 250, text: '', length: 4 });
    expect(takeReply('SSH-2.0-OpenSSH')).toEqual({ kind: 'garbage', line: 'SSH-2.0-OpenSSH' });
  });
});
