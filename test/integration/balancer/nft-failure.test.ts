/**
 * An update that fails half-way, against the real kernel: a director with one NAT service over
 * two real servers (TCP servers in their own namespaces, TCP_CHECK every 0.2 s). Something else
 * changes carpool's table under it — a chain of its own that jumps to the service's chain in
 * force — so the next health update's netlink batch (the new generation, the repoint, the old
 * generation's deletion) is refused by the kernel as a whole. Meanwhile `nft` itself fails too
 * (a wrapper first on the daemon's PATH exits 1 while a flag file exists), so the whole-table
 * retry fails as well. Each failure must be logged with what the kernel or nft said, the ruleset
 * in force must stay exactly the one before, the daemon must keep running and answering; when
 * `nft` works again the retry replaces the table whole (the foreign chain goes) with the new
 * health in it.
 */
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason } from '../helpers/procs.js';
import { Workdir, status } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';
import type { BalancersStatus } from '../../../src/control/status.js';

const NET = '10.128.0';
const VIP = `${NET}.100`;
const SERVER = `require('net').createServer((c) => c.destroy()).listen(80, () => process.stdout.write('listening\\n'));`;

describe.skipIf(!isRoot)(`a failed update keeps the ruleset in force (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('nf', { hosts: 3, subnet: NET, client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  it('kernel refuses the batch, then nft fails: logged, the old ruleset stays, the daemon runs on; then the retry wins', async () => {
    const [d, r2, r3] = [lan.host(1), lan.host(2), lan.host(3)];
    for (const r of [r2, r3]) await procs.add(new Proc(`rs-${r.name}`, inNs(r.ns, [process.execPath, '-e', SERVER]))).waitFor(/listening/, 10_000);
    const bin = wd.path('bin');
    mkdirSync(bin);
    const flag = wd.path('nft-fails');
    const shim = `${bin}/nft`;
    writeFileSync(shim, `#!/bin/sh\nif [ -e ${flag} ]; then echo "Error: injected failure (test)" >&2; exit 1; fi\nexec /usr/sbin/nft "$@"\n`);
    chmodSync(shim, 0o755);
    const socket = wd.path('run/carpool.sock');
    const conf = wd.write('keepalived.conf', `vrrp_instance VI_1 {
  state MASTER
  interface ${d.ifname}
  virtual_router_id 62
  priority 150
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
virtual_server ${VIP} 80 {
  delay_loop 0.2
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server ${r2.address} 80 {
    TCP_CHECK {
      connect_timeout 0.5
      retry 0
    }
  }
  real_server ${r3.address} 80 {
    TCP_CHECK {
      connect_timeout 0.5
      retry 0
    }
  }
}
`, 0o600);
    const daemon = procs.add(new Proc('director', carpoolArgv(d.ns, ['run', '-c', conf]), { CARPOOL_RUN_DIR: wd.path('run'), PATH: `${bin}:${process.env.PATH ?? ''}` }));
    await daemon.waitFor(/Load balancer: .* 2 real server\(s\)/, 15_000);
    const listing = async () => (await run(inNs(d.ns, ['/usr/sbin/nft', 'list', 'table', 'ip', 'carpool']))).stdout;
    const bare = (t: string) => t.replace(/ # handle \d+/g, '').replace(/\n\s*chain intruder \{[^}]*\}/, '');
    const before = await listing();
    const gen = /: jump (vs\d+(?:g\d+)?)\b/.exec(before)?.[1];
    expect(gen, before).toBeDefined();
    // Someone else's chain in carpool's table, jumping to the chain in force: its deletion (the
    // end of the next flat update) is refused with EBUSY, and with it the whole batch.
    expect((await run(inNs(d.ns, ['/usr/sbin/nft', `add chain ip carpool intruder; add rule ip carpool intruder jump ${gen}`]))).code).toBe(0);
    writeFileSync(flag, '');
    // Server 2 stops accepting: a verdict, an update.
    await run(inNs(r2.ns, ['nft', 'add table inet blk; add chain inet blk in { type filter hook input priority 0 ; }; add rule inet blk in tcp dport 80 reject with tcp reset']));
    await daemon.waitFor(/real server .*:80 down/, 5000);
    await daemon.waitFor(/the flat update failed, the previous ruleset stays in force \(retry in 5 s\): netlink batch refused: .*busy/i, 5000);
    expect(bare(await listing())).toBe(bare(before));
    // The whole-table retry runs nft, which fails now.
    await daemon.waitFor(/nft -f failed, the previous ruleset stays in force \(retry in 5 s\): Error: injected failure \(test\)/, 8000);
    expect(bare(await listing())).toBe(bare(before));
    const st = (await status(socket)).balancers as BalancersStatus;
    expect(st.services[0]!.servers.map((s) => s.health)).toEqual(['down', 'up']);
    // The status says so: the ruleset of before is in force, the latest change is not.
    expect(st.plane).toMatchObject({ inForce: true, pending: true, lastError: 'Error: injected failure (test)' });
    expect(daemon.running).toBe(true);
    // nft works again: the next retry replaces the table whole, without server 2 and without the foreign chain.
    rmSync(flag);
    await daemon.waitFor(/nftables ruleset in force again/, 8000);
    const after = await listing();
    expect(after).not.toContain('chain intruder');
    expect(after).not.toMatch(new RegExp(`${r2.address.replace(/\./g, '\\.')} \\. 80`));
    expect(after).toMatch(new RegExp(`${r3.address.replace(/\./g, '\\.')} \\. 80`));
    expect(existsSync(flag)).toBe(false);
    expect(((await status(socket)).balancers as BalancersStatus).plane).toMatchObject({ inForce: true });
    expect(((await status(socket)).balancers as BalancersStatus).plane.pending).toBeUndefined();
  }, 60_000);
});
