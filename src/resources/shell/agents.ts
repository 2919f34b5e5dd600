/**
 * The agent runner: turns "run action X of resource R" into a process (OCF agent, LSB init
 * script, systemctl) or a built-in check, with OCF's environment, a hard timeout and the
 * exit code mapped to OCF. Never throws for anything an agent does: a missing agent, an
 * unknown exit code or garbage output become failed results with a reason.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AgentSpec, Resource } from '../../config/model.js';
import { OCF, lsbToOcf, systemdActiveToOcf, type AgentOutcome } from '../core/ocf.js';
import type { AgentCall, AgentHost, AgentResult } from './agent-types.js';
import { parseMetaData, type MetaDataResult } from './meta-data.js';
import { spawnAgent, type SpawnResult } from './spawn.js';
import { runBuiltin } from './builtins.js';

export type { AgentActionName, AgentCall, AgentHost, AgentResult } from './agent-types.js';

/**
 * The host as it is. `CARPOOL_OCF_ROOT` and `CARPOOL_OCF_RA_PATH` (colon-separated
 * `resource.d` directories, like Pacemaker's OCF_RA_PATH) override the defaults.
 */
export function defaultAgentHost(env: NodeJS.ProcessEnv = process.env): AgentHost {
  const ocfRoot = env.CARPOOL_OCF_ROOT || '/usr/lib/ocf';
  const raPath = (env.CARPOOL_OCF_RA_PATH || join(ocfRoot, 'resource.d')).split(':').filter(Boolean);
  let pid1 = 'unknown';
  try { pid1 = readFileSync('/proc/1/comm', 'utf8').trim(); } catch { /* no /proc */ }
  return { node: hostname(), ocfRoot, raPath, systemd: existsSync('/run/systemd/system'), pid1 };
}

export function agentLabel(a: AgentSpec): string {
  return a.class === 'ocf' ? `ocf:${a.provider}:${a.type}` : `${a.class}:${a.type}`;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of an OCF agent, or undefined when no directory of the RA path has it. */
export function resolveOcfAgent(host: AgentHost, provider: string, type: string): string | undefined {
  for (const dir of host.raPath) {
    const p = join(dir, provider, type);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function lsbScriptPath(type: string): string {
  return type.startsWith('/') ? type : join('/etc/init.d', type);
}

/** Environment variable name of a parameter (`OCF_RESKEY_<name>`; OCF names are [a-zA-Z0-9_]). */
export function reskey(name: string): string {
  return `OCF_RESKEY_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The agent's environment (notes §1.4): inherited minus OCF_*, then OCF's variables. */
export function ocfEnv(host: AgentHost, r: Resource, call: AgentCall, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('OCF_') && !k.startsWith('CARPOOL_OCF')) env[k] = v;
  env.PATH = base.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  env.OCF_ROOT = host.ocfRoot;
  env.OCF_RA_VERSION_MAJOR = '1';
  env.OCF_RA_VERSION_MINOR = '1';
  env.OCF_RESOURCE_INSTANCE = r.id;
  env.OCF_RESOURCE_TYPE = r.agent.type;
  if (r.agent.class === 'ocf') env.OCF_RESOURCE_PROVIDER = r.agent.provider;
  for (const [k, v] of Object.entries(r.params)) env[reskey(k)] = v;
  env.OCF_RESKEY_CRM_meta_timeout = String(call.timeoutMs);
  env.OCF_RESKEY_CRM_meta_interval = String(call.intervalMs);
  env.OCF_RESKEY_CRM_meta_name = call.action;
  env.OCF_RESKEY_CRM_meta_on_node = host.node;
  if (call.checkLevel !== undefined) env.OCF_CHECK_LEVEL = String(call.checkLevel);
  for (const [k, v] of Object.entries(r.env)) env[k] = v;
  return env;
}

function fromSpawn(s: SpawnResult, map?: (rc: number) => number): AgentResult {
  const outcome: AgentOutcome = s.outcome.kind === 'exited' && map ? { kind: 'exited', rc: map(s.outcome.rc) } : s.outcome;
  return { outcome, exitReason: s.exitReason, output: s.stderrTail, stdout: s.stdout, execMs: s.execMs };
}

/** A result carpool makes up itself (agent missing, systemd absent...). */
export function synthetic(rc: number, reason: string): AgentResult {
  return { outcome: { kind: 'exited', rc }, exitReason: reason, output: '', stdout: '', execMs: 0 };
}

export class AgentRunner {
  constructor(readonly host: AgentHost = defaultAgentHost()) {}

  /** Run one action. Resolves always; `signal` cancels (kills the process group). */
  async run(r: Resource, call: AgentCall, signal?: AbortSignal): Promise<AgentResult> {
    const a = r.agent;
    switch (a.class) {
      case 'ocf': {
        const file = resolveOcfAgent(this.host, a.provider, a.type);
        if (!file) {
          return synthetic(OCF.ERR_INSTALLED, `agent ${agentLabel(a)} not found in ${this.host.raPath.map((d) => join(d, a.provider)).join(', ')} ` +
            `(install it as ${join(this.host.raPath[0] ?? '/usr/lib/ocf/resource.d', a.provider, a.type)})`);
        }
        if (!executable(file)) return synthetic(OCF.ERR_PERM, `agent ${file} is not executable (chmod +x)`);
        return fromSpawn(await spawnAgent({ file, args: [call.action], env: ocfEnv(this.host, r, call), timeoutMs: call.timeoutMs, ...(signal ? { signal } : {}) }));
      }
      case 'lsb': {
        const file = lsbScriptPath(a.type);
        if (!existsSync(file)) return synthetic(OCF.ERR_INSTALLED, `init script ${file} not found`);
        if (call.action === 'meta-data' || call.action === 'validate-all') return synthetic(OCF.SUCCESS, '');
        const verb = call.action === 'monitor' ? 'status' : call.action;
        const env = ocfEnv(this.host, r, call);
        return fromSpawn(await spawnAgent({ file, args: [verb], env, timeoutMs: call.timeoutMs, ...(signal ? { signal } : {}) }), (rc) => lsbToOcf(verb, rc));
      }
      case 'systemd': {
        if (!this.host.systemd) {
          return synthetic(OCF.ERR_INSTALLED, `systemd is not PID 1 on this host (PID 1 is '${this.host.pid1}'): ` +
            `systemd:${a.type} cannot be managed here; use an OCF agent, an LSB script or builtin:command`);
        }
        if (call.action === 'meta-data' || call.action === 'validate-all') return synthetic(OCF.SUCCESS, '');
        const unit = a.type.includes('.') ? a.type : `${a.type}.service`;
        const env = ocfEnv(this.host, r, call);
        const opts = { file: 'systemctl', env, timeoutMs: call.timeoutMs, ...(signal ? { signal } : {}) };
        if (call.action === 'monitor') {
          const s = await spawnAgent({ ...opts, args: ['is-active', unit] });
          const rc = s.outcome.kind === 'exited' ? systemdActiveToOcf(s.stdout) : undefined;
          return rc === undefined ? fromSpawn(s) : { ...fromSpawn(s), outcome: { kind: 'exited', rc } };
        }
        return fromSpawn(await spawnAgent({ ...opts, args: [call.action, unit] }), (rc) => (rc === 0 ? 0 : OCF.ERR_GENERIC));
      }
      case 'builtin':
        return runBuiltin(r, call, this.host, signal);
    }
  }

  /** The agent's meta-data (OCF agents only; others have none). */
  async metaData(r: Resource, timeoutMs = 5000): Promise<MetaDataResult> {
    if (r.agent.class !== 'ocf') return { ok: false, reason: `${r.agent.class} agents have no meta-data` };
    const res = await this.run(r, { action: 'meta-data', intervalMs: 0, timeoutMs });
    if (res.outcome.kind !== 'exited' || res.outcome.rc !== 0) {
      return { ok: false, reason: `meta-data failed: ${res.exitReason || res.outcome.kind}${res.output ? ` (${res.output.split('\n').pop()})` : ''}` };
    }
    return parseMetaData(res.stdout);
  }
}
