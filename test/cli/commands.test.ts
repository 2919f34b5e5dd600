/**
 * Command-line handling of the commander commands (issue 13): the real CLI in a child process
 * (TypeScript sources through tsx, so no build is needed), with a run directory of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWatchSeconds } from '../../src/cli/commands.js';
import { ControlServer } from '../../src/daemon/control.js';
import type { ControlRequest } from '../../src/control/protocol.js';
import { runCarpool } from '../helpers/cli.js';

const runDir = mkdtempSync(join(tmpdir(), 'carpool-cli-'));
afterAll(() => rmSync(runDir, { recursive: true, force: true }));

/** Run `carpool ...args`; kill it after `killAfterMs` (for commands that never end). */
const carpool = (args: string[], killAfterMs = 20_000, dir = runDir) => runCarpool(args, dir, killAfterMs);

describe('status --watch', () => {
  it('takes a positive number of seconds', () => {
    expect(parseWatchSeconds('2')).toBe('2');
    expect(parseWatchSeconds('0.5')).toBe('0.5');
    for (const bad of ['abc', '0', '-1', '', ' ', 'Infinity', 'NaN', '1s']) {
      expect(() => parseWatchSeconds(bad), bad).toThrow(/expected a positive number of seconds/);
    }
  });

  it.each([['abc'], ['0'], ['-1']])('--watch %s is an error naming the option, not a busy loop', async (value) => {
    const r = await carpool(['status', '--watch', value]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`option '-w, --watch [seconds]' argument '${value}' is invalid. expected a positive number of seconds`);
    expect(r.stdout).toBe('');
  });

  it('--watch 0.5 refreshes twice a second', async () => {
    const r = await carpool(['status', '--watch', '0.5'], 6000);
    // Start-up through tsx takes a while; whatever remains of 6 s holds at most 12 refreshes (it spun ~600/s before).
    const refreshes = r.stderr.split('no running daemon found').length - 1;
    expect(refreshes).toBeGreaterThanOrEqual(1);
    expect(refreshes).toBeLessThanOrEqual(12);
  });
});

describe('unknown options', () => {
  it('run --conifg x names the unknown option and suggests --config (not "required option -c")', async () => {
    const r = await carpool(['run', '--conifg', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: unknown option '--conifg'");
    expect(r.stderr).toContain('(Did you mean --config?)');
    expect(r.stderr).not.toContain('required option');
  });

  it('a missing mandatory option is still reported', async () => {
    const r = await carpool(['check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: required option '-c, --config <file>' not specified");
  });
});

describe('demote and resource without a daemon', () => {
  it.each([[['demote']], [['resource', 'status']]])('%j says no daemon runs in this namespace\'s run directory', async (args) => {
    const r = await carpool(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no running daemon found (no control socket in ${runDir})`);
  });
});

describe('demote and resource with several daemons in the run directory', () => {
  // Three control sockets as a host with two `carpool ucarp` and one `carpool run` (with resources) has.
  const dir = join(runDir, 'several');
  const daemons = [
    { file: 'ucarp-eth0-vhid1.sock', mode: 'ucarp', instances: ['eth0-vhid1'], resources: false },
    { file: 'ucarp-eth0-vhid2.sock', mode: 'ucarp', instances: ['eth0-vhid2'], resources: false },
    { file: 'carpool.sock', mode: 'run', instances: ['web', 'db'], resources: true },
  ];
  const servers = daemons.map((d) => new ControlServer(join(dir, d.file), (req: ControlRequest) => {
    if (req.cmd === 'status') {
      return { version: 'x', pid: 1, mode: d.mode, config: '', startedAt: '', uptimeSeconds: 0, interfaces: [],
        instances: d.instances.map((name) => ({ name, state: 'MASTER' })), ...(d.resources ? { resources: {} } : {}) };
    }
    if (req.cmd === 'demote') return { name: `${String(req.args?.instance)} via ${d.file}`, state: 'BACKUP' };
    if (req.cmd === 'resource.list') return [];
    throw new Error(`unexpected ${req.cmd}`);
  }));
  afterAll(async () => { for (const s of servers) await s.close(); });

  it('demote NAME goes to the daemon that runs NAME; resource to the one with resources', async () => {
    for (const s of servers) await s.listen();
    const d = await carpool(['demote', 'eth0-vhid2'], 20_000, dir);
    expect(d.stderr).toBe('');
    expect(d.stdout).toBe('eth0-vhid2 via ucarp-eth0-vhid2.sock: BACKUP\n');
    expect((await carpool(['demote', 'db'], 20_000, dir)).stdout).toBe('db via carpool.sock: BACKUP\n');
    const r = await carpool(['resource', 'list', '--json'], 20_000, dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('[]\n');
  });

  it('without a name, or with an unknown one, it says which daemons there are and how to choose', async () => {
    const any = await carpool(['demote'], 20_000, dir);
    expect(any.code).toBe(1);
    expect(any.stderr).toContain(`3 daemons in ${dir} have instances: ${join(dir, 'carpool.sock')}, ${join(dir, 'ucarp-eth0-vhid1.sock')}`);
    expect(any.stderr).toContain('hint: name the instance (`carpool demote NAME`) or choose a daemon with --socket PATH');
    const none = await carpool(['demote', 'nosuch'], 20_000, dir);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`none of the 3 daemons in ${dir} has an instance 'nosuch'`);
  });
});
