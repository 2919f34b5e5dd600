/**
 * What the configuration tests share: the diagnostics of a parse or load that throws a
 * ConfigError, and the smallest valid carpool.yaml.
 */
import type { ConfigDiagnostic } from '../../src/config/diagnostics.js';
import { ConfigError } from '../../src/lib/errors.js';

/** One CARP instance `web` on eth0: a carpool.yaml that other sections can be appended to. */
export const INSTANCES = `instances:
  - name: web
    interface: eth0
    vhid: 1
    password: secret
    addresses: [10.0.0.100/24]
`;

/** The diagnostics of the ConfigError `run` throws, or undefined if it returns; other errors pass through. */
function thrownDiagnostics(run: () => unknown): ConfigDiagnostic[] | undefined {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return e.diagnostics as ConfigDiagnostic[];
    throw e;
  }
  return undefined;
}

/** The diagnostics of the ConfigError `run` must throw. */
export function configErrors(run: () => unknown): ConfigDiagnostic[] {
  const diagnostics = thrownDiagnostics(run);
  if (diagnostics === undefined) throw new Error('expected a ConfigError');
  return diagnostics;
}

/** The diagnostics of the ConfigError `run` throws, none if it returns. */
export function configErrorsIfAny(run: () => unknown): ConfigDiagnostic[] {
  return thrownDiagnostics(run) ?? [];
}
