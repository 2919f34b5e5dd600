/**
 * Logging as ucarp does it (carp-protocol notes §4.2), so existing greps keep working:
 * syslog with ident/LOG_PID/facility and messages prefixed `[WARNING] ` etc., plus a
 * console line `YYYY-MM-DDTHH:MM:SS.uuuuuu: [LEVEL] text` (WARNING/ERROR to stderr, the
 * rest to stdout) unless daemonized. DEBUG only with debug on.
 *
 * Syslog goes through a non-blocking datagram socket: a stalled syslogd can never delay
 * an advert (lines are dropped and counted instead). The console never blocks or stops the
 * daemon either: a stalled reader gets lines dropped (counted), a closed one (EPIPE/EIO)
 * turns the console off. Per-packet noise is rate-limited by instance and reason.
 *
 * Under systemd every line goes to the journal once. Through its native protocol (`journalSink`,
 * systemd's "Native Journal Protocol": one datagram of `KEY=value` fields per entry) with
 * PRIORITY, SYSLOG_IDENTIFIER and the fields the log call has (CARPOOL_INSTANCE, CARPOOL_STATE,
 * CARPOOL_VHID, CARPOOL_EVENT), and nothing to the console or syslog. Without the journal's
 * socket, or for an entry it did not take, the line goes to stderr with a `<N>` severity prefix
 * (sd-daemon(3)) and no timestamp — also the mode when only stderr is the journal's stream
 * (`journal`): then syslog only takes over if that stream fails.
 */
import type { LogLevel } from '../lib/log-level.js';

export type { LogLevel };

const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
const SEVERITY: Record<LogLevel, number> = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 };
const LABEL: Record<LogLevel, string> = { error: 'ERROR', warning: 'WARNING', notice: 'NOTICE', info: 'INFO', debug: 'DEBUG' };

export function facilityCode(name: string): number | undefined {
  return FACILITIES[name.toLowerCase()];
}

/** Where syslog datagrams go; the daemon provides one backed by the native addon. */
export interface SyslogSink {
  send(line: Uint8Array): boolean;
}

/** Where journal entries go (the journal's datagram socket); false when one was not taken. */
export type JournalSink = SyslogSink;

/** What a log line is about, for the journal's fields (CARPOOL_INSTANCE, _STATE, _VHID, _EVENT). */
export interface LogFields {
  readonly instance?: string;
  /** The state the instance is in (or enters, on a transition). */
  readonly state?: string;
  /** CARP vhid or VRRP VRID. */
  readonly vhid?: number;
  /** What happened: `transition`, `drop`, ... */
  readonly event?: string;
}

/**
 * One entry of the journal's native protocol: `KEY=value\n` per field; a value holding a
 * newline (or any value when binary-safe form is needed) is `KEY\n`, its length as a 64-bit
 * little-endian integer, the bytes, `\n`. Field names are upper case, digits and `_`.
 */
export function journalEntry(fields: Readonly<Record<string, string | number | undefined>>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, raw] of Object.entries(fields)) {
    if (raw === undefined) continue;
    const value = Buffer.from(String(raw));
    if (!value.includes(0x0a)) {
      parts.push(Buffer.from(`${key}=`), value, Buffer.from('\n'));
      continue;
    }
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(value.length));
    parts.push(Buffer.from(`${key}\n`), len, value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Rate-limit window of `logLimited`, and the period of its "suppressed N" summaries. */
export const RATE_WINDOW_MS = 10_000;
/** Keys the limiter remembers; the least recently used is forgotten (after its summary). */
export const RATE_KEYS_MAX = 1024;
/** Console bytes allowed to wait for a slow reader; beyond that lines are dropped and counted. */
export const CONSOLE_BACKLOG_BYTES = 256 * 1024;

/** A console stream: process.stdout/stderr in the daemon, a fake in unit tests. */
export interface ConsoleStream {
  write(chunk: string): boolean;
  readonly writableLength: number;
  on(event: 'error', fn: (err: NodeJS.ErrnoException) => void): unknown;
}

export interface LoggerOptions {
  readonly ident: string;
  /** syslog facility name or `none`. */
  readonly facility: string;
  readonly debug: boolean;
  /** Write console lines (false when daemonized). */
  readonly console: boolean;
  /**
   * stderr is the journal's stream (`JOURNAL_STREAM`): every console line goes to stderr with
   * an sd-daemon(3) `<N>` priority prefix and no timestamp, and nothing to syslog (unless the
   * stream fails).
   */
  readonly journal?: boolean;
  /** The journal's native socket: every line goes there as an entry with fields, nowhere else. */
  readonly journalSink?: JournalSink;
  readonly syslog?: SyslogSink;
  readonly pid?: number;
  /** Structured event listener (status page, tests). */
  readonly onLine?: (level: LogLevel, text: string) => void;
  /** Monotonic milliseconds for the rate limiter (default performance.now). */
  readonly now?: () => number;
  /** Console streams (default process.stdout / process.stderr). */
  readonly stdout?: ConsoleStream;
  readonly stderr?: ConsoleStream;
}

interface Limited {
  /** When the current window began (monotonic ms). */
  windowStart: number;
  suppressed: number;
  lastText: string;
  level: LogLevel;
}

export class Logger {
  private readonly facility: number | undefined;
  /** Rate-limiter state by key, least recently used first. */
  private readonly recent = new Map<string, Limited>();
  private summaryTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Console off after its stream failed (EPIPE/EIO: the reader went away). */
  private consoleFailed: string | undefined;
  /** Syslog lines that could not be written (syslogd busy or absent). */
  syslogDropped = 0;
  /** Console lines dropped because the reader did not keep up. */
  consoleDropped = 0;
  /** Journal entries the journal did not take (written to stderr instead). */
  journalFailed = 0;
  /** Messages `logLimited` did not log (each is counted in a "suppressed N" summary). */
  suppressedTotal = 0;

  constructor(private readonly opts: LoggerOptions) {
    this.facility = opts.facility === 'none' ? undefined : (facilityCode(opts.facility) ?? FACILITIES.daemon);
    this.now = opts.now ?? (() => performance.now());
    if (opts.console) {
      const out: ConsoleStream = opts.stdout ?? process.stdout;
      const err: ConsoleStream = opts.stderr ?? process.stderr;
      for (const s of new Set([out, err])) s.on('error', (e: NodeJS.ErrnoException) => this.consoleLost(e));
    }
  }

  get debugEnabled(): boolean {
    return this.opts.debug;
  }

  /** Whether console lines are still written (false after the console's reader went away). */
  get consoleActive(): boolean {
    return this.opts.console && this.consoleFailed === undefined;
  }

  log(level: LogLevel, text: string, fields?: LogFields): void {
    if (level === 'debug' && !this.opts.debug) return;
    this.opts.onLine?.(level, text);
    const tagged = `[${LABEL[level]}] ${text}`;
    if (this.opts.journalSink) {
      if (this.opts.journalSink.send(this.journalEntry(level, tagged, fields))) return;
      // Not taken (journald busy or gone): once, to stderr, which systemd also reads.
      this.journalFailed++;
      if (this.consoleActive) this.toConsole('error', `<${SEVERITY[level]}>${tagged}\n`);
      return;
    }
    if (this.opts.journal && this.consoleActive) {
      // Once: the journal's stream. Syslog only if that stream fails (journald gone for good).
      this.toConsole('error', `<${SEVERITY[level]}>${tagged}\n`);
      return;
    }
    if (this.consoleActive) this.toConsole(level, `${consoleTimestamp()}: ${tagged}\n`);
    if (this.opts.syslog && this.facility !== undefined) {
      const pri = this.facility * 8 + SEVERITY[level];
      // RFC 3164 as glibc's syslog() writes it to /dev/log.
      const msg = `<${pri}>${syslogTimestamp(new Date())} ${this.opts.ident}[${this.opts.pid ?? process.pid}]: ${tagged}`;
      if (!this.opts.syslog.send(Buffer.from(msg))) this.syslogDropped++;
    }
  }

  private journalEntry(level: LogLevel, message: string, f: LogFields | undefined): Buffer {
    return journalEntry({
      MESSAGE: message,
      PRIORITY: SEVERITY[level],
      SYSLOG_IDENTIFIER: this.opts.ident,
      SYSLOG_FACILITY: this.facility,
      CARPOOL_INSTANCE: f?.instance,
      CARPOOL_STATE: f?.state,
      CARPOOL_VHID: f?.vhid,
      CARPOOL_EVENT: f?.event,
    });
  }

  /**
   * Never blocks and never kills the daemon: a reader that stalls gets lines dropped (and
   * counted) once CONSOLE_BACKLOG_BYTES wait; a reader that goes away (EPIPE, EIO) turns
   * the console off for good while syslog goes on.
   */
  private toConsole(level: LogLevel, line: string): void {
    const stream: ConsoleStream = level === 'error' || level === 'warning' ? this.opts.stderr ?? process.stderr : this.opts.stdout ?? process.stdout;
    if (stream.writableLength > CONSOLE_BACKLOG_BYTES) {
      this.consoleDropped++;
      return;
    }
    try {
      stream.write(line);
    } catch (e) {
      this.consoleLost(e as NodeJS.ErrnoException);
    }
  }

  private consoleLost(err: NodeJS.ErrnoException): void {
    if (this.consoleFailed !== undefined) return;
    this.consoleFailed = err.code ?? err.message;
    this.log('warning', `Console output failed (${this.consoleFailed}): console logging is off${this.opts.syslog && this.facility !== undefined ? ', syslog goes on' : ''}; the daemon keeps running`);
  }

  error(text: string, fields?: LogFields): void { this.log('error', text, fields); }
  warning(text: string, fields?: LogFields): void { this.log('warning', text, fields); }
  notice(text: string, fields?: LogFields): void { this.log('notice', text, fields); }
  info(text: string, fields?: LogFields): void { this.log('info', text, fields); }
  debug(text: string, fields?: LogFields): void { this.log('debug', text, fields); }

  /**
   * For per-packet noise only (bad digest from a misconfigured peer every second, send
   * errors): one message per key and 10 s window, then a "suppressed N similar messages"
   * summary at the window's end. State changes and hook runs are never limited. `key`
   * names what is limited (instance and reason, e.g. `vrrp1:digest`), so messages that
   * differ only in a source address share one budget; without it the text with its
   * numbers and addresses masked is the key. The window runs on the monotonic clock, so a
   * wall-clock jump neither silences nor floods.
   */
  logLimited(level: LogLevel, text: string, key: string = textKey(text), fields?: LogFields): void {
    if (!this.limited(level, key, text)) this.log(level, text, fields);
  }

  private limited(level: LogLevel, key: string, text: string): boolean {
    const now = this.now();
    const r = this.recent.get(key);
    if (r) {
      // Least recently used first: move to the end.
      this.recent.delete(key);
      this.recent.set(key, r);
      if (now - r.windowStart < RATE_WINDOW_MS) {
        r.suppressed++;
        r.lastText = text;
        r.level = level;
        this.suppressedTotal++;
        this.armSummary();
        return true;
      }
      this.summarize(key, r, now);
      r.windowStart = now;
      return false;
    }
    this.recent.set(key, { windowStart: now, suppressed: 0, lastText: text, level });
    while (this.recent.size > RATE_KEYS_MAX) {
      const [oldKey, old] = this.recent.entries().next().value as [string, Limited];
      this.recent.delete(oldKey);
      this.summarize(oldKey, old, now);
    }
    return false;
  }

  private summarize(key: string, r: Limited, now: number): void {
    if (r.suppressed === 0) return;
    const n = r.suppressed;
    r.suppressed = 0;
    const secs = Math.max(1, Math.round((now - r.windowStart) / 1000));
    this.log(r.level === 'debug' ? 'debug' : 'notice', `suppressed ${n} similar message${n === 1 ? '' : 's'} in ${secs} s (key ${key}); last: ${r.lastText}`);
  }

  /** One timer while anything is suppressed: summaries come even if the noise stops. */
  private armSummary(): void {
    if (this.summaryTimer) return;
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      const now = this.now();
      let pending = false;
      for (const [key, r] of this.recent) {
        if (now - r.windowStart >= RATE_WINDOW_MS) {
          this.summarize(key, r, now);
          this.recent.delete(key); // its window is over: the next message is logged anyway
        } else if (r.suppressed > 0) {
          pending = true;
        }
      }
      if (pending) this.armSummary();
    }, RATE_WINDOW_MS / 2);
    this.summaryTimer.unref();
  }
}

/**
 * The default limiter key: the text with addresses and free-standing numbers masked
 * (`(VI_1) Bad TTL [12] from 10.0.0.7` → `(VI_1) Bad TTL [#] from #`); numbers inside names
 * (`VI_1`, `eth0`) stay, so instances keep their own budgets.
 */
export function textKey(text: string): string {
  return text
    .replace(/\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%\S+)?/gi, '#')
    .replace(/\b\d+(?:\.\d+){3}\b/g, '#')
    .replace(/\b\d+\b/g, '#');
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `2026-11-23T18:19:23.787550` in local time, as ucarp prints it. */
export function consoleTimestamp(epochMs: number = performance.timeOrigin + performance.now()): string {
  const d = new Date(epochMs);
  const micros = Math.floor((epochMs % 1000) * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(micros, 6)}`;
}

/** The epoch ms of a `consoleTimestamp` at the start of `line` (local time); undefined without one. */
export function parseConsoleTimestamp(line: string): number | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})/.exec(line);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, us] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return new Date(y, mo - 1, d, h, mi, s).getTime() + us / 1000;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function syslogTimestamp(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
