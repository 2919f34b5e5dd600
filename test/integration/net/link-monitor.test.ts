/**
 * LinkMonitor against real kernel notifications: carrier loss when the switch port goes
 * down, address changes, notification overrun, and deletion of the interface.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cutLink, restoreLink } from '../../../src/lab/netns.js';
import { inNs, run } from '../../../src/lib/exec.js';
import { isRoot, NsAgent, sleep, type AgentEvent } from './agent.js';
import { useLab } from '../helpers/lab.js';

const SUBNET = '10.203.0';

interface Ev { type: string; ifindex?: number; name?: string; running?: boolean; lowerUp?: boolean; up?: boolean; deleted?: boolean; address?: string; prefix?: number; family?: number }

describe.skipIf(!isRoot)('LinkMonitor (rtnetlink notifications)', () => {
  const lan = useLab('ntm', { hosts: 1, subnet: SUBNET, client: false, beforeDestroy: () => agent?.stop() });
  let ns: string;
  let agent: NsAgent;
  let ifindex: number;
  let mon: number;
  const evs = (handle: number, pred: (e: Ev) => boolean) => (e: AgentEvent): boolean =>
    e.event === 'link' && e.handle === handle && pred(e.ev as Ev);

  beforeAll(async () => {
    ns = lan.hosts[0]!.ns;
    agent = await NsAgent.start(ns);
    ifindex = (await agent.call<{ index: number }>('ifInfo', 'eth0')).index;
    mon = await agent.call<number>('monitorOpen');
  });

  it('reports carrier loss and return when the switch port goes down and up', async () => {
    await cutLink(lan, lan.hosts[0]!);
    const [down] = await agent.waitEvents(evs(mon, (e) => e.type === 'link' && e.ifindex === ifindex && e.running === false));
    expect(down!.ev).toMatchObject({ name: 'eth0', up: true, running: false, lowerUp: false, deleted: false });
    expect(await agent.call('ifInfo', 'eth0')).toMatchObject({ up: true, running: false });
    await restoreLink(lan, lan.hosts[0]!);
    const [up] = await agent.waitEvents(evs(mon, (e) => e.type === 'link' && e.ifindex === ifindex && e.running === true));
    expect(up!.ev).toMatchObject({ name: 'eth0', up: true, lowerUp: true });
  });

  it('reports address additions and removals (IPv4 and IPv6)', async () => {
    await run(inNs(ns, ['ip', 'addr', 'add', `${SUBNET}.50/24`, 'dev', 'eth0']));
    await run(inNs(ns, ['ip', 'addr', 'add', 'fd00:203::50/64', 'dev', 'eth0', 'nodad']));
    await agent.waitEvents(evs(mon, (e) => e.type === 'addr' && e.address === `${SUBNET}.50` && e.deleted === false));
    const [v6] = await agent.waitEvents(evs(mon, (e) => e.type === 'addr' && e.address === 'fd00:203::50' && !e.deleted));
    expect(v6!.ev).toMatchObject({ family: 6, prefix: 64, ifindex });
    await run(inNs(ns, ['ip', 'addr', 'del', `${SUBNET}.50/24`, 'dev', 'eth0']));
    const [gone] = await agent.waitEvents(evs(mon, (e) => e.type === 'addr' && e.address === `${SUBNET}.50` && e.deleted === true));
    expect(gone!.ev).toMatchObject({ family: 4, prefix: 24, ifindex, label: 'eth0' });
  });

  it('reports an overrun when notifications were lost, then keeps delivering', async () => {
    const small = await agent.call<number>('monitorOpen', { rcvbuf: 1024 });
    const busy = agent.call('busy', 800); // the agent cannot read while this runs
    await sleep(100);
    const batch = Array.from({ length: 60 }, (_, i) => `addr add 10.203.1.${i + 1}/32 dev eth0`).join('\n');
    await run(inNs(ns, ['ip', '-batch', '-']), { input: `${batch}\n` });
    await busy;
    await agent.waitEvents(evs(small, (e) => e.type === 'overrun'));
    // Still listening after the overrun (libuv stopped the poll on POLLERR; the addon re-arms it).
    await run(inNs(ns, ['ip', 'addr', 'add', '10.203.2.1/32', 'dev', 'eth0']));
    await agent.waitEvents(evs(small, (e) => e.type === 'addr' && e.address === '10.203.2.1'));
    // The big default buffer (256 KiB) kept up with the same burst.
    expect(agent.events.filter(evs(mon, (e) => e.type === 'overrun'))).toHaveLength(0);
    await agent.waitEvents(evs(mon, (e) => e.type === 'addr' && e.address?.startsWith('10.203.1.') === true), 60);
    await agent.call('monitorClose', small);
  });

  it('reports the deletion of the interface', async () => {
    await run(inNs(ns, ['ip', 'link', 'del', 'eth0']));
    const [del] = await agent.waitEvents(evs(mon, (e) => e.type === 'link' && e.deleted === true));
    expect(del!.ev).toMatchObject({ ifindex, name: 'eth0' });
    expect(await agent.call('ifInfo', 'eth0')).toBeNull();
    await agent.call('monitorClose', mon);
    await agent.call('monitorClose', mon); // idempotent
  });
});
