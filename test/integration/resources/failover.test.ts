/**
 * A group of Debian's real agents — IPaddr2 (a second address), Dummy, nginx — following a
 * CARP virtual address between two carpool daemons in network namespaces:
 * 1. h1's link is cut: h1 goes BACKUP and stops the group in reverse order; h2 takes the VIP
 *    and starts the group (the client then gets "h2" from nginx on the group's address).
 * 2. nginx is killed on h2: the monitor fails, nginx alone is restarted in place.
 * 3. Killed again: migration-threshold (2) is reached, h2 stops the group, goes to standby,
 *    h1 takes the VIP and runs the group — and it stays there until `carpool resource cleanup`.
 * `carpool status`, the HTML page (checked in headless Chromium) and the JSON show the failed
 * action and the failcount.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutLink, restoreLink } from '../../../src/lab/netns.js';
import { addresses, curl, instanceYaml, isRoot, makeCluster, REPO_ROOT, sleep, waitFor, writeNginxConfig, type Cluster, type Node } from './cluster.js';
import { useLab } from '../helpers/lab.js';

const SUBNET = '10.231.0';
const VIP = `${SUBNET}.100`;
const SVC = `${SUBNET}.101`;
const URL_ = `http://${SVC}:8080/`;

function config(n: Node, advskew: number): string {
  const d = n.dir;
  mkdirSync(join(d, 'rsctmp'), { recursive: true });
  writeNginxConfig(d, n.name, SVC, 8080);
  return `${instanceYaml(n, { vhid: 31, address: `${VIP}/24`, advskew })}resources:
  - id: web-ip
    agent: ocf:heartbeat:IPaddr2
    params: { ip: ${SVC}, cidr_netmask: 24, nic: eth0, arp_count: 1 }
    env: { HA_RSCTMP: ${d}/rsctmp }
    op: { monitor: { interval: 5s, timeout: 10s } }
  - id: data
    agent: ocf:heartbeat:Dummy
    params: { state: ${d}/dummy.state }
    op: { monitor: { interval: 5s, timeout: 10s } }
  - id: web
    agent: ocf:heartbeat:nginx
    params: { configfile: ${d}/nginx.conf }
    op: { monitor: { interval: 1s, timeout: 10s }, stop: { timeout: 30s } }
    migration_threshold: 2
groups:
  - id: www
    instance: web
    resources: [web-ip, data, web]
`;
}

/** Log lines "resources: www: stopping X" / "starting X" after line index `from`, in order. */
function actions(n: Node, from: number): string[] {
  return n.lines.slice(from).flatMap((l) => {
    const m = /resources: www: (starting|stopping) (\S+)/.exec(l.text);
    return m ? [`${m[1]} ${m[2]}`] : [];
  });
}

function nginxPid(n: Node): number {
  return Number(readFileSync(join(n.dir, 'nginx.pid'), 'utf8').trim());
}

describe.skipIf(!isRoot)('resource group follows the VIP (IPaddr2 + Dummy + nginx)', () => {
  let c: Cluster;
  const lan = useLab('rsf', { hosts: 2, subnet: SUBNET, client: true, beforeDestroy: () => c?.cleanup() });
  let h1: Node;
  let h2: Node;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    c = makeCluster(lan);
    [h1, h2] = c.nodes as [Node, Node];
    writeFileSync(h1.configFile, config(h1, 0), { mode: 0o600 });
    writeFileSync(h2.configFile, config(h2, 100), { mode: 0o600 });
    // carpool check validates the agents' parameters against their meta-data.
    const chk = await h1.cli('check', '-c', h1.configFile);
    expect(chk.stdout + chk.stderr).toContain('OK (1 instance: web; 3 resources in 1 group: www)');
    h1.start();
    await waitFor('h1 MASTER with the group started', async () => {
      const st = await h1.resources().catch(() => undefined);
      return st?.groups[0]?.state === 'Started' && (await h1.state()) === 'MASTER';
    }, 20_000);
    h2.start();
    await waitFor('h2 BACKUP with the group probed stopped', async () => (await h2.resources().catch(() => undefined))?.groups[0]?.state === 'Stopped', 20_000);
  });

  afterAll(() => {
    if (process.env.KEEP_LOGS || expect.getState().assertionCalls === 0) {
      for (const n of c?.nodes ?? []) process.stderr.write(`--- ${n.name} ---\n${n.log()}\n`);
    }
     
    console.log('figures', figures);
  });

  it('runs the group on the master: its address, its state file, nginx answering "h1"', async () => {
    expect(await addresses(h1.host)).toEqual(expect.arrayContaining([`${VIP}/24`, `${SVC}/24`]));
    expect(await addresses(h2.host)).not.toContain(`${SVC}/24`);
    expect(existsSync(join(h1.dir, 'dummy.state'))).toBe(true);
    expect(await curl(c.lan, URL_)).toBe('h1');
    expect(actions(h1, 0)).toEqual(['starting web-ip', 'starting data', 'starting web']);
    expect(actions(h2, 0)).toEqual([]);
    const list = await h1.cli('resource', 'list', '-s', h1.socket);
    expect(list.stdout).toContain('group www (follows instance web):');
    expect(list.stdout).toContain(`web-ip (ocf:heartbeat:IPaddr2) ip=${SVC} cidr_netmask=24 nic=eth0 arp_count=1`);
    expect(list.stdout).toContain('monitor interval=1s timeout=10s on-fail=restart; migration-threshold=2');
    const st = await h1.cli('resource', 'status', '-s', h1.socket);
    expect(st.stdout).toMatch(/^\* Resource Group: www \(instance web: MASTER here\): Started$/m);
  });

  it('moves with the VIP when h1\'s link is cut; h1 stops it in reverse order', async () => {
    const from1 = h1.lines.length;
    const from2 = h2.lines.length;
    const cutAt = performance.now();
    await cutLink(c.lan, h1.host);
    const body = await waitFor('h2 serving', async () => (await curl(c.lan, URL_)) === 'h2' || undefined, 20_000, 50);
    figures.linkCutToServedMs = Math.round(performance.now() - cutAt);
    expect(body).toBe(true);
    await waitFor('h1 group stopped', async () => (await h1.resources()).groups[0]?.state === 'Stopped', 30_000);
    expect(actions(h1, from1)).toEqual(['stopping web', 'stopping data', 'stopping web-ip']);
    expect(actions(h2, from2)).toEqual(['starting web-ip', 'starting data', 'starting web']);
    expect(await h1.state()).toBe('BACKUP');
    expect(await addresses(h1.host)).not.toContain(`${SVC}/24`);
    expect(existsSync(join(h1.dir, 'dummy.state'))).toBe(false);
    // h2 became master ~3 s (master-down) after the cut, then started the group.
    const masterAt = h2.find(/web: BACKUP -> MASTER/, from2)!.t;
    const startedAt = h2.find(/resources: www: web started/, from2)!.t;
    figures.groupStartAfterMasterMs = Math.round(startedAt - masterAt);
    await restoreLink(c.lan, h1.host);
    await waitFor('h1 hears h2 again', async () => (await h1.status()).instances[0]!.master === h2.host.address, 10_000);
    expect(await h1.state()).toBe('BACKUP');
  });

  it('restarts a killed service in place (only that member) and counts the failure', async () => {
    const from = h2.lines.length;
    const killedAt = performance.now();
    process.kill(nginxPid(h2), 'SIGTERM');
    await waitFor('nginx restarted on h2', async () => {
      const m = (await h2.resources()).groups[0]!.members.find((x) => x.id === 'web')!;
      return m.failcount === 1 && m.state === 'Started' && (await curl(c.lan, URL_)) === 'h2';
    }, 20_000, 100);
    figures.killToRestartedMs = Math.round(performance.now() - killedAt);
    expect(actions(h2, from)).toEqual(['stopping web', 'starting web']);
    expect(await h2.state()).toBe('MASTER');
    const st = await h2.resources();
    expect(st.failedActions[0]).toMatchObject({ key: 'web_monitor_1000', rc: 7, text: "'not running' (7)", status: 'complete' });
    // The operator's view: crm_mon-like text.
    const text = (await h2.cli('status', '-s', h2.socket)).stdout;
    expect(text).toContain('Resource Group: www (instance web: MASTER here): Started');
    expect(text).toMatch(/\* web +\(ocf:heartbeat:nginx\): +Started/);
    expect(text).toContain('* web: migration-threshold=2 fail-count=1');
    expect(text).toMatch(/\* web_monitor_1000 on \S+ 'not running' \(7\): status='complete'/);
  });

  it('moves the group away after migration-threshold failures and keeps it away until cleanup', async () => {
    const from1 = h1.lines.length;
    const from2 = h2.lines.length;
    const killedAt = performance.now();
    process.kill(nginxPid(h2), 'SIGTERM');
    await waitFor('h1 serving', async () => (await curl(c.lan, URL_)) === 'h1' || undefined, 40_000, 50);
    figures.thresholdKillToServedElsewhereMs = Math.round(performance.now() - killedAt);
    expect(actions(h2, from2)).toEqual(['stopping web', 'stopping data', 'stopping web-ip']);
    expect(actions(h1, from1)).toEqual(['starting web-ip', 'starting data', 'starting web']);
    const g2 = (await h2.resources()).groups[0]!;
    expect(g2).toMatchObject({ state: 'Stopped', eligible: false, standby: true, instanceState: 'BACKUP' });
    expect(g2.ineligibleReason).toBe('web failed 2 times (migration-threshold 2)');
    expect(h2.find(/Standby: group www cannot run here/, from2)).toBeDefined();

    // It stays: h1 runs it, h2 stays in standby (no ping-pong), for as long as we look.
    await sleep(5000);
    expect(await h1.state()).toBe('MASTER');
    expect(await h2.state()).toBe('BACKUP');
    expect((await h2.resources()).groups[0]!.standby).toBe(true);
    expect(h2.find(/BACKUP -> MASTER/, from2)).toBeUndefined();
    expect(await curl(c.lan, URL_)).toBe('h1');

    // The status page: failed action and failcount, rendered by headless Chromium.
    const page = join(c.dir, 'status.html');
    const out = await h2.cli('status', '-s', h2.socket, '--output', 'html', page);
    expect(out.code).toBe(0);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('web_monitor_1000');
    expect(html).toContain('cannot run here: web failed 2 times (migration-threshold 2)');
    const shot = await screenshot(page, join(REPO_ROOT, 'artifacts/status-page.png'));
    expect(shot.text).toContain('web_monitor_1000');
    expect(shot.text).toMatch(/2 \/ 2/); // fail-count / threshold column
    expect(shot.text).toContain("'not running' (7)");

    // Cleanup lifts standby; h1 keeps the group (no preemption): no needless move back.
    const cl = await h2.cli('resource', 'cleanup', 'web', '-s', h2.socket);
    expect(cl.code).toBe(0);
    await waitFor('h2 eligible again', async () => {
      const g = (await h2.resources()).groups[0]!;
      return g.eligible && !g.standby && g.members.every((m) => m.failcount === 0);
    }, 10_000);
    await sleep(1500);
    expect(await h1.state()).toBe('MASTER');
    expect(await curl(c.lan, URL_)).toBe('h1');
  });

  it('operator restart, move and clear', async () => {
    const from1 = h1.lines.length;
    const rs = await h1.cli('resource', 'restart', 'data', '-s', h1.socket);
    expect(rs.code).toBe(0);
    await waitFor('restart done', async () => actions(h1, from1).length === 4 && (await h1.resources()).groups[0]!.state === 'Started', 20_000);
    expect(actions(h1, from1)).toEqual(['stopping web', 'stopping data', 'starting data', 'starting web']);
    const bad = await h2.cli('resource', 'restart', 'data', '-s', h2.socket);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('data is not running here');
    const from2 = h2.lines.length;
    const mv = await h1.cli('resource', 'move', 'www', '-s', h1.socket);
    expect(mv.code).toBe(0);
    await waitFor('h2 serving after move', async () => (await curl(c.lan, URL_)) === 'h2' || undefined, 30_000, 50);
    expect((await h1.resources()).groups[0]).toMatchObject({ moved: true, standby: true, eligible: false });
    expect(actions(h2, from2)).toEqual(['starting web-ip', 'starting data', 'starting web']);
    expect((await h1.cli('resource', 'clear', 'www', '-s', h1.socket)).code).toBe(0);
    await waitFor('h1 standby lifted', async () => !(await h1.resources()).groups[0]!.standby, 5000);
  });
});

/** Open the page in headless Chromium (Debian's), save a screenshot, return the visible text. */
async function screenshot(file: string, png: string): Promise<{ text: string }> {
  if (!existsSync('/usr/bin/chromium')) throw new Error('headless check needs Debian chromium: apt-get install -y chromium');
  const { chromium } = await import('playwright-core');
  mkdirSync(join(REPO_ROOT, 'artifacts'), { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`file://${file}`);
    await page.screenshot({ path: png, fullPage: true });
    return { text: await page.innerText('body') };
  } finally {
    await browser.close();
  }
}
