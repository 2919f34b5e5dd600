/**
 * carpool's ifupdown hook (contrib/ifupdown/carpool-ucarp) builds the command line Debian's
 * ucarp hook (/etc/network/if-up.d/ucarp of the ucarp package) builds from the same stanza, less
 * `-B` (start-stop-daemon keeps the PID instead). Both hooks run for real, side by side, in a
 * private mount namespace where /usr/sbin/ucarp and start-stop-daemon only record their arguments;
 * `ucarpArgsFromIfupdownEnv` (the model of Debian's hook) must agree with both.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ucarpArgsFromIfupdownEnv } from '../../../src/config/ucarp/args.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir } from '../helpers/carp.js';
import { ROOT, isRoot, skipReason } from '../helpers/procs.js';

const DEBIAN_HOOK = '/etc/network/if-up.d/ucarp';
const why = !isRoot ? skipReason : `needs Debian's ucarp package (${DEBIAN_HOOK})`;

describe.skipIf(!isRoot || !existsSync(DEBIAN_HOOK))(`carpool-ucarp builds Debian's ucarp command line (${why})`, () => {
  const STANZA = { IFACE: 'eth0', IF_ADDRESS: '10.0.0.2', IF_UCARP_VID: '3', IF_UCARP_VIP: '10.0.0.1', IF_UCARP_PASSWORD: '16charsatmost' };

  /** Run Debian's hook and carpool's with `env`; the argv each hands to ucarp (undefined: none). */
  const both = async (env: Record<string, string>) => {
    const wd = new Workdir();
    try {
      const rec = (out: string) => `#!/bin/sh\nfor a; do printf '%s\\0' "$a"; done > ${wd.path(out)}\n`;
      wd.write('ucarp', rec('debian.args'), 0o755);
      mkdirSync(wd.path('stubs'));
      mkdirSync(wd.path('empty'));
      wd.write('stubs/start-stop-daemon', rec('ours.args'), 0o755);
      const script = [
        'set -e',
        `mount --bind ${wd.path('ucarp')} /usr/sbin/ucarp`,
        `${DEBIAN_HOOK}`,
        // Without Debian's hook installed, as carpool-ucarp is meant to run.
        `mount --bind ${wd.path('empty')} /etc/network/if-up.d`,
        `PATH=${wd.path('stubs')}:$PATH MODE=start CARPOOL=${wd.path('ucarp')} CARPOOL_IFUPDOWN_RUN_DIR=${wd.path('run')} ${ROOT}contrib/ifupdown/carpool-ucarp`,
      ].join('\n');
      const r = await run(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script], { env: { PATH: process.env.PATH, ...env }, allowFail: true });
      expect(r.code, r.stderr).toBe(0);
      const read = (f: string) => (existsSync(wd.path(f)) ? readFileSync(wd.path(f), 'utf8').split('\0').slice(0, -1) : undefined);
      const ours = read('ours.args');
      return { debian: read('debian.args'), ours: ours?.slice(ours.indexOf('--') + 1), ssd: ours?.slice(0, ours.indexOf('--')) };
    } finally {
      wd.remove();
    }
  };

  it.each<[string, Record<string, string>]>([
    ['README.Debian example', { IF_UCARP_ADVSKEW: '0', IF_UCARP_ADVBASE: '1', IF_UCARP_MASTER: 'yes' }],
    ['bare stanza', {}],
    ['all extras', { IF_UCARP_XPARAM: 'x', IF_UCARP_NOMCAST: 'yes', IF_UCARP_DEADRATIO: '4', IF_UCARP_ADVBASE: '2', IF_UCARP_ADVSKEW: '10', IF_UCARP_MASTER: 'true' }],
    ['master no', { IF_UCARP_MASTER: 'no' }],
    ['master off', { IF_UCARP_MASTER: 'off' }],
    ['master false', { IF_UCARP_MASTER: 'false' }],
    ['master 0', { IF_UCARP_MASTER: '0' }],
    ['master nope', { IF_UCARP_MASTER: 'nope' }],
    ['master 01', { IF_UCARP_MASTER: '01' }],
    ['master No', { IF_UCARP_MASTER: 'No' }],
    ['master 1', { IF_UCARP_MASTER: '1' }],
    ['nomcast off', { IF_UCARP_NOMCAST: 'off' }],
    ['nomcast on', { IF_UCARP_NOMCAST: 'on' }],
    ['xparam with a blank', { IF_UCARP_XPARAM: 'a b' }],
    ['own scripts', { IF_UCARP_UPSCRIPT: '/etc/up', IF_UCARP_DOWNSCRIPT: '/etc/down' }],
    ['no address in the stanza', { IF_ADDRESS: '' }],
  ])('%s', async (_name, extra) => {
    const env = { ...STANZA, ...extra };
    const { debian, ours, ssd } = await both(env);
    expect(debian).toEqual(ucarpArgsFromIfupdownEnv(env));
    expect(ours).toEqual(['ucarp', ...debian!.filter((a) => a !== '-B')]);
    expect(ssd).toEqual(expect.arrayContaining(['--start', '--background', '--make-pidfile', '--pidfile']));
  });

  it('neither starts anything without ucarp-vid, ucarp-vip and ucarp-password', async () => {
    for (const key of ['IF_UCARP_VID', 'IF_UCARP_VIP', 'IF_UCARP_PASSWORD']) {
      expect(await both({ ...STANZA, [key]: '' }), key).toEqual({ debian: undefined, ours: undefined, ssd: undefined });
    }
  });
});
