/**
 * What `carpool run` refuses about a configuration that parsed, before anything changes, and
 * `carpool check` refuses the same from this one function (no second copy of the rules):
 * - virtual servers the balancer cannot run (balancer/from-config.ts `balancerRefusals`:
 *   DR/TUN with a count-based scheduler, no port, ops, mixed lb_kind...);
 * - what its nftables plane cannot hold (PlaneError, balancer/shell/balancer.ts `planeProblems`:
 *   a DR port change, mixed real-server ports, two services matching the same packets...);
 * - a CARP (or a `sharing:` bucket) and a VRRPv2 election with the same id on one interface
 *   (election/id-collisions.ts).
 * Each at the file:line of what it is about, with what is expected. What only the host can tell
 * (interfaces, addresses, nft -c, ipip) is `carpool check --host`'s (host-check.ts) and the
 * daemon's at start.
 */
import { readFileSync } from 'node:fs';
import type { CarpoolConfig } from '../config/model.js';
import { CarpoolError, type Diagnostic } from '../lib/errors.js';
import { formatDiagnostic } from '../lib/errors.js';
import { detectConfigFormat } from '../config/load.js';
import { instanceCollisions } from '../election/id-collisions.js';

/** Refused as a whole: it goes with `--vrrp-only` for keepalived.conf. */
const BALANCER_CODES = /^(BALANCER_NOT_SUPPORTED|PLANE_)/;

/** The line of the first of `patterns` in `file` (1 when none matches or the file is unreadable). */
function lineOf(file: string, patterns: readonly RegExp[]): number {
  let lines: string[];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    return 1;
  }
  for (const re of patterns) {
    const i = lines.findIndex((l) => re.test(l));
    if (i >= 0) return i + 1;
  }
  return 1;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every problem `carpool run` refuses this configuration for before it changes anything (empty = none). */
export async function preflight(config: CarpoolConfig): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const file = config.source;
  const at = (o: { file: string; line: number; column: number } | undefined) => o ?? { file, line: 1, column: 1 };

  // The bucket elections of `sharing:` count too (CARP, their vhids do not depend on which node this is).
  const buckets = config.sharing?.length
    ? (await import('../sharing/shell/sharing.js')).bucketInstancesOf(config.sharing)
    : [];
  for (const c of instanceCollisions([...config.instances, ...buckets])) {
    const name = escape(c.vrrp.name);
    const line = lineOf(file, [new RegExp(`^\\s*vrrp_instance\\s+${name}\\b`), new RegExp(`name:\\s*["']?${name}["']?\\s*(?:[,}]|$)`)]);
    out.push({ file, line, column: 1, code: 'ID_COLLISION', message: `carpool run refuses this: ${c.message}`, expected: c.hint });
  }

  const b = config.balancers;
  if (b && b.virtualServers.length) {
    // Loaded only when the file has virtual servers.
    const { balancerRefusals } = await import('../balancer/from-config.js');
    const refused = balancerRefusals(b, config.instances);
    for (const r of refused) {
      out.push({ ...at(r.vs.origin), code: 'BALANCER_NOT_SUPPORTED', message: `carpool run refuses this: ${r.message}`,
        expected: 'what the load balancer runs (docs/balancer.md, "The shell: what works now")' });
    }
    if (refused.length === 0) {
      const [{ Balancer }, { Logger }] = await Promise.all([import('../balancer/shell/balancer.js'), import('../daemon/logger.js')]);
      const log = new Logger({ ident: 'carpool', facility: 'none', debug: false, console: false });
      // Planned only (nothing runs, nothing is probed): the same planner the daemon applies.
      for (const p of new Balancer(b, { log, now: () => 0, instances: config.instances }).planeProblems()) {
        out.push({ ...at(p.vs.origin), code: p.code, message: `carpool run refuses this: virtual_server ${p.vs.name}: the nftables plane cannot hold it: ${p.message}`,
          expected: p.hint ?? 'a virtual server the plane can hold (docs/balancer.md)' });
      }
    }
  }
  return out;
}

/**
 * `carpool run`: throw what `preflight` finds, as one error with every line; for keepalived.conf
 * the balancer's part says that `--vrrp-only` runs the VRRP part (as `keepalived --vrrp`).
 */
export async function refuseBeforeRun(config: CarpoolConfig, path: string, format?: 'keepalived' | 'yaml'): Promise<void> {
  const found = await preflight(config);
  if (found.length === 0) return;
  const balancer = found.every((d) => BALANCER_CODES.test(d.code ?? ''));
  const keepalived = (format ?? detectConfigFormat(readFileSync(path, 'utf8'))) === 'keepalived';
  throw new CarpoolError(balancer ? 'BALANCER_NOT_SUPPORTED' : 'CONFIG_INVALID', found.map(formatDiagnostic).join('\n'),
    balancer && keepalived ? `change these virtual servers, or run carpool run --vrrp-only -c ${path} to use only the VRRP part`
      : `fix the lines above; \`carpool check -c ${path}\` reports the same without touching the network`);
}
