/**
 * Seed 004's firewall pair (BSD carp, `net.inet.carp.preempt=1`): fw1 and fw2 share a LAN
 * address (vhid 1 on em0) and a WAN address (vhid 2 on em1); fw2 advertises advskew 128.
 * When a carp interface of a host loses its link, every carp group of that host advertises
 * advskew 240, so LAN and WAN fail over together; when the link returns, both come back.
 * carpool's `carp_preempt: true` is that sysctl. The seed's WAN 192.0.2.0/24 (documentation
 * range) is 172.16.1.0/24 here: the lab uses private addresses only. First the failure the
 * issue describes (without the setting, cutting the WAN cable splits the pair), then the fix.
 */
import { describe, expect, it } from 'vitest';
import { addressesOf, cutLink, restoreLink, type LabHost } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, isRoot, skipReason, sleep, until } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';

const LAN_VIP = '172.16.0.100/24';
const WAN_VIP = '172.16.1.100/24';

describe.skipIf(!isRoot)(`seed 004: CARP group failover of a firewall pair (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('cg', { hosts: 2, subnet: '172.16.0', lans: 2, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const fw = (i: 1 | 2): LabHost => lan.host(i);
  const wanPort = (i: 1 | 2): LabHost => lan.extra[0]![i - 1]!;

  /** Which firewall holds each address now (0 = none, 3 = both). */
  const holders = async (): Promise<{ lan: number; wan: number }> => {
    const on = async (i: 1 | 2, dev: string, vip: string) => (await addressesOf(fw(i).ns, dev)).includes(vip);
    const who = async (dev: string, vip: string) => ((await on(1, dev, vip)) ? 1 : 0) + ((await on(2, dev, vip)) ? 2 : 0);
    return { lan: await who('eth0', LAN_VIP), wan: await who('eth1', WAN_VIP) };
  };

  /** Sample the holders every 25 ms until `done` holds; returns when each address reached `want` (ms after t0). */
  const watch = async (want: number, what: string): Promise<{ lanAt: number; wanAt: number; split: number }> => {
    const t0 = performance.now();
    let lanAt = -1;
    let wanAt = -1;
    while (performance.now() - t0 < 20_000) {
      const h = await holders();
      const t = performance.now() - t0;
      if (lanAt < 0 && h.lan === want) lanAt = t;
      if (wanAt < 0 && h.wan === want) wanAt = t;
      if (lanAt >= 0 && wanAt >= 0 && h.lan === want && h.wan === want) return { lanAt, wanAt, split: Math.abs(wanAt - lanAt) };
      await sleep(25);
    }
    throw new Error(`${what}: LAN and WAN addresses not both on fw${want} within 20 s: ${JSON.stringify(await holders())}`);
  };

  const start = (i: 1 | 2, preempt: boolean): Proc => {
    const yaml = [
      `control_socket: ${wd.path(`fw${i}-${preempt}.sock`)}`,
      `state_dir: ${wd.path(`fw${i}-${preempt}`)}`,
      ...(preempt ? ['carp_preempt: true'] : []),
      'instances:',
      `  - { name: lan, interface: eth0, vhid: 1, password: lanpasswd, advskew: ${i === 1 ? 0 : 128}, addresses: [${LAN_VIP}] }`,
      `  - { name: wan, interface: eth1, vhid: 2, password: wanpasswd, advskew: ${i === 1 ? 0 : 128}, addresses: [${WAN_VIP}] }`,
      '',
    ].join('\n');
    return procs.add(new Proc(`fw${i}`, carpoolArgv(fw(i).ns, ['run', '-c', wd.write(`fw${i}-${preempt}.yaml`, yaml, 0o600)])));
  };

  const elect = async (preempt: boolean): Promise<[Proc, Proc]> => {
    const p1 = start(1, preempt);
    const p2 = start(2, preempt);
    await until(async () => { const h = await holders(); return h.lan === 1 && h.wan === 1; }, 15_000, 100, 'fw1 holds both addresses');
    return [p1, p2];
  };

  it('without carp_preempt, cutting fw1\'s WAN cable splits the pair (the failure seed 004 avoids)', async () => {
    const [p1, p2] = await elect(false);
    await cutLink(lan, wanPort(1));
    await until(async () => (await holders()).wan === 2, 10_000, 50, 'WAN address on fw2');
    await sleep(3000); // several advert intervals: the LAN instance has no reason to move
    expect(await holders()).toEqual({ lan: 1, wan: 2 });
    await restoreLink(lan, wanPort(1));
    await p1.stop();
    await p2.stop();
  }, 60_000);

  it('with carp_preempt, LAN and WAN move to fw2 together and come back together when the link returns', async () => {
    const [p1] = await elect(true);
    await cutLink(lan, wanPort(1));
    const away = await watch(2, 'after the WAN cut');
    expect(p1.lines.join('\n')).toMatch(/CARP group: wan link is down; demoting carp/);
    // fw1 still has its LAN link: it gave up the LAN address only because its group was demoted.
    const r = await run(carpoolArgv(fw(1).ns, ['status', '--json', '--socket', wd.path('fw1-true.sock')]));
    type Doc = { instances: { name: string; state: string; groupDemotion?: string }[]; carpGroups: { demote: number }[] };
    const parsed = JSON.parse(r.stdout) as Doc | Doc[];
    const st = Array.isArray(parsed) ? parsed[0]! : parsed;
    expect(st.instances.find((i) => i.name === 'lan')).toMatchObject({ state: 'BACKUP', groupDemotion: 'group carp: wan link down' });
    expect(st.carpGroups[0]!.demote).toBe(1);

    await restoreLink(lan, wanPort(1));
    const back = await watch(1, 'after the WAN link returned');
    console.log(`seed 004 group failover: away LAN ${away.lanAt.toFixed(0)} ms, WAN ${away.wanAt.toFixed(0)} ms after the cut; `
      + `back LAN ${back.lanAt.toFixed(0)} ms, WAN ${back.wanAt.toFixed(0)} ms after the link returned (split ${back.split.toFixed(0)} ms)`);
    // Make before break: the way back waits for the returning link to settle (the hold), then
    // the demotion is lifted for both at once and both preempt at fw2's next adverts.
    const text = p1.lines.join('\n');
    expect(text).toMatch(/keeping the group demoted/);
    expect(text).toMatch(/lan: Group demotion lifted/);
    expect(text).toMatch(/wan: Group demotion lifted/);
  }, 60_000);
});
