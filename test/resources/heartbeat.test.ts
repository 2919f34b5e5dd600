/**
 * `carpool import-heartbeat`: seed 002's ha.cf and authkeys (appendix B.1) with a haresources
 * of ours, a Heartbeat 1 pair (bcast, md5, ipfail, drbddisk), and `crm on` with seed 002's CIB
 * become carpool YAML that `carpool check` accepts; what is not carried is said, with the line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { golden, TESTDATA } from '../helpers/golden.js';
import { importHeartbeat, type HeartbeatFiles } from '../../src/resources/heartbeat.js';
import { parseCarpoolYaml } from '../../src/config/yaml/parse.js';

function files(dir: string, cib?: string): HeartbeatFiles {
  const read = (f: string) => { try { return readFileSync(join(TESTDATA, 'heartbeat', dir, f), 'utf8'); } catch { return undefined; } };
  return {
    dir: `/etc/ha.d`, haCf: read('ha.cf')!, authkeys: read('authkeys')!, haresources: read('haresources')!,
    ...(cib ? { cib: readFileSync(join(TESTDATA, 'cib', cib), 'utf8'), cibName: cib } : {}),
  };
}
/** The CLI from source: `carpool ARGS`. */
function carpool(...args: string[]): { code: number; stdout: string; stderr: string } {
  const root = join(TESTDATA, '..');
  const script = `import('${join(root, 'src/cli/main.ts')}').then((m) => m.main(${JSON.stringify(args)})).then((c) => { process.exitCode = c ?? 0; })`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8' });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}
const notCarried = (r: ReturnType<typeof importHeartbeat>) => r.messages.filter((m) => m.level !== 'note').map((m) => m.text);

describe('import-heartbeat', () => {
  it("seed 002's B.1 files: a VRRP v3 instance with unicast peers, 100 ms adverts, 1 s dead time; the haresources group", () => {
    const r1 = importHeartbeat(files('seed-002'), { node: 'node-1', ownAddresses: ['127.0.0.1', '192.168.0.50'] });
    const r2 = importHeartbeat(files('seed-002'), { node: 'node-2', ownAddresses: ['192.168.0.51'] });
    golden('heartbeat/seed-002/node-1.yaml', r1.yaml);
    golden('heartbeat/seed-002/node-2.yaml', r2.yaml);
    const c1 = parseCarpoolYaml(r1.yaml).config;
    const c2 = parseCarpoolYaml(r2.yaml).config;
    expect(c1.instances[0]).toMatchObject({
      kind: 'vrrp', version: 3, interface: 'eth1', vrid: 1, priority: 150, preempt: true, advertIntervalMs: 100, downTimerAdverts: 10,
      unicastPeers: ['192.168.0.51'], srcip: '192.168.0.50', addresses: [{ address: '192.168.1.100', prefix: 24, dev: 'eth0' }],
      trackInterfaces: [{ name: 'eth0', weight: 0 }],
    });
    expect(c2.instances[0]).toMatchObject({ priority: 100, unicastPeers: ['192.168.0.50'], srcip: '192.168.0.51' });
    expect(c1.resources).toMatchObject({ groups: [{ id: 'group1', instance: 'heartbeat1', members: ['delay'] }],
      resources: [{ id: 'delay', agent: { class: 'ocf', provider: 'heartbeat', type: 'Delay' }, params: { startdelay: '0', stopdelay: '0' } }] });
    expect(notCarried(r1)).toEqual([
      '/etc/ha.d/ha.cf:13: initdead 10: not carried — a carpool node starts as backup and takes over after the dead time without a longer first wait',
      expect.stringMatching(/^authkeys: the sha1 key is not carried — VRRP has no keyed authentication/),
      expect.stringMatching(/^crm on: Heartbeat reads the resources from the CIB .* haresources imported instead — give --cib FILE/),
    ]);
  });

  it('a Heartbeat 1 pair: CARP with the md5 key, bare and IPaddr2 addresses, v1 wrappers as OCF, init scripts as LSB; drbddisk, ipfail reported', () => {
    const r = importHeartbeat(files('v1-mixed'), { node: 'alpha', ownAddresses: [] });
    golden('heartbeat/v1-mixed/alpha.yaml', r.yaml);
    const { config } = parseCarpoolYaml(r.yaml);
    expect(config.instances.map((i) => i.kind === 'carp' && [i.name, i.vhid, i.advskew, i.advbase, i.deadratio, i.preempt, i.password])).toEqual([
      ['heartbeat1', 1, 0, 2, 5, false, 'Hello-this-is-a-lon'], ['heartbeat2', 2, 100, 2, 5, false, 'Hello-this-is-a-lon'],
    ]);
    expect(config.resources!.groups.map((g) => [g.id, g.instance, g.members])).toEqual([
      ['group1', 'heartbeat1', ['filesystem', 'apache']], ['group2', 'heartbeat2', ['postfix', 'mailto']],
    ]);
    expect(config.resources!.resources.find((x) => x.id === 'filesystem')!.params).toEqual({ device: '/dev/drbd0', directory: '/srv', fstype: 'ext4' });
    const lost = notCarried(r).join('\n');
    for (const s of ['initdead 60', 'ping 10.0.0.254', 'bcast eth1, bcast eth2', "md5 key is longer than CARP's 19 bytes", 'haresources:1: drbddisk::r0',
      'haresources:3: 10.0.0.101: no prefix length', 'haresources:3: Bogus::x', 'CARP tracks only its own interface (eth1)']) expect(lost).toContain(s);
  });

  it('crm on with the CIB: the groups of the CIB follow the instance that holds --address', () => {
    const r = importHeartbeat(files('seed-002', 'seed002-b5-mail.xml'), { node: 'node-1', ownAddresses: ['192.168.0.50'], address: '192.168.1.100/24' });
    const { config } = parseCarpoolYaml(r.yaml);
    expect(config.instances[0]).toMatchObject({ name: 'heartbeat1', priority: 100, addresses: [{ address: '192.168.1.100', prefix: 24 }] });
    expect(config.resources!.groups).toEqual([{ id: 'mail-server', instance: 'heartbeat1', members: ['mail-homes', 'mail-spool', 'postfix', 'xinetd', 'private-net', 'public'] }]);
    expect(r.messages).toContainEqual({ level: 'note', text: 'crm on: /etc/ha.d/haresources is ignored, as Heartbeat does; the resources come from the CIB' });
    // A CIB's location preference (Heartbeat 2: a #uname rule) is the preferred node, as a haresources line's first word.
    const pref = importHeartbeat(files('seed-002', 'heartbeat2-constraints.xml'), { node: 'node-1', ownAddresses: ['192.168.0.50'], address: '192.168.1.100/24' });
    expect(parseCarpoolYaml(pref.yaml).config.instances[0]).toMatchObject({ priority: 150 });
    const other = importHeartbeat(files('seed-002', 'heartbeat2-constraints.xml'), { node: 'node-2', ownAddresses: ['192.168.0.51'], address: '192.168.1.100/24' });
    expect(parseCarpoolYaml(other.yaml).config.instances[0]).toMatchObject({ priority: 100 });
    expect(parseCarpoolYaml(other.yaml).config.resources!.groups.map((g) => [g.id, g.after, g.with])).toEqual([['group_www', undefined, undefined], ['group_mail', ['group_www'], 'group_www']]);
    const none = importHeartbeat(files('seed-002', 'seed002-b5-mail.xml'), { node: 'node-1', ownAddresses: [] });
    expect(none.messages.filter((m) => m.level === 'error').map((m) => m.text)).toContain("crm on: give the virtual address the groups follow with --address CIDR (the CIB's IPaddr resources stay resources)");
  });

  it('the command: same YAML as the function, --strict exits 2 on what is not carried, 1 on what could not be imported', () => {
    const dir = join(TESTDATA, 'heartbeat/seed-002');
    const r = carpool('import-heartbeat', dir, '--node', 'node-1', '--source', '192.168.0.50');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(dir, 'node-1.yaml'), 'utf8').replace('import-heartbeat /etc/ha.d', `import-heartbeat ${dir}`).replaceAll('/etc/ha.d/', `${dir}/`));
    expect(r.stderr).toContain('import-heartbeat: warning: authkeys: the sha1 key is not carried');
    const strict = carpool('import-heartbeat', dir, '--node', 'node-1', '--source', '192.168.0.50', '--strict');
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain('import-heartbeat: --strict: 3 things not carried');
    expect(carpool('import-heartbeat', join(TESTDATA, 'heartbeat/v1-mixed'), '--node', 'alpha').code).toBe(1);
    const missing = carpool('import-heartbeat', join(TESTDATA, 'heartbeat/nonexistent'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nonexistent\/ha\.cf/);
  });
});
