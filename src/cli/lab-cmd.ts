/**
 * `carpool lab ...`: a cluster in network namespaces on this machine, faults on demand,
 * and the guided demo. See src/lab/lab.ts.
 */
import { Command, Option } from 'commander';
import { activeFaults, clearLoss, cutLink, dropAdverts, heal, lossCounters, partition, restoreLink } from '../lab/faults.js';
import { DEFAULT_PREFIX, hostOf, labDown, labExec, labUp, labView, loadLab, waitForMaster, signalDaemon, startDaemon, type LabState } from '../lab/lab.js';
import { runDemo } from '../lab/demo.js';
import { CarpoolError } from '../lib/errors.js';
import { LAB_DESCRIPTION } from './lab-description.js';

const SIGNALS: Record<string, NodeJS.Signals> = { KILL: 'SIGKILL', TERM: 'SIGTERM', STOP: 'SIGSTOP', CONT: 'SIGCONT' };

function int(what: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new CarpoolError('LAB_ARG', `${what} must be an integer ${min}..${max}, got "${v}"`);
    return n;
  };
}

async function printStatus(st: LabState, json: boolean): Promise<void> {
  const view = await labView(st);
  const faults = await activeFaults(st.lan);
  if (json) {
    process.stdout.write(JSON.stringify({ prefix: st.prefix, vip: st.vip, hosts: view, client: st.lan.client?.address, faults }, null, 2) + '\n');
    return;
  }
  const holders = view.filter((h) => h.holdsVip).map((h) => h.name);
  process.stdout.write(`lab ${st.prefix}: VIP ${st.vip} held by ${holders.length ? holders.join(', ') : 'nobody'}` +
    `${holders.length > 1 ? '  (!) more than one holder' : ''}; client c ${st.lan.client?.address ?? '-'}\n`);
  const rows = [['HOST', 'ADDRESS', 'DAEMON', 'PID', 'STATE', 'ADVSKEW', 'VIP'],
    ...view.map((h) => [h.name, h.address, h.daemon, h.pid === undefined ? '-' : String(h.pid), h.state, String(h.advskew), h.holdsVip ? 'yes' : '-'])];
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd() + '\n');
  process.stdout.write(`faults: ${faults.length ? faults.join('; ') : 'none'}\n`);
}

export function addLabCommands(program: Command, setCode: (code: number) => void, fail: (err: unknown) => number): void {
  program.enablePositionalOptions();
  const lab = program.command('lab')
    .enablePositionalOptions()
    .description(LAB_DESCRIPTION)
    .addHelpText('after', '\nExample:\n  carpool lab up && carpool lab status && carpool lab cut h1 && carpool lab status && carpool lab down\n' +
      'The lab uses only private addresses inside its own namespaces (10.213.0.0/24 by default).');
  const prefixOpt = () => new Option('--prefix <name>', 'lab name: all its namespaces are called <name>-*').default(DEFAULT_PREFIX);
  const act = <A extends unknown[]>(fn: (...a: A) => Promise<number | void>) => async (...a: A) => {
    try {
      setCode((await fn(...a)) ?? 0);
    } catch (err) {
      setCode(fail(err));
    }
  };
  const withLab = <A extends unknown[]>(fn: (st: LabState, ...a: A) => Promise<number | void>) =>
    act(async (...a: A) => {
      const o = a[a.length - 2] as { prefix: string };
      return fn(loadLab(o.prefix), ...a);
    });

  lab.command('up')
    .description('build the LAN (switch, hosts h1..hN, client c) and start carpool on every host with one VIP (<subnet>.100)')
    .addOption(prefixOpt())
    .option('-n, --hosts <n>', 'number of hosts', int('--hosts', 1, 20), 3)
    .option('--subnet <a.b.c>', 'first three octets of the lab /24 (10.x.y only)', '10.213.0')
    .option('--advbase <s>', 'CARP advbase of every host', int('--advbase', 0, 255), 1)
    .option('--advskew <n>', 'CARP advskew of h1; host k gets advskew + (k-1) * skew-step', int('--advskew', 0, 254), 10)
    .option('--skew-step <n>', 'advskew added per host', int('--skew-step', 0, 254), 10)
    .option('--preempt', 'a better host takes the VIP back when it returns')
    .option('--no-daemons', 'build the LAN only')
    .action(act(async (o: { prefix: string; hosts: number; subnet: string; advbase: number; advskew: number; skewStep: number; preempt?: boolean; daemons: boolean }) => {
      const st = await labUp({ prefix: o.prefix, hosts: o.hosts, subnet: o.subnet, advbase: o.advbase, advskew: o.advskew, skewStep: o.skewStep, preempt: !!o.preempt, daemons: o.daemons });
      process.stdout.write(`lab ${st.prefix} is up (state and logs in ${st.dir})\n`);
      if (o.daemons) await waitForMaster(st);
      await printStatus(st, false);
    }));

  lab.command('down')
    .description('stop the daemons and remove every namespace of the lab (also after a crash); idempotent')
    .addOption(prefixOpt())
    .action(act(async (o: { prefix: string }) => {
      const r = await labDown(o.prefix);
      process.stdout.write(r.namespaces ? `lab ${o.prefix} removed (${r.namespaces} namespaces, ${r.killed} processes stopped)\n` : `no lab ${o.prefix} was up\n`);
    }));

  lab.command('status')
    .description('hosts, daemons, CARP states, who holds the VIP, active faults')
    .addOption(prefixOpt())
    .option('--json', 'machine-readable output')
    .action(withLab(async (st, o: { json?: boolean }) => { await printStatus(st, !!o.json); }));

  lab.command('exec')
    .description('run a command on a host (h1..hN, or c for the client), e.g. carpool lab exec h1 ip addr')
    .argument('<host>')
    .argument('<command...>')
    .addOption(prefixOpt())
    .passThroughOptions()
    .action(act(async (host: string, argv: string[], o: { prefix: string }) => labExec(loadLab(o.prefix), host, argv)));

  const hostsCmd = (name: string, description: string, fn: (st: LabState, hosts: string[]) => Promise<void>) =>
    lab.command(name).description(description).argument('<hosts...>').addOption(prefixOpt())
      .action(act(async (hosts: string[], o: { prefix: string }) => {
        const st = loadLab(o.prefix);
        for (const h of hosts) hostOf(st, h);
        await fn(st, hosts);
      }));
  hostsCmd('cut', 'pull the cable: the host\'s switch port goes down (it sees carrier loss)', async (st, hosts) => {
    for (const h of hosts) await cutLink(st.lan, hostOf(st, h));
  });
  hostsCmd('restore', 'plug the cable back in', async (st, hosts) => {
    for (const h of hosts) await restoreLink(st.lan, hostOf(st, h));
  });
  hostsCmd('partition', 'split the LAN: the named hosts on one side, the other hosts and the client on the other', async (st, hosts) => {
    await partition(st.lan, hosts.map((h) => hostOf(st, h)));
  });
  lab.command('heal').description('remove the partition').addOption(prefixOpt())
    .action(withLab(async (st) => { await heal(st.lan); }));
  lab.command('loss')
    .description('drop PERCENT % of CARP/VRRP adverts at the switch (0 or "off" stops it); --from limits it to adverts sent by those hosts')
    .argument('<percent>')
    .option('--from <hosts...>', 'only adverts sent by these hosts')
    .addOption(prefixOpt())
    .action(act(async (percent: string, o: { prefix: string; from?: string[] }) => {
      const st = loadLab(o.prefix);
      if (percent === 'off' || percent === '0') {
        const c = await lossCounters(st.lan);
        await clearLoss(st.lan);
        if (c) process.stdout.write(`advert loss stopped: ${c.dropped} dropped, ${c.passed} passed\n`);
        return;
      }
      await dropAdverts(st.lan, int('percent', 1, 100)(percent), o.from?.map((h) => hostOf(st, h)));
    }));
  lab.command('kill')
    .description('signal the daemon on the hosts: SIGKILL by default (a crash: its addresses stay behind)')
    .argument('<hosts...>')
    .addOption(new Option('--signal <sig>', 'KILL (crash), TERM (clean stop: releases the VIP), STOP (hang), CONT (resume)').choices(Object.keys(SIGNALS)).default('KILL'))
    .addOption(prefixOpt())
    .action(act(async (hosts: string[], o: { prefix: string; signal: string }) => {
      const st = loadLab(o.prefix);
      for (const h of hosts) await signalDaemon(st, h, SIGNALS[o.signal]!);
    }));
  hostsCmd('start', 'start carpool again on hosts whose daemon is gone', async (st, hosts) => {
    for (const h of hosts) await startDaemon(st, h);
  });

  lab.command('demo')
    .description('guided failover: 3 hosts, a client pinging the VIP every 10 ms, the master\'s cable pulled, a planned switchover; cleans up on exit')
    .option('--phase <seconds>', 'seconds to watch each phase', int('--phase', 1, 60), 4)
    .addOption(new Option('--prefix <name>', 'lab name').default('cpdemo').hideHelp())
    .action(act(async (o: { phase: number; prefix: string }) => runDemo({ phaseSeconds: o.phase, prefix: o.prefix })));
}
