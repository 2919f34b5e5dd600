/**
 * Interop with the real ucarp 1.5.2 from Debian on the same LAN: carpool and ucarp must
 * agree on who is master in every direction, and neither may complain about the other's
 * packets.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cutLink, restoreLink } from '../../../src/lab/netns.js';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, ucarpArgv, isRoot, skipReason, until, sleep } from '../helpers/procs.js';
import { Workdir, instance } from '../helpers/carp.js';
import { useLab } from '../helpers/lab.js';

describe.skipIf(!isRoot)(`interop with the real ucarp (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('ci', { hosts: 2, subnet: '10.80.0', beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });
  const h = (i: number) => lan.hosts[i - 1]!;
  const env = (host: string) => ({ CARPOOL_RUN_DIR: wd.path(`run-${host}`) });
  const sock = (host: string, vhid: number) => `${wd.path(`run-${host}`)}/ucarp-eth0-vhid${vhid}.sock`;

  beforeAll(async () => {
    // Extra addresses whose byte order makes the x86 tie-break quirk visible.
    await run(['ip', '-n', h(1).ns, 'addr', 'add', '10.80.1.2/24', 'dev', 'eth0']);
    await run(['ip', '-n', h(2).ns, 'addr', 'add', '10.80.2.1/24', 'dev', 'eth0']);
  });

  const carpool = (host: number, args: string[]) => procs.add(new Proc(`carpool-h${host}`, carpoolArgv(h(host).ns, ['ucarp', '-i', 'eth0', ...args]), env(h(host).name)));
  const ucarp = (host: number, args: string[]) => procs.add(new Proc(`ucarp-h${host}`, ucarpArgv(h(host).ns, ['-i', 'eth0', ...args])));
  const clean = (p: Proc) => {
    expect(p.lines.filter((l) => /Bad digest|Bad IP checksum|Bad TTL|Bad version/.test(l))).toEqual([]);
  };

  it('carpool master -> ucarp takes over on link cut -> carpool (preempt) takes it back', async () => {
    const c = carpool(1, ['-s', h(1).address, '-v', '31', '-p', 'interop', '-a', '10.80.0.131', '-P']);
    await c.waitFor(/Switching to state: MASTER/, 6000);
    const u = ucarp(2, ['-s', h(2).address, '-v', '31', '-p', 'interop', '-a', '10.80.0.131', '-k', '50']);
    await u.waitFor(/Switching to state: BACKUP/, 3000);
    await sleep(3500); // longer than ucarp's master-down: it must stay backup, hearing carpool
    expect(u.count(/Switching to state: MASTER/)).toBe(0);
    await cutLink(lan, h(1));
    await u.waitFor(/Switching to state: MASTER/, 8000);
    await restoreLink(lan, h(1));
    await until(() => c.count(/Switching to state: MASTER/) >= 2, 10_000, 50, 'carpool master again');
    await u.waitFor(/Preferred master advertised: going back to BACKUP state/, 5000);
    const st = await instance(sock(h(1).name, 31));
    expect(st.state).toBe('MASTER');
    expect(Object.values(st.counters.drops).reduce((a, b) => a + b, 0)).toBe(0);
    expect(st.counters.advertsReceived).toBeGreaterThan(0); // it heard ucarp's adverts while ucarp was master
    clean(u);
    await Promise.all([c.stop(), u.stop()]);
  });

  it('ucarp master -> carpool takes over when ucarp\'s link is cut', async () => {
    const u = ucarp(2, ['-s', h(2).address, '-v', '32', '-p', 'interop', '-a', '10.80.0.132', '-k', '0']);
    await u.waitFor(/Switching to state: MASTER/, 8000);
    const c = carpool(1, ['-s', h(1).address, '-v', '32', '-p', 'interop', '-a', '10.80.0.132', '-k', '50']);
    await c.waitFor(/Switching to state: BACKUP/, 3000);
    await until(async () => (await instance(sock(h(1).name, 32)).catch(() => undefined))?.master === h(2).address, 5000, 100, 'carpool hears ucarp');
    await sleep(3500);
    expect(c.count(/Switching to state: MASTER/)).toBe(0);
    await cutLink(lan, h(2));
    await c.waitFor(/Switching to state: MASTER/, 6000);
    await restoreLink(lan, h(2));
    await sleep(1500);
    const st = await instance(sock(h(1).name, 32));
    expect(Object.values(st.counters.drops).reduce((a, b) => a + b, 0)).toBe(0);
    clean(u);
    await Promise.all([c.stop(), u.stop()]);
  });

  it.each([
    ['carpool on 10.80.1.2, ucarp on 10.80.2.1', 'carpool' as const],
    ['ucarp on 10.80.1.2, carpool on 10.80.2.1', 'ucarp' as const],
  ])('equal priority (%s): after a partition heals exactly one master, the one ucarp itself keeps', async (_name, onFirst) => {
    const vhid = onFirst === 'carpool' ? 33 : 34;
    const args = (src: string) => ['-s', src, '-v', String(vhid), '-p', 'tie', '-a', `10.80.0.${100 + vhid}`];
    // Partition: the bridge drops CARP, so both become master; then heal and let the tie-break decide.
    const nft = (script: string) => run(['ip', 'netns', 'exec', lan.switchNs, 'nft', '-f', '-'], { input: script });
    await nft('table bridge partition {\n chain forward { type filter hook forward priority 0; ip protocol 112 drop; }\n}\n');
    const first = onFirst === 'carpool' ? carpool(1, args('10.80.1.2')) : ucarp(1, args('10.80.1.2'));
    const second = onFirst === 'carpool' ? ucarp(2, args('10.80.2.1')) : carpool(2, args('10.80.2.1'));
    await first.waitFor(/Switching to state: MASTER/, 8000);
    await second.waitFor(/Switching to state: MASTER/, 8000);
    await nft('delete table bridge partition\n');
    await sleep(4000);
    const state = (p: Proc) => {
      const last = [...p.lines].reverse().find((l) => /Switching to state: (MASTER|BACKUP)/.test(l));
      return last?.match(/(MASTER|BACKUP)/)?.[1];
    };
    // On x86 ucarp compares the address bytes reversed: 10.80.2.1 wins over 10.80.1.2.
    expect([state(first), state(second)]).toEqual(['BACKUP', 'MASTER']);
    for (const p of [first, second]) if (p.name.startsWith('ucarp')) clean(p);
    await Promise.all([first.stop(), second.stop()]);
  });
});
