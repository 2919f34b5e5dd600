/**
 * keepalived's notify FIFO (`vrrp_notify_fifo` / `notify_fifo`): each VRRP notify event is
 * also written as one line, `INSTANCE "VI_1" MASTER 100` or `GROUP "G1" BACKUP 0` (the last
 * four arguments of the generic notify script), in the order the events happen.
 *
 * Never blocks the event loop: the FIFO is opened O_NONBLOCK (no reader yet: ENXIO) and written
 * without blocking (reader too slow: EAGAIN; reader gone: EPIPE, the FIFO is reopened at the
 * next line). A line that cannot be written is dropped and counted, never retried: adverts
 * must not wait for a reader. A line is shorter than PIPE_BUF, so it arrives whole or not at all.
 *
 * The FIFO is created (mode 0600) when it does not exist, and removed at stop if carpool created
 * it. The optional reader script gets the FIFO's path as its last argument and runs until stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, lstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { NotifyFifo } from '../config/model.js';
import { run } from '../lib/exec.js';
import type { Logger } from './logger.js';

export interface FifoCounters {
  readonly written: number;
  readonly dropped: number;
}

export class NotifyFifoWriter {
  private fd: number | undefined;
  private created = false;
  private reader: ChildProcess | undefined;
  private written = 0;
  private dropped = 0;

  constructor(private readonly cfg: NotifyFifo, private readonly log: Logger) {}

  /** Create the FIFO if missing, start the reader script if any. */
  async start(): Promise<void> {
    if (!existsSync(this.cfg.path)) {
      const r = await run(['mkfifo', '-m', '0600', this.cfg.path], { allowFail: true });
      if (r.code === 0) this.created = true;
      else this.log.error(`notify FIFO ${this.cfg.path}: cannot create it: ${r.stderr.trim()}`);
    } else if (!lstatSync(this.cfg.path).isFIFO()) {
      this.log.error(`notify FIFO ${this.cfg.path} exists and is not a FIFO: notify events are not written to it`);
    }
    const s = this.cfg.script;
    if (s) {
      const argv = s.shell ? ['/bin/sh', '-c', `${s.argv.join(' ')} "$0"`, this.cfg.path] : [...s.argv, this.cfg.path];
      this.reader = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
      this.reader.once('error', (err) => this.log.error(`notify FIFO script: cannot run: ${err.message}`));
      this.reader.once('exit', (code, sig) => {
        if (this.reader) this.log.warning(`notify FIFO script exited (${sig ?? code}); events are dropped until a reader opens ${this.cfg.path}`);
        this.reader = undefined;
      });
    }
  }

  /** One event; dropped (and counted) when no reader can take it now. */
  write(kind: 'INSTANCE' | 'GROUP', name: string, state: string, priority: number): void {
    const line = `${kind} "${name}" ${state} ${priority}\n`;
    try {
      this.fd ??= openSync(this.cfg.path, constants.O_WRONLY | constants.O_NONBLOCK);
      writeSync(this.fd, line);
      this.written++;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'EBADF') this.closeFd();
      this.dropped++;
      const why = code === 'ENXIO' ? 'no reader has it open' : code === 'EAGAIN' ? 'the reader is not keeping up' : code === 'EPIPE' ? 'the reader closed it' : (err as Error).message;
      this.log.logLimited('warning', `notify FIFO ${this.cfg.path}: event dropped (${why}): ${line.trim()}`, 'notify-fifo:drop');
    }
  }

  counters(): FifoCounters {
    return { written: this.written, dropped: this.dropped };
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try { closeSync(this.fd); } catch { /* already closed */ }
    this.fd = undefined;
  }

  /** Close, stop the reader, remove the FIFO if carpool created it. */
  stop(): void {
    this.closeFd();
    const r = this.reader;
    this.reader = undefined;
    r?.kill('SIGTERM');
    if (this.created) {
      try { unlinkSync(this.cfg.path); } catch { /* gone */ }
      this.created = false;
    }
  }
}
