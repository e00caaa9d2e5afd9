import { overlapping, type RateSlot, type RatesDocument } from '@ratebus/schema';
import { type QueryPair, replaceQueryParam } from './querystring.js';
import { ERROR_BODIES, paginate, parseRatesQuery } from './rates-query.js';
import type { Charge } from './routes.js';

/** The DRF page envelope every upstream list endpoint answers with. */
export interface RatesPage {
  readonly count: number;
  readonly next: string | null;
  readonly previous: string | null;
  readonly results: readonly RateSlot[];
}

/** A ready answer: status and JSON body. */
export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * The rows a charge endpoint serves from a document, or the upstream's 400 when a day/night tariff is asked
 * for standard rates. A single-register tariff has no day/night endpoints: 404 `Not found.` (as the
 * simulator answers; upstream behaviour there is undocumented).
 */
export function rowsFor(doc: RatesDocument, charge: Charge): readonly RateSlot[] | JsonAnswer {
  switch (charge) {
    case 'standing-charges':
      return doc.standingCharges;
    case 'standard-unit-rates':
      return doc.registerKind === 'standard' ? doc.unitRates : { status: 400, body: ERROR_BODIES.dayNight };
    case 'day-unit-rates':
      return doc.registerKind === 'day-night'
        ? doc.dayUnitRates
        : { status: 404, body: ERROR_BODIES.notFound };
    case 'night-unit-rates':
      return doc.registerKind === 'day-night'
        ? doc.nightUnitRates
        : { status: 404, body: ERROR_BODIES.notFound };
  }
}

/**
 * Answers a charge endpoint from a held document with the upstream's semantics: validate the query (400s),
 * keep rows overlapping `[period_from, period_to)` in the held (newest-first) order, page them (404 for an
 * invalid page) and link `next`/`previous` absolutely on `origin + canonicalPath`, the other parameters kept
 * as DRF keeps them.
 */
export function answerRates(req: {
  readonly doc: RatesDocument;
  readonly charge: Charge;
  readonly query: readonly QueryPair[];
  readonly origin: string;
  readonly canonicalPath: string;
}): JsonAnswer {
  // The endpoint is checked before the query, as upstream looks the tariff's rates up first.
  const rows = rowsFor(req.doc, req.charge);
  if (!Array.isArray(rows)) return rows as JsonAnswer;
  const parsed = parseRatesQuery(req.query);
  if (!parsed.ok) return { status: parsed.status, body: parsed.body };
  const q = parsed.value;
  const matching = q.from === null && q.to === null ? rows : overlapping(rows, q.from, q.to);
  const page = paginate(matching.length, q.pageSize, q.page);
  if (!page.ok) return { status: page.status, body: page.body };
  const { number, numPages, start, end } = page.value;
  const link = (qs: string): string => `${req.origin}${req.canonicalPath}${qs === '' ? '' : `?${qs}`}`;
  const next = number < numPages ? link(replaceQueryParam(req.query, 'page', String(number + 1))) : null;
  let previous: string | null = null;
  if (number > 1) {
    previous = link(
      number === 2
        ? replaceQueryParam(req.query, 'page', null)
        : replaceQueryParam(req.query, 'page', String(number - 1)),
    );
  }
  const body: RatesPage = { count: matching.length, next, previous, results: matching.slice(start, end) };
  return { status: 200, body };
}
