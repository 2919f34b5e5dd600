/**
 * VRRP in carpool YAML and `carpool convert`: the same features and validation as keepalived.conf,
 * and parse(emit(x)) deep-equals x — for the real fixtures and for random valid models.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConfigDiagnostic } from '../../../src/config/diagnostics.js';
import { emitCarpoolYaml } from '../../../src/config/emit-yaml.js';
import { parseKeepalivedConf } from '../../../src/config/keepalived/parse.js';
import type { CarpoolConfig, Hook, SyncGroup, TrackFile, TrackRef, VirtualAddress, VirtualRoute, VirtualRule, VrrpInstance, VrrpScript } from '../../../src/config/model.js';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { configErrors } from '../../helpers/config.js';

const DATA = fileURLToPath(new URL('../../../testdata/keepalived/', import.meta.url));
const FILE = '/etc/carpool/carpool.yaml';
const roundtrip = (config: CarpoolConfig) => parseCarpoolYaml(emitCarpoolYaml(config, { header: 'test' }), { file: config.source });

function problems(text: string): ConfigDiagnostic[] {
  return configErrors(() => parseCarpoolYaml(text, { file: FILE }));
}

describe('carpool convert: keepalived.conf → YAML → the same model', () => {
  it.each([['full.conf', false], ['vars.conf', false], ['seed-002/director1.conf', true], ['seed-002/director2.conf', true]] as const)('%s', (f, vrrpOnly) => {
    const { config } = parseKeepalivedConf(readFileSync(posix.join(DATA, f), 'utf8'), { file: f, configId: 'lb1', vrrpOnly });
    const yaml = emitCarpoolYaml(config, { header: `converted from ${f}` });
    expect(yaml.startsWith(`# converted from ${f}\n`)).toBe(true);
    const back = parseCarpoolYaml(yaml, { file: f });
    expect(back.config).toEqual(config);
    // Only the keepalived-compatibility warnings that are about the values themselves remain.
    expect(back.warnings.every((w) => ['PASSWORD_TRUNCATED', 'DUPLICATE_ADDRESS'].includes(w.code))).toBe(true);
  });
});

describe('VRRP in carpool YAML', () => {
  const base = `instances:
  - name: web
    protocol: vrrp
    interface: eth0
    virtual_router_id: 51
    addresses: [10.0.0.100/24]
`;
  it('keepalived defaults apply', () => {
    const { config, warnings } = parseCarpoolYaml(base, { file: FILE });
    expect(warnings).toEqual([]);
    expect(config.instances[0]).toMatchObject({
      kind: 'vrrp', name: 'web', version: 2, priority: 100, initialState: 'BACKUP', advertIntervalMs: 1000, preempt: true,
      mcastGroup: '224.0.0.18', trackPrimary: true, downTimerAdverts: 3,
      garp: { masterDelayMs: 5000, masterRepeat: 5, lowerPrioRepeat: 1, lowerPrioDelayMs: 5000 },
    });
  });

  it('state MASTER without priority: 255 with the same warning as keepalived.conf', () => {
    const { config, warnings } = parseCarpoolYaml(`${base}    state: MASTER\n`, { file: FILE });
    expect((config.instances[0] as VrrpInstance).priority).toBe(255);
    expect(warnings.map((w) => `${w.line}:${w.column} ${w.code}`)).toEqual(['7:12 PRIORITY_DEFAULT']);
  });

  it('vrrp_defaults, vrrp_scripts, track_files and sync_groups', () => {
    const text = `vrrp_defaults:
  version: 3
  garp: { master_repeat: 2, gna_interval: 0.01 }
vrrp_scripts:
  - { name: chk, script: "/usr/bin/pidof haproxy", interval: 2, weight: -10 }
track_files:
  - { name: maint, file: /run/maint, init_file: 0 }
sync_groups:
  - { name: g, members: [web, db], notify: { master: [/bin/logger, master] } }
${base}    track_scripts: [chk]
    track_files: [{ name: maint, weight: 0 }]
  - { name: db, protocol: vrrp, interface: eth1, virtual_router_id: 52, addresses: ["2001:db8::1/64"], vmac: true }
`;
    const { config } = parseCarpoolYaml(text, { file: FILE });
    const [web, db] = config.instances as VrrpInstance[];
    expect(web).toMatchObject({ version: 3, syncGroup: 'g', garp: { masterRepeat: 2 }, trackScripts: [{ name: 'chk', weight: 0 }], trackFiles: [{ name: 'maint', weight: 0 }] });
    expect(db).toMatchObject({ family: 6, version: 3, vmacInterface: 'vrrp6.52', garp: { intervalMs: 10 }, mcastGroup: 'ff02::12' });
    expect(config.vrrpScripts[0]).toMatchObject({ hook: { argv: ['/usr/bin/pidof', 'haproxy'] }, intervalMs: 2000, timeoutMs: 2000, weight: -10 });
    expect(config.trackFiles[0]).toEqual({ name: 'maint', path: '/run/maint', weight: 1, reverse: false, initValue: 0, initOverwrite: false });
    expect(config.syncGroups[0]).toMatchObject({ name: 'g', members: ['web', 'db'], notify: { master: { argv: ['/bin/logger', 'master'], shell: false } } });
  });

  it.each<[string, string, string[], string?]>([
    ['keepalived spelling of a key', '    virtual_ipaddress: [10.0.0.1]', ['7:5 UNKNOWN_KEY'], "did you mean 'addresses'?"],
    ['nopreempt', '    nopreempt: true', ['7:5 UNKNOWN_KEY'], "did you mean 'preempt: false'?"],
    ['typo', '    advert_itn: 1', ['7:5 UNKNOWN_KEY'], "did you mean 'advert_int'?"],
    ['priority out of range', '    priority: 0', ['7:15 OUT_OF_RANGE']],
    ['advert_int as text', '    advert_int: 1s', ['7:17 INVALID_TYPE']],
    ['v3 over 40.95 s', '    version: 3\n    advert_int: 41', ['8:17 OUT_OF_RANGE']],
    ['auth with v3', '    version: 3\n    auth_pass: x', ['8:16 NOT_SUPPORTED']],
    ['undefined script', '    track_scripts: [nope]', ['7:21 UNDEFINED_REFERENCE']],
    ['bad route', '    routes: [{ to: 10.1.0.0/16, metric: 3 }]', ['7:14 MISSING_KEY']],
    ['route typo', '    routes: [{ to: 10.1.0.0/16, gw: 10.0.0.1 }]', ['7:14 MISSING_KEY', '7:33 UNKNOWN_KEY'], "did you mean 'via'?"],
    ['mixed families', '    excluded_addresses: [fd00::1]\n    unicast_peers: [fd00::2]', ['8:21 FAMILY_MISMATCH']],
    ['boolean as yes', '    preempt: yes', ['7:14 INVALID_TYPE'], 'write true'],
    ['hook with a relative path', '    notify: { master: ./up.sh }', ['7:23 INVALID_VALUE']],
    ['bad state', '    state: master', ['7:12 INVALID_VALUE']],
  ])('%s', (name, extra, expected, message) => {
    const ds = problems(`${base}${extra}\n`);
    expect(ds.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual(expected);
    for (const d of ds) expect(d.expected.length).toBeGreaterThan(0);
    if (message) expect(ds.some((d) => d.message.includes(message))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Random valid models: parse(emit(x)) deep-equals x.

const ifname = fc.constantFrom('eth0', 'eth1', 'bond0.12', 'ens3');
const hook: fc.Arbitrary<Hook> = fc.oneof(
  fc.tuple(fc.constantFrom('/bin/true', '/etc/keepalived/notify.sh', 'logger'), fc.array(fc.string({ minLength: 0, maxLength: 6 }), { maxLength: 3 }))
    .map(([p, a]) => ({ argv: [p, ...a], shell: false })),
  fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== '').map((s) => ({ argv: [s], shell: true })),
);
const v4 = (n: number, i: number) => `10.${n % 256}.${i % 256}.${(n * 7 + i) % 254 + 1}`;
const v6 = (n: number, i: number) => `2001:db8:${(n + 1).toString(16)}::${(i + 1).toString(16)}`;

function address(family: 4 | 6, n: number, i: number): fc.Arbitrary<VirtualAddress> {
  return fc.record({
    prefix: fc.integer({ min: 1, max: family === 4 ? 32 : 128 }),
    dev: fc.option(ifname, { nil: undefined }),
    label: fc.option(fc.constantFrom('eth0:1', 'eth1:vip'), { nil: undefined }),
    broadcast: fc.option(fc.constant('10.255.255.255'), { nil: undefined }),
    scope: fc.option(fc.constantFrom('global', 'link', 'host'), { nil: undefined }),
  }).map((x) => {
    const a: { -readonly [K in keyof VirtualAddress]: VirtualAddress[K] } = { family, address: family === 4 ? v4(n, i) : v6(n, i), prefix: x.prefix };
    if (x.dev) a.dev = x.dev;
    if (x.label) a.label = x.label;
    if (x.broadcast && family === 4) a.broadcast = x.broadcast;
    if (x.scope) a.scope = x.scope;
    return a;
  });
}

function route(family: 4 | 6, i: number): fc.Arbitrary<VirtualRoute> {
  return fc.record({
    def: fc.boolean(), gw: fc.boolean(), dev: fc.option(ifname, { nil: undefined }), metric: fc.option(fc.nat(1000), { nil: undefined }),
    table: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }), type: fc.option(fc.constantFrom('blackhole', 'unreachable'), { nil: undefined }),
    scope: fc.option(fc.constantFrom('link', 'site' as const), { nil: undefined }), proto: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
    multipath: fc.option(fc.integer({ min: 1, max: 256 }), { nil: undefined }),
  }).map((x) => {
    const r: { -readonly [K in keyof VirtualRoute]: VirtualRoute[K] } = x.def
      ? { family, dst: family === 4 ? '0.0.0.0' : '::', prefix: 0 }
      : { family, dst: family === 4 ? `172.16.${i}.0` : `fd00:${i + 1}::`, prefix: family === 4 ? 24 : 64 };
    if (x.gw || (!x.dev && !x.type)) r.gateway = family === 4 ? '10.9.9.9' : 'fe80::9';
    if (x.dev) r.dev = x.dev;
    if (x.metric !== undefined) r.metric = x.metric;
    if (x.table !== undefined) r.table = x.table;
    if (x.type) r.type = x.type;
    if (x.scope) r.scope = x.scope;
    if (x.proto !== undefined) r.proto = x.proto;
    if (x.multipath !== undefined && !x.type) {
      delete r.gateway;
      r.nexthops = [{ gateway: family === 4 ? '10.9.9.8' : 'fe80::8', weight: x.multipath }, { gateway: family === 4 ? '10.9.9.7' : 'fe80::7', ...(x.dev ? { dev: x.dev } : {}) }];
    }
    return r;
  });
}

function rule(family: 4 | 6, i: number): fc.Arbitrary<VirtualRule> {
  return fc.record({
    from: fc.boolean(), to: fc.boolean(), table: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
    priority: fc.option(fc.nat(40000), { nil: undefined }), fwmark: fc.option(fc.nat(), { nil: undefined }), fwmask: fc.boolean(),
    iif: fc.option(ifname, { nil: undefined }), oif: fc.option(ifname, { nil: undefined }),
    type: fc.option(fc.constantFrom('blackhole', 'prohibit' as const), { nil: undefined }),
  }).map((x) => {
    const r: { -readonly [K in keyof VirtualRule]: VirtualRule[K] } = { family };
    if (x.from) r.from = family === 4 ? `10.${i}.0.0/16` : `fd0${i}::/48`;
    if (x.to) r.to = family === 4 ? `172.20.${i}.0/24` : `fd1${i}::/64`;
    if (x.type) r.type = x.type; else if (x.table !== undefined) r.table = x.table;
    if (x.priority !== undefined) r.priority = x.priority;
    if (x.fwmark !== undefined) { r.fwmark = x.fwmark; if (x.fwmask) r.fwmask = 0xff; }
    if (x.iif) r.iif = x.iif;
    if (x.oif) r.oif = x.oif;
    return r;
  });
}

const trackRefs = (names: readonly string[], limit: number): fc.Arbitrary<TrackRef[]> =>
  (names.length === 0 ? fc.constant([]) : fc.uniqueArray(fc.constantFrom(...names), { maxLength: names.length }))
    .chain((ns) => fc.tuple(...ns.map((name) => fc.record({ name: fc.constant(name), weight: fc.integer({ min: -limit, max: limit }), reverse: fc.boolean() }))))
    .map((x) => [...x]);

const scripts: fc.Arbitrary<VrrpScript[]> = fc.integer({ min: 0, max: 2 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => fc.record({
  name: fc.constant(`chk${i}`), hook: hook.filter((h) => !h.shell), intervalMs: fc.integer({ min: 1, max: 100_000 }), timeoutMs: fc.integer({ min: 1, max: 100_000 }),
  weight: fc.integer({ min: -253, max: 253 }), reverse: fc.boolean(), rise: fc.integer({ min: 1, max: 10 }), fall: fc.integer({ min: 1, max: 10 }), initFail: fc.boolean(),
})))).map((x) => [...x]);

const files: fc.Arbitrary<TrackFile[]> = fc.integer({ min: 0, max: 2 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => fc.record({
  name: fc.constant(`file${i}`), path: fc.constant(`/run/track${i}`), weight: fc.integer({ min: -254, max: 254 }), reverse: fc.boolean(),
  initValue: fc.option(fc.integer({ min: -100, max: 100 }), { nil: undefined }), initOverwrite: fc.boolean(),
}).map((f) => {
  const { initValue, ...rest } = f;
  return initValue === undefined ? rest : { ...rest, initValue };
})))).map((x) => [...x]);

function instance(n: number, scriptNames: string[], fileNames: string[]): fc.Arbitrary<VrrpInstance> {
  return fc.record({ family: fc.constantFrom<4 | 6>(4, 6), iface: ifname }).chain(({ family, iface }) => fc.record({
    version: family === 6 ? fc.constant<2 | 3>(3) : fc.constantFrom<2 | 3>(2, 3),
    priority: fc.integer({ min: 1, max: 255 }),
    state: fc.constantFrom<'MASTER' | 'BACKUP'>('MASTER', 'BACKUP'),
    nopreempt: fc.boolean(),
    delay: fc.integer({ min: 0, max: 1_000_000 }),
    adv: fc.integer({ min: 1, max: 255 }),
    adv3: fc.integer({ min: 1, max: 4095 }),
    auth: fc.option(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.includes('\0')), { nil: undefined }),
    src: fc.boolean(),
    peers: fc.integer({ min: 0, max: 2 }),
    csum: fc.boolean(),
    addresses: fc.integer({ min: 1, max: 3 }).chain((k) => fc.tuple(...Array.from({ length: k }, (_, i) => address(family, n, i)))),
    excluded: fc.integer({ min: 0, max: 2 }).chain((k) => fc.tuple(...Array.from({ length: k }, (_, i) => address(family, n, 100 + i)))),
    routes: fc.integer({ min: 0, max: 2 }).chain((k) => fc.tuple(...Array.from({ length: k }, (_, i) => route(family, i)))),
    rules: fc.integer({ min: 0, max: 2 }).chain((k) => fc.tuple(...Array.from({ length: k }, (_, i) => rule(family, i)))),
    ti: trackRefs(['eth0', 'eth1', 'eth2', 'ens3'].filter((x) => x !== iface), 253),
    ts: trackRefs(scriptNames, 253),
    tf: trackRefs(fileNames, 254),
    trackPrimary: fc.boolean(),
    notify: fc.record({ master: hook, backup: hook, fault: hook, stop: hook, generic: hook }, { requiredKeys: [] }),
    garp: fc.record({
      masterDelayMs: fc.integer({ min: 0, max: 1_000_000 }), masterRepeat: fc.integer({ min: 1, max: 255 }), masterRefreshMs: fc.integer({ min: 0, max: 86_400_000 }),
      masterRefreshRepeat: fc.integer({ min: 1, max: 255 }), lowerPrioRepeat: fc.integer({ min: 0, max: 255 }), lowerPrioDelayMs: fc.integer({ min: 0, max: 1_000_000 }),
      intervalMs: fc.integer({ min: 0, max: 1_000_000 }),
    }),
    vmac: fc.option(fc.constantFrom(`vrrp.${n + 1}`, 'vmac0'), { nil: undefined }),
    lpna: fc.boolean(), hpsa: fc.boolean(), dta: fc.integer({ min: 1, max: 100 }),
  }).map((x): VrrpInstance => {
    const preempt = !(x.nopreempt && x.state === 'BACKUP' && x.priority < 255);
    return {
      kind: 'vrrp', name: `vi${n}`, interface: iface, family, version: x.version, vrid: n + 1, priority: x.priority,
      advertIntervalMs: x.version === 2 ? x.adv * 1000 : x.adv3 * 10, initialState: x.state, preempt, preemptDelayMs: preempt ? x.delay : 0,
      ...(x.auth !== undefined && x.version === 2 ? { authPass: x.auth } : {}),
      ...(x.src ? { srcip: family === 4 ? `192.0.2.${n + 1}` : `fe80::${n + 1}` } : {}),
      mcastGroup: family === 4 ? '224.0.0.18' : 'ff02::12',
      unicastPeers: Array.from({ length: x.peers }, (_, i) => (family === 4 ? `198.51.100.${i + 1}` : `fe80::a:${i + 1}`)),
      v3ChecksumAsV2: x.csum, addresses: [...x.addresses], excludedAddresses: [...x.excluded], routes: [...x.routes], rules: [...x.rules],
      trackInterfaces: x.ti, trackScripts: x.ts, trackFiles: x.tf, trackPrimary: x.trackPrimary, notify: x.notify, garp: x.garp,
      ...(x.vmac ? { vmacInterface: x.vmac } : {}), lowerPrioNoAdvert: x.lpna, higherPrioSendAdvert: x.hpsa, downTimerAdverts: x.dta,
    };
  }));
}

const config: fc.Arbitrary<CarpoolConfig> = fc.tuple(scripts, files).chain(([ss, fs]) => fc.integer({ min: 1, max: 4 }).chain((k) => fc.tuple(
  fc.constant(ss), fc.constant(fs),
  fc.tuple(...Array.from({ length: k }, (_, i) => instance(i, ss.map((s) => s.name), fs.map((f) => f.name)))),
  fc.array(fc.integer({ min: 0, max: 2 }), { minLength: k, maxLength: k }),
  fc.array(fc.record({ notify: fc.record({ master: hook }, { requiredKeys: [] }), ti: trackRefs(['eth3'], 253), ts: trackRefs(ss.map((s) => s.name), 253) }), { minLength: 2, maxLength: 2 }),
  fc.option(fc.record({ routes: fc.tuple(route(4, 7)), rules: fc.tuple(rule(6, 8)), dev: ifname }), { nil: undefined }),
))).map(([ss, fs, insts, groupOf, groupExtras, st]) => {
  // groupOf[i]: 0 = no group, 1/2 = sync group g1/g2.
  const instances = insts.map((inst, i) => (groupOf[i] ? { ...inst, syncGroup: `g${groupOf[i]}` } : inst));
  const syncGroups: SyncGroup[] = [1, 2].flatMap((g) => {
    const members = instances.filter((x) => x.syncGroup === `g${g}`).map((x) => x.name);
    const extra = groupExtras[g - 1]!;
    return members.length ? [{ name: `g${g}`, members, notify: extra.notify, trackInterfaces: extra.ti, trackScripts: extra.ts, trackFiles: [] }] : [];
  });
  return {
    source: FILE, instances, vrrpScripts: ss, trackFiles: fs, syncGroups,
    logging: { facility: 'local3', debug: true, ident: 'carpool' }, controlSocket: '/run/carpool/x.sock', stateDir: '/run/carpool',
    ...(st ? { static: { addresses: [{ family: 4 as const, address: '192.0.2.200', prefix: 24, dev: st.dev }], routes: [...st.routes], rules: [...st.rules] } } : {}),
  };
});

describe('emitCarpoolYaml', () => {
  it('parse(emit(x)) deep-equals x for random valid VRRP models', () => {
    fc.assert(fc.property(config, (x) => {
      expect(roundtrip(x).config).toEqual(x);
    }), { numRuns: 300 });
  });

  it('a CARP instance round-trips too', () => {
    const x = parseCarpoolYaml(`instances:
  - { name: web, interface: eth0, source: 10.0.0.11, vhid: 1, password: "0123", advskew: 10, preempt: true, addresses: [10.0.0.1/24, { address: 10.0.0.2, label: "eth0:1" }], hooks: { up: /bin/up, down: [/bin/down, x], xparam: p } }
`, { file: FILE }).config;
    expect(roundtrip(x).config).toEqual(x);
  });
});

describe('docs/config.md', () => {
  it('the VRRP example parses', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/config.md', import.meta.url)), 'utf8');
    const section = doc.slice(doc.indexOf('## VRRP instances'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const { config } = parseCarpoolYaml(yaml.replace('members: [web4, gw4]', 'members: [web4]'), { file: 'docs' });
    expect(config.instances[0]).toMatchObject({ kind: 'vrrp', name: 'web4', priority: 150, syncGroup: 'front' });
  });
});
