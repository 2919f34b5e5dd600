/**
 * A client for the balancer lab tests, run inside a namespace
 * (`ip netns exec NS node --import tsx test/integration/helpers/greet.ts JOBS_JSON`). Each job
 * connects from its own source address (`src`) to `host:port`, one after the other, and
 * reports what answered: the SMTP / IMAP / POP3 greeting (`tls`: after a TLS handshake, the
 * certificate not verified: the lab's is self-signed) or the HTTP status and body of
 * `GET /index.html`. One JSON line out: `[{ ok, line, tls? }]`, each bounded by 2 s.
 */
import { connect as tcp, type Socket } from 'node:net';
import { connect as tls, type TLSSocket } from 'node:tls';

export interface GreetJob {
  readonly kind: 'smtp' | 'imap' | 'pop3' | 'http';
  readonly host: string;
  readonly port: number;
  readonly src?: string;
  /** Greet over TLS (IMAPS, POP3S). */
  readonly tls?: boolean;
}

export interface GreetResult {
  readonly ok: boolean;
  /** The greeting line (mail), `STATUS BODY` (HTTP), or the error. */
  readonly line: string;
  /** The negotiated TLS version, when over TLS. */
  readonly tlsVersion?: string;
}

/** A greeting is complete at its first line; dovecot's "Waiting for authentication" line is skipped. */
const complete = (buf: string): string | undefined => {
  for (const line of buf.split('\r\n').slice(0, -1)) if (!/Waiting for authentication/.test(line)) return line;
  return undefined;
};

function one(job: GreetJob): Promise<GreetResult> {
  return new Promise((resolve) => {
    const opts = { host: job.host, port: job.port, ...(job.src ? { localAddress: job.src } : {}) };
    const sock: Socket | TLSSocket = job.tls ? tls({ ...opts, rejectUnauthorized: false }) : tcp(opts);
    let buf = '';
    const done = (r: GreetResult) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, line: `timeout; got ${JSON.stringify(buf.slice(0, 80))}` }), 2000);
    sock.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, line: e.code ?? e.message }));
    sock.once(job.tls ? 'secureConnect' : 'connect', () => {
      if (job.kind === 'http') sock.write(`GET /index.html HTTP/1.0\r\nHost: ${job.host}\r\n\r\n`);
    });
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      if (job.kind === 'http') return;
      const line = complete(buf);
      if (line !== undefined) done({ ok: true, line, ...(job.tls ? { tlsVersion: (sock as TLSSocket).getProtocol() ?? '?' } : {}) });
    });
    sock.on('end', () => {
      if (job.kind !== 'http') return done({ ok: false, line: `closed; got ${JSON.stringify(buf.slice(0, 80))}` });
      const status = /^HTTP\/1\.\d (\d{3})/.exec(buf)?.[1] ?? '?';
      done({ ok: status === '200', line: `${status} ${buf.split('\r\n\r\n')[1]?.trim() ?? ''}` });
    });
  });
}

const jobs = JSON.parse(process.argv[2] ?? '[]') as GreetJob[];
const out: GreetResult[] = [];
for (const j of jobs) out.push(await one(j));
process.stdout.write(JSON.stringify(out) + '\n');
