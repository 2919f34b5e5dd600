/**
 * Defect 8 (b) of issue 11: `carpool ucarp -B` re-executes itself detached (Node cannot fork).
 * It used to pass its own argv — the `--pass` password included — to the child, visible in
 * /proc/PID/cmdline to every user until the child rewrote its title (~230 ms). Now the child's
 * command line has the password masked and gets the real arguments through an inherited pipe.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Workdir, status, stateOf } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import { CARPOOL, Proc, ProcSet, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';

const RECORD = fileURLToPath(new URL('./fixtures/record-cmdline.ts', import.meta.url));
/** By absolute path: the daemonized child runs in / and could not resolve the package name. */
const TSX = import.meta.resolve('tsx');
const PASSWORD = 'Zq8-pw-in-argv';

describe.skipIf(!isRoot)(`faults: secrets of a daemonized ucarp (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('fsec', {
    hosts: 2, subnet: '10.97.0', client: false,
    beforeDestroy: async () => {
      await procs.killAll();
      wd.remove();
    },
  });
  const h = (i: number) => lan.hosts[i - 1]!;
  const runDir = (i: number) => wd.path(`run-h${i}`);
  const ucarpArgs = (i: number, skew: number) => ['ucarp', '-i', 'eth0', '-s', h(i).address, '-v', '7', '-p', PASSWORD, '-a', '10.97.0.100',
    '-b', '1', '-k', String(skew), '-z'];

  it("the re-executed child's command line and environment never hold the --pass password", async () => {
    const record = wd.path('child.json');
    const parent = new Proc('h1-parent', inNs(h(1).ns, [process.execPath, '--import', TSX, '--import', RECORD, CARPOOL, ...ucarpArgs(1, 0), '-B']),
      { CARPOOL_RUN_DIR: runDir(1), CARPOOL_TEST_RECORD: record });
    expect((await parent.exited).code, parent.lines.join('\n')).toBe(0);
    const socket = `${runDir(1)}/ucarp-eth0-vhid7.sock`;
    await until(async () => (await stateOf(socket)) === 'MASTER', 10_000, 50, 'daemonized h1 MASTER');
    const daemon = procs.adopt((await status(socket)).pid);
    await until(() => existsSync(record), 2000, 20, 'the child recorded its command line');
    const child = JSON.parse(readFileSync(record, 'utf8').trim()) as { pid: number; cmdline: string[]; environ: string[] };
    expect(child.pid).toBe(daemon);
    expect(child.cmdline.join(' ')).toContain('-p');
    expect(child.cmdline.join(' ')).not.toContain(PASSWORD);
    expect(child.environ.join('\n')).not.toContain(PASSWORD);
    expect(readFileSync(`/proc/${child.pid}/cmdline`, 'latin1')).not.toContain(PASSWORD);
    // The child got the real password: a peer with it hears h1's adverts as valid and stays BACKUP.
    const h2 = procs.add(new Proc('h2', carpoolArgv(h(2).ns, ucarpArgs(2, 100)), { CARPOOL_RUN_DIR: runDir(2) }));
    await h2.waitFor(/Switching to state: BACKUP/, 10_000);
    await until(async () => (await status(`${runDir(2)}/ucarp-eth0-vhid7.sock`)).instances[0]!.counters.advertsReceived >= 3, 8000, 100, 'h2 hears h1');
    const st2 = await status(`${runDir(2)}/ucarp-eth0-vhid7.sock`);
    expect(st2.instances[0]!.state).toBe('BACKUP');
    expect(st2.instances[0]!.counters.drops.digest).toBe(0);
    process.kill(daemon, 'SIGTERM');
    await until(() => !existsSync(socket), 5000, 50, 'daemon gone');
  });
});
