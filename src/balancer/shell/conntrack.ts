/**
 * Connection counts per real server from the kernel's conntrack table, for the count-based
 * schedulers (lc, wlc, sed, nq, ovf) and the status document. A NAT flow of a carpool
 * service has the VIP and port as its original destination and the real server as its reply
 * source; IPVS semantics: TCP/SCTP ESTABLISHED = active, any other state (SYN_SENT,
 * TIME_WAIT, CLOSE...) = inactive; UDP has no state, every flow is active.
 *
 * The table is read with Debian's `conntrack -L -o extended` (package conntrack), spawned
 * without a shell, streamed line by line (memory does not grow with the table) and bounded in
 * time. Chosen over netlink through the addon: measured at ~10,000 entries a read costs
 * ~30 ms of CPU here and ~70 ms in the tool (docs/balancer.md), once per period; netlink would
 * save only the tool's part, for C code that decodes ctnetlink's nested attributes and a dump
 * the JS side would still have to walk. Malformed lines are dropped and counted.
 *
 * DR/TUN flows never pass conntrack on the director (netdev ingress, before the IP stack):
 * they are not counted here (docs/balancer.md).
 */
import { spawn } from 'node:child_process';
import { canonicalIP } from '../../protocol/inet.js';
import type { ConnCounts } from '../core/plan.js';
import { serverKey } from '../core/model.js';

/** One service whose flows are counted: its VIP, port and protocol, and its real servers' keys. */
export interface CountQuery {
  readonly name: string;
  readonly family: 'ipv4' | 'ipv6';
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly vip: string;
  readonly port: number;
  /** Each real server: its key (`serverKey`) and address, port undefined when the client's port is kept. */
  readonly servers: readonly { readonly key: string; readonly address: string; readonly port?: number }[];
}

/** Counts per service name, per real server key (every queried server present, 0 when idle). */
export type CountsByService = Map<string, Map<string, ConnCounts>>;

export interface CountResult {
  readonly counts: CountsByService;
  /** Lines read. */
  readonly lines: number;
  /** Lines that are not a conntrack entry (dropped, counted). */
  readonly malformed: number;
}

/**
 * One entry: `ipv4 2 tcp 6 431999 ESTABLISHED src=C dst=VIP sport=P dport=80 [UNREPLIED] src=RS
 * dst=C sport=80 dport=P [ASSURED] mark=0 use=1`. Ports are absent for ICMP and the like.
 * One compiled expression per line: about 3 µs (docs/balancer.md).
 */
const LINE = /^\s*(ipv[46])\s+\d+\s+([a-z0-9-]+)\s+\d+\s+\d+\s+(?:([A-Z_]+)\s+)?src=(\S+)\s+dst=(\S+)\s+(?:sport=\d+\s+dport=(\d+)\s+)?(?:\S+\s+)*?src=(\S+)\s+dst=\S+(?:\s+sport=(\d+))?/;

/** Reads the lines of `conntrack -L -o extended` and counts the flows of the queried services. */
export class ConntrackCounter {
  private readonly byDest = new Map<string, { name: string; servers: Map<string, string> }>();
  private readonly counts: CountsByService = new Map();
  private lines = 0;
  private malformed = 0;

  constructor(queries: readonly CountQuery[]) {
    for (const q of queries) {
      const vip = canonicalIP(q.vip) ?? q.vip;
      // The reply source is address and port; a server without a port (port unchanged) is matched on its address.
      const servers = new Map<string, string>();
      const per = new Map<string, ConnCounts>();
      for (const s of q.servers) {
        const addr = canonicalIP(s.address) ?? s.address;
        servers.set(s.port !== undefined ? `${addr} ${s.port}` : addr, s.key);
        per.set(s.key, { active: 0, inactive: 0 });
      }
      this.byDest.set(`${q.family} ${q.protocol} ${vip} ${q.port}`, { name: q.name, servers });
      this.counts.set(q.name, per);
    }
  }

  /** One line of `conntrack -L -o extended` (`ipv4 2 tcp 6 431999 ESTABLISHED src=... [ASSURED] ...`). */
  line(text: string): void {
    if (text.trim() === '') return;
    this.lines++;
    // family, its number, protocol, its number, timeout, [state], original tuple, [flags], reply tuple.
    const m = LINE.exec(text);
    if (!m) {
      this.malformed++;
      return;
    }
    const [, family, proto, state, , dst, dport, rsrc, rsport] = m;
    if (dport === undefined) return; // icmp and others: not a balanced service
    const svc = this.byDest.get(`${family} ${proto} ${dst} ${dport}`);
    if (!svc) return;
    const key = svc.servers.get(`${rsrc} ${rsport ?? ''}`) ?? svc.servers.get(rsrc!);
    if (key === undefined) return; // not one of ours (another DNAT, a server that was removed)
    const per = this.counts.get(svc.name)!;
    const c = per.get(key)!;
    const active = proto === 'udp' || state === 'ESTABLISHED';
    per.set(key, active ? { active: c.active + 1, inactive: c.inactive } : { active: c.active, inactive: c.inactive + 1 });
  }

  result(): CountResult {
    return { counts: this.counts, lines: this.lines, malformed: this.malformed };
  }
}

/** Count the flows of `queries` in a captured `conntrack -L -o extended` text. Pure. */
export function countConntrack(text: string, queries: readonly CountQuery[]): CountResult {
  const c = new ConntrackCounter(queries);
  for (const l of text.split('\n')) c.line(l);
  return c.result();
}

/** Query of one service: its VIP . port . protocol and its real servers. */
export function countQuery(name: string, family: 'ipv4' | 'ipv6', protocol: 'tcp' | 'udp' | 'sctp', vip: string, port: number,
  servers: readonly { address: string; port?: number }[]): CountQuery {
  return { name, family, protocol, vip, port, servers: servers.map((s) => ({ key: serverKey(s.address, s.port), address: s.address, ...(s.port !== undefined ? { port: s.port } : {}) })) };
}

/** One read must end within this (the period's budget). */
export const CONNTRACK_TIMEOUT_MS = 5_000;

/** Reads the table; replaceable in unit tests. Resolves with the counts or rejects with what went wrong. */
export type ConntrackReader = (queries: readonly CountQuery[]) => Promise<CountResult>;

/**
 * `conntrack -L -o extended`, streamed: each line is counted as it arrives, nothing else is
 * kept. Killed after `timeoutMs`. A missing tool rejects with a hint.
 */
export function conntrackReader(cmd = 'conntrack', timeoutMs = CONNTRACK_TIMEOUT_MS): ConntrackReader {
  return (queries) => new Promise((resolve, reject) => {
    const counter = new ConntrackCounter(queries);
    const child = spawn(cmd, ['-L', '-o', 'extended'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
