/**
 * IPVS schedulers as pure code (notes §4; ipvsadm(8); the kernel's ip_vs_*.c behaviour as
 * documented there), in two shapes:
 *
 * 1. `pick*`: one decision per new connection, exactly as IPVS decides (list order breaks
 *    ties, overhead H = 256·active + inactive, weight 0 or overloaded = no new connection).
 *    The reference the kernel plane is measured against, and what `carpool balancer list`
 *    explains.
 * 2. `*Table`: what the nftables plane can hold in the kernel, a slot table. `numgen` tables
 *    are walked in order by `numgen inc mod N` (one counter per rule: rr and wrr exact);
 *    `hash` tables are indexed by `jhash(key) mod N` (sh, dh, mh). Least-connection families
 *    cannot be expressed in-kernel: `countTable` turns the connection counts the shell reads
 *    from conntrack into a numgen table for the next period (docs/balancer.md: how close).
 */
import { available, type Candidate, type SchedulerName } from './model.js';

// ---------------------------------------------------------------- per-connection (IPVS exact)

/** IPVS connection overhead used by lc/wlc: active connections count 256 times an inactive one. */
export function overhead(c: Candidate): number {
  return c.active * 256 + c.inactive;
}

/** rr cursor: index of the last server picked (−1 before the first). */
export interface RrState {
  readonly last: number;
}
/** wrr cursor: ip_vs_wrr's `cl` (last index) and `cw` (current weight). */
export interface WrrState {
  readonly last: number;
  readonly cw: number;
}
export const RR_START: RrState = { last: -1 };
export const WRR_START: WrrState = { last: -1, cw: 0 };

/** rr: the next available server after the last one, in list order. */
export function pickRr(servers: readonly Candidate[], st: RrState): { pick: number | undefined; state: RrState } {
  const n = servers.length;
  for (let k = 1; k <= n; k++) {
    const i = (((st.last + k) % n) + n) % n;
    if (available(servers[i]!)) return { pick: i, state: { last: i } };
  }
  return { pick: undefined, state: st };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** gcd of the positive weights (1 when there are none). */
export function weightGcd(weights: readonly number[]): number {
  return weights.filter((w) => w > 0).reduce((g, w) => gcd(g, w), 0) || 1;
}

/**
 * wrr, interleaved as ip_vs_wrr: the current weight `cw` starts at the maximum weight and
 * drops by the gcd of the weights each time the list wraps; a server is picked when its
 * weight ≥ cw. Weights 4,3,2 give a a b a b c a b c (period Σ w / gcd).
 */
export function pickWrr(servers: readonly Candidate[], st: WrrState): { pick: number | undefined; state: WrrState } {
  const n = servers.length;
  const live = servers.map((s) => (available(s) ? s.weight : 0));
  const mw = Math.max(0, ...live);
  if (n === 0 || mw === 0) return { pick: undefined, state: st };
  const g = weightGcd(live);
  let { last: i, cw } = st;
  // At most one full period (Σ w / g steps of n) before a pick; bounded for safety.
  for (let steps = 0; steps < n * (mw / g + 1); steps++) {
    i = (i + 1) % n;
    if (i === 0) {
      cw -= g;
      if (cw <= 0) cw = mw;
    }
    if (live[i]! >= cw && live[i]! > 0) return { pick: i, state: { last: i, cw } };
  }
  return { pick: undefined, state: st };
}

/** Index of the minimum by `better(a, b)` (a strictly better than b), first in list order on ties. */
function argBest(servers: readonly Candidate[], better: (a: Candidate, b: Candidate) => boolean): number | undefined {
  let best: number | undefined;
  servers.forEach((s, i) => {
    if (!available(s)) return;
    if (best === undefined || better(s, servers[best]!)) best = i;
  });
  return best;
}

/** lc: least overhead (256·active + inactive). */
export function pickLc(servers: readonly Candidate[]): number | undefined {
  return argBest(servers, (a, b) => overhead(a) < overhead(b));
}

/** wlc: least overhead / weight, compared as H_a·W_b < H_b·W_a (no division). */
export function pickWlc(servers: readonly Candidate[]): number | undefined {
  return argBest(servers, (a, b) => overhead(a) * b.weight < overhead(b) * a.weight);
}

/** sed: least expected delay (active + 1) / weight. */
export function pickSed(servers: readonly Candidate[]): number | undefined {
  return argBest(servers, (a, b) => (a.active + 1) * b.weight < (b.active + 1) * a.weight);
}

/** nq: the first idle server (no active connection), else sed. */
export function pickNq(servers: readonly Candidate[]): number | undefined {
  const idle = servers.findIndex((s) => available(s) && s.active === 0);
  return idle >= 0 ? idle : pickSed(servers);
}

/** fo: the available server with the highest weight (first on ties). */
export function pickFo(servers: readonly Candidate[]): number | undefined {
  return argBest(servers, (a, b) => a.weight > b.weight);
}

/**
 * ovf: the highest-weight server whose active connections do not exceed its weight; when
 * they do, the next highest takes the overflow (notes §4; active connections only).
 */
export function pickOvf(servers: readonly Candidate[]): number | undefined {
  return argBest(servers.map((s) => (s.active > s.weight ? { ...s, weight: 0 } : s)), (a, b) => a.weight > b.weight);
}

// ---------------------------------------------------------------- locality (lblc, lblcr)

/**
 * lblc/lblcr's overload test (ip_vs_lblc(r) documentation): a server is overloaded when its
 * active connections exceed its weight *and* some server is below half of its own weight.
 */
export function localityOverloaded(n: Candidate, servers: readonly Candidate[]): boolean {
  return n.active > n.weight && servers.some((m) => available(m) && m.active * 2 < m.weight);
}

/**
 * lblc: connections to one destination address go to that destination's server while it is
 * available and not overloaded (above); otherwise to the weighted least-connection server,
 * which becomes the destination's server. `cached` is the destination's server key (the
 * caller's table, keyed by destination address); the answer says what to store.
 */
export function pickLblc(servers: readonly Candidate[], cached: string | undefined): { pick: number | undefined; cache: string | undefined } {
  const i = cached === undefined ? -1 : servers.findIndex((s) => s.key === cached);
  if (i >= 0 && available(servers[i]!) && !localityOverloaded(servers[i]!, servers)) return { pick: i, cache: cached };
  const w = pickWlc(servers);
  return { pick: w, cache: w === undefined ? cached : servers[w]!.key };
}

/** lblcr's server set of one destination: member keys and the time of its last change (ms). */
export interface LocalitySet {
  readonly members: readonly string[];
  readonly lastModMs: number;
}

/**
 * lblcr: each destination has a set of servers. The least-connection available member
 * (weighted, overhead as wlc) serves; when there is none, or it is overloaded (above), the
 * weighted least-connection server of the whole service serves and joins the set. A set of
 * more than one member that has not changed for `expireMs` (IPVS: lblcr_expiration, 24 h)
 * loses its most loaded member. Members that left the service are dropped from the set.
 */
export function pickLblcr(servers: readonly Candidate[], set: LocalitySet | undefined, nowMs: number, expireMs: number): { pick: number | undefined; set: LocalitySet | undefined } {
  const index = new Map(servers.map((s, i) => [s.key, i]));
  let members = (set?.members ?? []).filter((k) => index.has(k));
  let changed = members.length !== (set?.members.length ?? 0);
  const inSet = members.map((k) => servers[index.get(k)!]!);
  const m = pickWlc(inSet);
  let pick = m === undefined ? undefined : index.get(inSet[m]!.key)!;
  if (pick === undefined || localityOverloaded(servers[pick]!, servers)) {
    const w = pickWlc(servers);
    if (w === undefined) return { pick: undefined, set };
    pick = w;
    if (!members.includes(servers[w]!.key)) {
      members = [...members, servers[w]!.key];
      changed = true;
    }
  }
  const lastMod = set?.lastModMs ?? nowMs;
  if (members.length > 1 && nowMs - lastMod > expireMs) {
    // The most loaded member (overhead / weight; the first on ties) leaves the set.
    let worst = 0;
    for (let k = 1; k < members.length; k++) {
      const a = servers[index.get(members[k]!)!]!;
      const b = servers[index.get(members[worst]!)!]!;
      if (overhead(a) * b.weight > overhead(b) * a.weight) worst = k;
    }
    members = members.filter((_, k) => k !== worst);
    changed = true;
  }
  return { pick, set: { members, lastModMs: changed || set === undefined ? nowMs : lastMod } };
}

// ---------------------------------------------------------------- hashing

/**
 * 32-bit FNV-1a of a string's UTF-16 code units, then murmur3's finaliser so close keys
 * spread. Deterministic across hosts and Node versions: every director builds the same
 * Maglev table from the same server keys (no shared state needed for DR failover).
 */
export function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

// ---------------------------------------------------------------- slot tables (kernel plane)

/**
 * What the nftables plane holds for one service: `slots[i]` is the key of the server that
 * gets a new connection landing in slot i, or undefined (no server: the packet is dropped).
 * `numgen`: slot = `numgen inc mod slots.length` (successive new connections walk the
 * table); `hash`: slot = `jhash(key) mod slots.length` over the source address (`saddr`),
 * source address and port (`saddr+port`) or destination address (`daddr`).
 */
export interface SlotTable {
  readonly mode: 'numgen' | 'hash';
  readonly key?: 'saddr' | 'saddr+port' | 'daddr';
  readonly slots: readonly (string | undefined)[];
}

/** Longest numgen table for wrr and the count-based schedulers; longer periods are scaled. */
export const MAX_NUMGEN_SLOTS = 4096;
/** IPVS sh/dh bucket count (IP_VS_SH_TAB_SIZE, IP_VS_DH_TAB_SIZE). */
export const HASH_BUCKETS = 256;
/** IPVS mh's ladder of prime table sizes (default 4093); we take the first ≥ 100 × servers. */
export const MAGLEV_PRIMES: readonly number[] = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];

/** rr: the available servers in list order; `numgen inc` walks them exactly as IPVS rr. */
export function rrTable(servers: readonly Candidate[]): SlotTable {
  return { mode: 'numgen', slots: servers.filter(available).map((s) => s.key) };
}

/**
 * wrr: one full period of ip_vs_wrr's interleaved sequence (length Σ w / gcd). Exact while
 * that is ≤ MAX_NUMGEN_SLOTS; beyond, the weights are scaled down proportionally first
 * (each available server keeps at least one slot), so shares are within 1/MAX of IPVS.
 */
export function wrrTable(servers: readonly Candidate[]): SlotTable {
  const live = servers.filter(available);
  if (live.length === 0) return { mode: 'numgen', slots: [] };
  let ws = live.map((s) => s.weight);
  const g = weightGcd(ws);
  ws = ws.map((w) => w / g);
  const total = ws.reduce((a, b) => a + b, 0);
  if (total > MAX_NUMGEN_SLOTS) ws = scaleWeights(ws, MAX_NUMGEN_SLOTS);
  const cands = live.map((s, i) => ({ ...s, weight: ws[i]! }));
  const period = ws.reduce((a, b) => a + b, 0);
  const slots: string[] = [];
  let st = WRR_START;
  for (let k = 0; k < period; k++) {
    const r = pickWrr(cands, st);
    if (r.pick === undefined) break;
    slots.push(cands[r.pick]!.key);
    st = r.state;
  }
  return { mode: 'numgen', slots };
}

/**
 * Integer weights summing to `budget`, proportional to `ws` (largest remainder; ties to the
 * earlier). With `keepEvery` each positive weight keeps at least 1 (a server with a weight
 * must stay in a scaled wrr table).
 */
export function scaleWeights(ws: readonly number[], budget: number, keepEvery = true): number[] {
  const total = ws.reduce((a, b) => a + b, 0);
  if (total <= 0) return ws.map(() => 0);
  const floor = keepEvery ? 1 : 0;
  const spare = Math.max(0, budget - floor * ws.filter((w) => w > 0).length);
  const raw = ws.map((w) => (w > 0 ? (w / total) * spare : 0));
  const out = raw.map((r, i) => (ws[i]! > 0 ? floor + Math.floor(r) : 0));
  let left = budget - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => ({ i, frac: r - Math.floor(r) })).filter((x) => ws[x.i]! > 0).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]!++;
    left--;
  }
  return out;
}

/**
 * sh / dh, as ip_vs_sh_reassign tiles its 256 buckets: servers in list order, each taking
 * `weight` consecutive buckets (a weight-0 server still takes one, then is skipped at
 * lookup), wrapping round. Buckets of an unavailable server are empty (dropped) unless
 * `fallback` (`sh-fallback`): then the next available server in bucket order takes them
 * (IPVS rehashes per packet instead; same effect of "some live server", not the same one).
 */
export function shTable(servers: readonly Candidate[], opts: { key: 'saddr' | 'saddr+port' | 'daddr'; fallback: boolean }): SlotTable {
  const slots: (string | undefined)[] = new Array<string | undefined>(HASH_BUCKETS).fill(undefined);
  if (servers.length > 0) {
    let p = 0;
    let count = 0;
    for (let b = 0; b < HASH_BUCKETS; b++) {
      const s = servers[p]!;
      slots[b] = s.key;
      if (++count >= s.weight) {
        p = (p + 1) % servers.length;
        count = 0;
      }
    }
  }
  const ok = new Set(servers.filter(available).map((s) => s.key));
  const out = slots.map((k) => (k !== undefined && ok.has(k) ? k : undefined));
  if (opts.fallback && ok.size > 0) {
    for (let b = 0; b < HASH_BUCKETS; b++) {
      if (out[b] !== undefined) continue;
      for (let d = 1; d < HASH_BUCKETS; d++) {
        const k = out[(b + d) % HASH_BUCKETS];
        if (k !== undefined && ok.has(k)) {
          out[b] = k;
          break;
        }
      }
    }
  }
  return { mode: 'hash', key: opts.key, slots: out };
}

/** Maglev table size for a service with `configured` real servers: the first prime of the ladder ≥ 100 × n. */
export function maglevSize(configured: number): number {
  const want = 100 * Math.max(1, configured);
  return MAGLEV_PRIMES.find((p) => p >= want) ?? MAGLEV_PRIMES[MAGLEV_PRIMES.length - 1]!;
}

/**
 * mh: Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4). Each server's preference
 * list is a permutation of the M slots: offset = h1(key) mod M, skip = h2(key) mod (M−1) + 1,
 * slot j = (offset + j·skip) mod M (a permutation because M is prime). Servers take turns
 * claiming their next free preferred slot; weights (divided by their gcd) give a server that
 * many turns per round, so shares follow weights. Only available servers take part. M must
 * stay the same while servers come and go (`maglevSize` of the configured count): then a
 * removal moves the removed server's slots and few others (measured in the tests).
 */
export function maglevTable(servers: readonly Candidate[], size: number, opts: { key: 'saddr' | 'saddr+port' } = { key: 'saddr' }): SlotTable {
  const live = servers.filter(available);
  const slots: (string | undefined)[] = new Array<string | undefined>(size).fill(undefined);
  if (live.length === 0) return { mode: 'hash', key: opts.key, slots };
  const g = weightGcd(live.map((s) => s.weight));
  let turns = live.map((s) => s.weight / g);
  // Very uneven weights would make one round longer than the table; scale into the table.
  if (turns.reduce((a, b) => a + b, 0) > size) turns = scaleWeights(turns, size);
  const offset = live.map((s) => hash32(s.key, 0x5bd1e995) % size);
  const skip = live.map((s) => (hash32(s.key, 0x27d4eb2f) % (size - 1)) + 1);
  const next = live.map(() => 0);
  let filled = 0;
  while (filled < size) {
    for (let i = 0; i < live.length && filled < size; i++) {
      for (let t = 0; t < turns[i]! && filled < size; t++) {
        let c = (offset[i]! + next[i]! * skip[i]!) % size;
        while (slots[c] !== undefined) {
          next[i]!++;
          c = (offset[i]! + next[i]! * skip[i]!) % size;
        }
        slots[c] = live[i]!.key;
        next[i]!++;
        filled++;
      }
    }
  }
  return { mode: 'hash', key: opts.key, slots };
}

// ---------------------------------------------------------------- count-based, per period

/**
 * lc / wlc / sed / nq / ovf for the kernel plane: from the connection counts now (the shell
 * reads them from conntrack) and the number of new connections expected in the next period
 * (`expected`, e.g. the last period's count), the numgen table for that period.
 *
 * The per-connection scheduler always sends the next connection to the server with the least
 * load (overhead / weight); over a period that is water-filling: server i gets
 * n_i = max(0, L·W_i − h_i) new connections with the level L chosen so Σ n_i = expected
 * (h_i = overhead/256 for lc/wlc, active + 1 for sed/nq; lc uses W = 1). The n_i become a
 * wrr-interleaved table, so within the period the order is spread too. nq first gives every
 * idle server one; ovf and fo do not need counts beyond the pick: a one-server table, redone
 * when the counts move. The table is `expected` long (or a divisor of it, after the gcd), so
 * any `expected` consecutive new connections cover it whole wherever the numgen counter
 * stands (it runs on across map swaps): the period's shares are exact if the estimate is. A
 * table that is consumed only partly (estimate too high) or more than once (too low) drifts;
 * a fixed-length table (so the rule never changes) was tried and measured worse. Exact when the period holds one connection; the error grows with
 * the connections that end during the period (docs/balancer.md).
 */
export function countTable(scheduler: 'lc' | 'wlc' | 'sed' | 'nq' | 'ovf' | 'fo', servers: readonly Candidate[], expected: number): SlotTable {
  const live = servers.filter(available);
  if (live.length === 0) return { mode: 'numgen', slots: [] };
  if (scheduler === 'ovf' || scheduler === 'fo') {
    const i = scheduler === 'ovf' ? pickOvf(servers) : pickFo(servers);
    return { mode: 'numgen', slots: i === undefined ? [] : [servers[i]!.key] };
  }
  const budget = Math.max(1, Math.min(MAX_NUMGEN_SLOTS, Math.round(expected)));
  const w = live.map((s) => (scheduler === 'lc' ? 1 : s.weight));
  const h = live.map((s) => (scheduler === 'lc' || scheduler === 'wlc' ? overhead(s) / 256 : s.active + 1));
  const pre: number[] = live.map((s) => (scheduler === 'nq' && s.active === 0 ? 1 : 0));
  const preTotal = pre.reduce((a, b) => a + b, 0);
  let n: number[];
  if (scheduler === 'nq' && preTotal >= budget) {
    n = pre;
  } else {
    const left = budget - preTotal;
    const base = h.map((x, i) => x + pre[i]!);
    const level = waterLevel(base, w, left);
    const raw = base.map((x, i) => Math.max(0, level * w[i]! - x));
    n = scaleWeights(raw, left, false).map((x, i) => x + pre[i]!);
  }
  return wrrTable(live.map((s, i) => ({ ...s, weight: n[i]! })).filter((s) => s.weight > 0));
}

/** The level L with Σ max(0, L·w_i − h_i) = amount (weights > 0). */
function waterLevel(h: readonly number[], w: readonly number[], amount: number): number {
  const order = h.map((x, i) => ({ at: x / w[i]!, w: w[i]!, h: x })).sort((a, b) => a.at - b.at);
  let sw = 0;
  let sh = 0;
  for (let k = 0; k < order.length; k++) {
    sw += order[k]!.w;
    sh += order[k]!.h;
    const level = (amount + sh) / sw;
    const nextAt = order[k + 1]?.at ?? Infinity;
    if (level <= nextAt) return level;
  }
  return (amount + sh) / sw;
}

/** Whether a scheduler needs connection counts (kernel plane realises it per period). */
export function needsCounts(s: SchedulerName): boolean {
  return s === 'lc' || s === 'wlc' || s === 'sed' || s === 'nq' || s === 'ovf' || s === 'lblc' || s === 'lblcr';
}

/**
 * The slot table of a service for its scheduler. `servers` are the real servers present in
 * the plane (list order = configuration order), with effective weights and, for the
 * count-based schedulers, counts; `configured` is the number of configured real servers
 * (fixes the Maglev size); `expected` the new connections expected per period.
 */
export function slotTable(
  scheduler: SchedulerName,
  servers: readonly Candidate[],
  opts: { configured: number; hashPort: boolean; hashFallback: boolean; expected?: number },
): SlotTable {
  switch (scheduler) {
    case 'rr': return rrTable(servers);
    case 'wrr': return wrrTable(servers);
    case 'sh': return shTable(servers, { key: opts.hashPort ? 'saddr+port' : 'saddr', fallback: opts.hashFallback });
    case 'dh': return shTable(servers, { key: 'daddr', fallback: opts.hashFallback });
    case 'mh': return maglevTable(servers, maglevSize(opts.configured), { key: opts.hashPort ? 'saddr+port' : 'saddr' });
    case 'fo': return countTable('fo', servers, 1);
    case 'lc': case 'wlc': case 'sed': case 'nq': case 'ovf':
      return countTable(scheduler, servers, opts.expected ?? servers.length);
    // A destination not yet in the locality map (nft.ts) gets the weighted least-connection server.
    case 'lblc': case 'lblcr':
      return countTable('wlc', servers, opts.expected ?? servers.length);
  }
}
