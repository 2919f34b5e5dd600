/** The Logger's rate limiter and console sink, and hook output capping (issue 11, defects 1 and 7). */
import { describe, expect, it, vi } from 'vitest';
import { CappedOutput, HOOK_OUTPUT_KEEP_BYTES } from '../../src/daemon/hooks.js';
import { CONSOLE_BACKLOG_BYTES, Logger, RATE_KEYS_MAX, RATE_WINDOW_MS, consoleTimestamp, parseConsoleTimestamp, textKey, type ConsoleStream } from '../../src/daemon/logger.js';
import type { LogLevel } from '../../src/lib/log-level.js';

function logger(clock: { t: number }, extra: Partial<ConstructorParameters<typeof Logger>[0]> = {}) {
  const lines: string[] = [];
  const log = new Logger({
    ident: 't', facility: 'none', debug: false, console: false, now: () => clock.t,
    onLine: (_l: LogLevel, text: string) => lines.push(text), ...extra,
  });
  return { log, lines };
}

/** A console stream that never drains (stalled reader) or fails on demand. */
class FakeStream implements ConsoleStream {
  writableLength = 0;
  written: string[] = [];
  private onError: ((e: NodeJS.ErrnoException) => void) | undefined;
  constructor(private readonly stalled = false) {}
  write(chunk: string): boolean {
    this.written.push(chunk);
    if (this.stalled) this.writableLength += chunk.length;
    return !this.stalled;
  }
  on(_event: 'error', fn: (e: NodeJS.ErrnoException) => void): unknown {
    this.onError = fn;
    return this;
  }
  fail(code: string): void {
    this.onError?.(Object.assign(new Error(code), { code }));
  }
}

describe('logLimited', () => {
  it('keys by instance and reason, not by the source address in the text', () => {
    const clock = { t: 1000 };
    const { log, lines } = logger(clock);
    for (let i = 0; i < 1000; i++) log.logLimited('warning', `web: Bad digest from 10.0.${i >> 8}.${i & 255} - Check vhid`);
    expect(lines).toEqual(['web: Bad digest from 10.0.0.0 - Check vhid']);
    expect(log.suppressedTotal).toBe(999);
    expect(textKey('web: Bad TTL: [12] from fe80::1%eth0')).toBe(textKey('web: Bad TTL: [64] from 10.1.2.3'));
    expect(textKey('(VI_1) dropped advert from 10.0.0.5: digest')).not.toBe(textKey('(VI_2) dropped advert from 10.0.0.5: digest'));
    expect(textKey('(VI_1) dropped advert from 10.0.0.5: digest')).toBe('(VI_1) dropped advert from #: digest');
  });

  it('an explicit key separates instances and reasons', () => {
    const { log, lines } = logger({ t: 0 });
    log.logLimited('warning', 'a', 'web:digest');
    log.logLimited('warning', 'b', 'db:digest');
    log.logLimited('warning', 'c', 'web:digest');
    expect(lines).toEqual(['a', 'b']);
  });

  it('runs on the monotonic clock it is given: a wall-clock jump changes nothing', () => {
    vi.useFakeTimers();
    try {
      const clock = { t: 0 };
      const { log, lines } = logger(clock);
      log.logLimited('warning', 'x 1');
      vi.setSystemTime(Date.now() - 3_600_000); // wall clock an hour back
      clock.t += RATE_WINDOW_MS + 1;
      log.logLimited('warning', 'x 2');
      expect(lines).toEqual(['x 1', 'x 2']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('summarises suppressed messages periodically, even when the noise stops', () => {
    vi.useFakeTimers();
    try {
      const clock = { t: 0 };
      const { log, lines } = logger(clock);
      for (let i = 0; i < 50; i++) log.logLimited('warning', `Bad digest from 10.0.0.${i}`);
      clock.t += RATE_WINDOW_MS;
      vi.advanceTimersByTime(RATE_WINDOW_MS);
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/^suppressed 49 similar messages in 10 s \(key Bad digest from #\); last: Bad digest from 10\.0\.0\.49$/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('never clears its table: beyond the cap the least recently used key goes (after its summary)', () => {
    const clock = { t: 0 };
    const { log, lines } = logger(clock);
    log.logLimited('warning', 'hot', 'hot');
    log.logLimited('warning', 'hot', 'hot'); // suppressed
    for (let i = 0; i < RATE_KEYS_MAX; i++) {
      log.logLimited('warning', `k${i}`, `k${i}`);
      if (i % 100 === 0) log.logLimited('warning', 'hot', 'hot'); // keeps "hot" recent
    }
    expect(lines.filter((l) => l === 'hot')).toHaveLength(1);
    log.logLimited('warning', 'k0 again', 'k0'); // k0 was evicted: logged again
    expect(lines).toContain('k0 again');
  });
});

describe('console', () => {
  it('drops and counts lines once a stalled reader has the backlog full', () => {
    const out = new FakeStream(true);
    const { log } = logger({ t: 0 }, { console: true, stdout: out, stderr: out });
    const line = 'x'.repeat(1000);
    for (let i = 0; i < 1000; i++) log.info(line);
    expect(out.writableLength).toBeLessThanOrEqual(CONSOLE_BACKLOG_BYTES + 1100);
    expect(log.consoleDropped).toBeGreaterThan(600);
  });

  it('EPIPE turns the console off and says so (once), the logger goes on', () => {
    const out = new FakeStream();
    const err = new FakeStream();
    const { log, lines } = logger({ t: 0 }, { console: true, stdout: out, stderr: err });
    log.info('one');
    out.fail('EPIPE');
    err.fail('EPIPE');
    log.info('two');
    expect(log.consoleActive).toBe(false);
    expect(lines.filter((l) => /Console output failed \(EPIPE\)/.test(l))).toHaveLength(1);
    expect(lines).toContain('two');
    expect(out.written.join('')).not.toContain('two');
  });
});

describe('CappedOutput', () => {
  it('keeps the first 4 KiB (at most 40 lines) and counts the rest', () => {
    const { log, lines } = logger({ t: 0 });
    const o = new CappedOutput();
    for (let i = 0; i < 10_000; i++) o.add(Buffer.from(`line ${i}\n`));
    o.logTo(log, 'up hook');
    expect(lines.length).toBe(41);
    expect(lines[0]).toBe('up hook: line 0');
    const more = Number(/\.\.\. (\d+) bytes more/.exec(lines[40]!)![1]);
    const total = Array.from({ length: 10_000 }, (_, i) => `line ${i}\n`.length).reduce((a, b) => a + b, 0);
    const shown = lines.slice(0, 40).reduce((n, l) => n + l.length - 'up hook: '.length + 1, 0);
    expect(more + shown).toBe(total);
    expect(HOOK_OUTPUT_KEEP_BYTES).toBe(4096);
  });
});

describe('console timestamps', () => {
  it('parseConsoleTimestamp reads back what consoleTimestamp wrote, to the microsecond', () => {
    for (const t of [1796672860885.066, 1796672860000, Date.UTC(2026, 0, 1, 0, 0, 0, 1)]) {
      const line = `${consoleTimestamp(t)}: [INFO] x`;
      expect(parseConsoleTimestamp(line)).toBeCloseTo(t, 2);
    }
    expect(parseConsoleTimestamp('[INFO] no timestamp')).toBeUndefined();
  });
});
