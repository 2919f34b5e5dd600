/** Notify commands and gratuitous ARP settings of an instance (garp with the global defaults applied). */
import type { GarpSettings, NotifyHooks } from '../model.js';
import { ms, type InstanceCheck } from './check.js';
import type { GarpSpec, NotifySpec } from './spec.js';

export function notifyHooks(n: NotifySpec): NotifyHooks {
  return {
    ...(n.master ? { master: n.master.value } : {}),
    ...(n.backup ? { backup: n.backup.value } : {}),
    ...(n.fault ? { fault: n.fault.value } : {}),
    ...(n.stop ? { stop: n.stop.value } : {}),
    ...(n.generic ? { generic: n.generic.value } : {}),
  };
}

export function buildGarp(c: InstanceCheck, family: 4 | 6): GarpSettings | undefined {
  const s: GarpSpec = c.s.garp;
  const d: GarpSpec = c.d.garp;
  const range = c.range.bind(c);
  const pick = (k: keyof Omit<GarpSpec, 'minGarp'>) => s[k] ?? d[k];
  range(pick('masterDelay'), 'garp_master_delay', 0, 1000, false);
  range(pick('masterRepeat'), 'garp_master_repeat', 1, 255);
  range(pick('masterRefresh'), 'garp_master_refresh', 0, 86400, false);
  range(pick('masterRefreshRepeat'), 'garp_master_refresh_repeat', 1, 255);
  range(pick('lowerPrioRepeat'), 'garp_lower_prio_repeat', 0, 255);
  range(pick('lowerPrioDelay'), 'garp_lower_prio_delay', 0, 1000, false);
  range(pick('interval'), 'garp_interval', 0, 1000, false);
  range(d.gnaInterval, 'vrrp_gna_interval', 0, 1000, false);
  const min = d.minGarp?.value ?? false;
  const masterDelay = pick('masterDelay')?.value ?? (min ? 0 : 5);
  const masterRepeat = pick('masterRepeat')?.value ?? (min ? 1 : 5);
  const interval = (family === 6 && !s.interval ? d.gnaInterval ?? d.interval : pick('interval'))?.value ?? 0;
  if (masterRepeat < 1) {
    c.e(pick('masterRepeat')!.at, 'OUT_OF_RANGE', `garp_master_repeat in ${c.owner}: got ${masterRepeat}`, 'an integer 1..255');
    return undefined;
  }
  return {
    masterDelayMs: ms(masterDelay),
    masterRepeat,
    masterRefreshMs: ms(pick('masterRefresh')?.value ?? 0),
    masterRefreshRepeat: pick('masterRefreshRepeat')?.value ?? 1,
    lowerPrioRepeat: pick('lowerPrioRepeat')?.value ?? 1,
    lowerPrioDelayMs: ms(pick('lowerPrioDelay')?.value ?? masterDelay),
    intervalMs: ms(interval),
  };
}
