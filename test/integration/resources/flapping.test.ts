/**
 * Issue 11, defect 6: a resource whose start succeeds and whose monitor always fails, with the
 * default migration_threshold (never). It used to be restarted as fast as the agent answered
 * (~50 times a second, 45 % CPU, ~330 log lines a second, forever). Now each restart in a row
 * waits longer (0, 1 s, 2 s, 4 s ... capped at 5 min), and the status shows the wait.
 *
 * One real daemon (the master of its instance) in a namespace, a real OCF-style shell agent
 * that appends a line to a file on every start.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installTestAgent, instanceYaml, isRoot, makeCluster, sleep, testAgent, waitFor, type Cluster, type Node } from './cluster.js';
import { useLab } from '../helpers/lab.js';

const SUBNET = '10.233.0';
const WINDOW_MS = 6000;

const AGENT = testAgent({
  name: 'flapper',
  comment: 'Test agent: start succeeds (and is counted), monitor always says "not running".',
  shortdesc: 'a service that dies right after it started',
  params: [
    { name: 'starts', shortdesc: 'file that gets a line per start', required: true },
  ],
  actions: `start) echo start >> "$OCF_RESKEY_starts"; exit 0;;
stop) exit 0;;
monitor) exit 7;;
`,
});

function config(n: Node): string {
  const d = n.dir;
  return `${instanceYaml(n, { vhid: 33, address: `${SUBNET}.100/24` })}resources:
  - id: app
    agent: ocf:carpooltest:flapper
    params: { starts: ${d}/starts }
    op: { monitor: { interval: 1s, timeout: 5s } }
groups:
  - { id: grp, instance: web, resources: [app] }
`;
}

describe.skipIf(!isRoot)('a monitor that always fails does not spin (restart backoff)', () => {
  let c: Cluster;
  const lan = useLab('rsp', { hosts: 2, subnet: SUBNET, client: true, beforeDestroy: () => c?.cleanup() });
  let h1: Node;
  let env: NodeJS.ProcessEnv;
  const figures: Record<string, number> = {};

  beforeAll(() => {
    c = makeCluster(lan);
    h1 = c.nodes[0]!;
    env = installTestAgent(c, 'flapper', AGENT);
    writeFileSync(h1.configFile, config(h1), { mode: 0o600 });
  });

  afterAll(() => {
    if (process.env.KEEP_LOGS) for (const n of c?.nodes ?? []) process.stderr.write(`--- ${n.name} ---\n${n.log()}\n`);
    console.log('figures', figures);
  });

  const startCount = (): number => (existsSync(join(h1.dir, 'starts')) ? readFileSync(join(h1.dir, 'starts'), 'utf8').split('\n').filter(Boolean).length : 0);

  it('restarts with growing delays, shows the backoff, and logs a few lines, not hundreds', async () => {
    h1.start(env);
    await waitFor('the first start', () => startCount() > 0, 20_000, 20);
    const logFrom = h1.lines.length;
    const t0 = performance.now();
    await sleep(WINDOW_MS);
    const n = startCount();
    const seconds = (performance.now() - t0) / 1000;
    figures.startsIn6s = n;
    figures.logLinesPerSecond = Math.round((h1.lines.length - logFrom) / seconds);
    // Immediate, then 1 s, 2 s, 4 s: 4 or 5 starts in 6 s (it was ~300).
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThanOrEqual(6);
    expect((h1.lines.length - logFrom) / seconds).toBeLessThan(10);
    expect(h1.proc!.exitCode).toBeNull();

    // The wait is visible: in the status document and in `carpool status`.
    const m = await waitFor('a pending backoff', async () => {
      const app = (await h1.resources()).groups[0]!.members[0]!;
      return app.backoffMs !== null ? app : undefined;
    }, 10_000, 100);
    expect(m.pending).toMatch(/^restart backoff: start in \d+\.\ds, attempt \d+$/);
    expect(m.failcount).toBeGreaterThanOrEqual(3);
    const text = await waitFor('backoff in carpool status', async () => {
      const out = (await h1.cli('status', '-s', h1.socket)).stdout;
      return /\* app\s+\(ocf:carpooltest:flapper\):\s+Stopped \(restart backoff: start in \d+\.\ds, attempt \d+\)/.test(out) ? out : undefined;
    }, 10_000, 100);
    expect(text).toContain('* app: migration-threshold=INFINITY fail-count=');
    expect(h1.find(/recovering app in place \(fail-count \d+\); next start in \d+s \(restart backoff\)/, logFrom)).toBeDefined();

    // Cleanup resets the backoff: the start comes at once.
    const before = startCount();
    const r = await h1.cli('resource', 'cleanup', 'app', '-s', h1.socket);
    expect(r.code).toBe(0);
    await waitFor('a start right after cleanup', () => startCount() > before, 2000, 20);
  });
});
