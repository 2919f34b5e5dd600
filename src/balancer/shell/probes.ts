/**
 * The health probes of keepalived's checkers, one module each, all of one shape:
 * `(spec, signal) => Promise<ProbeResult>` — asynchronous (sockets, child processes and file
 * reads of the event loop, never a blocking call), bounded by the checker's timeout, and
 * resolving, never rejecting. A server that hangs costs a probe its timeout, never the event
 * loop or an advert. The verdict (retries, rise, weights) belongs to the core (health.ts):
 * a probe only says what it saw.
 */
import type { CheckerType } from '../../config/model.js';
import type { ProbeSpec } from '../from-config.js';
import type { ProbeOf, ProbeResult } from './probe-kit.js';
import { tcpCheck } from './tcp-check.js';
import { httpGet } from './http-check.js';
import { miscCheck } from './misc-check.js';
import { dnsCheck } from './dns-check.js';
import { udpCheck } from './udp-check.js';
import { pingCheck } from './ping-check.js';
import { fileCheck } from './file-check.js';
import { smtpCheck, smtpTargets } from './smtp-check.js';

export type { ProbeResult } from './probe-kit.js';

const is = <T extends CheckerType>(spec: ProbeSpec, ...types: T[]): spec is ProbeOf<T> => (types as CheckerType[]).includes(spec.checker.type);

/** Run one probe; resolves (never rejects) within the checker's timeout, or at once when `signal` aborts. */
export function runProbe(spec: ProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  // A bug or a synchronous throw in a checker is that probe's failure, never the daemon's.
  const failed = (err: unknown): ProbeResult => ({ ok: false, detail: `probe failed: ${(err as Error).message}` });
  try {
    return dispatch(spec, signal).catch(failed);
  } catch (err) {
    return Promise.resolve(failed(err));
  }
}

function dispatch(spec: ProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  if (is(spec, 'TCP_CHECK')) return tcpCheck(spec, signal);
  if (is(spec, 'HTTP_GET', 'SSL_GET')) return httpGet(spec, signal);
  if (is(spec, 'MISC_CHECK')) return miscCheck(spec, signal);
  if (is(spec, 'DNS_CHECK')) return dnsCheck(spec, signal);
  if (is(spec, 'UDP_CHECK')) return udpCheck(spec, signal);
  if (is(spec, 'PING_CHECK')) return pingCheck(spec, signal);
  if (is(spec, 'FILE_CHECK')) return fileCheck(spec, signal);
  // SMTP_CHECK (bal-b11): greeting, HELO, QUIT on every host, in smtp-check.ts.
  if (is(spec, 'SMTP_CHECK')) return smtpCheck(smtpTargets(spec.checker, spec.address, spec.port), signal);
  return Promise.resolve({ ok: false, detail: `${spec.checker.type} is not supported yet` });
}

