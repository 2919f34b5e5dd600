/**
 * Flat updates against the real kernel (core/nft.ts `flatUpdate`, core/nfnl.ts, native
 * nfnlSend): in a throwaway namespace, a mixed plane (NAT rr with counters, NAT sh with
 * persistence, NAT fwmark, IPv6 NAT, DR and TUN) is loaded whole, then changed one server at
 * a time (a server leaves or comes back) — each change one netlink batch that adds the new
 * generation (maps, chain, rules; core/rules.ts) and repoints the dispatch element. Afterwards `nft -j list ruleset` must equal a fresh whole load of the last
 * plane in another namespace, up to the generation suffixes of the names (and the handles):
 * the netlink path leaves exactly what the whole render describes.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Plane } from '../../../src/balancer/core/nft.js';
import { nftUnavailable, withNetns } from '../../balancer/core/nft-check.js';
import { prng, servers as srv, service, type Spec } from '../../helpers/plane-specs.js';

const CHILD = fileURLToPath(new URL('./flat-child.ts', import.meta.url));
const why = nftUnavailable();

function specs(): Spec[] {
  const v4 = (i: number) => ({ address: `10.77.1.${10 + i}`, port: 8080 });
  return [
    { base: { id: 1, family: 'ipv4', match: { kind: 'addr', vip: '10.77.0.1', port: 80 }, protocol: 'tcp', method: 'nat', counters: true }, all: srv(4, v4), hash: false },
    { base: { id: 2, family: 'ipv4', match: { kind: 'addr', vip: '10.77.0.2', port: 443 }, protocol: 'tcp', method: 'nat', persistence: { timeoutMs: 300_000, prefixLength: 24 } }, all: srv(3, v4), hash: true },
    { base: { id: 3, family: 'ipv4', match: { kind: 'fwmark', mark: 7 }, protocol: 'tcp', method: 'nat' }, all: srv(3, (i) => ({ address: `10.77.2.${10 + i}` })), hash: false },
    { base: { id: 4, family: 'ipv6', match: { kind: 'addr', vip: 'fd77::1', port: 53 }, protocol: 'udp', method: 'nat', counters: true }, all: srv(3, (i) => ({ address: `fd77:1::${10 + i}`, port: 5353 })), hash: false },
    { base: { id: 5, family: 'ipv4', match: { kind: 'addr', vip: '10.77.0.5', port: 80 }, protocol: 'tcp', method: 'dr', ingressDevice: 'fl0' }, all: srv(3, (i) => ({ address: `10.77.3.${10 + i}` })), hash: true },
    { base: { id: 6, family: 'ipv4', match: { kind: 'addr', vip: '10.77.0.6', port: 80 }, protocol: 'tcp', method: 'tun', ingressDevice: 'fl0' }, all: srv(2, (i) => ({ address: `10.77.4.${10 + i}`, tunnelDevice: `fl${i + 1}` })), hash: false },
    // Many plain ones, so the dispatch map is not trivially small.
    ...Array.from({ length: 20 }, (_, k): Spec => ({
      base: { id: 10 + k, family: 'ipv4', match: { kind: 'addr', vip: `10.77.9.${k + 1}`, port: 80 }, protocol: 'tcp', method: 'nat', counters: true }, all: srv(3, v4), hash: false,
    })),
  ];
}

/** Handles dropped, generation suffixes dropped, elements and objects in a fixed order. */
function normal(json: string): unknown[] {
  const doc = JSON.parse(json.replace(/\bvs(\d+)g\d+/g, 'vs$1')) as { nftables: Record<string, Record<string, unknown>>[] };
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (k !== 'handle') o[k] = k === 'elem' && Array.isArray(x) ? x.map(strip).map((e) => JSON.stringify(e)).sort() : strip(x);
      return o;
    }
    return v;
  };
  return doc.nftables.filter((x) => !('metainfo' in x)).map(strip).map((x) => JSON.stringify(x)).sort();
}

describe.skipIf(why !== undefined)(`balancer flat updates in a namespace${why ? ` (skipped: ${why})` : ''}`, () => {
  it('after one-server changes by netlink, the ruleset equals a fresh whole load of the same plane', () => {
    const rnd = prng(12);
    const sp = specs();
    const present = sp.map((s) => s.all.map(() => true));
    const planes: Plane[] = [{ services: sp.map((s, i) => service(s, present[i]!)) }];
    const CHANGES = 40;
    for (let c = 0; c < CHANGES; c++) {
      const prev = planes.at(-1)!.services;
      const i = Math.floor(rnd() * sp.length);
      const p = present[i]!;
      const j = Math.floor(rnd() * p.length);
      // A server leaves, or comes back; never the last one.
      if (p[j] && p.filter(Boolean).length === 1) p[(j + 1) % p.length] = true;
      else p[j] = !p[j];
      planes.push({ services: prev.map((s, k) => (k === i ? service(sp[i]!, p) : s)) });
    }
    const devices = ['fl0', 'fl1', 'fl2'];
    const child = (whole: boolean) => (ns: { run: (cmd: string, args: readonly string[], input?: string) => { code: number; stdout: string; stderr: string } }) => {
      const r = ns.run(process.execPath, ['--import', 'tsx', CHILD, ...(whole ? ['--whole'] : [])], JSON.stringify(planes));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { status: { applies: number; flatUpdates: number; netlinkGenerations: number; failures: number }; errors: string[]; texts: string[] };
      const list = ns.run('nft', ['-j', 'list', 'ruleset']);
      expect(list.code).toBe(0);
      return { out, ruleset: list.stdout };
    };
    const updated = withNetns(devices, child(false));
    const fresh = withNetns(devices, child(true));
    expect(updated.out.errors).toEqual([]);
    // The first plane whole, then every change flat: a new generation and one netlink batch each.
    expect(updated.out.status).toMatchObject({ applies: CHANGES + 1, flatUpdates: CHANGES, failures: 0 });
    // Every new generation (maps, chain, rules) by netlink, no nft run: NAT and DR/TUN ones.
    expect(updated.out.texts.slice(1).filter((t) => /^add map netdev /.test(t)).length).toBeGreaterThan(0);
    expect(updated.out.texts.slice(1).filter((t) => /^add map ip6? /.test(t)).length).toBeGreaterThan(0);
    expect(updated.out.status.netlinkGenerations).toBe(CHANGES);
    expect(updated.ruleset).toMatch(/vs\d+g\d+/);
    expect(normal(fresh.ruleset).length).toBeGreaterThan(100);
    expect(normal(updated.ruleset)).toEqual(normal(fresh.ruleset));
  }, 60_000);
});
