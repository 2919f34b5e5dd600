/**
 * The server half of the control socket: a Unix stream socket in a root-only directory
 * (0700, socket 0600), speaking one JSON object per line each way (src/control/protocol.ts).
 * `carpool status`, `carpool demote` and the resource commands are clients of it
 * (src/control/client.ts). Private by default: no TCP, no other users.
 *
 * Bounded whatever a client does: requests of one connection are answered one at a time,
 * and the connection is not read while its replies are not consumed (write() false →
 * pause until 'drain'), so a client pipelining without reading costs a few KiB, not the
 * daemon's memory; at most MAX_CLIENTS connections (the next get a CONTROL_BUSY line and
 * are closed); a connection silent for IDLE_MS is closed; accept errors (EMFILE when file
 * descriptors run out) are logged by name and never end the daemon.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import type { Logger } from './logger.js';
import { chmodSync, unlinkSync, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { CarpoolError } from '../lib/errors.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { ensurePrivateDir } from './private-dir.js';

export type ControlHandler = (req: ControlRequest) => unknown;

const MAX_LINE = 64 * 1024;
export const MAX_CLIENTS = 32;
export const IDLE_MS = 60_000;
/** Requests read ahead of the one being answered; beyond this the connection is paused. */
const MAX_QUEUED = 16;

export interface ControlServerOptions {
  readonly maxClients?: number;
  readonly idleMs?: number;
}

/** Is a daemon answering on `path`? */
function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export class ControlServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  /** Only a server that actually listened may remove the socket file. */
  private listening = false;

  private readonly maxClients: number;
  private readonly idleMs: number;

  constructor(readonly path: string, private readonly handler: ControlHandler, private readonly log?: Logger, opts: ControlServerOptions = {}) {
    this.maxClients = opts.maxClients ?? MAX_CLIENTS;
    this.idleMs = opts.idleMs ?? IDLE_MS;
  }

  async listen(): Promise<void> {
    const dir = dirname(this.path);
    ensurePrivateDir(dir, 'control socket directory');
    // An existing directory may be shared (/run): only tighten directories we own alone.
    if (statSync(dir).uid === process.getuid?.() && dir.startsWith('/run/carpool')) chmodSync(dir, 0o700);
    if (existsSync(this.path)) {
      if (await probe(this.path)) {
        throw new CarpoolError('CONTROL_IN_USE', `another carpool daemon is running on control socket ${this.path}`,
          'stop it first, or give this one its own socket (control_socket in the config)');
      }
      unlinkSync(this.path); // stale socket of a killed daemon
    }
    const server = createServer((sock) => this.accept(sock));
    this.server = server;
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => { server.off('error', reject); resolve(); });
      });
    } finally {
      process.umask(old);
    }
    chmodSync(this.path, 0o600);
    this.listening = true;
    // After listen, an error is a failed accept (EMFILE/ENFILE: out of file descriptors).
    server.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EMFILE' ? 'EMFILE (too many open files in the daemon)' : err.code === 'ENFILE' ? 'ENFILE (too many open files on the host)' : err.code ?? err.message;
      this.log?.logLimited('error', `control socket ${this.path}: cannot accept a connection: ${why}`, `control:accept:${err.code ?? 'error'}`);
    });
  }

  private accept(sock: Socket): void {
    sock.on('error', () => sock.destroy());
    if (this.clients.size >= this.maxClients) {
      this.log?.logLimited('warning', `control socket: ${this.maxClients} connections open; refusing another`, 'control:busy');
      const res: ControlResponse = { ok: false, error: `too many control connections (${this.maxClients})`, code: 'CONTROL_BUSY' };
      sock.end(JSON.stringify(res) + '\n');
      sock.setTimeout(1000, () => sock.destroy());
      return;
    }
    this.clients.add(sock);
    sock.on('close', () => this.clients.delete(sock));
    sock.setEncoding('utf8');
    sock.setTimeout(this.idleMs, () => sock.destroy());
    let buf = '';
    const queue: string[] = [];
    let busy = false;
    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      while (queue.length > 0 && !sock.destroyed) {
        const reply = await this.reply(queue.shift()!);
        if (sock.destroyed) break;
        // Replies not consumed: stop reading (and answering) until they are.
        if (!sock.write(reply)) {
          sock.pause();
          await new Promise<void>((resolve) => {
            const done = () => { sock.off('drain', done); sock.off('close', done); resolve(); };
            sock.on('drain', done);
            sock.on('close', done);
          });
        }
      }
      busy = false;
      if (!sock.destroyed && sock.isPaused()) sock.resume();
    };
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        queue.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (buf.length > MAX_LINE) { sock.destroy(); return; }
      if (queue.length >= MAX_QUEUED) sock.pause();
      void pump();
    });
  }

  private async reply(line: string): Promise<string> {
    let res: ControlResponse;
    try {
      const req = JSON.parse(line) as ControlRequest;
      if (typeof req?.cmd !== 'string') throw new CarpoolError('CONTROL_BAD_REQUEST', 'request needs a "cmd" string');
      res = { ok: true, result: await this.handler(req) };
    } catch (err) {
      res = err instanceof CarpoolError ? { ok: false, error: err.message, code: err.code }
        : { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    return JSON.stringify(res) + '\n';
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (!this.listening) return; // never remove another daemon's socket
    this.listening = false;
    try { unlinkSync(this.path); } catch { /* already gone */ }
  }
}
