/**
 * `carpool check` refuses what `carpool run` refuses (cli/preflight.ts, one function for both):
 * for each case a file that check rejects at file:line with the expected message and exit code
 * (keepalived.conf: 3, as `keepalived -t`), and that run, in a lab namespace as root, refuses
 * with the same line before anything changes: no nft table, no address, no control socket,
 * no state directory.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inNs, run } from '../../src/lib/exec.js';
import { CARPOOL, isRoot } from './resources/cluster.js';
import { useLab } from './helpers/lab.js';
import { Proc, ProcSet, carpoolArgv } from './helpers/procs.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-parity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NET = '10.238.0';
const VIP = `${NET}.100`;
const yamlHead = (name: string) => `control_socket: ${dir}/${name}/run/carpool.sock
state_dir: ${dir}/${name}/state
instances:
  - { name: web, interface: eth0, vhid: 7, password: s3cret, addresses: [${VIP}/24] }
`;
const vrrp = (extra = '') => `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100${extra}
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

interface Case {
  readonly name: string;
  readonly file: string;
  readonly text: string;
  readonly line: number;
  readonly message: RegExp;
  /** check's exit code. */
  readonly code: number;
}

const cases: Case[] = [
  {
    name: 'YAML: DR with a count-based scheduler (lc)', file: 'dr-lc.yaml', line: 7, code: 1,
    message: /virtual_server 10\.238\.0\.100 80: lb_algo lc with lb_kind DR needs connection counts/,
    text: `${yamlHead('dr-lc')}balancers:
  virtual_servers:
    - { address: ${VIP}, port: 80, protocol: TCP, lvs_sched: lc, lvs_method: DR, real_servers: [{ address: ${NET}.11, port: 80 }] }
`,
  },
  {
    name: 'keepalived.conf: TUN with wlc', file: 'tun-wlc.conf', line: 9, code: 3,
    message: /virtual_server 10\.238\.0\.100 80: lb_algo wlc with lb_kind TUN needs connection counts/,
    text: `${vrrp()}virtual_server ${VIP} 80 {
  lb_algo wlc
  lb_kind TUN
  protocol TCP
  real_server ${NET}.11 80 {
    weight 1
  }
}
`,
  },
  {
    name: 'YAML: what the plane cannot hold (IPv6 NAT persistence, mixed ports)', file: 'plane.yaml', line: 8, code: 1,
    message: /virtual_server fd00::100 80: the nftables plane cannot hold it: \[fd00::100\]:80\/tcp: IPv6 NAT with persistence needs one port for all real servers .*\(expected give the real servers the same port\)/,
    text: `${yamlHead('plane')}balancers:
  virtual_servers:
    - { address: ${VIP}, port: 80, protocol: TCP, lvs_sched: rr, real_servers: [{ address: ${NET}.11, port: 80 }] }
    - { address: "fd00::100", port: 80, protocol: TCP, lvs_sched: rr, persistence_timeout: 60, real_servers: [{ address: "fd00::11", port: 80 }, { address: "fd00::12", port: 8080 }] }
`,
  },
  {
    name: 'keepalived.conf: a virtual_server matching what a group already matches (plane)', file: 'dup.conf', line: 20, code: 3,
    message: /virtual_server 10\.238\.0\.100 80: the nftables plane cannot hold it: 10\.238\.0\.100:80\/tcp twice \(expected give each virtual_server its own address/,
    text: `${vrrp()}virtual_server_group G {
  ${VIP}-101 80
}
virtual_server group G {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server ${NET}.11 80 {
    weight 1
  }
}
virtual_server ${VIP} 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server ${NET}.12 80 {
    weight 1
  }
}
`,
  },
  {
    name: 'YAML: a CARP vhid and a VRRPv2 VRID alike on one interface', file: 'ids.yaml', line: 5, code: 1,
    message: /web \(CARP vhid 7\) and v2 \(VRRPv2 VRID 7\) share eth0: their packets look alike \(expected give one of them another vhid\/virtual_router_id\)/,
    text: `${yamlHead('ids')}  - { name: v2, protocol: vrrp, interface: eth0, virtual_router_id: 7, version: 2, addresses: [${NET}.101/24] }
`,
  },
  {
    name: 'YAML: a sharing: bucket election alike a VRRPv2 VRID on one interface', file: 'bucket.yaml', line: 5, code: 1,
    message: /web\/b5 \(CARP vhid 105\) and v2 \(VRRPv2 VRID 105\) share eth0: their packets look alike/,
    text: `control_socket: ${dir}/bucket/run/carpool.sock
state_dir: ${dir}/bucket/state
instances:
  - { name: web-vip, interface: eth0, vhid: 7, password: s3cret, addresses: [${VIP}/24] }
  - { name: v2, protocol: vrrp, interface: eth0, virtual_router_id: 105, version: 2, addresses: [${NET}.101/24] }
sharing:
  - { name: web, address: ${NET}.50/24, interface: eth0, vhid_base: 100, buckets: 16, password: p, nodes: [{ name: n1, address: ${NET}.1 }, { name: n2, address: ${NET}.2 }] }
`,
  },
];

for (const c of cases) writeFileSync(join(dir, c.file), c.text, { mode: 0o600 });
const path = (c: Case) => join(dir, c.file);

describe('carpool check refuses what carpool run refuses', () => {
  const carpool = (args: string[], ns?: string) => run(inNs(ns, [process.execPath, CARPOOL, ...args]),
    { allowFail: true, timeoutMs: 30_000, env: { ...process.env, CARPOOL_RUN_DIR: join(dir, 'rundir') } });

  for (const c of cases) {
    it(`check: ${c.name}`, async () => {
      const r = await carpool(['check', '-c', path(c)]);
      expect(r.code, r.stderr).toBe(c.code);
      expect(r.stdout).toBe('');
      const line = r.stderr.split('\n').find((l) => l.startsWith(`${path(c)}:${c.line}:`));
      expect(line, r.stderr).toBeDefined();
      expect(line).toMatch(/: error: carpool run refuses this: /);
      expect(line).toMatch(c.message);
      expect(r.stderr).toContain(`${path(c)}: carpool run refuses it: 1 problem`);
      // --vrrp-only drops the LVS part of a keepalived.conf (keepalived --vrrp): what is left is valid.
      if (c.file.endsWith('.conf')) expect((await carpool(['check', '--vrrp-only', '-c', path(c)])).code).toBe(0);
    }, 30_000);
  }

  describe.skipIf(!isRoot)('run, in a namespace: the same refusal, and nothing changed', () => {
    const procs = new ProcSet();
    const lan = useLab('par', { hosts: 1, subnet: NET, client: false, beforeDestroy: () => procs.killAll() });

    for (const c of cases) {
      it(`run: ${c.name}`, async () => {
        const ns = lan.host(1).ns;
        const check = await carpool(['check', '-c', path(c)], ns);
        const r = await carpool(['run', '-c', path(c)], ns);
        expect(r.code, r.stderr).toBe(1);
        // The same located line, word for word after the location.
        const said = (text: string) => text.split('\n').find((l) => l.includes(`${path(c)}:${c.line}:`))?.replace(/^.*?carpool run refuses this: /, '');
        expect(said(r.stderr), r.stderr).toBeDefined();
        expect(said(r.stderr)).toBe(said(check.stderr));
        expect(r.stderr).toMatch(c.message);
        expect((await run(inNs(ns, ['nft', 'list', 'tables']))).stdout).not.toMatch(/carpool/);
        expect((await run(inNs(ns, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']))).stdout).not.toContain(`${VIP}/`);
        const name = c.file.replace(/\.\w+$/, '');
        expect(existsSync(join(dir, name, 'run')) || existsSync(join(dir, 'rundir'))).toBe(false);
        expect(existsSync(join(dir, name, 'state'))).toBe(false);
      }, 30_000);
    }

    it('reload: a file run would refuse is refused at the same line; the daemon keeps its configuration', async () => {
      const ns = lan.host(1).ns;
      const file = join(dir, 'reload.yaml');
      const vs = (method: string, sched: string) => `${yamlHead('reload')}balancers:
  virtual_servers:
    - { address: ${VIP}, port: 80, protocol: TCP, lvs_sched: ${sched}, lvs_method: ${method}, real_servers: [{ address: ${NET}.11, port: 80 }] }
`;
      writeFileSync(file, vs('NAT', 'rr'), { mode: 0o600 });
      const d = procs.add(new Proc('reload', carpoolArgv(ns, ['run', '-c', file])));
      await d.waitFor(/Load balancer: .* real server\(s\)/, 15_000);
      const table = async () => (await run(inNs(ns, ['nft', 'list', 'table', 'ip', 'carpool']), { allowFail: true })).stdout;
      const before = await table();
      expect(before).toContain(VIP);
      // The same service by DR with lc: refused by check and run (cases above), now by reload.
      writeFileSync(file, vs('DR', 'lc'), { mode: 0o600 });
      const check = await carpool(['check', '-c', file]);
      const r = await carpool(['reload', '-s', join(dir, 'reload', 'run', 'carpool.sock')]);
      expect(r.code, r.stderr).not.toBe(0);
      const said = (text: string) => text.split('\n').find((l) => l.includes(`${file}:7:`))?.replace(/^.*?carpool run refuses this: /, '');
      expect(said(r.stderr), r.stderr).toBeDefined();
      expect(said(r.stderr)).toBe(said(check.stderr));
      expect(said(r.stderr)).toMatch(/lb_algo lc with lb_kind DR needs connection counts/);
      expect(d.running).toBe(true);
      expect((await table()).replace(/handle \d+/g, '')).toBe(before.replace(/handle \d+/g, ''));
      await d.stop();
    }, 30_000);
  });
});
