/** Shared pieces of the fault tests: a syslog listener, daemon memory, drop totals. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DaemonStatus } from '../../../src/control/status.js';

const DGRAM_LISTENER = fileURLToPath(new URL('../net/fixtures/dgram_listener.py', import.meta.url));

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
