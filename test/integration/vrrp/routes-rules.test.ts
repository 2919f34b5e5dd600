/**
 * keepalived's virtual_routes / virtual_rules and static_ipaddress / static_routes /
 * static_rules, with the real keepalived 2.2.7 as the peer (multipath in `nexthop` form: keepalived
 * 2.2.7 fails to install its own deprecated `via A or B dev IF`, "New route doesn't have i/f index"): both nodes read the same
 * keepalived.conf (but the priority), the master holds the virtual routes and rules and the
 * backup none, they move with the master on a link cut and back, the kernel state carpool
 * builds is the one keepalived builds, and a clean stop removes the static part.
 */
import { describe, expect, it } from 'vitest';
import { cutLink, restoreLink } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { Workdir } from '../helpers/carp.js';
import { carpoolVrrpState, keepalivedState, startKeepalived } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';

/** One node's keepalived.conf; `n` (1, 2) keeps the static address apart. */
function conf(n: number, priority: number): string {
  return `global_defs {
  router_id node${n}
}
static_ipaddress {
  10.83.1.${n}/24 dev eth0
}
static_routes {
  10.84.0.0/16 via 10.83.0.254 dev eth0 table 84
}
static_rules {
  from 10.83.1.0/24 table 84 priority 1840
}
vrrp_instance VI_R {
  state ${priority > 100 ? 'MASTER' : 'BACKUP'}
  interface eth0
  virtual_router_id 83
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
    10.83.0.100/24
  }
  virtual_routes {
    src 10.83.0.100 10.85.0.0/16 via 10.83.0.254 dev eth0 table 85
    10.86.0.0/16 nexthop via 10.83.0.252 dev eth0 nexthop via 10.83.0.253 dev eth0 weight 2
    blackhole 10.87.0.0/16
  }
  virtual_rules {
    from 10.83.0.100/32 table 85 priority 1850
    to 10.88.0.0/16 fwmark 7 table 85 priority 1851
  }
}
`;
}

/** What the namespace's kernel holds of ours: routes of tables 84/85, 10.86/10.87 in main, rules 1840-1851, the static address. */
async function kernel(ns: string): Promise<{ virtual: string[]; static: string[] }> {
  const out = async (...argv: string[]) => (await run(inNs(ns, argv), { allowFail: true })).stdout;
  // keepalived tags its routes "proto keepalived" and its rules "proto 18"; carpool installs as `ip`
  // does. A cut link marks routes "linkdown".
  const norm = (text: string) => text.split('\n').map((l) => l.replace(/\s+proto (keepalived|boot|18|static)\b|\s+linkdown\b/g, '').replace(/\s+/g, ' ').trim())
    .filter(Boolean);
  const t85 = norm(await out('ip', 'route', 'show', 'table', '85'));
  const main = norm(await out('ip', 'route', 'show', 'table', 'main')).filter((l) => /^(blackhole )?10\.8[67]\.|^nexthop/.test(l));
  const rules = norm(await out('ip', 'rule', 'show'));
  return {
    virtual: [...t85, ...main, ...rules.filter((l) => /^185\d:/.test(l))],
    static: [...norm(await out('ip', 'route', 'show', 'table', '84')), ...rules.filter((l) => /^1840:/.test(l)),
      ...(await out('ip', '-o', 'addr', 'show', 'dev', 'eth0')).match(/10\.83\.1\.\d+\/24/g) ?? []],
  };
}

describe.skipIf(!isRoot)(`virtual and static routes and rules against keepalived (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('vr', { hosts: 2, subnet: '10.83.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const h = (i: number) => lan.hosts[i - 1]!;

  it('follow the master both ways; the same kernel state as keepalived; static removed on stop', async () => {
    const c = procs.add(new Proc('carpool-r1', carpoolArgv(h(1).ns, ['run', '-c', wd.write('r1.conf', conf(1, 150))]),
      { CARPOOL_RUN_DIR: wd.path('run-r1') }));
    await c.waitFor(/\(VI_R\) Entering MASTER STATE/, 8000);
    const ka = startKeepalived(procs, wd, h(2), conf(2, 100), 'r2');
    await ka.waitFor(/\(VI_R\) Entering BACKUP STATE/, 5000);

    // carpool master: the virtual routes and rules on h1 only; the static ones on both.
    const masterState = await until(async () => {
      const k = await kernel(h(1).ns);
      return k.virtual.length >= 7 ? k : undefined;
    }, 3000, 50, 'virtual routes and rules on carpool') as Awaited<ReturnType<typeof kernel>>;
    expect(masterState.virtual).toEqual([
      '10.85.0.0/16 via 10.83.0.254 dev eth0 src 10.83.0.100',
      '10.86.0.0/16',
      'nexthop via 10.83.0.252 dev eth0 weight 1',
      'nexthop via 10.83.0.253 dev eth0 weight 2',
      'blackhole 10.87.0.0/16',
      '1850: from 10.83.0.100 lookup 85',
      '1851: from all to 10.88.0.0/16 fwmark 0x7 lookup 85',
    ]);
    expect((await kernel(h(2).ns)).virtual).toEqual([]);
    expect(masterState.static).toEqual(['10.84.0.0/16 via 10.83.0.254 dev eth0', '1840: from 10.83.1.0/24 lookup 84', '10.83.1.1/24']);
    expect((await kernel(h(2).ns)).static).toEqual(['10.84.0.0/16 via 10.83.0.254 dev eth0', '1840: from 10.83.1.0/24 lookup 84', '10.83.1.2/24']);

    // Link cut: keepalived takes over and installs the same routes and rules; carpool removes its own.
    await cutLink(lan, h(1));
    await ka.waitFor(/\(VI_R\) Entering MASTER STATE/, 8000);
    const kaState = await until(async () => {
      const k = await kernel(h(2).ns);
      return k.virtual.length >= masterState.virtual.length ? k : undefined;
    }, 3000, 50, 'virtual routes and rules on keepalived') as Awaited<ReturnType<typeof kernel>>;
    expect(kaState.virtual).toEqual(masterState.virtual);
    await until(async () => (await kernel(h(1).ns)).virtual.length === 0, 3000, 50, 'carpool removed its virtual routes and rules');
    expect((await kernel(h(1).ns)).static).toEqual(masterState.static);

    // Back: carpool preempts, keepalived removes its routes and rules.
    await restoreLink(lan, h(1));
    await until(() => keepalivedState(ka, 'VI_R') === 'BACKUP', 10_000, 50, 'keepalived back to BACKUP');
    expect(carpoolVrrpState(c, 'VI_R')).toBe('MASTER');
    await until(async () => (await kernel(h(1).ns)).virtual.length === masterState.virtual.length, 3000, 50, 'routes back on carpool');
    await until(async () => (await kernel(h(2).ns)).virtual.length === 0, 3000, 50, 'keepalived removed its routes and rules');

    // Clean stop: carpool removes its virtual and static part; keepalived's node keeps its static part.
    await c.stop();
    expect(await kernel(h(1).ns)).toEqual({ virtual: [], static: [] });
    expect((await kernel(h(2).ns)).static).toHaveLength(3);
    await ka.stop();
  });
});
