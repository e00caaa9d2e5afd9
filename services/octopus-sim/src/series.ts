import { toUtcSecond } from '@ratebus/schema';
import { round, SLOT_MS } from './prices.js';
import { addDays, londonDate } from './tz.js';

/** Payment method of a row: twin rows exist for products such as Flexible. */
export type RowPaymentMethod = 'DIRECT_DEBIT' | 'NON_DIRECT_DEBIT' | null;

/** One charge record before VAT is applied; times in epoch ms, `to: null` = open-ended. */
export interface RawRow {
  readonly from: number;
  readonly to: number | null;
  readonly exc: number;
  readonly pm: RowPaymentMethod;
}

/** A record as the API writes it. */
export interface RateRow {
  value_exc_vat: number;
  value_inc_vat: number;
  valid_from: string;
  valid_to: string | null;
  payment_method: RowPaymentMethod;
}

/** The rows matching a query: their count, and a newest-first window of them computed on demand. */
export interface RowSelection {
  readonly count: number;
  rows(offset: number, limit: number): RawRow[];
}

/** A charge series of one tariff endpoint (unit rates or standing charges). */
export interface Series {
  /** Published rows overlapping `[from, to)` (either bound may be null) as of simulated time `now`. */
  select(from: number | null, to: number | null, now: number): RowSelection;
  /** Rows in force at `t` regardless of publication (the product-detail snapshot). */
  at(t: number): RawRow[];
}

export type VatKind = 'electricity' | 'gas' | 'none';

/** VAT switches (docs/octopus-api.md §5.4). */
export interface VatSettings {
  /** GB domestic electricity VAT 0 % from 2026-09-30T23:00Z to 2027-03-31 (inclusive, UK). Default true. */
  electricityVatHoliday: boolean;
}

export const STANDARD_VAT = 0.05;
export const VAT_HOLIDAY_FROM_MS = Date.parse('2026-09-30T23:00:00Z');
export const VAT_HOLIDAY_TO_MS = Date.parse('2027-03-31T23:00:00Z');

/**
 * VAT rate of a record: the rate in force on the record's last day, or today for open records. So open
 * electricity records show inc == exc while the holiday runs, and half-hours before it keep ×1.05.
 */
export function vatRate(kind: VatKind, row: RawRow, now: number, vat: VatSettings): number {
  if (kind === 'none') return 0;
  if (kind === 'gas') return STANDARD_VAT;
  const t = row.to === null ? now : row.to - 1;
  if (vat.electricityVatHoliday && t >= VAT_HOLIDAY_FROM_MS && t < VAT_HOLIDAY_TO_MS) return 0;
  return STANDARD_VAT;
}

/** Writes a row as the API does: unrounded inc = exc × (1 + VAT), `Z` whole-second times. */
export function toRateRow(row: RawRow, kind: VatKind, now: number, vat: VatSettings): RateRow {
  return {
    value_exc_vat: row.exc,
    value_inc_vat: round(row.exc * (1 + vatRate(kind, row, now, vat)), 8),
    valid_from: toUtcSecond(row.from),
    valid_to: row.to === null ? null : toUtcSecond(row.to),
    payment_method: row.pm,
  };
}

const overlaps = (r: RawRow, from: number | null, to: number | null) =>
  (to === null || r.from < to) && (from === null || r.to === null || r.to > from);

/** Rows sorted newest first; JS sort is stable, so twin rows keep their generated order. */
function newestFirst(rows: RawRow[]): RawRow[] {
  return rows.sort((a, b) => b.from - a.from);
}

function listSelection(rows: RawRow[]): RowSelection {
  return { count: rows.length, rows: (offset, limit) => rows.slice(offset, offset + limit) };
}

/**
 * Contiguous half-hour slots from `start` to the published end, computed arithmetically: a count over
 * years of Agile is a subtraction, and a page materialises only its own rows.
 */
export class HalfHourSeries implements Series {
  constructor(
    private readonly start: number,
    private readonly publishedEnd: (now: number) => number,
    private readonly value: (slotStart: number) => number,
  ) {}

  select(from: number | null, to: number | null, now: number): RowSelection {
    const n = Math.max(0, Math.floor((this.publishedEnd(now) - this.start) / SLOT_MS));
    const k0 = from === null ? 0 : Math.max(0, Math.floor((from - this.start) / SLOT_MS));
    const k1 = to === null ? n : Math.min(n, Math.ceil((to - this.start) / SLOT_MS));
    const count = Math.max(0, k1 - k0);
    return {
      count,
      rows: (offset, limit) => {
        const out: RawRow[] = [];
        for (let i = offset; i < Math.min(count, offset + limit); i++) out.push(this.slot(k1 - 1 - i));
        return out;
      },
    };
  }

  at(t: number): RawRow[] {
    if (t < this.start) return [];
    return [this.slot(Math.floor((t - this.start) / SLOT_MS))];
  }

  private slot(k: number): RawRow {
    const from = this.start + k * SLOT_MS;
    return { from, to: from + SLOT_MS, exc: this.value(from), pm: null };
  }
}

/** Maximum London days whose rows a {@link DailySeries} keeps. */
const DAY_CACHE_LIMIT = 4_000;

/**
 * Rows generated per London calendar day (Tracker days, time-of-use bands), cached per day. A day's rows
 * may end on the next day (a band across midnight) but never start before the day.
 */
export class DailySeries implements Series {
  readonly #cache = new Map<string, RawRow[]>();

  constructor(
    private readonly firstDay: string,
    private readonly lastDay: (now: number) => string,
    private readonly rowsOfDay: (date: string) => RawRow[],
  ) {}

  select(from: number | null, to: number | null, now: number): RowSelection {
    const last = this.lastDay(now);
    let day = from === null ? this.firstDay : maxDate(this.firstDay, addDays(londonDate(from), -1));
    const end = to === null ? last : minDate(last, londonDate(to));
    const out: RawRow[] = [];
    for (; day <= end; day = addDays(day, 1)) {
      for (const r of this.day(day)) if (overlaps(r, from, to)) out.push(r);
    }
    return listSelection(newestFirst(out));
  }

  at(t: number): RawRow[] {
    const d = londonDate(t);
    const probe = [...this.day(addDays(d, -1)), ...this.day(d)];
    return probe.filter((r) => r.from <= t && (r.to === null || r.to > t));
  }

  private day(date: string): RawRow[] {
    if (date < this.firstDay) return [];
    let rows = this.#cache.get(date);
    if (!rows) {
      rows = this.rowsOfDay(date);
      if (this.#cache.size >= DAY_CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(date, rows);
    }
    return rows;
  }
}

/** A short list of records (quarterly, open-ended) that depends only on the simulated time. */
export class RecordSeries implements Series {
  constructor(private readonly records: (now: number) => RawRow[]) {}

  select(from: number | null, to: number | null, now: number): RowSelection {
    return listSelection(newestFirst(this.records(now).filter((r) => overlaps(r, from, to))));
  }

  at(t: number): RawRow[] {
    return this.records(t).filter((r) => r.from <= t && (r.to === null || r.to > t));
  }
}

const maxDate = (a: string, b: string) => (a > b ? a : b);
const minDate = (a: string, b: string) => (a < b ? a : b);
