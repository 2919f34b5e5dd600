/**
 * Connection counts per real server from the kernel's conntrack table, for the count-based
 * schedulers (lc, wlc, sed, nq, ovf, lblc, lblcr) and the status document. Every connection a
 * NAT service schedules carries the service in its `ct mark` (core/nft.ts `CT_MARK`: carpool's
 * tag | the entry's plane id), and its real server is the source of its reply tuple (the DNAT
 * target): so a flow is attributed the same way to a service on VIP and port, a
 * `virtual_server fwmark N` (no VIP to match on) and each entry of a `virtual_server group`.
 * IPVS semantics: TCP/SCTP ESTABLISHED = active, any other state (SYN_SENT, TIME_WAIT,
 * CLOSE...) = inactive; flows of stateless protocols (UDP, and what a fwmark service forwards
 * besides) are active.
 *
 * The table is read with Debian's `conntrack -L -o extended,id --mark TAG/MASK` (package
 * conntrack: the kernel returns carpool's flows only; the ids tell new flows from known ones
 * for services without nft counters, `newFlows`), spawned without a shell, streamed line
 * by line (memory does not grow with the table) and bounded in time. Chosen over netlink
 * through the addon: measured at ~10,000 entries a read costs ~30 ms of CPU here and ~70 ms in
 * the tool (docs/balancer.md), once per period; netlink would save only the tool's part, for C
 * code that decodes ctnetlink's nested attributes and a dump the JS side would still have to
 * walk. Malformed lines are dropped and counted.
 *
 * DR/TUN flows never pass conntrack on the director (netdev ingress, before the IP stack):
 * they are not counted here (docs/balancer.md).
 */
import { spawn } from 'node:child_process';
import { canonicalIP } from '../../protocol/inet.js';
import type { ConnCounts } from '../core/plan.js';
import { CT_MARK } from '../core/nft.js';
import { serverKey } from '../core/model.js';

/** One service whose flows are counted: the plane ids of its entries (its ct marks) and its real servers. */
export interface CountQuery {
  readonly name: string;
  /** Plane ids of the service's entries (one; a group: one per address and fwmark). */
  readonly ids: readonly number[];
  /** Each real server: its key (`serverKey`) and address, port undefined when the client's port is kept. */
  readonly servers: readonly { readonly key: string; readonly address: string; readonly port?: number }[];
  /**
   * Keep the conntrack ids of the service's flows (`CountResult.ids`): a service without nft
   * counters (a fwmark entry) estimates its new connections from the ids a read had not seen.
   */
  readonly trackIds?: boolean;
}

/** Counts per service name, per real server key (every queried server present, 0 when idle). */
export type CountsByService = Map<string, Map<string, ConnCounts>>;

export interface CountResult {
  readonly counts: CountsByService;
  /** Lines read. */
  readonly lines: number;
  /** Lines that are not a conntrack entry (dropped, counted). */
  readonly malformed: number;
  /** For queries with `trackIds`: the conntrack ids of their flows (counted ones: configured servers). */
  readonly ids?: Map<string, Set<number>>;
  /**
   * Live flows with conntrack accounting's counters (both directions summed), when the lines
   * carry them (`nf_conntrack_acct=1`): the per-server packet/byte totals add them to the ended
   * flows' (ct-accounting.ts), skipping the ids seen ended.
   */
  readonly flows?: LiveFlow[];
}

/** One live flow's packets and bytes (both directions), by service and server key. */
export interface LiveFlow { readonly name: string; readonly key: string; readonly id: number; readonly packets: number; readonly bytes: number }

/** Accounting's counters of one direction, `packets=N bytes=N` (twice: original, reply). */
const ACCT = /\spackets=(\d+)\s+bytes=(\d+)/g;

/**
 * One entry: `ipv4 2 tcp 6 431999 ESTABLISHED src=C dst=VIP sport=P dport=80 [UNREPLIED] src=RS
 * dst=C sport=80 dport=P [ASSURED] mark=3388997637 use=1`. Ports are absent for ICMP and the like.
 * One compiled expression per line: about 3 µs (docs/balancer.md).
 */
/** The entry's conntrack id (`-o id`), printed last: ICMP tuples have an `id=` of their own before it. */
const CT_ID = /\suse=\d+\s+id=(\d+)/;

const LINE = /^\s*(ipv[46])\s+\d+\s+([a-z0-9-]+)\s+\d+\s+\d+\s+(?:([A-Z_]+)\s+)?src=\S+\s+dst=\S+\s+(?:\S+\s+)*?src=(\S+)\s+dst=\S+(?:\s+sport=(\d+))?(?:.*?\smark=(\d+))?/;

/** Protocols whose conntrack entries have a state that says active or not (IPVS: ESTABLISHED = active). */
const STATEFUL = new Set(['tcp', 'sctp']);

/** Reads the lines of `conntrack -L -o extended` and counts the flows of the queried services. */
export class ConntrackCounter {
  /** ct mark → the service's name and its servers by reply source (`addr port`, or `addr` for a kept port). */
  private readonly byMark = new Map<number, { name: string; servers: Map<string, string> }>();
  private readonly counts: CountsByService = new Map();
  private readonly ids = new Map<string, Set<number>>();
  private readonly flows: LiveFlow[] = [];
  private lines = 0;
  private malformed = 0;

  constructor(queries: readonly CountQuery[]) {
    for (const q of queries) {
      // The reply source is address and port; a server without a port (port unchanged) is matched on its address.
      const servers = new Map<string, string>();
      const per = new Map<string, ConnCounts>();
      for (const s of q.servers) {
        const addr = canonicalIP(s.address) ?? s.address;
        servers.set(s.port !== undefined ? `${addr} ${s.port}` : addr, s.key);
        per.set(s.key, { active: 0, inactive: 0 });
      }
      for (const id of q.ids) this.byMark.set(markOf(id), { name: q.name, servers });
      this.counts.set(q.name, per);
      if (q.trackIds) this.ids.set(q.name, new Set());
    }
  }

  /** One line of `conntrack -L -o extended` (`ipv4 2 tcp 6 431999 ESTABLISHED src=... [ASSURED] ... mark=N use=1`). */
  line(text: string): void {
    if (text.trim() === '') return;
    this.lines++;
    // family, its number, protocol, its number, timeout, [state], original tuple, [flags], reply tuple, ..., mark.
    const m = LINE.exec(text);
    if (!m) {
      this.malformed++;
      return;
    }
    const [, , proto, state, rsrc, rsport, mark] = m;
    if (mark === undefined) return; // a kernel without ct marks: nothing of carpool's
    const svc = this.byMark.get(Number(mark));
    if (!svc) return; // not one of ours (another service, one that went)
    const addr = canonicalIP(rsrc!) ?? rsrc!;
    const key = (rsport !== undefined ? svc.servers.get(`${addr} ${rsport}`) : undefined) ?? svc.servers.get(addr);
    if (key === undefined) return; // a server that was removed, the sorry server
    const per = this.counts.get(svc.name)!;
    const c = per.get(key)!;
    const active = !STATEFUL.has(proto!) || state === 'ESTABLISHED';
    per.set(key, active ? { active: c.active + 1, inactive: c.inactive } : { active: c.active, inactive: c.inactive + 1 });
    const ids = this.ids.get(svc.name);
    const id = CT_ID.exec(text)?.[1];
    if (id !== undefined) ids?.add(Number(id));
    if (id !== undefined && text.includes('packets=')) {
      let packets = 0;
      let bytes = 0;
      for (const a of text.matchAll(ACCT)) {
        packets += Number(a[1]);
        bytes += Number(a[2]);
      }
      this.flows.push({ name: svc.name, key, id: Number(id), packets, bytes });
    }
  }

  result(): CountResult {
    return { counts: this.counts, lines: this.lines, malformed: this.malformed, ids: this.ids, flows: this.flows };
  }
}

/** The ct mark of plane id `id` as a number (`CT_MARK`). */
export function markOf(id: number): number {
  return (CT_MARK.tag | id) >>> 0;
}

/** Count the flows of `queries` in a captured `conntrack -L -o extended` text. Pure. */
export function countConntrack(text: string, queries: readonly CountQuery[]): CountResult {
  const c = new ConntrackCounter(queries);
  for (const l of text.split('\n')) c.line(l);
  return c.result();
}

/** Query of one service: the plane ids of its entries and its real servers. */
export function countQuery(name: string, ids: readonly number[], servers: readonly { address: string; port?: number }[], trackIds = false): CountQuery {
  return { name, ids, ...(trackIds ? { trackIds } : {}), servers: servers.map((s) => ({ key: serverKey(s.address, s.port), address: s.address, ...(s.port !== undefined ? { port: s.port } : {}) })) };
}

/** `conntrack` arguments: the extended format with ids, carpool's flows only (the kernel filters on the tag). */
export const CONNTRACK_ARGS: readonly string[] = ['-L', '-o', 'extended,id', '--mark', `0x${CT_MARK.tag.toString(16)}/0x${CT_MARK.mask.toString(16)}`];

/**
 * New flows between two reads of a service's ids: the ids of `now` that `before` had not. A flow
 * that began and ended between the reads is missed, but a closed TCP flow stays in the table
 * (TIME_WAIT, 120 s), so at count periods of seconds nearly none is. Pure.
 */
export function newFlows(before: ReadonlySet<number>, now: ReadonlySet<number>): number {
  let n = 0;
  for (const id of now) if (!before.has(id)) n++;
  return n;
}

/** One read must end within this (the period's budget). */
export const CONNTRACK_TIMEOUT_MS = 5_000;

/** Reads the table; replaceable in unit tests. Resolves with the counts or rejects with what went wrong. */
export type ConntrackReader = (queries: readonly CountQuery[]) => Promise<CountResult>;

/**
 * `conntrack -L -o extended,id --mark TAG/MASK`, streamed: each line is counted as it arrives, nothing else is
 * kept. Killed after `timeoutMs`. A missing tool rejects with a hint.
 */
export function conntrackReader(cmd = 'conntrack', timeoutMs = CONNTRACK_TIMEOUT_MS): ConntrackReader {
  return (queries) => new Promise((resolve, reject) => {
    const counter = new ConntrackCounter(queries);
    const child = spawn(cmd, [...CONNTRACK_ARGS], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const parts = (rest + d).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) counter.line(l);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message} (install the conntrack package: apt install conntrack)`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (rest) counter.line(rest);
      if (timedOut) reject(new Error(`${cmd} -L did not finish within ${timeoutMs} ms`));
      else if (code !== 0) reject(new Error(`${cmd} -L exited with ${signal ?? code}: ${stderr.trim().split('\n')[0] ?? ''}`));
      else resolve(counter.result());
    });
  });
}
