/**
 * The soak's checker, pure: from the samplers' change records (which host held which virtual
 * address, where the service ran, and when), the periods with two holders and with none, each
 * labelled with the fault phase it started in; and the summary criteria with PASS/FAIL.
 */

/** One sampler record: what `host` held from time `t` on. */
export interface Sample {
  readonly t: number;
  readonly host: string;
  readonly held: readonly string[];
  readonly svc: boolean;
}

export interface Phase {
  readonly name: string;
  readonly from: number;
  readonly to: number;
}

export interface Period {
  /** Offset from the start of the measured window, ms. */
  readonly at: number;
  readonly ms: number;
  readonly phase: string;
  readonly hosts: readonly string[];
}

export interface Holding {
  /** Periods with two or more holders at once. */
  readonly dual: Period[];
  /** Periods with no holder (after the first holder appeared). */
  readonly none: Period[];
}

export function phaseAt(phases: readonly Phase[], t: number): string {
  return phases.find((p) => t >= p.from && t < p.to)?.name ?? 'between';
}

/**
 * Who held what over [from, to]: `holds` says whether a sample means "holding". Records before
 * `from` set the initial state; a period still open at `to` ends there.
 */
export function holding(samples: readonly Sample[], holds: (s: Sample) => boolean, from: number, to: number, phases: readonly Phase[]): Holding {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const state = new Map<string, boolean>();
  const dual: Period[] = [];
  const none: Period[] = [];
  let dualFrom: number | undefined;
  let dualHosts = new Set<string>();
  let noneFrom: number | undefined;
  let seenHolder = false;
  const count = (): number => [...state.values()].filter(Boolean).length;
  const close = (list: Period[], start: number, end: number, hosts: readonly string[]): void => {
    const a = Math.max(start, from);
    if (end > a) list.push({ at: Math.round(a - from), ms: Math.round(end - a), phase: phaseAt(phases, a), hosts });
  };
  const update = (t: number): void => {
    const n = count();
    if (n > 0) seenHolder = true;
    if (n >= 2) {
      if (dualFrom === undefined) { dualFrom = t; dualHosts = new Set(); }
      for (const [h, v] of state) if (v) dualHosts.add(h);
    } else if (dualFrom !== undefined) {
      close(dual, dualFrom, t, [...dualHosts].sort());
      dualFrom = undefined;
    }
    if (n === 0 && seenHolder) {
      noneFrom ??= t;
    } else if (noneFrom !== undefined) {
      close(none, noneFrom, t, []);
      noneFrom = undefined;
    }
  };
  for (const s of sorted) {
    if (s.t > to) break;
    state.set(s.host, holds(s));
    update(s.t);
  }
  if (dualFrom !== undefined) close(dual, dualFrom, to, [...dualHosts].sort());
  if (noneFrom !== undefined) close(none, noneFrom, to, []);
  return { dual, none };
}

/** Whether a sample shows `vip` (any prefix length). */
export const holdsVip = (vip: string) => (s: Sample): boolean => s.held.some((a) => a.startsWith(`${vip}/`));

export interface Criterion {
  readonly name: string;
  readonly ok: boolean;
  readonly value: string;
  readonly limit: string;
}

export const maxOf = (xs: readonly number[]): number => xs.reduce((m, x) => Math.max(m, x), 0);

export const mib = (kb: number): string => `${(kb / 1024).toFixed(1)} MiB`;
