/** systemd integration: notify message formatting, settings from the environment, journal mode of the logger. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger, journalEntry, type ConsoleStream } from '../../src/daemon/logger.js';
import { Notifier, STATUS_INTERVAL_MS, notifyMessage, notifySettings, parseJournalStream, statusText, underSystemd } from '../../src/daemon/systemd.js';

describe('notify messages (sd_notify(3))', () => {
  it('are KEY=value lines, each ending in a newline', () => {
    expect(notifyMessage({ READY: 1, STATUS: 'web MASTER' })).toBe('READY=1\nSTATUS=web MASTER\n');
    expect(notifyMessage({ RELOADING: 1, MONOTONIC_USEC: 123456789n })).toBe('RELOADING=1\nMONOTONIC_USEC=123456789\n');
    expect(notifyMessage({ STOPPING: 1 })).toBe('STOPPING=1\n');
  });

  it('a newline inside a value cannot start another key', () => {
    expect(notifyMessage({ STATUS: 'a\nREADY=1\r\nb' })).toBe('STATUS=a READY=1 b\n');
  });

  it('STATUS lists every instance with its state', () => {
    expect(statusText([{ name: 'web', state: 'MASTER' }, { name: 'db', state: 'BACKUP' }])).toBe('web MASTER, db BACKUP');
    expect(statusText([])).toBe('no instances');
  });
});

describe('notify settings from the environment', () => {
  it('takes paths and abstract names; the watchdog is fed at half its period', () => {
    expect(notifySettings({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '10000000' }, 42))
      .toEqual({ socket: '/run/systemd/notify', watchdogMs: 5000, problems: [] });
    expect(notifySettings({ NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify' }, 42))
      .toEqual({ socket: '@/org/freedesktop/systemd1/notify', problems: [] });
    expect(notifySettings({}, 42)).toEqual({ problems: [] });
  });

  it('the watchdog is ours only when WATCHDOG_PID is unset or our pid', () => {
    expect(notifySettings({ NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '2000', WATCHDOG_PID: '42' }, 42).watchdogMs).toBe(1);
    expect(notifySettings({ NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '41' }, 42).watchdogMs).toBeUndefined();
  });

  it('reports what it cannot use instead of guessing', () => {
    const s = notifySettings({ NOTIFY_SOCKET: 'vsock:2:1234', WATCHDOG_USEC: 'ten' }, 1);
    expect(s.socket).toBeUndefined();
    expect(s.watchdogMs).toBeUndefined();
    expect(s.problems.join('\n')).toMatch(/NOTIFY_SOCKET=vsock:2:1234 is not an AF_UNIX path[\s\S]*WATCHDOG_USEC=ten is not a positive number/);
    expect(notifySettings({ NOTIFY_SOCKET: '/n', WATCHDOG_USEC: '0' }, 1).problems).toHaveLength(1);
  });

  it('fromEnv takes the variables out, so hooks and agents do not inherit them', () => {
    const env: Record<string, string | undefined> = { NOTIFY_SOCKET: '/nonexistent/notify', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '7', PATH: '/bin' };
    const n = Notifier.fromEnv(env, 7);
    expect(env).toEqual({ PATH: '/bin' });
    expect(n.active).toBe(false); // nobody listens there
    const warnings: string[] = [];
    n.useLog((t) => warnings.push(t));
    expect(warnings).toEqual([expect.stringMatching(/^Cannot reach the service manager at NOTIFY_SOCKET=\/nonexistent\/notify: .*ENOENT/)]);
    n.ready('x'); // a no-op, not an error
    n.close();
  });
});

describe('Notifier', () => {
  afterEach(() => { vi.useRealTimers(); });
  const make = (watchdogMs?: number) => {
    const sent: string[] = [];
    const clock = { t: 0 };
    let fail = false;
    const sink = { send: (d: string) => (fail ? { ok: false as const, error: 'EAGAIN' } : (sent.push(d), { ok: true as const, bytes: d.length })), close: () => undefined };
    const n = Notifier.withSink(sink, { socket: '/x', ...(watchdogMs ? { watchdogMs } : {}), problems: [] }, () => clock.t);
    const warnings: string[] = [];
    n.useLog((t) => warnings.push(t));
    return { n, sent, clock, warnings, failNext: (f: boolean) => { fail = f; } };
  };

  it('sends no STATUS before READY: start-up transitions ride on READY', () => {
    const { n, sent } = make();
    n.status('web INIT');
    n.status('web BACKUP');
    expect(sent).toEqual([]);
    n.ready('web BACKUP');
    expect(sent).toEqual(['READY=1\nSTATUS=web BACKUP\n']);
    n.close();
  });

  it('rate-limits STATUS: one per interval, the latest at the end of the window, no repeats', () => {
    vi.useFakeTimers();
    const { n, sent, clock } = make();
    n.ready('web BACKUP');
    n.status('web BACKUP'); // unchanged: nothing
    clock.t = 100;
    n.status('web MASTER'); // within the window of READY's status
    n.status('web BACKUP');
    n.status('web MASTER');
    expect(sent).toHaveLength(1);
    clock.t = STATUS_INTERVAL_MS;
    vi.advanceTimersByTime(STATUS_INTERVAL_MS);
    expect(sent.slice(1)).toEqual(['STATUS=web MASTER\n']);
    clock.t = 5 * STATUS_INTERVAL_MS;
    n.status('web BACKUP'); // the window is over: at once
    expect(sent.slice(2)).toEqual(['STATUS=web BACKUP\n']);
    n.close();
  });

  it('STOPPING sends a pending STATUS first; RELOADING carries the monotonic clock', () => {
    vi.useFakeTimers();
    const { n, sent, clock } = make();
    n.ready('web MASTER');
    clock.t = 10;
    n.status('web BACKUP');
    n.reloading();
    n.stopping();
    expect(sent.slice(1)).toEqual([expect.stringMatching(/^RELOADING=1\nMONOTONIC_USEC=\d+\n$/), 'STATUS=web BACKUP\n', 'STOPPING=1\n']);
    n.close();
  });

  it('feeds the watchdog on its period and reports failed sends, rate-limited by key', () => {
    vi.useFakeTimers();
    const { n, sent, warnings, failNext } = make(200);
    vi.advanceTimersByTime(1000);
    expect(sent.filter((m) => m === 'WATCHDOG=1\n')).toHaveLength(5);
    expect(n.watchdogSent).toBe(5);
    failNext(true);
    vi.advanceTimersByTime(200);
    expect(n.failed).toBe(1);
    expect(warnings).toEqual(['Cannot notify the service manager (WATCHDOG): EAGAIN']);
    n.close();
    vi.advanceTimersByTime(1000);
    expect(n.watchdogSent).toBe(5);
  });
});

describe('JOURNAL_STREAM', () => {
  it('is dev:inode in decimal', () => {
    expect(parseJournalStream('8:123456')).toEqual({ dev: 8n, ino: 123456n });
    expect(parseJournalStream(undefined)).toBeUndefined();
    expect(parseJournalStream('8:')).toBeUndefined();
    expect(parseJournalStream('x:1')).toBeUndefined();
  });
});

class Stream implements ConsoleStream {
  writableLength = 0;
  written: string[] = [];
  write(chunk: string): boolean { this.written.push(chunk); return true; }
  on(): unknown { return this; }
}

describe('logger in journal mode', () => {
  const make = (journal: boolean) => {
    const out = new Stream();
    const err = new Stream();
    const syslog: Uint8Array[] = [];
    const log = new Logger({
      ident: 'carpool', facility: 'daemon', debug: true, console: true, journal, stdout: out, stderr: err,
      syslog: { send: (b) => { syslog.push(b); return true; } },
    });
    return { log, out, err, syslog };
  };

  it('writes each line once, to stderr, with an sd-daemon <N> prefix and no timestamp; nothing to syslog', () => {
    const { log, out, err, syslog } = make(true);
    log.error('e');
    log.warning('w');
    log.notice('n');
    log.info('web: Switching to state: MASTER');
    log.debug('d');
    expect(err.written).toEqual(['<3>[ERROR] e\n', '<4>[WARNING] w\n', '<5>[NOTICE] n\n', '<6>[INFO] web: Switching to state: MASTER\n', '<7>[DEBUG] d\n']);
    expect(out.written).toEqual([]);
    expect(syslog).toEqual([]);
  });

  it('outside the journal: console with a timestamp and syslog, as before', () => {
    const { log, out, syslog } = make(false);
    log.info('i');
    expect(out.written).toEqual([expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+: \[INFO\] i\n$/)]);
    expect(syslog.map((b) => Buffer.from(b).toString())).toEqual([expect.stringMatching(/^<30>\w{3} [ \d]\d [\d:]{8} carpool\[\d+\]: \[INFO\] i$/)]);
  });
});

/** The fields of one native-protocol entry (the reader journald has: `KEY=value` or `KEY` + length + bytes). */
function parseJournalEntry(entry: Uint8Array): Record<string, string> {
  const b = Buffer.from(entry);
  const out: Record<string, string> = {};
  let i = 0;
  while (i < b.length) {
    const nl = b.indexOf(0x0a, i);
    const line = b.subarray(i, nl).toString();
    const eq = line.indexOf('=');
    if (eq >= 0) {
      out[line.slice(0, eq)] = line.slice(eq + 1);
      i = nl + 1;
    } else {
      const len = Number(b.readBigUInt64LE(nl + 1));
      out[line] = b.subarray(nl + 9, nl + 9 + len).toString();
      expect(b[nl + 9 + len]).toBe(0x0a);
      i = nl + 10 + len;
    }
  }
  return out;
}

describe('journal entries (native protocol)', () => {
  it('are KEY=value lines; a value with a newline is binary-safe (length as 64-bit LE)', () => {
    expect(journalEntry({ MESSAGE: 'hi', PRIORITY: 4, SKIPPED: undefined }).toString()).toBe('MESSAGE=hi\nPRIORITY=4\n');
    const e = journalEntry({ MESSAGE: 'a\nPRIORITY=0', CARPOOL_VHID: 7 });
    expect([...e.subarray(0, 8)]).toEqual([...Buffer.from('MESSAGE\n')]);
    expect(e.readBigUInt64LE(8)).toBe(12n);
    expect(parseJournalEntry(e)).toEqual({ MESSAGE: 'a\nPRIORITY=0', CARPOOL_VHID: '7' });
  });

  it('under systemd: the journal stream named in JOURNAL_STREAM, or a notify socket', () => {
    expect(underSystemd({ NOTIFY_SOCKET: '/run/systemd/notify' })).toBe(true);
    expect(underSystemd({ NOTIFY_SOCKET: '' })).toBe(false);
    expect(underSystemd({})).toBe(false);
    expect(underSystemd({ JOURNAL_STREAM: '0:1' })).toBe(false); // not our stderr
  });
});

describe('logger with the journal socket', () => {
  const make = (accept = true) => {
    const out = new Stream();
    const err = new Stream();
    const entries: Record<string, string>[] = [];
    const syslog: Uint8Array[] = [];
    const log = new Logger({
      ident: 'carpool', facility: 'daemon', debug: false, console: true, journal: true, stdout: out, stderr: err,
      journalSink: { send: (b) => { if (accept) entries.push(parseJournalEntry(b)); return accept; } },
      syslog: { send: (b) => { syslog.push(b); return true; } },
    });
    return { log, out, err, entries, syslog };
  };

  it('one entry per line with priority, identifier and the fields of the call; nothing to the console or syslog', () => {
    const { log, out, err, entries, syslog } = make();
    log.warning('web: Switching to state: MASTER', { instance: 'web', state: 'MASTER', vhid: 7, event: 'transition' });
    log.info('Stopping (SIGTERM)');
    log.debug('not logged: debug is off');
    log.logLimited('warning', 'web: Bad digest from 10.0.0.9', 'web:drop:digest', { instance: 'web', vhid: 7, event: 'drop' });
    log.logLimited('warning', 'web: Bad digest from 10.0.0.8', 'web:drop:digest', { instance: 'web', vhid: 7, event: 'drop' });
    expect(entries).toEqual([
      { MESSAGE: '[WARNING] web: Switching to state: MASTER', PRIORITY: '4', SYSLOG_IDENTIFIER: 'carpool', SYSLOG_FACILITY: '3',
        CARPOOL_INSTANCE: 'web', CARPOOL_STATE: 'MASTER', CARPOOL_VHID: '7', CARPOOL_EVENT: 'transition' },
      { MESSAGE: '[INFO] Stopping (SIGTERM)', PRIORITY: '6', SYSLOG_IDENTIFIER: 'carpool', SYSLOG_FACILITY: '3' },
      { MESSAGE: '[WARNING] web: Bad digest from 10.0.0.9', PRIORITY: '4', SYSLOG_IDENTIFIER: 'carpool', SYSLOG_FACILITY: '3',
        CARPOOL_INSTANCE: 'web', CARPOOL_VHID: '7', CARPOOL_EVENT: 'drop' },
    ]);
    expect([out.written, err.written, syslog]).toEqual([[], [], []]);
  });

  it('an entry the journal does not take goes to stderr once, with its <N> prefix, and is counted', () => {
    const { log, out, err, syslog } = make(false);
    log.error('cannot send');
    expect(err.written).toEqual(['<3>[ERROR] cannot send\n']);
    expect([out.written, syslog]).toEqual([[], []]);
    expect(log.journalFailed).toBe(1);
  });
});
