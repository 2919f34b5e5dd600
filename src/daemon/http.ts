/**
 * The daemon's opt-in HTTP listener (`http:` in carpool.yaml): read-only.
 *   GET /         the live dashboard (src/status/dashboard.ts)
 *   GET /events   Server-Sent Events: a `status` event with the dashboard's view on every
 *                 transition (coalesced per event-loop turn) and every second otherwise
 *   GET /metrics  Prometheus text format 0.0.4 (src/status/metrics.ts)
 *   GET /status   the status document as JSON (what `carpool status --json` prints)
 * Nothing here writes: no endpoint changes the daemon (demote and resources stay on the control
 * socket). With `token_file`, every request needs the token (`Authorization: Bearer <token>`, or
 * HTTP Basic with the token as password, which browsers prompt for).
 *
 * Bounded so it can never starve the adverts: a connection cap, a cap on event streams, header
 * and request timeouts, GET/HEAD only, no request bodies; a stream that does not keep up is
 * dropped rather than buffered. Renders are synchronous but small; nothing here waits on I/O
 * inside the event loop's advert path. Closed (every connection too) when the daemon stops.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { HttpConfig } from '../config/model.js';
import type { DaemonStatus } from '../control/status.js';
import { CarpoolError } from '../lib/errors.js';
import type { ClusterView } from '../coordination/core/cluster-view.js';
import { renderDashboard, slimCluster, type DashboardCluster, type TimelineEntry } from '../status/dashboard.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../status/metrics.js';
import type { Logger } from './logger.js';

/** Open connections at most (event streams included); Node closes any beyond it at once. */
const MAX_CONNECTIONS = 32;
/** Event streams at most; one more is answered 503. */
const MAX_STREAMS = 16;
/** Transitions the timeline keeps. */
const TIMELINE_LENGTH = 50;
/** Periodic push to event streams (the brief: at most every second besides transitions). */
const PUSH_EVERY_MS = 1000;
/** Bytes an event stream may have queued before it is dropped as too slow. */
const MAX_QUEUED = 1 << 20;

export interface HttpDeps {
  readonly status: () => DaemonStatus;
  /** Fresh figures read on demand (the balancer's counts) before /status and /metrics answer. */
  readonly refresh?: () => Promise<void>;
  /** With `cluster:`: the whole cluster read from etcd, shown by the dashboard (like `carpool status --cluster`). */
  readonly cluster?: () => Promise<ClusterView>;
  readonly log: Logger;
}

export class HttpServer {
  private readonly server: Server;
  private readonly streams = new Set<ServerResponse>();
  private readonly timeline: TimelineEntry[] = [];
  private readonly token: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pushQueued = false;
  private closed = false;
  /** The last cluster view read (or why it could not be), and the read under way. */
  private clusterView: DashboardCluster | undefined;
  private clusterRead: Promise<void> | undefined;

  /** Reads the token and TLS files now: a missing file stops the start with a clear error. */
  constructor(private readonly cfg: HttpConfig, private readonly deps: HttpDeps) {
    this.token = cfg.tokenFile ? digest(readToken(cfg.tokenFile)) : undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    this.server = cfg.tls ? httpsServer(cfg.tls, handler) : createHttpServer(handler);
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.headersTimeout = 5000;
    this.server.requestTimeout = 10_000;
    this.server.keepAliveTimeout = 5000;
    this.server.maxHeadersCount = 50;
    this.server.on('clientError', (_err, sock) => { sock.destroy(); });
  }

  /** The address as a URL (for the log line and the tests); the bound port once listening. */
  get url(): string {
    const host = this.cfg.host.includes(':') ? `[${this.cfg.host}]` : this.cfg.host;
    const bound = this.server.address();
    return `${this.cfg.tls ? 'https' : 'http'}://${host}:${typeof bound === 'object' && bound ? bound.port : this.cfg.port}/`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new CarpoolError('HTTP_LISTEN', `http: cannot listen on ${this.cfg.host}:${this.cfg.port}: ${err.code ?? err.message}`,
          err.code === 'EADDRINUSE' ? 'another process uses the port: pick another one in http: listen'
            : err.code === 'EADDRNOTAVAIL' ? 'the address is not on this host (ip addr)' : 'check http: listen', { cause: err }));
      };
      this.server.once('error', onError);
      this.server.listen({ host: this.cfg.host, port: this.cfg.port, exclusive: true }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (err) => this.deps.log.logLimited('error', `http: ${err.message}`, 'http:server'));
    this.deps.log.info(`HTTP listener on ${this.url} (read-only: /metrics, /status, dashboard at /)${this.token ? ', token required' : ''}`);
  }

  /** An instance changed state: note it in the timeline, push to the open dashboards soon. */
  transition(instance: string, from: string, to: string, reason: string): void {
    this.timeline.unshift({ at: new Date().toISOString(), instance, from, to, reason });
    if (this.timeline.length > TIMELINE_LENGTH) this.timeline.length = TIMELINE_LENGTH;
    if (this.streams.size === 0 || this.pushQueued) return;
    // After the current turn: the transition's own effects (adverts, addresses) go first.
    this.pushQueued = true;
    setImmediate(() => {
      this.pushQueued = false;
      this.push();
    });
  }

  /** Stop listening and drop every connection (event streams included). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.streams) s.end();
    this.streams.clear();
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await done;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('read-only: GET and HEAD only\n');
      return;
    }
    if (this.token && !this.authorized(req.headers.authorization)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="carpool", charset="UTF-8"', 'Content-Type': 'text/plain; charset=utf-8' })
        .end('a token is required: Authorization: Bearer <token> (or Basic with the token as password)\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    try {
      switch (path) {
        case '/metrics':
        case '/status': {
          const answer = (): void => {
            if (path === '/metrics') this.send(req, res, METRICS_CONTENT_TYPE, renderMetrics(this.deps.status()));
            else this.send(req, res, 'application/json; charset=utf-8', `${JSON.stringify(this.deps.status(), null, 2)}\n`);
          };
          if (!this.deps.refresh) return answer();
          void this.deps.refresh().catch(() => undefined).then(() => {
            try {
              answer();
            } catch (err) {
              this.deps.log.logLimited('error', `http: ${path}: ${(err as Error).message}`, `http:${path}`);
              if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('internal error\n');
            }
          });
          return;
        }
        case '/': {
          res.setHeader('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'");
          const page = (): void => this.send(req, res, 'text/html; charset=utf-8', renderDashboard(this.view()));
          if (!this.deps.cluster) return page();
          void this.readCluster().then(() => {
            try {
              page();
            } catch (err) {
              this.deps.log.logLimited('error', `http: /: ${(err as Error).message}`, 'http:/');
              if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('internal error\n');
            }
          });
          return;
        }
        case '/events':
          return this.openStream(req, res);
        default:
          res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: try /, /metrics, /status\n');
      }
    } catch (err) {
      this.deps.log.logLimited('error', `http: ${path}: ${(err as Error).message}`, `http:${path}`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('internal error (see the daemon log)\n');
    }
  }

  private send(req: IncomingMessage, res: ServerResponse, type: string, body: string): void {
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private openStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) {
      res.writeHead(503, { 'Retry-After': '10', 'Content-Type': 'text/plain; charset=utf-8' }).end('too many open dashboards\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setTimeout(0);
    req.socket.setNoDelay(true);
    this.streams.add(res);
    res.on('close', () => {
      this.streams.delete(res);
      if (this.streams.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
    // Reconnect quickly after a daemon restart; then the current view at once.
    res.write('retry: 1000\n\n');
    this.write(res, this.event());
    this.timer ??= setInterval(() => {
      if (this.deps.cluster) void this.readCluster().then(() => this.push());
      else this.push();
    }, PUSH_EVERY_MS);
  }

  /** Read the cluster from etcd (one read at a time; the daemon's request timeout bounds it). */
  private readCluster(): Promise<void> {
    const read = this.deps.cluster;
    if (!read) return Promise.resolve();
    this.clusterRead ??= read().then((v) => { this.clusterView = slimCluster(v); }, (err: unknown) => {
      this.clusterView = { error: `cannot read the cluster from etcd: ${(err as Error).message}`, at: new Date().toISOString() };
    }).finally(() => { this.clusterRead = undefined; });
    return this.clusterRead;
  }

  private view(): { status: DaemonStatus; timeline: readonly TimelineEntry[]; cluster?: DashboardCluster } {
    return { status: this.deps.status(), timeline: this.timeline, ...(this.clusterView ? { cluster: this.clusterView } : {}) };
  }

  private event(): string {
    return `event: status\ndata: ${JSON.stringify(this.view())}\n\n`;
  }

  private push(): void {
    if (this.streams.size === 0 || this.closed) return;
    const ev = this.event();
    for (const s of this.streams) this.write(s, ev);
  }

  /** A stream that lets a megabyte pile up is not reading: drop it instead of buffering more. */
  private write(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_QUEUED) {
      res.destroy();
      return;
    }
    res.write(text);
  }

  private authorized(header: string | undefined): boolean {
    if (!header || !this.token) return false;
    const [scheme, value = ''] = header.split(/\s+/, 2);
    let presented: string | undefined;
    if (scheme?.toLowerCase() === 'bearer') presented = value;
    else if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      presented = colon >= 0 ? decoded.slice(colon + 1) : undefined;
    }
    return presented !== undefined && timingSafeEqual(digest(presented), this.token);
  }
}

/** Fixed-length digests so the comparison takes the same time whatever was presented. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function readToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CarpoolError('HTTP_TOKEN', `http: cannot read token_file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'create it with a long random token, mode 0600 (e.g. openssl rand -hex 32 > FILE)');
  }
  const token = text.trim();
  if (token.length < 16 || /\s/.test(token)) {
    throw new CarpoolError('HTTP_TOKEN', `http: token_file ${path} must hold one token of at least 16 characters without blanks`,
      'e.g. openssl rand -hex 32 > FILE');
  }
  return token;
}

function httpsServer(tls: NonNullable<HttpConfig['tls']>, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const cert = readPem(tls.cert, 'certificate');
  const key = readPem(tls.key, 'key');
  try {
    return createHttpsServer({ cert, key, minVersion: 'TLSv1.2' }, handler);
  } catch (err) {
    throw new CarpoolError('HTTP_TLS', `http: TLS certificate ${tls.cert} or key ${tls.key} is not usable: ${(err as Error).message}`,
      'PEM files: the certificate (chain) and its unencrypted private key');
  }
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CarpoolError('HTTP_TLS', `http: cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'tls: cert and key are PEM files readable by the daemon');
  }
}
