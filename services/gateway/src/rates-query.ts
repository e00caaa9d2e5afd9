import { parseUpstreamDateTime } from './datetime.js';
import { lastValue, type QueryPair } from './querystring.js';

/** Rows per page when `page_size` is absent or invalid (upstream default). */
export const DEFAULT_PAGE_SIZE = 100;
/** Largest page; bigger `page_size` values are silently clamped to it (upstream behaviour). */
export const MAX_PAGE_SIZE = 1500;

/** JSON error bodies exactly as the upstream writes them. */
export const ERROR_BODIES = {
  invalidDateTime: 'Enter a valid date/time.',
  fromRequired: 'This field is required when providing a `period_to`.',
  fromAfterTo: 'Must not be greater than `period_to`.',
  invalidPage: { detail: 'Invalid page.' },
  notFound: { detail: 'Not found.' },
  dayNight: { detail: 'This tariff has day and night rates' },
} as const;

/** A validated rates query: the overlap window in epoch ms and the page wanted. */
export interface RatesQuery {
  readonly from: number | null;
  readonly to: number | null;
  /** Page size after defaulting and clamping. */
  readonly pageSize: number;
  /** The raw `page` value (null = absent → page 1); checked against the count by {@link paginate}. */
  readonly page: string | null;
}

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly status: 400 | 404; readonly body: Record<string, unknown> };

/** DRF `_positive_int(strict=True, cutoff=1500)`, falling back to the default on any problem. */
export function parsePageSize(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_SIZE;
  const n = pythonInt(raw);
  if (n === null || n <= 0) return DEFAULT_PAGE_SIZE;
  return Math.min(n, MAX_PAGE_SIZE);
}

/**
 * A whole number as the upstream reads page numbers and sizes: optional surrounding whitespace, an optional
 * sign, ASCII digits (the same subset of Python's `int()` the simulator accepts).
 */
export function pythonInt(raw: string): number | null {
  const m = /^\s*([+-]?)(\d+)\s*$/.exec(raw);
  if (!m) return null;
  const n = Number(m[2]);
  if (!Number.isSafeInteger(n)) return m[1] === '-' ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  return m[1] === '-' ? -n : n;
}

/**
 * Validates `period_from` / `period_to` / `page_size` / `page` like the upstream filter form: empty values
 * count as absent; a bad datetime is reported per field (both at once); then `period_to` needs
 * `period_from`, and `period_from` must not be after `period_to`. Unknown parameters are ignored.
 */
export function parseRatesQuery(pairs: readonly QueryPair[]): Parsed<RatesQuery> {
  const rawFrom = lastValue(pairs, 'period_from');
  const rawTo = lastValue(pairs, 'period_to');
  const fieldErrors: Record<string, string[]> = {};
  const read = (name: string, raw: string | undefined): number | null => {
    if (raw === undefined || raw === '') return null;
    const t = parseUpstreamDateTime(raw);
    if (t === null) fieldErrors[name] = [ERROR_BODIES.invalidDateTime];
    return t;
  };
  const from = read('period_from', rawFrom);
  const to = read('period_to', rawTo);
  if (Object.keys(fieldErrors).length > 0) return { ok: false, status: 400, body: fieldErrors };
  if (to !== null && from === null) {
    return { ok: false, status: 400, body: { period_from: [ERROR_BODIES.fromRequired] } };
  }
  if (from !== null && to !== null && from > to) {
    return { ok: false, status: 400, body: { period_from: [ERROR_BODIES.fromAfterTo] } };
  }
  const page = lastValue(pairs, 'page');
  return {
    ok: true,
    value: {
      from,
      to,
      pageSize: parsePageSize(lastValue(pairs, 'page_size')),
      // An empty `page=` is not a page number (→ 404), as the simulator answers.
      page: page === undefined ? null : page,
    },
  };
}

/** Where a page sits among all pages. */
export interface PageSlice {
  readonly number: number;
  readonly numPages: number;
  readonly start: number;
  readonly end: number;
}

/**
 * Django's `Paginator.page()` as DRF calls it: `last` is the last page, an empty set still has page 1, and
 * anything that is not an integer in 1..numPages is 404 `{"detail":"Invalid page."}`.
 */
export function paginate(count: number, pageSize: number, rawPage: string | null): Parsed<PageSlice> {
  const numPages = count === 0 ? 1 : Math.ceil(count / pageSize);
  let n: number | null;
  if (rawPage === null) n = 1;
  else if (rawPage === 'last') n = numPages;
  else n = pythonInt(rawPage);
  if (n === null || n < 1 || n > numPages) return { ok: false, status: 404, body: ERROR_BODIES.invalidPage };
  const start = (n - 1) * pageSize;
  return { ok: true, value: { number: n, numPages, start, end: Math.min(start + pageSize, count) } };
}
