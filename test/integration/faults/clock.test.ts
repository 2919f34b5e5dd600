/**
 * Defect 8 (d) of issue 11: `uptimeSeconds` and the age of the last transition followed the
 * wall clock: a clock set 2 h forward made a daemon "up 2 h" a second after its start. They now
 * come from the monotonic clock. The daemon runs under libfaketime (Debian `faketime`) with only
 * the wall clock faked (FAKETIME_DONT_FAKE_MONOTONIC), moved while it runs.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Workdir, nativeConfig, socketOf, stateOf, status } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, isRoot, skipReason, sleep, until } from '../helpers/procs.js';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

describe.skipIf(!isRoot || !existsSync(FAKETIME))(`faults: uptime and transition ages on the monotonic clock (${skipReason}; needs faketime)`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('fclk', { hosts: 1, subnet: '10.98.0', client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  it('a wall-clock jump of +2 h / -2 h changes neither uptimeSeconds nor agoSeconds', async () => {
    const h1 = lan.hosts[0]!;
    const offset = wd.write('faketime', '+0\n');
    const cfg = nativeConfig(wd, h1, { advbase: 1, advskew: 0, addresses: ['10.98.0.100/24'] });
    const d = procs.add(new Proc('h1', carpoolArgv(h1.ns, ['run', '-c', cfg]), {
      LD_PRELOAD: FAKETIME, FAKETIME_TIMESTAMP_FILE: offset, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1',
    }));
    const sock = socketOf(wd, h1);
    await until(async () => (await stateOf(sock)) === 'MASTER', 15_000, 50, 'h1 MASTER');
    const before = await status(sock);
    writeFileSync(offset, '+2h\n');
    await sleep(300);
    const ahead = await status(sock);
    expect(ahead.uptimeSeconds - before.uptimeSeconds).toBeLessThan(5);
    expect(ahead.instances[0]!.lastTransition!.agoSeconds).toBeLessThan(30);
    writeFileSync(offset, '-2h\n');
    await sleep(300);
    const behind = await status(sock);
    expect(behind.uptimeSeconds).toBeGreaterThanOrEqual(ahead.uptimeSeconds);
    expect(behind.uptimeSeconds - before.uptimeSeconds).toBeLessThan(5);
    const ago = behind.instances[0]!.lastTransition!.agoSeconds;
    expect(ago).toBeGreaterThanOrEqual(ahead.instances[0]!.lastTransition!.agoSeconds!);
    expect(ago).toBeLessThan(30);
    expect(d.running).toBe(true);
  });
});
