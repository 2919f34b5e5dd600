/**
 * What every checker module shares: the result, the one probe shape, where a network checker
 * connects, and the frame that bounds a probe by its timeout and abort signal.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import type { Checker, CheckerType } from '../../config/model.js';
import type { ProbeSpec } from '../from-config.js';

export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
  /** MISC_CHECK: the script's exit code (misc_dynamic weights come from it). */
  readonly exitCode?: number;
  /** FILE_CHECK: the number read from the file. */
  readonly fileValue?: number;
}

/** A probe spec whose checker is of type `T`. */
export type ProbeOf<T extends CheckerType> = ProbeSpec & { readonly checker: Checker & { readonly type: T } };
/** What every checker module exports. */
export type Probe<T extends CheckerType> = (spec: ProbeOf<T>, signal: AbortSignal) => Promise<ProbeResult>;

type NetChecker = Extract<Checker, { connectTimeoutMs: number }>;

/** Where a network checker connects: `connect_ip`:`connect_port`, by default the real server. */
export function target(c: NetChecker, spec: ProbeSpec): { host: string; port: number } {
  return { host: c.connectIp ?? spec.address, port: c.connectPort ?? spec.port };
}

/**
 * The frame every probe shares: `work` gets `done` (first call wins) and returns its clean-up;
 * `done` runs at the timeout (with `timeoutDetail`) or on abort, and the clean-up runs once.
 */
export function bounded(signal: AbortSignal, timeoutMs: number, timeoutDetail: string,
  work: (done: (r: ProbeResult) => void) => (() => void)): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let cleanup: (() => void) | undefined;
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      try { cleanup?.(); } catch { /* a socket already closed */ }
      resolve(r);
    };
    const abort = (): void => done({ ok: false, detail: 'aborted' });
    const timer = setTimeout(() => done({ ok: false, detail: timeoutDetail }), timeoutMs);
    if (signal.aborted) { done({ ok: false, detail: 'aborted' }); return; }
    signal.addEventListener('abort', abort);
    let c: () => void;
    try {
      c = work(done);
    } catch (err) {
      // A synchronous throw (a bad local address...) is a failed probe, not a crash.
      done({ ok: false, detail: (err as Error).message });
      return;
    }
    if (settled) { try { c(); } catch { /* closed */ } } else cleanup = c;
  });
}

/**
 * Bind `sock` (to `bindto`:`bindPort` when set), connect it to the target — so that an ICMP
 * port unreachable comes back as ECONNREFUSED — and send `payload`. Nothing happens once
 * `closed()` says the probe is over.
 */
export function sendTo(sock: UdpSocket, to: { host: string; port: number; bindto?: string; bindPort?: number }, payload: Uint8Array,
  closed: () => boolean, done: (r: ProbeResult) => void): void {
  const fail = (err: NodeJS.ErrnoException): void => done({ ok: false, detail: `${err.code ?? err.message}` });
  sock.bind({ ...(to.bindto ? { address: to.bindto } : {}), ...(to.bindPort ? { port: to.bindPort } : {}) }, () => {
    if (closed()) return;
    sock.connect(to.port, to.host, (err?: Error) => {
      if (closed()) return;
      if (err) { fail(err); return; }
      sock.send(payload, (e) => { if (e && !closed()) fail(e); });
    });
  });
}
