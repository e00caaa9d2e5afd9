/**
 * Upstream datetime query values, read as Django does: ISO 8601 with an optional offset; a naive time or a
 * bare date is wall-clock time in Europe/London (`londonWallToUtc`, the one London-time implementation).
 */
import { londonWallToUtc } from '@ratebus/octopus';

// Django's `parse_datetime` pattern (hour:minute required once a time is given, up to 6 fraction digits
// used and 6 more ignored, optional blanks before the offset), with a two-digit month and day, plus a bare date.
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6})\d{0,6})?)?\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;

/** `Date.UTC` without its mapping of years 0-99 to 1900-1999. */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, ms);
  return t.getTime();
}

const daysIn = (y: number, m: number): number => new Date(utc(y, m + 1, 0)).getUTCDate();

/**
 * Parses a `period_from` / `period_to` value to epoch ms, or null when it is not a valid date/time.
 * Surrounding whitespace is ignored (Django strips it); an offset needs a time part.
 */
export function parseUpstreamDateTime(raw: string): number | null {
  const m = ISO_RE.exec(raw.trim());
  if (!m) return null;
  const [, ys, mos, ds, hs, mis, ss, frac, z, sign, ohs, oms] = m;
  const y = Number(ys);
  const mo = Number(mos);
  const d = Number(ds);
  const h = hs === undefined ? 0 : Number(hs);
  const mi = mis === undefined ? 0 : Number(mis);
  const s = ss === undefined ? 0 : Number(ss);
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  const ms = frac === undefined ? 0 : Math.floor(Number(frac.padEnd(6, '0')) / 1000);
  const wall = utc(y, mo, d, h, mi, s, ms);
  if (z !== undefined) return wall;
  if (sign !== undefined) {
    const oh = Number(ohs);
    const om = oms === undefined ? 0 : Number(oms);
    if (oh > 23 || om > 59) return null;
    const offset = (oh * 60 + om) * 60_000;
    return sign === '+' ? wall - offset : wall + offset;
  }
  return londonWallToUtc(wall);
}
