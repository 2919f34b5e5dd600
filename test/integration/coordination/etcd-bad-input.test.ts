/**
 * Bad etcd connection settings that only show at start (issue 16, bad input), against real
 * servers in a lab LAN: h1 runs etcd with TLS (certificates made by Debian's openssl for this
 * run, client certificates required), a second etcd whose server certificate expired, and a TCP
 * server that is not etcd; h2 runs one carpool daemon per case, all at once. For each case: the
 * daemon's log and `carpool status` name the endpoint and what to do, and the address is held
 * nowhere. One good daemon (same etcd, right certificates) holds its own address, so the lab
 * itself works.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { run } from '../../../src/lib/exec.js';
import type { InstanceStatus } from '../../../src/control/status.js';
import { Workdir, instance, socketOf } from '../helpers/carp.js';
import { hasEtcd } from '../helpers/etcd-lab.js';
import { useLab } from '../helpers/lab.js';
import { Proc, ProcSet, carpoolArgv, inNs, isRoot, skipReason, sleep, until } from '../helpers/procs.js';
import { Pki, hasOpenssl } from '../../helpers/pki.js';

const SUBNET = '10.84.0';
const ETCD = `${SUBNET}.1`;
/** A second address of h1, not in etcd's certificate. */
const OTHER_NAME = `${SUBNET}.11`;

interface Case {
  readonly name: string;
  /** The instance's `etcd:` mapping, flow style. */
  readonly etcd: string;
  /** What the daemon's log and status must say (the endpoint and what to do). */
  readonly says: RegExp;
}

describe.skipIf(!isRoot || !hasEtcd || !hasOpenssl)(`etcd settings that fail at start (${skipReason}; needs etcd-server, openssl)`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('eb', { hosts: 2, subnet: SUBNET, client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  let pki: Pki;
  let client: { cert: string; key: string };
  const tls = (ca: string) => `tls: { ca: ${ca}, cert: ${client.cert}, key: ${client.key} }`;

  it('wrong endpoints and certificates: a clear message naming the endpoint, nothing held', async () => {
    const h1 = lan.host(1);
    const h2 = lan.host(2);
    pki = new Pki(wd.path('pki'));
    const other = new Pki(wd.path('pki-other'), 'other');
    const server = pki.issue('server', 'etcd', `IP:${ETCD}`);
    const old = pki.issue('old', 'etcd', `IP:${ETCD}`, { expired: true });
    client = pki.issue('client', 'h2', 'DNS:h2');
    await run(inNs(h1.ns, ['ip', 'addr', 'add', `${OTHER_NAME}/24`, 'dev', h1.ifname]));
    const etcd = (name: string, port: number, cert: { cert: string; key: string }) => procs.add(new Proc(name, inNs(h1.ns, ['etcd', '--name', name,
      '--data-dir', wd.path(name), '--listen-client-urls', `https://0.0.0.0:${port}`, '--advertise-client-urls', `https://${ETCD}:${port}`,
      '--listen-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-cluster', `${name}=http://127.0.0.1:${port + 1}`,
      '--cert-file', cert.cert, '--key-file', cert.key, '--client-cert-auth', '--trusted-ca-file', pki.ca.cert, '--log-level', 'warn'])));
    etcd('good', 2379, server);
    etcd('expired', 2479, old);
    // Not etcd: a TCP server that answers like a web server and closes.
    procs.add(new Proc('http', inNs(h1.ns, [process.execPath, '-e',
      `require('net').createServer((s) => { s.on('error', () => {}); s.end('HTTP/1.1 400 Bad Request\\r\\nConnection: close\\r\\n\\r\\n'); }).listen(8080, '${ETCD}')`])));

    const cases: Case[] = [
      { name: 'refused', etcd: `endpoints: ["http://${ETCD}:2390"]`, says: /etcd at http:\/\/10\.84\.0\.1:2390: connection refused: is etcd running there/ },
      { name: 'notetcd', etcd: `endpoints: ["http://${ETCD}:8080"]`, says: /etcd at http:\/\/10\.84\.0\.1:8080: answered, but not as etcd does/ },
      { name: 'noname', etcd: 'endpoints: ["http://etcd.invalid:2379"]', says: /etcd at http:\/\/etcd\.invalid:2379: cannot resolve the host name/ },
      { name: 'wrongca', etcd: `endpoints: ["https://${ETCD}:2379"], ${tls(other.ca.cert)}`, says: /etcd at https:\/\/10\.84\.0\.1:2379: etcd's certificate is not signed by the CA in tls\.ca/ },
      { name: 'wronghost', etcd: `endpoints: ["https://${OTHER_NAME}:2379"], ${tls(pki.ca.cert)}`, says: /etcd at https:\/\/10\.84\.0\.11:2379: etcd's certificate is not made for this host name or address/ },
      { name: 'expired', etcd: `endpoints: ["https://${ETCD}:2479"], ${tls(pki.ca.cert)}`, says: /etcd at https:\/\/10\.84\.0\.1:2479: etcd's certificate has expired/ },
      { name: 'good', etcd: `endpoints: ["https://${ETCD}:2379"], ${tls(pki.ca.cert)}`, says: /^$/ },
    ];
    const vip = (k: number) => `${SUBNET}.${100 + k}/24`;
    const daemons = cases.map((c, k) => {
      const host = { ...h2, name: `${h2.name}-${c.name}` };
      mkdirSync(wd.path(host.name), { recursive: true });
      const config = wd.write(`${c.name}.yaml`, [
        `control_socket: ${socketOf(wd, host)}`, `state_dir: ${wd.path(`${host.name}/state`)}`, 'instances:',
        `  - { name: ${c.name}, protocol: etcd, interface: ${h2.ifname}, addresses: [${vip(k)}], node: h2, etcd: { ${c.etcd}, prefix: /eb, ttl: 3s } }`, '',
      ].join('\n'), 0o600);
      return { c, vip: vip(k), socket: socketOf(wd, host), proc: procs.add(new Proc(c.name, carpoolArgv(h2.ns, ['run', '-c', config]))) };
    });
    const st = async (d: (typeof daemons)[number]): Promise<InstanceStatus | undefined> => instance(d.socket, d.c.name).catch(() => undefined);
    // The good one holds its address: etcd and the certificates work.
    const good = daemons.find((d) => d.c.name === 'good')!;
    await until(async () => (await st(good))?.state === 'MASTER' || undefined, 30_000, 100, 'the good daemon MASTER').catch((e: unknown) => {
      console.log(good.proc.lines.join('\n'));
      throw e;
    });
    // Every bad one has failed a few requests by now.
    await until(async () => (await Promise.all(daemons.filter((d) => d !== good).map(st))).every((s) => (s?.etcd?.failures ?? 0) >= 2) || undefined, 20_000, 200, 'every bad daemon failing');
    await sleep(1000);
    const held = (await run(inNs(h2.ns, ['ip', '-o', '-4', 'addr', 'show', 'dev', h2.ifname]))).stdout;
    for (const d of daemons) {
      const s = (await st(d))!;
      const logged = d.proc.lines.filter((l) => /WARNING|ERROR/.test(l) && !/no up hook/.test(l));
      if (process.env.CARPOOL_TEST_VERBOSE) console.log(logged.join('\n'));
      console.log(`${d.c.name}: ${s.state}, status last error: ${s.etcd!.lastError ?? '-'}\n  log: ${logged[0] ?? '-'}`);
      if (d === good) {
        expect(held).toContain(` ${d.vip} `);
        continue;
      }
      expect(s.state).toBe('BACKUP');
      expect(s.holdsAddresses).toBe(false);
      expect(held).not.toContain(` ${d.vip} `);
      expect(s.etcd!.lastError).toMatch(d.c.says);
      expect(logged.some((l) => d.c.says.test(l)), `${d.c.name}: a log line matching ${d.c.says}`).toBe(true);
    }
  }, 60_000);

  it('two clusters on one key prefix by mistake: the second refuses to contend, says so in its log and status; one holder', async () => {
    const h2 = lan.host(2);
    const start = (node: string, address: string) => {
      const host = { ...h2, name: `${h2.name}-${node}` };
      mkdirSync(wd.path(host.name), { recursive: true });
      const config = wd.write(`${node}.yaml`, [
        `control_socket: ${socketOf(wd, host)}`, `state_dir: ${wd.path(`${host.name}/state`)}`, 'instances:',
        `  - { name: db, protocol: etcd, interface: ${h2.ifname}, addresses: [${address}], node: ${node}, etcd: { endpoints: ["https://${ETCD}:2379"], ${tls(pki.ca.cert)}, prefix: /shared, ttl: 3s } }`, '',
      ].join('\n'), 0o600);
      return { node, address, socket: socketOf(wd, host), proc: procs.add(new Proc(node, carpoolArgv(h2.ns, ['run', '-c', config]))) };
    };
    const held = async () => (await run(inNs(h2.ns, ['ip', '-o', '-4', 'addr', 'show', 'dev', h2.ifname]))).stdout;
    // Cluster A's node holds db (its address .130); cluster B's node (address .131) comes up on the same key.
    const a = start('a1', `${SUBNET}.130/24`);
    await until(async () => (await instance(a.socket, 'db').catch(() => undefined))?.state === 'MASTER' || undefined, 20_000, 100, 'a1 MASTER');
    const b = start('b1', `${SUBNET}.131/24`);
    const conflict = await b.proc.waitFor(/ERROR.*db: the key is held by a1 with another configuration/, 15_000);
    await sleep(2 * 3000);
    const sb = await instance(b.socket, 'db');
    console.log(`two clusters on /shared: b1 logged: ${conflict}\n  b1 status: ${sb.state}, holder ${sb.etcd!.holder}`);
    expect(sb.state).toBe('BACKUP');
    expect(sb.etcd!.holder).toMatch(/^a1 \(OTHER CONFIGURATION [0-9a-f]{12}\)$/);
    const text = (await run(carpoolArgv(h2.ns, ['status', '--socket', b.socket]), { allowFail: true })).stdout;
    expect(text).toContain('held by a1 (OTHER CONFIGURATION');
    expect(await held()).not.toContain(`${SUBNET}.131/24`);
    expect((await instance(a.socket, 'db')).state).toBe('MASTER'); // the other cluster's node is not disturbed
    // A's node goes (releases the key): B waits one ttl after it last saw the other configuration.
    const t0 = Date.now();
    await a.proc.stop('SIGTERM');
    const took = await until(async () => ((await instance(b.socket, 'db')).state === 'MASTER' ? Date.now() - t0 : undefined), 15_000, 20, 'b1 takes the free key');
    console.log(`a1 stopped: b1 took the free key after ${took} ms (it saw a1's configuration up to one poll before; refuses for one ttl)`);
    expect(took).toBeGreaterThanOrEqual(3000 - 1500 - 200);
    expect(await held()).toContain(`${SUBNET}.131/24`);
    expect(await held()).not.toContain(`${SUBNET}.130/24`);
  }, 45_000);
});
