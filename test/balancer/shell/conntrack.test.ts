import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conntrackReader, countConntrack, countQuery } from '../../../src/balancer/shell/conntrack.js';

/** Captured on this kernel: `conntrack -L -o extended` on a director DNATing to real servers (IPv4 and IPv6, TCP, UDP, ICMP). */
const FIXTURE = readFileSync(new URL('../../../testdata/conntrack/extended.txt', import.meta.url), 'utf8');

const web = countQuery('10.199.0.100:80/tcp', 'ipv4', 'tcp', '10.199.0.100', 80, [{ address: '10.199.1.2', port: 80 }, { address: '10.199.2.2', port: 80 }, { address: '10.199.3.2', port: 80 }]);
const dns = countQuery('10.199.0.100:53/udp', 'ipv4', 'udp', '10.199.0.100', 53, [{ address: '10.199.1.2' }]);
const dead = countQuery('10.199.0.100:81/tcp', 'ipv4', 'tcp', '10.199.0.100', 81, [{ address: '10.199.1.99', port: 80 }]);
// Written the long way: the counter compares canonical forms.
const web6 = countQuery('[fd00:199::100]:80/tcp', 'ipv6', 'tcp', 'fd00:199:0:0::100', 80, [{ address: 'fd00:199:1:0::2', port: 8000 }]);

describe('conntrack counts (captured conntrack -L -o extended)', () => {
  it('counts ESTABLISHED as active and the other TCP states as inactive, per real server', () => {
    const r = countConntrack(FIXTURE, [web, dns, dead, web6]);
    expect(r.lines).toBe(16);
    expect(r.malformed).toBe(0);
    expect(Object.fromEntries(r.counts.get(web.name)!)).toEqual({
      '10.199.1.2:80': { active: 3, inactive: 3 },
      '10.199.2.2:80': { active: 3, inactive: 2 },
      '10.199.3.2:80': { active: 0, inactive: 0 },
    });
    // SYN_SENT [UNREPLIED] to a server that never answered: inactive.
    expect(r.counts.get(dead.name)!.get('10.199.1.99:80')).toEqual({ active: 0, inactive: 1 });
    // UDP: every flow is active; a server without a port matches on its address.
    expect(r.counts.get(dns.name)!.get('10.199.1.2')).toEqual({ active: 1, inactive: 0 });
    expect(r.counts.get(web6.name)!.get('[fd00:199:1:0::2]:8000')).toEqual({ active: 1, inactive: 1 });
  });

  it('agrees with a count by hand of the same lines', () => {
    const lines = FIXTURE.split('\n').filter((l) => l.includes('dst=10.199.0.100 ') && l.includes(' dport=80 ') && l.includes('src=10.199.1.2 dst=10.199.0.2 sport=80'));
    const r = countConntrack(FIXTURE, [web]);
    const c = r.counts.get(web.name)!.get('10.199.1.2:80')!;
    expect(c.active + c.inactive).toBe(lines.length);
    expect(c.active).toBe(lines.filter((l) => / ESTABLISHED /.test(l)).length);
  });

  it('ignores flows of other services, other families and servers that are not configured', () => {
    const other = countQuery('10.199.0.100:80/udp', 'ipv4', 'udp', '10.199.0.100', 80, [{ address: '10.199.1.2', port: 80 }]);
    const onlyOne = countQuery('x', 'ipv4', 'tcp', '10.199.0.100', 80, [{ address: '10.199.9.9', port: 80 }]);
    const r = countConntrack(FIXTURE, [other, onlyOne]);
    expect(r.counts.get('10.199.0.100:80/udp')!.get('10.199.1.2:80')).toEqual({ active: 0, inactive: 0 });
    expect(r.counts.get('x')!.get('10.199.9.9:80')).toEqual({ active: 0, inactive: 0 });
  });

  it('drops and counts malformed lines, never throws', () => {
    const bad = ['garbage', 'ipv4 2 tcp 6', 'ipv4 x tcp 6 10 ESTABLISHED src=1', 'ipv9 2 tcp 6 10 ESTABLISHED', '\u0000\u0001', 'ipv4 2 tcp 6 10 ESTABLISHED dport=80'];
    const r = countConntrack([...bad, FIXTURE].join('\n'), [web]);
    expect(r.malformed).toBe(bad.length);
    expect(r.counts.get(web.name)!.get('10.199.1.2:80')).toEqual({ active: 3, inactive: 3 });
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

  it('streams the output and counts it; asks for the extended format', async () => {
    writeFileSync(join(dir, 'fixture'), FIXTURE);
    const cmd = script('ct-ok', `[ "$*" = "-L -o extended" ] || exit 3\ncat ${join(dir, 'fixture')}\necho "conntrack v1.4.7 (conntrack-tools): 16 flow entries have been shown." >&2`);
    const r = await conntrackReader(cmd)([web]);
    expect(r.counts.get(web.name)!.get('10.199.2.2:80')).toEqual({ active: 3, inactive: 2 });
  });

  it('rejects on a failure, a hang (bounded) and a missing tool', async () => {
    await expect(conntrackReader(script('ct-fail', 'echo "conntrack v1.4.7 (conntrack-tools): Operation not permitted" >&2; exit 1'))([web])).rejects.toThrow(/exited with 1: .*Operation not permitted/);
    const t0 = performance.now();
    await expect(conntrackReader(script('ct-hang', 'exec sleep 10'), 200)([web])).rejects.toThrow(/within 200 ms/);
    expect(performance.now() - t0).toBeLessThan(2000);
    await expect(conntrackReader(join(dir, 'missing'))([web])).rejects.toThrow(/apt install conntrack/);
  });
});
