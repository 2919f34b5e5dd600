/**
 * The server half of the control socket: a Unix stream socket in a root-only directory
 * (0700, socket 0600), speaking one JSON object per line each way (src/control/protocol.ts).
 * `carpool status`, `carpool demote` and the resource commands are clients of it
 * (src/control/client.ts). Private by default: no TCP, no other users.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmodSync, unlinkSync, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { CarpoolError } from '../lib/errors.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { ensurePrivateDir } from './private-dir.js';

export type ControlHandler = (req: ControlRequest) => unknown;

const MAX_LINE = 64 * 1024;

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

  constructor(readonly path: string, private readonly handler: ControlHandler) {}

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
  }

  private accept(sock: Socket): void {
    this.clients.add(sock);
    sock.setEncoding('utf8');
    let buf = '';
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) { sock.destroy(); return; }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void this.answer(sock, line);
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.clients.delete(sock));
  }

  private async answer(sock: Socket, line: string): Promise<void> {
    let res: ControlResponse;
    try {
      const req = JSON.parse(line) as ControlRequest;
      if (typeof req?.cmd !== 'string') throw new CarpoolError('CONTROL_BAD_REQUEST', 'request needs a "cmd" string');
      res = { ok: true, result: await this.handler(req) };
    } catch (err) {
      res = err instanceof CarpoolError ? { ok: false, error: err.message, code: err.code }
        : { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n');
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
