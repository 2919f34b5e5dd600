/**
 * `carpool lab`: a cluster on one Linux box. A LAN of network namespaces (netns.ts), a
 * carpool daemon per host sharing one virtual IP, faults on demand (faults.ts), and a state
 * file under /run/carpool-lab/<prefix>/ so later commands (status, exec, faults, down) find
 * the lab again. Daemons are identified by PID *and* kernel start time, so a recycled PID
 * is never signalled; after a crash `down` still finds everything by namespace prefix.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest } from '../control/client.js';
import type { DaemonStatus } from '../control/status.js';
import { CarpoolError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { addressesOf, createLan, destroyLan, listNamespaces, type Lan, type LabHost } from './netns.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const LAB_ROOT = process.env.CARPOOL_LAB_DIR ?? '/run/carpool-lab';
export const DEFAULT_PREFIX = 'cplab';
const CARPOOL_BIN = fileURLToPath(new URL('../../bin/carpool', import.meta.url));

export interface LabOptions {
  readonly prefix?: string;
  readonly hosts?: number;
  /** First three octets of the lab's /24. */
  readonly subnet?: string;
  /** Start a carpool daemon on every host (default true). */
  readonly daemons?: boolean;
  /** CARP timing: advbase (s) and the advskew of h1; host k gets skew + (k-1)*skewStep. */
  readonly advbase?: number;
  readonly advskew?: number;
  readonly skewStep?: number;
  readonly preempt?: boolean;
}

export interface DaemonRecord {
  readonly pid: number;
  /** Kernel start time of the process (clock ticks since boot, /proc/PID/stat field 22). */
  readonly startTime: number;
  readonly config: string;
  readonly socket: string;
  readonly log: string;
}

export interface LabState {
  readonly prefix: string;
  readonly dir: string;
  readonly lan: Lan;
  readonly vip: string;
  readonly advbase: number;
  readonly advskew: number;
  readonly skewStep: number;
  readonly preempt: boolean;
  readonly daemons: Record<string, DaemonRecord | undefined>;
}

export interface HostView {
  readonly name: string;
  readonly address: string;
  /** running | paused (SIGSTOP) | dead | none */
  readonly daemon: string;
  readonly pid: number | undefined;
  /** CARP state as the daemon reports it, or `-` when it does not answer. */
  readonly state: string;
  readonly holdsVip: boolean;
  readonly advskew: number;
}

function checkPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9]{0,9}$/.test(prefix)) {
    throw new CarpoolError('LAB_PREFIX', `invalid lab prefix "${prefix}"`, 'use 1-10 lowercase letters or digits, starting with a letter');
  }
}

export function labDir(prefix: string): string {
  return join(LAB_ROOT, prefix);
}

function statePath(prefix: string): string {
  return join(labDir(prefix), 'state.json');
}

function saveState(st: LabState): void {
  writeFileSync(statePath(st.prefix), JSON.stringify(st, null, 2) + '\n', { mode: 0o600 });
}

/** The lab's state, or a CarpoolError telling how to make one. */
export function loadLab(prefix = DEFAULT_PREFIX): LabState {
  checkPrefix(prefix);
  const p = statePath(prefix);
  if (!existsSync(p)) throw new CarpoolError('LAB_NONE', `no lab "${prefix}" is up (no ${p})`, `start one with: carpool lab up${prefix === DEFAULT_PREFIX ? '' : ` --prefix ${prefix}`}`);
  return JSON.parse(readFileSync(p, 'utf8')) as LabState;
}

export function hostOf(st: LabState, name: string): LabHost {
  const h = st.lan.hosts.find((x) => x.name === name) ?? (st.lan.client?.name === name ? st.lan.client : undefined);
  if (!h) throw new CarpoolError('LAB_HOST', `no host "${name}" in lab ${st.prefix}`, `hosts: ${[...st.lan.hosts.map((x) => x.name), ...(st.lan.client ? ['c (client)'] : [])].join(', ')}`);
  return h;
}

/** Kernel start time of a process, or undefined when it does not exist. */
function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Is the recorded daemon still that very process (not a recycled PID)? */
export function isOurs(d: DaemonRecord | undefined): d is DaemonRecord {
  if (!d) return false;
  const st = procState(d.pid);
  return st !== undefined && st !== 'Z' && startTimeOf(d.pid) === d.startTime;
}

function skewOf(st: LabState, host: LabHost): number {
  return Math.min(254, st.advskew + (Number(host.name.slice(1)) - 1) * st.skewStep);
}

function writeConfig(st: LabState, host: LabHost): { config: string; socket: string } {
  const hostDir = join(st.dir, host.name);
  mkdirSync(hostDir, { recursive: true, mode: 0o700 });
  const socket = join(hostDir, 'carpool.sock');
  const config = join(hostDir, 'carpool.yaml');
  writeFileSync(config, [
    `# carpool lab ${st.prefix}, host ${host.name} (${host.address})`,
    `control_socket: ${socket}`,
    `state_dir: ${join(hostDir, 'state')}`,
    'instances:',
    '  - name: vip',
    `    interface: ${host.ifname}`,
    '    vhid: 1',
    `    password: lab-${st.prefix}`,
    `    advbase: ${st.advbase}`,
    `    advskew: ${skewOf(st, host)}`,
    `    preempt: ${st.preempt}`,
    '    addresses:',
    `      - ${st.vip}/24`,
    '',
  ].join('\n'), { mode: 0o600 });
  return { config, socket };
}

/**
 * Start carpool on `host` (replacing a dead one). Resolves once its control socket answers;
 * rejects with the log's tail when the daemon exits during start-up.
 */
export async function startDaemon(st: LabState, name: string): Promise<DaemonRecord> {
  const host = hostOf(st, name);
  if (isOurs(st.daemons[name])) throw new CarpoolError('LAB_RUNNING', `carpool already runs on ${name} (pid ${st.daemons[name].pid})`, `stop it first: carpool lab kill ${name}`);
  const { config, socket } = writeConfig(st, host);
  const log = join(st.dir, host.name, 'carpool.log');
  const fd = openSync(log, 'a');
  const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, CARPOOL_BIN, 'run', '-c', config], {
    detached: true, stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const pid = child.pid;
  // `ip netns exec` execs the daemon in place: same PID, same start time.
  const startTime = pid === undefined ? undefined : startTimeOf(pid);
  if (pid === undefined || startTime === undefined) throw new CarpoolError('LAB_SPAWN', `cannot start carpool on ${name}`, `see ${log}`);
  let exited: string | undefined;
  child.once('exit', (code, sig) => { exited = sig ?? String(code); });
  const rec: DaemonRecord = { pid, startTime, config, socket, log };
  st.daemons[name] = rec;
  saveState(st);
  const deadline = Date.now() + 15_000;
  for (;;) {
    // While we wait, the child's own exit event is the truth: right after spawn its
    // /proc entry still shows the parent's command line.
    if (exited !== undefined) {
      const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-8).join('\n');
      throw new CarpoolError('LAB_START', `carpool on ${name} exited during start-up (${exited}):\n${tail}`, `full log: ${log}`);
    }
    try {
      await controlRequest(socket, { cmd: 'status' }, 500);
      break;
    } catch {
      if (Date.now() > deadline) throw new CarpoolError('LAB_START', `carpool on ${name} did not answer on ${socket} within 15 s`, `see ${log}`);
      await sleep(50);
    }
  }
  child.unref();
  return rec;
}

/**
 * Signal the daemon on `name`. TERM and KILL wait until it is gone (TERM escalates to KILL
 * after 5 s); STOP / CONT return at once.
 */
export async function signalDaemon(st: LabState, name: string, sig: NodeJS.Signals): Promise<void> {
  hostOf(st, name);
  const d = st.daemons[name];
  if (!isOurs(d)) throw new CarpoolError('LAB_NOT_RUNNING', `carpool is not running on ${name}`, `start it: carpool lab start ${name}`);
  process.kill(d.pid, sig);
  if (sig !== 'SIGTERM' && sig !== 'SIGKILL') return;
  const deadline = Date.now() + 5000;
  while (isOurs(d)) {
    if (Date.now() > deadline) {
      process.kill(d.pid, 'SIGKILL');
      break;
    }
    if (sig === 'SIGTERM' && procState(d.pid) === 'T') process.kill(d.pid, 'SIGCONT');
    await sleep(20);
  }
  while (isOurs(d)) await sleep(20);
}

/** Build a lab (replacing one with the same prefix) and start carpool on every host. */
export async function labUp(o: LabOptions = {}): Promise<LabState> {
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  checkPrefix(prefix);
  const hosts = o.hosts ?? 3;
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > 20) throw new CarpoolError('LAB_HOSTS', `--hosts must be 1..20, got ${hosts}`);
  const subnet = o.subnet ?? '10.213.0';
  if (!/^10\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new CarpoolError('LAB_SUBNET', `--subnet must be the first three octets of a private 10.x.y.0/24, got "${subnet}"`);
  await labDown(prefix);
  const dir = labDir(prefix);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lan = await createLan({ prefix, hosts, subnet });
  const st: LabState = {
    prefix, dir, lan, vip: `${subnet}.100`,
    advbase: o.advbase ?? 1, advskew: o.advskew ?? 10, skewStep: o.skewStep ?? 10, preempt: o.preempt ?? false,
    daemons: {},
  };
  saveState(st);
  if (o.daemons ?? true) {
    try {
      // One after another: h1 (lowest skew) comes up first and becomes master.
      for (const h of lan.hosts) await startDaemon(st, h.name);
    } catch (err) {
      await labDown(prefix);
      throw err;
    }
  }
  return st;
}

/**
 * Remove the lab: stop its daemons, delete its namespaces, remove its directory. Works
 * without a state file (after a crash): every process still inside one of the lab's own
 * namespaces is killed, then the namespaces go. Idempotent.
 */
export async function labDown(prefix = DEFAULT_PREFIX): Promise<{ namespaces: number; killed: number }> {
  checkPrefix(prefix);
  let killed = 0;
  if (existsSync(statePath(prefix))) {
    const st = JSON.parse(readFileSync(statePath(prefix), 'utf8')) as LabState;
    for (const name of Object.keys(st.daemons)) {
      if (!isOurs(st.daemons[name])) continue;
      await signalDaemon(st, name, 'SIGTERM').catch(() => undefined);
      killed++;
    }
  }
  const namespaces = await listNamespaces(prefix);
  for (const ns of namespaces) {
    const res = await run(['ip', 'netns', 'pids', ns], { allowFail: true });
    for (const pid of res.stdout.split('\n').map(Number).filter((p) => p > 1)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch { /* already gone */ }
    }
  }
  await destroyLan(prefix);
  rmSync(labDir(prefix), { recursive: true, force: true });
  return { namespaces: namespaces.length, killed };
}

/** Run `argv` on a lab host (or `c`, the client) with the caller's stdio; resolves with its exit code. */
export function labExec(st: LabState, name: string, argv: readonly string[]): Promise<number> {
  const host = hostOf(st, name);
  if (argv.length === 0) throw new CarpoolError('LAB_EXEC', 'lab exec: no command given', `example: carpool lab exec ${name} ip addr`);
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', host.ns, ...argv], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
}

/** Hosts, their daemons, CARP states and who holds the VIP. */
export async function labView(st: LabState): Promise<HostView[]> {
  return Promise.all(st.lan.hosts.map(async (h): Promise<HostView> => {
    const d = st.daemons[h.name];
    const ours = isOurs(d);
    const daemon = !d ? 'none' : !ours ? 'dead' : procState(d.pid) === 'T' ? 'paused' : 'running';
    let state = '-';
    if (ours && daemon === 'running') {
      try {
        const s = await controlRequest(d.socket, { cmd: 'status' }, 300) as DaemonStatus;
        state = s.instances[0]?.state ?? '-';
      } catch { /* not answering */ }
    }
    const addrs = await addressesOf(h.ns, h.ifname);
    return {
      name: h.name, address: h.address, daemon, pid: ours ? d.pid : undefined, state,
      holdsVip: addrs.some((a) => a.startsWith(`${st.vip}/`)), advskew: skewOf(st, h),
    };
  }));
}

/**
 * Wait until exactly one host holds the VIP (the first master needs up to 3 advert
 * intervals of silence before it takes over). Resolves with its name, or undefined on timeout.
 */
export async function waitForMaster(st: LabState, timeoutMs = (st.advbase * 3 + 2) * 1000): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const holders = (await labView(st)).filter((h) => h.holdsVip && h.state === 'MASTER');
    if (holders.length === 1) return holders[0]!.name;
    await sleep(100);
  }
  return undefined;
}

/** Check that the lab's namespaces still exist (someone may have run `ip netns del`). */
export async function labExists(prefix: string): Promise<boolean> {
  return (await listNamespaces(prefix)).length > 0;
}
