import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conntrackReader, countConntrack, countQuery, markOf, newFlows } from '../../../src/balancer/shell/conntrack.js';

/**
 * Captured on this kernel (`test/integration/balancer/counts.test.ts`, `conntrack -L -o extended`
 * on the director): carpool's `virtual_server fwmark 1` (plane id 1, wlc), `group web` over
 * 10.129.0.100:8080 and 10.129.0.101:8080 (ids 2, 3) and the lblc `fwmark 2` over 10.129.5.0/24
 * (id 4, real servers without a port), h2 holding 8 connections per address; and the director's
 * own TCP_CHECK connections to the same real servers (mark 0).
 */
const MARKED = readFileSync(new URL('../../../testdata/conntrack/marked.txt', import.meta.url), 'utf8');
/** Captured earlier, before carpool marked its flows: mark=0 everywhere (IPv4 and IPv6, TCP, UDP, ICMP). */
const UNMARKED = readFileSync(new URL('../../../testdata/conntrack/extended.txt', import.meta.url), 'utf8');

const H2 = { address: '10.129.1.2', port: 80 };
const H3 = { address: '10.129.1.3', port: 80 };
const fw1 = countQuery('fwmark:1', [1], [H2, H3]);
const web = countQuery('group:web', [2, 3], [H2, H3]);
const cache = countQuery('fwmark:2', [4], [{ address: '10.129.1.2' }, { address: '10.129.1.3' }]);

/** The reference, independent of the marks: flows to these original destinations (port, or a /24 prefix) by reply source; ESTABLISHED = active. */
function byTuple(text: string, dest: (dst: string, dport: string) => boolean, keyOf: (src: string, sport: string) => string): Record<string, { active: number; inactive: number }> {
  const out: Record<string, { active: number; inactive: number }> = {};
  for (const l of text.split('\n')) {
    const m = / (\w+) src=\S+ dst=(\S+) sport=\d+ dport=(\d+) .*?src=(\S+) dst=10\.129\.0\.250 sport=(\d+)/.exec(l);
    if (!m || !dest(m[2]!, m[3]!)) continue;
    const c = (out[keyOf(m[4]!, m[5]!)] ??= { active: 0, inactive: 0 });
    if (m[1] === 'ESTABLISHED') c.active++;
    else c.inactive++;
  }
  return out;
}

describe('conntrack counts by ct mark (captured conntrack -L -o extended)', () => {
  it('attributes each flow to its service by its ct mark and to its real server by its reply source', () => {
    const r = countConntrack(MARKED, [fw1, web, cache]);
    expect(r.lines).toBe(127);
    expect(r.malformed).toBe(0);
    expect(Object.fromEntries(r.counts.get('fwmark:1')!)).toEqual({ '10.129.1.2:80': { active: 8, inactive: 0 }, '10.129.1.3:80': { active: 0, inactive: 10 } });
    // A group: its entries' flows add up per server.
    expect(Object.fromEntries(r.counts.get('group:web')!)).toEqual({ '10.129.1.2:80': { active: 16, inactive: 0 }, '10.129.1.3:80': { active: 0, inactive: 10 } });
    // Servers without a port (the client's kept) match on their address.
    const c = r.counts.get('fwmark:2')!;
    expect(c.get('10.129.1.2')!.inactive + c.get('10.129.1.3')!.inactive).toBe(16);
  });

  it('agrees with a count of the same lines by original destination (the marks left aside)', () => {
    const r = countConntrack(MARKED, [fw1, web, cache]);
    const key = (a: string, p: string) => `${a}:${p}`;
    expect(Object.fromEntries(r.counts.get('fwmark:1')!)).toEqual(byTuple(MARKED, (d, p) => d === '10.129.0.100' && p === '80', key));
    expect(Object.fromEntries(r.counts.get('group:web')!)).toEqual(byTuple(MARKED, (d, p) => (d === '10.129.0.100' || d === '10.129.0.101') && p === '8080', key));
    expect(Object.fromEntries(r.counts.get('fwmark:2')!)).toEqual(byTuple(MARKED, (d) => d.startsWith('10.129.5.'), (a) => a));
  });

  it('leaves out flows without carpool\'s mark: the director\'s own checks to the same servers, flows from before the marks', () => {
    const checks = MARKED.split('\n').filter((l) => l.includes(' mark=0 ') && l.includes('src=10.129.1.2 dst=10.129.1.1 sport=80'));
    expect(checks.length).toBeGreaterThan(0);
    // Attributed by reply source alone, a fwmark service would count these as h2's.
    const r = countConntrack(MARKED, [fw1]);
    expect(r.counts.get('fwmark:1')!.get('10.129.1.2:80')).toEqual({ active: 8, inactive: 0 });
    const old = countConntrack(UNMARKED, [countQuery('x', [1], [{ address: '10.199.1.2', port: 80 }])]);
    expect(old.malformed).toBe(0);
    expect(old.counts.get('x')!.get('10.199.1.2:80')).toEqual({ active: 0, inactive: 0 });
  });

  it('ignores marks of other services and of services that went, and servers that are not configured', () => {
    // Ids 2 and 3 are not asked for: the group is gone; the held connections of id 1 go to a server not in the query.
    const r = countConntrack(MARKED, [countQuery('fwmark:1', [1], [H3]), countQuery('y', [99], [H2, H3])]);
    expect(Object.fromEntries(r.counts.get('fwmark:1')!)).toEqual({ '10.129.1.3:80': { active: 0, inactive: 10 } });
    expect(Object.fromEntries(r.counts.get('y')!)).toEqual({ '10.129.1.2:80': { active: 0, inactive: 0 }, '10.129.1.3:80': { active: 0, inactive: 0 } });
  });

  it('UDP and other stateless flows are active; SCTP and TCP by state; IPv6 reply sources compared in canonical form', () => {
    const m = markOf(7);
    expect(m).toBe(0xca000007);
    const lines = [
      `ipv4     2 udp      17 28 src=10.0.0.9 dst=10.0.0.100 sport=5353 dport=53 src=10.0.1.2 dst=10.0.0.9 sport=53 dport=5353 mark=${m} use=1`,
      `ipv4     2 sctp     132 431999 ESTABLISHED src=10.0.0.9 dst=10.0.0.100 sport=5000 dport=5000 src=10.0.1.2 dst=10.0.0.9 sport=5000 dport=5000 [ASSURED] mark=${m} use=1`,
      `ipv4     2 sctp     132 3 COOKIE_WAIT src=10.0.0.9 dst=10.0.0.100 sport=5001 dport=5000 [UNREPLIED] src=10.0.1.2 dst=10.0.0.9 sport=5000 dport=5001 mark=${m} use=1`,
      `ipv4     2 gre      47 29 src=10.0.0.9 dst=10.0.0.100 srckey=0x0 dstkey=0x0 src=10.0.1.2 dst=10.0.0.9 srckey=0x0 dstkey=0x0 mark=${m} use=1`,
      `ipv6     10 tcp      6 431999 ESTABLISHED src=fd00::9 dst=fd00::100 sport=40000 dport=80 src=fd00:0:0:1::2 dst=fd00::9 sport=8080 dport=40000 [ASSURED] mark=${markOf(8)} use=1`,
      `ipv6     10 tcp      6 100 TIME_WAIT src=fd00::9 dst=fd00::100 sport=40001 dport=80 src=fd00:0:0:1::2 dst=fd00::9 sport=8080 dport=40001 [ASSURED] mark=${markOf(8)} use=1`,
    ];
    const r = countConntrack(lines.join('\n'), [countQuery('fwmark:7', [7], [{ address: '10.0.1.2' }]), countQuery('v6', [8], [{ address: 'fd00:0:0:1:0:0:0:2', port: 8080 }])]);
    expect(r.counts.get('fwmark:7')!.get('10.0.1.2')).toEqual({ active: 3, inactive: 1 });
    expect(r.counts.get('v6')!.get('[fd00:0:0:1:0:0:0:2]:8080')).toEqual({ active: 1, inactive: 1 });
  });

  it('keeps the conntrack ids of a service\'s counted flows when asked (-o extended,id); newFlows counts the newcomers', () => {
    const m = markOf(1);
    const lines = [
      `ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.9 dst=10.0.0.100 sport=40000 dport=80 src=10.0.1.2 dst=10.0.0.9 sport=80 dport=40000 [ASSURED] mark=${m} use=1 id=1032447725`,
      `ipv4     2 tcp      6 100 TIME_WAIT src=10.0.0.9 dst=10.0.0.100 sport=40001 dport=80 src=10.0.1.3 dst=10.0.0.9 sport=80 dport=40001 [ASSURED] mark=${m} use=1 id=1450886770`,
      // ICMP's own id= comes first in the tuple; the entry's id is the one after use=.
      `ipv4     2 icmp     1 29 src=10.0.0.9 dst=10.0.0.100 type=8 code=0 id=663 src=10.0.1.2 dst=10.0.0.9 type=0 code=0 id=663 mark=${m} use=1 id=4292696719`,
      // Not a configured server (the sorry server, one removed): neither counted nor kept.
      `ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.9 dst=10.0.0.100 sport=40002 dport=80 src=10.0.1.9 dst=10.0.0.9 sport=80 dport=40002 [ASSURED] mark=${m} use=1 id=77`,
    ];
    const q = countQuery('fwmark:1', [1], [{ address: '10.0.1.2' }, { address: '10.0.1.3', port: 80 }], true);
    const r = countConntrack(lines.join('\n'), [q, countQuery('other', [2], [{ address: '10.0.1.2' }])]);
    expect([...r.ids!.get('fwmark:1')!]).toEqual([1032447725, 1450886770, 4292696719]);
    expect(r.ids!.has('other')).toBe(false);
    expect(newFlows(new Set([1032447725, 5]), r.ids!.get('fwmark:1')!)).toBe(2);
    expect(newFlows(new Set(), new Set())).toBe(0);
  });

  it('drops and counts malformed lines, never throws', () => {
    const bad = ['garbage', 'ipv4 2 tcp 6', 'ipv4 x tcp 6 10 ESTABLISHED src=1', 'ipv9 2 tcp 6 10 ESTABLISHED', '\u0000\u0001', 'ipv4 2 tcp 6 10 ESTABLISHED dport=80 mark=3388997633'];
    const r = countConntrack([...bad, MARKED].join('\n'), [fw1]);
    expect(r.malformed).toBe(bad.length);
    expect(r.counts.get('fwmark:1')!.get('10.129.1.2:80')).toEqual({ active: 8, inactive: 0 });
  });
});

describe('conntrackReader (a stand-in conntrack command)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carpool-ct-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };

  it('streams the output and counts it; asks for the extended format with ids and carpool\'s marks only', async () => {
    writeFileSync(join(dir, 'fixture'), MARKED);
    const cmd = script('ct-ok', `[ "$*" = "-L -o extended,id --mark 0xca000000/0xff000000" ] || exit 3\ncat ${join(dir, 'fixture')}\necho "conntrack v1.4.7 (conntrack-tools): 127 flow entries have been shown." >&2`);
    const r = await conntrackReader(cmd)([web]);
    expect(r.counts.get(web.name)!.get('10.129.1.2:80')).toEqual({ active: 16, inactive: 0 });
  });

  it('rejects on a failure, a hang (bounded) and a missing tool', async () => {
    await expect(conntrackReader(script('ct-fail', 'echo "conntrack v1.4.7 (conntrack-tools): Operation not permitted" >&2; exit 1'))([web])).rejects.toThrow(/exited with 1: .*Operation not permitted/);
    const t0 = performance.now();
    await expect(conntrackReader(script('ct-hang', 'exec sleep 10'), 200)([web])).rejects.toThrow(/within 200 ms/);
    expect(performance.now() - t0).toBeLessThan(2000);
    await expect(conntrackReader(join(dir, 'missing'))([web])).rejects.toThrow(/apt install conntrack/);
  });
});

describe('conntrack accounting counters of live flows (nf_conntrack_acct=1)', () => {
  // As `conntrack -L -o extended,id` printed them in a namespace with accounting on (packets/bytes per direction).
  const ACCT = [
    'ipv4     2 tcp      6 117 TIME_WAIT src=10.129.9.1 dst=10.129.0.100 sport=55854 dport=8080 packets=5 bytes=368 src=10.129.1.2 dst=10.129.9.1 sport=80 dport=55854 packets=5 bytes=468 [ASSURED] mark=3388997634 use=1 id=2347418376',
    'ipv4     2 tcp      6 431999 ESTABLISHED src=10.129.9.1 dst=10.129.0.101 sport=55856 dport=8080 packets=7 bytes=1000 src=10.129.1.3 dst=10.129.9.1 sport=80 dport=55856 packets=3 bytes=200 [ASSURED] mark=3388997635 use=1 id=17',
    'ipv4     2 tcp      6 431999 ESTABLISHED src=10.129.9.1 dst=10.129.0.101 sport=55858 dport=8080 src=10.129.1.3 dst=10.129.9.1 sport=80 dport=55858 [ASSURED] mark=3388997635 use=1 id=18',
  ].join('\n');

  it('sums both directions per flow, with its id, service and server; lines without counters give no flow', () => {
    const r = countConntrack(ACCT, [web]);
    expect(r.malformed).toBe(0);
    expect(r.flows).toEqual([
      { name: 'group:web', key: '10.129.1.2:80', id: 2347418376, packets: 10, bytes: 836 },
      { name: 'group:web', key: '10.129.1.3:80', id: 17, packets: 10, bytes: 1200 },
    ]);
    expect(r.counts.get('group:web')!.get('10.129.1.3:80')).toEqual({ active: 2, inactive: 0 });
  });

  it('the captured files (accounting off) give no flows', () => {
    expect(countConntrack(MARKED, [fw1, web, cache]).flows).toEqual([]);
  });
});
