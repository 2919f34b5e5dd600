/**
 * The health checkers against real servers, in namespaces: a director running carpool with a
 * keepalived.conf of one virtual server per checker kind, and two real servers — h2 running
 * Debian's nginx with TLS (a self-signed certificate made here with openssl), dnsmasq, and a
 * UDP echo peer; h3 running a TCP server that accepts and never answers, with ICMP echo
 * dropped by nftables and nothing on the DNS and UDP ports. Each checker's last result in
 * the status document must say what it saw: SSL_GET with the body's digest and SNI, timeouts
 * against the hanging server, DNS answers and their absence, UDP replies and ICMP port
 * unreachable, ping answered and dropped, MISC exit codes (0, 1, 5 with misc_dynamic = weight
 * 3, a hang killed at misc_timeout, 50 MB of garbage), and FILE_CHECK following its file.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { run } from '../../../src/lib/exec.js';
import type { BalancersStatus } from '../../../src/control/status.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, until } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';

const NET = '10.126.0';
const VIP = `${NET}.100`;
const H2 = `${NET}.2`;
const H3 = `${NET}.3`;
const BODY = 'tls-h2\n';
/** An unusual duration, so the sleeps of the hanging MISC_CHECK can be counted. */
const HANG_S = '59.1234';

function conf(wd: Workdir): string {
  const script = (name: string, body: string): string => {
    const p = wd.write(name, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const exit = script('exit.sh', 'exit "$1"');
  const hang = script('hang.sh', `sleep ${HANG_S} & wait`);
  const garbage = script('garbage.sh', 'head -c 50000000 /dev/zero; exit 0');
  const timing = 'connect_timeout 1\n      retry 0\n      delay_before_retry 1';
  const vs = (port: number, proto: string, servers: string) => `virtual_server ${VIP} ${port} {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol ${proto}
${servers}}
`;
  const rs = (addr: string, port: number, checker: string) => `  real_server ${addr} ${port} {
    ${checker}
  }
`;
  return `track_file maint {
  file ${wd.path('maint')}
}
${vs(443, 'TCP', rs(H2, 443, `SSL_GET {
      url {
        path /
        digest ${createHash('md5').update(BODY).digest('hex')}
      }
      virtualhost www.test
      enable_sni
      ${timing}
    }`) + rs(H3, 8443, `SSL_GET {
      url {
        path /
      }
      ${timing}
    }`))}
${vs(80, 'TCP', rs(H3, 8080, `HTTP_GET {
      url {
        path /
      }
      ${timing}
    }`))}
${vs(53, 'UDP', rs(H2, 53, `DNS_CHECK {
      type A
      name www.test
      ${timing}
    }`) + rs(H2, 5353, `DNS_CHECK {
      type AAAA
      name www.test
      connect_port 53
      ${timing}
    }`) + rs(H3, 53, `DNS_CHECK {
      type A
      name www.test
      ${timing}
    }`))}
${vs(7, 'UDP', rs(H2, 7, `UDP_CHECK {
      payload 68656c6c6f
      require_reply 6865xx
      ${timing}
    }`) + rs(H3, 7, `UDP_CHECK {
      payload 00
      ${timing}
    }`))}
${vs(9, 'TCP', rs(H2, 9, `PING_CHECK {
      ${timing}
    }`) + rs(H3, 9, `PING_CHECK {
      ${timing}
    }`))}
${vs(10, 'TCP', [
    rs(H2, 10, `MISC_CHECK {\n      misc_path "${exit} 0"\n      misc_timeout 1\n    }`),
    rs(H2, 11, `MISC_CHECK {\n      misc_path "${exit} 1"\n      misc_timeout 1\n    }`),
    rs(H2, 12, `MISC_CHECK {\n      misc_path "${exit} 5"\n      misc_timeout 1\n      misc_dynamic\n    }`),
    rs(H2, 13, `MISC_CHECK {\n      misc_path ${hang}\n      misc_timeout 1\n    }`),
    rs(H2, 14, `MISC_CHECK {\n      misc_path ${garbage}\n      misc_timeout 5\n    }`),
  ].join(''))}
${vs(20, 'TCP', rs(H2, 20, `FILE_CHECK {
      track_file maint
      weight 0
    }`) + rs(H2, 21, `FILE_CHECK {
      track_file maint
      weight 2
    }`))}`;
}

describe.skipIf(!isRoot)(`health checkers against real servers (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('lbck', { hosts: 3, subnet: NET, client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const socket = () => wd.path('run/carpool.sock');
  let director: Proc;

  const balancers = async () => (await status(socket())).balancers as BalancersStatus;
  /** The checker of real server `key` in the service on `port`. */
  const checker = async (port: number, key: string) => {
    const svc = (await balancers()).services.find((s) => s.name.startsWith(`${VIP}:${port}/`))!;
    const server = svc.servers.find((s) => s.key === key)!;
    return { server, last: server.checkers[0]!.last };
  };

  it('every checker reports what it saw', async () => {
    // h2: nginx with TLS, dnsmasq, a UDP echo peer.
    const tls = wd.path('h2');
    mkdirSync(tls, { recursive: true });
    await run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=www.test',
      '-keyout', `${tls}/key.pem`, '-out', `${tls}/cert.pem`]);
    for (const d of ['body', 'proxy', 'fcgi', 'uwsgi', 'scgi']) mkdirSync(`${tls}/${d}`, { recursive: true });
    // The default server answers 421: only the SNI name reaches the page (enable_sni is honoured).
    writeFileSync(`${tls}/nginx.conf`, `worker_processes 1;
pid ${tls}/nginx.pid;
error_log ${tls}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${tls}/body; proxy_temp_path ${tls}/proxy; fastcgi_temp_path ${tls}/fcgi;
  uwsgi_temp_path ${tls}/uwsgi; scgi_temp_path ${tls}/scgi;
  ssl_certificate ${tls}/cert.pem; ssl_certificate_key ${tls}/key.pem;
  server { listen ${H2}:443 ssl default_server; server_name _; location / { return 421 "wrong sni\\n"; } }
  server { listen ${H2}:443 ssl; server_name www.test; location / { return 200 "${BODY.trim()}\\n"; } }
}
`);
    procs.add(new Proc('nginx', inNs(lan.host(2).ns, ['nginx', '-c', `${tls}/nginx.conf`, '-g', 'daemon off;'])));
    procs.add(new Proc('dnsmasq', inNs(lan.host(2).ns, ['dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
      `--listen-address=${H2}`, '--bind-interfaces', `--pid-file=${wd.path('dnsmasq.pid')}`, '--host-record=www.test,10.9.9.9', '--local=/test/', '--log-facility=-'])));
    procs.add(new Proc('udp-echo', inNs(lan.host(2).ns, [process.execPath, '-e',
      `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(m, r.port, r.address)); s.bind(7, '${H2}');`])));
    // h3: accepts and never answers; drops ICMP echo; nothing on 53 or 7.
    procs.add(new Proc('hang', inNs(lan.host(3).ns, [process.execPath, '-e',
      `const held = []; for (const p of [8080, 8443]) require('net').createServer((s) => held.push(s)).listen(p, '${H3}');`])));
    await run(inNs(lan.host(3).ns, ['nft', '-f', '-']), { input: 'table inet dropping {\n  chain icmpin {\n    type filter hook input priority 0;\n    icmp type echo-request drop\n  }\n}\n' });
    wd.write('maint', '0\n');
    await until(async () => (await run(inNs(lan.host(2).ns, ['curl', '-sk', '--max-time', '1', '--resolve', `www.test:443:${H2}`, 'https://www.test/']), { allowFail: true })).stdout === BODY,
      5000, 50, 'nginx with TLS on h2');

    mkdirSync(wd.path('run'), { recursive: true, mode: 0o700 });
    director = procs.add(new Proc('director', carpoolArgv(lan.host(1).ns, ['run', '-c', wd.write('keepalived.conf', conf(wd))]),
      { CARPOOL_RUN_DIR: wd.path('run') }));
    // warmup defaults to delay_loop (1 s): every checker has run once within ~3 s.
    await until(async () => {
      if (!director.running) throw new Error(`carpool exited:\n${director.lines.join('\n')}`);
      const b = await balancers().catch(() => undefined); // the control socket comes up first
      return b?.services.every((s) => s.servers.every((r) => r.checkers.every((c) => c.last)));
    }, 15_000, 100, 'every checker ran');

    expect(await checker(443, `${H2}:443`)).toMatchObject({ server: { health: 'up' }, last: { ok: true, detail: '/: status 200' } });
    expect((await checker(443, `${H3}:8443`)).last).toMatchObject({ ok: false, detail: '/: timeout after 1000 ms' });
    expect((await checker(80, `${H3}:8080`)).last).toMatchObject({ ok: false, detail: '/: timeout after 1000 ms' });

    expect((await checker(53, `${H2}:53`)).last).toMatchObject({ ok: true, detail: 'A www.test: 1 A record(s)' });
    expect((await checker(53, `${H2}:5353`)).last).toMatchObject({ ok: false, detail: 'AAAA www.test: no AAAA record in 0 answer(s)' });
    expect((await checker(53, `${H3}:53`)).last).toMatchObject({ ok: false, detail: 'port unreachable' });

    expect((await checker(7, `${H2}:7`)).last).toMatchObject({ ok: true, detail: 'reply of 5 bytes' });
    expect((await checker(7, `${H3}:7`)).last).toMatchObject({ ok: false, detail: 'port unreachable (ICMP)' });

    expect((await checker(9, `${H2}:9`)).last).toMatchObject({ ok: true, detail: expect.stringMatching(/^echo reply in [\d.]+ ms$/) });
    expect((await checker(9, `${H3}:9`)).last).toMatchObject({ ok: false, detail: 'no echo reply within 1000 ms' });

    expect(await checker(10, `${H2}:10`)).toMatchObject({ server: { health: 'up', weight: 1 }, last: { ok: true, detail: 'exit 0' } });
    expect(await checker(10, `${H2}:11`)).toMatchObject({ server: { health: 'down' }, last: { ok: false, detail: 'exit 1' } });
    expect(await checker(10, `${H2}:12`)).toMatchObject({ server: { health: 'up', weight: 3 }, last: { ok: true, detail: 'exit 5' } });
    expect(await checker(10, `${H2}:13`)).toMatchObject({ server: { health: 'down' }, last: { ok: false, detail: 'timed out after 1000 ms, killed' } });
    expect(await checker(10, `${H2}:14`)).toMatchObject({ server: { health: 'up' }, last: { ok: true, detail: 'exit 0' } });

    expect(await checker(20, `${H2}:20`)).toMatchObject({ server: { health: 'up', weight: 1 } });
    wd.write('maint', '3\n');
    await until(async () => (await checker(20, `${H2}:20`)).server.health === 'down', 5000, 100, 'FILE_CHECK weight 0: non-zero takes it down');
    expect((await checker(20, `${H2}:21`)).server).toMatchObject({ health: 'up', weight: 7 }); // 1 + 3 × 2
    wd.write('maint', '0\n');
    await until(async () => (await checker(20, `${H2}:20`)).server.health === 'up', 5000, 100, 'FILE_CHECK back up');

    // Several runs of the hanging script have been killed by now, each with its process group:
    // at most the current run's sleep exists, none left behind.
    const sleeps = (await run(['pgrep', '-f', `^sleep ${HANG_S}$`], { allowFail: true })).stdout.trim().split('\n').filter(Boolean);
    expect(sleeps.length).toBeLessThanOrEqual(1);
    expect(director.running).toBe(true);
    expect((await director.stop('SIGTERM', 10_000)).code).toBe(0);
  }, 60_000);
});
