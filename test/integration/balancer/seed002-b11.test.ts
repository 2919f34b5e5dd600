/**
 * Seed 002 (TUM report), appendix B.11, whole: the keepalived.conf of director1 and director2 —
 * two sync groups, four VRRP instances, four NAT virtual servers (SMTP, IMAPS, POP3S on the mail
 * VIP; HTTP on the web VIP; rr, persistence_timeout 50; SMTP_CHECK, TCP_CHECK, HTTP_GET) — run
 * by carpool on both directors, against real servers on the private LAN 192.168.0.0/24: Debian's
 * exim4 (SMTP) and dovecot (IMAPS, POP3S) on 192.168.0.101/.102, nginx on .201/.202, each real
 * server routing through its director's gateway VIP (.1 mail, .2 web). Clients are on the public
 * side. The files are used as written with the one substitution of seed002.test.ts: the report's
 * public 123.123.123.0/24 becomes the private 10.123.123.0/24 (VIPs .11/.12), because the lab
 * only ever uses private addresses. Each director also gets its own address on the private LAN
 * (.11/.12), as the report's directors have.
 *
 * Shown: every virtual server answers through its VIP (SMTP banner, IMAPS/POP3S TLS handshake and
 * greeting, HTTP 200); ten client addresses spread 5/5 and stick (persistence); a killed exim
 * leaves the SMTP service within delay_loop + connect_timeout (+ retry) and every client then
 * lands on the other; cutting director1 moves the mail VIPs and the balancing to director2.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { run } from '../../../src/lib/exec.js';
import { cutLink, addressesOf } from '../../../src/lab/netns.js';
import type { BalancersStatus } from '../../../src/control/status.js';
import { ProcSet, Proc, ROOT, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { carpoolVrrpState } from '../helpers/keepalived.js';
import { useLab } from '../helpers/lab.js';
import { selfSigned, writeDovecot, writeExim } from '../helpers/mail.js';
import type { GreetJob, GreetResult } from '../helpers/greet.js';
import { writeNginxConfig } from '../resources/cluster.js';

const seed = (n: 1 | 2) => readFileSync(new URL(`../../../testdata/keepalived/seed-002/director${n}.conf`, import.meta.url), 'utf8')
  .replaceAll('123.123.123.', '10.123.123.1');
const MAIL_VIP = '10.123.123.11';
const WEB_VIP = '10.123.123.12';
/** From the files: delay_loop 6, connect_timeout 3, keepalived's default retry 1 and delay_before_retry 1 s. */
const DOWN_BOUND_MS = (6 + 2 * 3 + 1) * 1000;
/** Ten client addresses: persistence (granularity /32) pins each to one real server. */
const CLIENTS = Array.from({ length: 10 }, (_, i) => `10.123.123.${200 + i}`);

describe.skipIf(!isRoot)(`seed 002 B.11 whole: two directors, mail and web real servers (${skipReason})`, () => {
  const procs = new ProcSet();
  /** Servers with workers (nginx, dovecot, exim): stopped by SIGTERM first, so their master takes its children along. */
  const servers: Proc[] = [];
  const server = (p: Proc) => { servers.push(procs.add(p)); return p; };
  const wd = new Workdir();
  const lan = useLab('vsb', {
    hosts: 6, subnet: '10.123.123', lans: 2,
    beforeDestroy: async () => {
      await Promise.all(servers.map((p) => p.stop('SIGTERM', 3000)));
      await procs.killAll();
      wd.remove();
    },
  });
  const directors: Proc[] = [];
  const exims = new Map<number, Proc>();
  /** h3 mail1, h4 mail2, h5 web1, h6 web2. */
  const REAL = [
    { host: 3, name: 'mail1', address: '192.168.0.101', gw: '192.168.0.1' },
    { host: 4, name: 'mail2', address: '192.168.0.102', gw: '192.168.0.1' },
    { host: 5, name: 'web1', address: '192.168.0.201', gw: '192.168.0.2' },
    { host: 6, name: 'web2', address: '192.168.0.202', gw: '192.168.0.2' },
  ] as const;

  const socket = (n: 1 | 2) => wd.path(`run${n}/carpool.sock`);
  const balancers = async (n: 1 | 2) => (await status(socket(n))).balancers as BalancersStatus;
  const serverHealth = async (n: 1 | 2, service: string, key: string) =>
    (await balancers(n)).services.find((s) => s.name === service)?.servers.find((s) => s.key === key)?.health;
  const greet = async (jobs: GreetJob[]): Promise<GreetResult[]> => {
    const r = await run(inNs(lan.client!.ns, [process.execPath, '--import', 'tsx', `${ROOT}test/integration/helpers/greet.ts`, JSON.stringify(jobs)]));
    return JSON.parse(r.stdout) as GreetResult[];
  };
  /** Which real server each client address reaches on VIP:port (by the name in its greeting). */
  const who = async (kind: GreetJob['kind'], vip: string, port: number, tls = false) => {
    const res = await greet(CLIENTS.map((src) => ({ kind, host: vip, port, src, tls })));
    return res.map((r) => (r.ok ? /(mail\d|web\d)/.exec(r.line)?.[1] ?? r.line : `failed: ${r.line}`));
  };
  const tally = (names: string[]) => names.reduce<Record<string, number>>((a, n) => ({ ...a, [n]: (a[n] ?? 0) + 1 }), {});
  const has = async (host: number, ifname: string, addr: string) => (await addressesOf(lan.host(host).ns, ifname)).includes(addr);
  const startExim = async (r: typeof REAL[number]) => {
    const p = server(new Proc(`exim-${r.name}`, inNs(lan.host(r.host).ns, await writeExim(wd.path(`${r.name}/exim`), r.name, r.address))));
    exims.set(r.host, p);
  };

  it('both directors run B.11 unchanged; every virtual server answers through its VIP', async () => {
    chmodSync(wd.dir, 0o711); // exim (Debian-exim) and dovecot's login processes reach their files below
    for (const n of [1, 2] as const) {
      await run(inNs(lan.host(n).ns, ['ip', 'addr', 'add', `192.168.0.1${n}/24`, 'dev', 'eth1']));
      await run(inNs(lan.host(n).ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    }
    // The real servers live on the private LAN only, behind their director's gateway VIP.
    for (const r of REAL) {
      const ns = lan.host(r.host).ns;
      await run(inNs(ns, ['ip', 'link', 'set', 'eth0', 'down']));
      await run(inNs(ns, ['ip', 'addr', 'add', `${r.address}/24`, 'dev', 'eth1']));
      await run(inNs(ns, ['ip', 'route', 'add', 'default', 'via', r.gw]));
    }
    for (const a of CLIENTS) await run(inNs(lan.client!.ns, ['ip', 'addr', 'add', `${a}/24`, 'dev', 'eth0']));
    const [cert, key] = await selfSigned(wd.dir, 'mail.lab.test');
    chmodSync(key, 0o644); // read by dovecot as root before it drops privileges; the lab's throwaway key
    for (const r of REAL.slice(0, 2)) {
      await startExim(r);
      server(new Proc(`dovecot-${r.name}`, inNs(lan.host(r.host).ns, writeDovecot(wd.path(`${r.name}/dovecot`), r.name, r.address, cert, key))));
    }
    for (const r of REAL.slice(2)) {
      const dir = wd.path(r.name);
      mkdirSync(dir, { recursive: true });
      server(new Proc(`nginx-${r.name}`, inNs(lan.host(r.host).ns, ['nginx', '-c', writeNginxConfig(dir, r.name, r.address, 80), '-g', 'daemon off;'])));
    }
    // Each server answers on its own address before the directors start.
    for (const r of REAL) {
      const jobs: GreetJob[] = r.name.startsWith('mail')
        ? [{ kind: 'smtp', host: r.address, port: 25 }, { kind: 'imap', host: r.address, port: 993, tls: true }, { kind: 'pop3', host: r.address, port: 995, tls: true }]
        : [{ kind: 'http', host: r.address, port: 80 }];
      await until(async () => {
        const res = (await run(inNs(lan.host(r.host).ns, [process.execPath, '--import', 'tsx', `${ROOT}test/integration/helpers/greet.ts`, JSON.stringify(jobs)]))).stdout;
        return (JSON.parse(res) as GreetResult[]).every((x) => x.ok && x.line.includes(r.name));
      }, 10_000, 200, `${r.name} serving`);
    }

    for (const n of [1, 2] as const) {
      mkdirSync(wd.path(`run${n}`), { recursive: true, mode: 0o700 });
      directors[n - 1] = procs.add(new Proc(`director${n}`, carpoolArgv(lan.host(n).ns, ['run', '-c', wd.write(`director${n}.conf`, seed(n), 0o600)]),
        { CARPOOL_RUN_DIR: wd.path(`run${n}`) }));
    }
    const [d1, d2] = directors as [Proc, Proc];
    await until(() => carpoolVrrpState(d1, 'mail_vip') === 'MASTER' && carpoolVrrpState(d1, 'mail_gw') === 'MASTER'
      && carpoolVrrpState(d2, 'web_vip') === 'MASTER' && carpoolVrrpState(d2, 'web_gw') === 'MASTER', 15_000, 100, 'both groups elected')
      .catch((e: unknown) => { throw new Error(`${String(e)}\n${d1.lines.slice(-15).join('\n')}\n${d2.lines.slice(-15).join('\n')}`); });
    // Both directors hold all four services; every real server is up on both.
    for (const n of [1, 2] as const) {
      await until(async () => {
        const b = await balancers(n);
        return b.plane.inForce && b.services.length === 4 && b.services.every((s) => s.servers.length === 2 && s.servers.every((r) => r.health === 'up'));
      }, 10_000, 100, `director${n}: four services, all up`);
    }

    const [smtp] = await greet([{ kind: 'smtp', host: MAIL_VIP, port: 25 }]);
    expect(smtp).toMatchObject({ ok: true });
    expect(smtp!.line).toMatch(/^220 mail[12]\.lab\.test ESMTP mail[12]/);
    const [imaps, pop3s] = await greet([{ kind: 'imap', host: MAIL_VIP, port: 993, tls: true }, { kind: 'pop3', host: MAIL_VIP, port: 995, tls: true }]);
    expect(imaps).toMatchObject({ ok: true, tlsVersion: expect.stringMatching(/^TLSv1\.[23]$/) as unknown });
    expect(imaps!.line).toMatch(/^\* OK .*mail[12] ready/);
    expect(pop3s).toMatchObject({ ok: true, tlsVersion: expect.stringMatching(/^TLSv1\.[23]$/) as unknown });
    expect(pop3s!.line).toMatch(/^\+OK mail[12] ready/);
    const [http] = await greet([{ kind: 'http', host: WEB_VIP, port: 80 }]);
    expect(http).toMatchObject({ ok: true });
    expect(http!.line).toMatch(/^200 web[12]$/);
    // The SMTP checker's verdicts are in the status, as keepalived would have logged them (the
    // first check runs within warm-up, up to delay_loop 6 s after start: wait for both).
    const smtpStatus = async () => (await balancers(1)).services.find((s) => s.name === `${MAIL_VIP}:25/tcp`)!;
    await until(async () => (await smtpStatus()).servers.every((s) => s.checkers[0]?.last !== undefined), 15_000, 200, 'the first SMTP_CHECK results');
    const smtpSvc = await smtpStatus();
    expect(smtpSvc.servers.map((s) => s.checkers[0]?.last)).toEqual([
      expect.objectContaining({ ok: true, detail: '220 mail1.lab.test ESMTP mail1' }), expect.objectContaining({ ok: true, detail: '220 mail2.lab.test ESMTP mail2' }),
    ]);
  }, 60_000);

  it('ten client addresses spread 5/5 over the real servers of every service and stick to theirs (persistence_timeout 50)', async () => {
    for (const [kind, vip, port, tls] of [['smtp', MAIL_VIP, 25, false], ['imap', MAIL_VIP, 993, true], ['pop3', MAIL_VIP, 995, true], ['http', WEB_VIP, 80, false]] as const) {
      const first = await who(kind, vip, port, tls);
      const again = await who(kind, vip, port, tls);
      const names = kind === 'http' ? ['web1', 'web2'] : ['mail1', 'mail2'];
      expect(tally(first), `${kind}: ${first.join(' ')}`).toEqual({ [names[0]!]: 5, [names[1]!]: 5 });
      expect(again, `${kind} persistence`).toEqual(first);
    }
  }, 60_000);

  it("a killed exim leaves the SMTP service within delay_loop + connect_timeout (+ retry); every client then gets mail1", async () => {
    const key = '192.168.0.102:25';
    await exims.get(4)!.stop('SIGTERM');
    const t0 = Date.now();
    await until(async () => (await serverHealth(1, `${MAIL_VIP}:25/tcp`, key)) === 'down', DOWN_BOUND_MS + 2000, 50, 'mail2 SMTP down on director1');
    const took = Date.now() - t0;
    console.log(`B.11: mail2's SMTP out after ${took} ms (bound ${DOWN_BOUND_MS} ms)`);
    expect(took).toBeLessThan(DOWN_BOUND_MS);
    await until(async () => (await balancers(1)).plane.inForce, 5000, 50, 'plane in force');
    const last = (await balancers(1)).services.find((s) => s.name === `${MAIL_VIP}:25/tcp`)!.servers.find((s) => s.key === key)!.checkers[0]!.last;
    expect(last).toMatchObject({ ok: false, detail: 'connect ECONNREFUSED' });
    expect(tally(await who('smtp', MAIL_VIP, 25))).toEqual({ mail1: 10 });
    // Its IMAPS and POP3S (TCP_CHECK, dovecot still running) stay in their services.
    expect(await serverHealth(1, `${MAIL_VIP}:993/tcp`, '192.168.0.102:993')).toBe('up');
    expect(tally(await who('imap', MAIL_VIP, 993, true))).toEqual({ mail1: 5, mail2: 5 });
  }, 60_000);

  it('cutting director1 moves the mail VIPs and the balancing to director2', async () => {
    const [d1, d2] = directors as [Proc, Proc];
    // director2's own checker has seen mail2's SMTP go too (both directors hold the rules).
    await until(async () => (await serverHealth(2, `${MAIL_VIP}:25/tcp`, '192.168.0.102:25')) === 'down', DOWN_BOUND_MS, 50, 'mail2 SMTP down on director2');
    await cutLink(lan, lan.host(1));
    const t0 = Date.now();
    await until(async () => (await has(2, 'eth0', `${MAIL_VIP}/32`)) && (await has(2, 'eth1', '192.168.0.1/32')), 10_000, 50, 'mail group on director2');
    console.log(`B.11: mail VIP and gateway on director2 after ${Date.now() - t0} ms`);
    await until(async () => !(await has(1, 'eth1', '192.168.0.1/32')), 5000, 50, 'mail_gw released on director1');
    expect(carpoolVrrpState(d1, 'mail_vip')).toBe('FAULT');
    expect(carpoolVrrpState(d2, 'mail_vip')).toBe('MASTER');
    expect(carpoolVrrpState(d2, 'mail_gw')).toBe('MASTER');
    // director1 cannot see the clients any more: what answers now is balanced by director2.
    await until(async () => (await who('smtp', MAIL_VIP, 25)).every((n) => n === 'mail1'), 10_000, 200, 'SMTP through director2');
    expect(tally(await who('pop3', MAIL_VIP, 995, true))).toEqual({ mail1: 5, mail2: 5 });
    expect(tally(await who('http', WEB_VIP, 80))).toEqual({ web1: 5, web2: 5 });
  }, 60_000);
});
