/**
 * The planner's generations (core/nft.ts `flatUpdate`): after any sequence of one-server
 * changes, the objects the flat updates leave — the plane in force, plus each update's `nft`
 * adds, plus its netlink operations — are exactly the objects of the desired plane at the new
 * generations. Modelled here on the object level; test/integration/balancer/flat-update.test.ts
 * checks the same against the kernel.
 */
import { describe, expect, it } from 'vitest';
import { flatUpdate, MAX_FLAT_GEN_BYTES, planObjects, withGenerations, type Plane } from '../../../src/balancer/core/nft.js';
import { encodeBatch, encodeKey, keyLayout, NfnlError } from '../../../src/balancer/core/nfnl.js';
import { prng, servers as srv, service, type Spec } from '../../helpers/plane-specs.js';

const v4 = (i: number) => ({ address: `10.1.1.${10 + i}`, port: 8080 });
const SPECS: Spec[] = [
  { base: { id: 1, family: 'ipv4', match: { kind: 'addr', vip: '10.0.0.1', port: 80 }, protocol: 'tcp', method: 'nat', counters: true }, all: srv(4, v4), hash: false },
  { base: { id: 2, family: 'ipv4', match: { kind: 'addr', vip: '10.0.0.2', port: 443 }, protocol: 'tcp', method: 'nat', persistence: { timeoutMs: 60_000, prefixLength: 24 } }, all: srv(3, v4), hash: true },
  { base: { id: 3, family: 'ipv4', match: { kind: 'fwmark', mark: 7 }, protocol: 'tcp', method: 'nat' }, all: srv(3, (i) => ({ address: `10.1.2.${10 + i}` })), hash: false },
  { base: { id: 4, family: 'ipv6', match: { kind: 'addr', vip: 'fd00::1', port: 53 }, protocol: 'udp', method: 'nat', counters: true }, all: srv(3, (i) => ({ address: `fd00:1::${10 + i}`, port: 5353 })), hash: false },
  { base: { id: 5, family: 'ipv4', match: { kind: 'addr', vip: '10.0.0.5', port: 80 }, protocol: 'tcp', method: 'dr', ingressDevice: 'eth1' }, all: srv(3, (i) => ({ address: `10.1.3.${10 + i}` })), hash: true },
  { base: { id: 6, family: 'ipv6', match: { kind: 'fwmark', mark: 9 }, protocol: 'tcp', method: 'tun', ingressDevice: 'eth1' }, all: srv(2, (i) => ({ address: `fd00:4::${10 + i}`, tunnelDevice: `tun${i}` })), hash: false },
];

/** Objects as a model: `fam chain name` → rules, `fam map name` → declaration, `fam elements name` → key bytes → data. */
type Model = Map<string, string | Map<string, string>>;

function keyId(decl: string, k: string): string {
  try {
    return Buffer.from(encodeKey(keyLayout(decl), k)).toString('hex');
  } catch (err) {
    if (err instanceof NfnlError) return k;
    throw err;
  }
}

function model(plane: Plane): Model {
  const m: Model = new Map();
  for (const [fam, t] of planObjects(plane)) {
    for (const [name, c] of t.chains) m.set(`${fam} chain ${name}`, `${c.hook}|${c.rules.join('\n')}`);
    for (const [name, s] of t.maps) {
      m.set(`${fam} map ${name}`, `${s.kind} ${s.decl}`);
      m.set(`${fam} elements ${name}`, new Map([...s.elements].map(([k, v]) => [keyId(s.decl, k), v])));
    }
  }
  return m;
}

/** Apply a flat update to the model: the nft adds (taken whole from `target` by name: they must be there), then the netlink ops. */
function applyFlat(m: Model, f: NonNullable<ReturnType<typeof flatUpdate>>, target: Model): void {
  const rules = new Map<string, string[]>();
  // New generations by netlink are listed in `text` as the nft commands they stand for.
  const genLines = f.text.split('\n').filter((l) => /^add (map|set|chain|rule) /.test(l));
  expect(f.ops.filter((o) => o.op === 'newSet' || o.op === 'newChain' || o.op === 'newRule').length).toBe(genLines.length);
  for (const line of [...f.nft.split('\n').filter(Boolean), ...genLines]) {
    const add = /^add (map|set) (\S+) carpool (\S+) \{/.exec(line);
    const chain = /^add chain (\S+) carpool (\S+)$/.exec(line);
    const rule = /^add rule (\S+) carpool (\S+) (.*)$/.exec(line);
    if (add) {
      const [, , fam, name] = add;
      expect(m.has(`${fam} map ${name}`), `${name} is new`).toBe(false);
      expect(target.has(`${fam} map ${name}`), `${name} is in the target`).toBe(true);
      m.set(`${fam} map ${name}`, target.get(`${fam} map ${name}`)!);
      m.set(`${fam} elements ${name}`, new Map(target.get(`${fam} elements ${name}`) as Map<string, string>));
    } else if (chain) {
      expect(m.has(`${chain[1]} chain ${chain[2]}`)).toBe(false);
      rules.set(`${chain[1]} chain ${chain[2]}`, []);
    } else if (rule) {
      rules.get(`${rule[1]} chain ${rule[2]}`)!.push(rule[3]!);
    } else {
      throw new Error(`unexpected nft line: ${line}`);
    }
  }
  for (const [k, r] of rules) m.set(k, `|${r.join('\n')}`);
  for (const op of f.ops) {
    if (op.op === 'newSet' || op.op === 'newElems' || op.op === 'newChain' || op.op === 'newRule') continue;
    if (op.op === 'delChain') {
      expect(m.delete(`${op.family} chain ${op.chain}`), op.chain).toBe(true);
      continue;
    }
    const els = m.get(`${op.family} elements ${op.set}`) as Map<string, string> | undefined;
    expect(els, op.set).toBeDefined();
    if (op.op === 'delSet') {
      m.delete(`${op.family} map ${op.set}`);
      m.delete(`${op.family} elements ${op.set}`);
    } else if (op.op === 'flushSet') {
      els!.clear();
    } else {
      const k = Buffer.from(op.key).toString('hex');
      if (op.op === 'delElem') expect(els!.delete(k), `${op.set} ${k}`).toBe(true);
      else {
        expect(els!.has(k), `${op.set} ${k} deleted first`).toBe(false);
        els!.set(k, op.verdict ? `${op.verdict.code} ${op.verdict.chain}` : '');
      }
    }
  }
}

describe('flat updates (generations)', () => {
  it('after any sequence of one-server changes the objects equal the desired plane at the new generations', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rnd = prng(seed);
      const present = SPECS.map((s) => s.all.map(() => true));
      let cur: Plane = { services: SPECS.map((s, i) => service(s, present[i]!)) };
      let gens: ReadonlyMap<number, number> = new Map();
      const m = model(cur);
      for (let c = 0; c < 30; c++) {
        const i = Math.floor(rnd() * SPECS.length);
        const p = present[i]!;
        const j = Math.floor(rnd() * p.length);
        if (p[j] && p.filter(Boolean).length === 1) p[(j + 1) % p.length] = true;
        else p[j] = !p[j];
        const next: Plane = { services: cur.services.map((s, k) => (k === i ? service(SPECS[i]!, p) : s)) };
        const f = flatUpdate(cur, next, gens);
        expect(f, `seed ${seed} change ${c}`).toBeDefined();
        expect(f!.generations.get(SPECS[i]!.base.id)).toBe((gens.get(SPECS[i]!.base.id) ?? 0) + 1);
        const target = model(withGenerations(next, f!.generations));
        applyFlat(m, f!, target);
        expect(new Map([...m].map(([k, v]) => [k, typeof v === 'string' ? v : [...v].sort()])), `seed ${seed} change ${c}`)
          .toEqual(new Map([...target].map(([k, v]) => [k, typeof v === 'string' ? v : [...v].sort()])));
        cur = next;
        gens = f!.generations;
      }
    }
  });

  it('one server of one NAT service: a new chain and slot map, the dispatch element repointed, the old ones deleted; stateful maps kept', () => {
    const all = [true, true, true];
    const a: Plane = { services: [service(SPECS[1]!, all), service(SPECS[0]!, [true, true, true, true])] };
    const b: Plane = { services: [service(SPECS[1]!, [true, false, true]), a.services[1]!] };
    const f = flatUpdate(a, b, new Map())!;
    // The new generation goes in the netlink batch too: no nft run at all.
    expect(f.nft).toBe('');
    expect(f.netlinkGenerations).toBe(1);
    expect(f.ops.map((o) => o.op)).toEqual(['newSet', 'newElems', 'newChain', 'newRule', 'newRule', 'newRule', 'newRule', 'delElem', 'addElem', 'flushSet', 'delChain', 'delSet']);
    const lines = f.text.split('\n');
    expect(lines.slice(0, 6).map((l) => l.split(' {')[0]!.split(' ').slice(0, 5).join(' '))).toEqual([
      'add map ip carpool vs2g1_slots', 'add chain ip carpool vs2g1', 'add rule ip carpool vs2g1', 'add rule ip carpool vs2g1', 'add rule ip carpool vs2g1', 'add rule ip carpool vs2g1',
    ]);
    expect(lines[3]).toContain('map @vs2_persist');
    expect(lines.slice(6).join('\n')).toBe([
      'delete element ip carpool services { 10.0.0.2 . tcp . 443 }',
      'add element ip carpool services { 10.0.0.2 . tcp . 443 : jump vs2g1 }',
      // A server left: the persistence map forgets its clients (as the whole diff does).
      'flush map ip carpool vs2_persist',
      'delete chain ip carpool vs2',
      'delete map ip carpool vs2_slots',
    ].join('\n') + '\n');
    expect(f.generations).toEqual(new Map([[2, 1]]));
    // The next change goes from generation 1 to 2.
    const c: Plane = { services: [service(SPECS[1]!, all), b.services[1]!] };
    expect(flatUpdate(b, c, f.generations)!.text).toContain('delete chain ip carpool vs2g1\n');
  });

  it('DR/TUN generations go by netlink with interface indexes, by nft -f without (or for an unknown device)', () => {
    const all = (i: number) => SPECS[i]!.all.map(() => true);
    const a: Plane = { services: [service(SPECS[4]!, all(4)), service(SPECS[5]!, all(5))] };
    const b: Plane = { services: [service(SPECS[4]!, [true, false, true]), service(SPECS[5]!, [false, true])] };
    const index = new Map([['eth1', 3], ['tun0', 7], ['tun1', 8]]);
    const nl = flatUpdate(a, b, new Map(), (d) => index.get(d))!;
    expect(nl.nft).toBe('');
    expect(nl.netlinkGenerations).toBe(2);
    // DR: slot map, id set, server map (each with elements), chain, 7 rules; TUN the same with 7 rules.
    expect(nl.ops.filter((o) => o.op === 'newSet').map((o) => (o as { set: string }).set)).toEqual(['vs5g1_slots', 'vs5g1_ids', 'vs5g1_servers', 'vs6g1_slots', 'vs6g1_ids', 'vs6g1_servers']);
    expect(nl.ops.filter((o) => o.op === 'newRule').length).toBe(14);
    const tunElems = nl.ops.find((o) => o.op === 'newElems' && o.set === 'vs6g1_servers');
    // The TUN map's data is the tunnel device's interface index (host order), as nft resolves it.
    expect(tunElems && tunElems.op === 'newElems' ? [...tunElems.elements[0]!.data!] : []).toEqual([...new Uint8Array(new Uint32Array([8]).buffer)]);
    // Without indexes, or with a device unknown: the same generation by nft -f.
    for (const lookup of [undefined, (d: string) => (d === 'tun1' ? undefined : index.get(d))]) {
      const f = flatUpdate(a, b, new Map(), lookup)!;
      expect(f.netlinkGenerations).toBe(lookup ? 1 : 0);
      expect(f.nft).toContain('add map netdev carpool vs6g1_servers');
      expect(f.ops.some((o) => o.op === 'newRule' && o.chain === 'vs6g1')).toBe(false);
    }
  });

  it('new generations past MAX_FLAT_GEN_BYTES in one update go by nft -f, the rest by netlink', () => {
    const many = Array.from({ length: 80 }, (_, k): Spec => ({ ...SPECS[1]!, base: { ...SPECS[1]!.base, id: 100 + k, match: { kind: 'addr', vip: `10.3.${k >> 8}.${k & 255}`, port: 443 } } }));
    const full: Plane = { services: many.map((sp) => service(sp, [true, true, true])) };
    const less: Plane = { services: many.map((sp) => service(sp, [true, false, true])) };
    const f = flatUpdate(full, less, new Map())!;
    expect(f).toBeDefined();
    expect(f.netlinkGenerations).toBeGreaterThan(0);
    expect(f.netlinkGenerations).toBeLessThan(80);
    expect(f.nft.match(/^add chain /gm)?.length).toBe(80 - f.netlinkGenerations);
    const gen = f.ops.filter((o) => o.op.startsWith('new'));
    expect(encodeBatch(gen, 1).bytes.length).toBeLessThanOrEqual(MAX_FLAT_GEN_BYTES);
    expect(f.generations.size).toBe(80);
  });

  it('anything but a change of servers is not flat: the caller diffs with nft', () => {
    const p: Plane = { services: SPECS.map((s) => service(s, s.all.map(() => true))) };
    expect(flatUpdate(p, p, new Map())).toEqual({ nft: '', ops: [], netlinkGenerations: 0, text: '', generations: new Map() });
    // Planned again to the same content (new objects): no new generation either.
    expect(flatUpdate(p, { services: p.services.map((x) => ({ ...x })) }, new Map())).toEqual({ nft: '', ops: [], netlinkGenerations: 0, text: '', generations: new Map() });
    // Every service changed at once and more operations than a batch may hold: nft -f does it.
    const many = Array.from({ length: 300 }, (_, k): Spec => ({ ...SPECS[0]!, base: { ...SPECS[0]!.base, id: 100 + k, match: { kind: 'addr', vip: `10.3.${k >> 8}.${k & 255}`, port: 80 } } }));
    const full: Plane = { services: many.map((sp) => service(sp, [true, true, true, true])) };
    const less: Plane = { services: many.map((sp) => service(sp, [true, true, true, false])) };
    expect(flatUpdate(full, less, new Map())).toBeUndefined();
    expect(flatUpdate(full, { services: [less.services[0]!, ...full.services.slice(1)] }, new Map())).toBeDefined();
    expect(flatUpdate(p, { services: p.services.slice(1) }, new Map())).toBeUndefined();
    expect(flatUpdate(p, { services: [{ ...p.services[0]!, protocol: 'udp' }, ...p.services.slice(1)] }, new Map())).toBeUndefined();
    expect(flatUpdate(p, { services: [{ ...p.services[0]!, id: 99 }, ...p.services.slice(1)] }, new Map())).toBeUndefined();
    // The last server of a counted service leaves: the shared `after` chain changes.
    const lone = (pr: boolean[]) => ({ services: [service({ ...SPECS[0]!, all: SPECS[0]!.all.slice(0, 1) }, pr)] });
    expect(flatUpdate(lone([true]), lone([false]), new Map())).toBeUndefined();
  });
});
