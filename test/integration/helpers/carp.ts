/** Helpers for CARP integration tests: per-host YAML configs, daemons, status, probes. */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../../src/control/client.js';
import type { DaemonStatus, InstanceStatus } from '../../../src/control/status.js';
import type { LabHost } from '../../../src/lab/netns.js';
import { Proc, carpoolArgv, type ProcSet } from './procs.js';

export interface NativeInstanceOpts {
  readonly vhid?: number;
  readonly password?: string;
  readonly advbase?: number;
  readonly advskew?: number;
  readonly preempt?: boolean;
  readonly deadratio?: number;
  readonly addresses?: readonly string[];
  readonly extra?: string;
  /** Top-level keys, before `instances:`. */
  readonly top?: string;
}

/** A temp dir per test file for configs, sockets and state. */
export class Workdir {
  readonly dir = mkdtempSync(join(tmpdir(), 'carpool-it-'));
  path(name: string): string { return join(this.dir, name); }
  write(name: string, text: string, mode = 0o644): string {
    const p = this.path(name);
    writeFileSync(p, text, { mode });
    return p;
  }
  remove(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

export function socketOf(wd: Workdir, host: LabHost): string {
  return wd.path(`${host.name}/carpool.sock`);
}

/** Write a carpool.yaml for `host` with one CARP instance `web`. */
export function nativeConfig(wd: Workdir, host: LabHost, o: NativeInstanceOpts = {}): string {
  const yaml = [
    `control_socket: ${socketOf(wd, host)}`,
    `state_dir: ${wd.path(`${host.name}/state`)}`,
    ...(o.top ? [o.top] : []),
    'instances:',
    '  - name: web',
    `    interface: ${host.ifname}`,
    `    vhid: ${o.vhid ?? 10}`,
    `    password: ${o.password ?? 'secret'}`,
    `    advbase: ${o.advbase ?? 0}`,
    `    advskew: ${o.advskew ?? 20}`,
    `    deadratio: ${o.deadratio ?? 3}`,
    `    preempt: ${o.preempt ?? false}`,
    '    addresses:',
    ...(o.addresses ?? ['10.77.0.100/24']).map((a) => `      - ${a}`),
    ...(o.extra ? [o.extra] : []),
    '',
  ].join('\n');
  return wd.write(`${host.name}.yaml`, yaml, 0o600);
}

export function startNative(procs: ProcSet, host: LabHost, config: string): Proc {
  return procs.add(new Proc(host.name, carpoolArgv(host.ns, ['run', '-c', config])));
}

export async function status(socket: string): Promise<DaemonStatus> {
  return await controlRequest(socket, { cmd: 'status' }, 3000) as DaemonStatus;
}

export async function instance(socket: string, name = 'web'): Promise<InstanceStatus> {
  const st = await status(socket);
  const i = st.instances.find((x) => x.name === name) ?? st.instances[0];
  if (!i) throw new Error(`no instance ${name} at ${socket}`);
  return i;
}

/** The instance's status, or undefined while the daemon does not answer. */
export async function tryInstance(socket: string, name = 'web'): Promise<InstanceStatus | undefined> {
  try {
    return await instance(socket, name);
  } catch {
    return undefined;
  }
}

/** State of the instance, or 'DOWN' when the daemon does not answer. */
export async function stateOf(socket: string): Promise<string> {
  try {
    return (await instance(socket)).state;
  } catch {
    return 'DOWN';
  }
}

/** A client probing `target` every `intervalMs` from the client namespace. */
export function startProbe(procs: ProcSet, client: LabHost, target: string, intervalMs = 10): Proc {
  return procs.add(new Proc('probe', carpoolArgv(client.ns, ['probe', target, '-i', client.ifname, '--interval', String(intervalMs), '--events'])));
}

export interface ProbeSummary {
  sent: number; answered: number; lost: number; longestOutageMs: number;
  outages: { fromMs: number; toMs: number; lost: number }[];
}

export async function stopProbe(p: Proc): Promise<ProbeSummary> {
  await p.stop('SIGINT');
  const line = p.lines.find((l) => l.includes('"summary"'));
  if (!line) throw new Error(`probe printed no summary:\n${p.lines.join('\n')}`);
  return JSON.parse(line) as ProbeSummary;
}
