/**
 * Order between groups with real OCF agents (issue 14): the CIB's `rsc_order first=db then=web`
 * imported as `after: [db]` makes the ResourceManager start web only once db is fully started
 * (db ends with ocf:heartbeat:Delay, whose start takes a second) and stop web before db. Without
 * the order both groups start at once, so the test fails if `after:` is ignored. No network:
 * the instance's transitions are fed as the daemon feeds them.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importCib } from '../../../src/resources/cib.js';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { ResourceManager } from '../../../src/resources/shell/manager.js';
import { REPO_ROOT, isRoot, waitFor } from './cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-order-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tag = `o${process.pid % 10000}`;

describe.skipIf(!isRoot)('order between groups, real agents', () => {
  it('starts the later group after the earlier one is started, and stops it first', async () => {
    // The round-trip CIB with state files here and a slow Delay agent at the end of db.
    const xml = readFileSync(join(REPO_ROOT, 'testdata/cib/ordered-groups.xml'), 'utf8')
      .replaceAll('/run/', `${dir}/`)
      .replace('</group>', `<primitive id="db-delay-${tag}" class="ocf" provider="heartbeat" type="Delay"><instance_attributes id="d">` +
        '<nvpair id="d1" name="startdelay" value="1"/><nvpair id="d2" name="stopdelay" value="1"/><nvpair id="d3" name="mondelay" value="0"/>' +
        '</instance_attributes></primitive></group>');
    const imp = importCib(xml, { instance: 'vip' });
    const { config } = parseCarpoolYaml(`instances:\n  - { name: vip, interface: eth0, vhid: 1, password: secret, addresses: [10.0.0.1/24] }\n${imp.yaml}`);
    const t0 = performance.now();
    const log: { t: number; text: string }[] = [];
    const rm = new ResourceManager({
      config: config.resources!, now: () => performance.now(), setStandby: () => undefined,
      log: { log: (_level, text) => log.push({ t: performance.now() - t0, text }) },
    });
    const at = (what: RegExp) => log.find((l) => what.test(l.text))?.t ?? NaN;
    try {
      rm.start();
      await waitFor('probes', () => rm.status().groups.every((g) => g.state === 'Stopped'), 10_000);
      rm.instanceChanged('vip', 'MASTER');
      await waitFor('all groups started', () => rm.status().groups.every((g) => g.state === 'Started'), 15_000);
      const dbReady = statSync(join(dir, 'db-data.state')).mtimeMs;
      const webUp = statSync(join(dir, 'web-app.state')).mtimeMs;
      // db-data, then the 1 s Delay, then web: web's start begins after db's last member started.
      expect(at(/starting web-app/) - at(/starting db-delay/)).toBeGreaterThanOrEqual(900);
      expect(webUp - dbReady).toBeGreaterThanOrEqual(900);
      expect(at(/starting report-job/)).toBeGreaterThan(at(/starting web-app/));
      rm.instanceChanged('vip', 'BACKUP');
      await waitFor('all groups stopped', () => rm.status().groups.every((g) => g.state === 'Stopped'), 15_000);
      const stops = log.map((l) => /: stopping (\S+) \(ocf:/.exec(l.text)?.[1]).filter((x) => x !== undefined);
      expect(stops).toEqual(['report-job', 'web-app', `db-delay-${tag}`, 'db-data']);
    } finally {
      await rm.shutdown();
    }
  });
});
