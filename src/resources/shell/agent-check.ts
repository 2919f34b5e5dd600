/**
 * What only the host can tell about a configuration's resources: is each agent installed,
 * and does the resource give every parameter the agent's own meta-data marks required?
 * Runs at `carpool check` and before `carpool run` starts (from cli/load-config.ts), so a missing
 * `ip` for IPaddr2 is a file:line error before anything touches the network. Synchronous:
 * it runs once at start-up, before the daemon elects.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ConfigDiagnostic } from '../../config/diagnostics.js';
import type { CarpoolConfig, Resource } from '../../config/model.js';
import { suggest } from '../../config/common.js';
import { agentLabel, defaultAgentHost, lsbScriptPath, ocfEnv, resolveOcfAgent, type AgentHost } from './agents.js';
import { parseMetaData, type MetaDataResult } from './meta-data.js';
import { exitReasonOf } from './spawn.js';
import { rcName } from '../core/ocf.js';
import { existsSync, readdirSync } from 'node:fs';

const META_DATA_TIMEOUT_MS = 10_000;

function metaDataSync(host: AgentHost, file: string, r: Resource): MetaDataResult {
  const res = spawnSync(file, ['meta-data'], {
    env: ocfEnv(host, r, { action: 'meta-data', intervalMs: 0, timeoutMs: META_DATA_TIMEOUT_MS }),
    timeout: META_DATA_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 1024 * 1024, cwd: '/',
  });
  if (res.error) return { ok: false, reason: `cannot run ${file} meta-data: ${res.error.message}` };
  if (res.status !== 0) return { ok: false, reason: `${file} meta-data exited with ${res.status ?? res.signal}` };
  return parseMetaData(res.stdout);
}

export interface AgentCheckOptions {
  /**
   * Also run each OCF agent's `validate-all` with OCF_CHECK_LEVEL=10 (may inspect this host:
   * files, interfaces). 2 (invalid here) and 6 (not configured) are errors, other failures
   * warnings, 3 (not implemented) is fine. Off by default: the file may be for another host.
   */
  readonly validate?: boolean;
  /**
   * `carpool check --host` (and `run`): the file is for this host, so a missing agent or a host
   * without systemd for a systemd resource is an error, not a warning.
   */
  readonly host?: boolean;
}

/** Names in a directory, none when it cannot be read. */
function listDir(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

/**
 * The installed agent a mistyped name meant: same name in another case, the same letters in
 * another order (`ngnix` → `nginx`), or a close edit.
 */
export function closestName(word: string, names: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const sorted = (x: string) => [...x.toLowerCase()].sort().join('');
  return names.find((n) => n.toLowerCase() === lower)
    ?? names.find((n) => n.length === word.length && sorted(n) === sorted(word))
    ?? suggest(word, names);
}

/** Installed OCF agents as `provider:type`, over the whole search path. */
function installedOcf(host: AgentHost): string[] {
  return host.raPath.flatMap((dir) => listDir(dir).flatMap((provider) => listDir(join(dir, provider)).map((t) => `${provider}:${t}`)));
}

function validateSync(host: AgentHost, file: string, r: Resource): { rc: number | null; reason: string } {
  const env = ocfEnv(host, r, { action: 'validate-all', intervalMs: 0, timeoutMs: META_DATA_TIMEOUT_MS, checkLevel: 10 });
  const res = spawnSync(file, ['validate-all'], { env, timeout: META_DATA_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8', cwd: '/' });
  const stderr = res.stderr ?? '';
  const reason = exitReasonOf(stderr) || stderr.trim().split('\n').pop() || (res.error ? res.error.message : '');
  return { rc: res.error || res.signal ? null : res.status, reason };
}

/** Diagnostics (errors and warnings) for the resources of `config`; empty when there are none. */
export function checkResourceAgents(config: CarpoolConfig, host: AgentHost = defaultAgentHost(), opts: AgentCheckOptions = {}): ConfigDiagnostic[] {
  const out: ConfigDiagnostic[] = [];
  for (const r of config.resources?.resources ?? []) {
    const at = r.origin ?? { file: config.source, line: 1, column: 1 };
    const where = `resource '${r.id}'`;
    const label = agentLabel(r.agent);
    const warn = (code: ConfigDiagnostic['code'], message: string, expected: string) =>
      out.push({ ...at, code, severity: 'warning', message, expected });
    const error = (code: ConfigDiagnostic['code'], message: string, expected: string) =>
      out.push({ ...at, code, severity: 'error', message, expected });
    switch (r.agent.class) {
      case 'ocf': {
        const file = resolveOcfAgent(host, r.agent.provider, r.agent.type);
        if (!file) {
          const base = host.raPath[0] ?? '/usr/lib/ocf/resource.d';
          const installed = installedOcf(host);
          const providers = [...new Set(installed.map((x) => x.split(':')[0]!))];
          const provider = r.agent.provider;
          const sameProvider = installed.filter((x) => x.startsWith(`${provider}:`)).map((x) => x.slice(provider.length + 1));
          const typeGuess = closestName(r.agent.type, sameProvider);
          // A mistyped provider (`haertbeat`): the type in the provider it meant.
          const providerGuess = providers.includes(provider) ? undefined : closestName(provider, providers);
          const typeInGuess = providerGuess !== undefined
            ? closestName(r.agent.type, installed.filter((x) => x.startsWith(`${providerGuess}:`)).map((x) => x.slice(providerGuess.length + 1)))
            : undefined;
          const anyGuess = typeGuess ? `${provider}:${typeGuess}` : typeInGuess ? `${providerGuess}:${typeInGuess}` : undefined;
          const builtinProvider = ['heartbeat', 'pacemaker', 'linbit', 'clusterlabs'].includes(r.agent.provider);
          const missing = `${where}: agent ${label} is not installed on this host (no ${join(base, r.agent.provider, r.agent.type)})`;
          const report = opts.host ? error : warn;
          if (anyGuess) {
            // The provider's agents are there: a typo, not a missing package.
            report('AGENT_NOT_FOUND', `${missing} — did you mean ocf:${anyGuess}?`, `agent: ocf:${anyGuess}`);
          } else if (providers.includes(r.agent.provider)) {
            report('AGENT_NOT_FOUND', `${missing}; ${r.agent.provider} has ${sameProvider.length} agents here, none of that name`,
              `one of the agents in ${join(base, r.agent.provider)}/ (ls it), or install the agent there`);
          } else {
            report('AGENT_NOT_FOUND', missing + (builtinProvider ? '' : `; '${r.agent.provider}' is a custom provider: install its agent in that directory`),
              builtinProvider ? 'install the resource-agents package' : `an executable OCF agent in ${join(base, r.agent.provider)}/`);
          }
          break;
        }
        const md = metaDataSync(host, file, r);
        if (!md.ok) {
          warn('AGENT_META_DATA', `${where}: cannot read the meta-data of ${label}: ${md.reason}; its parameters are not checked`, 'an agent that prints OCF meta-data');
          break;
        }
        const names = md.meta.parameters.map((p) => p.name);
        for (const p of md.meta.parameters) {
          if (p.required && r.params[p.name] === undefined) {
            error('AGENT_PARAM_MISSING', `${where}: ${label} requires parameter '${p.name}'${p.shortdesc ? ` (${p.shortdesc})` : ''}, according to its meta-data`,
              `params: { ${p.name}: ... }`);
          }
        }
        for (const k of Object.keys(r.params)) {
          if (!names.includes(k)) {
            const guess = suggest(k, names);
            warn('AGENT_PARAM_UNKNOWN', `${where}: ${label} has no parameter '${k}'${guess ? ` — did you mean '${guess}'?` : ''}`, `one of ${names.join(', ')}`);
          }
        }
        if (opts.validate && md.meta.actions.some((a) => a.name === 'validate-all')) {
          const v = validateSync(host, file, r);
          const text = `${where}: ${label} validate-all says ${v.rc === null ? 'nothing (it did not finish)' : `'${rcName(v.rc)}' (${v.rc})`}${v.reason ? `: ${v.reason}` : ''}`;
          if (v.rc === 2 || v.rc === 6) error('AGENT_VALIDATE', text, 'parameters the agent accepts on this host');
          else if (v.rc !== 0 && v.rc !== 3) warn('AGENT_VALIDATE', text, 'validate-all exiting 0');
        }
        break;
      }
      case 'lsb': {
        const file = lsbScriptPath(r.agent.type);
        if (!existsSync(file)) {
          const guess = r.agent.type.startsWith('/') ? undefined : closestName(r.agent.type, listDir('/etc/init.d'));
          (opts.host ? error : warn)('AGENT_NOT_FOUND', `${where}: init script ${file} does not exist on this host${guess ? ` — did you mean lsb:${guess}?` : ''}`,
            guess ? `agent: lsb:${guess}` : 'an LSB init script');
        }
        break;
      }
      case 'systemd':
        if (!host.systemd) {
          (opts.host ? error : warn)('SYSTEMD_NOT_PID1', `${where}: systemd is not PID 1 on this host (PID 1 is '${host.pid1}'): ${label} cannot run here`,
            'an OCF agent, an LSB script or builtin:command on hosts without systemd');
        }
        break;
      case 'builtin':
        break;
    }
  }
  return out;
}
