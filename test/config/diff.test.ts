import { describe, expect, it } from 'vitest';
import { describePlan, planChanges, planReload, sameValue, type InstanceAction } from '../../src/config/diff.js';
import { parseCarpoolYaml } from '../../src/config/yaml/parse.js';
import { parseKeepalivedConf } from '../../src/config/keepalived/parse.js';
import type { CarpoolConfig } from '../../src/config/model.js';

/** A carpool.yaml with CARP instances `web` (vhid 1) and `db` (vhid 2); `edit` rewrites the text. */
function carp(edit: (t: string) => string = (t) => t): CarpoolConfig {
  const text = `control_socket: /run/x/carpool.sock
state_dir: /run/x
instances:
  - name: web
    interface: eth0
    vhid: 1
    password: secret
    advbase: 1
    advskew: 20
    addresses: [10.0.0.100/24]
  - name: db
    interface: eth0
    vhid: 2
    password: secret
    advbase: 1
    advskew: 20
    addresses: [10.0.0.101/24]
`;
  return parseCarpoolYaml(edit(text), { file: 'c.yaml' }).config;
}

interface KaInstance { vrid: number; prio?: number; adv?: number; addrs?: string; track?: boolean }

/**
 * keepalived.conf with VRRP instances VI_1, VI_2 (tracks script chk) and sync group G of
 * VI_3 and VI_4; `o` overrides an instance (null drops it), the group's members, the script.
 */
function ka(o: { inst?: Partial<Record<string, Partial<KaInstance> | null>>; group?: string; script?: string; head?: string } = {}): CarpoolConfig {
  const base: Record<string, KaInstance> = {
    VI_1: { vrid: 1, addrs: '10.0.0.1/24' }, VI_2: { vrid: 2, addrs: '10.0.0.2/24', track: true },
    VI_3: { vrid: 3, addrs: '10.0.0.3/24' }, VI_4: { vrid: 4, addrs: '10.0.0.4/24' },
  };
  const blocks = Object.entries(base).flatMap(([name, b]) => {
    const over = o.inst?.[name];
    if (over === null) return [];
    const i = { ...b, ...over };
    return [`vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${i.vrid}\n  priority ${i.prio ?? 100}\n  advert_int ${i.adv ?? 1}\n` +
      `  virtual_ipaddress {\n${(i.addrs ?? '').split(' ').map((a) => `    ${a}\n`).join('')}  }\n${i.track ? '  track_script {\n    chk\n  }\n' : ''}}\n`];
  });
  const text = `${o.head ?? ''}vrrp_script chk {\n  script "/bin/true"\n  ${o.script ?? 'interval 2'}\n}\n` +
    `vrrp_sync_group G {\n  group {\n    ${o.group ?? 'VI_3 VI_4'}\n  }\n}\n${blocks.join('')}`;
  return parseKeepalivedConf(text, { file: 'k.conf', configId: 'lb1' }).config;
}

const kinds = (actions: readonly InstanceAction[]): Record<string, string> => Object.fromEntries(actions.map((a) => [a.name, a.kind]));
const action = (actions: readonly InstanceAction[], name: string): InstanceAction => {
  const a = actions.find((x) => x.name === name);
  if (!a) throw new Error(`no action for ${name}`);
  return a;
};

describe('planReload: CARP', () => {
  it('keeps everything when nothing changed', () => {
    const plan = planReload(carp(), carp());
    expect(kinds(plan.instances)).toEqual({ web: 'keep', db: 'keep' });
    expect(plan.refused).toEqual([]);
    expect(planChanges(plan)).toBe(false);
    expect(describePlan(plan)).toEqual([]);
  });

  it('changes advskew in place and leaves the other instance alone', () => {
    const plan = planReload(carp(), carp((t) => t.replace(/(vhid: 2[\s\S]*?advskew: )20/, '$140')));
    expect(kinds(plan.instances)).toEqual({ web: 'keep', db: 'update' });
    const db = action(plan.instances, 'db');
    expect(db.kind === 'update' && db.changes).toEqual(['advskew 20 -> 40']);
    expect(describePlan(plan)).toEqual(['db: changed in place (advskew 20 -> 40)']);
  });

  it('adds and removes addresses in place, naming them', () => {
    const plan = planReload(carp(), carp((t) => t.replace('[10.0.0.101/24]', '[10.0.0.102/24, 10.0.0.103/24]')));
    const db = action(plan.instances, 'db');
    expect(db.kind).toBe('update');
    expect(db.kind === 'update' && db.changes).toEqual(['addresses +10.0.0.102/24 +10.0.0.103/24 -10.0.0.101/24']);
  });

  it('takes password, preempt, deadratio, hooks in place', () => {
    const plan = planReload(carp(), carp((t) => t.replace(/(vhid: 2\n {4}password: )secret/, '$1other\n    preempt: true\n    deadratio: 5\n    hooks: { up: /bin/true }')));
    const db = action(plan.instances, 'db');
    expect(db.kind).toBe('update');
    expect(db.kind === 'update' && [...db.changes].sort()).toEqual(['deadratio 3 -> 5', 'password changed', 'preempt false -> true', 'up hook changed']);
  });

  it('replaces an instance whose vhid or interface changed, saying why', () => {
    const plan = planReload(carp(), carp((t) => t.replace('vhid: 2', 'vhid: 3').replace(/(name: db\n {4}interface: )eth0/, '$1eth1')));
    const db = action(plan.instances, 'db');
    expect(db.kind).toBe('replace');
    expect(db.kind === 'replace' && [...db.reasons].sort()).toEqual(['interface eth0 -> eth1', 'vhid 2 -> 3']);
    expect(action(plan.instances, 'web').kind).toBe('keep');
  });

  it('adds and removes instances; a rename is a removal and an addition', () => {
    const plan = planReload(carp(), carp((t) => t.replace('name: db', 'name: db2')));
    expect(kinds(plan.instances)).toEqual({ web: 'keep', db: 'remove', db2: 'add' });
    expect(plan.instances[0]!.kind).toBe('remove'); // removals first: the vhid is free before the new one starts
  });

  it('adds a new instance', () => {
    const plan = planReload(carp(), carp((t) => `${t}  - name: mail\n    interface: eth0\n    vhid: 9\n    password: s\n    addresses: [10.0.0.109/24]\n`));
    expect(kinds(plan.instances)).toEqual({ web: 'keep', db: 'keep', mail: 'add' });
    expect(describePlan(plan)).toEqual(['mail: added']);
  });

  it('refuses a new control socket or state directory: restart needed', () => {
    const plan = planReload(carp(), carp((t) => t.replace('/run/x/carpool.sock', '/run/y/carpool.sock').replace('state_dir: /run/x', 'state_dir: /run/y')));
    expect(plan.refused).toEqual([
      'restart needed for control_socket (/run/x/carpool.sock -> /run/y/carpool.sock)',
      'restart needed for state_dir (/run/x -> /run/y)',
    ]);
  });

  it('refuses logging and realtime_priority changes', () => {
    const plan = planReload(carp(), carp((t) => `realtime_priority: 5\nlogging: { debug: true }\n${t}`));
    expect(plan.refused).toHaveLength(2);
    expect(plan.refused.join('\n')).toMatch(/logging[\s\S]*realtime_priority \(unset -> 5\)/);
  });

  it('resource groups: kept, added, removed, restarted when their instance or a member changed', () => {
    const res = (instance: string, stop = '/bin/true', extra = '') => `resources:\n  - id: ip\n    agent: builtin:command\n    params: { start: /bin/true, stop: ${stop}, monitor: /bin/true }\n${extra}` +
      `groups:\n  - id: g1\n    instance: ${instance}\n    resources: [ip]\n`;
    const before = carp((t) => t + res('web'));
    const same = planReload(before, carp((t) => t + res('web')));
    expect(same.groups).toEqual([{ kind: 'keep', id: 'g1', reasons: [] }]);
    expect(planChanges(same)).toBe(false);
    const moved = planReload(before, carp((t) => t + res('db')));
    expect(moved.refused).toEqual([]);
    expect(moved.groups).toEqual([{ kind: 'restart', id: 'g1', reasons: ['instance web -> db'] }]);
    expect(describePlan(moved)).toEqual(['group g1: restarted (instance web -> db)']);
    expect(planReload(before, carp((t) => t + res('web', '/bin/false'))).groups[0]).toEqual({ kind: 'restart', id: 'g1', reasons: ['resource ip changed'] });
    // The same definition on another line is no change.
    expect(planReload(before, carp((t) => `${t}\n\n${res('web')}`)).groups[0]!.kind).toBe('keep');
    expect(planReload(carp(), before).groups).toEqual([{ kind: 'add', id: 'g1', reasons: [] }]);
    expect(planReload(before, carp()).groups).toEqual([{ kind: 'remove', id: 'g1', reasons: [] }]);
    expect(describePlan(planReload(before, carp()))).toEqual(['group g1: removed']);
  });

  it('refuses a change of any other top-level setting (the HTTP listener...)', () => {
    const a = carp();
    expect(planReload(a, { ...a, http: { host: '127.0.0.1', port: 9650 } }).refused).toEqual(['restart needed for http']);
    expect(planReload({ ...a, future: [1] } as unknown as CarpoolConfig, { ...a, future: [1] } as unknown as CarpoolConfig).refused).toEqual([]);
  });

  it('refuses a change of the static part, the notify FIFO or the namespace, in the words of the configuration', () => {
    const a = carp();
    const route = { family: 4 as const, dst: '10.9.0.0', prefix: 16, gateway: '10.0.0.1' };
    expect(planReload(a, { ...a, static: { addresses: [], routes: [route], rules: [] }, notifyFifo: { path: '/run/f' }, netNamespace: 'blue' }).refused)
      .toEqual(['restart needed for static (static_ipaddress, static_routes, static_rules)', 'restart needed for notify_fifo', 'restart needed for net_namespace']);
  });

  it('refuses a changed vrrp_track_process in use', () => {
    const p = { name: 'p', process: 'haproxy', paramMatch: 'exact' as const, fullCommand: false, weight: 0, reverse: false, quorum: 1, forkDelayMs: 0, terminateDelayMs: 0 };
    const a = ka();
    const withP = (quorum: number): CarpoolConfig => ({
      ...a, trackProcesses: [{ ...p, quorum }],
      instances: a.instances.map((i) => (i.name === 'VI_2' && i.kind === 'vrrp' ? { ...i, trackProcesses: [{ name: 'p', weight: 0, reverse: false }] } : i)),
    });
    expect(planReload(withP(1), withP(2)).refused).toEqual(['restart needed for vrrp_track_process p (its definition changed while instances track it)']);
    expect(planReload(withP(1), withP(1)).refused).toEqual([]);
  });

  it('notes a changed file name without any action', () => {
    const a = carp();
    const plan = planReload(a, { ...a, source: 'other.yaml' });
    expect(planChanges(plan)).toBe(false);
    expect(plan.notes).toEqual(['configuration file c.yaml -> other.yaml']);
  });
});

describe('planReload: VRRP', () => {
  it('keeps unchanged instances and groups', () => {
    const plan = planReload(ka(), ka());
    expect(kinds(plan.instances)).toEqual({ VI_1: 'keep', VI_2: 'keep', VI_3: 'keep', VI_4: 'keep' });
    expect(plan.refused).toEqual([]);
  });

  it('changes priority and addresses in place', () => {
    const plan = planReload(ka(), ka({ inst: { VI_1: { prio: 120, addrs: '10.0.0.1/24 10.0.0.11/24' } } }));
    const a = action(plan.instances, 'VI_1');
    expect(a.kind).toBe('update');
    expect(a.kind === 'update' && a.changes).toEqual(['priority 100 -> 120', 'addresses +10.0.0.11/24']);
    expect(kinds(plan.instances)).toMatchObject({ VI_2: 'keep', VI_3: 'keep', VI_4: 'keep' });
  });

  it('replaces on a priority change to or from 255 (the owner)', () => {
    const plan = planReload(ka(), ka({ inst: { VI_1: { prio: 255 } } }));
    const a = action(plan.instances, 'VI_1');
    expect(a.kind === 'replace' && a.reasons.join(', ')).toMatch(/priority 100 -> 255 \(the address owner/);
  });

  it('replaces on an advert interval change', () => {
    const plan = planReload(ka(), ka({ inst: { VI_1: { adv: 2 } } }));
    const a = action(plan.instances, 'VI_1');
    expect(a.kind === 'replace' && a.reasons).toEqual(['advert interval 1000 -> 2000']);
  });

  it('a member changed in a way that needs a replacement replaces the whole sync group', () => {
    const plan = planReload(ka(), ka({ inst: { VI_3: { adv: 2 } } }));
    expect(kinds(plan.instances)).toEqual({ VI_1: 'keep', VI_2: 'keep', VI_3: 'replace', VI_4: 'replace' });
    const four = action(plan.instances, 'VI_4');
    expect(four.kind === 'replace' && four.reasons).toEqual(['sync group G changed']);
  });

  it('an in-place change of a member leaves the group alone', () => {
    const plan = planReload(ka(), ka({ inst: { VI_3: { prio: 90 } } }));
    expect(kinds(plan.instances)).toEqual({ VI_1: 'keep', VI_2: 'keep', VI_3: 'update', VI_4: 'keep' });
  });

  it('moving an instance into a sync group replaces it and the group', () => {
    const plan = planReload(ka(), ka({ group: 'VI_3 VI_4 VI_1' }));
    expect(kinds(plan.instances)).toEqual({ VI_1: 'replace', VI_2: 'keep', VI_3: 'replace', VI_4: 'replace' });
  });

  it('removing a sync group member replaces the remaining members', () => {
    const plan = planReload(ka(), ka({ group: 'VI_3', inst: { VI_4: null } }));
    expect(kinds(plan.instances)).toEqual({ VI_4: 'remove', VI_1: 'keep', VI_2: 'keep', VI_3: 'replace' });
  });

  it('refuses a changed vrrp_script in use; an unused one is only noted', () => {
    const plan = planReload(ka(), ka({ script: 'interval 3' }));
    expect(plan.refused).toEqual(['restart needed for vrrp_script chk (its definition changed while instances track it)']);
    const unused = { VI_2: { track: false } };
    expect(planReload(ka({ inst: unused }), ka({ inst: unused, script: 'interval 3' })).refused).toEqual([]);
    const added = planReload(ka(), ka({ head: 'vrrp_script chk2 {\n  script "/bin/true"\n}\n' }));
    expect(added.notes).toEqual(['vrrp_script chk2 added']);
  });

  it('replaces an instance that starts tracking a script', () => {
    const plan = planReload(ka(), ka({ inst: { VI_1: { track: true } } }));
    const a = action(plan.instances, 'VI_1');
    expect(a.kind === 'replace' && a.reasons).toEqual(['tracked scripts changed']);
  });

  it('a protocol change (CARP to VRRP under one name) is a replacement', () => {
    const c = carp();
    const v = ka();
    const vrrpWeb = { ...v, instances: [{ ...v.instances[0]!, name: 'web' }, c.instances[1]!] };
    const plan = planReload(c, { ...c, instances: vrrpWeb.instances });
    const web = action(plan.instances, 'web');
    expect(web.kind === 'replace' && web.reasons).toEqual(['protocol carp -> vrrp']);
  });
});

describe('sameValue', () => {
  it('compares plain data structurally, ignoring undefined keys', () => {
    expect(sameValue({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
    expect(sameValue({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue({ a: [] }, { a: {} })).toBe(false);
    expect(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(sameValue(null, {})).toBe(false);
  });
});
