/**
 * keepalived's `net_namespace`: carpool started in an empty namespace of its own joins the
 * named one (setns before any socket) and runs the VRRP part there against the real keepalived:
 * master, its notify script runs inside the namespace, and a clean stop hands over.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addressesOf } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir } from '../helpers/carp.js';
import { keepalivedState, startKeepalived } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, isRoot, skipReason, until } from '../helpers/procs.js';

describe.skipIf(!isRoot)(`net_namespace against keepalived (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('vn', {
    hosts: 2, subnet: '10.91.0',
    beforeDestroy: async () => {
      await procs.killAll();
      wd.remove();
      await run(['ip', 'netns', 'del', outer], { allowFail: true });
    },
  });
  const outer = `${lan.prefix}-outer`;
  const h = (i: number) => lan.hosts[i - 1]!;
  const conf = (priority: number, extra = '') => `global_defs {
  router_id n${priority}
}
${extra}
vrrp_instance VI_N {
  interface eth0
  virtual_router_id 91
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
    10.91.0.100/24
  }
  notify_master ${wd.write('where.sh', `#!/bin/sh\nip -o addr show dev eth0 > ${wd.path('where.txt')}\n`, 0o755)}
}
`;

  it('runs the VRRP part in the named namespace: master there, hook there, hands over at stop', async () => {
    await run(['ip', 'netns', 'add', outer]);
    const c = procs.add(new Proc('carpool-n1', carpoolArgv(outer, ['run', '-c', wd.write('n1.conf', conf(150, `net_namespace ${h(1).ns}`))]),
      { CARPOOL_RUN_DIR: wd.path('run-n1') }));
    await c.waitFor(/running in network namespace/, 5000);
    const ka = startKeepalived(procs, wd, h(2), conf(100), 'n2');
    await c.waitFor(/\(VI_N\) Entering MASTER STATE/, 8000);
    await ka.waitFor(/\(VI_N\) Entering BACKUP STATE/, 5000);
    expect(await addressesOf(h(1).ns, 'eth0')).toContain('10.91.0.100/24');
    await until(() => existsSync(wd.path('where.txt')) && readFileSync(wd.path('where.txt'), 'utf8').includes('10.91.0.100/24'), 3000, 50, 'notify_master ran in the namespace');
    // Nothing of it in the namespace carpool was started in.
    expect((await run(['ip', 'netns', 'exec', outer, 'ip', '-o', 'addr'])).stdout).not.toContain('10.91.0');
    await c.stop();
    await until(() => keepalivedState(ka, 'VI_N') === 'MASTER', 5000, 50, 'keepalived takes over');
    await ka.stop();
  });

  it('a namespace that does not exist: a clear error, exit 2', async () => {
    await run(['ip', 'netns', 'add', outer], { allowFail: true });
    const c = procs.add(new Proc('carpool-bad', carpoolArgv(outer, ['run', '-c', wd.write('bad.conf', conf(150, `net_namespace ${lan.prefix}-nope`))]),
      { CARPOOL_RUN_DIR: wd.path('run-bad') }));
    expect((await c.exited).code).toBe(2);
    expect(c.lines.join('\n')).toContain(`create it first: ip netns add ${lan.prefix}-nope`);
  });
});
