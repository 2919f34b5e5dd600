/**
 * systemd integration without libsystemd. The service manager protocol (sd_notify(3),
 * systemd.service(5)): one datagram of `KEY=value` lines to the AF_UNIX socket named in
 * `$NOTIFY_SOCKET` (`@name` = abstract namespace), through the addon's non-blocking datagram
 * client — a stalled or absent manager costs a dropped notification, never a blocked loop.
 * The daemon says `READY=1` once sockets and instances are up, `STATUS=` with the instances'
 * states (rate-limited), `RELOADING=1` around a reload, `STOPPING=1` at stop, and feeds the
 * watchdog (`WatchdogSec=`) from the event loop, so a stalled loop gets the service restarted.
 * Journal detection (`$JOURNAL_STREAM`, systemd.exec(5), or `$NOTIFY_SOCKET`) and the journal's
 * socket are here too; the logger writes the entries.
 */
import { fstatSync } from 'node:fs';
import type { SendResult } from '../net/errors.js';
import { SyslogSocket } from '../net/syslog-socket.js';

/** The environment variables the service manager hands the main process for notifications. */
export const NOTIFY_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/** At most one `STATUS=` per this many ms; a change within the window is sent at its end. */
export const STATUS_INTERVAL_MS = 1000;

export interface NotifySettings {
  /** The socket address (`/path` or `@abstract`); undefined when not started by a service manager. */
  readonly socket?: string;
  /** How often to send `WATCHDOG=1` (half of `WATCHDOG_USEC`); undefined without a watchdog for us. */
  readonly watchdogMs?: number;
  /** What was wrong with the environment, for a warning once the logger exists. */
  readonly problems: readonly string[];
}

/**
 * Read the notification settings. The watchdog is ours only when `WATCHDOG_PID` is unset or
 * names this process (sd_watchdog_enabled(3)); it is fed at half the period, as that page advises.
 */
export function notifySettings(env: Readonly<Record<string, string | undefined>>, pid: number): NotifySettings {
  const problems: string[] = [];
  let socket: string | undefined = env.NOTIFY_SOCKET || undefined;
  if (socket !== undefined && !socket.startsWith('/') && !socket.startsWith('@')) {
    problems.push(`NOTIFY_SOCKET=${socket} is not an AF_UNIX path or @abstract name: not notifying the service manager`);
    socket = undefined;
  }
  let watchdogMs: number | undefined;
  const usec = env.WATCHDOG_USEC;
  if (usec !== undefined && usec !== '') {
    const forUs = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === '' || env.WATCHDOG_PID === String(pid);
    if (!/^\d+$/.test(usec) || Number(usec) === 0) {
      problems.push(`WATCHDOG_USEC=${usec} is not a positive number of microseconds: the watchdog is not fed`);
    } else if (forUs && socket !== undefined) {
      watchdogMs = Math.max(1, Math.floor(Number(usec) / 2000));
    }
  }
  return { ...(socket !== undefined ? { socket } : {}), ...(watchdogMs !== undefined ? { watchdogMs } : {}), problems };
}

/** One notification datagram: `KEY=value` lines; a newline in a value would start a new key, so it becomes a space. */
export function notifyMessage(fields: Readonly<Record<string, string | number | bigint>>): string {
  return Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/[\r\n]+/g, ' ')}\n`).join('');
}

/** `STATUS=` text: every instance and its state, e.g. `web MASTER, db BACKUP`. */
export function statusText(instances: readonly { readonly name: string; readonly state: string }[]): string {
  return instances.length === 0 ? 'no instances' : instances.map((i) => `${i.name} ${i.state}`).join(', ');
}

/** `JOURNAL_STREAM=dev:inode` (systemd.exec(5)) as numbers, or undefined when absent or malformed. */
export function parseJournalStream(value: string | undefined): { readonly dev: bigint; readonly ino: bigint } | undefined {
  const m = /^(\d+):(\d+)$/.exec(value ?? '');
  return m ? { dev: BigInt(m[1]!), ino: BigInt(m[2]!) } : undefined;
}

/**
 * Whether our stderr is the journal's stream: `JOURNAL_STREAM` names the device and inode of
 * the stream systemd connected, and it must be the one fd 2 still is (a shell redirect or a
 * child started from a unit's shell would inherit the variable, not the stream).
 */
export function stderrIsJournal(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const want = parseJournalStream(env.JOURNAL_STREAM);
  if (!want) return false;
  try {
    const st = fstatSync(2, { bigint: true });
    return st.dev === want.dev && st.ino === want.ino;
  } catch {
    return false;
  }
}

/** The journal's socket for entries in its native protocol (systemd-journald.service(8)). */
export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/**
 * Whether systemd started us, as far as logging goes: stderr is the journal's stream, or the
 * service manager gave us a notify socket (read it before `Notifier.fromEnv` removes it).
 */
export function underSystemd(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return stderrIsJournal(env) || (env.NOTIFY_SOCKET ?? '') !== '';
}

/** What the daemon calls; `Notifier` sends, a daemon without a service manager gets a silent one. */
export interface ServiceNotifier {
  /** Start-up or a reload is complete (`READY=1`), with the current status. */
  ready(status?: string): void;
  /** A reload begins (`RELOADING=1` + `MONOTONIC_USEC=`); call `ready()` when it is done. */
  reloading(): void;
  /** The daemon is stopping (`STOPPING=1`). */
  stopping(): void;
  /** The instances' states changed (`STATUS=`, rate-limited). */
  status(text: string): void;
}

/** Where notification errors are reported (the daemon's logger). */
type Warn = (text: string, key: string) => void;

/** Where notification datagrams go: the manager's socket, or a fake in unit tests. */
export interface NotifySink {
  send(data: string): SendResult;
  close(): void;
}

export class Notifier implements ServiceNotifier {
  private socket: NotifySink | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastStatusAt = -Infinity;
  private pendingStatus: string | undefined;
  private sentStatus: string | undefined;
  private warn: Warn = () => undefined;
  /** No `STATUS=` before the first `READY=1`: start-up transitions (INIT -> BACKUP) ride on READY's. */
  private started = false;
  /** Found before the logger existed (`useLog` reports them). */
  private readonly problemsAtOpen: string[] = [];
  /** Notifications that could not be sent (manager busy or gone). */
  failed = 0;
  /** `WATCHDOG=1` datagrams sent. */
  watchdogSent = 0;

  private constructor(readonly settings: NotifySettings, private readonly now: () => number) {}

  /**
   * The notifier of this process. Takes `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` out
   * of `env` (sd_notify's `unset_environment`): hooks, trackers and agents must not talk to our
   * socket nor believe the watchdog is theirs.
   */
  static fromEnv(env: Record<string, string | undefined> = process.env, pid = process.pid, now = () => performance.now()): Notifier {
    const settings = notifySettings(env, pid);
    for (const k of NOTIFY_ENV) delete env[k];
    const n = new Notifier(settings, now);
    if (settings.socket !== undefined) {
      try {
        n.socket = SyslogSocket.open(settings.socket);
      } catch (err) {
        n.problemsAtOpen.push(`Cannot reach the service manager at NOTIFY_SOCKET=${settings.socket}: ${(err as Error).message}; not notifying it`);
      }
    }
    n.startWatchdog();
    return n;
  }

  /** A notifier over another sink (unit tests). */
  static withSink(sink: NotifySink, settings: NotifySettings, now: () => number): Notifier {
    const n = new Notifier(settings, now);
    n.socket = sink;
    n.startWatchdog();
    return n;
  }

  private startWatchdog(): void {
    if (!this.socket || this.settings.watchdogMs === undefined) return;
    // Fed from the event loop itself: if the loop stalls, the feeding stops and systemd acts.
    this.watchdog = setInterval(() => {
      if (this.send({ WATCHDOG: 1 })) this.watchdogSent++;
    }, this.settings.watchdogMs);
    this.watchdog.unref();
  }

  /** Report problems found so far, and later send errors, through the daemon's logger. */
  useLog(warn: Warn): void {
    this.warn = warn;
    for (const p of [...this.settings.problems, ...this.problemsAtOpen]) warn(p, 'systemd:env');
  }

  get active(): boolean {
    return this.socket !== undefined;
  }

  ready(status?: string): void {
    this.started = true;
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    if (status !== undefined) this.takeStatus(status);
    this.send({ READY: 1, ...(status !== undefined ? { STATUS: status } : {}) });
  }

  reloading(): void {
    // MONOTONIC_USEC: CLOCK_MONOTONIC, which process.hrtime reads on Linux (systemd.service(5), Type=notify-reload).
    this.send({ RELOADING: 1, MONOTONIC_USEC: process.hrtime.bigint() / 1000n });
  }

  stopping(): void {
    if (this.started) this.flushStatus();
    this.send({ STOPPING: 1 });
  }

  status(text: string): void {
    if (!this.socket || text === (this.pendingStatus ?? this.sentStatus)) return;
    this.pendingStatus = text;
    if (!this.started) return;
    const wait = this.lastStatusAt + STATUS_INTERVAL_MS - this.now();
    if (wait <= 0) {
      this.flushStatus();
    } else if (!this.statusTimer) {
      this.statusTimer = setTimeout(() => this.flushStatus(), wait);
      this.statusTimer.unref();
    }
  }

  private flushStatus(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    const text = this.pendingStatus;
    if (text === undefined) return;
    this.takeStatus(text);
    this.send({ STATUS: text });
  }

  private takeStatus(text: string): void {
    this.pendingStatus = undefined;
    this.sentStatus = text;
    this.lastStatusAt = this.now();
  }

  private send(fields: Readonly<Record<string, string | number | bigint>>): boolean {
    if (!this.socket) return false;
    const r = this.socket.send(notifyMessage(fields));
    if (r.ok) return true;
    this.failed++;
    this.warn(`Cannot notify the service manager (${Object.keys(fields).join(', ')}): ${r.error}`, 'systemd:send');
    return false;
  }

  /** Idempotent: stops the watchdog and closes the socket. */
  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.watchdog = this.statusTimer = undefined;
    this.socket?.close();
    this.socket = undefined;
  }
}
