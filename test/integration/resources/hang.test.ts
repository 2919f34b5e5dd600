/**
 * Agents that misbehave, between two carpool daemons in network namespaces:
 * - On h1 (the master) a start hangs (with a child process) past its 6 s timeout. Adverts keep
 *   flowing the whole time — h2 never becomes MASTER while the agent runs — then the agent's
 *   process group is killed, the timeout is reported with its stderr, h1 stops the group,
 *   goes to standby, and h2 takes over and starts the group.
 * - On h2 the monitor then prints binary garbage and exits 42: a failure like any other (soft,
 *   restarted in place), shown with the output made printable; the daemon carries on.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addresses, installTestAgent, instanceYaml, isRoot, makeCluster, sleep, testAgent, waitFor, type Cluster, type Node } from './cluster.js';
import { useLab } from '../helpers/lab.js';

const SUBNET = '10.232.0';
const START_TIMEOUT_MS = 6000;

const AGENT = testAgent({
  name: 'slowstart',
  comment: 'Test agent: start hangs (with a child) when hang=yes; monitor prints garbage and exits 42 once when the garbage file exists.',
  shortdesc: 'start that may hang',
  params: [
    { name: 'state', shortdesc: 'state file', required: true },
    { name: 'hang', shortdesc: 'hang in start', type: 'boolean', default: 'no' },
    { name: 'childpid', shortdesc: 'where the child\'s pid goes' },
    { name: 'garbage', shortdesc: 'garbage flag file' },
  ],
  actions: `start)
  if [ "$OCF_RESKEY_hang" = yes ]; then
    echo "waiting for the backend to come up" >&2
    sleep 300 &
    echo $! > "$OCF_RESKEY_childpid"
    wait
  fi
  touch "$OCF_RESKEY_state"; exit 0;;
stop) rm -f "$OCF_RESKEY_state"; exit 0;;
monitor)
  if [ -e "$OCF_RESKEY_garbage" ]; then rm -f "$OCF_RESKEY_garbage"; printf '\\001\\377\\033[2J binary garbage \\200\\n' >&2; printf 'not xml'; exit 42; fi
  [ -e "$OCF_RESKEY_state" ] && exit 0; exit 7;;
`,
});

function config(n: Node, advskew: number, hang: boolean): string {
  const d = n.dir;
  return `${instanceYaml(n, { vhid: 32, address: `${SUBNET}.100/24`, advskew })}resources:
  - id: addr
    agent: builtin:address
    params: { address: ${SUBNET}.102/24, dev: eth0, garp: 1 }
    op: { monitor: { interval: 2s } }
  - id: data
    agent: ocf:heartbeat:Dummy
    params: { state: ${d}/dummy.state }
    op: { monitor: { interval: 5s } }
  - id: app
    agent: ocf:carpooltest:slowstart
    params: { state: ${d}/app.state, hang: ${hang ? 'yes' : 'no'}, childpid: ${d}/child.pid, garbage: ${d}/garbage }
    op: { start: { timeout: ${START_TIMEOUT_MS}ms }, monitor: { interval: 1s, timeout: 5s } }
    migration_threshold: 3
groups:
  - { id: grp, instance: web, resources: [addr, data, app] }
`;
}

describe.skipIf(!isRoot)('misbehaving agents never stop the adverts or the daemon', () => {
  let c: Cluster;
  const lan = useLab('rsh', { hosts: 2, subnet: SUBNET, client: true, beforeDestroy: () => c?.cleanup() });
  let h1: Node;
  let h2: Node;
  let env: NodeJS.ProcessEnv;
  const figures: Record<string, number> = {};

  beforeAll(() => {
    c = makeCluster(lan);
    [h1, h2] = c.nodes as [Node, Node];
    env = installTestAgent(c, 'slowstart', AGENT);
    writeFileSync(h1.configFile, config(h1, 0, true), { mode: 0o600 });
    writeFileSync(h2.configFile, config(h2, 100, false), { mode: 0o600 });
  });

  afterAll(() => {
    if (process.env.KEEP_LOGS) for (const n of c?.nodes ?? []) process.stderr.write(`--- ${n.name} ---\n${n.log()}\n`);
     
    console.log('figures', figures);
  });

  it('kills a start that hangs past its timeout while adverts keep flowing; the peer takes over only then', async () => {
    h1.start(env);
    await waitFor('h1 MASTER and app starting', async () => (await h1.resources().catch(() => undefined))?.groups[0]?.members[2]?.state === 'Starting', 20_000, 50);
    const hangStartedAt = performance.now();
    h2.start(env);
    // Watch h2 for the whole hang: it must stay BACKUP and keep hearing h1.
    const seen = new Set<string>();
    let firstHeard: number | undefined;
    let lastHeard = 0;
    while (performance.now() - hangStartedAt < START_TIMEOUT_MS - 300) {
      const st = await h2.status().catch(() => undefined);
      const inst = st?.instances[0];
      if (inst) {
        seen.add(inst.state);
        firstHeard ??= inst.counters.advertsReceived;
        lastHeard = inst.counters.advertsReceived;
      }
      expect((await h1.resources()).groups[0]!.members[2]!.state).toBe('Starting');
      await sleep(200);
    }
    expect([...seen]).toEqual(['BACKUP']);
    figures.advertsHeardByPeerDuringHang = lastHeard - (firstHeard ?? 0);
    expect(lastHeard - (firstHeard ?? 0)).toBeGreaterThanOrEqual(3);

    // The timeout: killed and reported, then the group leaves h1.
    await waitFor('h2 runs the group', async () => (await h2.resources()).groups[0]?.state === 'Started', 30_000, 100);
    const st1 = await h1.resources();
    const failure = st1.failedActions[0]!;
    expect(failure).toMatchObject({ key: 'app_start_0', status: 'Timed Out', text: "'Timed Out' (1)", rc: 1, timeoutMs: START_TIMEOUT_MS });
    expect(failure.output).toContain('waiting for the backend to come up');
    figures.startTimeoutKilledAfterMs = failure.execMs;
    expect(failure.execMs).toBeGreaterThanOrEqual(START_TIMEOUT_MS);
    expect(failure.execMs).toBeLessThan(START_TIMEOUT_MS + 1000);
    const child = Number(readFileSync(join(h1.dir, 'child.pid'), 'utf8'));
    let childState = 'gone';
    try { childState = readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]!.slice(0, 1); } catch { /* gone */ }
    expect(['gone', 'Z']).toContain(childState); // the agent's whole process group was killed
    expect(st1.groups[0]).toMatchObject({ state: 'Stopped', standby: true, eligible: false, instanceState: 'BACKUP' });
    expect(st1.groups[0]!.members[2]!.failcount).toBe(1_000_000);
    expect(st1.groups[0]!.ineligibleReason).toBe("app: start failed: 'Timed Out' (1)");
    // The built-in address moved with the group.
    expect(await addresses(h2.host)).toContain(`${SUBNET}.102/24`);
    expect(await addresses(h1.host)).not.toContain(`${SUBNET}.102/24`);
    const text = (await h1.cli('status', '-s', h1.socket)).stdout;
    expect(text).toContain('* app: migration-threshold=3 fail-count=INFINITY');
    expect(text).toMatch(/\* app_start_0 on \S+ 'Timed Out' \(1\): status='Timed Out', last-rc-change='[^']+', exec=\d+ms, timeout=6000ms/);
    expect(text).toContain('| waiting for the backend to come up');

    // Order of events: h2 became MASTER only after h1's agent was killed and h1 stepped back.
    const killed = h1.find(/app_start_0: 'Timed Out' \(1\) after 6000 ms/)!;
    const h2Master = h2.find(/web: BACKUP -> MASTER/)!;
    expect(killed).toBeDefined();
    expect(h2Master.t).toBeGreaterThan(killed.t);
    figures.timeoutToPeerMasterMs = Math.round(h2Master.t - killed.t);
    expect(h1.lines.filter((l) => /BACKUP -> MASTER/.test(l.text))).toHaveLength(1);
  });

  it('handles a monitor that prints garbage and exits 42 as a failure, never a crash', async () => {
    const flag = join(h2.dir, 'garbage');
    writeFileSync(flag, '');
    const m = await waitFor('the garbage failure', async () => {
      const g = (await h2.resources()).groups[0]!;
      const app = g.members[2]!;
      return app.failcount >= 1 && app.lastFailure ? app : undefined;
    }, 10_000, 100);
    // The agent fails once (it removes the flag itself): the monitor that runs right after the
    // restart must pass, or the failcount would race the test's polling towards the threshold.
    expect(m.failcount).toBe(1);
    expect(m.lastFailure).toMatchObject({ key: 'app_monitor_1000', rc: 42, text: "'unknown exit code' (42)", severity: 'soft', status: 'complete' });
    expect(m.lastFailure!.output).toMatch(/binary garbage/);
    // eslint-disable-next-line no-control-regex
    expect(m.lastFailure!.output).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    await waitFor('app restarted in place on h2', async () => (await h2.resources()).groups[0]?.state === 'Started', 15_000);
    expect(await h2.state()).toBe('MASTER');
    expect(h2.proc!.exitCode).toBeNull();
  });

  // Uses the daemons of the tests above.
  it('stops the group in reverse order when the daemon exits, before the address goes', async () => {
    const from = h2.lines.length;
    await h2.stop();
    const texts = h2.lines.slice(from).map((l) => l.text);
    const i = (re: RegExp) => texts.findIndex((t) => re.test(t));
    expect(i(/stopping app/)).toBeGreaterThanOrEqual(0);
    expect(i(/stopping app/)).toBeLessThan(i(/stopping data/));
    expect(i(/stopping data/)).toBeLessThan(i(/stopping addr/));
    expect(i(/stopping addr/)).toBeLessThan(i(/Switching to state: BACKUP/));
    expect(await addresses(h2.host)).not.toContain(`${SUBNET}.102/24`);
    expect(h2.proc!.exitCode).toBe(0);
  });
});
