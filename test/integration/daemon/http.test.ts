/**
 * The HTTP listener with real clients, inside a namespace LAN: Debian's `prometheus` scrapes a
 * backup's `/metrics` on the namespace's loopback and its query API answers the state; Debian's
 * `chromium` (headless, started inside the same namespace) shows the dashboard and sees the
 * failover live, without a reload, when the master's daemon stops. The screenshot goes to a temp
 * dir (printed), not into the repository.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/lib/exec.js';
import { Workdir, nativeConfig, socketOf, startNative, stateOf } from '../helpers/carp.js';
import { Proc, ProcSet, ROOT, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { useLab } from '../helpers/lab.js';
import { renderDashboard } from '../../../src/status/dashboard.js';
import { status as fixture } from '../../status/fixtures.js';

const HTTP = '127.0.0.1:9650';
const PROM = '127.0.0.1:9090';
const VIP = '10.79.0.100/24';

/** GET inside a namespace with Debian's curl; the body, or undefined while nothing answers. */
async function curl(ns: string, url: string): Promise<string | undefined> {
  const r = await run(inNs(ns, ['curl', '-sf', '--max-time', '2', url]), { allowFail: true });
  return r.code === 0 ? r.stdout : undefined;
}

/** Debian's chromium, headless, through playwright-core (no browser download). */
async function launchChromium(executablePath = '/usr/bin/chromium') {
  if (!existsSync('/usr/bin/chromium')) throw new Error('needs Debian chromium: apt-get install -y chromium');
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

interface PromVector { status: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } }

async function promQuery(ns: string, expr: string): Promise<PromVector['data']['result'] | undefined> {
  const body = await curl(ns, `http://${PROM}/api/v1/query?query=${encodeURIComponent(expr)}`);
  if (!body) return undefined;
  const v = JSON.parse(body) as PromVector;
  return v.status === 'success' ? v.data.result : undefined;
}

describe.skipIf(!isRoot)(`HTTP listener: prometheus and the live dashboard (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('hm', { hosts: 2, subnet: '10.79.0', client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const h = (i: number) => lan.hosts[i - 1]!;
  let master: Proc | undefined;

  it('listens only where configured: h1 (no http:) opens no TCP port, h2 serves /metrics on its loopback', async () => {
    master = startNative(procs, h(1), nativeConfig(wd, h(1), { advbase: 1, deadratio: 3, advskew: 0, preempt: true, addresses: [VIP] }));
    await until(async () => (await stateOf(socketOf(wd, h(1)))) === 'MASTER', 10_000, 50, 'h1 MASTER');
    const backup = startNative(procs, h(2), nativeConfig(wd, h(2), { advbase: 1, deadratio: 3, advskew: 100, addresses: [VIP], top: `http: { listen: ${HTTP} }` }));
    await backup.waitFor(/HTTP listener on http:\/\/127\.0\.0\.1:9650\//, 10_000);
    await until(async () => (await stateOf(socketOf(wd, h(2)))) === 'BACKUP', 10_000, 50, 'h2 BACKUP');
    expect((await run(inNs(h(1).ns, ['ss', '-Htln']))).stdout.trim()).toBe('');
    const metrics = await curl(h(2).ns, `http://${HTTP}/metrics`);
    expect(metrics).toMatch(/^carpool_instance_state\{instance="web",protocol="carp",interface="eth0",vhid="10",state="BACKUP"\} 1$/m);
    const status = JSON.parse((await curl(h(2).ns, `http://${HTTP}/status`))!) as { instances: { state: string }[] };
    expect(status.instances[0]!.state).toBe('BACKUP');
  });

  it("Debian's prometheus scrapes it and its query API returns the state", async () => {
    if (!existsSync('/usr/bin/prometheus')) throw new Error('needs Debian prometheus: apt-get install -y prometheus');
    const dir = wd.path('prometheus');
    mkdirSync(dir);
    const config = join(dir, 'prometheus.yml');
    // honor_labels keeps our `instance` label (the carpool instance) instead of the target's.
    writeFileSync(config, [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: carpool',
      '    honor_labels: true',
      `    static_configs: [{ targets: ['${HTTP}'] }]`,
      '',
    ].join('\n'));
    const prom = procs.add(new Proc('prometheus', inNs(h(2).ns, ['prometheus', `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${PROM}`, '--storage.tsdb.retention.time=1h', '--log.level=warn'])));
    const r = await until(async () => {
      const res = await promQuery(h(2).ns, 'carpool_instance_state{instance="web",state="BACKUP"}');
      return res?.length ? res : false;
    }, 30_000, 250, `prometheus answering (its output: ${prom.lines.slice(-5).join(' | ')})`);
    if (!r) throw new Error('no result');
    expect(r[0]!.metric).toMatchObject({ __name__: 'carpool_instance_state', job: 'carpool', instance: 'web', protocol: 'carp', interface: 'eth0', vhid: '10', state: 'BACKUP' });
    expect(r[0]!.value[1]).toBe('1');
    const up = await promQuery(h(2).ns, 'up{job="carpool"}');
    expect(up?.[0]?.value[1]).toBe('1');
  });

  it('the dashboard in headless Chromium shows the failover live, without a reload', async () => {
    const shots = mkdtempSync(join(tmpdir(), 'carpool-dashboard-'));
    // Chromium runs inside h2's namespace (its loopback is where the daemon listens);
    // playwright talks to it over a pipe, which crosses namespaces.
    const wrapper = join(shots, 'chromium-in-ns');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${h(2).ns} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
    const browser = await launchChromium(wrapper);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      let navigations = 0;
      page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
      await page.goto(`http://${HTTP}/`);
      const card = page.locator('.card[data-instance="web"] .state');
      await expect.poll(() => card.innerText(), { timeout: 5000 }).toBe('BACKUP');
      await expect.poll(() => page.locator('#conn').innerText(), { timeout: 5000 }).toMatch(/live/);
      await page.evaluate(() => { (globalThis as unknown as { marker: number }).marker = 42; });
      await page.screenshot({ path: join(shots, 'before.png'), fullPage: true });

      // Failover: the master's daemon stops (bow-out), h2 takes over.
      const t0 = Date.now();
      await master!.stop('SIGTERM');
      await expect.poll(() => card.innerText(), { timeout: 8000, interval: 50 }).toBe('MASTER');
      const seenAfterMs = Date.now() - t0;
      await expect.poll(() => page.locator('#timeline tr').nth(1).innerText(), { timeout: 3000 }).toMatch(/web\s+BACKUP\s+→\s+MASTER/);
      expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 'same document: no reload').toBe(42);
      expect(navigations, 'no navigation after the first load').toBe(1);
      expect(await stateOf(socketOf(wd, h(2)))).toBe('MASTER');
      await page.screenshot({ path: join(shots, 'after-failover.png'), fullPage: true });
      console.log(`dashboard showed MASTER ${seenAfterMs} ms after SIGTERM to the master; screenshots: ${shots}`);
    } finally {
      await browser.close();
    }
    // And prometheus sees the new state on its next scrapes.
    await until(async () => (await promQuery(h(2).ns, 'carpool_instance_state{instance="web",state="MASTER"} == 1'))?.length, 10_000, 250, 'prometheus sees MASTER');
    const transitions = await promQuery(h(2).ns, 'carpool_instance_transitions_total{instance="web"}');
    expect(Number(transitions?.[0]?.value[1])).toBeGreaterThanOrEqual(2);
  });

  it('carpool check refuses a non-loopback listener without tls and a token, with file:line', async () => {
    const file = wd.write('open.yaml', `http:\n  listen: 0.0.0.0:9650\ninstances:\n  - { name: web, interface: eth0, vhid: 1, password: s, addresses: [10.79.0.100/24] }\n`, 0o600);
    const r = await run([process.execPath, `${ROOT}bin/carpool`, 'check', '-c', file], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${file}:2:11`);
    expect(r.stderr).toContain('listening on 0.0.0.0 needs tls and a token (the status shows addresses and states)');
  });
});

describe('the dashboard page renders resources and their failures', () => {
  it('shows groups, fail-counts and failed actions from the status document', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const now = Date.now();
      const timeline = [
        { at: new Date(now - 2000).toISOString(), instance: 'web', from: 'BACKUP', to: 'MASTER', reason: 'master-down timeout' },
        { at: new Date(now - 60_000).toISOString(), instance: 'VI_1', from: 'INIT', to: 'BACKUP', reason: 'startup' },
      ];
      await page.setContent(renderDashboard({ status: fixture, timeline }));
      const text = await page.innerText('body');
      expect(text).toMatch(/Group www follows web \(MASTER here\):\s*Started/);
      expect(text).toMatch(/site\s+builtin:http\s+Started\s+1 \/ 3\s+-/);
      expect(text).toMatch(/site_monitor_2000\s+'not running' \(7\) complete\s+HTTP 503 from "http:\/\/10\.0\.0\.100\/"/);
      expect(await page.locator('.card').count()).toBe(2);
      expect(await page.locator('.card[data-instance="VI_1"] .state').innerText()).toBe('BACKUP');
      expect(await page.locator('#timeline tr').count()).toBe(3);
      expect(text).toContain('priority 130 (configured 150)');
      const shots = mkdtempSync(join(tmpdir(), 'carpool-dashboard-'));
      await page.screenshot({ path: join(shots, 'resources.png'), fullPage: true });
      console.log(`screenshot: ${join(shots, 'resources.png')}`);
    } finally {
      await browser.close();
    }
  });
});
