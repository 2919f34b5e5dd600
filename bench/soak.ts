/**
 * The soak (`npm run soak -- --help`): two carpool daemons in a namespace LAN, each with two
 * CARP instances (`web` with a resource group, `aux`), run for --duration while every fault of
 * issue 11 is injected in turn, each followed by a recovery period. A sampler in each host
 * namespace lists the addresses every 10 ms; the run reports periods with two holders or none,
 * daemon memory over time and log sizes, prints PASS/FAIL per criterion and writes
 * bench/results/soak-<timestamp>.{json,md}. Needs root. A by-hand run, not part of `npm test`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { controlRequest } from '../src/control/client.js';
import type { DaemonStatus } from '../src/control/status.js';
import { inNs, run } from '../src/lib/exec.js';
import type { LabHost } from '../src/lab/netns.js';
import { SyslogListener, Spoofer, connectUnix, connectionFate, totalDrops } from '../test/integration/faults/helpers.js';
import { setupLab, teardownLab, type Ctx } from './lab.js';
import { Proc, ROOT, killAll, now, rssKb, sleep } from './proc.js';
import { holding, holdsVip, maxOf, mib, type Criterion, type Holding, type Phase, type Sample } from './soak-check.js';
import { benchArgs } from './args.js';

const FAULTS = ['stdout', 'hook', 'control', 'spoof', 'kill', 'flap', 'clock'] as const;
type FaultName = typeof FAULTS[number];
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

const HELP = `usage: npm run soak -- [options]

Two carpool daemons (CARP instances web + aux, a resource group on web) in network namespaces
(root), every fault of issue 11 injected in turn, addresses sampled every 10 ms.

  --duration D        total time of the fault phases: 600 (s), 10m, 2m, 90s (default 10m)
  --faults a[,b]      faults, in this order (default all): ${FAULTS.join(', ')}
  --spoof N           spoofed bad adverts in the spoof fault (default 100000)
  --slack MS          allowed excess of a no-holder period over the master-down interval (default 1000)
  --no-write          do not write bench/results/*
  -h, --help          this text

Faults: stdout = the master's stdout/stderr pipe closed; hook = the master's web down hook hangs
while web is handed over, and aux's hooks on that node must still run; control = a client
pipelining requests without reading plus 100 connections; spoof = N adverts with a wrong
digest from random sources; kill = SIGKILL of the master, restart with web's prefix /24 -> /32;
flap = the resource's monitor fails for a while; clock = wall-clock jumps +1h/-1h of the
daemons (libfaketime: apt-get install -y faketime; skipped when missing).
Set BENCH_VERBOSE=1 to see every daemon's output.`;

interface Args {
  readonly durationMs: number;
  readonly faults: FaultName[];
  readonly spoof: number;
  readonly slackMs: number;
  readonly write: boolean;
}

function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new Error(`--duration: expected e.g. 600, 90s, 10m; got "${v}"`);
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000);
  if (n < 10_000) throw new Error(`--duration must be at least 10s, got "${v}"`);
  return n;
}

function parse(argv: readonly string[]): Args | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' }, faults: { type: 'string' }, spoof: { type: 'string' }, slack: { type: 'string' },
      'no-write': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const faults = values.faults ? values.faults.split(',').map((x) => x.trim()).filter(Boolean) : [...FAULTS];
  for (const f of faults) if (!FAULTS.includes(f as FaultName)) throw new Error(`unknown fault "${f}" (expected one of: ${FAULTS.join(', ')})`);
  const int = (v: string | undefined, name: string, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number >= 0, got "${v}"`);
    return n;
  };
  return {
    durationMs: parseDuration(values.duration ?? '10m'),
    faults: faults as FaultName[],
    spoof: int(values.spoof, 'spoof', 100_000),
    slackMs: int(values.slack, 'slack', 1000),
    write: !values['no-write'],
  };
}

// ---- the lab -------------------------------------------------------------------------------

const ADVBASE = 1;
/** advskew of the instance's backup side: web is h1's, aux is h2's at first. */
const SKEW = 20;
/** The longest master-down interval of any backup: 3 x (advbase + advskew/256). */
const MASTER_DOWN_MS = Math.round(3 * (ADVBASE + SKEW / 256) * 1000);
const INSTANCES = [{ name: 'web', vhid: 41, vipHost: 100 }, { name: 'aux', vhid: 42, vipHost: 101 }] as const;

const AGENT = `#!/bin/sh
# Soak test agent: the "service" is a file; monitor fails while the flap file exists.
case "$1" in
meta-data)
  cat <<'EOF'
<?xml version="1.0"?>
<resource-agent name="soak" version="1.0">
<version>1.1</version>
<shortdesc lang="en">a file as a service</shortdesc>
<parameters>
<parameter name="state" required="1"><shortdesc lang="en">the running mark</shortdesc><content type="string"/></parameter>
<parameter name="flap" required="1"><shortdesc lang="en">while it exists, monitor fails</shortdesc><content type="string"/></parameter>
<parameter name="starts" required="1"><shortdesc lang="en">a line per start</shortdesc><content type="string"/></parameter>
</parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/><action name="monitor" timeout="20s" interval="1s"/><action name="meta-data" timeout="5s"/></actions>
</resource-agent>
EOF
  exit 0;;
start) echo start >> "$OCF_RESKEY_starts"; touch "$OCF_RESKEY_state"; exit 0;;
stop) rm -f "$OCF_RESKEY_state"; exit 0;;
monitor) [ -e "$OCF_RESKEY_flap" ] && exit 7; [ -e "$OCF_RESKEY_state" ] && exit 0; exit 7;;
validate-all) exit 0;;
*) exit 3;;
esac
`;

/** Seconds since boot (/proc/uptime): the hooks' clock, immune to the faked wall clock. */
const uptime = (): number => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

class Node {
  proc: Proc | undefined;
  webPrefix = 24;
  readonly syslog: SyslogListener;
  /** Console bytes of earlier incarnations. */
  private consoleBytesBefore = 0;
  readonly rss: [number, number, number][] = [];

  constructor(readonly ctx: Ctx, readonly host: LabHost, readonly index: number, readonly faketime: boolean) {
    mkdirSync(this.path('state'), { recursive: true, mode: 0o700 });
    this.syslog = new SyslogListener(this.path('syslog.sock'));
    writeFileSync(this.path('faketime'), '+0\n');
  }

  get name(): string { return this.host.name; }
  path(name: string): string { return join(this.ctx.dir, this.host.name, name); }
  get sock(): string { return this.path('carpool.sock'); }
  get service(): string { return this.path('app.running'); }
  vip(inst: string): string { return `${SUBNET_OF(this.ctx)}.${INSTANCES.find((i) => i.name === inst)!.vipHost}`; }

  private hook(inst: string, event: 'up' | 'down'): string {
    const hang = this.path(`hang-${inst}`);
    return this.ctx.write(`${this.name}-${inst}-${event}.sh`, `#!/bin/sh
echo "$(cut -d' ' -f1 /proc/uptime) ${this.name} ${inst} ${event} start" >> ${this.ctx.path('hooks.log')}
while [ -e ${hang} ]; do sleep 0.2; done
echo "$(cut -d' ' -f1 /proc/uptime) ${this.name} ${inst} ${event} end" >> ${this.ctx.path('hooks.log')}
`, 0o755);
  }

  config(): string {
    const inst = INSTANCES.map((i) => {
      const mine = (i.name === 'web') === (this.index === 1); // h1 is web's first master, h2 aux's
      const prefix = i.name === 'web' ? this.webPrefix : 24;
      return `  - name: ${i.name}
    interface: ${this.host.ifname}
    vhid: ${i.vhid}
    password: s0ak
    advbase: ${ADVBASE}
    advskew: ${mine ? 0 : SKEW}
    preempt: false
    addresses: [${this.vip(i.name)}/${prefix}]
    hooks: { up: ${this.hook(i.name, 'up')}, down: ${this.hook(i.name, 'down')} }`;
    }).join('\n');
    return this.ctx.write(`${this.name}.yaml`, `control_socket: ${this.sock}
state_dir: ${this.path('state')}
logging: { facility: daemon }
instances:
${inst}
resources:
  - id: app
    agent: ocf:carpoolsoak:soak
    params: { state: ${this.service}, flap: ${this.path('flap')}, starts: ${this.path('starts')} }
    op: { monitor: { interval: 1s, timeout: 5s } }
groups:
  - { id: grp, instance: web, resources: [app] }
`, 0o600);
  }

  start(): Proc {
    if (this.proc) this.consoleBytesBefore += this.consoleBytesOf(this.proc);
    const env: NodeJS.ProcessEnv = {
      CARPOOL_SYSLOG_SOCKET: this.syslog.path,
      CARPOOL_OCF_RA_PATH: `${this.ctx.path('resource.d')}:/usr/lib/ocf/resource.d`,
    };
    if (this.faketime) {
      // Only the wall clock is faked (monotonic untouched), re-read every second.
      Object.assign(env, { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: this.path('faketime'), FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_CACHE_DURATION: '1' });
    }
    this.proc = new Proc(this.name, inNs(this.host.ns, [process.execPath, join(ROOT, 'bin/carpool'), 'run', '-c', this.config()]), env);
    return this.proc;
  }

  private consoleBytesOf(p: Proc): number {
    return p.lines.reduce((n, l) => n + l.text.length + 1, 0);
  }

  get consoleBytes(): number {
    return this.consoleBytesBefore + (this.proc ? this.consoleBytesOf(this.proc) : 0);
  }

  get syslogBytes(): number {
    return this.syslog.lines.reduce((n, l) => n + l.length + 1, 0);
  }

  get running(): boolean { return !!this.proc?.running; }

  async status(): Promise<DaemonStatus | undefined> {
    try {
      return await controlRequest(this.sock, { cmd: 'status' }, 3000) as DaemonStatus;
    } catch {
      return undefined;
    }
  }

  async state(inst: string): Promise<string> {
    return (await this.status())?.instances.find((i) => i.name === inst)?.state ?? 'DOWN';
  }

  sampleRss(): void {
    if (!this.proc?.running) return;
    const kb = rssKb(this.proc.pid);
    if (kb !== undefined) this.rss.push([Math.round(now()), kb, this.proc.pid]);
  }
}

const SUBNET_OF = (ctx: Ctx): string => ctx.vip.split('.').slice(0, 3).join('.');

/** The 10 ms sampler in one host namespace (bench/soak-sampler.ts). */
class Sampler {
  readonly proc: Proc;
  constructor(readonly node: Node) {
    this.proc = new Proc(`sampler-${node.name}`, inNs(node.host.ns, [process.execPath, '--import', 'tsx', 'bench/soak-sampler.ts', '10', node.service, ...INSTANCES.map((i) => node.vip(i.name))]));
  }
  async ready(): Promise<void> { await this.proc.waitFor(/"hb"/, 20_000); }
  private parsed(): { t: number; held?: string[]; svc?: boolean; hb?: number; maxGap?: number }[] {
    return this.proc.lines.filter((l) => l.text.startsWith('{')).map((l) => JSON.parse(l.text) as { t: number });
  }
  samples(): Sample[] {
    return this.parsed().filter((o) => o.held).map((o) => ({ t: o.t, host: this.node.name, held: o.held!, svc: o.svc! }));
  }
  /** The latest record: what the host holds now. */
  current(): Sample | undefined { return this.samples().at(-1); }
  heartbeats(): { t: number; n: number; maxGap: number }[] {
    return this.parsed().filter((o) => o.hb !== undefined).map((o) => ({ t: o.t, n: o.hb!, maxGap: o.maxGap! }));
  }
}

// ---- the run -------------------------------------------------------------------------------

interface Check { readonly name: string; readonly ok: boolean; detail: string }
interface PhaseRecord extends Phase { checks: Check[]; notes: string[] }

class Soak {
  readonly nodes: Node[];
  readonly samplers: Sampler[] = [];
  readonly phases: PhaseRecord[] = [];
  private extra: { stop(): void }[] = [];
  private rssTimer: NodeJS.Timeout | undefined;

  constructor(readonly ctx: Ctx, readonly args: Args, readonly faketime: boolean, readonly log: (m: string) => void) {
    this.nodes = ctx.lan.hosts.map((h, i) => new Node(ctx, h, i + 1, faketime));
  }

  node(name: string): Node { return this.nodes.find((n) => n.name === name)!; }
  peer(n: Node): Node { return this.nodes.find((x) => x !== n)!; }

  async masterOf(inst: string, timeoutMs = 15_000): Promise<Node> {
    const end = now() + timeoutMs;
    for (;;) {
      const masters: Node[] = [];
      for (const n of this.nodes) if ((await n.state(inst)) === 'MASTER') masters.push(n);
      if (masters.length === 1) return masters[0]!;
      if (now() > end) throw new Error(`${inst}: ${masters.length} masters after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async setup(): Promise<void> {
    mkdirSync(this.ctx.path('resource.d/carpoolsoak'), { recursive: true });
    this.ctx.write('resource.d/carpoolsoak/soak', AGENT, 0o755);
    await Promise.all(this.nodes.map((n) => n.syslog.ready));
    for (const n of this.nodes) this.samplers.push(new Sampler(n));
    await Promise.all(this.samplers.map((s) => s.ready()));
    for (const n of this.nodes) n.start();
    this.rssTimer = setInterval(() => { for (const n of this.nodes) n.sampleRss(); }, 1000);
    await this.masterOf('web', 30_000);
    await this.masterOf('aux', 30_000);
    await this.healthy(30_000);
  }

  /** Exactly one holder of each address, the service on exactly one node, both daemons up. */
  async healthy(timeoutMs: number): Promise<string | undefined> {
    const end = now() + timeoutMs;
    for (;;) {
      const cur = this.samplers.map((s) => s.current());
      const problems: string[] = [];
      for (const i of INSTANCES) {
        const vip = this.nodes[0]!.vip(i.name);
        const n = cur.filter((c) => c && holdsVip(vip)(c)).length;
        if (n !== 1) problems.push(`${i.name}: ${n} holders`);
      }
      const svc = cur.filter((c) => c?.svc).length;
      if (svc !== 1) problems.push(`service on ${svc} nodes`);
      for (const n of this.nodes) if (!n.running) problems.push(`${n.name} daemon not running`);
      if (problems.length === 0) return undefined;
      if (now() > end) return problems.join(', ');
      await sleep(100);
    }
  }

  async phase(name: string, slotMs: number, body: (p: PhaseRecord, deadline: number) => Promise<void>): Promise<void> {
    const from = now();
    const p: PhaseRecord = { name, from, to: from + slotMs, checks: [], notes: [] };
    this.phases.push(p);
    this.log(`# ${name} (slot ${(slotMs / 1000).toFixed(0)} s)`);
    try {
      await body(p, from + slotMs * 0.65);
    } catch (e) {
      p.checks.push({ name: 'fault ran', ok: false, detail: e instanceof Error ? e.message : String(e) });
    }
    // Recovery: the lab must be healthy again by the end of the slot, then it stays until then.
    const ended = now();
    const why = await this.healthy(Math.max(from + slotMs - ended, 5000));
    p.checks.push({
      name: 'recovered by the end of the slot', ok: why === undefined,
      detail: why ?? `healthy ${((now() - ended) / 1000).toFixed(1)} s after the fault ended (it lasted ${((ended - from) / 1000).toFixed(1)} s)`,
    });
    const rest = from + slotMs - now();
    if (rest > 0) await sleep(rest);
    (p as { to: number }).to = now();
    for (const c of p.checks) this.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
    for (const n of p.notes) this.log(`  note ${n}`);
  }

  // ---- the faults --------------------------------------------------------------------------

  /** 1. The master's stdout/stderr reader goes away (`carpool run … 2>&1 | head`). */
  async stdout(p: PhaseRecord): Promise<void> {
    const m = await this.masterOf('web');
    const proc = m.proc!;
    proc.child.stdout!.destroy();
    proc.child.stderr!.destroy();
    await sleep(100);
    const before = m.syslog.lines.length;
    proc.signal('SIGUSR1'); // a status line: the write meets EPIPE
    const seen = await waitUntil(() => m.syslog.lines.slice(before).some((l) => /Console output failed \(EPIPE\)/.test(l)), 5000);
    await sleep(MASTER_DOWN_MS + 1000);
    p.checks.push({ name: 'EPIPE noticed and logged to syslog', ok: seen, detail: seen ? 'yes' : 'no "Console output failed (EPIPE)" line' });
    p.checks.push({ name: `${m.name} still running after a master-down interval`, ok: m.running, detail: m.running ? 'running' : `exited ${JSON.stringify(await Promise.race([proc.exited, sleep(10)]))}` });
    const st = await m.state('web');
    p.checks.push({ name: `${m.name} still web MASTER`, ok: st === 'MASTER', detail: st });
  }

  /** 2. The master's web down hook hangs while web is handed over; aux's hooks on that node must still run. */
  async hook(p: PhaseRecord, deadline: number): Promise<void> {
    const m = await this.masterOf('web');
    const peer = this.peer(m);
    writeFileSync(m.path('hang-web'), '');
    const t0 = now();
    await controlRequest(m.sock, { cmd: 'demote', args: { instance: 'web' } }, 3000);
    const took = await this.masterOf('web', MASTER_DOWN_MS + this.args.slackMs);
    p.checks.push({ name: `${peer.name} took web over`, ok: took === peer, detail: `${took.name} MASTER ${((now() - t0) / 1000).toFixed(1)} s after the demote` });
    await sleep(500);
    const hung = hookLines().filter((h) => h.node === m.name && h.inst === 'web' && h.event === 'down');
    p.notes.push(`${m.name} web down hook: ${hung.at(-1)?.phase === 'start' ? 'hanging' : 'not hanging?'}`);
    // Now an aux transition on the hung node: its hook must run at once.
    const auxMaster = await this.masterOf('aux');
    const u0 = uptime();
    await controlRequest(auxMaster.sock, { cmd: 'demote', args: { instance: 'aux' } }, 3000);
    const auxHook = (): HookLine | undefined => hookLines().find((h) => h.node === m.name && h.inst === 'aux' && h.phase === 'start' && h.at >= u0);
    await waitUntil(() => auxHook() !== undefined, 2500, 50);
    const early = auxHook();
    const auxCheck: Check = { name: `${m.name} aux hook runs while its web hook hangs`, ok: early !== undefined && early.at - u0 <= 2, detail: early ? `after ${(early.at - u0).toFixed(2)} s (limit 2 s)` : '' };
    const st = await peer.state('web');
    p.checks.push({ name: `${peer.name} unaffected (web MASTER)`, ok: st === 'MASTER', detail: st });
    const hangUntil = Math.min(deadline, now() + 30_000);
    await sleep(Math.max(0, hangUntil - now()));
    rmIfExists(m.path('hang-web'));
    const done = await waitUntil(() => hookLines().some((h) => h.node === m.name && h.inst === 'web' && h.event === 'down' && h.phase === 'end'), 5000);
    p.checks.push({ name: 'the hung hook finishes when released', ok: done, detail: done ? `hung ${((now() - t0) / 1000).toFixed(0)} s` : 'no end line' });
    if (!early) {
      await waitUntil(() => auxHook() !== undefined, 5000, 50);
      const late = auxHook();
      auxCheck.detail = late ? `after ${(late.at - u0).toFixed(1)} s, once the hung hook was released (limit 2 s)` : 'never ran';
    }
    p.checks.push(auxCheck);
    for (const n of [m, auxMaster]) for (const inst of ['web', 'aux']) {
      await controlRequest(n.sock, { cmd: 'demote', args: { instance: inst, clear: true } }, 3000).catch(() => undefined);
    }
  }

  /** 3. A client pipelining requests without reading at the web master, then 100 connections. */
  async control(p: PhaseRecord, deadline: number): Promise<void> {
    const m = await this.masterOf('web');
    const pid = m.proc!.pid;
    const rss0 = rssKb(pid) ?? 0;
    const greedy = await connectUnix(m.sock);
    const socks: Socket[] = [greedy];
    greedy.on('error', () => undefined);
    greedy.pause(); // never reads a reply
    try {
      const req = '{"cmd":"status"}\n'.repeat(50);
      const t0 = now();
      const end = Math.min(deadline - 3000, t0 + 10_000);
      let written = 0;
      let peak = rss0;
      let asked = 0;
      let answered = 0;
      let slowest = 0;
      let nextAsk = now();
      while (now() < end) {
        if (greedy.writableLength < 64 * 1024) { greedy.write(req); written += 50; }
        peak = Math.max(peak, rssKb(pid) ?? 0);
        await sleep(2);
        if (now() >= nextAsk) {
          nextAsk = now() + 500;
          const t = now();
          asked++;
          if ((await m.status())?.pid === pid) { answered++; slowest = Math.max(slowest, now() - t); }
        }
      }
      p.notes.push(`${written} requests pipelined in ${((now() - t0) / 1000).toFixed(1)} s`);
      p.checks.push({ name: 'others answered during the pipelining', ok: asked > 0 && answered === asked, detail: `${answered} of ${asked} status requests, slowest ${slowest.toFixed(0)} ms` });
      p.checks.push({ name: 'daemon RSS growth during the pipelining', ok: peak - rss0 < 40 * 1024, detail: `+${mib(peak - rss0)} (limit 40 MiB)` });
      // Many connections: at most 32 kept, the others refused with a clear error.
      const conns = (await Promise.all(Array.from({ length: 100 }, () => connectUnix(m.sock).catch(() => undefined)))).filter((s) => s !== undefined);
      socks.push(...conns);
      const fates = await Promise.all(conns.map((s) => connectionFate(s, 1500)));
      const kept = fates.filter((f) => f === 'open').length;
      const busy = fates.filter((f) => f.includes('CONTROL_BUSY')).length;
      p.checks.push({ name: '100 more connections: at most 32 kept, the rest refused', ok: kept <= 32 && kept + busy === 100, detail: `${conns.length} connected, ${kept} kept, ${busy} CONTROL_BUSY, ${100 - kept - busy} other` });
    } finally {
      for (const s of socks) s.destroy();
    }
    await sleep(300);
    const st = await m.state('web');
    p.checks.push({ name: `${m.name} answers and is still web MASTER`, ok: st === 'MASTER' && m.proc!.pid === pid, detail: st });
  }

  /** 4. N adverts with a wrong digest from random sources, sent from the client namespace. */
  async spoof(p: PhaseRecord): Promise<void> {
    const m = await this.masterOf('web');
    const drops0 = await Promise.all(this.nodes.map(async (n) => totalDrops((await n.status())!)));
    const lines0 = this.nodes.map((n) => n.syslog.lines.length);
    const s = new Spoofer(this.ctx.lan.client!.ns, this.ctx.lan.client!.ifname, INSTANCES[0].vhid);
    this.extra.push(s);
    const t0 = now();
    try {
      await s.ready();
      // 500 every 50 ms at most (~10 000/s): a flood, yet within what a receive queue holds.
      for (let sent = 0; sent < this.args.spoof;) {
        const n = Math.min(500, this.args.spoof - sent);
        const t = now();
        sent = await s.send(n);
        const rest = 50 - (now() - t);
        if (rest > 0) await sleep(rest);
      }
    } finally {
      s.stop();
    }
    const secs = (now() - t0) / 1000;
    await sleep(1000);
    const drops = await Promise.all(this.nodes.map(async (n, i) => totalDrops((await n.status())!) - drops0[i]!));
    p.notes.push(`${this.args.spoof} adverts in ${secs.toFixed(1)} s; dropped and counted: ${this.nodes.map((n, i) => `${n.name} ${drops[i]}`).join(', ')}`);
    for (const [i, n] of this.nodes.entries()) {
      p.checks.push({ name: `${n.name} counted the bad adverts`, ok: drops[i]! >= this.args.spoof * 0.9, detail: `${drops[i]} of ${this.args.spoof} (at least 90 %; the rest may overflow the receive queue)` });
      const lines = n.syslog.lines.length - lines0[i]!;
      p.checks.push({ name: `${n.name} log lines during the flood`, ok: lines < 40, detail: `${lines} (limit 40)` });
    }
    const st = await m.state('web');
    p.checks.push({ name: `${m.name} still web MASTER`, ok: st === 'MASTER', detail: st });
  }

  /** 5. SIGKILL of the web master, restart with web's prefix /24 -> /32. */
  async kill(p: PhaseRecord): Promise<void> {
    const m = await this.masterOf('web');
    const proc = m.proc!;
    const from = proc.lines.length;
    const syslogFrom = m.syslog.lines.length;
    proc.signalGroup('SIGKILL');
    await proc.exited;
    await sleep(300);
    const prefix = m.webPrefix;
    m.webPrefix = m.webPrefix === 24 ? 32 : 24;
    m.start();
    p.notes.push(`${m.name} killed, restarted with web ${m.vip('web')}/${m.webPrefix} (was /${prefix})`);
    const re = new RegExp(`Removed stale virtual address ${m.vip('web').replace(/\./g, '\\.')}/${prefix}`);
    const removed = await waitUntil(() => m.syslog.lines.slice(syslogFrom).some((l) => re.test(l)) || m.proc!.lines.slice(from).some((l) => re.test(l.text)), 15_000);
    p.checks.push({ name: 'the restart removed the stale address', ok: removed, detail: removed ? `/${prefix} removed` : `no "Removed stale virtual address …/${prefix}" line within 15 s` });
    const left = await waitUntil(() => !this.samplers.find((s) => s.node === m)!.current()?.held.includes(`${m.vip('web')}/${prefix}`), 15_000);
    p.checks.push({ name: `${m.name} no longer holds the /${prefix}`, ok: left, detail: left ? 'gone' : 'still there' });
  }

  /** 6. The resource's monitor fails for a while (default migration_threshold: restarted in place, with backoff). */
  async flap(p: PhaseRecord, deadline: number): Promise<void> {
    const m = await this.masterOf('web');
    const starts = (): number => (existsSync(m.path('starts')) ? readFileSync(m.path('starts'), 'utf8').split('\n').filter(Boolean).length : 0);
    const s0 = starts();
    const l0 = m.syslog.lines.length;
    const t0 = now();
    writeFileSync(m.path('flap'), '');
    await sleep(Math.max(3000, Math.min(deadline - now(), 60_000)));
    rmIfExists(m.path('flap'));
    const secs = (now() - t0) / 1000;
    const n = starts() - s0;
    const lines = m.syslog.lines.length - l0;
    p.notes.push(`monitor failing for ${secs.toFixed(0)} s: ${n} restarts, ${lines} log lines`);
    // Backoff 0, 1, 2, 4 ... s: about log2(seconds) + 2 restarts; it used to be ~50 a second.
    const limit = Math.ceil(Math.log2(secs + 1)) + 3;
    p.checks.push({ name: 'restarts while flapping', ok: n >= 1 && n <= limit, detail: `${n} (limit ${limit})` });
    p.checks.push({ name: 'log lines while flapping', ok: lines / secs < 5, detail: `${(lines / secs).toFixed(1)}/s (limit 5/s)` });
    const r = await run([process.execPath, join(ROOT, 'bin/carpool'), 'resource', 'cleanup', 'app', '-s', m.sock], { allowFail: true });
    p.checks.push({ name: 'carpool resource cleanup app', ok: r.code === 0, detail: r.code === 0 ? 'ok' : (r.stderr.trim() || `exit ${r.code}`) });
  }

  /** 7. Wall-clock jumps of the daemons: +1h on one, -1h on the other, then back. */
  async clock(p: PhaseRecord, deadline: number): Promise<void> {
    if (!this.faketime) {
      p.checks.push({ name: 'faketime', ok: false, detail: `${LIBFAKETIME} missing: apt-get install -y faketime` });
      return;
    }
    const web = await this.masterOf('web');
    const aux = await this.masterOf('aux');
    const step = Math.max(2000, (deadline - now()) / 3);
    const [a, b] = this.nodes as [Node, Node];
    /** Set `n`'s clock offset and check its log's (wall-clock) syslog timestamps follow. */
    const jump = async (n: Node, hours: number): Promise<void> => {
      writeFileSync(n.path('faketime'), `${hours >= 0 ? '+' : ''}${hours}h\n`);
      // libfaketime re-reads the file at most every second (per thread): give it a few.
      let seen: number | undefined;
      let ok = false;
      for (let i = 0; i < 5 && !ok; i++) {
        await sleep(1000);
        seen = await loggedOffset(n);
        ok = seen !== undefined && Math.abs(seen - hours * 3600) <= 30;
      }
      p.checks.push({ name: `${n.name} clock at ${hours >= 0 ? '+' : ''}${hours}h`, ok, detail: seen === undefined ? 'no log line' : `log timestamps ${seen >= 0 ? '+' : ''}${seen} s` });
    };
    await jump(a, 1);
    await sleep(step);
    await jump(b, -1);
    await sleep(step);
    await jump(a, -2);
    await jump(b, 0);
    await sleep(step);
    await jump(a, 0);
    const [w, x] = [await this.masterOf('web'), await this.masterOf('aux')];
    p.checks.push({ name: 'no role change from the jumps', ok: w === web && x === aux, detail: `web ${web.name} -> ${w.name}, aux ${aux.name} -> ${x.name}` });
  }

  async stopAll(): Promise<Check[]> {
    if (this.rssTimer) clearInterval(this.rssTimer);
    const checks: Check[] = [];
    for (const n of this.nodes) {
      if (!n.proc?.running) { checks.push({ name: `${n.name} stops on SIGTERM`, ok: false, detail: 'was not running' }); continue; }
      const t0 = now();
      n.proc.signal('SIGTERM');
      const r = await Promise.race([n.proc.exited, sleep(20_000).then(() => undefined)]);
      checks.push({ name: `${n.name} stops on SIGTERM`, ok: r?.code === 0, detail: r ? `exit ${r.code ?? r.signal} in ${((now() - t0) / 1000).toFixed(1)} s` : 'still running after 20 s' });
      await n.proc.stop('SIGKILL', 500);
    }
    return checks;
  }

  async cleanup(): Promise<void> {
    if (this.rssTimer) clearInterval(this.rssTimer);
    for (const e of this.extra) e.stop();
    await killAll();
    for (const n of this.nodes) n.syslog.stop();
  }

  hookLinesPath(): string { return this.ctx.path('hooks.log'); }
}

let current: Soak | undefined;

interface HookLine { at: number; node: string; inst: string; event: string; phase: string }
function hookLines(): HookLine[] {
  const p = current?.hookLinesPath();
  if (!p || !existsSync(p)) return [];
  return readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [at, node, inst, event, phase] = l.split(' ');
    return { at: Number(at), node: node!, inst: inst!, event: event!, phase: phase! };
  });
}

/**
 * How far `n`'s wall clock is off, from the timestamp of a fresh syslog line (SIGUSR1 logs the
 * status): seconds, modulo a day, or undefined when no line came.
 */
async function loggedOffset(n: Node): Promise<number | undefined> {
  const from = n.syslog.lines.length;
  n.proc?.signal('SIGUSR1');
  if (!await waitUntil(() => n.syslog.lines.length > from, 3000)) return undefined;
  const real = new Date();
  const m = /^<\d+>\w{3} [ \d]\d (\d\d):(\d\d):(\d\d) /.exec(n.syslog.lines[from]!);
  if (!m) return undefined;
  const day = 86_400;
  const diff = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) - (real.getHours() * 3600 + real.getMinutes() * 60 + real.getSeconds()) + day) % day;
  return diff > day / 2 ? diff - day : diff;
}

function rmIfExists(p: string): void {
  rmSync(p, { force: true });
}

async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const end = now() + timeoutMs;
  while (now() < end) {
    if (await fn()) return true;
    await sleep(everyMs);
  }
  return fn();
}

// ---- the report ----------------------------------------------------------------------------

interface Report {
  startedAt: string;
  seconds: number;
  args: Args;
  machine: { nproc: number; kernel: string; node: string; carpool: string };
  masterDownMs: number;
  window: { from: string; ms: number };
  phases: { name: string; at: number; ms: number; checks: Check[]; notes: string[] }[];
  holders: Record<string, Holding>;
  service: Holding;
  sampler: Record<string, { samples: number; maxGapMs: number; beats: number }>;
  rss: Record<string, { firstKb: number; lastKb: number; maxKb: number; samples: [number, number, number][] }>;
  logs: Record<string, { syslogBytes: number; syslogLines: number; consoleBytes: number }>;
  stop: Check[];
  criteria: Criterion[];
  pass: boolean;
}

const RSS_MAX_KB = 256 * 1024;
const RSS_GROWTH_KB = 64 * 1024;
const LOG_MAX = 1024 * 1024;

function criteria(r: Omit<Report, 'criteria' | 'pass'>, slackMs: number): Criterion[] {
  const out: Criterion[] = [];
  for (const [vip, h] of Object.entries(r.holders)) {
    const dual = maxOf(h.dual.map((d) => d.ms));
    out.push({ name: `${vip}: longest time with two holders`, ok: dual <= r.masterDownMs, value: `${dual} ms (${h.dual.length}x)`, limit: `<= ${r.masterDownMs} ms` });
    const none = maxOf(h.none.map((d) => d.ms));
    out.push({ name: `${vip}: longest time with no holder`, ok: none <= r.masterDownMs + slackMs, value: `${none} ms (${h.none.length}x)`, limit: `<= ${r.masterDownMs + slackMs} ms` });
  }
  for (const [name, m] of Object.entries(r.rss)) {
    out.push({ name: `${name}: daemon RSS max`, ok: m.maxKb <= RSS_MAX_KB, value: mib(m.maxKb), limit: `<= ${mib(RSS_MAX_KB)}` });
    out.push({ name: `${name}: daemon RSS first -> last`, ok: m.lastKb - m.firstKb <= RSS_GROWTH_KB, value: `${mib(m.firstKb)} -> ${mib(m.lastKb)}`, limit: `growth <= ${mib(RSS_GROWTH_KB)}` });
  }
  for (const [name, l] of Object.entries(r.logs)) {
    out.push({ name: `${name}: log size`, ok: l.syslogBytes < LOG_MAX, value: `${(l.syslogBytes / 1024).toFixed(0)} KiB (${l.syslogLines} lines)`, limit: '< 1 MiB' });
  }
  for (const p of r.phases) {
    const bad = p.checks.filter((c) => !c.ok);
    out.push({ name: `fault ${p.name}: checks`, ok: bad.length === 0, value: bad.length ? bad.map((c) => `${c.name}: ${c.detail}`).join('; ') : `${p.checks.length} ok`, limit: 'all ok' });
  }
  const badStop = r.stop.filter((c) => !c.ok);
  out.push({ name: 'SIGTERM at the end', ok: badStop.length === 0, value: r.stop.map((c) => `${c.name.split(' ')[0]} ${c.detail}`).join(', '), limit: 'exit 0' });
  return out;
}

function renderMarkdown(r: Report): string {
  const periods = (list: Holding['dual']): string => list.length ? list.map((d) => `${(d.at / 1000).toFixed(1)} s +${d.ms} ms (${d.phase}${d.hosts.length ? `: ${d.hosts.join('+')}` : ''})`).join('; ') : '-';
  const lines = [
    `# carpool soak, ${r.startedAt}`,
    '',
    `${(r.window.ms / 1000).toFixed(0)} s of faults (${r.args.faults.join(', ')}), 2 nodes, advbase ${ADVBASE} s, master-down interval ${r.masterDownMs} ms, addresses sampled every 10 ms (longest sampler gap ${maxOf(Object.values(r.sampler).map((s) => s.maxGapMs)).toFixed(0)} ms). Machine: ${r.machine.nproc} CPUs, Linux ${r.machine.kernel}, Node ${r.machine.node}, carpool ${r.machine.carpool}.`,
    '',
    `**${r.pass ? 'PASS' : 'FAIL'}**`,
    '',
    '| Criterion | Value | Limit | |',
    '|---|---|---|---|',
    ...r.criteria.map((c) => `| ${c.name} | ${c.value} | ${c.limit} | ${c.ok ? 'PASS' : 'FAIL'} |`),
    '',
    '## Faults',
    '',
    '| Fault | At | Checks | Notes |',
    '|---|---|---|---|',
    ...r.phases.map((p) => `| ${p.name} | ${(p.at / 1000).toFixed(0)} s | ${p.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`).join('<br>')} | ${p.notes.join('<br>')} |`),
    '',
    '## Holders',
    '',
    '| Address | Two holders | No holder |',
    '|---|---|---|',
    ...Object.entries(r.holders).map(([vip, h]) => `| ${vip} | ${periods(h.dual)} | ${periods(h.none)} |`),
    `| service (resource app) | ${periods(r.service.dual)} | ${periods(r.service.none)} |`,
    '',
    '## Daemons',
    '',
    '| Node | RSS first | RSS last | RSS max | Log (syslog) | Console |',
    '|---|---|---|---|---|---|',
    ...Object.keys(r.rss).map((n) => `| ${n} | ${mib(r.rss[n]!.firstKb)} | ${mib(r.rss[n]!.lastKb)} | ${mib(r.rss[n]!.maxKb)} | ${(r.logs[n]!.syslogBytes / 1024).toFixed(0)} KiB, ${r.logs[n]!.syslogLines} lines | ${(r.logs[n]!.consoleBytes / 1024).toFixed(0)} KiB |`),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const args = benchArgs('soak', HELP, parse);
  if (typeof args === 'number') return args;
  const log = (m: string): void => { process.stderr.write(`${m}\n`); };
  const faketime = existsSync(LIBFAKETIME);
  if (!faketime && args.faults.includes('clock')) log(`warning: ${LIBFAKETIME} missing (apt-get install -y faketime): the clock fault will fail`);
  const prefix = `soak${process.pid % 10000}`;
  let ctx: Ctx | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping daemons and removing the lab...\n');
    void (current?.cleanup() ?? killAll()).then(() => teardownLab(ctx, prefix)).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = now();
  let report: Report;
  try {
    ctx = await setupLab(prefix);
    const soak = current = new Soak(ctx, args, faketime, log);
    log(`lab ${prefix} up; starting the daemons`);
    await soak.setup();
    const from = now();
    log(`healthy after ${((from - started) / 1000).toFixed(1)} s; ${args.faults.length} faults over ${(args.durationMs / 1000).toFixed(0)} s`);
    const slot = args.durationMs / args.faults.length;
    for (const f of args.faults) {
      if (interrupted) break;
      await soak.phase(f, slot, (p, deadline) => soak[f](p, deadline));
    }
    const to = now();
    const stop = await soak.stopAll();
    const samples = soak.samplers.flatMap((s) => s.samples());
    const phases = soak.phases;
    const holders: Record<string, Holding> = {};
    for (const i of INSTANCES) {
      const vip = soak.nodes[0]!.vip(i.name);
      holders[`${i.name} ${vip}`] = holding(samples, holdsVip(vip), from, to, phases);
    }
    const rss: Report['rss'] = {};
    const logs: Report['logs'] = {};
    const sampler: Report['sampler'] = {};
    for (const n of soak.nodes) {
      const s = n.rss;
      rss[n.name] = { firstKb: s[0]?.[1] ?? 0, lastKb: s.at(-1)?.[1] ?? 0, maxKb: maxOf(s.map((x) => x[1])), samples: s };
      logs[n.name] = { syslogBytes: n.syslogBytes, syslogLines: n.syslog.lines.length, consoleBytes: n.consoleBytes };
      const hb = soak.samplers.find((x) => x.node === n)!.heartbeats().filter((b) => b.t >= from && b.t <= to);
      sampler[n.name] = { samples: hb.reduce((a, b) => a + b.n, 0), maxGapMs: maxOf(hb.map((b) => b.maxGap)), beats: hb.length };
    }
    const base = {
      startedAt: new Date(started).toISOString(),
      seconds: (now() - started) / 1000,
      args,
      machine: machine(),
      masterDownMs: MASTER_DOWN_MS,
      window: { from: new Date(from).toISOString(), ms: Math.round(to - from) },
      phases: phases.map((p) => ({ name: p.name, at: Math.round(p.from - from), ms: Math.round(p.to - p.from), checks: p.checks, notes: p.notes })),
      holders,
      service: holding(samples, (x) => x.svc, from, to, phases),
      sampler, rss, logs, stop,
    };
    const crit = criteria(base, args.slackMs);
    report = { ...base, criteria: crit, pass: crit.every((c) => c.ok) };
  } finally {
    await (current?.cleanup() ?? killAll());
    await teardownLab(ctx, prefix);
  }
  const md = renderMarkdown(report);
  process.stdout.write(md);
  if (args.write) {
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const stamp = report.startedAt.replace(/[:.]/g, '-').replace(/-\d\d\dZ$/, 'Z');
    writeFileSync(join(dir, `soak-${stamp}.json`), JSON.stringify(report, null, 1) + '\n');
    writeFileSync(join(dir, `soak-${stamp}.md`), md);
    process.stderr.write(`wrote bench/results/soak-${stamp}.{json,md}\n`);
  }
  return report.pass ? 0 : 1;
}

function machine(): Report['machine'] {
  const sh = (cmd: string, a: string[]): string => {
    try { return execFileSync(cmd, a, { encoding: 'utf8' }).trim(); } catch { return '?'; }
  };
  return { nproc: Number(sh('nproc', [])), kernel: sh('uname', ['-r']), node: process.version, carpool: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) };
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  void (current?.cleanup() ?? killAll()).finally(() => process.exit(1));
});
