/**
 * keepalived.conf leniency (issue 14): what keepalived logs and works around, carpool accepts
 * with a warning that says what both do — and `strict: true` (`carpool check --strict`) refuses.
 * Each case names the keepalived message it mirrors (keepalived 2.2.7 / git 9cbce3e, see
 * docs/config.md "keepalived.conf leniency").
 */
import { describe, expect, it } from 'vitest';
import type { ConfigDiagnostic } from '../../../src/config/diagnostics.js';
import { emitCarpoolYaml } from '../../../src/config/emit-yaml.js';
import { parseKeepalivedConf, type KeepalivedOptions } from '../../../src/config/keepalived/parse.js';
import { MAX_NESTING } from '../../../src/config/keepalived/syntax.js';
import type { VrrpInstance } from '../../../src/config/model.js';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { configErrors } from '../../helpers/config.js';

const FILE = '/etc/keepalived/keepalived.conf';
const ka = (text: string, options: KeepalivedOptions = {}) => parseKeepalivedConf(text, { file: FILE, configId: 'lb1', ...options });
function problems(text: string, options: KeepalivedOptions = {}): ConfigDiagnostic[] {
  return configErrors(() => ka(text, options));
}
const where = (ds: readonly ConfigDiagnostic[]) => ds.map((d) => `${d.line}:${d.column} ${d.code}`);
const warned = (text: string) => ka(text).warnings;
const vrrp = (text: string) => ka(text).config.instances as VrrpInstance[];
/** One instance block with the given lines (instance lines start at line 2). */
const inst = (lines: string, tail = 'interface eth0\n  virtual_router_id 1\n  virtual_ipaddress { 10.0.0.1 }') =>
  `vrrp_instance VI_1 {\n  ${lines.trim().split('\n').join('\n  ')}\n  ${tail}\n}\n`;

/** Accepted with exactly these warnings; refused with the same codes under --strict. */
function lenient(text: string, expected: string[], message: string): ReturnType<typeof ka> {
  const r = ka(text);
  expect(where(r.warnings.filter((w) => w.message.includes(message)))).toEqual(expected);
  expect(where(problems(text, { strict: true }).filter((w) => w.message.includes(message)))).toEqual(expected);
  return r;
}

describe('the same address twice in one instance', () => {
  // keepalived.conf.vrrp, keepalived's main VRRP sample: 192.168.200.18 plain, then with a label.
  // keepalived: "(VI_1): VIP duplicates a VIP 192.168.200.18 - ignoring" — the first one is used.
  const text = inst('virtual_ipaddress {\n  192.168.200.16\n  192.168.200.18\n  192.168.200.18 label eth0:1\n}', 'interface eth0\n  virtual_router_id 51');
  it('keeps the first, warns at the second', () => {
    const r = lenient(text, ['5:5 DUPLICATE_ADDRESS'], 'VIP duplicates a VIP');
    expect((r.config.instances[0] as VrrpInstance).addresses.map((a) => `${a.address}${a.label ? ` ${a.label}` : ''}`))
      .toEqual(['192.168.200.16', '192.168.200.18']);
  });
  it('an excluded address may repeat a virtual one on another interface only', () => {
    expect(warned(inst('virtual_ipaddress_excluded {\n  10.0.0.1 dev eth1\n}')).map((w) => w.code)).not.toContain('DUPLICATE_ADDRESS');
    expect(where(warned('vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1 }\n virtual_ipaddress_excluded { 10.0.0.1 }\n}\n')
      .filter((w) => w.code === 'DUPLICATE_ADDRESS'))).toEqual(['5:31 DUPLICATE_ADDRESS']);
  });
});

describe('flag keywords followed by a word', () => {
  // keepalived's handler of nopreempt does not read its words: `nopreempt 1`, even `nopreempt off`,
  // set nopreempt (no message). carpool does the same and says so.
  it.each([['nopreempt 1', '1'], ['nopreempt off', 'off']])('%s', (line, word) => {
    const r = lenient(inst(`state BACKUP\n${line}`), ['3:13 EXTRA_ARGUMENT'], `keepalived ignores '${word}' and sets nopreempt anyway`);
    expect((r.config.instances[0] as VrrpInstance).preempt).toBe(false);
  });
  it('dont_track_primary yes', () => {
    expect(vrrp(inst('dont_track_primary yes'))[0]!.trackPrimary).toBe(false);
  });
});

describe("the deprecated 'or' in virtual_routes", () => {
  // keepalived.conf.vrrp.routes: `192.168.113.0/24 via 192.168.100.252 or 192.168.100.253`;
  // keepalived: "\"or\" for routes is deprecated. Please use \"nexthop\"" and installs a multipath route.
  it('is read as a multipath route, with the warning (under --strict too: nothing is worked around)', () => {
    const text = inst('virtual_routes {\n  192.168.113.0/24 via 192.168.100.252 or 192.168.100.253 dev eth1\n}');
    const r = ka(text);
    expect(where(r.warnings)).toEqual(['3:42 DEPRECATED']);
    expect(r.warnings[0]!.message).toContain('"or" for routes is deprecated');
    expect(r.warnings[0]!.expected).toContain('nexthop via 192.168.100.252 nexthop via 192.168.100.253');
    expect(ka(text, { strict: true }).warnings.map((w) => w.code)).toEqual(['DEPRECATED']);
    expect((r.config.instances[0] as VrrpInstance).routes).toEqual([{
      family: 4, dst: '192.168.113.0', prefix: 24,
      nexthops: [{ gateway: '192.168.100.252', dev: 'eth1' }, { gateway: '192.168.100.253', dev: 'eth1' }],
    }]);
  });
  it('nexthop is the current spelling, with weights', () => {
    const r = vrrp(inst('virtual_routes {\n  10.5.0.0/16 table 6909 nexthop via 10.0.0.2 dev eth0 weight 1 nexthop via 10.0.0.3 weight 2\n}'));
    expect(r[0]!.routes).toEqual([{
      family: 4, dst: '10.5.0.0', prefix: 16, table: 6909, nexthops: [{ gateway: '10.0.0.2', dev: 'eth0', weight: 1 }, { gateway: '10.0.0.3', weight: 2 }],
    }]);
  });
  it('a bad address after or is an address error', () => {
    expect(where(problems(inst('virtual_routes {\n  10.1.0.0/16 via 10.0.0.1 or nowhere\n}')))).toEqual(['3:33 INVALID_ADDRESS']);
  });
});

describe('an instance without virtual addresses', () => {
  // keepalived (vrrp.c): "(VI_1) No VIP specified; at least one is sensible" (a warning; the
  // instance runs: notify-only set-ups move a cloud address from their notify scripts); "at least
  // one is required" for VRRPv3 and in strict mode; `no_virtual_ipaddress` silences it.
  const notifyOnly = inst('notify_master /usr/local/bin/move-eip.sh', 'interface eth0\n  virtual_router_id 7');
  it('runs with the warning', () => {
    // A warning under --strict too: keepalived runs it as configured, nothing is worked around.
    const r = ka(notifyOnly);
    expect(where(r.warnings)).toEqual(['1:15 NO_ADDRESSES']);
    expect(r.warnings[0]!.message).toContain('No VIP specified; at least one is sensible');
    expect(where(ka(notifyOnly, { strict: true }).warnings)).toEqual(['1:15 NO_ADDRESSES']);
    const i = r.config.instances[0] as VrrpInstance;
    expect(i.addresses).toEqual([]);
    expect(i.family).toBe(4);
    expect(i.notify.master?.argv).toEqual(['/usr/local/bin/move-eip.sh']);
  });
  it('no_virtual_ipaddress: no warning', () => {
    expect(warned(inst('no_virtual_ipaddress', 'interface eth0\n  virtual_router_id 7'))).toEqual([]);
  });
  it.each([
    ['VRRPv3', inst('version 3', 'interface eth0\n  virtual_router_id 7')],
    ['vrrp_strict', 'global_defs {\n vrrp_strict\n}\n' + inst('no_virtual_ipaddress', 'interface eth0\n  virtual_router_id 7')],
  ])('%s requires one', (_, text) => {
    const ds = problems(text).filter((d) => d.code === 'MISSING_KEY');
    expect(ds).toHaveLength(1);
    expect(ds[0]!.message).toContain('at least one is required');
  });
  it('carpool convert writes addresses: [] and reads it back as the same instance', () => {
    const { config } = ka(notifyOnly);
    const yaml = emitCarpoolYaml(config, { header: 'test' });
    expect(yaml).toContain('addresses: []');
    const back = parseCarpoolYaml(yaml, { file: config.source });
    expect(back.config).toEqual(config);
    expect(back.warnings).toEqual([]);
  });
});

describe('vrrp_strict with authentication', () => {
  // keepalived's installed default keepalived.conf has both. keepalived (vrrp.c): "(VI_1) Strict
  // mode does not support authentication. Ignoring." — adverts go without a password.
  it.each([
    ['vrrp_strict in global_defs', 'global_defs {\n vrrp_strict\n}\n', 7],
    ['strict_mode in the instance', '', 5],
  ])('%s: the authentication is dropped', (_, globals, line) => {
    const text = globals + inst(`${globals ? '' : 'strict_mode\n'}authentication {\n  auth_type PASS\n  auth_pass 1111\n}`);
    const r = lenient(text, [`${line}:15 STRICT_MODE`], 'Strict mode does not support authentication. Ignoring.');
    expect((r.config.instances[0] as VrrpInstance).authPass).toBeUndefined();
  });
});

describe('unknown keywords', () => {
  // keepalived (lib/parser.c): "Unknown keyword 'garp_master_delay'" and the keyword is skipped.
  it('in global_defs: skipped with a warning and the did-you-mean hint', () => {
    lenient('global_defs {\n garp_master_delay 10\n}\n' + inst(''), ['2:2 UNKNOWN_KEYWORD'], "did you mean 'vrrp_garp_master_delay'?");
  });
  it('a block keyword is skipped with its block', () => {
    const r = lenient(inst('virtual_ipadress {\n  10.0.0.2\n}'), ['2:3 UNKNOWN_KEYWORD'], "did you mean 'virtual_ipaddress'?");
    expect((r.config.instances[0] as VrrpInstance).addresses.map((a) => a.address)).toEqual(['10.0.0.1']);
  });
  it('an instance name written straight into vrrp_sync_group gets the hint, and the empty group is removed', () => {
    // keepalived.conf.vrrp.lvs_syncd; keepalived: "Unknown keyword 'VI_1'", then "Sync group VG1 has
    // no virtual router(s). removing".
    const text = 'vrrp_sync_group VG1 {\n  VI_1\n}\n' + inst('');
    const r = ka(text);
    expect(where(r.warnings)).toEqual(['1:1 SYNC_GROUP', '2:3 UNKNOWN_KEYWORD']);
    expect(r.warnings[1]!.message).toContain("it belongs in group { VI_1 ... }");
    expect(r.config.syncGroups).toEqual([]);
    expect(where(problems(text, { strict: true }))).toEqual(['1:1 SYNC_GROUP', '2:3 UNKNOWN_KEYWORD']);
  });
});

describe('scripts written for a shell', () => {
  // keepalived.conf.vrrp.localcheck: script "</dev/tcp/127.0.0.1/80". keepalived (core/notify.c)
  // hands a script starting with "</" to system() (/bin/sh -c); /dev/tcp is bash's, so where /bin/sh
  // is dash the check fails every time (keepalived 2.2.7 runs it: "Script `chk_http_port` now
  // returning 2"): accepted and run the same way, with a warning that names the working form.
  it('</dev/tcp: run by /bin/sh as keepalived does, with a warning that it needs bash, and the fix', () => {
    const text = 'vrrp_script chk {\n  script "</dev/tcp/127.0.0.1/80"\n}\n' + inst('track_script {\n  chk\n}');
    const r = ka(text);
    expect(where(r.warnings)).toEqual(['2:10 NEEDS_SHELL']);
    expect(r.warnings[0]!.message).toContain('needs bash');
    expect(r.warnings[0]!.message).toContain('fails every time');
    expect(r.warnings[0]!.message).not.toContain('relative path');
    expect(r.warnings[0]!.expected).toBe(`script "/bin/bash -c '</dev/tcp/127.0.0.1/80'"`);
    expect(r.config.vrrpScripts[0]!.hook).toEqual({ argv: ['</dev/tcp/127.0.0.1/80'], shell: true });
  });
  it.each(['/usr/bin/pidof haproxy | grep 1', '/bin/true && /bin/false', '/bin/echo $(id)'])('%s', (cmd) => {
    expect(where(problems(inst(`notify_master "${cmd}"`)))).toEqual(['2:17 NEEDS_SHELL']);
  });
  it('</FILE: run by /bin/sh, as keepalived does', () => {
    const r = ka('vrrp_script chk {\n  script "</run/haproxy.pid"\n}\n' + inst('track_script {\n  chk\n}'));
    expect(r.config.vrrpScripts[0]!.hook).toEqual({ argv: ['</run/haproxy.pid'], shell: true });
  });
  it('the suggested form is accepted', () => {
    const r = ka(`vrrp_script chk {\n  script "/bin/bash -c '</dev/tcp/127.0.0.1/80'"\n}\n` + inst('track_script {\n  chk\n}'));
    expect(r.config.vrrpScripts[0]!.hook.argv).toEqual(['/bin/bash', '-c', '</dev/tcp/127.0.0.1/80']);
  });
});

describe('hostile input', () => {
  it('thousands of nested braces: a located error, no stack overflow', () => {
    const depth = 20_000;
    const text = inst('') + 'vrrp_script x {\n' + 'a {\n'.repeat(depth) + '}\n'.repeat(depth + 1);
    const ds = problems(text);
    const nesting = ds.filter((d) => d.code !== 'MISSING_KEY'); // vrrp_script x has no script
    expect(where(nesting)).toEqual([`${7 + MAX_NESTING}:3 NESTING`]);
    expect(nesting[0]!.message).toContain(`nested deeper than ${MAX_NESTING}`);
  });
  it('unbalanced deep nesting is still located', () => {
    const ds = where(problems('a {\n'.repeat(5000)));
    expect(ds).toContain(`${MAX_NESTING + 1}:3 NESTING`);
    expect(ds.length).toBeLessThan(2 * MAX_NESTING + 4);
  });
  it('a 10 MB token is shown cut, with its size', () => {
    const big = '9'.repeat(10_000_000);
    const ds = problems(inst(`priority ${big}`));
    expect(where(ds)).toEqual(['2:12 OUT_OF_RANGE']);
    expect(ds[0]!.message.length).toBeLessThan(300);
    expect(ds[0]!.message).toContain('… (10000000 bytes)');
  });
  it('a 10 MB unknown keyword too', () => {
    const ds = ka(inst(`${'x'.repeat(10_000_000)} 1`)).warnings;
    expect(ds[0]!.message.length).toBeLessThan(300);
  });
});

describe('virtual and static rules', () => {
  // keepalived.conf.vrrp.rules writes `to 192.168.100./24`; keepalived: "Invalid rule to address
  // 192.168.100./24" and the rule is dropped, the rest runs.
  const text = `static_rules {\n  from 192.168.100.0/24 table 1\n  to 192.168.100./24 table 1\n}\n${inst('virtual_rules {\n  to 10.9.0./24 table 2\n}')}`;
  it('a rule whose address does not parse is skipped with the warning', () => {
    const r = lenient(text, ['3:6 INVALID_ADDRESS', '7:8 INVALID_ADDRESS'], 'Invalid rule to address');
    expect(r.config.static?.rules).toEqual([{ family: 4, from: '192.168.100.0/24', table: 1 }]);
    expect((r.config.instances[0] as VrrpInstance).rules).toEqual([]);
  });
});

describe('static addresses', () => {
  // keepalived puts a static address without dev on default_interface (default eth0).
  it('without dev: on default_interface, else eth0 with a warning', () => {
    const r = ka(`static_ipaddress {\n  192.0.2.5/24\n  192.0.2.6/24 dev eth1 scope link\n}\n${inst('')}`);
    expect(r.config.static?.addresses).toEqual([
      { family: 4, address: '192.0.2.5', prefix: 24, dev: 'eth0' }, { family: 4, address: '192.0.2.6', prefix: 24, dev: 'eth1', scope: 'link' },
    ]);
    expect(where(r.warnings)).toEqual(['2:3 MISSING_ARGUMENT']);
    const d = ka(`global_defs {\n  default_interface bond0\n}\nstatic_ipaddress {\n  192.0.2.5/24\n}\n${inst('')}`);
    expect(d.config.static?.addresses[0]?.dev).toBe('bond0');
    expect(d.warnings).toEqual([]);
  });
  it('carpool convert carries them', () => {
    const r = ka(`static_ipaddress {\n  192.0.2.5/24 dev eth1\n}\nstatic_routes {\n  10.8.0.0/16 via 192.0.2.1 proto bird scope global\n}\n${inst('')}`);
    expect(parseCarpoolYaml(emitCarpoolYaml(r.config), { file: FILE }).config).toEqual(r.config);
    expect(r.config.static?.routes).toEqual([{ family: 4, dst: '10.8.0.0', prefix: 16, gateway: '192.0.2.1', proto: 12, scope: 'global' }]);
  });
});
