/**
 * What carpool puts on the wire, captured with tcpdump, compared with the genuine ucarp
 * capture (testdata/ucarp-a.pcap): same IP framing and CARP header; only the per-packet
 * fields (IP ID and checksum, counter, HMAC, CARP checksum) and the source MAC differ.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/lib/exec.js';
import { ProcSet, Proc, carpoolArgv, inNs, isRoot, skipReason, sleep } from '../helpers/procs.js';
import { Workdir } from '../helpers/carp.js';
import { readPcap, hex } from '../../helpers/pcap.js';
import { carpAuthenticator } from '../../../src/protocol/carp/hmac.js';
import { checkAdvert, verifyAdvert } from '../../../src/protocol/carp/packet.js';
import { parseIPv4 } from '../../../src/protocol/inet.js';
import { useLab } from '../helpers/lab.js';

describe.skipIf(!isRoot)(`carpool's packets on the wire (${skipReason})`, () => {
  const procs = new ProcSet();
  const wd = new Workdir();
  const lan = useLab('cw', { hosts: 2, subnet: '10.99.0', client: false, beforeDestroy: async () => { await procs.killAll(); wd.remove(); } });

  it('sends adverts and gratuitous ARP framed exactly like ucarp', async () => {
    const h1 = lan.hosts[0]!;
    const pcap = wd.path('carpool.pcap');
    const dump = procs.add(new Proc('tcpdump', inNs(lan.hosts[1]!.ns, ['tcpdump', '-i', 'eth0', '--immediate-mode', '-U', '-n', '-w', pcap, 'ip proto 112 or arp'])));
    await dump.waitFor(/listening on/, 5000);
    // The capture's own parameters: vhid 42, password love, VIP 10.99.0.100, source 10.99.0.1.
    const c = procs.add(new Proc('carpool', carpoolArgv(h1.ns, ['ucarp', '-i', 'eth0', '-s', '10.99.0.1', '-v', '42', '-p', 'love', '-a', '10.99.0.100', '-n']), { CARPOOL_RUN_DIR: wd.path('run') }));
    await c.waitFor(/Switching to state: MASTER/, 6000);
    await sleep(2600);
    await c.stop('SIGKILL');
    await dump.stop('SIGINT');
    const recs = readPcap(pcap);
    if (process.env.CARPOOL_TEST_VERBOSE) for (const r of recs) console.log(r.tsMicros, hex(r.frame.subarray(0, 40)));
    const frames = recs.map((r) => r.frame);
    const adverts = frames.filter((f) => f[12] === 0x08 && f[13] === 0x00 && f[23] === 112);
    const garps = frames.filter((f) => f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && hex(f.subarray(28, 32)) === '0a630064');
    expect(adverts.length).toBeGreaterThanOrEqual(3);
    const genuine = readPcap(new URL('../../../testdata/ucarp-a.pcap', import.meta.url).pathname)
      .map((r) => r.frame).find((f) => f[23] === 112 && f[35] === 42)!;
    const mask = (f: Uint8Array) => {
      const m = Uint8Array.from(f.subarray(12)); // drop the MACs: ucarp spoofs 00:00:5e:00:00:vhid, we send the NIC's
      for (const i of [18, 19, 24, 25].map((x) => x - 12)) m[i] = 0; // IP ID, IP checksum
      for (let i = 34 + 6 - 12; i < 70 - 12; i++) m[i] = 0; // CARP checksum, counter, HMAC
      return hex(m);
    };
    const auth = carpAuthenticator(new TextEncoder().encode('love'), [parseIPv4('10.99.0.100')!]);
    for (const f of adverts) {
      expect(f.length).toBe(70);
      expect(hex(f.subarray(0, 6))).toBe('01005e000012');
      expect(mask(f)).toBe(mask(genuine));
      const c2 = checkAdvert(f.subarray(34), f[22]!);
      expect(c2.ok && verifyAdvert(c2.value, '224.0.0.18', '224.0.0.18', auth).ok).toBe(true);
    }
    // GARP on takeover and again with the third advert, as ucarp does; byte layout identical apart from the MAC.
    expect(garps.length).toBeGreaterThanOrEqual(2);
    const mac = hex(garps[0]!.subarray(6, 12));
    expect(hex(garps[0]!)).toBe(`ffffffffffff${mac}08060001080006040001${mac}0a630064${mac}0a630064`);
    await run(['true']);
  });
});
