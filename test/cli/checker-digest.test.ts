import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { digestCommand } from '../../src/cli/checker-cmd.js';
import { CarpoolError } from '../../src/lib/errors.js';
import { runCarpool } from '../helpers/cli.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('carpool checker digest (genhash)', () => {
  let web: Server;
  let tls: TlsServer;
  let dir = '';
  let webPort = 0;
  let tlsPort = 0;
  const sniSeen: (string | undefined)[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'carpool-digest-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=www.test',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    web = createServer((req, res) => { res.setHeader('X-Seen-Host', req.headers.host ?? ''); res.end(`page ${req.url}\n`); });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webPort = (web.address() as AddressInfo).port;
    tls = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => res.end('secret\n'));
    tls.on('secureConnection', (s) => sniSeen.push((s as unknown as { servername?: string | false }).servername || undefined));
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    tlsPort = (tls.address() as AddressInfo).port;
  });
  afterAll(() => {
    web.close();
    tls.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const digest = async (url: string, o = {}) => {
    let out = '';
    const code = await digestCommand(url, o, (s) => { out += s; });
    return { code, out };
  };

  it('prints the MD5 of the body; --verbose adds the status line and headers; --virtualhost sets Host', async () => {
    expect(await digest(`http://127.0.0.1:${webPort}/health?x=1`)).toEqual({ code: 0, out: `${md5('page /health?x=1\n')}\n` });
    const v = await digest(`http://127.0.0.1:${webPort}/`, { verbose: true, virtualhost: 'www.test' });
    expect(v.out).toMatch(/^HTTP\/1\.1 200\n/);
    expect(v.out).toContain('x-seen-host: www.test\n');
    expect(v.out).toContain(`\n7 bytes of body\nMD5SUM = ${md5('page /\n')}\n`);
  });

  it('https / --ssl: the certificate is not verified (self-signed); SNI only when named', async () => {
    expect(await digest(`https://127.0.0.1:${tlsPort}/`)).toEqual({ code: 0, out: `${md5('secret\n')}\n` });
    expect(await digest(`http://127.0.0.1:${tlsPort}/`, { ssl: true, virtualhost: 'www.test' })).toEqual({ code: 0, out: `${md5('secret\n')}\n` });
    expect(sniSeen).toEqual([undefined, 'www.test']);
  });

  it('bad input and unreachable servers: clear errors', async () => {
    await expect(digest('not a url')).rejects.toMatchObject({ code: 'INVALID_URL' });
    await expect(digest(`http://127.0.0.1:${webPort}/`, { timeout: 'soon' })).rejects.toMatchObject({ code: 'INVALID_VALUE' });
    const err = await digest(`http://127.0.0.1:${tlsPort}/`).catch((e: unknown) => e); // HTTP to a TLS port: no HTTP answer
    expect(err).toBeInstanceOf(CarpoolError);
  });

  it('through the real CLI', async () => {
    const r = await runCarpool(['checker', 'digest', `http://127.0.0.1:${webPort}/x`], dir, 20_000);
    expect(r).toMatchObject({ code: 0, stdout: `${md5('page /x\n')}\n` });
    const bad = await runCarpool(['checker', 'digest', 'http://127.0.0.1:1/'], dir, 20_000);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('ECONNREFUSED');
  }, 30_000);
});
