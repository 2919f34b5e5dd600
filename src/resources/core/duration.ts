/**
 * Pacemaker/OCF time values: a bare number is seconds (`timeout="20"`), suffixes `ms`, `s`,
 * `m`/`min`, `h`/`hr`, `d`; ISO 8601 durations (`PT20S`) as Pacemaker 2 also accepts. Pure.
 */
const UNITS: Readonly<Record<string, number>> = {
  ms: 1, msec: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, hr: 3_600_000, d: 86_400_000,
};

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDurationMs(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.round(text * 1000) : undefined;
  const t = text.trim().toLowerCase();
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(t);
  if (m) {
    const unit = m[2] === '' ? 1000 : UNITS[m[2]!];
    return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
  }
  const iso = /^p(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?)?$/.exec(t);
  if (iso && t !== 'p' && t !== 'pt') {
    const [, d, h, mi, s] = iso;
    return Math.round(((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(mi ?? 0)) * 60_000 + Number(s ?? 0) * 1000);
  }
  return undefined;
}

/** Shortest exact text for a duration: `10s`, `1500ms`, `2m`. */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
