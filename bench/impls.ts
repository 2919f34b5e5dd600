/**
 * The four implementations under test, each driven the way its users run it:
 * carpool CARP (`carpool run -c carpool.yaml`), Debian's ucarp with up/down scripts,
 * Debian's keepalived (VRRP only) and carpool VRRP (`carpool run -c keepalived.conf`).
 * Protocol settings are given once per scenario and translated here, so every
 * implementation runs with the same advert interval and master-down bound.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LabHost } from '../src/lab/netns.js';
import { controlRequest } from '../src/control/client.js';
import { inNs } from '../src/lib/exec.js';
import { Proc, ROOT, childrenOf, sleep } from './proc.js';
import type { Ctx } from './lab.js';

export type ImplName = 'carpool-carp' | 'ucarp' | 'keepalived' | 'carpool-vrrp';
export const IMPLS: readonly ImplName[] = ['carpool-carp', 'ucarp', 'keepalived', 'carpool-vrrp'];
/** The peer each carpool mode is compared with, run by run. */
export const PEER_OF: Partial<Record<ImplName, ImplName>> = { 'carpool-carp': 'ucarp', 'carpool-vrrp': 'keepalived' };

export type Role = 'master' | 'backup';

/** Equal protocol settings for both families. */
export interface Settings {
  readonly label: string;
  /** CARP: advbase (s) and the advskew of master and backup (1/256 s). */
  readonly carp: { readonly advbase: number; readonly masterSkew: number; readonly backupSkew: number };
  /** VRRPv3: advert interval (s) and priorities. */
  readonly vrrp: { readonly advertInt: number; readonly masterPrio: number; readonly backupPrio: number };
  /** carpool daemons set SCHED_RR at this priority themselves (`realtime_priority` / `vrrp_rt_priority`; the `fastest` scenario's second variant). */
  readonly rtPriority?: number | undefined;
}

export const SLOW: Settings = {
  label: 'adverts 1 s',
  carp: { advbase: 1, masterSkew: 0, backupSkew: 10 },
  vrrp: { advertInt: 1, masterPrio: 150, backupPrio: 100 },
};

export const FAST: Settings = {
  label: 'fast adverts (CARP 0/3 vs 0/9, VRRPv3 10 ms)',
  carp: { advbase: 0, masterSkew: 3, backupSkew: 9 },
  vrrp: { advertInt: 0.01, masterPrio: 150, backupPrio: 100 },
};

/** CARP with advbase 0, master skew k, backup skew 3k: interval k/256 s, master-down 3k/256 s. */
export function carpFastest(k: number, rtPriority?: number): Settings {
  return {
    label: `CARP advbase 0, advskew ${k}/${3 * k}${rtPriority ? `, SCHED_RR ${rtPriority} (realtime_priority)` : ''}`,
    carp: { advbase: 0, masterSkew: k, backupSkew: 3 * k }, vrrp: FAST.vrrp, rtPriority,
  };
}

const carpIntervalMs = (advbase: number, skew: number): number => advbase * 1000 + Math.floor((skew * 1_000_000) / 256) / 1000;

export const family = (impl: ImplName): 'carp' | 'vrrp' => (impl === 'carpool-carp' || impl === 'ucarp' ? 'carp' : 'vrrp');

/** The master's advert interval in ms. */
export function advertMs(impl: ImplName, s: Settings): number {
  return family(impl) === 'carp' ? carpIntervalMs(s.carp.advbase, s.carp.masterSkew) : s.vrrp.advertInt * 1000;
}

/**
 * The backup's master-down time in ms, the protocol's bound on a takeover after the last
 * advert heard. CARP as ucarp computes it (notes §3.2, src/election/carp.ts masterDownMs):
 * advbase × deadratio + advskew/256 s, the skew not multiplied. VRRPv3 (RFC 5798 §6.1):
 * 3 × interval + skew, skew = (256 − priority) × interval / 256.
 */
export function boundMs(impl: ImplName, s: Settings): number {
  if (family(impl) === 'carp') return s.carp.advbase * 3 * 1000 + Math.floor((s.carp.backupSkew * 1_000_000) / 256) / 1000;
  const i = s.vrrp.advertInt * 1000;
  return 3 * i + ((256 - s.vrrp.backupPrio) * i) / 256;
}

/** A running daemon for one host. */
export interface Daemon {
  readonly impl: ImplName;
  readonly host: LabHost;
  readonly proc: Proc;
  /** Pids whose RSS/CPU count for this daemon (the process itself; keepalived: plus its VRRP child). */
  pids(): number[];
}

export const MASTER_RE: Record<ImplName, RegExp> = {
  'carpool-carp': /Switching to state: MASTER/,
  ucarp: /Switching to state: MASTER/,
  keepalived: /Entering MASTER STATE/,
  'carpool-vrrp': /Entering MASTER STATE/,
};
export const BACKUP_RE: Record<ImplName, RegExp> = {
  'carpool-carp': /Switching to state: BACKUP/,
  ucarp: /Switching to state: BACKUP/,
  keepalived: /Entering BACKUP STATE/,
  'carpool-vrrp': /Entering BACKUP STATE/,
};

const CARPOOL = join(ROOT, 'bin/carpool');
const runDir = (ctx: Ctx, h: LabHost, tag: string): string => ctx.path(`run-${tag}-${h.name}`);

export interface StartOpts {
  readonly vhidBase?: number;
  /** Number of virtual routers (the idle scenario runs 50). */
  readonly instances?: number;
  /** A tag to keep files of concurrent or successive daemons apart. */
  readonly tag?: string;
  /** SCHED_RR priority, set by the daemon itself (`realtime_priority`, `vrrp_rt_priority`; `fastest`). */
  readonly rtPriority?: number;
}

function carpSkew(s: Settings, role: Role): number {
  return role === 'master' ? s.carp.masterSkew : s.carp.backupSkew;
}

/** VIP of instance i (0-based): instance 0 is the scenario's VIP, the rest for the idle scenario. */
function vipOf(ctx: Ctx, i: number): string {
  return i === 0 ? ctx.vip : `10.214.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

function carpoolCarpConfig(ctx: Ctx, h: LabHost, role: Role, s: Settings, o: StartOpts): string {
  const dir = runDir(ctx, h, o.tag ?? 'cc');
  const n = o.instances ?? 1;
  const lines = [`control_socket: ${dir}/carpool.sock`, `state_dir: ${dir}`, ...(o.rtPriority ? [`realtime_priority: ${o.rtPriority}`] : []), 'instances:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  - name: vip${i}`,
      `    interface: ${h.ifname}`,
      `    vhid: ${(o.vhidBase ?? 10) + i}`,
      '    password: bench',
      `    advbase: ${s.carp.advbase}`,
      `    advskew: ${carpSkew(s, role)}`,
      '    preempt: false',
      '    addresses:',
      `      - ${vipOf(ctx, i)}/${i === 0 ? 24 : 32}`,
    );
  }
  return ctx.write(`carpool-${o.tag ?? 'cc'}-${h.name}.yaml`, lines.join('\n') + '\n', 0o600);
}

/** keepalived.conf for `role` (also read by carpool VRRP). `prio` overrides the role's priority (switchover). */
export function keepalivedConf(ctx: Ctx, h: LabHost, role: Role, s: Settings, o: StartOpts, prio?: number): string {
  const n = o.instances ?? 1;
  const out = ['global_defs {', `  router_id ${o.tag ?? 'ka'}-${h.name}`, ...(o.rtPriority ? [`  vrrp_rt_priority ${o.rtPriority}`] : []), '}'];
  for (let i = 0; i < n; i++) {
    out.push(
      `vrrp_instance VI_${i} {`,
      `  state ${role === 'master' ? 'MASTER' : 'BACKUP'}`,
      `  interface ${h.ifname}`,
      `  virtual_router_id ${(o.vhidBase ?? 10) + i}`,
      `  priority ${prio ?? (role === 'master' ? s.vrrp.masterPrio : s.vrrp.backupPrio)}`,
      `  advert_int ${s.vrrp.advertInt}`,
      '  version 3',
      `  virtual_ipaddress { ${vipOf(ctx, i)}/${i === 0 ? 24 : 32} }`,
      '}',
    );
  }
  return out.join('\n') + '\n';
}

/** Written once: rewriting a script another ucarp is executing fails with ETXTBSY. */
function ucarpScripts(ctx: Ctx): { up: string; down: string } {
  const up = ctx.path('ucarp-up.sh');
  const down = ctx.path('ucarp-down.sh');
  if (!existsSync(up)) ctx.write('ucarp-up.sh', '#!/bin/sh\nexec ip addr add "$2"/24 dev "$1"\n', 0o755);
  if (!existsSync(down)) ctx.write('ucarp-down.sh', '#!/bin/sh\nexec ip addr del "$2"/24 dev "$1"\n', 0o755);
  return { up, down };
}

/** Start `impl` on `h` in `role`. Returns at once; wait for its state with MASTER_RE/BACKUP_RE. */
export function startDaemon(ctx: Ctx, impl: ImplName, h: LabHost, role: Role, s: Settings, opts: StartOpts = {}): Daemon[] {
  const o: StartOpts = { rtPriority: s.rtPriority, ...opts };
  const tag = o.tag ?? impl;
  switch (impl) {
    case 'carpool-carp': {
      const conf = carpoolCarpConfig(ctx, h, role, s, { ...o, tag });
      const proc = new Proc(`${impl}-${h.name}`, inNs(h.ns, [process.execPath, CARPOOL, 'run', '-c', conf]), { CARPOOL_RUN_DIR: runDir(ctx, h, tag) });
      return [{ impl, host: h, proc, pids: () => [proc.pid] }];
    }
    case 'carpool-vrrp': {
      const conf = ctx.write(`carpool-${tag}-${h.name}.conf`, keepalivedConf(ctx, h, role, s, { ...o, tag }));
      const proc = new Proc(`${impl}-${h.name}`, inNs(h.ns, [process.execPath, CARPOOL, 'run', '--vrrp-only', '-c', conf]), { CARPOOL_RUN_DIR: runDir(ctx, h, tag) });
      return [{ impl, host: h, proc, pids: () => [proc.pid] }];
    }
    case 'keepalived': {
      const conf = ctx.write(`ka-${tag}-${h.name}.conf`, keepalivedConf(ctx, h, role, s, { ...o, tag }));
      const p = (x: string): string => ctx.path(`ka-${tag}-${h.name}.${x}.pid`);
      const proc = new Proc(`${impl}-${h.name}`, inNs(h.ns, ['keepalived', '-n', '-l', '-D', '--vrrp', '-f', conf, '-p', p('main'), '-r', p('vrrp'), '-c', p('checkers')]));
      return [{ impl, host: h, proc, pids: () => [proc.pid, ...childrenOf(proc.pid)] }];
    }
    case 'ucarp': {
      // ucarp runs one process per virtual address.
      const { up, down } = ucarpScripts(ctx);
      const n = o.instances ?? 1;
      const out: Daemon[] = [];
      for (let i = 0; i < n; i++) {
        const args = ['-i', h.ifname, '-s', h.address, '-v', String((o.vhidBase ?? 10) + i), '-p', 'bench', '-a', vipOf(ctx, i),
          '-b', String(s.carp.advbase), '-k', String(carpSkew(s, role)), '-u', up, '-d', down, '-z'];
        const proc = new Proc(`${impl}-${h.name}${n > 1 ? `-${i}` : ''}`, inNs(h.ns, ['stdbuf', '-oL', '-eL', 'ucarp', ...args]));
        out.push({ impl, host: h, proc, pids: () => [proc.pid] });
      }
      return out;
    }
  }
}


/** Wait until the (first) daemon of `ds` logs the state of `role`. */
export async function waitRole(ds: readonly Daemon[], role: Role, timeoutMs = 15_000): Promise<void> {
  await Promise.all(ds.map((d) => d.proc.waitFor(role === 'master' ? MASTER_RE[d.impl] : BACKUP_RE[d.impl], timeoutMs)));
}

/**
 * Planned switchover, started at the time it returns: carpool's demote command (both
 * modes), ucarp's SIGUSR2, keepalived's priority lowered below the backup's and a reload.
 */
export async function switchover(ctx: Ctx, d: Daemon, s: Settings, o: StartOpts = {}): Promise<void> {
  const tag = o.tag ?? d.impl;
  switch (d.impl) {
    case 'carpool-carp':
    case 'carpool-vrrp':
      // What `carpool demote -s SOCKET INSTANCE` sends, without the CLI's Node start-up
      // (~150 ms) in the measured time. The socket is a file: reachable from any namespace.
      await controlRequest(join(runDir(ctx, d.host, tag), 'carpool.sock'), { cmd: 'demote', args: { instance: d.impl === 'carpool-carp' ? 'vip0' : 'VI_0' } });
      return;
    case 'ucarp':
      d.proc.signal('SIGUSR2');
      return;
    case 'keepalived':
      ctx.write(`ka-${tag}-${d.host.name}.conf`, keepalivedConf(ctx, d.host, 'master', s, { ...o, tag }, Math.max(1, s.vrrp.backupPrio - 50)));
      d.proc.signal('SIGHUP');
      return;
  }
}

/** Stop with SIGTERM (clean release), or SIGKILL the whole group (VIP left behind). */
export async function stopDaemons(ds: readonly Daemon[], sig: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  if (sig === 'SIGKILL') for (const d of ds) d.proc.signalGroup('SIGKILL');
  await Promise.all(ds.map((d) => d.proc.stop(sig, 3000)));
  await sleep(0);
}
