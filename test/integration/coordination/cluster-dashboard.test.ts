/**
 * The live dashboard of a daemon with `cluster:` shows the whole cluster (issue 16, "the live
 * dashboard when it exists"): h1 runs one etcd member (Debian's etcd-server), h2..h4 run carpool
 * with a CARP instance and a `cluster:` block; h2 also serves the dashboard on its loopback.
 * Debian's chromium, headless inside h2's namespace, shows every node online and where the
 * instance is MASTER; a node killed with SIGKILL shows as GONE once etcd expires its lease, live,
 * without a reload. Screenshots go to a temp dir (printed).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LabHost } from '../../../src/lab/netns.js';
import { Workdir, socketOf } from '../helpers/carp.js';
import { hasEtcd, startEtcd } from '../helpers/etcd-lab.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, isRoot, skipReason } from '../helpers/procs.js';

const SUBNET = '10.85.0';
const HTTP = '127.0.0.1:9651';
const TTL_S = 3;
const hasChromium = existsSync('/usr/bin/chromium');

describe.skipIf(!isRoot || !hasEtcd || !hasChromium)(`the live dashboard shows the cluster (${skipReason}; needs etcd-server, chromium)`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('ecd', { hosts: 4, subnet: SUBNET, client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const nodes = () => [lan.host(2), lan.host(3), lan.host(4)];

  const start = (h: LabHost, k: number): Proc => {
    mkdirSync(wd.path(h.name), { recursive: true });
    const config = wd.write(`${h.name}.yaml`, [
      `control_socket: ${socketOf(wd, h)}`,
      `state_dir: ${wd.path(`${h.name}/state`)}`,
      ...(k === 0 ? [`http: { listen: ${HTTP} }`] : []),
      'instances:',
      `  - { name: web, interface: ${h.ifname}, vhid: 9, password: dashpw, advskew: ${(k + 1) * 50}, addresses: [${SUBNET}.100/24] }`,
      'cluster:',
      `  node: ${h.name}`,
      `  etcd: { endpoints: ["http://${lan.host(1).address}:2379"], prefix: /ecd, ttl: ${TTL_S}s }`,
      '',
    ].join('\n'), 0o600);
    return procs.add(new Proc(h.name, carpoolArgv(h.ns, ['run', '-c', config])));
  };

  it('every node online with the master of each instance; a SIGKILLed node shows GONE live, without a reload', async () => {
    startEtcd(procs, wd, lan.host(1));
    const daemons = nodes().map((h, k) => start(h, k));
    await daemons[0]!.waitFor(/HTTP listener on http:\/\/127\.0\.0\.1:9651\//, 15_000);
    const shots = mkdtempSync(join(tmpdir(), 'carpool-cluster-dashboard-'));
    const wrapper = join(shots, 'chromium-in-ns');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${nodes()[0]!.ns} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: wrapper,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      let navigations = 0;
      page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
      await page.goto(`http://${HTTP}/`);
      const row = (n: string) => page.locator(`#cluster-nodes tr[data-node="${n}"] .state`);
      // Start-up: the nodes publish within a ttl/3 of their start; h2 (advskew 50) becomes CARP master.
      for (const h of nodes()) await expect.poll(() => row(h.name).innerText(), { timeout: 30_000, interval: 200 }).toBe('online');
      const verdict = page.locator('#cluster-instances tr[data-instance="web"] .verdict');
      await expect.poll(() => verdict.innerText(), { timeout: 15_000, interval: 200 }).toMatch(/^MASTER on h\d$/);
      const master = (await verdict.innerText()).replace('MASTER on ', '');
      expect(await page.locator('#cluster-instances tr[data-instance="web"]').innerText()).toMatch(/h2 \w+.*h3 \w+.*h4 \w+/s);
      await page.evaluate(() => { (globalThis as unknown as { marker: number }).marker = 7; });
      await page.screenshot({ path: join(shots, 'before.png'), fullPage: true });

      // SIGKILL a node that is not the dashboard's: gone once etcd expires its lease.
      const victim = nodes().slice(1).find((h) => h.name !== master)!;
      const t0 = Date.now();
      await daemons[nodes().indexOf(victim)]!.stop('SIGKILL');
      await expect.poll(() => row(victim.name).innerText(), { timeout: 15_000, interval: 50 }).toBe('GONE');
      const tookMs = Date.now() - t0;
      const text = await page.locator(`#cluster-nodes tr[data-node="${victim.name}"]`).innerText();
      console.log(`cluster dashboard: ${victim.name} shown GONE ${tookMs} ms after SIGKILL (lease ttl ${TTL_S} s, dashboard pushes every 1 s); row: ${text.replace(/\s+/g, ' ')}; screenshots ${shots}`);
      expect(tookMs).toBeGreaterThan(TTL_S * 1000 - 1500); // not before its lease can have expired
      expect(tookMs).toBeLessThan(TTL_S * 1000 + 500 + 1000 + 1500); // expiry loop, one read, one push, slack
      expect(text).toContain('stopped publishing');
      expect(await page.locator('#cluster-nodes').innerText()).toMatch(/online[\s\S]*online/); // the two others
      expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 'same document: no reload').toBe(7);
      expect(navigations).toBe(1);
      await page.screenshot({ path: join(shots, 'gone.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
