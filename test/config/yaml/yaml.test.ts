import type { CarpInstance } from '../../../src/config/model.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCarpoolYaml, type ConfigDiagnostic, type YamlConfigOptions } from '../../../src/config/yaml/parse.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { configErrors } from '../../helpers/config.js';

const FILE = '/etc/carpool/carpool.yaml';

function parse(text: string, options: YamlConfigOptions = {}) {
  return parseCarpoolYaml(text, { file: FILE, ...options });
}

/** The diagnostics of a failing parse. */
function problems(text: string, options: YamlConfigOptions = {}): ConfigDiagnostic[] {
  return configErrors(() => parse(text, options));
}

/** `line:col CODE` of each problem, for compact tables. */
function where(text: string, options?: YamlConfigOptions): string[] {
  return problems(text, options).map((d) => `${d.line}:${d.column} ${d.code}`);
}

/** One instance with the given extra lines (indented by the caller's template). */
function instance(extra: string, base = 'interface: eth0\n    vhid: 1\n    password: geheim\n    addresses: [10.0.0.100/24]'): string {
  return `instances:\n  - ${base}${extra ? `\n    ${extra.trim().split('\n').join('\n    ')}` : ''}\n`;
}

const FULL = `# carpool.yaml
control_socket: /run/carpool/carpool.sock
state_dir: /run/carpool
logging: { facility: daemon, debug: false, ident: carpool }
instances:
  - name: web
    protocol: carp
    interface: eth0
    source: 10.0.0.11
    vhid: 1
    password: geheim
    advbase: 1
    advskew: 0
    deadratio: 3
    preempt: false
    neutral: false
    addresses:
      - 10.0.0.100/24
      - { address: 10.0.0.101/24, label: "eth0:1", dev: eth0, broadcast: 10.0.0.255 }
    mcast: 224.0.0.18
    nomcast: false
    ignore_ifstate: false
    shutdown_hooks: true
    hooks:
      up: /etc/carpool/up.sh
      down: [/usr/local/bin/notify, down]
      xparam: extra
      shell: false
  - name: db
    interface: eth1
    vhid: 2
    password_file: /etc/carpool/db.pass
    advskew: 100
    preempt: true
    addresses: [192.168.1.10]
`;

describe('parseCarpoolYaml: valid files', () => {
  it('the documented full example', () => {
    const { config, warnings } = parse(FULL, { readFile: (p) => (p === '/etc/carpool/db.pass' ? 'dbsecret\n' : '') });
    expect(warnings).toEqual([]);
    expect(config.source).toBe(FILE);
    expect(config.controlSocket).toBe('/run/carpool/carpool.sock');
    expect(config.stateDir).toBe('/run/carpool');
    expect(config.logging).toEqual({ facility: 'daemon', debug: false, ident: 'carpool' });
    expect(config.instances[0]).toEqual({
      kind: 'carp', name: 'web', interface: 'eth0', srcip: '10.0.0.11', vhid: 1, password: 'geheim',
      advbase: 1, advskew: 0, deadratio: 3, preempt: false, neutral: false,
      addresses: [
        { family: 4, address: '10.0.0.100', prefix: 24 },
        { family: 4, address: '10.0.0.101', prefix: 24, label: 'eth0:1', dev: 'eth0', broadcast: '10.0.0.255' },
      ],
      mcast: '224.0.0.18', nomcast: false, manageAddresses: true,
      upHook: { argv: ['/etc/carpool/up.sh'], shell: false },
      downHook: { argv: ['/usr/local/bin/notify', 'down'], shell: false },
      xparam: 'extra', shutdownHooks: true, ignoreIfState: false,
    });
    expect(config.instances[1]).toMatchObject({ name: 'db', password: 'dbsecret', advskew: 100, preempt: true,
      addresses: [{ family: 4, address: '192.168.1.10', prefix: 32 }] });
  });

  it('defaults for everything optional', () => {
    const { config } = parse(instance(''));
    expect(config.controlSocket).toBe('/run/carpool/carpool.sock');
    expect(config.stateDir).toBe('/run/carpool');
    expect(config.logging).toEqual({ facility: 'daemon', debug: false, ident: 'carpool' });
    expect(config.source).toBe(FILE);
    expect(config.instances[0]).toEqual({
      kind: 'carp', name: 'eth0-vhid1', interface: 'eth0', vhid: 1, password: 'geheim', advbase: 1, advskew: 0, deadratio: 3,
      preempt: false, neutral: false, addresses: [{ family: 4, address: '10.0.0.100', prefix: 24 }], mcast: '224.0.0.18',
      nomcast: false, manageAddresses: true, shutdownHooks: true, ignoreIfState: false,
    });
  });

  it('realtime_priority: 1..99, absent by default', () => {
    expect(parse(instance('')).config.realtimePriority).toBeUndefined();
    expect(parse(`realtime_priority: 10\n${instance('')}`).config.realtimePriority).toBe(10);
    expect(where(`realtime_priority: 0\n${instance('')}`)).toEqual(['1:20 OUT_OF_RANGE']);
    expect(where(`realtime_priority: high\n${instance('')}`)).toEqual(['1:20 INVALID_TYPE']);
  });

  it('hook_timeout: top-level default, per instance over it (CARP and VRRP), absent by default', () => {
    expect(parse(instance('')).config.instances[0]!.hookTimeoutMs).toBeUndefined();
    const vrrp = '  - { protocol: vrrp, name: v, interface: eth0, virtual_router_id: 7, priority: 100, addresses: [10.0.0.7/24] }\n';
    const c = parse(`hook_timeout: 5s\n${instance('hook_timeout: 500ms')}${vrrp}`).config;
    expect(c.hookTimeoutMs).toBe(5000);
    expect(c.instances.map((i) => i.hookTimeoutMs)).toEqual([500, 5000]);
    const v = parse(`${instance('')}  - { protocol: vrrp, name: v, interface: eth0, virtual_router_id: 7, priority: 100, addresses: [10.0.0.7/24], hook_timeout: 2m }\n`).config;
    expect(v.instances.map((i) => i.hookTimeoutMs)).toEqual([undefined, 120_000]);
    expect(where(`hook_timeout: 0\n${instance('')}`)).toEqual(['1:15 INVALID_VALUE']);
    expect(where(instance('hook_timeout: soon'))).toEqual(['6:19 INVALID_VALUE']);
  });

  it('source defaults to <input> without a file name', () => {
    expect(parseCarpoolYaml(instance('')).config.source).toBe('<input>');
  });

  it.each<[string, string, unknown]>([
    ['hook string split on blanks with quotes', 'hooks: { up: "/usr/bin/logger -t carpool \'went up\'" }',
      { argv: ['/usr/bin/logger', '-t', 'carpool', 'went up'], shell: false }],
    ['hook with a bare command name (PATH lookup)', 'hooks: { up: "logger up" }', { argv: ['logger', 'up'], shell: false }],
    ['hook with shell: true keeps the string', 'hooks: { up: "logger -t carpool up; touch /run/up", shell: true }',
      { argv: ['logger -t carpool up; touch /run/up'], shell: true }],
  ])('%s', (_name, extra, expected) => {
    expect((parse(instance(extra)).config.instances[0]! as CarpInstance).upHook).toEqual(expected);
  });

  it('logging options', () => {
    const { config } = parse(`logging:\n  facility: LOCAL3\n  debug: true\n  ident: ha\n${instance('')}`);
    expect(config.logging).toEqual({ facility: 'local3', debug: true, ident: 'ha' });
  });

  it('merge keys share settings; x- keys are ignored', () => {
    const text = `x-common: &common
  interface: eth0
  password: geheim
  advbase: 2
instances:
  - <<: *common
    vhid: 1
    addresses: [10.0.0.1]
  - <<: *common
    vhid: 2
    advbase: 3
    addresses: [10.0.0.2]
`;
    const { config } = parse(text);
    expect((config.instances as CarpInstance[]).map((i) => [i.name, i.advbase, i.password])).toEqual([['eth0-vhid1', 2, 'geheim'], ['eth0-vhid2', 3, 'geheim']]);
  });

  it('aliases resolve', () => {
    const text = 'instances:\n  - interface: eth0\n    vhid: 1\n    password: &pw geheim\n    addresses: [10.0.0.1]\n'
      + '  - interface: eth0\n    vhid: 2\n    password: *pw\n    addresses: [10.0.0.2]\n';
    expect((parse(text).config.instances[1]! as CarpInstance).password).toBe('geheim');
  });

  it('the same vhid on different interfaces is fine; alias labels count as their device', () => {
    const two = (a: string, b: string) => `instances:
  - { interface: ${a}, vhid: 1, password: x, addresses: [10.0.0.1] }
  - { interface: ${b}, vhid: 1, password: x, addresses: [10.0.1.1] }
`;
    expect(parse(two('eth0', 'eth1')).config.instances).toHaveLength(2);
    expect(where(two('eth0', 'eth0:carp0'))).toEqual(['3:36 DUPLICATE_VHID']);
  });
});

describe('parseCarpoolYaml: warnings', () => {
  it.each<[string, string, YamlConfigOptions, string[]]>([
    ['leading zero', 'advskew: 010', {}, ['6:14 DECIMAL_LEADING_ZERO']],
    ['bow-out timing', 'advbase: 255\nadvskew: 255', {}, ['6:14 BOW_OUT_TIMING']],
    ['non-multicast mcast with nomcast', 'mcast: 10.1.1.1\nnomcast: true', {}, ['6:12 MCAST_NOT_MULTICAST']],
  ])('%s', (_name, extra, options, expected) => {
    expect(parse(instance(extra), options).warnings.map((w) => `${w.line}:${w.column} ${w.code}`)).toEqual(expected);
  });

  it('password files: permissions, CR; the config file itself when it holds passwords', () => {
    const text = `instances:
  - { interface: eth0, vhid: 1, password_file: /etc/carpool/a.pass, addresses: [10.0.0.1] }
  - { interface: eth0, vhid: 2, password: inline, addresses: [10.0.0.2] }
`;
    const { config, warnings } = parse(text, {
      readFile: () => 'pw\r\n',
      statMode: (p) => (p === FILE ? 0o100640 : 0o100644),
    });
    expect((config.instances[0]! as CarpInstance).password).toBe('pw\r');
    expect(warnings.map((w) => `${w.line}:${w.column} ${w.code}`)).toEqual(['1:1 CONFIG_PERMISSIONS', '2:33 PASSWORD_CR', '2:33 PASSWORD_FILE_PERMISSIONS']);
    expect(warnings[0]!.message).toContain('mode 0640');
    expect(parse(text, { readFile: () => 'pw\n', statMode: () => 0o100600 }).warnings).toEqual([]);
  });

  it('the same address on two instances of different interfaces is a warning', () => {
    const text = `instances:
  - { interface: eth0, vhid: 1, password: x, addresses: [10.0.0.1] }
  - { interface: eth1, vhid: 2, password: x, addresses: [10.0.0.1] }
`;
    expect(parse(text).warnings.map((w) => `${w.line}:${w.column} ${w.code} ${w.severity}`)).toEqual(['3:58 DUPLICATE_ADDRESS warning']);
  });
});

describe('parseCarpoolYaml: every problem at once, with file:line:col', () => {
  it('a file with many mistakes', () => {
    const text = `control_socket: carpool.sock
logging:
  facility: bogus
  debug: yes
instances:
  - name: web
    interface: eth0
    source: 10.0.0.300
    vhid: one
    advbse: 2
    password: "12345678901234567890"
    preempt: no
    addresses: [10.0.0.1/33, fd00::1, 10.0.0.5, 10.0.0.5]
    hooks: { up: ./up.sh, down: "'unterminated", upscript: /x }
  - interface: eth0
    vhid: 300
    protocol: vrp
    password: x
    password_file: /x
    addresses: []
  - name: web
    interface: eth0
    vhid: 5
    vhid: 6
    password: 1234
    addresses: [10.0.0.7]
  - name: other
    interface: eth0
    vhid: 7
    addresses: 10.0.0.5
`;
    const ds = problems(text);
    expect(ds.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '1:17 INVALID_VALUE',
      '3:13 INVALID_VALUE',
      '4:10 INVALID_TYPE',
      '8:13 INVALID_ADDRESS',
      '9:11 INVALID_TYPE',
      '10:5 UNKNOWN_KEY',
      '11:15 PASSWORD_TOO_LONG',
      '12:14 INVALID_TYPE',
      '13:17 INVALID_ADDRESS',
      '13:30 NOT_SUPPORTED',
      '13:49 DUPLICATE_ADDRESS',
      '14:18 INVALID_VALUE',
      '14:33 INVALID_VALUE',
      '14:50 UNKNOWN_KEY',
      '16:11 OUT_OF_RANGE',
      '17:15 INVALID_VALUE',
      '19:5 PASSWORD_CONFLICT',
      '20:16 NO_VALUE',
      '21:11 DUPLICATE_NAME',
      '24:5 DUPLICATE_KEY',
      '25:15 INVALID_TYPE',
      '27:5 MISSING_KEY',
      '30:16 INVALID_TYPE',
    ]);
    for (const d of ds) {
      expect(d.file).toBe(FILE);
      expect(d.expected.length).toBeGreaterThan(0);
      expect(d.severity).toBe('error');
    }
    const msg = (code: string, line: number) => ds.find((d) => d.code === code && d.line === line)!;
    expect(msg('UNKNOWN_KEY', 10).message).toBe("unknown key 'advbse' in instance 'web' — did you mean 'advbase'?");
    expect(msg('INVALID_TYPE', 9)).toMatchObject({ message: "vhid in instance 'web': got 'one'", expected: 'an integer 1..255' });
    expect(msg('INVALID_TYPE', 12).message).toContain('YAML 1.2 reads no as text; write false');
    expect(msg('INVALID_TYPE', 4).message).toContain('write true');
    expect(msg('PASSWORD_TOO_LONG', 11).message).toContain('20 bytes');
    expect(msg('INVALID_VALUE', 17).message).toBe("protocol in instance 'eth0-vhid300': unknown protocol 'vrp'");
    expect(msg('DUPLICATE_NAME', 21).message).toBe("instance name 'web' is used twice (first at line 6)");
    expect(msg('DUPLICATE_KEY', 24).message).toBe("duplicate key 'vhid' in instance 'web' (first at line 23)");
    expect(msg('INVALID_TYPE', 25).message).toContain("quote it to make it text: '1234'");
    expect(msg('MISSING_KEY', 27).message).toBe("instance 'other' needs 'password' or 'password_file'");
    expect(msg('UNKNOWN_KEY', 14).message).toBe("unknown key 'upscript' in hooks of instance 'web' — did you mean 'up'?");
  });

  it('the ConfigError message lists them as file:line:col: message (expected ...)', () => {
    try {
      parse(instance('vhid: one', 'interface: eth0\n    password: x\n    addresses: [10.0.0.1]'));
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).code).toBe('CONFIG_INVALID');
      expect((e as ConfigError).message).toBe(`${FILE}:5:11: vhid in instance #1: got 'one' (expected an integer 1..255)`);
      return;
    }
    throw new Error('expected a ConfigError');
  });
});

describe('parseCarpoolYaml: single problems', () => {
  it.each<[string, string, string[], string?]>([
    // unknown keys and suggestions
    ['typo', 'advbse: 1', ['2:5 UNKNOWN_KEY'], "did you mean 'advbase'?"],
    ['ucarp name', 'srcip: 10.0.0.11', ['2:5 UNKNOWN_KEY'], "did you mean 'source'?"],
    ['camelCase', 'ignoreIfState: true', ['2:5 UNKNOWN_KEY'], "did you mean 'ignore_ifstate'?"],
    ['camelCase 2', 'shutdownHooks: true', ['2:5 UNKNOWN_KEY'], "did you mean 'shutdown_hooks'?"],
    ['keepalived name', 'virtual_router_id: 1', ['2:5 UNKNOWN_KEY'], "did you mean 'vhid'?"],
    ['keepalived priority', 'priority: 100', ['2:5 UNKNOWN_KEY'], 'CARP has no priority'],
    ['no suggestion', 'colour: blue', ['2:5 UNKNOWN_KEY'], "unknown key 'colour' in instance 'eth0-vhid1'"],
    ['address map key', 'addresses: [{ address: 10.0.0.9, prefix: 24 }]', ['2:38 UNKNOWN_KEY'], 'address/prefix'],
    // types and ranges
    ['vhid text', 'vhid: one', ['2:11 INVALID_TYPE'], "got 'one'"],
    ['vhid quoted', 'vhid: "7"', ['2:11 INVALID_TYPE'], "got the text '7' — remove the quotes"],
    ['vhid float', 'vhid: 1.5', ['2:11 INVALID_TYPE'], 'got 1.5'],
    ['vhid 0', 'vhid: 0', ['2:11 OUT_OF_RANGE'], 'got 0'],
    ['vhid 256', 'vhid: 256', ['2:11 OUT_OF_RANGE']],
    ['vhid null', 'vhid:', ['2:5 NO_VALUE'], 'has no value'],
    ['advbase 256', 'advbase: 256', ['2:14 OUT_OF_RANGE']],
    ['advskew -1', 'advskew: -1', ['2:14 OUT_OF_RANGE']],
    ['advbase 0 advskew 0', 'advbase: 0', ['2:5 NO_ADVERTISEMENT_INTERVAL'], 'advbase 0 needs advskew > 0'],
    ['deadratio 0', 'deadratio: 0', ['2:16 OUT_OF_RANGE']],
    ['boolean yes', 'preempt: yes', ['2:14 INVALID_TYPE'], 'write true'],
    ['boolean off', 'nomcast: off', ['2:14 INVALID_TYPE'], 'write false'],
    ['boolean number', 'neutral: 1', ['2:14 INVALID_TYPE']],
    ['interface list', 'interface: [eth0]', ['2:16 INVALID_TYPE'], 'got a list'],
    ['interface too long', 'interface: averyveryverylongname', ['2:16 INVALID_VALUE']],
    ['name with blanks', 'name: "my web"', ['2:11 INVALID_VALUE']],
    ['protocol unknown', 'protocol: hsrp', ['2:15 INVALID_VALUE']],
    ['protocol bogus', 'protocol: bogus', ['2:15 INVALID_VALUE'], "unknown protocol 'bogus'"],
    ['source invalid', 'source: eth0', ['2:13 INVALID_ADDRESS']],
    ['mcast not multicast', 'mcast: 10.1.1.1', ['2:12 INVALID_ADDRESS'], 'not a multicast address'],
    // passwords
    ['password number', 'password: 1234', ['2:15 INVALID_TYPE'], 'quote it'],
    ['password empty', 'password: ""', ['2:15 INVALID_VALUE']],
    ['password 20 bytes in 10 characters', 'password: ääääääääää', ['2:15 PASSWORD_TOO_LONG'], '20 bytes'],
    ['both password and file', 'password_file: /etc/pw', ['2:5 PASSWORD_CONFLICT']],
    // addresses
    ['IPv6', 'addresses: [fd00::1]', ['2:17 NOT_SUPPORTED']],
    ['bad prefix', 'addresses: [10.0.0.1/40]', ['2:17 INVALID_ADDRESS']],
    ['multicast VIP', 'addresses: [224.0.0.1]', ['2:17 INVALID_ADDRESS']],
    ['duplicate in one instance', 'addresses: [10.0.0.1/24, 10.0.0.1/32]', ['2:30 DUPLICATE_ADDRESS']],
    ['VIP is the source', 'source: 10.0.0.1\naddresses: [10.0.0.1]', ['3:17 INVALID_ADDRESS'], "this host's own source address"],
    ['not a list', 'addresses: 10.0.0.1', ['2:16 INVALID_TYPE']],
    ['empty list', 'addresses: []', ['2:16 NO_VALUE']],
    ['label not on the device', 'addresses: [{ address: 10.0.0.9, label: "eth1:0" }]', ['2:45 INVALID_VALUE'], "must start with the device name 'eth0'"],
    ['label too long', 'addresses: [{ address: 10.0.0.9, label: "eth0:verylonglabel" }]', ['2:45 INVALID_VALUE']],
    ['broadcast invalid', 'addresses: [{ address: 10.0.0.9, broadcast: x }]', ['2:49 INVALID_ADDRESS']],
    ['map without address', 'addresses: [{ label: "eth0:1" }]', ['2:17 MISSING_KEY']],
    // hooks
    ['relative hook', 'hooks: { up: bin/up.sh }', ['2:18 INVALID_VALUE'], 'relative path'],
    ['empty hook', 'hooks: { down: "" }', ['2:20 INVALID_VALUE']],
    ['list with shell', 'hooks: { up: [/bin/true], shell: true }', ['2:18 INVALID_TYPE']],
    ['hook list with a number', 'hooks: { up: [/bin/notify, 1] }', ['2:32 INVALID_TYPE']],
    ['hooks not a map', 'hooks: /bin/up', ['2:12 INVALID_TYPE']],
    ['xparam number', 'hooks: { xparam: 5 }', ['2:22 INVALID_TYPE']],
  ])('%s', (_name, extra, expected, message) => {
    // The extra lines come first (line 2), then the rest of a valid instance.
    const ds = problems(`instances:\n  - ${extra.split('\n').join('\n    ')}\n    ${baseFor(extra)}\n`);
    expect(ds.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual(expected);
    if (message) expect(ds[0]!.message).toContain(message);
  });

  /** The base instance minus the keys the extra line sets (so it is not a duplicate key). */
  function baseFor(extra: string): string {
    const keys = new Set(extra.split('\n').map((l) => l.split(':')[0]!.trim()));
    const lines: string[] = [];
    for (const [k, v] of [['interface', 'eth0'], ['vhid', '1'], ['password', 'geheim'], ['addresses', '[10.0.0.100/24]']] as const) {
      if (keys.has(k)) continue;
      lines.push(`${k}: ${v}`);
    }
    return lines.join('\n    ');
  }

  it.each<[string, string, string[]]>([
    ['missing interface, vhid, password, addresses', 'instances:\n  - name: x\n', ['2:5 MISSING_KEY', '2:5 MISSING_KEY', '2:5 MISSING_KEY', '2:5 MISSING_KEY']],
    ['missing instances', 'logging: {}\n', ['1:1 MISSING_KEY']],
    ['empty instances', 'instances: []\n', ['1:12 NO_VALUE']],
    ['instances not a list', 'instances: { a: 1 }\n', ['1:12 INVALID_TYPE']],
    ['an instance that is text', 'instances: [web]\n', ['1:13 INVALID_TYPE']],
    ['unknown top-level key', `instance: []\n`, ['1:1 UNKNOWN_KEY', '1:1 MISSING_KEY']],
    ['relative control socket', `control_socket: carpool.sock\n${instance('')}`, ['1:17 INVALID_VALUE']],
    ['unknown facility', `logging: { facility: local9 }\n${instance('')}`, ['1:22 INVALID_VALUE']],
    ['unknown logging key', `logging: { facilty: daemon }\n${instance('')}`, ['1:12 UNKNOWN_KEY']],
    ['duplicate top-level key', `state_dir: /a\nstate_dir: /b\n${instance('')}`, ['2:1 DUPLICATE_KEY']],
    ['YAML syntax', 'instances: [\n', ['2:1 YAML_SYNTAX']],
    ['tab indentation', 'instances:\n\t- vhid: 1\n', ['2:1 YAML_SYNTAX']],
    ['empty file', '', ['1:1 EMPTY_CONFIG']],
    ['only comments', '# nothing\n', ['1:1 EMPTY_CONFIG']],
    ['a list', '- a\n', ['1:1 NOT_A_MAPPING']],
    ['a scalar', 'hello\n', ['1:1 NOT_A_MAPPING']],
  ])('%s', (_name, text, expected) => {
    expect(where(text)).toEqual(expected);
  });

  it('a suggestion for a misspelled top-level key', () => {
    expect(problems('instance: []\n').find((d) => d.code === 'UNKNOWN_KEY')!.message).toBe(
      "unknown key 'instance' in the configuration — did you mean 'instances'?");
  });

  it('the same (interface, vhid) twice, the same name twice, the same address twice', () => {
    const text = `instances:
  - { name: a, interface: eth0, vhid: 1, password: x, addresses: [10.0.0.1] }
  - { name: a, interface: eth0, vhid: 1, password: x, addresses: [10.0.0.1] }
  - { interface: eth0, vhid: 2, password: x, addresses: [10.0.0.2] }
  - { interface: eth0, vhid: 2, password: x, addresses: [10.0.0.3] }
`;
    const ds = problems(text);
    expect(ds.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '3:13 DUPLICATE_NAME', '3:39 DUPLICATE_VHID', '3:67 DUPLICATE_ADDRESS', '5:5 DUPLICATE_NAME', '5:30 DUPLICATE_VHID',
    ]);
    expect(ds[1]!.message).toBe("instance 'a' uses vhid 1 on eth0, like instance 'a' (line 2)");
    expect(ds[2]!.message).toBe("10.0.0.1 is a virtual address of instance 'a' and of instance 'a' (line 2)");
    expect(ds[3]!.message).toBe("instance name 'eth0-vhid2' is used twice (first at line 4)");
  });

  it('duplicates are found next to other errors', () => {
    const text = `instances:
  - { name: a, interface: eth0, vhid: 1, password: "", addresses: [10.0.0.1] }
  - { name: a, interface: eth0, vhid: 1, password: x, addresses: [10.0.0.1], advbse: 1 }
`;
    expect(where(text)).toEqual(['2:52 INVALID_VALUE', '3:13 DUPLICATE_NAME', '3:39 DUPLICATE_VHID', '3:67 DUPLICATE_ADDRESS', '3:78 UNKNOWN_KEY']);
  });
});

describe('parseCarpoolYaml: password_file', () => {
  const text = (path: string) => `instances:\n  - interface: eth0\n    vhid: 1\n    password_file: ${path}\n    addresses: [10.0.0.1]\n`;

  it('reads the first line, resolving a relative path against the config file', () => {
    const seen: string[] = [];
    const { config } = parse(text('web.pass'), { readFile: (p) => { seen.push(p); return 'pw\nignored\n'; } });
    expect(seen).toEqual(['/etc/carpool/web.pass']);
    expect((config.instances[0]! as CarpInstance).password).toBe('pw');
  });

  it.each<[string, YamlConfigOptions, string[], string]>([
    ['unreadable: at the key', { readFile: () => { throw new Error('EACCES: permission denied'); } }, ['4:5 PASSWORD_FILE_UNREADABLE'],
      "password_file in instance 'eth0-vhid1': cannot read /etc/carpool/web.pass: EACCES: permission denied"],
    ['no reader', {}, ['4:5 PASSWORD_FILE_UNREADABLE'], 'no file reader'],
    ['empty first line', { readFile: () => '\npw\n' }, ['4:5 INVALID_VALUE'], 'is empty'],
    ['too long', { readFile: () => '12345678901234567890\n' }, ['4:5 PASSWORD_TOO_LONG'], '20 bytes'],
  ])('%s', (_name, options, expected, message) => {
    const ds = problems(text('/etc/carpool/web.pass'), options);
    expect(ds.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual(expected);
    expect(ds[0]!.message).toContain(message);
  });

  it('a relative path without a config file name is an error', () => {
    expect(() => parseCarpoolYaml(text('web.pass'), { readFile: () => 'x' })).toThrow(ConfigError);
  });
});

describe('parseCarpoolYaml properties', () => {
  const fragment = fc.constantFrom(
    'instances:', '  - ', 'interface: eth0', 'vhid: 1', 'vhid: x', 'password: x', 'addresses: [10.0.0.1]', 'advbase: 0', '<<: *a',
    'x-a: &a {vhid: 2}', 'hooks: {up: /x}', '- 10.0.0.2', ': :', '{', ']', '"', "'", '\t', 'logging:', '  facility: x', '---',
  );
  it('never throws anything but ConfigError', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fragment, fc.string()), { maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 6 })), (parts, indents) => {
      const text = parts.map((p, i) => ' '.repeat(indents[i] ?? 0) + p).join('\n');
      try {
        parse(text, { readFile: () => 'pw' });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        for (const d of (e as ConfigError).diagnostics) {
          expect(d.line).toBeGreaterThanOrEqual(1);
          expect(d.column).toBeGreaterThanOrEqual(1);
        }
      }
    }), { numRuns: 500 });
  });
});
