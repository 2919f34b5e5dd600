/**
 * Routes and policy rules in the kernel, over netlink (no `ip` fork on a takeover): an
 * instance's `virtual_routes` / `virtual_rules` while it is master, and the configuration's
 * static addresses, routes and rules (`static_*`) from start to a clean stop.
 *
 * Like keepalived, carpool does not watch them: a route or rule deleted behind its back stays
 * deleted until the instance next becomes master (static ones: until the next start). Failures
 * are logged, never fatal: the election goes on (keepalived logs them the same way).
 */
import type { StaticSetup, VirtualRoute, VirtualRule } from '../config/model.js';
import {
  addAddress, addRoute, addRule, deleteAddress, deleteRoute, deleteRule, interfaceInfo, ROUTE_SCOPES, type RouteSpec, type RuleSpec,
} from '../net/link.js';
import type { Logger } from './logger.js';

const RT_TYPES: Readonly<Record<string, number>> = { unicast: 1, blackhole: 6, unreachable: 7, prohibit: 8, throw: 9 };
const FR_ACTIONS: Readonly<Record<string, number>> = { blackhole: 6, unreachable: 7, prohibit: 8 };
const RT_TABLE_MAIN = 254;

/** How a route is written in a log line. */
export function describeRoute(r: VirtualRoute): string {
  const dst = r.prefix === 0 ? 'default' : `${r.dst}/${r.prefix}`;
  const via = r.gateway ? ` via ${r.gateway}` : r.nexthops ? ` via ${r.nexthops.map((h) => h.gateway ?? h.dev).join(' + ')}` : '';
  return `${r.type ? `${r.type} ` : ''}${dst}${via}${r.dev ? ` dev ${r.dev}` : ''}${r.table ? ` table ${r.table}` : ''}`;
}

/** How a rule is written in a log line. */
export function describeRule(r: VirtualRule): string {
  return `rule${r.priority !== undefined ? ` ${r.priority}` : ''} from ${r.from ?? 'all'}${r.to ? ` to ${r.to}` : ''}`
    + `${r.fwmark !== undefined ? ` fwmark ${r.fwmark}` : ''} ${r.type ?? `table ${r.table ?? RT_TABLE_MAIN}`}`;
}

/**
 * The netlink request of a route. `defaultDev`: the device of a unicast route that names
 * neither a device nor next hops (an instance's interface; undefined for static routes: the
 * kernel finds it from the gateway). A missing device is an error naming it.
 */
export function routeSpec(r: VirtualRoute, defaultDev: string | undefined): RouteSpec {
  const type = r.type ? RT_TYPES[r.type] : undefined;
  const unicast = type === undefined || type === 1;
  const ifindexOf = (dev: string): number => {
    const i = interfaceInfo(dev)?.index;
    if (i === undefined) throw new Error(`no interface ${dev}`);
    return i;
  };
  const dev = r.dev ?? (unicast && !r.nexthops ? defaultDev : undefined);
  return {
    family: r.family, dst: r.dst, prefix: r.prefix,
    ...(r.gateway ? { gateway: r.gateway } : {}),
    ...(dev && unicast ? { ifindex: ifindexOf(dev) } : {}),
    ...(r.table ? { table: r.table } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}),
    ...(r.src ? { src: r.src } : {}),
    ...(r.scope ? { scope: ROUTE_SCOPES[r.scope] } : {}),
    ...(r.proto !== undefined ? { proto: r.proto } : {}),
    ...(type ? { type } : {}),
    ...(r.nexthops ? {
      nexthops: r.nexthops.map((h) => ({
        ...(h.gateway ? { gateway: h.gateway } : {}), ...(h.dev ? { ifindex: ifindexOf(h.dev) } : {}), ...(h.weight ? { weight: h.weight } : {}),
      })),
    } : {}),
  };
}

/** The netlink request of a rule: `ADDR/LEN` split, the table defaulting to main as `ip rule add`. */
export function ruleSpec(r: VirtualRule): RuleSpec {
  const side = (p: string | undefined) => {
    if (!p) return undefined;
    const [address, len] = p.split('/');
    return { address: address!, prefix: Number(len) };
  };
  const from = side(r.from);
  const to = side(r.to);
  return {
    family: r.family,
    ...(from ? { from } : {}), ...(to ? { to } : {}),
    ...(r.type ? { action: FR_ACTIONS[r.type]! } : { table: r.table ?? RT_TABLE_MAIN }),
    ...(r.priority !== undefined ? { priority: r.priority } : {}),
    ...(r.fwmark !== undefined ? { fwmark: r.fwmark } : {}),
    ...(r.fwmask !== undefined ? { fwmask: r.fwmask } : {}),
    ...(r.iif ? { iif: r.iif } : {}),
    ...(r.oif ? { oif: r.oif } : {}),
  };
}

/** Add or delete one route; false (logged with `prefix`) on failure. */
export function applyRoute(r: VirtualRoute, add: boolean, defaultDev: string | undefined, log: Logger, prefix = ''): boolean {
  try {
    const spec = routeSpec(r, defaultDev);
    if (add) addRoute(spec); else deleteRoute(spec);
    return true;
  } catch (err) {
    log.error(`${prefix}cannot ${add ? 'add' : 'remove'} route ${describeRoute(r)}: ${(err as Error).message}`);
    return false;
  }
}

/** Add or delete one rule; `'exists'` when an identical rule was there already. */
export function applyRule(r: VirtualRule, add: boolean, log: Logger, prefix = ''): 'done' | 'exists' | 'failed' {
  try {
    if (add) return addRule(ruleSpec(r)) === 'exists' ? 'exists' : 'done';
    deleteRule(ruleSpec(r));
    return 'done';
  } catch (err) {
    log.error(`${prefix}cannot ${add ? 'add' : 'remove'} ${describeRule(r)}: ${(err as Error).message}`);
    return 'failed';
  }
}

/**
 * The static part (keepalived `static_ipaddress`, `static_routes`, `static_rules`): installed
 * at start in that order, removed on a clean stop in the reverse order. An address or rule that
 * was there before the daemon started is left in place at stop; routes are installed with
 * replace semantics (like keepalived), so they are all removed.
 */
export class StaticRouting {
  private readonly addedAddresses = new Set<number>();
  private readonly addedRules = new Set<number>();
  private installed = false;

  constructor(private readonly setup: StaticSetup, private readonly log: Logger) {}

  install(): void {
    if (this.installed) return;
    this.installed = true;
    const { addresses, routes, rules } = this.setup;
    addresses.forEach((a, i) => {
      const text = `${a.address}/${a.prefix} dev ${a.dev ?? '?'}`;
      try {
        const ifindex = interfaceInfo(a.dev!)?.index;
        if (ifindex === undefined) throw new Error(`no interface ${a.dev ?? ''}`);
        const r = addAddress({
          ifindex, address: a.address, prefix: a.prefix, ...(a.family === 6 ? { nodad: true } : {}),
          ...(a.label ? { label: a.label } : {}), ...(a.broadcast ? { broadcast: a.broadcast } : {}),
          ...(a.scope ? { scope: ROUTE_SCOPES[a.scope] } : {}),
        });
        if (r === 'added') this.addedAddresses.add(i);
      } catch (err) {
        this.log.error(`static address ${text}: cannot add: ${(err as Error).message}`);
      }
    });
    for (const r of routes) applyRoute(r, true, undefined, this.log, 'static: ');
    rules.forEach((r, i) => {
      if (applyRule(r, true, this.log, 'static: ') === 'done') this.addedRules.add(i);
    });
    const n = addresses.length + routes.length + rules.length;
    this.log.info(`static: ${addresses.length} address(es), ${routes.length} route(s), ${rules.length} rule(s) installed (${n} in all)`);
  }

  remove(): void {
    if (!this.installed) return;
    this.installed = false;
    const { addresses, routes, rules } = this.setup;
    rules.forEach((r, i) => { if (this.addedRules.has(i)) applyRule(r, false, this.log, 'static: '); });
    for (const r of routes) applyRoute(r, false, undefined, this.log, 'static: ');
    addresses.forEach((a, i) => {
      if (!this.addedAddresses.has(i)) return;
      const ifindex = interfaceInfo(a.dev!)?.index;
      try {
        if (ifindex !== undefined) deleteAddress({ ifindex, address: a.address, prefix: a.prefix });
      } catch (err) {
        this.log.error(`static address ${a.address}/${a.prefix}: cannot remove: ${(err as Error).message}`);
      }
    });
    this.addedAddresses.clear();
    this.addedRules.clear();
  }
}
