/**
 * The Django REST Framework behaviour the real API shows: query parsing, datetime fields, page-number
 * pagination with absolute next/previous URLs, and the error bodies.
 */
import { londonToUtc } from './tz.js';

/** Rows per page when `page_size` is absent or invalid. */
export const DEFAULT_PAGE_SIZE = 100;
/** Larger `page_size` values are silently clamped to this. */
export const MAX_PAGE_SIZE = 1500;

/** A parsed query string: every value of every key, in order (`+` decodes to a space, as in Django). */
export type Query = Map<string, string[]>;

export function parseQuery(search: string): Query {
  const q: Query = new Map();
  for (const [k, v] of new URLSearchParams(search)) {
    const list = q.get(k);
    if (list) list.push(v);
    else q.set(k, [v]);
  }
  return q;
}

/** Django's `QueryDict.get`: the last value of a key. */
export function last(q: Query, key: string): string | undefined {
  const v = q.get(key);
  return v?.[v.length - 1];
}

const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6})\d{0,6})?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Parses a datetime as the API does: ISO 8601, date-only allowed, naive times read as Europe/London.
 * Returns null when invalid (→ "Enter a valid date/time.").
 */
export function parseDateTime(value: string): number | null {
  const m = DATETIME_RE.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m.slice(1) as string[];
  const n = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const [Y, M, D, H, MI, S] = n;
  const msFrac = frac ? Math.floor(Number(frac.padEnd(6, '0')) / 1000) : 0;
  const probe = new Date(Date.UTC(Y, M - 1, D));
  if (M < 1 || M > 12 || probe.getUTCMonth() !== M - 1 || probe.getUTCDate() !== D) return null;
  if (H > 23 || MI > 59 || S > 59) return null;
  if (tz === undefined) return londonToUtc(Y, M, D, H, MI, S, msFrac);
  const asUtc = Date.UTC(Y, M - 1, D, H, MI, S, msFrac);
  if (tz === 'Z') return asUtc;
  const sign = tz.startsWith('-') ? -1 : 1;
  const digits = tz.slice(1).replace(':', '');
  const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
  if (offMin >= 24 * 60) return null;
  return asUtc - sign * offMin * 60_000;
}

/** A DRF validation or not-found answer. */
export interface ApiError {
  status: number;
  body: unknown;
}

/** `period_from` / `period_to` as the rate endpoints validate them. */
export function parsePeriod(q: Query): { from: number | null; to: number | null } | ApiError {
  const rawFrom = last(q, 'period_from');
  const rawTo = last(q, 'period_to');
  const errors: Record<string, string[]> = {};
  // An empty value counts as absent, as django-filter does.
  const from = rawFrom ? parseDateTime(rawFrom) : null;
  const to = rawTo ? parseDateTime(rawTo) : null;
  if (rawFrom && from === null) errors.period_from = ['Enter a valid date/time.'];
  if (rawTo && to === null) errors.period_to = ['Enter a valid date/time.'];
  if (Object.keys(errors).length > 0) return { status: 400, body: errors };
  if (to !== null && from === null) {
    return { status: 400, body: { period_from: ['This field is required when providing a `period_to`.'] } };
  }
  if (from !== null && to !== null && from > to) {
    return { status: 400, body: { period_from: ['Must not be greater than `period_to`.'] } };
  }
  return { from, to };
}

/** DRF `_positive_int(strict=True, cutoff=MAX)`: invalid, zero or negative values fall back to the default. */
export function pageSizeOf(q: Query): number {
  const raw = last(q, 'page_size');
  if (raw === undefined || !/^\s*\+?\d+\s*$/.test(raw)) return DEFAULT_PAGE_SIZE;
  const n = Number(raw.trim());
  if (n <= 0) return DEFAULT_PAGE_SIZE;
  return Math.min(n, MAX_PAGE_SIZE);
}

export const INVALID_PAGE: ApiError = { status: 404, body: { detail: 'Invalid page.' } };

/** The 1-based page number, or null when it is not a page of `count` rows (→ 404 "Invalid page."). */
export function pageNumberOf(q: Query, count: number, size: number): number | null {
  const raw = last(q, 'page') ?? '1';
  const pages = count === 0 ? 1 : Math.ceil(count / size);
  if (raw === 'last') return pages;
  if (!/^\s*\+?\d+\s*$/.test(raw)) return null;
  const n = Number(raw.trim());
  return n >= 1 && n <= pages ? n : null;
}

/** Python's `urllib.parse.quote_plus`: only `A-Za-z0-9_.-~` stay literal, space → `+`. */
export function quotePlus(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * DRF's `replace_query_param` / `remove_query_param`: the query is re-encoded with keys sorted, `page` set
 * (or removed for page 1).
 */
export function pageUrl(base: string, path: string, q: Query, page: number | null): string {
  const copy = new Map(q);
  if (page === null) copy.delete('page');
  else copy.set('page', [String(page)]);
  const parts: string[] = [];
  for (const key of [...copy.keys()].sort()) {
    for (const v of copy.get(key) ?? []) parts.push(`${quotePlus(key)}=${quotePlus(v)}`);
  }
  return `${base}${path}${parts.length > 0 ? `?${parts.join('&')}` : ''}`;
}

/** The DRF page envelope for a page of `count` rows. */
export interface PageInfo {
  page: number;
  size: number;
  offset: number;
  next: string | null;
  previous: string | null;
}

export function paginate(
  base: string,
  path: string,
  q: Query,
  count: number,
  size: number,
): PageInfo | ApiError {
  const page = pageNumberOf(q, count, size);
  if (page === null) return INVALID_PAGE;
  const pages = count === 0 ? 1 : Math.ceil(count / size);
  return {
    page,
    size,
    offset: (page - 1) * size,
    next: page < pages ? pageUrl(base, path, q, page + 1) : null,
    previous: page === 1 ? null : pageUrl(base, path, q, page === 2 ? null : page - 1),
  };
}

export function isApiError(x: unknown): x is ApiError {
  return typeof x === 'object' && x !== null && 'status' in x && 'body' in x;
}

/** django-filter `BooleanFilter`: `true`/`false` (any case), anything else ignores the filter. */
export function boolParam(q: Query, key: string): boolean | undefined {
  const v = last(q, key)?.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return undefined;
}
