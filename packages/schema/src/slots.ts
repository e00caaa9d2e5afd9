import type { RateSlot } from './rates.js';

/** Payment methods that upstream publishes as twin rows for the same period. */
export type PaymentMethod = 'DIRECT_DEBIT' | 'NON_DIRECT_DEBIT';

/** A break in a run of rows: a gap between two rows, or two rows that overlap. */
export interface Discontinuity {
  readonly kind: 'gap' | 'overlap' | 'open-not-last';
  readonly paymentMethod: string | null;
  /** Where the earlier row ends. */
  readonly at: string;
  /** Where the next row starts. */
  readonly next: string;
}

const t = (s: string): number => Date.parse(s);

/** Rows sorted newest `valid_from` first (the upstream order); stable for equal starts. */
export function newestFirst(rows: readonly RateSlot[]): RateSlot[] {
  return [...rows].sort((a, b) => t(b.valid_from) - t(a.valid_from));
}

/**
 * Groups rows by payment method and reports every gap or overlap between consecutive rows of a group, and
 * any open-ended row (`valid_to: null`) that is followed by a later one. Empty when the rows are contiguous.
 */
export function discontinuities(rows: readonly RateSlot[]): Discontinuity[] {
  const groups = new Map<string | null, RateSlot[]>();
  for (const r of rows) {
    const g = groups.get(r.payment_method);
    if (g) g.push(r);
    else groups.set(r.payment_method, [r]);
  }
  const out: Discontinuity[] = [];
  for (const [pm, group] of groups) {
    const asc = [...group].sort((a, b) => t(a.valid_from) - t(b.valid_from));
    for (let i = 1; i < asc.length; i++) {
      const prev = asc[i - 1] as RateSlot;
      const cur = asc[i] as RateSlot;
      if (prev.valid_to === null) {
        out.push({ kind: 'open-not-last', paymentMethod: pm, at: prev.valid_from, next: cur.valid_from });
        continue;
      }
      const d = t(cur.valid_from) - t(prev.valid_to);
      if (d !== 0)
        out.push({
          kind: d > 0 ? 'gap' : 'overlap',
          paymentMethod: pm,
          at: prev.valid_to,
          next: cur.valid_from,
        });
    }
  }
  return out;
}

/** End of the newest row that has an end, as an upstream timestamp; null when there is none. */
export function coversThrough(rows: readonly RateSlot[]): string | null {
  let best: string | null = null;
  for (const r of rows) {
    if (r.valid_to !== null && (best === null || t(r.valid_to) > t(best))) best = r.valid_to;
  }
  return best;
}

/**
 * Keeps one row per period where upstream publishes twin DIRECT_DEBIT / NON_DIRECT_DEBIT rows: the
 * `preferred` one, or the other when the preferred is missing. Rows without a payment method pass through.
 * Upstream's row order is kept.
 */
export function preferPaymentMethod(rows: readonly RateSlot[], preferred: PaymentMethod): RateSlot[] {
  const havePreferred = new Set<string>();
  for (const r of rows) if (r.payment_method === preferred) havePreferred.add(r.valid_from);
  return rows.filter(
    (r) => r.payment_method === null || r.payment_method === preferred || !havePreferred.has(r.valid_from),
  );
}

/**
 * Rows that overlap `[from, to)` — the upstream filter semantics: a row overlaps when it starts before
 * `to` (if given) and ends after `from` (open-ended rows never end).
 */
export function overlapping(rows: readonly RateSlot[], from: number | null, to: number | null): RateSlot[] {
  return rows.filter(
    (r) =>
      (to === null || t(r.valid_from) < to) && (from === null || r.valid_to === null || t(r.valid_to) > from),
  );
}
