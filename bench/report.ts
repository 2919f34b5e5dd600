/** The benchmark's output: Markdown tables, the target checks, and a hand-written SVG chart. */
import { IMPLS, PEER_OF, type ImplName } from './impls.js';
import type { RunRecord, ScenarioName } from './scenarios.js';
import { median } from './stats.js';

export interface Report {
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: Record<string, string | number>;
  readonly options: Record<string, unknown>;
  readonly scenarios: readonly ScenarioName[];
  readonly impls: readonly ImplName[];
  readonly nodeBaselineKb: number | undefined;
  readonly records: readonly RunRecord[];
}

const OUTAGE_SCENARIOS: readonly ScenarioName[] = ['cut-1s', 'cut-fast', 'kill9', 'sigterm', 'switchover', 'fastest'];
const PROBE_MS = 10;

const f = (x: number | undefined, digits = 1): string => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
const defined = (xs: readonly (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
const range = (xs: readonly number[], digits = 1): string => (xs.length ? `${f(Math.min(...xs), digits)}–${f(Math.max(...xs), digits)}` : '–');

function ok(recs: readonly RunRecord[]): RunRecord[] {
  return recs.filter((r) => !r.error);
}

function pick(report: Report, scenario: ScenarioName, impl: ImplName, pred: (r: RunRecord) => boolean = () => true): RunRecord[] {
  return report.records.filter((r) => r.scenario === scenario && r.impl === impl && pred(r));
}

/** The outage cells of a scenario in implementation order; `fastest` has one per settings (plain, SCHED_RR). */
function cells(report: Report, s: ScenarioName): [ImplName, RunRecord[]][] {
  const out: [ImplName, RunRecord[]][] = [];
  for (const impl of IMPLS) {
    const recs = pick(report, s, impl, (r) => s !== 'fastest' || r.extra?.cutUnderLoad === true);
    for (const settings of [...new Set(recs.map((r) => r.settings))]) out.push([impl, recs.filter((r) => r.settings === settings)]);
  }
  return out;
}

/** carpool/peer outage ratio computed run by run (run i with run i), as median and range. */
function ratio(a: readonly RunRecord[], b: readonly RunRecord[]): { med?: number; xs: number[] } {
  const xs: number[] = [];
  for (const ra of a) {
    const rb = b.find((x) => x.run === ra.run);
    if (ra.error || !rb || rb.error || ra.outageMs === undefined || !rb.outageMs) continue;
    xs.push(ra.outageMs / rb.outageMs);
  }
  return { med: median(xs), xs };
}

/**
 * Median, over runs, of outage − (master-down − time from the master's last advert to the
 * fault) − probe spacing: how far the client's outage exceeds what the protocol allows at
 * that run's phase. Without advert times: median outage − master-down − probe spacing.
 */
function excessOf(recs: readonly RunRecord[]): number | undefined {
  const xs = defined(recs.map((r) => {
    const since = r.extra?.sinceLastAdvertMs;
    if (r.outageMs === undefined) return undefined;
    return typeof since === 'number' ? r.outageMs - (r.boundMs - since) - PROBE_MS : r.outageMs - r.boundMs - PROBE_MS;
  }));
  return median(xs);
}

const isCut = (s: ScenarioName): boolean => s === 'cut-1s' || s === 'cut-fast' || s === 'fastest';

function outageTable(report: Report): string[] {
  const out = [
    '| scenario | implementation | settings | bound (master-down) | outage median | min–max | excess over bound + probe, phase-corrected (median) | lost probes median (max) | VIP on backup after (median) | VIP on backup after last advert + master-down, median (max) | ratio carpool/peer, run by run | failed runs |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const s of OUTAGE_SCENARIOS) {
    for (const [impl, all] of cells(report, s)) {
      const good = ok(all);
      const outs = defined(good.map((r) => r.outageMs));
      const med = median(outs);
      const lost = defined(good.map((r) => r.lost));
      const bound = all[0]!.boundMs;
      const excess = isCut(s) ? excessOf(good) : undefined;
      const ratios: string[] = [];
      const peers: ImplName[] = [];
      if (PEER_OF[impl]) peers.push(PEER_OF[impl]);
      if (impl === 'carpool-carp' && s !== 'cut-1s') peers.push('keepalived');
      for (const peer of peers) {
        const r = ratio(all, pick(report, s, peer, (x) => s !== 'fastest' || x.extra?.cutUnderLoad === true));
        if (r.xs.length) ratios.push(`vs ${peer}: ${f(r.med, 2)} (${range(r.xs, 2)})`);
      }
      const unresolved = good.some((r) => r.unresolved) ? ' ≥' : '';
      const late = defined(good.map((r) => r.extra?.lateMs as number | undefined));
      out.push(`| ${s} | ${impl} | ${all[0]!.settings} | ${isCut(s) ? `${f(bound)} ms` : '–'} | ${unresolved}${f(med)} ms | ${range(outs)} | ${excess === undefined ? '–' : `${excess >= 0 ? '+' : ''}${f(excess)} ms`} | ${f(median(lost), 0)} (${lost.length ? Math.max(...lost) : '–'}) | ${f(median(defined(good.map((r) => r.takeoverMs))))} ms | ${late.length ? `${f(median(late))} ms (${f(Math.max(...late))})` : '–'} | ${ratios.join('; ') || '–'} | ${all.length - good.length}/${all.length} |`);
    }
  }
  return out;
}

function healTable(report: Report): string[] {
  const out = [
    '| implementation | advert interval | heal → one VIP holder, upper bound, median | min–max | in advert intervals (median) | yield after the first crossing advert, median (max) | failed runs |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const impl of IMPLS) {
    const all = pick(report, 'heal', impl);
    if (!all.length) continue;
    const good = ok(all);
    const xs = defined(good.map((r) => r.healMs));
    const med = median(xs);
    const errs = all.filter((r) => r.error).map((r) => r.error);
    const react = defined(good.map((r) => r.extra?.afterFirstAdvertMs as number | undefined));
    out.push(`| ${impl} | ${f(all[0]!.advertMs)} ms | ${f(med)} ms | ${range(xs)} | ${f(med === undefined ? undefined : med / all[0]!.advertMs, 2)} | ${f(median(react))} ms (${f(react.length ? Math.max(...react) : undefined)}) | ${all.length - good.length}/${all.length}${errs.length ? `: ${[...new Set(errs)].join('; ')}` : ''} |`);
  }
  return out;
}

function lossyTable(report: Report): string[] {
  const out = [
    '| implementation | advert loss asked | measured drop | spurious takeovers (backup → MASTER) | master step-downs | client lost probes | longest outage |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const impl of IMPLS) {
    for (const r of pick(report, 'lossy', impl)) {
      const e = r.extra ?? {};
      if (r.error) { out.push(`| ${impl} | ${String(e.lossPct ?? '?')} % | – | – | – | – | error: ${r.error} |`); continue; }
      out.push(`| ${impl} | ${String(e.lossPct)} % | ${f(e.measuredDropPct as number | undefined)} % (${String(e.dropped)}/${Number(e.dropped) + Number(e.passed)}) | ${String(e.spurious)} | ${String(e.masterStepDowns)} | ${f(e.lostPct as number | undefined, 2)} % (${r.lost}/${r.sent}) | ${f(r.outageMs)} ms |`);
    }
  }
  return out;
}

function idleTable(report: Report): string[] {
  const base = report.nodeBaselineKb;
  const mb = (kb: unknown): string => (typeof kb === 'number' ? (kb / 1024).toFixed(1) : '–');
  const out = [
    `Node baseline (\`node -e 'setInterval(()=>{},1e3)'\`): ${mb(base)} MB RSS. RSS in MB, CPU in % of one core.`,
    '',
    '| implementation | processes (master) | RSS master, 1 instance | over Node baseline | RSS master, 50 instances | RSS backup, 50 | CPU master, 50 × 100 ms | CPU backup, 50 × 100 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const impl of IMPLS) {
    const one = pick(report, 'idle', impl, (r) => r.extra?.instances === 1)[0];
    const many = pick(report, 'idle', impl, (r) => Number(r.extra?.instances) > 1)[0];
    if (!one && !many) continue;
    const rss1 = one?.extra?.rssMasterKb as number | undefined;
    const over = rss1 !== undefined && base !== undefined && impl.startsWith('carpool') ? `${rss1 >= base ? '+' : ''}${mb(rss1 - base)}` : '–';
    out.push(`| ${impl} | ${String(many?.extra?.processes ?? one?.extra?.processes ?? '–')} | ${mb(rss1)} | ${over} | ${mb(many?.extra?.rssMasterAfterKb ?? many?.extra?.rssMasterKb)} | ${mb(many?.extra?.rssBackupAfterKb ?? many?.extra?.rssBackupKb)} | ${f(many?.extra?.cpuMasterPct as number | undefined, 2)} | ${f(many?.extra?.cpuBackupPct as number | undefined, 2)} |${one?.error || many?.error ? ` error: ${one?.error ?? many?.error}` : ''}`);
  }
  return out;
}

function fastestTable(report: Report): string[] {
  const rows = report.records.filter((r) => r.scenario === 'fastest' && r.extra?.cutUnderLoad !== true);
  if (!rows.length) return [];
  const out = [
    '| carpool CARP advskew (master/backup) | nominal interval | master-down | seconds | spurious takeovers | master step-downs | adverts seen | measured interval p50 / p99 / max | deviation from nominal p50 / p99 / max | deviation from p50: p99 / max |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const e = r.extra ?? {};
    const n = (k: string): number | undefined => e[k] as number | undefined;
    if (r.error) { out.push(`| ${r.settings} | ${f(r.advertMs)} ms | ${f(r.boundMs)} ms | – | – | – | – | – | – | error: ${r.error} |`); continue; }
    out.push(`| ${String(e.advskew)}/${3 * Number(e.advskew)}${e.rt ? `, SCHED_RR ${String(e.rt)}` : ''} | ${f(r.advertMs)} ms | ${f(r.boundMs)} ms | ${String(e.seconds)} | ${String(e.spurious)} | ${String(e.masterStepDowns)} | ${String(e.adverts)} | ${f(n('intervalP50'), 2)} / ${f(n('intervalP99'), 2)} / ${f(n('intervalMax'), 2)} ms | ${f(n('jitterP50'), 2)} / ${f(n('jitterP99'), 2)} / ${f(n('jitterMax'), 2)} ms | ${f(n('jitterMedP99'), 2)} / ${f(n('jitterMedMax'), 2)} ms |`);
  }
  return out;
}

/** The issue's targets, checked against this run's figures. */
function targets(report: Report): string[] {
  const out: string[] = [];
  const medOut = (s: ScenarioName, impl: ImplName, pred?: (r: RunRecord) => boolean): number | undefined => median(defined(ok(pick(report, s, impl, pred)).map((r) => r.outageMs)));
  const verdict = (good: boolean | undefined): string => (good === undefined ? 'not measured' : good ? 'MET' : 'MISSED');
  const line = (what: string, good: boolean | undefined, detail: string): void => {
    if (good !== undefined) out.push(`- ${verdict(good)} — ${what}: ${detail}`);
  };
  const cmp = (a?: number, b?: number): boolean | undefined => (a === undefined || b === undefined ? undefined : a <= b);

  for (const impl of ['carpool-carp', 'carpool-vrrp'] as const) {
    const c = medOut('cut-fast', impl);
    const k = medOut('cut-fast', 'keepalived');
    line(`cut-fast: ${impl} median ≤ keepalived median`, cmp(c, k), `${f(c)} ms vs ${f(k)} ms`);
    const b = pick(report, 'cut-fast', impl)[0]?.boundMs;
    const ex = excessOf(ok(pick(report, 'cut-fast', impl)));
    line(`cut-fast: ${impl} ≤ own bound + probe spacing + 10 ms`, ex === undefined ? undefined : ex <= 10, `median ${f(c)} ms, bound ${f(b)} ms + ${PROBE_MS} ms probe spacing; phase-corrected excess ${f(ex)} ms (uncorrected: ${f(c === undefined || b === undefined ? undefined : c - b - PROBE_MS)} ms)`);
  }
  const medLate = (s: ScenarioName, impl: ImplName): number | undefined => median(defined(ok(pick(report, s, impl)).map((r) => r.extra?.lateMs as number | undefined)));
  for (const [s, a, b] of [['cut-1s', 'carpool-carp', 'ucarp'], ['cut-1s', 'carpool-vrrp', 'keepalived'], ['cut-fast', 'carpool-carp', 'keepalived'], ['cut-fast', 'carpool-vrrp', 'keepalived']] as const) {
    const la = medLate(s, a);
    const lb = medLate(s, b);
    line(`${s}: ${a} reacts no later than ${b} (VIP on the backup after last advert + master-down, phase-free)`, cmp(la, lb), `${f(la)} ms vs ${f(lb)} ms`);
  }
  const c1 = medOut('cut-1s', 'carpool-carp');
  const u1 = medOut('cut-1s', 'ucarp');
  line('cut-1s: carpool CARP ≤ ucarp', cmp(c1, u1), `${f(c1)} ms vs ${f(u1)} ms`);
  const c1v = medOut('cut-1s', 'carpool-vrrp');
  const k1 = medOut('cut-1s', 'keepalived');
  line('cut-1s: carpool VRRP ≤ keepalived', cmp(c1v, k1), `${f(c1v)} ms vs ${f(k1)} ms`);

  for (const rt of [undefined, 10]) {
    const fast = report.records.filter((r) => r.scenario === 'fastest' && r.extra?.cutUnderLoad !== true && !r.error && r.extra?.rt === rt);
    if (fast.length) {
      const stable = fast.filter((r) => r.extra?.spurious === 0 && r.extra.masterStepDowns === 0);
      const best = stable.sort((a, b) => a.advertMs - b.advertMs)[0];
      const cf = medOut('fastest', 'carpool-carp', (r) => r.extra?.cutUnderLoad === true && r.extra.rt === rt);
      const kf = medOut('cut-fast', 'keepalived') ?? medOut('fastest', 'keepalived', (r) => r.extra?.cutUnderLoad === true);
      const secs = Number(fast[0]!.extra?.seconds);
      line(`fastest stable failover${rt ? ` with carpool under SCHED_RR ${rt} (realtime_priority)` : ''} (zero spurious over ${secs} s under stress-ng --cpu 2${secs < 300 ? '; the target asks 5 minutes' : ''})`,
        best ? cmp(cf, kf === undefined ? undefined : 0.5 * kf) : false,
        best ? `smallest stable advskew ${String(best.extra?.advskew)} (${f(best.advertMs)} ms adverts); cut outage under load ${f(cf)} ms vs 0.5 × keepalived ${f(kf)} ms = ${f(kf === undefined ? undefined : kf / 2)} ms; jitter p50/p99/max ${f(best.extra?.jitterP50 as number, 2)}/${f(best.extra?.jitterP99 as number, 2)}/${f(best.extra?.jitterMax as number, 2)} ms`
          : 'no advskew tried was free of spurious transitions');
    }
  }
  for (const impl of ['carpool-carp', 'carpool-vrrp'] as const) {
    const lost = defined(ok(pick(report, 'switchover', impl)).map((r) => r.lost));
    line(`switchover: ${impl} loses 0 probes`, lost.length ? lost.every((x) => x === 0) : undefined, `lost per run: [${lost.join(', ')}]`);
    const heals = defined(ok(pick(report, 'heal', impl)).map((r) => r.healMs));
    const react = defined(ok(pick(report, 'heal', impl)).map((r) => r.extra?.afterFirstAdvertMs as number | undefined));
    const adv = pick(report, 'heal', impl)[0]?.advertMs;
    const worst = heals.length ? Math.max(...heals) : undefined;
    // Met when the loser yields on the first advert that crosses (the heal came < 1 interval before it).
    const worstReact = react.length ? Math.max(...react) : undefined;
    line(`heal: ${impl} one master within one advert interval`, worstReact === undefined || adv === undefined ? undefined : worstReact <= 0.5 * adv,
      `yield ${f(median(react))} ms (max ${f(worstReact)}) after the first crossing advert, i.e. within one interval (${f(adv)} ms) of the heal plus that; upper bound incl. the nft command: median ${f(median(heals))} ms, max ${f(worst)} ms`);
    const lossy = pick(report, 'lossy', impl, (r) => r.extra?.lossPct === 30 && !r.error)[0];
    const lp = lossy?.extra?.lostPct as number | undefined;
    line(`lossy 30 %: ${impl} client loses ≤ 1 % of probes`, lp === undefined ? undefined : lp <= 1, `${f(lp, 2)} % lost, ${String(lossy?.extra?.spurious ?? '–')} spurious takeovers over ${String(report.options.lossySeconds)} s (keepalived: ${f(pick(report, 'lossy', 'keepalived', (r) => r.extra?.lossPct === 30)[0]?.extra?.lostPct as number | undefined, 2)} %)`);
    const idle = pick(report, 'idle', impl, (r) => r.extra?.instances === 1)[0];
    const rss = idle?.extra?.rssMasterKb as number | undefined;
    const base = report.nodeBaselineKb;
    line(`idle: ${impl} RSS ≤ Node baseline + 15 MB`, rss === undefined || base === undefined ? undefined : rss <= base + 15 * 1024, `${f(rss === undefined ? undefined : rss / 1024)} MB vs ${f(base === undefined ? undefined : base / 1024)} + 15 MB`);
  }
  return out;
}

export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const sections: string[] = [
    `# carpool failover benchmark — ${report.startedAt}`,
    '',
    `Machine: ${String(m.nproc)} CPUs (${String(m.cpu)}), kernel ${String(m.kernel)}, Node ${String(m.node)}; ${String(m.ucarp)}; ${String(m.keepalived)}; carpool ${String(m.carpool)}. ` +
    `Runs per cell: ${String(report.options.runs)}; client probe every ${PROBE_MS} ms; took ${f(report.seconds / 60)} min.`,
    '',
  ];
  if (report.records.some((r) => OUTAGE_SCENARIOS.includes(r.scenario) && (r.scenario !== 'fastest' || r.extra?.cutUnderLoad))) {
    sections.push('## Client outage', '', 'Outage = last answered probe before the fault → first answered after. Bound = the backup\'s master-down time. Run i of every implementation faults at the same phase, (i − ½)/N of an advert interval after a master advert. "Excess" = per run, outage − (bound − time since the master\'s last advert) − probe spacing, median (cut scenarios): the part of the outage the protocol does not explain. "≥" = some run had no answer again at the end of its window.', '', ...outageTable(report), '');
  }
  if (report.records.some((r) => r.scenario === 'heal')) sections.push('## Heal after partition', '', ...healTable(report), '');
  if (report.records.some((r) => r.scenario === 'lossy')) sections.push('## Lossy LAN', '', ...lossyTable(report), '');
  if (report.records.some((r) => r.scenario === 'idle')) sections.push('## Idle cost', '', ...idleTable(report), '');
  const ft = fastestTable(report);
  if (ft.length) sections.push('## Fastest stable failover (under `stress-ng --cpu 2`)', '', ...ft, '');
  sections.push('## Targets', '', ...targets(report), '');
  const errs = report.records.filter((r) => r.error);
  if (errs.length) sections.push('## Failed runs', '', ...errs.map((r) => `- ${r.scenario} ${r.impl} run ${r.run}: ${r.error}`), '');
  return sections.join('\n');
}

const COLORS: Record<ImplName, string> = { 'carpool-carp': '#1f77b4', ucarp: '#ff7f0e', keepalived: '#2ca02c', 'carpool-vrrp': '#9467bd' };
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One panel per outage scenario: median bar, min–max whisker, bound as a dashed line. */
export function renderSvg(report: Report): string {
  const panels = OUTAGE_SCENARIOS.filter((s) => report.records.some((r) => r.scenario === s && !r.error && r.outageMs !== undefined && (s !== 'fastest' || r.extra?.cutUnderLoad)));
  const W = 230;
  const H = 260;
  const top = 50;
  const plotH = 150;
  const width = Math.max(1, panels.length) * W + 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 40}" viewBox="0 0 ${width} ${H + 40}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(`Client outage per implementation (median, min–max) — ${report.startedAt.slice(0, 16)}Z`)}</text>`,
  ];
  panels.forEach((s, pi) => {
    const x0 = 10 + pi * W;
    const stats = cells(report, s).map(([impl, recs]) => {
      const xs = defined(ok(recs).map((r) => r.outageMs));
      const name = recs[0]?.extra?.rt ? `${impl} RR` : impl;
      return { impl, name, med: median(xs), min: xs.length ? Math.min(...xs) : undefined, max: xs.length ? Math.max(...xs) : undefined, bound: recs[0]?.boundMs };
    });
    const ymax = Math.max(1, ...stats.map((x) => x.max ?? 0), ...(isCut(s) ? stats.map((x) => x.bound ?? 0) : [])) * 1.15;
    const y = (v: number): number => top + plotH - (v / ymax) * plotH;
    parts.push(`<text x="${x0 + W / 2 - 10}" y="${top - 14}" text-anchor="middle" font-size="12" font-weight="bold">${esc(s)}</text>`);
    parts.push(`<line x1="${x0 + 40}" y1="${top}" x2="${x0 + 40}" y2="${top + plotH}" stroke="#333"/><line x1="${x0 + 40}" y1="${top + plotH}" x2="${x0 + W - 20}" y2="${top + plotH}" stroke="#333"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (ymax / 4) * k;
      parts.push(`<text x="${x0 + 36}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v >= 100 ? v.toFixed(0) : v.toFixed(1)}</text><line x1="${x0 + 40}" y1="${y(v)}" x2="${x0 + W - 20}" y2="${y(v)}" stroke="#eee"/>`);
    }
    parts.push(`<text x="${x0 + 8}" y="${top + plotH / 2}" transform="rotate(-90 ${x0 + 8} ${top + plotH / 2})" text-anchor="middle" fill="#555">ms</text>`);
    const bw = (W - 70) / Math.max(1, stats.length);
    stats.forEach((st, i) => {
      const bx = x0 + 45 + i * bw;
      const cx = bx + bw / 2 - 3;
      if (st.med !== undefined) {
        parts.push(`<rect x="${bx + 2}" y="${y(st.med)}" width="${bw - 10}" height="${top + plotH - y(st.med)}" fill="${COLORS[st.impl]}"><title>${esc(`${st.impl}: median ${st.med.toFixed(1)} ms`)}</title></rect>`);
        parts.push(`<text x="${cx}" y="${y(st.max ?? st.med) - 4}" text-anchor="middle" font-size="10">${st.med.toFixed(st.med >= 100 ? 0 : 1)}</text>`);
      }
      if (st.min !== undefined && st.max !== undefined) parts.push(`<line x1="${cx}" y1="${y(st.min)}" x2="${cx}" y2="${y(st.max)}" stroke="black"/><line x1="${cx - 4}" y1="${y(st.min)}" x2="${cx + 4}" y2="${y(st.min)}" stroke="black"/><line x1="${cx - 4}" y1="${y(st.max)}" x2="${cx + 4}" y2="${y(st.max)}" stroke="black"/>`);
      if (isCut(s) && st.bound !== undefined) parts.push(`<line x1="${bx}" y1="${y(st.bound)}" x2="${bx + bw - 6}" y2="${y(st.bound)}" stroke="red" stroke-dasharray="3,2"><title>${esc(`master-down bound ${st.bound.toFixed(1)} ms`)}</title></line>`);
      parts.push(`<text x="${cx}" y="${top + plotH + 12}" text-anchor="end" transform="rotate(-35 ${cx} ${top + plotH + 12})">${esc(st.name)}</text>`);
    });
  });
  parts.push(`<text x="10" y="${H + 30}" fill="#555">Dashed red: the protocol's master-down bound. Bars: median of the runs; whiskers: min–max. Each panel has its own scale.</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
