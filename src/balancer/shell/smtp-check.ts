/**
 * SMTP_CHECK, keepalived's mail checker (keepalived.conf(5), and the dialogue its sample
 * `keepalived.conf.SMTP_CHECK` documents): per host, connect, read the greeting (220), send
 * `HELO helo_name`, expect 250, send `QUIT`, expect 221. Every `host { }` block must pass,
 * checked in turn (the first failure is the verdict); without host blocks the checker's own
 * connection is checked (the real server). Each host's whole dialogue is bounded by its
 * `connect_timeout`; retry and delay_before_retry are the core's (health.ts).
 *
 * Replies are read as RFC 5321 §4.2 says: lines `ddd-text` continue, `ddd text` (or `ddd`)
 * ends the reply, and the code of the last line counts. A reply larger than 4 KiB, or a
 * line that is not a reply, fails the check (a wrong service on the port) instead of
 * buffering without bound.
 */
import { connect, type Socket } from 'node:net';
import type { CheckerConnection } from '../../config/model.js';
import type { ProbeResult } from './probe-kit.js';

/** What one SMTP check needs: where to connect (resolved against the real server) and the HELO name. */
export interface SmtpTarget {
  readonly host: string;
  readonly port: number;
  readonly bindto?: string;
  readonly bindPort?: number;
  readonly timeoutMs: number;
  readonly heloName: string;
}

/** The largest reply accepted (greetings are a line or a few; 4 KiB is generous). */
const MAX_REPLY = 4096;

/** SMTP's well-known port, when neither the host, the checker nor the real server gives one. */
const SMTP_PORT = 25;

/** The hosts an SMTP_CHECK talks to, in order. */
export function smtpTargets(c: CheckerConnection & { readonly heloName: string; readonly hosts: readonly CheckerConnection[] },
  address: string, port: number): SmtpTarget[] {
  const hosts = c.hosts.length > 0 ? c.hosts : [c];
  return hosts.map((h) => ({
    host: h.connectIp ?? address, port: h.connectPort ?? (port || SMTP_PORT),
    ...(h.bindto !== undefined ? { bindto: h.bindto } : {}), ...(h.bindPort !== undefined ? { bindPort: h.bindPort } : {}),
    timeoutMs: h.connectTimeoutMs, heloName: c.heloName,
  }));
}

/** Run the check over every host in turn; resolves (never rejects) with the first failure or ok. */
export async function smtpCheck(targets: readonly SmtpTarget[], signal: AbortSignal): Promise<ProbeResult> {
  let last: ProbeResult = { ok: true, detail: 'no host' };
  for (const t of targets) {
    last = await smtpDialogue(t, signal);
    if (!last.ok) return targets.length > 1 ? { ok: false, detail: `${t.host}:${t.port}: ${last.detail}` } : last;
  }
  return targets.length > 1 ? { ok: true, detail: `${targets.length} hosts: ${last.detail}` } : last;
}

type Step = { readonly expect: 220 | 250 | 221; readonly what: string; readonly send?: string };

/** One host: greeting, HELO, QUIT — each reply must carry the expected code. */
function smtpDialogue(t: SmtpTarget, signal: AbortSignal): Promise<ProbeResult> {
  const steps: Step[] = [
    { expect: 220, what: 'greeting', send: `HELO ${t.heloName}\r\n` },
    { expect: 250, what: 'HELO', send: 'QUIT\r\n' },
    { expect: 221, what: 'QUIT' },
  ];
  return new Promise((resolve) => {
    const sock: Socket = connect({
      host: t.host, port: t.port, ...(t.bindto ? { localAddress: t.bindto } : {}), ...(t.bindPort ? { localPort: t.bindPort } : {}),
    });
    let buf = '';
    let step = 0;
    let greeting = '';
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      sock.destroy();
      resolve(r);
    };
    const abort = () => done({ ok: false, detail: 'aborted' });
    const timer = setTimeout(() => done({ ok: false, detail: `timeout after ${t.timeoutMs} ms waiting for the ${steps[step]?.what ?? 'server'}` }), t.timeoutMs);
    signal.addEventListener('abort', abort);
    sock.setEncoding('latin1');
    sock.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: `connect ${err.code ?? err.message}` }));
    sock.on('end', () => done({ ok: false, detail: `connection closed before the ${steps[step]?.what ?? 'reply'} reply` }));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (;;) {
        const reply = takeReply(buf);
        if (reply.kind === 'partial') {
          if (buf.length > MAX_REPLY) done({ ok: false, detail: `${steps[step]!.what} reply longer than ${MAX_REPLY} bytes` });
          return;
        }
        if (reply.kind === 'garbage') {
          done({ ok: false, detail: `not an SMTP reply: ${JSON.stringify(reply.line.slice(0, 60))}` });
          return;
        }
        buf = buf.slice(reply.length);
        const s = steps[step]!;
        if (reply.code !== s.expect) {
          done({ ok: false, detail: `${s.what}: ${reply.code} ${reply.text.slice(0, 60)}`.trimEnd() + `, expected ${s.expect}` });
          return;
        }
        if (step === 0) greeting = reply.text;
        if (s.send) sock.write(s.send);
        step++;
        if (step === steps.length) {
          done({ ok: true, detail: `220 ${greeting.slice(0, 60)}`.trimEnd() });
          return;
        }
      }
    });
  });
}

type Reply =
  | { readonly kind: 'partial' }
  | { readonly kind: 'garbage'; readonly line: string }
  | { readonly kind: 'reply'; readonly code: number; readonly text: string; readonly length: number };

/**
 * The first complete reply in `buf` (RFC 5321 §4.2.1: `ddd-` continues, `ddd ` or `ddd` ends;
 * LF alone is accepted as a line end, as lenient clients do). Pure; exported for tests.
 */
export function takeReply(buf: string): Reply {
  let pos = 0;
  for (;;) {
    const nl = buf.indexOf('\n', pos);
    if (nl < 0) {
      // A partial line that already cannot be a reply line: say so now.
      const rest = buf.slice(pos);
      return rest.length >= 4 && !/^\d{3}[- ]/.test(rest) ? { kind: 'garbage', line: rest } : { kind: 'partial' };
    }
    const line = buf.slice(pos, nl).replace(/\r$/, '');
    const m = /^(\d{3})(?:([- ])(.*))?$/.exec(line);
    if (!m) return { kind: 'garbage', line };
    pos = nl + 1;
    if (m[2] !== '-') return { kind: 'reply', code: Number(m[1]), text: m[3] ?? '', length: pos };
  }
}
