/** SharingShell with a fake nft and fake elections: the bucket set follows them, a layout mismatch withdraws. */
import { describe, expect, it } from 'vitest';
import { Logger } from '../../src/daemon/logger.js';
import type { SharedAddress } from '../../src/sharing/core/model.js';
import { JOIN_DELAY_MS, SharingShell } from '../../src/sharing/shell/sharing.js';

const shared: SharedAddress = {
  name: 'web', address: '10.0.0.50', family: 4, prefix: 24, interface: 'eth0', buckets: 4, hash: 'sourceip', mode: 'multicast', mac: '01:00:5e:00:00:32',
  vhidBase: 100, password: 'p', advbase: 1,
  nodes: [{ name: 'n1', address: '10.0.0.1' }, { name: 'n2', address: '10.0.0.2' }, { name: 'n3', address: '10.0.0.3' }],
};

function setup(selfAddress: string) {
  const lines: string[] = [];
  const nft: string[] = [];
  let clock = 0;
  const masters = new Map<string, string>();
  const log = new Logger({ ident: 'test', facility: 'none', debug: false, console: false, onLine: (level, text) => lines.push(`${level}: ${text}`), now: () => clock });
  const shell = new SharingShell([shared], {
    log, addAddress: () => {}, removeAddress: () => {}, masterOf: (i) => masters.get(i), now: () => clock,
    nft: (input) => { nft.push(input.trim()); return Promise.resolve({ code: 0, stderr: '' }); },
  });
  shell.instances(() => [selfAddress]);
  const settle = () => new Promise((r) => setTimeout(r, JOIN_DELAY_MS + 40));
  return { shell, lines, nft, masters, settle, advance: (ms: number) => { clock += ms; } };
}

describe('SharingShell', () => {
  it('accepts the buckets it wins (after the join delay) and drops a lost one at once', async () => {
    const t = setup('10.0.0.1');
    t.shell.transitioned('web/b0', 'MASTER');
    t.shell.transitioned('web/b3', 'MASTER');
    await t.settle();
    expect(t.shell.status()[0]!.local).toEqual([0, 3]);
    t.shell.transitioned('web/b3', 'BACKUP');
    await t.settle();
    expect(t.shell.status()[0]!.local).toEqual([0]);
    expect(t.shell.status()[0]).toMatchObject({ applies: 3, failures: 0, serving: true, mismatches: [] });
    await t.shell.stop().catch(() => {});
  });

  it('a bucket waiting out its join delay is not taken in early by another bucket\'s update', async () => {
    const t = setup('10.0.0.1');
    t.shell.transitioned('web/b0', 'MASTER');
    await t.settle();
    t.shell.transitioned('web/b3', 'MASTER');
    t.shell.transitioned('web/b0', 'BACKUP'); // an update now, while b3 waits
    await new Promise((r) => setTimeout(r, 40));
    expect(t.shell.status()[0]!.local).toEqual([]);
    await t.settle();
    expect(t.shell.status()[0]!.local).toEqual([3]);
    await t.shell.stop().catch(() => {});
  });

  it('bad digests from a node of the list: logged once, shown, and the smaller group withdraws', async () => {
    // n3's view: its list differs from n1's and n2's, which agree with each other.
    const t = setup('10.0.0.3');
    t.shell.transitioned('web/b2', 'MASTER');
    await t.settle();
    expect(t.shell.status()[0]!.local).toEqual([2]);
    for (let k = 0; k < 5; k++) {
      t.shell.dropped('web/b0', 'digest', '10.0.0.1');
      t.shell.dropped('web/b1', 'digest', '10.0.0.2');
    }
    t.shell.dropped('web/b1', 'ttl', '10.0.0.2'); // other reasons are not a layout matter
    t.shell.dropped('web/b1', 'digest', '10.0.0.77'); // nor a stranger's bad digest
    t.shell.dropped('other', 'digest', '10.0.0.1'); // nor another instance's
    await t.settle();
    const st = t.shell.status()[0]!;
    expect(st.serving).toBe(false);
    expect(st.local).toEqual([]);
    expect(st.mismatches.map((m) => [m.node, m.address, m.drops])).toEqual([['n1', '10.0.0.1', 5], ['n2', '10.0.0.2', 5]]);
    expect(t.lines.filter((l) => l.includes("differs from n1's (10.0.0.1)"))).toHaveLength(1);
    expect(t.lines.some((l) => /^error: sharing web: not serving any bucket: \d node\(s\) with another node list/.test(l))).toBe(true);

    // No bad digest for a while (the others were fixed): it serves its buckets again.
    t.advance(4000);
    (t.shell as unknown as { reassess(s: SharedAddress): void }).reassess(shared);
    await t.settle();
    expect(t.shell.status()[0]).toMatchObject({ serving: true, local: [2], mismatches: [] });
    await t.shell.stop().catch(() => {});
  });

  it('keeps serving when the nodes agreeing with it are the larger group', async () => {
    const t = setup('10.0.0.1');
    t.masters.set('web/b1', '10.0.0.2'); // n2's adverts verify: it agrees
    t.shell.transitioned('web/b0', 'MASTER');
    t.shell.dropped('web/b2', 'digest', '10.0.0.3');
    await t.settle();
    const st = t.shell.status()[0]!;
    expect(st).toMatchObject({ serving: true, local: [0] });
    expect(st.mismatches.map((m) => m.node)).toEqual(['n3']);
    expect(st.servedBy).toEqual(['?', 'n2', '?', '?']);
    await t.shell.stop().catch(() => {});
  });

  it('IPv6: the ND packets not rewritten to the shared MAC are read from nft, shown in status, logged when they grow', async () => {
    const six: SharedAddress = { ...shared, name: 'six', address: 'fd00::50', family: 6, prefix: 64, mac: '33:33:00:00:00:50' };
    const lines: string[] = [];
    let packets = 0;
    const log = new Logger({ ident: 'test', facility: 'none', debug: false, console: false, onLine: (level, text) => lines.push(`${level}: ${text}`) });
    const shell = new SharingShell([six, shared], {
      log, addAddress: () => {}, removeAddress: () => {}, masterOf: () => undefined,
      nft: () => Promise.resolve({ code: 0, stderr: '' }),
      listCounters: () => Promise.resolve(JSON.stringify({ nftables: [{ metainfo: {} }, { counter: { family: 'ip6', name: 'six_nd_skipped', table: 'carpool_sharing', packets, bytes: 0 } }] })),
    });
    shell.instances(() => ['10.0.0.1']);
    await shell.readNdCounters();
    expect(shell.status().map((x) => x.ndSkipped)).toEqual([0, undefined]); // IPv4 has no ND
    expect(lines.filter((l) => l.includes('neighbour discovery'))).toEqual([]);
    packets = 2;
    await shell.readNdCounters();
    expect(shell.status()[0]!.ndSkipped).toBe(2);
    expect(lines.filter((l) => l.includes('neighbour discovery'))).toEqual([
      expect.stringContaining("warning: sharing six: 2 neighbour discovery packet(s) for fd00::50 left with this node's own MAC (not rewritten to 33:33:00:00:00:50)"),
    ]);
  });
});
