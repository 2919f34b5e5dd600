/**
 * `carpool checker digest URL`: what keepalived's `genhash` does — fetch a page the way
 * HTTP_GET / SSL_GET will (same code: src/balancer/shell/http-check.ts) and print the MD5 of
 * its body, for the `digest` of a `url { }` block. Loaded only for `carpool checker ...`.
 */
import type { Command } from 'commander';
import { isIP } from 'node:net';
import { fetchDigest } from '../balancer/shell/http-check.js';
import { CarpoolError } from '../lib/errors.js';

export interface DigestOptions {
  readonly ssl?: boolean;
  readonly virtualhost?: string;
  readonly sni?: string;
  readonly bindto?: string;
  readonly timeout?: string;
  readonly verbose?: boolean;
}

/** Fetch `url` and write its digest (with --verbose the status line and headers first); the exit code. */
export async function digestCommand(url: string, o: DigestOptions, out: (s: string) => void): Promise<number> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CarpoolError('INVALID_URL', `'${url}' is not a URL`, 'a URL such as http://10.0.0.2/health or https://10.0.0.2:8443/');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new CarpoolError('INVALID_URL', `'${url}': only http and https URLs`, 'http://HOST[:PORT]/PATH, https://... or --ssl');
  }
  const seconds = o.timeout === undefined ? 5 : Number(o.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new CarpoolError('INVALID_VALUE', `--timeout '${o.timeout}' is not a number of seconds`, 'e.g. --timeout 5');
  const tls = u.protocol === 'https:' || !!o.ssl;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const sni = o.sni ?? o.virtualhost ?? (isIP(host) ? undefined : host);
  const r = await fetchDigest({
    host, port: Number(u.port) || (tls ? 443 : 80), path: `${u.pathname}${u.search}`, tls, timeoutMs: Math.round(seconds * 1000),
    ...(o.virtualhost ? { virtualhost: o.virtualhost } : {}), ...(tls && sni ? { sni } : {}), ...(o.bindto ? { localAddress: o.bindto } : {}),
  }, new AbortController().signal);
  if (!r.ok) throw new CarpoolError('FETCH_FAILED', `GET ${url}${tls && u.protocol === 'http:' ? ' (TLS)' : ''}: ${r.detail}`, 'check the address, the port and --ssl');
  if (o.verbose) {
    out(`HTTP/${r.httpVersion} ${r.status}\n`);
    for (const [k, v] of Object.entries(r.headers)) out(`${k}: ${Array.isArray(v) ? v.join(', ') : v}\n`);
    out(`\n${r.bytes} bytes of body\nMD5SUM = ${r.md5}\n`);
  } else {
    out(`${r.md5}\n`);
  }
  return 0;
}

export function addCheckerCommands(program: Command, setCode: (code: number) => void, fail: (err: unknown) => number): void {
  const checker = program.command('checker').description('help with the load balancer\'s health checkers');
  checker.command('digest')
    .description('print the MD5 of a page\'s body, for the digest of an HTTP_GET / SSL_GET url (like keepalived\'s genhash)')
    .argument('<url>', 'http://HOST[:PORT]/PATH or https://...')
    .option('--ssl', 'use TLS (as SSL_GET) also for an http:// URL')
    .option('--virtualhost <name>', 'Host header (the checker\'s virtualhost); also the TLS server name unless --sni')
    .option('--sni <name>', 'TLS server name to send (SSL_GET enable_sni / sni_name)')
    .option('--bindto <address>', 'source address (the checker\'s bindto)')
    .option('--timeout <seconds>', 'give up after this long (the checker\'s connect_timeout)', '5')
    .option('-v, --verbose', 'also print the status line and the response headers')
    .action(async (url: string, o: DigestOptions) => {
      try {
        setCode(await digestCommand(url, o, (s) => process.stdout.write(s)));
      } catch (err) {
        setCode(fail(err));
      }
    });
}
