import { discontinuities, type RateSlot, RateSlotsSchema, toIssues } from '@ratebus/schema';
import type { z } from 'zod';
import { InvalidResponseError } from './errors.js';
import { type RatesPage, RatesPageSchema } from './schemas.js';
import type { RawResponse } from './transport.js';

/** Pages that disagree with each other (count changed, rows shifted): the whole pass is fetched again. */
export class PagingError extends InvalidResponseError {}

/** A JSON body validated by `schema`; anything else (HTML, truncated, malformed, off-schema) is invalid. */
export function parseJson<S extends z.ZodType>(schema: S, res: RawResponse, what: string): z.infer<S> {
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(res.contentType.trim())) {
    throw new InvalidResponseError(
      `${what}: not JSON (content-type ${res.contentType.slice(0, 60) || 'none'})`,
      {
        status: res.status,
      },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(res.body);
  } catch (cause) {
    throw new InvalidResponseError(`${what}: body is not valid JSON`, { status: res.status, cause });
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new InvalidResponseError(`${what}: off-schema`, { status: res.status, issues: toIssues(r.error) });
  }
  return r.data;
}

export function parseRatesPage(res: RawResponse): RatesPage {
  const page = parseJson(RatesPageSchema, res, 'rates page');
  const ordered = RateSlotsSchema.safeParse(page.results);
  if (!ordered.success) {
    throw new InvalidResponseError('rates page: rows out of order', {
      status: res.status,
      issues: toIssues(ordered.error),
    });
  }
  return page;
}

/** A page on its own: contiguous per payment method; a last page-1 must hold all `count` rows. */
export function checkPage(page: RatesPage, status: number): RatesPage {
  const breaks = discontinuities(page.results);
  if (breaks.length > 0) {
    throw new InvalidResponseError(`rates page has ${breaks.length} gaps or overlaps (missing slots)`, {
      status,
    });
  }
  if (page.results.length > page.count) {
    throw new InvalidResponseError('rates page has more rows than its count', { status });
  }
  if (page.previous === null && page.next === null && page.results.length !== page.count) {
    throw new InvalidResponseError(`single page holds ${page.results.length} of ${page.count} rows`, {
      status,
    });
  }
  return page;
}

/**
 * The path and query to fetch for a `next` link, which must stay on our origin and path, keep our query,
 * and ask for exactly the following page. Anything else is invalid (and not followed).
 */
export function nextTarget(
  next: string,
  origin: string,
  path: string,
  params: URLSearchParams,
  page: number,
): string {
  const url = new URL(next);
  const problem =
    url.origin !== origin
      ? 'another origin'
      : url.pathname !== path
        ? 'another path'
        : url.searchParams.get('page') !== String(page)
          ? `not page ${page}`
          : !sameQuery(url.searchParams, params)
            ? 'another query'
            : null;
  if (problem) throw new InvalidResponseError(`next link points to ${problem}`);
  return url.pathname + url.search;
}

function sameQuery(next: URLSearchParams, ours: URLSearchParams): boolean {
  const keys = new Set([...next.keys()].filter((k) => k !== 'page'));
  if (keys.size !== new Set(ours.keys()).size) return false;
  for (const k of keys) if (next.getAll(k).join('\n') !== ours.getAll(k).join('\n')) return false;
  return true;
}

/** All pages of one window together: `count` rows, newest first, contiguous per payment method. */
export function checkAllRows(rows: readonly RateSlot[], count: number): void {
  if (rows.length !== count) throw new PagingError(`got ${rows.length} rows, upstream counted ${count}`);
  const ordered = RateSlotsSchema.safeParse(rows);
  if (!ordered.success) {
    throw new PagingError('rows across pages are out of order', { issues: toIssues(ordered.error) });
  }
  const breaks = discontinuities(rows);
  if (breaks.length > 0) {
    throw new PagingError(`rows across pages are not contiguous (${breaks.length} breaks)`);
  }
}
