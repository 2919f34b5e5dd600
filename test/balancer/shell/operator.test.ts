import { describe, expect, it } from 'vitest';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseKeepalivedConf } from '../../../src/config/keepalived/parse.js';
import { Balancer } from '../../../src/balancer/shell/balancer.js';
import type { NftRunner } from '../../../src/balancer/shell/nft-applier.js';
import { Logger } from '../../../src/daemon/logger.js';
import { CarpoolError } from '../../../src/lib/errors.js';

const log = new Logger({ ident: 'test', facility: 'none', debug: false, console: false });

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!fn()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function fakeNft(): { nft: NftRunner; txns: string[] } {
  const txns: string[] = [];
  const nft: NftRunner = (args, input) => {
    if (input !== undefined && !args.includes('-c')) txns.push(input);
    return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  };
  return { nft, txns };
}

const balancers = (vs: string) => parseKeepalivedConf(vs, { file: 'k.conf' }).config.balancers!;
const codeOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'no error', (e: unknown) => (e instanceof CarpoolError ? e.code : String(e)));

async function deadPort(): Promise<number> {
  const tmp = createTcpServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  const port = (tmp.address() as AddressInfo).port;
  await new Promise<void>((r) => tmp.close(() => r()));
  return port;
}

const NOCHECK = (vip: string, servers: string[], extra = '') => `virtual_server ${vip} 80 {
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  delay_loop 1
${extra}${servers.map((s) => `  real_server ${s} 80 {\n  }\n`).join('')}}
`;

describe('carpool balancer commands (fake nft)', () => {
  it('weight, drain, enable, disable, add, remove: one transaction each, shown as overrides; bad input changes nothing', async () => {
    const { nft, txns } = fakeNft();
    const b = new Balancer(balancers(NOCHECK('10.9.0.100', ['10.9.1.2', '10.9.1.3'])), { log, now: () => performance.now(), nft });
    await b.start();
    const n0 = txns.length;
    const r1 = await b.command({ op: 'drain', service: '10.9.0.100:80', server: '10.9.1.2' });
    expect(r1.message).toBe('10.9.0.100:80/tcp: real server 10.9.1.2:80 drained (weight 0: no new connections, established ones continue)');
    expect(r1.inForce).toBe(true);
    expect(txns.length).toBe(n0 + 1);
    expect(txns.at(-1)).not.toContain('10.9.1.2 . 80');
    expect(r1.service.servers.map((s) => [s.key, s.admin, s.weight])).toEqual([['10.9.1.2:80', 'drained', 0], ['10.9.1.3:80', 'enabled', 1]]);
    await b.command({ op: 'enable', service: '10.9.0.100 80', server: '10.9.1.2:80' });
    const r2 = await b.command({ op: 'weight', service: '10.9.0.100:80/tcp', server: '10.9.1.3', weight: 3 });
    expect(r2.service.servers[1]).toMatchObject({ weight: 3, weightOverride: 3, configuredWeight: 1 });
    expect(txns.length).toBe(n0 + 3);
    const back = await b.command({ op: 'weight', service: '10.9.0.100:80/tcp', server: '10.9.1.3', weight: undefined });
    expect(back.message).toBe('10.9.0.100:80/tcp: real server 10.9.1.3:80 weight back to the configuration\'s (1)');
    expect(back.service.servers[1]!.weightOverride).toBeUndefined();
    await b.command({ op: 'weight', service: '10.9.0.100:80/tcp', server: '10.9.1.3', weight: 3 });
    expect(txns.length).toBe(n0 + 5);
    const r3 = await b.command({ op: 'add', service: '10.9.0.100:80', server: '10.9.1.4', check: 'none', weight: 2 });
    expect(r3.message).toBe('10.9.0.100:80/tcp: real server 10.9.1.4:80 added (weight 2, no checker)');
    expect(r3.service.servers[2]).toMatchObject({ key: '10.9.1.4:80', runtime: true, weight: 2, health: 'up' });
    expect(txns.at(-1)).toContain('10.9.1.4 . 80');
    const r4 = await b.command({ op: 'remove', service: '10.9.0.100:80', server: '10.9.1.2' });
    expect(r4.service.removed).toEqual(['10.9.1.2:80']);
    expect(r4.service.servers.map((s) => s.key)).toEqual(['10.9.1.3:80', '10.9.1.4:80']);
    const r5 = await b.command({ op: 'disable', service: '10.9.0.100:80', server: '10.9.1.4' });
    expect(r5.service.servers[1]).toMatchObject({ admin: 'disabled', weight: null });
    expect(txns.length).toBe(n0 + 8);
    // Bad input: nothing changes, no transaction.
    expect(await codeOf(b.command({ op: 'drain', service: '10.9.0.200:80', server: '10.9.1.3' }))).toBe('NO_SUCH_SERVICE');
    expect(await codeOf(b.command({ op: 'drain', service: '10.9.0.100:80', server: '10.9.1.9' }))).toBe('NO_SUCH_SERVER');
    expect(await codeOf(b.command({ op: 'drain', service: '10.9.0.100:80', server: 'web1' }))).toBe('BAD_SERVER');
    expect(await codeOf(b.command({ op: 'weight', service: '10.9.0.100:80', server: '10.9.1.3', weight: -1 }))).toBe('BAD_WEIGHT');
    expect(await codeOf(b.command({ op: 'add', service: '10.9.0.100:80', server: '10.9.1.3' }))).toBe('SERVER_EXISTS');
    expect(await codeOf(b.command({ op: 'add', service: '10.9.0.100:80', server: 'fd00::5' }))).toBe('BAD_SERVER');
    expect(txns.length).toBe(n0 + 8);
    // A removed configured server comes back with `add`, as configured.
    const r6 = await b.command({ op: 'add', service: '10.9.0.100:80', server: '10.9.1.2' });
    expect(r6.message).toBe('10.9.0.100:80/tcp: real server 10.9.1.2:80 added back (as configured)');
    expect(r6.service.removed).toBeUndefined();
    await b.stop();
  });
});

describe('live reload of the balancers (fake nft, localhost probes)', () => {
  it('applies the difference: a failed server stays out, running checkers and operator overrides stay, the file wins where it changed the server', async () => {
    const dead = await deadPort();
    const { nft, txns } = fakeNft();
    const withDead = (servers: string[], extra = '') => `virtual_server 10.9.0.100 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  delay_loop 60
  warmup 0
${extra}  real_server 127.0.0.1 ${dead} {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
${servers.map((s) => `  real_server ${s} {\n  }\n`).join('')}}
`;
    const A = withDead(['127.0.0.2 80', '127.0.0.3 80']) + NOCHECK('10.9.0.101', ['10.9.1.2']);
    const b = new Balancer(balancers(A), { log, now: () => performance.now(), nft });
    await b.start();
    const vs0 = () => b.status().services.find((s) => s.name === '10.9.0.100:80/tcp')!;
    await until(() => vs0().servers[0]!.health === 'down', 5000, 'the dead server down');
    const failedAt = vs0().servers[0]!.checkers[0]!.last!.at;
    await b.command({ op: 'drain', service: '10.9.0.100:80', server: '127.0.0.2' });
    await b.command({ op: 'add', service: '10.9.0.100:80', server: '127.0.0.9:80', check: 'none' });
    const planeBefore = txns.at(-1)!;

    // B: 127.0.0.4 added to the first service, the second removed, a third added.
    const B = withDead(['127.0.0.2 80', '127.0.0.3 80', '127.0.0.4 80']) + NOCHECK('10.9.0.102', ['10.9.1.5']);
    const n = txns.length;
    const actions = await b.commit(await b.prepare(balancers(B)));
    expect(actions).toEqual([
      'balancer: 10.9.0.100:80/tcp: real server 127.0.0.4:80 added',
      'balancer: 10.9.0.102:80/tcp added (1 real server(s))',
      'balancer: 10.9.0.101:80/tcp removed',
    ]);
    expect(txns.length).toBe(n + 1);
    expect(txns.at(-1)).not.toContain('add table');
    const st = vs0();
    expect(st.servers.map((s) => [s.key, s.health, s.admin, s.weight, s.runtime ?? false])).toEqual([
      [`127.0.0.1:${dead}`, 'down', 'enabled', null, false], ['127.0.0.2:80', 'up', 'drained', 0, false], ['127.0.0.3:80', 'up', 'enabled', 1, false],
      ['127.0.0.4:80', 'up', 'enabled', 1, false], ['127.0.0.9:80', 'up', 'enabled', 1, true],
    ]);
    // The failed server's checker was not reset: same last result, not re-run.
    expect(Math.abs(Date.parse(st.servers[0]!.checkers[0]!.last!.at) - Date.parse(failedAt))).toBeLessThan(20);
    // The first service keeps its plane id (chain vs1); the removed one's chain goes, and its id
    // is not given to the new service (a ct mark or flow map may still hold it).
    expect(planeBefore).toContain('flush chain ip carpool vs1');
    expect(txns.at(-1)).not.toContain('delete chain ip carpool vs1');
    expect(txns.at(-1)).toContain('delete chain ip carpool vs2');
    expect(txns.at(-1)).toContain('add chain ip carpool vs3');

    // C: the file changes 127.0.0.2 (weight 2) and now defines 127.0.0.9: the file wins for both.
    const C = withDead(['127.0.0.2 80 {\n    weight 2\n  }\n  real_server 127.0.0.9 80', '127.0.0.3 80']).replace('127.0.0.2 80 {\n  }', '127.0.0.2 80 {\n    weight 2\n  }')
      + NOCHECK('10.9.0.102', ['10.9.1.5']);
    const actionsC = await b.commit(await b.prepare(balancers(C)));
    expect(actionsC.join('\n')).toContain('127.0.0.9:80: added at runtime, now in the configuration: the configuration wins');
    expect(actionsC.join('\n')).toContain('127.0.0.2:80: operator override dropped: the configuration changed this server');
    expect(vs0().servers.find((s) => s.key === '127.0.0.2:80')).toMatchObject({ admin: 'enabled', weight: 2 });
    expect(vs0().servers.find((s) => s.key === '127.0.0.9:80')!.runtime).toBeUndefined();

    // A group gains an address: one more plane entry, said in the reload's lines.
    const G = (last: number) => `virtual_server_group g {\n  10.9.0.200-${last} 80\n}\n${NOCHECK('10.9.0.100', ['10.9.1.2']).replace('virtual_server 10.9.0.100 80', 'virtual_server group g')}`;
    const g = new Balancer(balancers(G(200)), { log, now: () => performance.now(), nft });
    await g.start();
    expect(await g.commit(await g.prepare(balancers(G(201))))).toEqual(['balancer: group:g: 10.9.0.201:80/tcp added']);
    expect(txns.at(-1)).toContain('add element ip carpool services { 10.9.0.201 . tcp . 80 : jump vs2 }');
    await g.stop();

    // An unsupported file changes nothing.
    // (the checkers' wall-clock times are recomputed per answer: left out)
    const services = () => JSON.stringify(b.status().services, (k, v: unknown) => (k === 'at' ? undefined : v));
    const before = services();
    const m = txns.length;
    await expect(b.prepare(balancers(C.replace('virtual_server 10.9.0.100 80 {', 'virtual_server 10.9.0.100 0 {')))).rejects.toThrow(/a virtual server without a port \(all ports\) is not supported/);
    expect(services()).toBe(before);
    expect(txns.length).toBe(m);
    await b.stop();
  }, 15_000);
});
