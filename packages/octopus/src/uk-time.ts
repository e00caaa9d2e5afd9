/**
 * Europe/London calendar arithmetic, the one implementation ratebus uses (the simulator keeps its own, as an
 * independent oracle for the tests that compare against it). Upstream publishes by the UK clock (Agile at
 * ≈16:00, Tracker at ≈11:00, Agile days run 23:00→23:00) and reads naive query times as London wall time,
 * so boundaries are UK wall times turned into epoch instants. Intl only, no tz library: London's offset is
 * always 0 or +1 h, which keeps wall → UTC conversion to two candidates.
 */

const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

const LONDON = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
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
  readonly second: number;
}

function parts(t: number): UkParts {
  const p: Record<string, number> = {};
  for (const x of LONDON.formatToParts(new Date(t))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return {
    y: p.year ?? 0,
    m: p.month ?? 0,
    d: p.day ?? 0,
    hour: p.hour ?? 0,
    minute: p.minute ?? 0,
    second: p.second ?? 0,
  };
}

/** London's offset from UTC at instant `t`, ms (0 in winter, 3 600 000 in summer). */
export function londonOffsetMs(t: number): number {
  const p = parts(t);
  return Date.UTC(p.y, p.m - 1, p.d, p.hour, p.minute, p.second) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant of a London wall-clock time given as "UTC fields" (`Date.UTC(...)` of the local fields).
 * The repeated October hour resolves to its first occurrence and the missing March hour uses the offset
 * before the change — Python's zoneinfo with fold=0, which is what the upstream (Django) does.
 */
export function londonWallToUtc(localAsUtc: number): number {
  const bst = localAsUtc - HOUR_MS;
  return londonOffsetMs(bst) === HOUR_MS ? bst : localAsUtc;
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
  return londonWallToUtc(Date.UTC(date.y, date.m - 1, date.d, hour, minute));
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
