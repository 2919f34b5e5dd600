/**
 * The netlink codec of new generations (core/rules.ts, core/nfnl.ts) against nft itself: for
 * each shape of service carpool plans (every scheduler, NAT on VIP and port or fwmark, IPv4 and
 * IPv6, TCP/UDP/SCTP, persistence, lblc/lblcr locality, servers with and without a port, DR
 * and TUN), a real plane is loaded in a throwaway namespace, one server is dropped, and the
 * messages our flat update would send for the new generation (NEWSET, NEWSETELEM, NEWCHAIN,
 * NEWRULE) must equal, attribute for attribute and byte for byte, what `nft --debug=mnl -c`
 * prints for the same `add` commands. One difference is allowed: nft names existing sets in a
 * lookup by a transaction id from its cache as well as by name; we name them by name only
 * (the kernel looks up the name first). DR and TUN generations are not encoded: they must go
 * by `nft -f` (docs/balancer.md).
 */
import { describe, expect, it } from 'vitest';
import { initialHealth, pool } from '../../../src/balancer/core/health.js';
import { serverKey, type Method, type Protocol, type RealServer, type SchedulerName, type VirtualService } from '../../../src/balancer/core/model.js';
import { assignIds, flatUpdate, renderPlane, type PlaneService } from '../../../src/balancer/core/nft.js';
import { encodeBatch } from '../../../src/balancer/core/nfnl.js';
import { planService } from '../../../src/balancer/core/plan.js';
import { nftUnavailable, withNetns } from '../../balancer/core/nft-check.js';
import { decodeAttrs, parseMnlDump, splitBatch, type AttrNode } from '../../helpers/mnl-debug.js';

const why = nftUnavailable();

const rs = (address: string, port?: number, weight = 1): RealServer => ({ address, port, weight, inhibitOnFailure: false, checkers: [] });

interface Shape {
  scheduler: SchedulerName;
  family?: 'ipv4' | 'ipv6';
  protocol?: Protocol;
  method?: Method;
  fwmark?: number;
  ports?: boolean;
  persistence?: number;
  hashPort?: boolean;
}

function virtual(sh: Shape, n: number): VirtualService {
  const family = sh.family ?? 'ipv4';
  const method = sh.method ?? 'nat';
  const port = sh.ports === false || (method !== 'nat') ? undefined : 8080;
  const addr = (i: number) => (family === 'ipv4' ? `10.99.${n}.${10 + i}` : `fd99:${n}::${10 + i}`);
  const vip = family === 'ipv4' ? `10.98.0.${n}` : `fd98::${n}`;
  return {
    name: `s${n}`, family,
    match: sh.fwmark ? { kind: 'fwmark', mark: sh.fwmark } : { kind: 'addr', vip, port: 80 },
    protocol: sh.protocol ?? 'tcp', scheduler: sh.scheduler, method, hashPort: sh.hashPort ?? false, hashFallback: false,
    quorum: { quorum: 1, hysteresis: 0 }, alpha: false, omega: false, haSuspend: false,
    ingressDevice: method !== 'nat' ? 'or0' : undefined, egressDevice: method === 'dr' ? 'or1' : undefined,
    realServers: [rs(addr(0), port, 3), rs(addr(1), port, 2), rs(addr(2), port, 1)],
    ...(sh.persistence !== undefined ? { persistence: { timeoutMs: 120_000, prefixLength: sh.persistence } } : {}),
  };
}

function plan(v: VirtualService, id: number, drop: readonly string[] = []): PlaneService {
  const members = pool(v, initialHealth(v)).filter((m) => !drop.includes(m.key));
  const serverIds = assignIds(new Map(), v.realServers.map((r) => serverKey(r.address, r.port)));
  const tunnelDevices = v.method === 'tun' ? new Map(members.map((m, i) => [m.key, `or${2 + i}`])) : undefined;
  return planService(v, { id, serverIds, members, tunnelDevices });
}

const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'mh', 'sed', 'nq', 'fo', 'ovf'] as const;
const SHAPES: Shape[] = [
  ...SCHEDULERS.map((scheduler, i): Shape => ({ scheduler, ...(i % 2 ? { persistence: 24 } : {}) })),
  { scheduler: 'sh', hashPort: true },
  { scheduler: 'mh', hashPort: true, family: 'ipv6' },
  { scheduler: 'rr', protocol: 'udp', persistence: 32 },
  { scheduler: 'sh', protocol: 'sctp', persistence: 16 },
  { scheduler: 'wlc', family: 'ipv6', protocol: 'udp' },
  { scheduler: 'mh', family: 'ipv6', persistence: 64 },
  { scheduler: 'lblcr', family: 'ipv6', persistence: 48 },
  { scheduler: 'dh', family: 'ipv6', protocol: 'sctp' },
  { scheduler: 'rr', family: 'ipv6', ports: false },
  { scheduler: 'wrr', fwmark: 7, ports: false },
  { scheduler: 'lblc', fwmark: 8 },
  { scheduler: 'sh', fwmark: 9, family: 'ipv6', persistence: 56, ports: false },
  { scheduler: 'mh', method: 'dr' },
  { scheduler: 'rr', method: 'dr', persistence: 24 },
  { scheduler: 'sh', method: 'dr', family: 'ipv6', protocol: 'udp', persistence: 64 },
  { scheduler: 'wrr', method: 'dr', fwmark: 21 },
  { scheduler: 'sh', method: 'dr', fwmark: 22, family: 'ipv6', hashPort: true },
  { scheduler: 'rr', method: 'tun' },
  { scheduler: 'mh', method: 'tun', persistence: 32, protocol: 'sctp' },
];

/** A lookup's (or dynset's) set id dropped where the set is not created in the batch (nft takes it from its cache). */
function normalise(msgs: { type: number; family: number; body: Uint8Array }[]): unknown[] {
  const created = new Set<string>();
  for (const m of msgs) {
    if ((m.type & 0xff) !== 9) continue;
    const name = decodeAttrs(m.body).find((a) => a.type === 2)?.hex;
    if (name) created.add(name);
  }
  const strip = (a: AttrNode): AttrNode => {
    if (!a.nested) return a;
    const kids = a.nested.map(strip);
    const exprName = kids.find((k) => k.type === 1)?.hex;
    if (exprName === Buffer.from('lookup\0').toString('hex') || exprName === Buffer.from('dynset\0').toString('hex')) {
      return {
        type: a.type, nested: kids.map((k) => {
          if (k.type !== 2 || !k.nested) return k;
          const set = k.nested.find((x) => x.type === 1)?.hex;
          const idType = exprName.startsWith(Buffer.from('lookup').toString('hex')) ? 4 : 2;
          return { type: k.type, nested: k.nested.filter((x) => !(x.type === idType && set !== undefined && !created.has(set))) };
        }),
      };
    }
    return { type: a.type, nested: kids };
  };
  return msgs.map((m) => ({ type: m.type, family: m.family, attrs: decodeAttrs(m.body).map(strip) }));
}

describe.skipIf(why !== undefined)(`balancer generations by netlink equal nft's own messages${why ? ` (skipped: ${why})` : ''}`, () => {
  it('every shape byte for byte (NAT, DR, TUN)', () => {
    const virtuals = SHAPES.map((sh, i) => virtual(sh, i + 1));
    const full = virtuals.map((v, i) => plan(v, i + 1));
    const text = renderPlane({ services: full }, []);
    let compared = 0;
    let elements = 0;
    let sets = 0;
    withNetns(['or0', 'or1', 'or2', 'or3', 'or4'], ({ nft, run }) => {
      expect(nft(text).stderr).toBe('');
      const links = run('ip', ['-o', 'link', 'show']).stdout;
      const ifindex = (dev: string) => {
        const m = new RegExp(`^(\\d+): ${dev}[@:]`, 'm').exec(links);
        return m ? Number(m[1]) : undefined;
      };
      SHAPES.forEach((sh, i) => {
        const what = JSON.stringify(sh);
        const v = virtuals[i]!;
        const drop = [serverKey(v.realServers[1]!.address, v.realServers[1]!.port)];
        const next = full.map((s, k) => (k === i ? plan(v, i + 1, drop) : s));
        // lblc/lblcr: a server leaving changes the locality map's servers (not a flat change);
        // the same servers in another slot order is.
        const f = flatUpdate({ services: full }, { services: next }, new Map(), ifindex)
          ?? flatUpdate({ services: full }, { services: full.map((s, k) => (k === i ? { ...s, table: { ...s.table, slots: [...s.table.slots].reverse() } } : s)) }, new Map(), ifindex);
        expect(f, what).toBeDefined();
        if (sh.method && sh.method !== 'nat') {
          // Without interface indexes DR/TUN generations go by nft -f.
          const without = flatUpdate({ services: full }, { services: next }, new Map())!;
          expect(without.netlinkGenerations, what).toBe(0);
          expect(without.nft, what).toMatch(/^add map netdev carpool vs\d+g1_slots/);
        }
        expect(f!.netlinkGenerations, what).toBe(1);
        expect(f!.nft, what).toBe('');
        const adds = f!.text.split('\n').filter((l) => /^add (map|set|chain|rule) /.test(l)).join('\n') + '\n';
        const ours = splitBatch(encodeBatch(f!.ops.filter((o) => o.op.startsWith('new')), 1).bytes);
        const r = run('nft', ['--debug=mnl', '-c', '-f', '-'], adds);
        expect(r.code, `${what}\n${r.stderr}`).toBe(0);
        const theirs = parseMnlDump(r.stdout + r.stderr).filter((m) => [0x0a03, 0x0a06, 0x0a09, 0x0a0c].includes(m.type));
        expect(theirs.length, what).toBeGreaterThan(3);
        expect(normalise(ours), `${what}\n${adds}`).toEqual(normalise(theirs));
        // Flags nft's dump does not show: create; rules appended; every message acknowledged.
        for (const m of ours) expect(m.flags, what).toBe(0x1 | 0x4 | 0x400 | (m.type === 0x0a06 ? 0x800 : 0));
        elements += ours.filter((m) => m.type === 0x0a0c).length;
        sets += ours.filter((m) => m.type === 0x0a09).length;
        compared++;
      });
    });
    expect(compared).toBe(SHAPES.length);
    // Every new map or set came with its elements (one message each, as nft sends them).
    expect(sets).toBeGreaterThan(compared);
    expect(elements).toBe(sets);
  }, 60_000);
});
