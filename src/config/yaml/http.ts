/**
 * The `http:` section of carpool.yaml: the opt-in HTTP listener (`/metrics`, `/status`, the live
 * dashboard). Nothing listens without it. The status shows addresses, peers and states, so a
 * listener off the loopback is refused unless it has both TLS and a token.
 */
import type { Node } from 'yaml';
import { parseIPv4, parseIPv6 } from '../../protocol/inet.js';
import type { HttpConfig } from '../model.js';
import { Checker, Reader, type Entry } from './checker.js';

const HTTP_KEYS = ['listen', 'token_file', 'tls'] as const;
const TLS_KEYS = ['cert', 'key'] as const;
const LISTEN_EXPECTED = 'host:port, e.g. 127.0.0.1:9650 or [::1]:9650';

/** `127.0.0.0/8`, `::1` and `localhost` only reach this host. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const v4 = parseIPv4(host);
  if (v4) return v4[0] === 127;
  const v6 = parseIPv6(host);
  return !!v6 && v6.every((b, i) => b === (i === 15 ? 1 : 0));
}

/** `host:port` → parts, or a reason. IPv6 literals go in brackets (`[::1]:9650`). */
export function parseListen(text: string): { host: string; port: number } | { error: string } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return { error: 'is not host:port' };
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return { error: `port ${port} is out of range 1..65535` };
  if (m[1] !== undefined ? !parseIPv6(host) : host !== 'localhost' && !parseIPv4(host)) {
    return { error: `'${host}' is not an IP address (or localhost)` };
  }
  return { host, port };
}

/** Read `http:`; undefined when absent or wrong (the errors are in `c`). */
export function readHttpSection(c: Checker, entry: Entry | undefined): { http: HttpConfig | undefined; ok: boolean } {
  if (!entry) return { http: undefined, ok: true };
  const entries = c.entries(entry.value, 'http', entry.keyNode);
  if (!entries) return { http: undefined, ok: false };
  c.unknownKeys(entries, HTTP_KEYS, 'http');
  const r = new Reader(c, 'http', entries);
  const errorsBefore = c.errors.length;
  let listen: { host: string; port: number } | undefined;
  let listenNode: Node | null | undefined;
  if (!r.has('listen')) {
    c.error(entry.keyNode, 'MISSING_KEY', "http: missing 'listen'", LISTEN_EXPECTED);
  } else {
    const s = r.string('listen', LISTEN_EXPECTED);
    if (s) {
      const p = parseListen(s.value);
      if ('error' in p) c.error(s.node, 'INVALID_VALUE', `listen in http: '${s.value}' ${p.error}`, LISTEN_EXPECTED);
      else { listen = p; listenNode = s.node; }
    }
  }
  const tokenFile = r.has('token_file') ? r.path('token_file', 'a file holding the token')?.value : undefined;
  let tls: HttpConfig['tls'];
  const tlsEntry = entries.get('tls');
  if (tlsEntry) {
    const t = c.entries(tlsEntry.value, 'tls in http', tlsEntry.keyNode);
    if (t) {
      c.unknownKeys(t, TLS_KEYS, 'tls in http');
      const tr = new Reader(c, 'tls in http', t);
      for (const k of TLS_KEYS) if (!tr.has(k)) c.error(tlsEntry.keyNode, 'MISSING_KEY', `tls in http: missing '${k}'`, 'cert and key, PEM file paths');
      const cert = tr.has('cert') ? tr.path('cert', 'the PEM certificate (chain)')?.value : undefined;
      const key = tr.has('key') ? tr.path('key', 'the PEM private key')?.value : undefined;
      if (cert && key) tls = { cert, key };
    }
  }
  if (listen && !isLoopback(listen.host) && (!tls || !tokenFile) && c.errors.length === errorsBefore) {
    c.error(listenNode, 'INSECURE_LISTEN',
      `listening on ${listen.host} needs tls and a token (the status shows addresses and states)`,
      'a loopback address such as 127.0.0.1:9650, or tls: {cert, key} and token_file');
  }
  if (c.errors.length > errorsBefore || !listen) return { http: undefined, ok: false };
  return {
    http: { host: listen.host, port: listen.port, ...(tokenFile ? { tokenFile } : {}), ...(tls ? { tls } : {}) },
    ok: true,
  };
}
