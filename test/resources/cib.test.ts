/**
 * `carpool import-cib` / `export-cib`: seed 002's Heartbeat 2 CIBs (appendix B.5 mail server,
 * B.6 NFS server) become YAML that `carpool check` accepts, with their custom agents reported
 * as needing a provider; a plain Pacemaker Dummy/IPaddr2 group round-trips exactly.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { golden } from '../helpers/golden.js';
import { exportCib, importCib } from '../../src/resources/cib.js';
import { parseCarpoolYaml } from '../../src/config/yaml/parse.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const cib = (name: string) => readFileSync(join(ROOT, 'testdata/cib', name), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'carpool-cib-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function instances(name: string): string {
  return `instances:\n  - { name: ${name}, interface: eth0, vhid: 1, password: secret, addresses: [10.0.0.1/24] }\n`;
}

/** The CLI from source (no build needed): `carpool ARGS`. */
function carpool(...args: string[]): { code: number; stdout: string; stderr: string } {
  return carpoolEnv({}, ...args);
}

function carpoolEnv(env: NodeJS.ProcessEnv, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const script = `import('${join(ROOT, 'src/cli/main.ts')}').then((m) => m.main(${JSON.stringify(args)})).then((c) => { process.exitCode = c ?? 0; })`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

describe('import-cib', () => {
  for (const [file, instance, group, members] of [
    ['seed002-b5-mail.xml', 'mail', 'mail-server', ['mail-homes', 'mail-spool', 'postfix', 'xinetd', 'private-net', 'public']],
    ['seed002-b6-nfs.xml', 'nfs', 'nfs-server', ['nfs-exports', 'nfs', 'private-net', 'public-net']],
  ] as const) {
    it(`turns seed 002's ${file} into YAML that carpool check accepts`, () => {
      const imp = carpool('import-cib', join(ROOT, 'testdata/cib', file), '--instance', instance);
      expect(imp.code).toBe(0);
      golden(`cib/${file.replace(/\.xml$/, '.yaml')}`, imp.stdout);
      expect(imp.stderr).toMatch(/joined \d+ line continuations/);
      expect(imp.stderr).toMatch(/is a custom agent \(provider 'myResources' is not shipped by resource-agents\)/);
      const { config } = parseCarpoolYaml(instances(instance) + imp.stdout);
      expect(config.resources!.groups).toEqual([{ id: group, instance, members: [...members] }]);
      const cfgFile = join(dir, `${instance}.yaml`);
      writeFileSync(cfgFile, instances(instance) + imp.stdout, { mode: 0o600 });
      const chk = carpool('check', '-c', cfgFile);
      expect(chk.code).toBe(0);
      expect(chk.stdout).toContain(`OK (1 instance: ${instance}; ${members.length} resources in 1 group: ${group}`);
      // Each custom agent is reported as needing its provider directory.
      const missing = chk.stderr.split('\n').filter((l) => /warning: resource '.+': agent ocf:myResources:\w+ is not installed/.test(l));
      expect(missing).toHaveLength(members.length);
      expect(chk.stderr).toContain("'myResources' is a custom provider: install its agent in that directory");
    });
  }

  it('carpool check rejects a missing required parameter (agent meta-data) and survives garbage meta-data', () => {
    const ra = join(dir, 'ra', 'junk');
    mkdirSync(ra, { recursive: true });
    writeFileSync(join(ra, 'garbage'), "#!/bin/sh\nprintf '\\001<resource-agent><oops>'; exit 0\n", { mode: 0o755 });
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `${instances('vip')}resources:
  - id: addr
    agent: ocf:heartbeat:IPaddr2
    params: { cidr_netmask: 24 }
  - id: junk
    agent: ocf:junk:garbage
  - id: data
    agent: ocf:heartbeat:Dummy
    params: { state: /nonexistent-dir/data.state }
groups:
  - { id: g, instance: vip, resources: [addr, junk, data] }
`, { mode: 0o600 });
    const r = carpoolEnv({ CARPOOL_OCF_RA_PATH: `${join(dir, 'ra')}:/usr/lib/ocf/resource.d` }, 'check', '-c', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:4:5: resource 'addr': ocf:heartbeat:IPaddr2 requires parameter 'ip'`);
    expect(r.stderr).toMatch(new RegExp(`${file}:7:5: warning: resource 'junk': cannot read the meta-data of ocf:junk:garbage: not well-formed XML`));
    expect(r.stderr).not.toContain('validate-all');
    // --validate asks the agents themselves (Dummy: is the state file's directory writable here?).
    const v = carpoolEnv({ CARPOOL_OCF_RA_PATH: `${join(dir, 'ra')}:/usr/lib/ocf/resource.d` }, 'check', '--validate', '-c', file);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(`${file}:9:5: resource 'data': ocf:heartbeat:Dummy validate-all says 'invalid parameter' (2): State file "/nonexistent-dir/data.state" is not writable`);
  });

  it('maps the Heartbeat 2.0 dialect faithfully (attributes wrapper, is_managed, 5s monitors)', () => {
    const r = importCib(cib('seed002-b5-mail.xml'), { instance: 'mail' });
    const { config } = parseCarpoolYaml(instances('mail') + r.yaml);
    const homes = config.resources!.resources.find((x) => x.id === 'mail-homes')!;
    expect(homes).toMatchObject({
      agent: { class: 'ocf', provider: 'myResources', type: 'Filesystem' },
      params: { device: '192.168.0.3:/export/mail/home', directory: '/home', fstype: 'nfs', options: 'rw,tcp,rsize=32768,wsize=32768' },
      monitor: { intervalMs: 5000, timeoutMs: 20_000, onFail: 'restart' },
    });
    expect(config.resources!.resources.find((x) => x.id === 'public')!.params).toEqual({ ip: '123.123.123.1', netmask: '24', nic: 'eth0', gateway: '123.123.123.254' });
    expect(r.messages.filter((m) => m.level === 'error')).toEqual([]);
  });

  it('round-trips a plain Dummy/IPaddr2 group exactly (CIB → YAML → CIB)', () => {
    const xml = cib('plain-group.xml');
    const imp = importCib(xml, { instance: 'vip', source: 'plain-group.xml' });
    expect(imp.messages).toEqual([]);
    golden('cib/plain-group.yaml', imp.yaml);
    const { config } = parseCarpoolYaml(instances('vip') + imp.yaml);
    const exp = exportCib(config.resources!);
    expect(exp.xml).toBe(xml);
    // And YAML → CIB → YAML is stable too.
    expect(importCib(exp.xml, { instance: 'vip', source: 'plain-group.xml' }).yaml).toBe(imp.yaml);
  });

  it('says what it cannot map', () => {
    const r = importCib(`<cib><configuration><resources>
      <primitive id="fence1" class="stonith" type="fence_ipmilan"/>
      <primitive id="old" class="heartbeat" type="IPaddr"/>
      <primitive id="solo" class="ocf" provider="heartbeat" type="Dummy">
        <meta_attributes id="m"><nvpair id="m1" name="target-role" value="Stopped"/><nvpair id="m2" name="resource-stickiness" value="100"/></meta_attributes>
        <operations><op id="o1" name="monitor" interval="10" role="Master"/><op id="o2" name="stop" interval="0" on-fail="fence"/></operations>
      </primitive>
      <clone id="ping-clone"><primitive id="ping" class="ocf" provider="pacemaker" type="ping"/></clone>
      <primitive id="svc" class="lsb" type="postfix"><instance_attributes id="i"><nvpair id="i1" name="x" value="1"/></instance_attributes></primitive>
    </resources></configuration></cib>`, { instance: 'vip' });
    const texts = r.messages.map((m) => `${m.level}: ${m.text}`);
    expect(texts).toEqual(expect.arrayContaining([
      'error: primitive \'fence1\': fencing devices (class stonith) are not supported by carpool; skipped',
      expect.stringMatching(/^error: primitive 'old': Heartbeat v1 resource scripts/),
      'warning: primitive \'solo\': target-role=Stopped is not supported; the resource runs wherever its group\'s instance is master',
      'warning: primitive \'solo\': op monitor for role Master is not supported (no promotable resources); skipped',
      'warning: primitive \'solo\' op stop: on-fail=fence needs fencing, which carpool does not do; block used instead',
      expect.stringMatching(/^warning: clone 'ping-clone': carpool has no clones/),
      'warning: primitive \'svc\': lsb resources take no parameters; x dropped',
    ]));
    const { config } = parseCarpoolYaml(instances('vip') + r.yaml);
    expect(config.resources!.groups.map((g) => g.id)).toEqual(['solo-group', 'svc-group', 'ping-clone-group']);
    expect(importCib('<resources><primitive id="x"', { instance: 'vip' }).messages[0]!.text).toMatch(/^not well-formed XML/);
    const deep = `<cib><configuration><resources>${'<group id="g">'.repeat(200)}${'</group>'.repeat(200)}</resources></configuration></cib>`;
    expect(importCib(deep, { instance: 'vip' }).messages).toEqual([{ level: 'error', text: expect.stringMatching(/^the CIB:1:886: XML elements nested more than 64 levels deep .*a CIB nests about ten levels deep\)$/) }]);
  });

  /** Every message of `r` that says something was not carried, with the id it names. */
  const notCarried = (r: ReturnType<typeof importCib>) => r.messages.filter((m) => m.level !== 'note').map((m) => m.text);

  it('carries templates, defaults, order and colocation; reports every constraint, master/slave and option it cannot (Pacemaker CIB)', () => {
    const r = importCib(cib('pacemaker-constraints.xml'), { instance: 'vip', source: 'pacemaker-constraints.xml' });
    golden('cib/pacemaker-constraints.yaml', r.yaml);
    const { config } = parseCarpoolYaml(instances('vip') + r.yaml);
    const res = config.resources!;
    expect(res.groups).toEqual([
      { id: 'db', instance: 'vip', members: ['db-ip', 'db-data'] },
      { id: 'web', instance: 'vip', members: ['web-ip', 'web-app'], after: ['db'], with: 'db' },
      { id: 'report-group', instance: 'vip', members: ['report'], after: ['db'] },
    ]);
    // Template resolved (class and type, its parameter and stop op; the primitive's own monitor wins), defaults applied.
    expect(res.resources.find((x) => x.id === 'db-data')).toMatchObject({
      agent: { class: 'ocf', provider: 'heartbeat', type: 'Dummy' }, params: { fake: 'template', state: '/run/db-data.state' },
      monitor: { intervalMs: 5000, timeoutMs: 15_000 }, start: { timeoutMs: 60_000 }, stop: { timeoutMs: 40_000 }, migrationThreshold: 3,
    });
    expect(res.resources.find((x) => x.id === 'web-app')).toMatchObject({ monitor: { intervalMs: 20_000, timeoutMs: 60_000 }, migrationThreshold: 3 });
    // Every element that is not carried is named with its id: constraints, the master/slave set, the bad template, options.
    const lost = notCarried(r).join('\n');
    for (const id of ['order-web-report-optional', 'order-drbd-promote-db', 'colocation-report-web-away', 'colocation-db-drbd-master', 'location-web-node2-ban',
      'location-report-rule', 'ticket-db', 'ms-drbd', 'no-such-template', 'record-pending', 'stonith-enabled', 'no-quorum-policy',
      "node 'node2': attribute standby=on", '<fencing-topology>']) {
      expect(lost).toContain(id);
    }
    expect(r.lost).toBe(15);
    // What is carried is said as a note: the location preference as the instance's priority, the member order as group order.
    expect(r.yaml).toContain("#   node1 preferred for group 'db' (rsc_location 'location-db-node1-100', score 100): give node1 the higher priority of instance 'vip'");
    expect(r.messages).toContainEqual({ level: 'note', text: "rsc_order 'order-db-ip-report': between members of groups: carried as group 'report-group' after group 'db'", kind: 'rsc_order' });
    // import | export | import keeps everything carpool carried.
    const again = importCib(exportCib(res).xml, { instance: 'vip', source: 'pacemaker-constraints.xml' });
    expect(notCarried(again)).toEqual([]);
    const back = parseCarpoolYaml(instances('vip') + again.yaml).config.resources!;
    const strip = (x: typeof res) => ({ ...x, resources: x.resources.map(({ origin: _o, ...rest }) => rest) });
    expect(strip(back)).toEqual(strip(res));
  });

  it('reads a Heartbeat 2 CIB: meta attributes among the instance attributes, from/to constraints, #uname rules, master_slave', () => {
    const r = importCib(cib('heartbeat2-constraints.xml'), { instance: 'vip', source: 'heartbeat2-constraints.xml' });
    golden('cib/heartbeat2-constraints.yaml', r.yaml);
    const { config } = parseCarpoolYaml(instances('vip') + r.yaml);
    expect(config.resources!.groups).toEqual([
      { id: 'group_www', instance: 'vip', members: ['www_ip', 'www_apache'] },
      { id: 'group_mail', instance: 'vip', members: ['mail_ip'], after: ['group_www'], with: 'group_www' },
    ]);
    const mail = config.resources!.resources.find((x) => x.id === 'mail_ip')!;
    expect(mail.params).toEqual({ ip: '192.168.0.101' }); // not migration_threshold
    expect(mail).toMatchObject({ migrationThreshold: 2, start: { timeoutMs: 30_000 } });
    expect(config.resources!.resources.find((x) => x.id === 'www_ip')!.params).toEqual({ ip: '192.168.0.100' });
    expect(notCarried(r)).toEqual([
      'crm_config: cluster option default-resource-stickiness=INFINITY has no carpool equivalent; not carried',
      'crm_config: cluster option symmetric_cluster=true has no carpool equivalent; not carried',
      "primitive 'www_apache': target-role=stopped is not supported; the resource runs wherever its group's instance is master",
      expect.stringMatching(/^master\/slave resource 'ms_drbd0': carpool has no promotable resources/),
      "rsc_colocation 'www_with_drbd': roles master are not supported (no promotable resources); not carried",
    ]);
    expect(r.yaml).toContain("#   node-1 preferred for group 'group_www' (rsc_location 'run_www', score 100)");
  });

  it('round-trips order and colocation between groups (CIB → YAML → CIB), and --strict fails on what is not carried', () => {
    const xml = cib('ordered-groups.xml');
    const imp = importCib(xml, { instance: 'vip', source: 'ordered-groups.xml' });
    expect(notCarried(imp)).toEqual([]);
    const { config } = parseCarpoolYaml(instances('vip') + imp.yaml);
    expect(config.resources!.groups.map((g) => [g.id, g.after, g.with])).toEqual([['db', undefined, undefined], ['web', ['db'], 'db'], ['report', ['db', 'web'], undefined]]);
    expect(exportCib(config.resources!).xml).toBe(xml);
    const ok = carpool('import-cib', join(ROOT, 'testdata/cib/ordered-groups.xml'), '--strict');
    expect(ok.code).toBe(0);
    const strict = carpool('import-cib', join(ROOT, 'testdata/cib/heartbeat2-constraints.xml'), '--strict');
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain('import-cib: --strict: 5 things of the CIB not carried');
    expect(carpool('import-cib', join(ROOT, 'testdata/cib/heartbeat2-constraints.xml')).code).toBe(0);
  });

  it('says hundreds of constraints of one kind in one summary line with their ids', () => {
    const locs = Array.from({ length: 300 }, (_, i) => `<rsc_location id="loc-${i}" rsc="g" node="n${i}" score="-INFINITY"/>`).join('');
    const r = importCib(`<cib><configuration><resources><group id="g"><primitive id="p" class="ocf" provider="heartbeat" type="Dummy"/></group></resources>` +
      `<constraints>${locs}<rsc_ticket id="t1" rsc="g" ticket="a"/></constraints></configuration></cib>`, { instance: 'vip' });
    const loc = r.messages.filter((m) => m.kind === 'rsc_location');
    expect(loc).toHaveLength(1);
    expect(loc[0]!.text).toMatch(/^300 rsc_location not carried \(loc-0, loc-1, .*, loc-9, \.\.\. and 290 more\); the first: rsc_location 'loc-0': group 'g' must never run on n0/);
    expect(r.messages.filter((m) => m.kind === 'rsc_ticket')).toHaveLength(1);
    expect(r.lost).toBe(2);
  });
});
