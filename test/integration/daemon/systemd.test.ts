/**
 * Running under systemd, without systemd (it is not PID 1 here): the daemon talks the notify
 * protocol (sd_notify(3)) to a datagram socket this test binds, and logs once, with fields, to
 * "the journal": a datagram socket this test binds in place of /run/systemd/journal/socket
 * (CARPOOL_JOURNAL_SOCKET), and, when that socket is missing, a file whose dev:inode is in
 * JOURNAL_STREAM, as systemd passes a stream. Never also to syslog (a fake /dev/log through
 * CARPOOL_SYSLOG_SOCKET) nor the console.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Workdir, nativeConfig, socketOf, stateOf } from '../helpers/carp.js';
import { Proc, ProcSet, carpoolArgv, isRoot, skipReason, sleep, until } from '../helpers/procs.js';
import { useLab } from '../helpers/lab.js';
import { SyslogListener } from '../faults/helpers.js';

const VIP = '10.93.0.100/24';

/** The plain `KEY=value` fields of journal entries (entries with binary-safe fields are left out). */
function entries(l: SyslogListener): Record<string, string>[] {
  return l.lines.flatMap((text) => {
    const kv = text.replace(/\n$/, '').split('\n');
    if (!kv.every((x) => x.includes('='))) return [];
    return [Object.fromEntries(kv.map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]))];
  });
}
const WATCHDOG_USEC = 400_000; // fed every 200 ms

describe.skipIf(!isRoot)(`systemd: notify protocol and journal logging (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const listeners: SyslogListener[] = [];
  const lan = useLab('sd', {
    hosts: 1, subnet: '10.93.0', client: false,
    beforeDestroy: async () => {
      await procs.killAll();
      for (const l of listeners) l.stop();
      wd.remove();
    },
  });
  const h1 = () => lan.host(1);
  const listen = async (name: string) => {
    const l = new SyslogListener(wd.path(name));
    listeners.push(l);
    await l.ready;
    return l;
  };
  const hookEnv = wd.path('hook.env');
  const config = () => nativeConfig(wd, h1(), {
    advbase: 1, deadratio: 3, advskew: 0, addresses: [VIP],
    extra: `    hooks: { up: ${wd.write('up.sh', `#!/bin/sh\nenv > ${hookEnv}\n`, 0o755)} }`,
  });

  it('READY=1 once up, STATUS= on a transition, WATCHDOG=1 periodically, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM', async () => {
    const notify = await listen('notify.sock');
    const syslog = await listen('syslog1.sock');
    const journal = await listen('journal1.sock');
    const p = procs.add(new Proc('h1', carpoolArgv(h1().ns, ['run', '-c', config()]), {
      NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: String(WATCHDOG_USEC), CARPOOL_SYSLOG_SOCKET: syslog.path, CARPOOL_JOURNAL_SOCKET: journal.path,
    }));
    const messages = () => notify.lines.filter((l) => l !== 'WATCHDOG=1\n');
    try {

    await until(() => messages().length > 0, 15_000, 20, 'first notification');
    // The first message is READY, and by then the control socket answers and the instance runs.
    expect(messages()[0]).toMatch(/^READY=1\nSTATUS=web (INIT|BACKUP)\n$/);
    expect(await stateOf(socketOf(wd, h1()))).toMatch(/^(INIT|BACKUP)$/);

    // Alone on the LAN it becomes master after the master-down interval: STATUS follows.
    await until(() => messages().includes('STATUS=web MASTER\n'), 10_000, 20, 'STATUS=web MASTER');
    expect(await stateOf(socketOf(wd, h1()))).toBe('MASTER');

    // The watchdog: every 200 ms from the event loop.
    const w0 = notify.count(/^WATCHDOG=1\n$/);
    await sleep(2000);
    const fed = notify.count(/^WATCHDOG=1\n$/) - w0;
    expect(fed).toBeGreaterThanOrEqual(6);
    expect(fed).toBeLessThanOrEqual(14);

    // Hooks do not inherit the service manager's socket or watchdog.
    await until(() => existsSync(hookEnv), 5000, 20, 'up hook ran');
    const env = readFileSync(hookEnv, 'utf8');
    expect(env).toMatch(/^PATH=/m);
    expect(env).not.toMatch(/^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=/m);

    // systemctl reload = SIGHUP: RELOADING=1 with the monotonic clock, then READY=1 again.
    const m0 = messages().length;
    p.signal('SIGHUP');
    await until(() => messages().length >= m0 + 2, 5000, 20, 'RELOADING and READY');
    expect(messages()[m0]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+\n$/);
    const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(messages()[m0]!)![1]!);
    const ours = process.hrtime.bigint() / 1000n; // same CLOCK_MONOTONIC in both processes
    expect(ours - usec).toBeGreaterThanOrEqual(0n);
    expect(ours - usec).toBeLessThan(5_000_000n);
    expect(messages()[m0 + 1]).toBe('READY=1\nSTATUS=web MASTER\n');

    p.signal('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    // STOPPING=1 first thing on SIGTERM; after it only the release shows (STATUS=web ...).
    const stopAt = messages().indexOf('STOPPING=1\n');
    expect(stopAt).toBeGreaterThan(m0 + 1);
    for (const m of messages().slice(stopAt + 1)) expect(m).toMatch(/^STATUS=web \w+\n$/);
    // Under systemd every line is one journal entry with its fields, and goes nowhere else.
    const transitions = entries(journal).filter((e) => e.CARPOOL_EVENT === 'transition');
    expect(transitions.map((e) => e.CARPOOL_STATE)).toEqual(['BACKUP', 'MASTER', 'BACKUP']);
    expect(transitions[1]).toEqual({
      MESSAGE: '[WARNING] web: Switching to state: MASTER', PRIORITY: '4', SYSLOG_IDENTIFIER: 'carpool', SYSLOG_FACILITY: '3',
      CARPOOL_INSTANCE: 'web', CARPOOL_STATE: 'MASTER', CARPOOL_VHID: '10', CARPOOL_EVENT: 'transition',
    });
    expect(journal.count(/^MESSAGE=\[WARNING\] web: Switching to state: MASTER\n/)).toBe(1);
    // The up hook's run carries its instance too.
    expect(entries(journal).filter((e) => e.CARPOOL_EVENT === 'hook')).toEqual([expect.objectContaining({
      MESSAGE: expect.stringMatching(/^\[WARNING\] Spawning \[\S+up\.sh eth0 10\.93\.0\.100\]$/) as unknown, CARPOOL_INSTANCE: 'web', CARPOOL_VHID: '10',
    })]);
    expect(journal.count(/^MESSAGE=\[INFO\] Stopping \(SIGTERM\)\n/)).toBe(1);
    expect(p.lines).toEqual([]);
    await sleep(200); // anything in flight to the fake /dev/log
    expect(syslog.lines).toEqual([]);
    } finally {
      await p.stop('SIGKILL', 1000);
    }
  });

  it('carpool ucarp (carpool-ucarp@.service) notifies the same way', async () => {
    const notify = await listen('notify-ucarp.sock');
    const journal = await listen('journal-ucarp.sock');
    const p = procs.add(new Proc('h1-ucarp', carpoolArgv(h1().ns, ['ucarp', '-i', 'eth0', '-s', h1().address, '-v', '11', '-p', 'pw', '-a', '10.93.0.101', '-b', '1', '-n']), {
      NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: String(WATCHDOG_USEC), CARPOOL_RUN_DIR: wd.path('run'), CARPOOL_JOURNAL_SOCKET: journal.path,
    }));
    try {
      const messages = () => notify.lines.filter((l) => l !== 'WATCHDOG=1\n');
      await until(() => messages().length > 0, 15_000, 20, 'first notification');
      expect(messages()[0]).toMatch(/^READY=1\nSTATUS=\S+ (INIT|BACKUP)\n$/);
      await until(() => messages().some((m) => /^STATUS=\S+ MASTER\n$/.test(m)), 10_000, 20, 'STATUS= MASTER');
      expect(notify.count(/^WATCHDOG=1\n$/)).toBeGreaterThan(0);
      p.signal('SIGTERM');
      expect(await p.exited).toEqual({ code: 0, signal: null });
      expect(messages()).toContain('STOPPING=1\n');
      // ucarp's ident and wording, with the instance's fields.
      expect(entries(journal).filter((e) => e.CARPOOL_EVENT === 'transition' && e.CARPOOL_STATE === 'MASTER')).toEqual([{
        MESSAGE: '[WARNING] Switching to state: MASTER', PRIORITY: '4', SYSLOG_IDENTIFIER: 'ucarp', SYSLOG_FACILITY: '3',
        CARPOOL_INSTANCE: 'eth0-vhid11', CARPOOL_STATE: 'MASTER', CARPOOL_VHID: '11', CARPOOL_EVENT: 'transition',
      }]);
      expect(p.lines).toEqual([]);
    } finally {
      await p.stop('SIGKILL', 1000);
    }
  });

  it('with JOURNAL_STREAM naming our stderr and no journal socket, each line reaches the stream once, with a <N> prefix, none to syslog', async () => {
    const syslog = await listen('syslog2.sock');
    const journal = wd.path('journal.log');
    const fd = openSync(journal, 'a');
    const st = fstatSync(fd);
    const argv = carpoolArgv(h1().ns, ['run', '-c', config()]);
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', fd, fd], env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}`, CARPOOL_SYSLOG_SOCKET: syslog.path,
        CARPOOL_JOURNAL_SOCKET: wd.path('no-journal.sock') },
    });
    closeSync(fd);
    procs.adopt(child.pid!);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await until(async () => (await stateOf(socketOf(wd, h1())).catch(() => '')) === 'MASTER', 15_000, 50, 'h1 MASTER');
    process.kill(child.pid!, 'SIGUSR1'); // a status line
    await until(() => readFileSync(journal, 'utf8').includes('web: MASTER on'), 5000, 20, 'status line');
    process.kill(child.pid!, 'SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });

    const lines = readFileSync(journal, 'utf8').trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^<[3-7]>\[(ERROR|WARNING|NOTICE|INFO|DEBUG)\] /);
    expect(lines.filter((l) => l === '<4>[WARNING] web: Switching to state: MASTER')).toHaveLength(1);
    expect(lines.some((l) => /^<6>\[INFO\] Stopping \(SIGTERM\)$/.test(l))).toBe(true);
    await sleep(200); // anything in flight to the fake /dev/log
    expect(syslog.lines).toEqual([]);
  });
});
