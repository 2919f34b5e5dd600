/**
 * Fencing (docs/resources.md, "Failed stops and fencing"): a group with `fence` is started by a
 * node that became MASTER because the peer vanished only after the fence command exited 0.
 * 1. h1 runs the group, h2 is BACKUP; h1 is killed with SIGKILL → h2 becomes MASTER by
 *    master-down timeout, runs the fence (its argv and environment recorded: group, instance,
 *    node, peer h1, reason) and only then starts the group.
 * 2. h1 comes back as BACKUP with a failing fence; h2 is killed → h1 becomes MASTER, the fence
 *    fails, the group stays stopped ("Fencing failed", failed action grp_fence_0) until the
 *    fence is fixed and `carpool resource cleanup` fences again.
 * 3. A planned hand-over (SIGTERM: the group stops, h1 bows out) is not fenced.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceYaml, isRoot, makeCluster, sleep, waitFor, type Cluster, type Node } from './cluster.js';
import { useLab } from '../helpers/lab.js';

const SUBNET = '10.235.0';

/** Records its arguments and the fencing environment, then exits with the code in `fence.rc` (0 without). */
const FENCE = `#!/bin/sh
dir=$(dirname "$0")
echo "fence $(date +%s%N) args=$* group=$CARPOOL_GROUP instance=$CARPOOL_INSTANCE node=$CARPOOL_NODE peer=$CARPOOL_PEER reason=$CARPOOL_REASON" >> "$dir/events"
rc=0
[ -e "$dir/fence.rc" ] && rc=$(cat "$dir/fence.rc")
[ "$rc" = 0 ] || echo "cannot reach the power switch" >&2
exit "$rc"
`;

function config(n: Node, advskew: number): string {
  const d = n.dir;
  return `${instanceYaml(n, { vhid: 35, address: `${SUBNET}.100/24`, advskew })}resources:
  - id: app
    agent: builtin:command
    params:
      start: 'echo "start $(date +%s%N)" >> ${d}/events; touch ${d}/app.state'
      stop: 'rm -f ${d}/app.state'
      monitor: 'test -e ${d}/app.state'
    op: { monitor: { interval: 2s } }
groups:
  - id: grp
    instance: web
    resources: [app]
    fence: [${d}/fence.sh, --plug, other-node, -o, 'off now']
    fence_timeout: 10s
`;
}

describe.skipIf(!isRoot)('fencing: a survivor fences before it starts a group', () => {
  let c: Cluster;
  const lan = useLab('rfe', { hosts: 2, subnet: SUBNET, client: false, beforeDestroy: async () => { await c?.cleanup(); } });
  let h1: Node;
  let h2: Node;

  /** `fence …` and `start …` lines of a node, in order. */
  const events = (n: Node): string[] => (existsSync(join(n.dir, 'events')) ? readFileSync(join(n.dir, 'events'), 'utf8').split('\n').filter(Boolean) : []);
  const kinds = (n: Node): string[] => events(n).map((l) => l.split(' ')[0]!);
  const kill9 = async (n: Node): Promise<void> => { process.kill(n.proc!.pid!, 'SIGKILL'); await n.exited; };

  beforeAll(() => {
    c = makeCluster(lan);
    [h1, h2] = c.nodes as [Node, Node];
    for (const [n, skew] of [[h1, 0], [h2, 100]] as const) {
      writeFileSync(n.configFile, config(n, skew), { mode: 0o600 });
      writeFileSync(join(n.dir, 'fence.sh'), FENCE, { mode: 0o755 });
    }
  });
  afterAll(() => {
    if (process.env.KEEP_LOGS) for (const n of c?.nodes ?? []) process.stderr.write(`--- ${n.name} ---\n${n.log()}\n`);
  });

  it('SIGKILL of the master: the survivor runs the fence (args, env) before it starts the group', async () => {
    h1.start();
    await waitFor('h1 runs the group', async () => (await h1.resources()).groups[0]?.state === 'Started', 20_000);
    // Alone at start (no peer heard: nothing known), h1 fenced too.
    expect(kinds(h1)).toEqual(['fence', 'start']);
    h2.start();
    await waitFor('h2 BACKUP, probed', async () => await h2.state() === 'BACKUP' && (await h2.resources()).groups[0]?.state === 'Stopped', 20_000);
    await sleep(1500); // h2 hears a few adverts of h1
    await kill9(h1);
    await waitFor('h2 runs the group', async () => (await h2.resources()).groups[0]?.state === 'Started', 20_000);
    expect(kinds(h2)).toEqual(['fence', 'start']);
    const [fence, start] = events(h2);
    expect(fence).toContain(`args=--plug other-node -o off now group=grp instance=web node=`);
    expect(fence).toContain(`peer=${h1.host.address} reason=master-down timeout`);
    expect(Number(start!.split(' ')[1])).toBeGreaterThan(Number(fence!.split(' ')[1]));
    expect(h2.find(/web: BACKUP -> MASTER \(master-down timeout\)/)).toBeDefined();
    expect(h2.find(/grp: fenced \(\d+ ms\): starting the group/)).toBeDefined();
  });

  it('a failing fence keeps the group stopped until cleanup fences again', async () => {
    writeFileSync(join(h1.dir, 'fence.rc'), '1');
    const before = events(h1).length;
    h1.start();
    await waitFor('h1 BACKUP, probed', async () => await h1.state() === 'BACKUP' && (await h1.resources()).groups[0]?.state === 'Stopped', 20_000);
    await sleep(1500);
    await kill9(h2);
    await waitFor('h1 MASTER', async () => await h1.state() === 'MASTER', 15_000);
    await waitFor('the fence failed', async () => (await h1.resources()).groups[0]?.state === 'Fencing failed', 15_000);
    await sleep(3000); // and it stays so
    const g = (await h1.resources());
    expect(g.groups[0]).toMatchObject({ state: 'Fencing failed', instanceState: 'MASTER', fence: { state: 'failed' } });
    expect(g.failedActions[0]).toMatchObject({ key: 'grp_fence_0', action: 'fence', text: 'exit 1', status: 'complete' });
    expect(existsSync(join(h1.dir, 'app.state'))).toBe(false);
    expect(kinds(h1).slice(before)).toEqual(['fence']);
    expect(h1.find(/grp: FENCING FAILED \(exit 1\): the group stays stopped/)).toBeDefined();
    const text = await h1.cli('status', '-s', h1.socket);
    expect(text.stdout).toMatch(/FENCING FAILED .*carpool resource cleanup grp/);

    writeFileSync(join(h1.dir, 'fence.rc'), '0');
    const r = await h1.cli('resource', 'cleanup', 'grp', '-s', h1.socket);
    expect(r.code).toBe(0);
    await waitFor('h1 runs the group', async () => (await h1.resources()).groups[0]?.state === 'Started', 20_000);
    expect(kinds(h1).slice(before)).toEqual(['fence', 'fence', 'start']);
  });

  it('a planned hand-over (the master stops its group and bows out) is not fenced', async () => {
    const before = events(h2).length;
    h2.start();
    await waitFor('h2 BACKUP, probed', async () => await h2.state() === 'BACKUP' && (await h2.resources()).groups[0]?.state === 'Stopped', 20_000);
    await h1.stop();
    await waitFor('h2 runs the group', async () => (await h2.resources()).groups[0]?.state === 'Started', 20_000);
    expect(h2.find(/web: BACKUP -> MASTER \(master bowed out\)/)).toBeDefined();
    expect(kinds(h2).slice(before)).toEqual(['start']);
  });
});
