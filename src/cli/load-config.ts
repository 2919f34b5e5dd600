/**
 * `carpool run`, `check` and `convert` read a configuration and then ask this host about its
 * resource agents (installed? required parameters per their meta-data? validate-all with
 * `--validate`), so a missing `ip` for IPaddr2 is a file:line error before anything touches the
 * network. The config front ends stay pure of agents: config/ never reaches resources/shell/.
 */
import { readFileSync } from 'node:fs';
import { CarpoolError, ConfigError } from '../lib/errors.js';
import type { CarpoolConfig } from '../config/model.js';
import { detectConfigFormat, loadConfigFile, printWarning, type LoadOptions } from '../config/load.js';
import { checkResourceAgents } from '../resources/shell/agent-check.js';

export interface CheckedLoadOptions extends LoadOptions {
  /** Also run the agents' validate-all on this host (`carpool check --validate`). */
  readonly validateAgents?: boolean;
}

/**
 * `loadConfigFile`, then the agent check: the parser's warnings, then the agents' warnings go to
 * `onWarning`; agent errors throw `ConfigError`.
 */
export function loadCheckedConfig(path: string, options: CheckedLoadOptions = {}): CarpoolConfig {
  const onWarning = options.onWarning ?? printWarning;
  const config = loadConfigFile(path, { ...options, onWarning });
  const diagnostics = checkResourceAgents(config, undefined, { validate: options.validateAgents ?? false });
  for (const w of diagnostics) if (w.severity === 'warning') onWarning(w);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new ConfigError(errors);
  return config;
}

/**
 * `carpool run` until the balancer's data plane lands: a configuration with load balancing is
 * valid (`check` and `convert` accept it) but cannot run yet. keepalived.conf users keep the
 * VRRP part with `--vrrp-only`, as with `keepalived --vrrp`.
 */
export function refuseBalancers(config: CarpoolConfig, path: string, format?: 'keepalived' | 'yaml'): void {
  if (!config.balancers) return;
  const keepalived = (format ?? detectConfigFormat(readFileSync(path, 'utf8'))) === 'keepalived';
  throw keepalived
    ? new CarpoolError('BALANCER_NOT_AVAILABLE', 'virtual_server: the load balancer is not available in this version yet; run with --vrrp-only to use the VRRP part',
      `carpool run --vrrp-only -c ${path} (carpool check and carpool convert accept the virtual_server blocks)`)
    : new CarpoolError('BALANCER_NOT_AVAILABLE', 'balancers: the load balancer is not available in this version yet; remove balancers: to run the rest',
      'carpool check accepts balancers:, carpool run does not yet');
}
