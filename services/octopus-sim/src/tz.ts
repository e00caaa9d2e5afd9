/**
 * Europe/London arithmetic from the rule in law, not from the time-zone database: British Summer Time runs
 * from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October (the UK and EU rule
 * since 1996, which covers every date the simulator serves). Deliberately not shared with `@ratebus/octopus`'s
 * `uk-time.ts`, which reads the offset from `Intl` (ICU's tz data): the simulator is the oracle the gateway's
 * and the fetcher's London-time handling is tested against (bodies compared byte for byte), so it must not
 * share their method, or a shared mistake would pass those tests.
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Wall-clock fields in Europe/London. */
export interface LocalParts {
  y: number;
  m: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

/** 01:00 UTC on the last Sunday of `month` (1..12) of `year`. */
function lastSundayAt0100Utc(year: number, month: number): number {
  const lastDay = new Date(Date.UTC(year, month, 0));
  return Date.UTC(year, month - 1, lastDay.getUTCDate() - lastDay.getUTCDay(), 1);
}

/** London offset from UTC at instant `t`, ms (0 or 3 600 000). */
export function londonOffsetMs(t: number): number {
  const year = new Date(t).getUTCFullYear();
  return t >= lastSundayAt0100Utc(year, 3) && t < lastSundayAt0100Utc(year, 10) ? HOUR_MS : 0;
}

export function londonParts(t: number): LocalParts {
  const local = new Date(t + londonOffsetMs(t));
  return {
    y: local.getUTCFullYear(),
    m: local.getUTCMonth() + 1,
    d: local.getUTCDate(),
    h: local.getUTCHours(),
    mi: local.getUTCMinutes(),
    s: local.getUTCSeconds(),
  };
}

/**
 * The UTC instant of a London wall-clock time. Ambiguous times (October) resolve to the first occurrence
 * and non-existent ones (March) use the offset before the change, as Python's zoneinfo with fold=0 does.
 */
export function londonToUtc(y: number, m: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const local = Date.UTC(y, m - 1, d, h, mi, s, ms);
  const bst = local - HOUR_MS;
  const gmt = local;
  const matches = (t: number) => londonOffsetMs(t) === local - t;
  if (matches(bst)) return bst;
  if (matches(gmt)) return gmt;
  return gmt;
}

/** `YYYY-MM-DD` of instant `t` in London. */
export function londonDate(t: number): string {
  const p = londonParts(t);
  return `${p.y}-${pad(p.m)}-${pad(p.d)}`;
}

/** Fractional London hour of day at `t` (e.g. 16.5 for 16:30). */
export function londonHour(t: number): number {
  const p = londonParts(t);
  return p.h + p.mi / 60;
}

/** The UTC instant of `hh:mm` London time on calendar date `date` (`YYYY-MM-DD`). */
export function londonTimeOn(date: string, h = 0, mi = 0): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return londonToUtc(y, m, d, h, mi);
}

/** Calendar date arithmetic on `YYYY-MM-DD`. */
export function addDays(date: string, n: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** Whole days from `a` to `b` (`YYYY-MM-DD`). */
export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);
}

export function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `2024-10-01T00:00:00+01:00`: how the API writes product availability dates. */
export function londonIsoWithOffset(t: number): string {
  const p = londonParts(t);
  const off = londonOffsetMs(t);
  const tz = off === 0 ? 'Z' : `+${pad(off / HOUR_MS)}:00`;
  return `${p.y}-${pad(p.m)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}${tz}`;
}
