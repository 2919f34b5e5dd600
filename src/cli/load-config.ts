/**
 * `carpool run`, `check` and `convert` read a configuration and then ask this host about its
 * resource agents (installed? required parameters per their meta-data? validate-all with
 * `--validate`), so a missing `ip` for IPaddr2 is a file:line error before anything touches the
 * network. The config front ends stay pure of agents: config/ never reaches resources/shell/.
 */
import { ConfigError } from '../lib/errors.js';
import type { CarpoolConfig } from '../config/model.js';
import { loadConfigFile, printWarning, type LoadOptions } from '../config/load.js';
import { checkResourceAgents } from '../resources/shell/agent-check.js';

export interface CheckedLoadOptions extends LoadOptions {
  /** Also run the agents' validate-all on this host (`carpool check --validate`). */
  readonly validateAgents?: boolean;
  /** Leave the agents out (`carpool check --host` checks them itself with the host's other facts). */
  readonly skipAgents?: boolean;
}

/**
 * `loadConfigFile`, then the agent check: the parser's warnings, then the agents' warnings go to
 * `onWarning`; agent errors throw `ConfigError`.
 */
export function loadCheckedConfig(path: string, options: CheckedLoadOptions = {}): CarpoolConfig {
  const onWarning = options.onWarning ?? printWarning;
  const config = loadConfigFile(path, { ...options, onWarning });
  if (options.skipAgents) return config;
  const diagnostics = checkResourceAgents(config, undefined, { validate: options.validateAgents ?? false });
  for (const w of diagnostics) if (w.severity === 'warning') onWarning(w);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new ConfigError(errors);
  return config;
}

/**
 * `carpool check` on the host it runs on, changing nothing: what `carpool run` checks before
 * it starts the balancer — DR real servers on a LAN of this host, ipip for TUN, and as root
 * `nft -c` of the first ruleset (kernel support, interfaces). Throws CarpoolError (DR_NOT_ON_LINK,
 * DR_EGRESS, TUN_UNSUPPORTED, NFT_MISSING, NFT_UNSUPPORTED) with the fix; returns what was checked.
 */
export async function checkBalancersHere(config: CarpoolConfig): Promise<string> {
  if (!config.balancers?.virtualServers.length) return '';
  const root = process.getuid?.() === 0;
  const [{ Balancer }, { Logger }] = await Promise.all([import('../balancer/shell/balancer.js'), import('../daemon/logger.js')]);
  const log = new Logger({ ident: 'carpool', facility: 'none', debug: false, console: true, stdout: process.stderr });
  await new Balancer(config.balancers, { log, now: () => performance.now(), instances: config.instances }).check({ nft: root });
  return root ? 'ruleset accepted by nft -c here' : 'not root: nft -c skipped';
}
