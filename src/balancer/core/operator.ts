/**
 * The operator's say over a running balancer and live reconfiguration, pure:
 *
 * - naming things the way people type them (`carpool balancer drain 10.0.0.1:80 10.0.1.2`):
 *   a virtual service by `IP:port[/proto]`, its config name or an entry of its group, a real
 *   server by `IP[:port]`;
 * - runtime additions and removals of real servers (`add` / `remove`) as overrides laid over
 *   the configured service (`effectiveService`);
 * - carrying a service's health state over to a new definition of it (`reconcile`): after a
 *   reload, a runtime add or remove. Servers whose definition did not change keep everything
 *   (verdicts, running checkers, the operator's drain/weight), so a failed server is not put
 *   back by a reload; servers the configuration changed lose the operator's overrides (the
 *   configuration wins).
 */
import type { CheckerState, ServerState, ServiceHealth } from './health.js';
import type { RealServer, VirtualService } from './model.js';
import { serverKey } from './model.js';
import { canonicalIP } from '../../protocol/inet.js';

export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(readonly code: 'BAD_SERVER' | 'BAD_SERVICE' | 'NO_SUCH_SERVICE' | 'NO_SUCH_SERVER' | 'AMBIGUOUS' | 'SERVER_EXISTS', message: string, readonly hint?: string) {
    super(message);
  }
}

/** A real server as typed: `10.0.0.2`, `10.0.0.2:8080`, `fd00::2`, `[fd00::2]:8080`. */
export interface ServerRef {
  readonly address: string;
  readonly port?: number;
}

const canonical = canonicalIP;

function port(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new OperatorError('BAD_SERVER', `${what}: port "${text}" is not 1..65535`);
  }
  return Number(text);
}

/** `IP[:port]` (IPv6 with a port in brackets). Throws OperatorError BAD_SERVER. */
export function parseServerRef(text: string): ServerRef {
  const t = text.trim();
  const bad = () => new OperatorError('BAD_SERVER', `"${text}" is not a real server`, 'write IP or IP:PORT (IPv6 with a port: [fd00::2]:80)');
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (br) {
    const a = canonical(br[1]!);
    if (!a || !a.includes(':')) throw bad();
    return br[2] !== undefined ? { address: a, port: port(br[2], text) } : { address: a };
  }
  const whole = canonical(t);
  if (whole) return { address: whole };
  const i = t.lastIndexOf(':');
  if (i > 0 && !t.slice(0, i).includes(':')) {
    const a = canonical(t.slice(0, i));
    if (a) return { address: a, port: port(t.slice(i + 1), text) };
  }
  throw bad();
}

/** What a virtual service answers to, for `findService`. */
export interface ServiceNames {
  /** The core name (`10.0.0.1:80/tcp`, `fwmark:5`, `group:web`). */
  readonly name: string;
  /** The configuration's name (`10.0.0.1 80`, `fwmark 5`, `group web`). */
  readonly configName: string;
  /** Names of every address the service answers (a group's entries): `10.0.0.1:80/tcp`... */
  readonly entries: readonly string[];
}

/**
 * The service `text` names: its core or config name, `IP:port` / `IP:port/proto` of it or of
 * one of its group's entries, `fwmark N`, `group NAME` or just the group's name. Returns the
 * index. Throws NO_SUCH_SERVICE / AMBIGUOUS with the names known.
 */
export function findService(services: readonly ServiceNames[], text: string): number {
  const t = text.trim();
  const known = `known: ${services.map((s) => s.name).join(', ') || 'none'}`;
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ');
  const q = norm(t);
  const exact = services.findIndex((s) => norm(s.name) === q || norm(s.configName) === q || s.entries.some((e) => norm(e) === q)
    || norm(s.configName) === `group ${q}` || norm(s.name) === `fwmark:${q.replace(/^fwmark /, '')}`);
  if (exact >= 0) return exact;
  // `IP:port` without the protocol, `IP port`: any protocol, if only one service has it.
  let ref: ServerRef | undefined;
  try {
    ref = parseServerRef(t.replace(/^(\S+)\s+(\d+)$/, (_, a: string, p: string) => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`)));
  } catch {
    ref = undefined;
  }
  if (ref?.port !== undefined) {
    const prefix = `${serverKey(ref.address, ref.port)}/`;
    const hits = services.flatMap((s, i) => (s.entries.some((e) => e.startsWith(prefix)) ? [i] : []));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) {
      throw new OperatorError('AMBIGUOUS', `"${text}" names ${hits.length} virtual servers: ${hits.map((i) => services[i]!.name).join(', ')}`, 'add the protocol: IP:PORT/tcp');
    }
  }
  throw new OperatorError('NO_SUCH_SERVICE', `no virtual server "${text}"`, known);
}

/**
 * The real server of `vs` that `ref` names: by address and port, or by address alone when
 * only one server has it. Throws NO_SUCH_SERVER / AMBIGUOUS.
 */
export function findServer(vs: VirtualService, ref: ServerRef): string {
  const keys = vs.realServers.map((r) => ({ key: serverKey(r.address, r.port), address: r.address, port: r.port }));
  const hits = keys.filter((k) => k.address === ref.address && (ref.port === undefined || k.port === ref.port));
  if (hits.length === 1) return hits[0]!.key;
  const want = serverKey(ref.address, ref.port);
  if (hits.length > 1) throw new OperatorError('AMBIGUOUS', `${vs.name} has ${hits.length} real servers at ${ref.address}: ${hits.map((h) => h.key).join(', ')}`, 'add the port: IP:PORT');
  throw new OperatorError('NO_SUCH_SERVER', `${vs.name} has no real server ${want}`, `its real servers: ${keys.map((k) => k.key).join(', ') || 'none'}`);
}

/** Runtime changes of a service's server set (`carpool balancer add|remove`). */
export interface ServerOverrides {
  /** Servers added at runtime (not in the configuration), in the order they were added. */
  readonly added: readonly RealServer[];
  /** Keys of configured servers removed at runtime. */
  readonly removed: readonly string[];
}

export const NO_OVERRIDES: ServerOverrides = { added: [], removed: [] };

/** The configured service with the runtime additions and removals laid over it. */
export function effectiveService(configured: VirtualService, o: ServerOverrides): VirtualService {
  if (o.added.length === 0 && o.removed.length === 0) return configured;
  const removed = new Set(o.removed);
  const kept = configured.realServers.filter((r) => !removed.has(serverKey(r.address, r.port)));
  const have = new Set(kept.map((r) => serverKey(r.address, r.port)));
  return { ...configured, realServers: [...kept, ...o.added.filter((r) => !have.has(serverKey(r.address, r.port)))] };
}

/**
 * How a server present before and after a change relates to its old self:
 * - `same`: nothing changed; everything carries over (verdicts, running checkers, the
 *   operator's admin state and weight);
 * - `changed`: its settings changed (weight, notify, inhibit...) but not its checkers: the
 *   verdicts carry over, the operator's overrides are dropped (the configuration wins);
 * - `rechecked`: its checkers changed: it starts over as a new server.
 */
export type ServerChange = 'same' | 'changed' | 'rechecked';

export interface Reconciled {
  readonly state: ServiceHealth;
  /** Servers whose operator overrides (drain, disable, weight) were dropped: the configuration changed them. */
  readonly overridesDropped: readonly string[];
}

function fresh(rs: RealServer, started: boolean, now: number, jitter: number): ServerState {
  const checkers: CheckerState[] = rs.checkers.map((c) => ({
    up: !c.alpha, failures: 0, successes: 0, dueAt: started ? now + Math.floor(c.warmupMs * Math.min(Math.max(jitter, 0), 1)) : undefined,
  }));
  return { key: serverKey(rs.address, rs.port), health: checkers.every((c) => c.up) ? 'up' : 'down', admin: 'enabled', checkers };
}

/**
 * The health state for `next` (the same service, newly defined) from the state `h` held for
 * its previous definition. Servers are matched by key; `change(key)` says how a kept one
 * changed. New servers start as at start-up (armed at now + warmup × jitter when the
 * service runs). Quorum and server effects are the caller's: `settle` in health.ts.
 */
export function reconcile(h: ServiceHealth, next: VirtualService, change: (key: string) => ServerChange, now: number, jitter: number): Reconciled {
  const old = new Map(h.servers.map((s) => [s.key, s]));
  const overridesDropped: string[] = [];
  const servers = next.realServers.map((rs): ServerState => {
    const key = serverKey(rs.address, rs.port);
    const prev = old.get(key);
    const how = prev ? change(key) : 'rechecked';
    if (!prev || how === 'rechecked' || prev.checkers.length !== rs.checkers.length) {
      if (prev && (prev.admin !== 'enabled' || prev.weightOverride !== undefined)) overridesDropped.push(key);
      return fresh(rs, h.started, now, jitter);
    }
    if (how === 'same') return prev;
    if (prev.admin !== 'enabled' || prev.weightOverride !== undefined) overridesDropped.push(key);
    return { key, health: prev.health, admin: 'enabled', checkers: prev.checkers };
  });
  return { state: { ...h, servers }, overridesDropped };
}
