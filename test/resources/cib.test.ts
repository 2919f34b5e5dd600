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
  });
});
