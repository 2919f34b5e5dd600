/**
 * The shell side of keepalived-style tracking: runs `vrrp_script` checks on their interval
 * (never more than one run of a script at a time, killed at its timeout), and reads
 * `track_file` integers when the file changes (fs.watch on its directory, plus a slow
 * poll as a safety net). Results go to a callback; verdicts (rise/fall, weights) are the
 * pure TrackerBoard's job.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { TrackFile, VrrpScript } from '../config/model.js';
import type { Logger } from './logger.js';

export type TrackerResult =
  | { readonly kind: 'script'; readonly name: string; readonly ok: boolean; readonly detail: string }
  | { readonly kind: 'file'; readonly name: string; readonly value: number };

const FILE_POLL_MS = 1000;

export class TrackerRunner {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly watchers: FSWatcher[] = [];
  private readonly running = new Map<string, number>();
  private stopped = false;

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

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const w of this.watchers) w.close();
    for (const pid of this.running.values()) {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
