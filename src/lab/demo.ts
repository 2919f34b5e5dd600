/**
 * `carpool lab demo` (`sudo npm run demo`): a guided failover on one machine. Builds a
 * 3-host lab, starts carpool on each host with one virtual IP, pings that IP from a client
 * every 10 ms, pulls the master's cable, shows the takeover and the outage the client saw,
 * plugs it back in, does a planned switchover, and removes everything on exit or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { controlRequest } from '../control/client.js';
import { cutLink, restoreLink } from './faults.js';
import { labDown, labUp, labView, type HostView, type LabState } from './lab.js';
import { setTimeout as sleep } from 'node:timers/promises';

const CARPOOL_BIN = fileURLToPath(new URL('../../bin/carpool', import.meta.url));

export interface DemoOptions {
  readonly prefix?: string;
  readonly hosts?: number;
  /** Seconds to watch each phase (default 4). */
  readonly phaseSeconds?: number;
  readonly out?: NodeJS.WriteStream;
}

interface ClientView {
  sent: number;
  answered: number;
  losing: boolean;
  gaps: { lost: number; outageMs: number }[];
}

const bold = (s: string, tty: boolean) => (tty ? `\x1b[1m${s}\x1b[0m` : s);

export async function runDemo(o: DemoOptions = {}): Promise<number> {
  const out = o.out ?? process.stdout;
  const tty = out.isTTY === true;
  const phaseMs = (o.phaseSeconds ?? 4) * 1000;
  const prefix = o.prefix ?? 'cpdemo';
  const say = (s = '') => { clearLive(); out.write(`${s}\n`); };
  let liveShown = false;
  const clearLive = () => { if (tty && liveShown) { out.write('\r\x1b[2K'); liveShown = false; } };

  let probe: ChildProcess | undefined;
  let st: LabState | undefined;
  let stopping = false;
  const teardown = async () => {
    if (stopping) return;
    stopping = true;
    clearLive();
    if (probe?.exitCode === null) probe.kill('SIGTERM');
    out.write('Tearing the lab down (daemons stopped, namespaces removed)...\n');
    await labDown(prefix);
  };
  const onSignal = () => { void teardown().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    say(bold('carpool demo: three machines share one address; one of them dies; the address moves.', tty));
    say();
    say('[1/6] Building a small LAN inside this machine (network namespaces, nothing leaves it):');
    // Fast but realistic timing: h1 advertises every 78 ms (advbase 0, advskew 20); a backup
    // declares the master dead after its own skew: h2 after 195 ms, h3 after 312 ms.
    st = await labUp({ prefix, hosts: o.hosts ?? 3, subnet: '10.213.0', advbase: 0, advskew: 20, skewStep: 30 });
    const lab = st;
    for (const h of lab.lan.hosts) say(`      ${h.name}  ${h.address}   runs carpool (advskew ${Math.min(254, 20 + (Number(h.name.slice(1)) - 1) * 30)})`);
    say(`      c   ${lab.lan.client!.address}  the client`);
    say(`      the virtual IP (VIP) everyone uses: ${bold(lab.vip, tty)}`);
    say();
    say('[2/6] carpool runs on every host. The master holds the VIP and tells the others "I am alive"');
    say('      many times a second (CARP adverts). The lowest advskew wins, so h1 becomes master.');

    const client: ClientView = { sent: 0, answered: 0, losing: false, gaps: [] };
    probe = spawn('ip', ['netns', 'exec', lab.lan.client!.ns, process.execPath, CARPOOL_BIN, 'probe', lab.vip, '-i', 'eth0', '--interval', '10', '--events'], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: probe.stdout! }).on('line', (line) => {
      try {
        const e = JSON.parse(line) as { event: string; sent?: number; answered?: number; lost?: number; outageMs?: number };
        if (e.event === 'stats') {
          // Losing = probes went out since the last report but no new answer came back.
          client.losing = e.sent! > client.sent && e.answered === client.answered;
          client.sent = e.sent!;
          client.answered = e.answered!;
        }
        if (e.event === 'recovered') { client.losing = false; client.gaps.push({ lost: e.lost!, outageMs: e.outageMs! }); }
      } catch { /* not ours */ }
    });

    let view: HostView[] = await labView(lab);
    const line = (v: HostView[]) => v.map((h) => `${h.name} ${h.daemon === 'running' ? h.state : h.daemon === 'paused' ? 'PAUSED' : 'DOWN'}${h.holdsVip ? ' [VIP]' : ''}`).join('   ') +
      `  |  client: ${client.losing ? 'LOST ' : 'ok   '} ${client.answered}/${client.sent} answered`;
    let lastLine = '';
    const watch = async (ms: number, until?: (v: HostView[]) => boolean) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        view = await labView(lab);
        const l = line(view);
        if (tty) { out.write(`\r\x1b[2K      ${l}`); liveShown = true; } else if (l.replace(/\d+\/\d+ answered/, '') !== lastLine) out.write(`      ${l}\n`);
        lastLine = l.replace(/\d+\/\d+ answered/, '');
        if (until?.(view)) return true;
        await sleep(100);
      }
      return false;
    };
    const master = () => view.find((h) => h.state === 'MASTER');
    await watch(20_000, (v) => v.some((h) => h.state === 'MASTER' && h.holdsVip) && client.answered > 0);
    await watch(phaseMs / 2);
    say();
    say('[3/6] A client pings the VIP every 10 ms. Every answer comes from whoever holds it.');
    await watch(phaseMs);
    say();

    const victim = master();
    if (!victim) throw new Error('no master came up; see the logs under ' + lab.dir);
    const gapsBefore = client.gaps.length;
    say(`[4/6] ${bold(`Pulling ${victim.name}'s network cable`, tty)} (the master). The backups stop hearing adverts...`);
    await cutLink(lab.lan, lab.lan.hosts.find((h) => h.name === victim.name)!);
    // The client's answers can come back before the next status poll shows the new master: wait for both.
    const tookOver = (v: HostView[]) => v.some((h) => h.name !== victim.name && h.state === 'MASTER');
    await watch(phaseMs * 2, (v) => client.gaps.length > gapsBefore && tookOver(v));
    const gap = client.gaps[gapsBefore];
    const next = view.find((h) => h.name !== victim.name && h.state === 'MASTER');
    say();
    if (gap) {
      say(`      ${bold(`${next?.name ?? 'a backup'} took over.`, tty)} The client lost ${gap.lost} pings: ${bold(`outage ${Math.round(gap.outageMs)} ms`, tty)}.`);
      say(`      (${next?.name ?? 'the backup'} declares the master dead ${next ? Math.round((next.advskew / 256) * 1000) : '?'} ms after the last advert it heard,`);
      say('       adds the VIP to its interface and sends gratuitous ARP so the client updates its ARP cache.)');
    } else {
      say('      The client never noticed (no ping lost).');
    }
    await watch(phaseMs);
    say();
    const gapsBefore1 = client.gaps.length;
    say(`[5/6] Plugging ${victim.name} back in. It is the preferred host (lowest advskew): the current master`);
    say(`      advertises slower than ${victim.name}'s own dead time, so ${victim.name} takes the VIP back, and the`);
    say('      current master yields as soon as it hears a preferred one.');
    await restoreLink(lab.lan, lab.lan.hosts.find((h) => h.name === victim.name)!);
    await watch(phaseMs);
    const back = client.gaps.slice(gapsBefore1);
    say();
    say(`      ${master()?.name ?? 'nobody'} is master; the client lost ${back.reduce((a, g) => a + g.lost, 0)} pings during the move back.`);
    say();
    const cur = master();
    if (cur) {
      const lostBefore = client.sent - client.answered;
      const gapsBefore2 = client.gaps.length;
      say(`[6/6] Planned switchover: \`carpool demote\` on ${cur.name} (before maintenance). It hands over`);
      say('      make-before-break: it keeps answering until the next master has the address, and stays');
      say('      backup until `carpool demote --clear`.');
      const rec = lab.daemons[cur.name]!;
      await controlRequest(rec.socket, { cmd: 'demote', args: {} });
      await sleep(200);
      await watch(phaseMs);
      const newMaster = master();
      const lost = client.gaps.slice(gapsBefore2).reduce((a, g) => a + g.lost, 0);
      say();
      say(`      ${newMaster?.name ?? 'a backup'} is master now; the client lost ${bold(String(lost), tty)} pings during the switchover` +
        ` (${client.sent - client.answered - lostBefore} over the whole phase).`);
    }
    say();
    say('Try it yourself: `carpool lab up`, `carpool lab status`, `carpool lab cut h1`,');
    say('`carpool lab loss 30`, `carpool lab partition h1`, `carpool lab down` (as root).');
    await teardown();
    return 0;
  } catch (err) {
    await teardown();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
