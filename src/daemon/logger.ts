/**
 * Logging as ucarp does it (carp-protocol notes §4.2), so existing greps keep working:
 * syslog with ident/LOG_PID/facility and messages prefixed `[WARNING] ` etc., plus a
 * console line `YYYY-MM-DDTHH:MM:SS.uuuuuu: [LEVEL] text` (WARNING/ERROR to stderr, the
 * rest to stdout) unless daemonized. DEBUG only with debug on.
 *
 * Syslog goes through a non-blocking datagram socket: a stalled syslogd can never delay
 * an advert (lines are dropped and counted instead). Repeated identical errors are
 * rate-limited.
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

export interface LoggerOptions {
  readonly ident: string;
  /** syslog facility name or `none`. */
  readonly facility: string;
  readonly debug: boolean;
  /** Write console lines (false when daemonized). */
  readonly console: boolean;
  readonly syslog?: SyslogSink;
  readonly pid?: number;
  /** Structured event listener (status page, tests). */
  readonly onLine?: (level: LogLevel, text: string) => void;
}

const RATE_WINDOW_MS = 10_000;

export class Logger {
  private readonly facility: number | undefined;
  private readonly recent = new Map<string, { at: number; suppressed: number }>();
  /** Syslog lines that could not be written (syslogd busy or absent). */
  syslogDropped = 0;

  constructor(private readonly opts: LoggerOptions) {
    this.facility = opts.facility === 'none' ? undefined : (facilityCode(opts.facility) ?? FACILITIES.daemon);
  }

  get debugEnabled(): boolean {
    return this.opts.debug;
  }

  log(level: LogLevel, text: string): void {
    if (level === 'debug' && !this.opts.debug) return;
    this.opts.onLine?.(level, text);
    const tagged = `[${LABEL[level]}] ${text}`;
    if (this.opts.console) {
      const line = `${consoleTimestamp()}: ${tagged}\n`;
      if (level === 'error' || level === 'warning') process.stderr.write(line);
      else process.stdout.write(line);
    }
    if (this.opts.syslog && this.facility !== undefined) {
      const pri = this.facility * 8 + SEVERITY[level];
      // RFC 3164 as glibc's syslog() writes it to /dev/log.
      const msg = `<${pri}>${syslogTimestamp(new Date())} ${this.opts.ident}[${this.opts.pid ?? process.pid}]: ${tagged}`;
      if (!this.opts.syslog.send(Buffer.from(msg))) this.syslogDropped++;
    }
  }

  error(text: string): void { this.log('error', text); }
  warning(text: string): void { this.log('warning', text); }
  notice(text: string): void { this.log('notice', text); }
  info(text: string): void { this.log('info', text); }
  debug(text: string): void { this.log('debug', text); }

  /**
   * For per-packet noise only (bad digest from a misconfigured peer every second, send
   * errors): the same text at most once per 10 s, then a "repeated N times" note.
   * State changes and hook runs are never limited. `key` names what is limited (instance and
   * reason, e.g. `vrrp1:digest`), so messages that differ only in a source address share one
   * budget; without it the text itself is the key.
   */
  logLimited(level: LogLevel, text: string, key: string = text): void {
    if (!this.limited(key, text)) this.log(level, text);
  }

  private limited(key: string, text: string): boolean {
    const now = Date.now();
    const r = this.recent.get(key);
    if (r && now - r.at < RATE_WINDOW_MS) {
      r.suppressed++;
      return true;
    }
    if (r && r.suppressed > 0) {
      this.recent.set(key, { at: now, suppressed: 0 });
      this.log('notice', `(last message repeated ${r.suppressed} more times: ${text})`);
    } else {
      this.recent.set(key, { at: now, suppressed: 0 });
    }
    if (this.recent.size > 256) this.recent.clear();
    return false;
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `2026-11-23T18:19:23.787550` in local time, as ucarp prints it. */
export function consoleTimestamp(epochMs: number = performance.timeOrigin + performance.now()): string {
  const d = new Date(epochMs);
  const micros = Math.floor((epochMs % 1000) * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(micros, 6)}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function syslogTimestamp(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
