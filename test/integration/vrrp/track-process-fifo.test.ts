/**
 * vrrp_track_process and vrrp_notify_fifo with the real keepalived 2.2.7 as the peer: both
 * read the same keepalived.conf (but the priority and the process each tracks). carpool's
 * process dies: its priority drops by the weight and keepalived takes over; the process comes
 * back: carpool preempts again. keepalived's own tracker cannot see processes here: the kernel's
 * proc connector, which it listens to, works only in the initial network namespace ("Failed to
 * set/clear process event listen - errno 111"), so its process always counts as down (priority
 * 200 - 100); carpool scans /proc, which works in any namespace. Both FIFOs, read by the same vrrp_notify_fifo_script, carry
 * keepalived's lines for the same events.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Workdir } from '../helpers/carp.js';
import { carpoolVrrpState, keepalivedState, startKeepalived } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, isRoot, skipReason, until } from '../helpers/procs.js';

describe.skipIf(!isRoot)(`vrrp_track_process and the notify FIFO against keepalived (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('vp', { hosts: 2, subnet: '10.89.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const h = (i: number) => lan.hosts[i - 1]!;
  // The namespaces share one PID namespace: each node tracks a sleep of its own, told apart by its argument.
  const tag = String(process.pid % 100000);
  const sleeper = (n: number) => procs.add(new Proc(`sleep-${n}`, ['sleep', `${n}${tag}`]));
  // keepalived's reader script gets the FIFO's path as its last argument.
  const reader = wd.write('read-fifo.sh', '#!/bin/sh\nexec cat "$1" >> "$1.log"\n', 0o755);

  const conf = (n: number, priority: number) => `global_defs {
  router_id node${n}
  vrrp_notify_fifo ${wd.path(`n${n}.fifo`)}
  vrrp_notify_fifo_script ${reader}
}
vrrp_track_process chk_app {
  process sleep ${n}${tag}
  quorum 1
  fork_delay 0.2
  weight -100
}
vrrp_instance VI_P {
  state BACKUP
  interface eth0
  virtual_router_id 89
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
    10.89.0.100/24
  }
  track_process {
    chk_app
  }
}
`;
  const fifoLines = (n: number) => readFileSync(wd.path(`n${n}.fifo.log`), 'utf8').split('\n').filter(Boolean);

  it('a tracked process that dies moves the master to keepalived and back; both FIFOs tell it alike', async () => {
    const app1 = sleeper(1);
    sleeper(2);
    const c = procs.add(new Proc('carpool-p1', carpoolArgv(h(1).ns, ['run', '-c', wd.write('p1.conf', conf(1, 150))]),
      { CARPOOL_RUN_DIR: wd.path('run-p1') }));
    await c.waitFor(/\(VI_P\) Entering MASTER STATE/, 8000);
    const ka = startKeepalived(procs, wd, h(2), conf(2, 200), 'p2');
    await ka.waitFor(/\(VI_P\) Entering BACKUP STATE/, 5000);

    // carpool's process dies: 150 - 100 = 50 < 100, keepalived preempts.
    await app1.stop('SIGKILL');
    await c.waitFor(/vrrp_track_process chk_app is now FAILED/, 3000);
    await ka.waitFor(/\(VI_P\) Entering MASTER STATE/, 8000);
    await until(() => carpoolVrrpState(c, 'VI_P') === 'BACKUP', 5000, 50, 'carpool to BACKUP');

    // It comes back (after fork_delay): carpool at 150 preempts again.
    sleeper(1);
    await c.waitFor(/vrrp_track_process chk_app is now OK/, 3000);
    await until(() => carpoolVrrpState(c, 'VI_P') === 'MASTER', 8000, 50, 'carpool MASTER again');
    await until(() => keepalivedState(ka, 'VI_P') === 'BACKUP', 5000, 50, 'keepalived BACKUP again');

    await until(() => fifoLines(1).length >= 4 && fifoLines(2).length >= 3, 3000, 50, 'FIFO lines');
    expect(fifoLines(1)).toEqual(['INSTANCE "VI_P" BACKUP 150', 'INSTANCE "VI_P" MASTER 150', 'INSTANCE "VI_P" BACKUP 50', 'INSTANCE "VI_P" MASTER 150']);
    // keepalived, like carpool, writes the effective priority (its process counts as down: 200 - 100).
    expect(fifoLines(2)).toEqual(['INSTANCE "VI_P" BACKUP 100', 'INSTANCE "VI_P" MASTER 100', 'INSTANCE "VI_P" BACKUP 100']);
    await c.stop();
    // carpool removes the FIFO it created.
    expect(existsSync(wd.path('n1.fifo'))).toBe(false);
    await ka.stop();
  });
});
