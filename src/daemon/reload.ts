/**
 * Live reload (SIGHUP, `carpool reload`, `systemctl reload`): the new file is read and
 * validated (an invalid one changes nothing), `planReload` (src/config/diff.ts) compares it
 * with the configuration in force, and the plan is carried out here:
 *
 * 1. refused plans ("restart needed for ...", a blocked resource group to stop) change nothing;
 * 2. new and replacing instances are resolved first (interfaces, sources, id clashes): an
 *    error still changes nothing;
 * 3. removed and changed resource groups stop; removed and replaced instances retire together (a master bows out and keeps its
 *    addresses until the successor is heard, as on shutdown);
 * 4. VRRP trackers and sync groups take the new definitions; in-place changes go in;
 * 5. new and replacing instances are built and started; ports no instance uses close; added
 *    and changed resource groups begin (probes), following their instance's current state;
 * 6. the load balancer takes its new virtual servers as a difference (validated with the rest
 *    before step 3: an unsupported or conflicting one changes nothing): unchanged real servers
 *    keep their verdicts and running checkers, the operator's runtime changes stay unless the
 *    file changed that server, and the ruleset changes in one nft transaction.
 *
 * Instances the plan keeps are not touched at all: same machine, same timer, no advert gap.
 */
import { describePlan, planChanges, planReload, type InstanceAction } from '../config/diff.js';
import type { CarpoolConfig, Instance } from '../config/model.js';
import { CarpoolError } from '../lib/errors.js';
import type { InstanceShell } from './instance-shell.js';
import type { Logger } from './logger.js';

/** What `carpool reload` gets back. */
export interface ReloadResult {
  /** Configuration file read. */
  readonly config: string;
  /** One line per instance that changed (`web: changed in place (advskew 20 -> 40)`). */
  readonly actions: readonly string[];
  /** Instances left exactly as they were. */
  readonly unchanged: readonly string[];
  readonly notes: readonly string[];
  /** Instances whose new settings could not be applied (with why); the rest is in force. */
  readonly failed: readonly string[];
}

/** What the reload needs of the daemon. */
export interface ReloadHost {
  readonly log: Logger;
  /** The configuration in force. */
  current(): CarpoolConfig;
  shells(): readonly InstanceShell[];
  /** Check interfaces, sources and id clashes of `instances` within `all`; throws before any change. */
  check(instances: readonly Instance[], all: readonly Instance[]): unknown[];
  /** Build, attach and start one instance of `check`'s result; returns its shell. */
  add(prepared: unknown): Promise<InstanceShell>;
  /** Detach a retired shell from its ports (and remove its virtual-MAC interface). */
  unplug(shell: InstanceShell): Promise<void>;
  /** New tracker and sync-group definitions (VRRP), after the removals and before the additions. */
  reloadVrrp(config: CarpoolConfig): void;
  /** Close the ports no instance uses any more. */
  closeUnusedPorts(): void;
  /** The configuration now in force. */
  commit(config: CarpoolConfig): void;
  /** Resource groups that could not be stopped (blocked). */
  blockedGroups(): string[];
  /** Stop and forget resource groups; returns those that did not stop. */
  stopGroups(ids: readonly string[]): Promise<string[]>;
  /** `config`'s resources are in force; begin the groups `ids`. */
  startGroups(config: CarpoolConfig, ids: readonly string[]): Promise<void>;
  /**
   * Validate the load balancing of `config` against what runs; throws with nothing changed.
   * Returns the step that puts it in force: its lines for the result, and what failed.
   */
  prepareBalancers(config: CarpoolConfig): Promise<() => Promise<{ actions: string[]; failed: string[] }>>;
}

/** Carry out the reload of `next` (already validated) against what runs. Throws `RELOAD_REFUSED` / interface errors with nothing changed. */
export async function applyReload(host: ReloadHost, next: CarpoolConfig): Promise<ReloadResult> {
  const current = host.current();
  if (JSON.stringify(current.etcdInstances ?? []) !== JSON.stringify(next.etcdInstances ?? [])) {
    throw new CarpoolError('RELOAD_REFUSED', `${next.source}: etcd instances changed; they cannot be reloaded live yet`,
      'nothing was changed; restart carpool to apply it (the master releases its key and another node takes over at once)');
  }
  if (JSON.stringify(current.cluster ?? null) !== JSON.stringify(next.cluster ?? null)) {
    throw new CarpoolError('RELOAD_REFUSED', `${next.source}: the cluster block changed; it cannot be reloaded live yet`,
      'nothing was changed; restart carpool to apply it');
  }
  const plan = planReload(current, next);
  if (plan.refused.length) {
    throw new CarpoolError('RELOAD_REFUSED', `${next.source}: ${plan.refused.join('; ')}`,
      'nothing was changed; restart carpool to apply these (a planned `carpool demote` first moves the addresses without loss)');
  }
  const unchanged = plan.instances.filter((a) => a.kind === 'keep').map((a) => a.name);
  const balancers = await host.prepareBalancers(next);
  const result = (failed: string[], lb: { actions: string[]; failed: string[] }): ReloadResult => (
    { config: next.source, actions: [...describePlan(plan), ...lb.actions], unchanged, notes: plan.notes, failed: [...failed, ...lb.failed] });
  if (!planChanges(plan)) {
    const lb = await balancers();
    host.commit(next);
    for (const f of lb.failed) host.log.error(`reload: ${f}`);
    return result([], lb);
  }
  const stopping = plan.groups.filter((g) => g.kind === 'remove' || g.kind === 'restart').map((g) => g.id);
  const blocked = host.blockedGroups().filter((id) => stopping.includes(id));
  if (blocked.length) {
    throw new CarpoolError('RELOAD_REFUSED', `group ${blocked.join(', ')} could not be stopped here (blocked) and this reload would stop it`,
      `nothing was changed; \`carpool resource cleanup ${blocked[0]}\` retries the stop, then reload again`);
  }
  const starting = plan.instances.filter((a): a is Extract<InstanceAction, { kind: 'add' | 'replace' }> => a.kind === 'add' || a.kind === 'replace');
  const prepared = host.check(starting.map((a) => a.instance), next.instances);
  for (const line of describePlan(plan)) host.log.info(`reload: ${line}`);

  // Groups stop first, while their instance still holds the addresses (as at shutdown).
  const failed: string[] = (await host.stopGroups(stopping)).map((id) => `group ${id}: could not be stopped; it is no longer managed`);
  const byName = new Map(host.shells().map((s) => [s.name, s]));
  const leaving = plan.instances.filter((a) => a.kind === 'remove' || a.kind === 'replace').map((a) => byName.get(a.name)).filter((s): s is InstanceShell => !!s);
  await Promise.all(leaving.map(async (s) => {
    await s.retire();
    await host.unplug(s);
  }));
  host.reloadVrrp(next);
  for (const a of plan.instances) {
    if (a.kind !== 'update') continue;
    try {
      byName.get(a.name)?.reconfigure(a.instance);
    } catch (err) {
      failed.push(`${a.name}: ${(err as Error).message}`);
    }
  }
  const running = new Set<string>(plan.instances.filter((a) => a.kind === 'keep' || a.kind === 'update').map((a) => a.name));
  for (const [k, a] of starting.entries()) {
    try {
      await host.add(prepared[k]);
      running.add(a.name);
    } catch (err) {
      failed.push(`${a.name}: ${err instanceof CarpoolError ? err.describe() : (err as Error).message}`);
    }
  }
  host.closeUnusedPorts();
  await host.startGroups(next, plan.groups.filter((g) => g.kind === 'add' || g.kind === 'restart').map((g) => g.id));
  const lb = await balancers();
  // What failed to start is not in force: a later reload tries it again.
  host.commit({ ...next, instances: next.instances.filter((i) => running.has(i.name)) });
  for (const f of [...failed, ...lb.failed]) host.log.error(`reload: ${f}`);
  return result(failed, lb);
}
