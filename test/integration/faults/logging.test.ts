/**
 * Defect 7 of issue 11: the log stays small whatever arrives. Before, the rate limiter keyed
 * on the message text (which names the source address) and forgot everything at 256 keys,
 * so spoofed sources got most bad adverts logged; and a hook's output went to the log whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/control/client.js';
import type { DaemonStatus } from '../../../src/control/status.js';
import { createLan, destroyLan, type Lan } from '../../../src/lab/netns.js';
import { Workdir, nativeConfig, socketOf, startNative, stateOf } from '../helpers/carp.js';
import { ProcSet, isRoot, skipReason, until } from '../helpers/procs.js';
import { Spoofer, totalDrops } from './helpers.js';

const FLOOD = 100_000;
const BATCH = 200;

describe.skipIf(!isRoot)(`faults: a bounded log (${skipReason})`, () => {
  const prefix = `fl${process.pid % 10000}`;
  const procs = new ProcSet();
  const wd = new Workdir();
  let lan: Lan;

  beforeAll(async () => {
    lan = await createLan({ prefix, hosts: 1, subnet: '10.92.0' });
  });
  afterAll(async () => {
    await procs.killAll();
    await destroyLan(prefix);
    wd.remove();
  });

  const h1 = () => lan.hosts[0]!;
  const bytes = (lines: readonly string[]) => lines.reduce((n, l) => n + l.length + 1, 0);

  it('100k spoofed bad adverts from many sources: every one counted, a handful of log lines', async () => {
    const d = startNative(procs, h1(), nativeConfig(wd, h1(), { vhid: 12, advbase: 1, advskew: 0, addresses: ['10.92.0.100/24'] }));
    await until(async () => (await stateOf(socketOf(wd, h1()))) === 'MASTER', 15_000, 50, 'h1 MASTER');
    const linesBefore = d.lines.length;
    const spoof = new Spoofer(lan.client!.ns, 'eth0', 12);
    try {
      await spoof.ready();
      const drops = async () => totalDrops(await controlRequest(socketOf(wd, h1()), { cmd: 'status' }, 3000) as DaemonStatus);
      const base = await drops();
      // In batches the socket buffer holds, each counted before the next: nothing is lost
      // to a full receive queue, so the counters must account for every advert.
      for (let sent = 0; sent < FLOOD; sent += BATCH) {
        expect(await spoof.send(BATCH)).toBe(sent + BATCH);
        await until(async () => (await drops()) - base >= sent + BATCH, 5000, 2, `drops to reach ${sent + BATCH}`);
      }
      const st = await controlRequest(socketOf(wd, h1()), { cmd: 'status' }, 3000) as DaemonStatus;
      expect(totalDrops(st) - base).toBe(FLOOD);
      expect(st.instances[0]!.counters.drops.digest).toBeGreaterThanOrEqual(FLOOD);
      expect(await stateOf(socketOf(wd, h1()))).toBe('MASTER');
    } finally {
      spoof.stop();
    }
    const during = d.lines.slice(linesBefore);
    console.log(`log during the flood: ${during.length} lines, ${bytes(during)} bytes`);
    // One line per 10 s window and a "suppressed N" summary, not one per source.
    expect(during.length).toBeLessThan(40);
    // The periodic summaries account for every advert not logged. The flood may span two 10 s
    // windows, so a first summary can cover only part of it: add up every summary since.
    const accounted = () => {
      const lines = d.lines.slice(linesBefore);
      const suppressed = lines.reduce((n, l) => n + Number(/suppressed (\d+) similar messages/.exec(l)?.[1] ?? 0), 0);
      return suppressed + lines.filter((l) => /Bad digest from/.test(l) && !/suppressed/.test(l)).length;
    };
    await until(() => accounted() >= FLOOD, 25_000, 100, 'summaries to account for the flood');
    const flood = d.lines.slice(linesBefore);
    const logged = flood.filter((l) => /Bad digest from/.test(l) && !/suppressed/.test(l)).length;
    expect(accounted()).toBe(FLOOD);
    expect(flood.length).toBeLessThan(40);
    expect(logged).toBeGreaterThanOrEqual(1);
  });

  it('a hook printing 50 MB leaves a bounded log', async () => {
    const up = wd.write('loud-up.sh', '#!/bin/sh\nyes "hook output line $*" | head -c 50000000\necho done >> ' + wd.path('loud.done') + '\n', 0o755);
    await procs.killAll();
    const d = startNative(procs, h1(), nativeConfig(wd, h1(), { vhid: 13, advbase: 1, advskew: 0, addresses: ['10.92.0.101/24'], extra: `    hooks: { up: ${up} }` }));
    await until(async () => (await stateOf(socketOf(wd, h1()))) === 'MASTER', 15_000, 50, 'h1 MASTER');
    await d.waitFor(/bytes more|hook finished|exited with/, 60_000);
    await until(() => d.lines.some((l) => /\.\.\. \d+ bytes more/.test(l)), 10_000, 50, 'hook summary');
    const all = d.lines;
    console.log(`daemon log with a 50 MB hook: ${all.length} lines, ${bytes(all)} bytes`);
    expect(all.length).toBeLessThan(200);
    expect(bytes(all)).toBeLessThan(64 * 1024);
    expect(all.filter((l) => l.includes('hook output line')).length).toBeGreaterThan(0);
  });
});
