import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ConfigDiagnostic } from '../../../src/config/diagnostics.js';
import { emitCarpoolYaml } from '../../../src/config/emit-yaml.js';
import { parseKeepalivedConf, type KeepalivedOptions } from '../../../src/config/keepalived/parse.js';
import { splitScriptWords, type KaFileHost } from '../../../src/config/keepalived/syntax.js';
import { globSegmentRegExp, expandBraces } from '../../../src/config/glob.js';
import { loadConfigFile } from '../../../src/config/load.js';
import type { VrrpInstance } from '../../../src/config/model.js';
import { configErrors } from '../../helpers/config.js';

const DATA = fileURLToPath(new URL('../../../testdata/keepalived/', import.meta.url));
const FILE = '/etc/keepalived/keepalived.conf';

function ka(text: string, options: KeepalivedOptions = {}) {
  return parseKeepalivedConf(text, { file: FILE, configId: 'lb1', ...options });
}
function problems(text: string, options: KeepalivedOptions = {}): ConfigDiagnostic[] {
  return configErrors(() => ka(text, options));
}
const where = (ds: readonly ConfigDiagnostic[]) => ds.map((d) => `${d.line}:${d.column} ${d.code}`);
const vrrp = (text: string, options?: KeepalivedOptions) => ka(text, options).config.instances as VrrpInstance[];
/** One instance block with the given lines (instance lines start at line 2). */
const inst = (lines: string, head = 'interface eth0\n  virtual_router_id 1\n  virtual_ipaddress { 10.0.0.1 }') =>
  `vrrp_instance VI_1 {\n  ${lines.trim().split('\n').join('\n  ')}\n  ${head}\n}\n`;
const warnings = (text: string, options?: KeepalivedOptions) => ka(text, options).warnings.map((w) => `${w.line}:${w.column} ${w.code}`);

function memHost(files: Record<string, string>): KaFileHost {
  return {
    readFile: (p) => {
      const t = files[p];
      if (t === undefined) throw new Error('ENOENT');
      return t;
    },
    glob: (pattern) => {
      const out = new Set<string>();
      for (const pat of expandBraces(pattern)) {
        const segs = pat.split('/');
        for (const f of Object.keys(files)) {
          const fs = f.split('/');
          if (fs.length === segs.length && segs.every((s, i) => globSegmentRegExp(s).test(fs[i]!))) out.add(f);
        }
      }
      return [...out].sort();
    },
  };
}

describe('seed 002, appendix B.11 (two LVS directors with keepalived)', () => {
  const read = (f: string) => readFileSync(posix.join(DATA, 'seed-002', f), 'utf8');
  it.each([
    ['director1.conf', { mail_vip: ['MASTER', 150], mail_gw: ['MASTER', 150], web_vip: ['BACKUP', 100], web_gw: ['BACKUP', 100] }],
    ['director2.conf', { mail_vip: ['BACKUP', 100], mail_gw: ['BACKUP', 100], web_vip: ['MASTER', 150], web_gw: ['MASTER', 150] }],
  ] as const)('%s: four instances on eth0/eth1 in two sync groups (with --vrrp-only)', (f, roles) => {
    const { config, warnings: ws } = parseKeepalivedConf(read(f), { file: f, vrrpOnly: true });
    const is = config.instances as VrrpInstance[];
    expect(is.map((i) => [i.name, i.interface, i.vrid, i.initialState, i.priority, i.syncGroup, i.addresses[0]!.address, i.authPass])).toEqual([
      ['mail_vip', 'eth0', 10, roles.mail_vip[0], roles.mail_vip[1], 'mailserver', '123.123.123.1', 'topSecret'],
      ['mail_gw', 'eth1', 11, roles.mail_gw[0], roles.mail_gw[1], 'mailserver', '192.168.0.1', 'verySecret'],
      ['web_vip', 'eth0', 20, roles.web_vip[0], roles.web_vip[1], 'webserver', '123.123.123.2', 'veryverySecret'],
      ['web_gw', 'eth1', 21, roles.web_gw[0], roles.web_gw[1], 'webserver', '192.168.0.2', 'totallySecret'],
    ]);
    for (const i of is) expect(i).toMatchObject({ version: 2, advertIntervalMs: 1000, preempt: true, family: 4, mcastGroup: '224.0.0.18' });
    expect(config.syncGroups).toEqual([
      { name: 'mailserver', members: ['mail_vip', 'mail_gw'], notify: {}, trackInterfaces: [], trackScripts: [], trackFiles: [] },
      { name: 'webserver', members: ['web_vip', 'web_gw'], notify: {}, trackInterfaces: [], trackScripts: [], trackFiles: [] },
    ]);
    expect(ws.map((w) => w.code)).toEqual([...Array<string>(4).fill('NOT_USED'), ...Array<string>(4).fill('PASSWORD_TRUNCATED'), 'LVS_SKIPPED']);
    const lvs = ws.at(-1)!;
    expect(lvs.message).toContain('virtual_server 123.123.123.1 25 (2 real servers)');
    expect(lvs.message).toContain('virtual_server 123.123.123.2 80 (2 real servers)');
    expect(ws[0]!.message).toBe('notification_email in global_defs is not used by carpool (no mail alerts)');
  });

  it('without --vrrp-only the virtual servers are read too (test/config/keepalived/virtual-server.test.ts has the model)', () => {
    const { config, warnings } = parseKeepalivedConf(read('director1.conf'), { file: 'director1.conf' });
    expect(config.instances).toHaveLength(4);
    expect(config.balancers?.virtualServers.map((v) => v.name)).toEqual(['123.123.123.1 25', '123.123.123.1 993', '123.123.123.1 995', '123.123.123.2 80']);
    expect(warnings.map((w) => w.code)).not.toContain('LVS_SKIPPED');
  });
});

describe('every supported keyword (testdata/keepalived/full.conf)', () => {
  const { config, warnings: ws } = parseKeepalivedConf(readFileSync(posix.join(DATA, 'full.conf'), 'utf8'), { file: 'full.conf' });
  const [web4, web6, v3four] = config.instances as VrrpInstance[];

  it('the IPv4 instance', () => {
    expect(web4).toEqual({
      kind: 'vrrp', name: 'web4', interface: 'eth0', family: 4, version: 2, vrid: 51, priority: 150, advertIntervalMs: 2000,
      initialState: 'BACKUP', preempt: false, preemptDelayMs: 0, authPass: 'secret', srcip: '192.0.2.11', mcastGroup: '224.0.0.18',
      unicastPeers: [], v3ChecksumAsV2: false,
      addresses: [
        { family: 4, address: '192.0.2.100', prefix: 24, broadcast: '192.0.2.255', dev: 'eth0', label: 'eth0:1', scope: 'global' },
        { family: 4, address: '192.0.2.101', prefix: 32 },
      ],
      excludedAddresses: [{ family: 4, address: '198.51.100.7', prefix: 32, dev: 'eth1' }],
      routes: [
        { family: 4, dst: '203.0.113.0', prefix: 24, src: '192.0.2.100', gateway: '192.0.2.254', dev: 'eth0', metric: 5, table: 100 },
        { family: 4, dst: '0.0.0.0', prefix: 0, gateway: '192.0.2.254', dev: 'eth0' },
        { family: 4, dst: '0.0.0.0', prefix: 0, gateway: '192.0.2.253', dev: 'eth0', table: 101 },
        { family: 4, dst: '198.51.100.0', prefix: 24, type: 'blackhole' },
      ],
      rules: [
        { family: 4, from: '192.0.2.0/24', table: 100, priority: 100 },
        { family: 4, to: '203.0.113.0/24', fwmark: 16, fwmask: 255, iif: 'eth0', table: 254, priority: 101 },
      ],
      // In a sync group member weights read as 0 (keepalived does the same); eth0 is its own interface.
      trackInterfaces: [{ name: 'eth1', weight: 0, reverse: false }],
      trackScripts: [{ name: 'chk_haproxy', weight: 0, reverse: true }],
      trackFiles: [{ name: 'maintenance', weight: 0, reverse: false }],
      trackPrimary: false,
      notify: {
        master: { argv: ['/etc/keepalived/notify.sh', 'master', 'web 4'], shell: false },
        backup: { argv: ['/etc/keepalived/notify.sh', 'backup'], shell: false },
        fault: { argv: ['/etc/keepalived/notify.sh', 'fault'], shell: false },
        stop: { argv: ['/etc/keepalived/notify.sh', 'stop'], shell: false },
        generic: { argv: ['/etc/keepalived/notify.sh'], shell: false },
      },
      garp: { masterDelayMs: 1000, masterRepeat: 2, masterRefreshMs: 30000, masterRefreshRepeat: 3, lowerPrioRepeat: 5, lowerPrioDelayMs: 4000, intervalMs: 1 },
      vmacInterface: 'vrrp51', lowerPrioNoAdvert: true, higherPrioSendAdvert: false, downTimerAdverts: 5, syncGroup: 'front',
    });
  });

  it('the IPv6 owner: v3, global GARP defaults, default VMAC name', () => {
    expect(web6).toMatchObject({
      family: 6, version: 3, priority: 255, initialState: 'MASTER', advertIntervalMs: 250, srcip: '2001:db8::11', mcastGroup: 'ff02::12',
      addresses: [{ family: 6, address: '2001:db8::100', prefix: 64 }], vmacInterface: 'vrrp6.52', higherPrioSendAdvert: true,
      garp: { masterDelayMs: 10000, masterRepeat: 3, masterRefreshMs: 60000, masterRefreshRepeat: 2, lowerPrioRepeat: 4, lowerPrioDelayMs: 2000, intervalMs: 2 },
      downTimerAdverts: 4, syncGroup: 'front',
    });
  });

  it('VRRPv3 over IPv4 with unicast peers', () => {
    expect(v3four).toMatchObject({ family: 4, version: 3, advertIntervalMs: 500, srcip: '198.51.100.11', unicastPeers: ['198.51.100.2', '198.51.100.3'], priority: 100, initialState: 'BACKUP' });
    expect(v3four!.syncGroup).toBeUndefined();
  });

  it('scripts, track files and the sync group', () => {
    expect(config.vrrpScripts).toEqual([
      { name: 'chk_haproxy', hook: { argv: ['/usr/bin/killall', '-0', 'haproxy'], shell: false }, intervalMs: 2000, timeoutMs: 3000, weight: -20, reverse: true, rise: 2, fall: 3, initFail: true },
      { name: 'chk_true', hook: { argv: ['/bin/true'], shell: false }, intervalMs: 1000, timeoutMs: 1000, weight: 0, reverse: false, rise: 1, fall: 1, initFail: false },
    ]);
    expect(config.trackFiles).toEqual([{ name: 'maintenance', path: '/run/keepalived-maintenance', weight: -10, reverse: false, initValue: 0, initOverwrite: true }]);
    expect(config.syncGroups).toEqual([{
      name: 'front', members: ['web4', 'web6'],
      notify: {
        master: { argv: ['/usr/bin/logger', '-t', 'vrrp', 'group master'], shell: false }, backup: { argv: ['/usr/bin/logger'], shell: false },
        fault: { argv: ['/usr/bin/logger'], shell: false }, stop: { argv: ['/usr/bin/logger'], shell: false }, generic: { argv: ['/usr/bin/logger'], shell: false },
      },
      trackInterfaces: [{ name: 'eth1', weight: 0, reverse: false }], trackScripts: [{ name: 'chk_true', weight: 0, reverse: false }],
      trackFiles: [{ name: 'maintenance', weight: 0, reverse: false }],
    }]);
  });

  it('warns where keepalived warns (and for what carpool does not do)', () => {
    expect(ws.map((w) => `${w.line} ${w.code}`)).toEqual([
      '19 NOT_USED', '20 NOT_USED', '70 NOT_USED', '94 SYNC_GROUP', '95 NOT_USED', '98 SYNC_GROUP', '101 SYNC_GROUP',
    ]);
  });
});

describe('keepalived defaults', () => {
  it.each<[string, string, Partial<VrrpInstance>]>([
    ['v2, advert 1 s, priority 100, BACKUP', '', { version: 2, advertIntervalMs: 1000, priority: 100, initialState: 'BACKUP', preempt: true, downTimerAdverts: 3 }],
    ['GARP: 5 now + 5 after 5 s; lower_prio_repeat 1 (carpool)', '', {
      garp: { masterDelayMs: 5000, masterRepeat: 5, masterRefreshMs: 0, masterRefreshRepeat: 1, lowerPrioRepeat: 1, lowerPrioDelayMs: 5000, intervalMs: 0 },
    }],
    ['priority 255 ⇒ state MASTER', 'priority 255', { initialState: 'MASTER', priority: 255 }],
    ['state MASTER without priority ⇒ 255', 'state MASTER', { initialState: 'MASTER', priority: 255 }],
    ['state MASTER with priority', 'state MASTER\npriority 150', { initialState: 'MASTER', priority: 150 }],
    ['nopreempt with BACKUP', 'state BACKUP\nnopreempt', { preempt: false }],
    ['nopreempt with MASTER is ignored', 'state MASTER\npriority 150\nnopreempt', { preempt: true }],
    ['version 3: centiseconds', 'version 3\nadvert_int 0.123', { version: 3, advertIntervalMs: 120 }],
    ['v2 fraction rounded', 'advert_int 1.6', { advertIntervalMs: 2000 }],
    ['v2 below 1 s ⇒ 1 s', 'advert_int 0.3', { advertIntervalMs: 1000 }],
    ['vrrp_min_garp', '', { garp: { masterDelayMs: 0, masterRepeat: 1, masterRefreshMs: 0, masterRefreshRepeat: 1, lowerPrioRepeat: 1, lowerPrioDelayMs: 0, intervalMs: 0 } }],
    ['dont_track_primary', 'dont_track_primary', { trackPrimary: false }],
    ['mcast_dst_ip', 'mcast_dst_ip 224.0.0.99', { mcastGroup: '224.0.0.99' }],
  ])('%s', (name, lines, expected) => {
    const text = (name === 'vrrp_min_garp' ? 'global_defs {\n  vrrp_min_garp\n}\n' : '') + inst(lines);
    expect(vrrp(text)[0]).toMatchObject(expected);
  });

  it('IPv6 addresses ⇒ VRRPv3 and ff02::12, even with vrrp_version 2', () => {
    expect(vrrp(`global_defs {\n vrrp_version 2\n}\n${inst('', 'interface eth0\nvirtual_router_id 9\nvirtual_ipaddress {\n fe80::1/64\n 2001:db8::1\n}')}`)[0])
      .toMatchObject({ family: 6, version: 3, mcastGroup: 'ff02::12' });
  });

  it('vrrp_rt_priority becomes the daemon\'s realtime priority, converted to realtime_priority; out of range is an error', () => {
    const { config, warnings: w } = ka(`global_defs {\n vrrp_rt_priority 20\n}\n${inst('')}`);
    expect(config.realtimePriority).toBe(20);
    expect(w).toEqual([]);
    expect(emitCarpoolYaml(config)).toContain('realtime_priority: 20\n');
    expect(ka(inst('')).config.realtimePriority).toBeUndefined();
    expect(where(problems(`global_defs {\n vrrp_rt_priority 100\n}\n${inst('')}`))).toEqual(['2:19 OUT_OF_RANGE']);
  });

  it('vrrp_version 3 and v3_checksum_as_v2 as global defaults', () => {
    expect(vrrp(`global_defs {\n vrrp_version 3\n v3_checksum_as_v2\n}\n${inst('')}`)[0]).toMatchObject({ version: 3, v3ChecksumAsV2: true });
  });

  it.each([
    ['state MASTER', ['3:9 PRIORITY_DEFAULT']],
    ['advert_int 1.5', ['3:14 ADVERT_INT_ROUNDED']],
    ['version 3\nadvert_int 0.125', ['4:14 ADVERT_INT_ROUNDED']],
    ['state MASTER\npriority 150\nnopreempt', ['5:3 NOPREEMPT_IGNORED']],
    ['priority 255\nnopreempt', ['4:3 NOPREEMPT_IGNORED']],
    ['authentication {\n auth_type PASS\n auth_pass 123456789\n}', ['5:14 PASSWORD_TRUNCATED']],
    // keepalived: "Initial state master is incompatible with AH authentication - clearing"
    ['state MASTER\npriority 150\nauthentication {\n auth_type AH\n auth_pass secret\n}', ['3:9 AH_INITIAL_STATE']],
    ['smtp_alert', ['3:3 NOT_USED']],
    ['preempt', ['3:3 NOT_USED']],
    ['interface eth1', ['4:3 DUPLICATE_KEYWORD']],
  ])('warning: %s', (lines, expected) => {
    expect(warnings(`\n${inst(lines)}`)).toEqual(expected);
  });

  it('IPVS-only settings are accepted with a warning that says what takes their place', () => {
    const r = ka(`global_defs {\n lvs_flush\n lvs_sync_daemon eth0 VI_1\n lvs_timeouts tcp 900\n}\n${inst('lvs_sync_daemon_interface eth0')}`);
    expect(r.warnings.map((w) => `${w.line}:${w.column} ${w.code}`)).toEqual(['2:2 NOT_USED', '3:2 NOT_USED', '4:2 NOT_USED', '7:3 NOT_USED']);
    expect(r.warnings[1]!.message).toContain('conntrackd');
    expect(r.warnings[0]!.message).toContain('replaces its own table atomically');
  });

  it('the priority warning says what keepalived does and what to write', () => {
    const w = ka(inst('state MASTER')).warnings[0]!;
    expect(w.message).toBe("vrrp_instance 'VI_1' has state MASTER and no priority, so its priority is 255: it claims to own the addresses and takes over at once, like keepalived");
    expect(w.expected).toContain('an explicit priority');
  });
});

describe('auth_type AH', () => {
  it('is a VRRPv2 instance whose password keys an IPsec AH', () => {
    expect(vrrp(inst('authentication {\n  auth_type AH\n  auth_pass secret\n}'))[0]).toMatchObject({ authPass: 'secret', authType: 'AH', version: 2 });
    expect(vrrp(inst('authentication {\n  auth_type PASS\n  auth_pass secret\n}'))[0]!.authType).toBeUndefined();
  });
});

describe('errors, located and with a hint', () => {
  it.each<[string, string, string[], string?]>([
    ['unknown keyword skipped, nothing left', 'vrrp_instanse X {\n}\n', ['1:1 MISSING_KEY'], 'no vrrp_instance is configured'],
    ['auth_type unknown', inst('authentication {\n  auth_type MD5\n  auth_pass x\n}'), ['3:15 INVALID_VALUE'], "auth_type: 'MD5' is not an authentication type"],
    ['auth_type AH with VRRPv3', inst('version 3\nauthentication {\n  auth_type AH\n  auth_pass x\n}'), ['5:15 NOT_SUPPORTED'], 'VRRPv3 has no authentication (RFC 5798)'],
    ['auth_hmac', inst('auth_hmac {\n key 1 x\n}'), ['2:3 NOT_SUPPORTED'], 'not supported by carpool'],
    ['use_ipvlan', inst('use_ipvlan'), ['2:3 NOT_SUPPORTED']],
    ['track_bfd', inst('track_bfd {\n b1\n}'), ['2:3 NOT_SUPPORTED']],
    ['track_process undefined', inst('track_process {\n p\n}'), ['3:4 UNDEFINED_REFERENCE'], "tracks process 'p', which is not defined"],
    ['virtual_rules with tos', inst('virtual_rules {\n from 10.0.0.1 table 1 tos 4\n}'), ['3:26 NOT_SUPPORTED'], "'tos' in a virtual rule is not supported"],
    ['virtual_rules typo', inst('virtual_rules {\n form 10.0.0.1 table 1\n}'), ['3:4 UNKNOWN_KEYWORD'], "did you mean 'from'?"],
    ['no_accept', inst('no_accept'), ['2:3 NOT_SUPPORTED']],
    ['vrrp_notify_fifo relative', 'global_defs {\n vrrp_notify_fifo run/f\n}\n' + inst(''), ['2:19 INVALID_VALUE'], 'is not an absolute path'],
    ['static_routes with mtu', 'static_routes {\n 10.0.0.0/8 via 1.2.3.4 mtu 1400\n}\n' + inst(''), ['2:25 NOT_SUPPORTED'], "'mtu' in a static route is not supported"],
    ['lvs_notify_fifo', 'global_defs {\n lvs_notify_fifo /run/f\n}\n' + inst(''), ['2:2 NOT_SUPPORTED'], 'checker events are not written to a FIFO'],
    ['priority out of range', inst('priority 256'), ['2:12 OUT_OF_RANGE']],
    ['priority not a number', inst('priority high'), ['2:12 INVALID_VALUE']],
    ['vrid out of range', inst('', 'interface eth0\nvirtual_router_id 0\nvirtual_ipaddress { 10.0.0.1 }'), ['1:15 MISSING_KEY', '4:19 OUT_OF_RANGE']],
    ['no interface', inst('', 'virtual_router_id 1\nvirtual_ipaddress { 10.0.0.1 }'), ['1:15 MISSING_KEY'], "vrrp_instance 'VI_1' has no interface"],
    ['no addresses with VRRPv3', inst('version 3', 'interface eth0\nvirtual_router_id 1'), ['1:15 MISSING_KEY'], 'at least one is required'],
    ['bad state', inst('state master'), ['2:9 INVALID_VALUE'], "state: 'master' is not a state"],
    ['bad VIP', inst('virtual_ipaddress {\n 10.0.0.300/24\n}'), ['3:4 INVALID_ADDRESS']],
    ['bad VIP option', inst('virtual_ipaddress {\n 10.0.0.2 lable x\n}'), ['3:13 UNKNOWN_KEYWORD'], "did you mean 'label'?"],
    ['mixed families', inst('virtual_ipaddress {\n 2001:db8::1\n}'), ['7:23 FAMILY_MISMATCH']],
    ['v3 with auth', inst('version 3\nauthentication {\n auth_type PASS\n auth_pass x\n}'), ['5:14 NOT_SUPPORTED']],
    ['v2 over IPv6', inst('version 2', 'interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 2001:db8::1 }'), ['2:11 NOT_SUPPORTED']],
    ['v3 advert_int above 40.95', inst('version 3\nadvert_int 41'), ['3:14 OUT_OF_RANGE']],
    ['advert_int not a number', inst('advert_int 1s'), ['2:14 INVALID_VALUE']],
    ['undefined track_script', inst('track_script {\n chk_web\n}'), ['3:4 UNDEFINED_REFERENCE'], "vrrp_instance 'VI_1' tracks script 'chk_web', which is not defined"],
    ['unquoted vrrp_script command', 'vrrp_script c {\n script /usr/bin/pidof haproxy\n}\n' + inst('track_script {\n c\n}'), ['2:24 EXTRA_ARGUMENT'], "keepalived runs only '/usr/bin/pidof' and drops 'haproxy'; quote the whole command"],
    ['relative notify path', inst('notify_master ./up.sh'), ['2:17 INVALID_VALUE']],
    ['unclosed quote', inst('notify_master "/bin/x'), ['2:17 SYNTAX']],
    ['strict mode with unicast', 'global_defs {\n vrrp_strict\n}\n' + inst('unicast_peer {\n 10.0.0.9\n}'), ['6:4 STRICT_MODE']],
    ['sync group with unknown member', 'vrrp_sync_group g {\n group {\n VI_1\n VI_2\n }\n}\n' + inst(''), ['4:2 UNDEFINED_REFERENCE']],
    ['instance in two sync groups', 'vrrp_sync_group g {\n group {\n VI_1\n }\n}\nvrrp_sync_group h {\n group {\n VI_1\n }\n}\n' + inst(''), ['8:2 SYNC_GROUP']],
    ['duplicate vrid on an interface', inst('') + inst('').replace('VI_1', 'VI_2').replace('10.0.0.1', '10.0.0.2'), ['10:21 DUPLICATE_VHID']],
    ['duplicate instance', inst('') + inst(''), ['7:15 DUPLICATE_NAME']],
    ['route without via or dev', inst('virtual_routes {\n 10.1.0.0/16 metric 4\n}'), ['3:4 MISSING_ARGUMENT']],
    ['route option not supported', inst('virtual_routes {\n 10.1.0.0/16 via 10.0.0.254 onlink\n}'), ['3:31 NOT_SUPPORTED']],
    ['unicast peer ttl', inst('unicast_peer {\n 10.0.0.9 min_ttl 2\n}'), ['3:13 NOT_SUPPORTED']],
    ['block where a value belongs', inst('priority 100 {\n}'), ['2:16 UNEXPECTED_BLOCK']],
    ['value block without braces', inst('virtual_ipaddress_excluded'), ['2:3 BLOCK_EXPECTED']],
    ['no instance at all', 'global_defs {\n router_id x\n}\n', ['1:1 MISSING_KEY']],
    ['extra }', inst('') + '}\n', ['7:1 UNBALANCED_BRACE']],
    ['unclosed block', 'vrrp_instance VI_1 {\n interface eth0\n', ['1:15 MISSING_KEY', '1:20 UNBALANCED_BRACE']],
    ['~SEQ', '~SEQ(N, 1, 3) vrrp_instance VI_$N {\n}\n' + inst(''), ['1:1 NOT_SUPPORTED', '2:1 UNBALANCED_BRACE']],
    ['_RANDOM', '$X=${_RANDOM 1 5}\n' + inst('priority $X'), ['3:3 NOT_SUPPORTED']],
  ])('%s', (name, text, expected, message) => {
    const ds = problems(text);
    expect(where(ds)).toEqual(expected);
    for (const d of ds) expect(d).toMatchObject({ file: FILE, severity: 'error' });
    for (const d of ds) expect(d.expected.length).toBeGreaterThan(0);
    if (message) expect(ds[0]!.message).toContain(message);
  });

  it('reports every problem at once', () => {
    expect(problems(inst('priority 0\nadvert_int x\nstate up\nbogus 1'), { strict: true }).map((d) => d.code))
      .toEqual(['OUT_OF_RANGE', 'INVALID_VALUE', 'INVALID_VALUE', 'UNKNOWN_KEYWORD']);
  });
});

describe('syntax', () => {
  it('comments (# and !) anywhere except in quotes; continuation lines; one-line blocks; { on the next line', () => {
    const text = `! comment
vrrp_instance VI_1   # trailing comment
{
  interface eth0 ! another
  virtual_router_id \\
     42
  virtual_ipaddress { 10.0.0.1/24 dev eth0 }
  notify_master "/bin/echo a#b c!d"
  track_interface { eth1 weight -5 }
}`;
    const [i] = vrrp(text);
    expect(i).toMatchObject({ vrid: 42, addresses: [{ address: '10.0.0.1', prefix: 24, dev: 'eth0' }], trackInterfaces: [{ name: 'eth1', weight: -5 }] });
    expect(i!.notify.master!.argv).toEqual(['/bin/echo', 'a#b', 'c!d']);
  });

  it('a brace splits a line wherever it is: `VI_1{`, `}` followed by more', () => {
    const [i] = vrrp('vrrp_instance VI_1{ interface eth0\nvirtual_router_id 3 } vrrp_script s { script /bin/true\n}\nvrrp_instance VI_1b {\ninterface eth1\nvirtual_router_id 4\nvirtual_ipaddress {\n10.0.0.9 }}'.replace(' } vrrp_script', '\nvirtual_ipaddress { 10.0.0.8 } } vrrp_script'));
    expect(i).toMatchObject({ name: 'VI_1', vrid: 3 });
  });

  it('double quotes join words like the shell: a" b "c is one word', () => {
    const [i] = vrrp(inst('authentication {\n auth_type PASS\n auth_pass ab" c "d\n}'));
    expect(i!.authPass).toBe('ab c d');
  });

  it.each<[string, string[] | undefined]>([
    ['/bin/x a b', ['/bin/x', 'a', 'b']],
    ["/bin/x 'a b' \"c d\"", ['/bin/x', 'a b', 'c d']],
    ['/bin/x "it\'s"', ['/bin/x', "it's"]],
    ['/bin/x \\x41\\101\\t', ['/bin/x', 'AA\t']],
    ['/bin/x \\cA', ['/bin/x', '\x01']],
    ['/bin/x "open', undefined],
  ])('script words %s', (text, expected) => {
    expect(splitScriptWords(text)).toEqual(expected);
  });

  it('the generic notify gets the user and group as keepalived reads them (warned: carpool runs hooks as root)', () => {
    const r = ka(inst('notify "/bin/notify.sh --all" nobody nogroup'));
    expect((r.config.instances[0] as VrrpInstance).notify.generic).toEqual({ argv: ['/bin/notify.sh', '--all'], shell: false });
    expect(r.warnings.map((w) => w.code)).toEqual(['NOT_USED']);
    expect(r.warnings[0]!.message).toContain("does not switch to user 'nobody:nogroup'");
  });
});

describe('preprocessor: $VAR, @id, includes', () => {
  it('testdata/keepalived/vars.conf for config id lb1 and lb2', () => {
    const text = readFileSync(posix.join(DATA, 'vars.conf'), 'utf8');
    const a = vrrp(text, { configId: 'lb1' });
    expect(a.map((i) => [i.name, i.vrid, i.priority, i.initialState, i.addresses[0]!.address])).toEqual([
      ['VI_1', 71, 150, 'MASTER', '192.0.7.1'], ['VI_2', 72, 150, 'MASTER', '192.0.7.2'],
    ]);
    const b = vrrp(text, { configId: 'lb2' });
    expect(b.map((i) => [i.priority, i.initialState])).toEqual([[100, 'BACKUP'], [100, 'BACKUP']]);
  });

  it('substitution: recursive, at use time, ${NAME} anywhere, $NAME before a blank, undefined left alone, _PWD/_INSTANCE/_HASH/_BANG', () => {
    const text = `$A=\${B}1
$B=10.0.0.
vrrp_instance \${_INSTANCE}_x {
  interface eth0
  virtual_router_id 5
  virtual_ipaddress { ${'$'}{A}/24 }
  notify_master "\${_PWD}/n.sh \${_HASH}\${_BANG} $UNDEF \${UNDEF2}"
}`;
    const [i] = vrrp(text);
    expect(i!.name).toBe('lb1_x');
    expect(i!.addresses[0]!.address).toBe('10.0.0.1');
    expect(i!.notify.master!.argv).toEqual(['/etc/keepalived/n.sh', '#!', '$UNDEF', '${UNDEF2}']);
  });

  it('a definition that refers to itself is an error, not a hang', () => {
    expect(where(problems('$A=x$A\n$B=${B}${B}\n' + inst('priority ${B}')))).toContain('4:3 SUBSTITUTION_LOOP');
  });

  it('includes: globs and relative paths, errors located in the included file', () => {
    const host = memHost({
      '/etc/keepalived/keepalived.conf': 'include conf.d/*.conf\ninclude missing/*.conf\n',
      '/etc/keepalived/conf.d/a.conf': inst('priority 300'),
      '/etc/keepalived/conf.d/b.conf': 'vrrp_instance VI_2 {\n  include ../common/{vrid,iface}.inc\n  virtual_ipaddress { 10.0.0.2 }\n  bogus\n}\n',
      '/etc/keepalived/common/vrid.inc': 'virtual_router_id 2\n',
      '/etc/keepalived/common/iface.inc': 'interface eth1\n',
    });
    const ds = problems(host.readFile(FILE), { host, strict: true });
    expect(ds.map((d) => `${d.file}:${d.line}:${d.column} ${d.code}`)).toEqual([
      '/etc/keepalived/conf.d/a.conf:2:12 OUT_OF_RANGE',
      '/etc/keepalived/conf.d/b.conf:4:3 UNKNOWN_KEYWORD',
    ]);
  });

  it('includes: a plain include that matches nothing is a warning; includer/includea are errors; loops are errors', () => {
    const host = memHost({ '/k/a.conf': 'include b.conf\n' + inst(''), '/k/b.conf': 'include a.conf\n' });
    expect(where(problems(host.readFile('/k/a.conf'), { host, file: '/k/a.conf' }))).toEqual(['1:1 INCLUDE_LOOP']);
    const ok = memHost({ '/k/a.conf': 'include none*.conf\n' + inst('') });
    expect(warnings(ok.readFile('/k/a.conf'), { host: ok, file: '/k/a.conf' })).toEqual(['1:1 INCLUDE_FAILED']);
    expect(where(problems('includea none.conf\n' + inst(''), { host: ok }))).toEqual(['1:1 INCLUDE_FAILED']);
    expect(where(problems('include x.conf\n' + inst('')))).toEqual(['1:1 INCLUDE_FAILED']);
  });

  it('testdata/keepalived/include through loadConfigFile (real file system)', () => {
    const config = loadConfigFile(posix.join(DATA, 'include', 'keepalived.conf'), { onWarning: () => undefined });
    expect(config.instances.map((i) => i.name)).toEqual(['web', 'db']);
    const [web, db] = config.instances as VrrpInstance[];
    expect(web!.addresses.map((a) => a.address)).toEqual(['192.0.2.61', '192.0.2.161']);
    expect(web!.trackScripts).toEqual([{ name: 'chk', weight: 0, reverse: false }]);
    expect(db!.vrid).toBe(62);
    expect(config.vrrpScripts[0]!.hook.argv).toEqual([posix.join(DATA, 'include', 'scripts', 'check.sh'), '--quiet']);
    expect(config.trackFiles.map((f) => f.name)).toEqual(['flag']);
  });

  it('loadConfigFile recognises keepalived.conf by content and passes vrrpOnly', () => {
    const seed = posix.join(DATA, 'seed-002', 'director1.conf');
    expect(loadConfigFile(seed, { onWarning: () => undefined }).balancers?.virtualServers).toHaveLength(4);
    const vrrpOnly = loadConfigFile(seed, { vrrpOnly: true, onWarning: () => undefined });
    expect(vrrpOnly.instances).toHaveLength(4);
    expect(vrrpOnly.balancers).toBeUndefined();
  });
});

describe('glob helpers', () => {
  it.each([
    ['a{b,c}d', ['abd', 'acd']],
    ['{x,y{1,2}}', ['x', 'y1', 'y2']],
    ['none', ['none']],
    ['un{closed', ['un{closed']],
  ])('expandBraces(%s)', (p, expected) => expect(expandBraces(p)).toEqual(expected));
  it('segments', () => {
    expect(globSegmentRegExp('*.conf').test('a.conf')).toBe(true);
    expect(globSegmentRegExp('*.conf').test('.hidden.conf')).toBe(false);
    expect(globSegmentRegExp('[0-9]?-x.conf').test('1a-x.conf')).toBe(true);
    expect(globSegmentRegExp('[!0-9]*').test('5')).toBe(false);
  });
});
