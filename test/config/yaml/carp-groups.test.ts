import { describe, expect, it } from 'vitest';
import type { CarpInstance } from '../../../src/config/model.js';
import { emitCarpoolYaml } from '../../../src/config/emit-yaml.js';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { configErrors } from '../../helpers/config.js';

const FILE = '/etc/carpool/carpool.yaml';
const parse = (text: string) => parseCarpoolYaml(text, { file: FILE });

/** Seed 004's firewall: a LAN and a WAN CARP instance. */
const FW = `instances:
  - { name: lan, interface: em0, vhid: 1, password: lanpasswd, addresses: [172.16.0.100/24] }
  - { name: wan, interface: em1, vhid: 2, password: wanpasswd, addresses: [192.0.2.100/24] }
`;

describe('CARP groups in carpool.yaml', () => {
  it('a sync group of CARP instances is a CARP group, not a VRRP sync group', () => {
    const { config } = parse(`${FW}sync_groups:\n  - { name: fw, members: [lan, wan] }\n`);
    expect(config.carpGroups).toEqual([{ name: 'fw', members: ['lan', 'wan'] }]);
    expect(config.syncGroups).toEqual([]);
    expect(config.instances.map((i) => (i as CarpInstance).preempt)).toEqual([false, false]);
  });

  it('carp_preempt: every CARP instance preempts and all form one group (BSD net.inet.carp.preempt=1)', () => {
    const { config, warnings } = parse(`carp_preempt: true\n${FW}`);
    expect(config.carpGroups).toEqual([{ name: 'carp', members: ['lan', 'wan'] }]);
    expect(config.instances.map((i) => (i as CarpInstance).preempt)).toEqual([true, true]);
    expect(warnings).toEqual([]);
  });

  it('convert writes the group back, and the result reads the same', () => {
    const { config } = parse(`carp_preempt: true\n${FW}`);
    const again = parse(emitCarpoolYaml(config)).config;
    expect(again.carpGroups).toEqual(config.carpGroups);
    expect(again.instances).toEqual(config.instances);
  });

  it('refuses a group mixing CARP and VRRP instances, and VRRP-only settings on a CARP group', () => {
    const vrrp = '  - { name: v1, protocol: vrrp, interface: em0, virtual_router_id: 9, priority: 100, addresses: [172.16.0.200/24] }\n';
    const mixed = configErrors(() => parse(`${FW}${vrrp}sync_groups:\n  - { name: fw, members: [lan, v1] }\n`));
    expect(mixed.map((d) => `${d.line} ${d.code}`)).toEqual(['6 SYNC_GROUP']);
    expect(mixed[0]!.message).toMatch(/mixes CARP instances \(lan\) with 'v1'/);
    const notify = configErrors(() => parse(`${FW}sync_groups:\n  - { name: fw, members: [lan, wan], notify: { master: /bin/true } }\n`));
    expect(notify.map((d) => d.code)).toEqual(['SYNC_GROUP']);
    expect(notify[0]!.message).toMatch(/takes only 'name' and 'members'/);
  });

  it('warns that an explicit CARP group is redundant under carp_preempt', () => {
    const { warnings } = parse(`carp_preempt: true\n${FW}sync_groups:\n  - { name: fw, members: [lan, wan] }\n`);
    expect(warnings.map((w) => w.code)).toEqual(['SYNC_GROUP']);
  });

  it('a reload that changes CARP groups is refused with the reason', async () => {
    const { planReload } = await import('../../../src/config/diff.js');
    const a = parse(FW).config;
    const b = parse(`carp_preempt: true\n${FW}`).config;
    expect(planReload(a, b).refused).toContain('restart needed for CARP groups (sync_groups of CARP instances, carp_preempt)');
  });
});
