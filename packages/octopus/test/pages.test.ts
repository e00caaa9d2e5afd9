import assert from 'node:assert/strict';
import type { RateSlot } from '@ratebus/schema';
import { InvalidResponseError } from '../src/index.js';
import { checkAllRows, checkPage, nextTarget, PagingError, parseJson, parseRatesPage } from '../src/pages.js';
import { RatesPageSchema } from '../src/schemas.js';

const ORIGIN = 'https://api.octopus.energy';
const PATH = '/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/';
const PARAMS = new URLSearchParams({
  period_from: '2025-01-01T00:00:00Z',
  period_to: '2025-03-01T00:00:00Z',
  page_size: '1500',
});

/** Half-hour rows newest first, ending at `endIso`. */
function rows(n: number, endIso = '2025-01-02T00:00:00Z', pm: string | null = null): RateSlot[] {
  const end = Date.parse(endIso);
  return Array.from({ length: n }, (_, i) => ({
    value_exc_vat: 10 + i,
    value_inc_vat: (10 + i) * 1.05,
    valid_from: `${new Date(end - (i + 1) * 1_800_000).toISOString().slice(0, 19)}Z`,
    valid_to: `${new Date(end - i * 1_800_000).toISOString().slice(0, 19)}Z`,
    payment_method: pm,
  }));
}

const res = (body: string, contentType = 'application/json') => ({
  status: 200,
  headers: {},
  contentType,
  body,
});

describe('nextTarget', () => {
  const next = (q: Record<string, string>, origin = ORIGIN, path = PATH) =>
    `${origin}${path}?${new URLSearchParams(q)}`;

  it('follows a next link on our origin and path that keeps the query (in any order) and asks the next page', () => {
    const link = next({
      page: '2',
      page_size: '1500',
      period_to: '2025-03-01T00:00:00Z',
      period_from: '2025-01-01T00:00:00Z',
    });
    const target = nextTarget(link, ORIGIN, PATH, PARAMS, 2);
    assert.ok(target.startsWith(`${PATH}?`));
    assert.equal(new URLSearchParams(target.split('?')[1]).get('page'), '2');
  });

  const bad: Array<[string, string]> = [
    ['another origin', next({ ...Object.fromEntries(PARAMS), page: '2' }, 'https://evil.example')],
    ['another scheme', next({ ...Object.fromEntries(PARAMS), page: '2' }, 'http://api.octopus.energy')],
    ['another path', next({ ...Object.fromEntries(PARAMS), page: '2' }, ORIGIN, '/v1/products/')],
    ['a skipped page', next({ ...Object.fromEntries(PARAMS), page: '3' })],
    [
      'a changed window',
      next({ ...Object.fromEntries(PARAMS), period_to: '2026-01-01T00:00:00Z', page: '2' }),
    ],
    ['a dropped parameter', next({ page_size: '1500', page: '2' })],
    ['an extra parameter', next({ ...Object.fromEntries(PARAMS), page: '2', format: 'api' })],
  ];
  for (const [name, link] of bad) {
    it(`refuses a next link to ${name}`, () => {
      assert.throws(() => nextTarget(link, ORIGIN, PATH, PARAMS, 2), InvalidResponseError);
    });
  }
});

describe('rates page checks', () => {
  it('accepts a contiguous page that holds all rows', () => {
    const page = RatesPageSchema.parse({ count: 48, next: null, previous: null, results: rows(48) });
    assert.equal(checkPage(page, 200), page);
  });

  it('refuses a page with a missing slot in the middle', () => {
    const r = rows(48);
    r.splice(20, 2);
    const page = RatesPageSchema.parse({ count: 48, next: null, previous: null, results: r });
    assert.throws(() => checkPage(page, 200), InvalidResponseError);
  });

  it('refuses a single page with fewer rows than its count', () => {
    const page = RatesPageSchema.parse({ count: 48, next: null, previous: null, results: rows(46) });
    assert.throws(() => checkPage(page, 200), InvalidResponseError);
  });

  it('checks contiguity per payment method, so DD/NDD twins are fine', () => {
    const dd = rows(3, '2025-01-02T00:00:00Z', 'DIRECT_DEBIT');
    const ndd = rows(3, '2025-01-02T00:00:00Z', 'NON_DIRECT_DEBIT');
    const twins = dd.flatMap((r, i) => (i % 2 ? [r, ndd[i]!] : [ndd[i]!, r]));
    const page = RatesPageSchema.parse({ count: 6, next: null, previous: null, results: twins });
    assert.equal(checkPage(page, 200).results.length, 6);
  });

  it('treats HTML, malformed JSON and rows out of order as invalid, never as data', () => {
    assert.throws(
      () => parseRatesPage(res('<html>502 Bad Gateway</html>', 'text/html')),
      InvalidResponseError,
    );
    assert.throws(() => parseRatesPage(res('{"count": 1, "next": null, "prev')), InvalidResponseError);
    const upside = rows(3).reverse();
    assert.throws(
      () => parseRatesPage(res(JSON.stringify({ count: 3, next: null, previous: null, results: upside }))),
      InvalidResponseError,
    );
  });

  it('reports schema problems as issues with paths, not raw values', () => {
    try {
      parseJson(RatesPageSchema, res('{"count":"many","next":null,"previous":null,"results":[]}'), 'page');
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof InvalidResponseError);
      assert.ok(e.issues.some((i) => i.path === 'count'));
      assert.ok(!e.message.includes('many'));
    }
  });
});

describe('checkAllRows', () => {
  it('accepts pages that join up', () => {
    const page1 = rows(4, '2025-01-02T00:00:00Z');
    const page2 = rows(4, '2025-01-01T22:00:00Z'); // page 1's oldest row starts here
    assert.doesNotThrow(() => checkAllRows([...page1, ...page2], 8));
  });

  it('asks for a new pass when a row was counted but not delivered', () => {
    assert.throws(() => checkAllRows(rows(10), 11), PagingError);
  });

  it('asks for a new pass when pages overlap (a publication shifted them)', () => {
    const page1 = rows(4, '2025-01-02T00:00:00Z');
    const page2 = rows(4, '2025-01-01T23:00:00Z'); // starts 2 slots before page 1 ended
    assert.throws(() => checkAllRows([...page1, ...page2], 8), PagingError);
  });

  it('asks for a new pass when pages leave a gap between them', () => {
    const page1 = rows(4, '2025-01-02T00:00:00Z');
    const page2 = rows(4, '2025-01-01T20:00:00Z');
    assert.throws(() => checkAllRows([...page1, ...page2], 8), PagingError);
  });
});
