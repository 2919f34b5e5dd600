/**
 * Shared pieces of the fault tests and the soak (bench/soak.ts): a syslog listener, a
 * spoofed-advert sender, a control-socket connection, daemon memory, drop totals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DaemonStatus } from '../../../src/control/status.js';
import { inNs } from '../../../src/lib/exec.js';

const DGRAM_LISTENER = fileURLToPath(new URL('../net/fixtures/dgram_listener.py', import.meta.url));
const SPOOF = fileURLToPath(new URL('./fixtures/spoof.py', import.meta.url));

/** A syslog stand-in: an AF_UNIX datagram socket at `path`, lines decoded as they arrive. */
export class SyslogListener {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  readonly ready: Promise<void>;

  constructor(readonly path: string) {
    this.child = spawn('python3', [DGRAM_LISTENER, path, 'echo'], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.ready = new Promise((resolve) => {
      createInterface({ input: this.child.stdout! }).on('line', (l) => {
        if (l === 'ready') resolve();
        else this.lines.push(Buffer.from(l, 'hex').toString());
      });
    });
  }

  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Resident memory of `pid` in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Every received packet a daemon dropped, over instances and interfaces. */
export function totalDrops(st: DaemonStatus): number {
  let n = 0;
  for (const i of st.instances) for (const v of Object.values(i.counters.drops)) n += v;
  for (const i of st.interfaces) for (const v of Object.values(i.drops)) n += v;
  return n;
}

/**
 * CARP adverts with a wrong digest for `vhid`, each from another random source address, sent
 * as raw Ethernet frames on `ifname` inside namespace `ns` (fixtures/spoof.py).
 */
export class Spoofer {
  private readonly child: ChildProcess;
  private readonly replies: string[] = [];
  private wake: (() => void) | undefined;

  constructor(ns: string, ifname: string, vhid: number) {
    const argv = inNs(ns, ['python3', SPOOF, ifname, String(vhid)]);
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => { this.replies.push(l); this.wake?.(); });
  }

  private next(): Promise<string> {
    return new Promise((resolve, reject) => {
      const take = (): void => {
        const r = this.replies.shift();
        if (r !== undefined) { this.wake = undefined; resolve(r); return; }
        if (this.child.exitCode !== null || this.child.signalCode !== null) { reject(new Error('spoof.py exited')); return; }
        this.wake = take;
      };
      take();
    });
  }

  /** Resolves once the sender's socket is open. */
  async ready(): Promise<void> {
    const l = await this.next();
    if (l !== 'ready') throw new Error(`spoof.py: expected "ready", got "${l}"`);
  }

  /** Send `n` more frames; resolves with the total sent so far. */
  async send(n: number): Promise<number> {
    this.child.stdin!.write(`${n}\n`);
    const l = await this.next();
    const m = /^sent (\d+)$/.exec(l);
    if (!m) throw new Error(`spoof.py: unexpected "${l}"`);
    return Number(m[1]);
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** A connection to a Unix stream socket (a daemon's control socket), once connected. */
export function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** What a daemon does with a connection within `ms`: 'open' (kept), 'closed', or the text it sent before closing. */
export function connectionFate(s: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const t = setTimeout(() => resolve(got || 'open'), ms);
    s.setEncoding('utf8');
    s.on('data', (d: string) => { got += d; });
    s.on('error', () => undefined);
    s.once('close', () => { clearTimeout(t); resolve(got || 'closed'); });
  });
}
