/**
 * The shell side of keepalived-style tracking: runs `vrrp_script` checks on their interval
 * (never more than one run of a script at a time, killed at its timeout), reads
 * `track_file` integers when the file changes (fs.watch on its directory, plus a slow
 * poll as a safety net), and counts the processes of `vrrp_track_process` by scanning /proc
 * every PROCESS_POLL_MS (keepalived listens to the kernel's proc connector instead; a scan
 * reads one small file per process, plus its cmdline only when a tracker matches
 * arguments). Results go to a callback; verdicts (rise/fall, quorum delays, weights) are the
 * pure TrackerBoard's and ProcessQuorum's job.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { TrackFile, TrackProcess, VrrpScript } from '../config/model.js';
import { ProcessQuorum, needsCmdline, processMatches } from '../election/tracking.js';
import type { Logger } from './logger.js';

export type TrackerResult =
  | { readonly kind: 'script'; readonly name: string; readonly ok: boolean; readonly detail: string }
  | { readonly kind: 'process'; readonly name: string; readonly ok: boolean; readonly detail: string }
  | { readonly kind: 'file'; readonly name: string; readonly value: number };

const FILE_POLL_MS = 1000;
/** How often /proc is scanned for vrrp_track_process: a process that dies is seen within this. */
export const PROCESS_POLL_MS = 500;

/** One running process as the scan sees it: its name and, when asked for, its argv. */
interface ProcEntry { readonly comm: string; readonly argv: readonly string[] | undefined }

/** The running (not zombie) processes: name from /proc/PID/stat, argv from cmdline when `cmdline`. */
function scanProc(cmdline: boolean): ProcEntry[] {
  const out: ProcEntry[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      // "PID (COMM) STATE ...": COMM may hold blanks and parentheses; the last ')' ends it.
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (open < 0 || close < open || stat[close + 2] === 'Z') continue;
      const comm = Buffer.from(stat.slice(open + 1, close), 'latin1').toString('utf8');
      let argv: string[] | undefined;
      if (cmdline) {
        const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        argv = raw.length > 0 ? raw.replace(/\0$/, '').split('\0') : [];
      }
      out.push({ comm, argv });
    } catch {
      // The process ended during the scan.
    }
  }
  return out;
}

export class TrackerRunner {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly watchers: FSWatcher[] = [];
  private readonly running = new Map<string, number>();
  private stopped = false;
  private readonly processes: { readonly p: TrackProcess; readonly quorum: ProcessQuorum }[] = [];
  private processTimer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger, private readonly onResult: (r: TrackerResult) => void) {}

  /** setTimeout that the runner can cancel on stop; forgets itself when it fires. */
  private later(fn: () => void, ms: number, unref = false): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    if (unref) t.unref();
    this.timers.add(t);
  }

  startScript(s: VrrpScript): void {
    const tick = (): void => {
      if (this.stopped) return;
      if (this.running.has(s.name)) {
        this.log.warning(`vrrp_script ${s.name}: previous run still going, skipping this interval`);
      } else {
        this.runScript(s);
      }
      this.later(tick, s.intervalMs);
    };
    tick();
  }

  private runScript(s: VrrpScript): void {
    const argv = s.hook.shell ? ['/bin/sh', '-c', s.hook.argv.join(' ')] : [...s.hook.argv];
    let timedOut = false;
    let done = false;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
    if (child.pid) this.running.set(s.name, child.pid);
    const timer = setTimeout(() => {
      timedOut = true;
      try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, s.timeoutMs);
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.running.delete(s.name);
      if (!this.stopped) this.onResult({ kind: 'script', name: s.name, ok, detail });
    };
    child.once('error', (err) => finish(false, `cannot run: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (timedOut) finish(false, `timed out after ${s.timeoutMs} ms`);
      else finish(code === 0, code === 0 ? 'exit 0' : `exit ${signal ?? code}`);
    });
  }

  startFile(f: TrackFile): void {
    if (f.initValue !== undefined && (f.initOverwrite || !existsSync(f.path))) {
      try {
        writeFileSync(f.path, `${f.initValue}\n`);
      } catch (err) {
        this.log.error(`track_file ${f.name}: cannot initialise ${f.path}: ${(err as Error).message}`);
      }
    }
    let last: number | undefined;
    const read = (): void => {
      if (this.stopped) return;
      let value: number;
      try {
        // keepalived: the file holds an integer; unreadable or non-numeric counts as 0.
        const n = parseInt(readFileSync(f.path, 'utf8').trim(), 10);
        value = Number.isFinite(n) ? n : 0;
      } catch {
        value = 0;
      }
      if (value !== last) {
        last = value;
        this.onResult({ kind: 'file', name: f.name, value });
      }
    };
    read();
    try {
      const w = watch(dirname(f.path), (_ev, file) => { if (!file || file === basename(f.path)) read(); });
      w.on('error', () => undefined);
      this.watchers.push(w);
    } catch {
      // Directory missing: the poll below still picks the file up when it appears.
    }
    const poll = (): void => {
      read();
      if (!this.stopped) this.later(poll, FILE_POLL_MS, true);
    };
    this.later(poll, FILE_POLL_MS, true);
  }

  /** Count `p`'s processes now and then every PROCESS_POLL_MS (one /proc scan serves every tracker). */
  startProcess(p: TrackProcess, now: () => number): void {
    this.processes.push({ p, quorum: new ProcessQuorum(p) });
    if (this.processes.length === 1) this.scanProcesses(now);
    else this.countProcesses(this.processes.slice(-1), scanProc(needsCmdline(p)), now());
  }

  private scanProcesses(now: () => number): void {
    if (this.stopped) return;
    const list = scanProc(this.processes.some((x) => needsCmdline(x.p)));
    const t = now();
    this.countProcesses(this.processes, list, t);
    // Next scan at the poll interval, or sooner when a fork/terminate delay runs out.
    const due = Math.min(...this.processes.map((x) => x.quorum.nextDeadline() ?? Infinity));
    const wait = Math.max(10, Math.min(PROCESS_POLL_MS, due - t));
    this.processTimer = setTimeout(() => this.scanProcesses(now), wait);
  }

  private countProcesses(trackers: readonly { readonly p: TrackProcess; readonly quorum: ProcessQuorum }[], list: readonly ProcEntry[], t: number): void {
    for (const { p, quorum } of trackers) {
      const count = list.filter((e) => processMatches(p, e.comm, e.argv)).length;
      const ok = quorum.step(count, t);
      if (ok !== undefined) this.onResult({ kind: 'process', name: p.name, ok, detail: `${count} running, quorum ${p.quorum}${p.quorumMax !== undefined ? `..${p.quorumMax}` : ''}` });
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.processTimer);
    for (const t of this.timers) clearTimeout(t);
    for (const w of this.watchers) w.close();
    for (const pid of this.running.values()) {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
