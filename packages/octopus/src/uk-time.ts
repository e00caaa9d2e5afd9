/**
 * Europe/London calendar arithmetic for the schedule and the fetch window. Upstream publishes by the UK
 * clock (Agile at ≈16:00, Tracker at ≈11:00, Agile days run 23:00→23:00), so every boundary is a UK wall
 * time turned into an epoch instant. UK offsets change at 01:00 UTC, never near the times used here.
 */

const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

const fmt = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

/** A UK calendar date. */
export interface UkDate {
  readonly y: number;
  /** 1..12 */
  readonly m: number;
  readonly d: number;
}

interface UkParts extends UkDate {
  readonly hour: number;
  readonly minute: number;
}

function parts(t: number): UkParts {
  const p: Record<string, number> = {};
  for (const x of fmt.formatToParts(new Date(t))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return { y: p.year ?? 0, m: p.month ?? 0, d: p.day ?? 0, hour: p.hour ?? 0, minute: p.minute ?? 0 };
}

/** UK offset from UTC at `t`, ms (0 in winter, 3 600 000 in summer). */
function offsetAt(t: number): number {
  const p = parts(t);
  const asUtc = Date.UTC(p.y, p.m - 1, p.d, p.hour, p.minute);
  return Math.round((asUtc - Math.floor(t / 60_000) * 60_000) / HOUR_MS) * HOUR_MS;
}

/** The UK calendar date at instant `t`, shifted by `addDays`. */
export function ukDate(t: number, addDays = 0): UkDate {
  const p = parts(t);
  const shifted = new Date(Date.UTC(p.y, p.m - 1, p.d + addDays));
  return { y: shifted.getUTCFullYear(), m: shifted.getUTCMonth() + 1, d: shifted.getUTCDate() };
}

/** `YYYY-MM-DD` of a UK date. */
export function ukDateString(d: UkDate): string {
  return `${d.y}-${String(d.m).padStart(2, '0')}-${String(d.d).padStart(2, '0')}`;
}

/** The instant of UK wall time `hour:minute` on UK date `date`. */
export function ukWallTime(date: UkDate, hour: number, minute = 0): number {
  const guess = Date.UTC(date.y, date.m - 1, date.d, hour, minute);
  return guess - offsetAt(guess);
}

/** UK local midnight starting the UK day that is `addDays` after the day containing `t`. */
export function ukMidnight(t: number, addDays = 0): number {
  return ukWallTime(ukDate(t, addDays), 0, 0);
}

/** Minutes since UK midnight at `t` (0..1439). */
export function ukMinuteOfDay(t: number): number {
  const p = parts(t);
  return p.hour * 60 + p.minute;
}
