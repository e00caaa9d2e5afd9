import assert from 'node:assert/strict';
import { agileDoc, dayNightDoc, gasDoc } from '@ratebus/fixtures';
import type { RateSlot } from '@ratebus/schema';
import { answerRates, parseQuery, type RatesPage } from '../src/index.js';

const ORIGIN = 'http://gw.test:8092';
const PATH = '/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/';
const doc = agileDoc('2025-03-01T00:00:00Z', 250);

function ask(query: string, over: Partial<Parameters<typeof answerRates>[0]> = {}) {
  return answerRates({
    doc,
    charge: 'standard-unit-rates',
    query: parseQuery(query),
    origin: ORIGIN,
    canonicalPath: PATH,
    ...over,
  });
}
const page = (query: string, over = {}) => {
  const a = ask(query, over);
  assert.equal(a.status, 200, JSON.stringify(a.body));
  return a.body as RatesPage;
};
const froms = (rows: readonly RateSlot[]) => rows.map((r) => r.valid_from);

describe('rates pages', () => {
  it('serves everything newest first, 100 a page, with absolute next and no previous on page 1', () => {
    const p = page('');
    assert.equal(p.count, 250);
    assert.equal(p.results.length, 100);
    assert.equal(p.results[0]?.valid_from, '2025-03-06T04:30:00Z');
    assert.equal(p.next, `${ORIGIN}${PATH}?page=2`);
    assert.equal(p.previous, null);
    const sorted = [...froms(p.results)].sort().reverse();
    assert.deepEqual(froms(p.results), sorted);
  });

  it('links previous of page 2 without a page parameter, and of page 3 to page 2, keeping other params sorted', () => {
    const p2 = page('page_size=50&page=2');
    assert.equal(p2.previous, `${ORIGIN}${PATH}?page_size=50`);
    assert.equal(p2.next, `${ORIGIN}${PATH}?page=3&page_size=50`);
    const p3 = page('period_from=2025-03-01T00:00:00Z&page=3&page_size=50');
    assert.equal(p3.previous, `${ORIGIN}${PATH}?page=2&page_size=50&period_from=2025-03-01T00%3A00%3A00Z`);
    const last = page('page=last');
    assert.equal(last.next, null);
    assert.equal(last.results.length, 50);
  });

  it('walking next returns exactly the unpaged set, without duplicates', () => {
    const all: RateSlot[] = [];
    let url: string | null = `${ORIGIN}${PATH}?period_from=2025-03-02T00:00Z&page_size=7`;
    while (url) {
      const p = page(new URL(url).search.slice(1));
      all.push(...p.results);
      url = p.next;
    }
    const unpaged = page('period_from=2025-03-02T00:00Z&page_size=1500');
    assert.deepEqual(all, unpaged.results);
    assert.equal(new Set(froms(all)).size, all.length);
  });

  it('keeps rows overlapping [period_from, period_to), open-ended ones included', () => {
    const p = page('period_from=2025-03-01T02:45:00Z&period_to=2025-03-01T03:15:00Z');
    assert.deepEqual(froms(p.results), ['2025-03-01T03:00:00Z', '2025-03-01T02:30:00Z']);
    const sc = page('period_from=2025-03-02T00:00Z&period_to=2025-03-03T00:00Z', {
      charge: 'standing-charges',
    });
    assert.equal(sc.count, 1);
    assert.equal(sc.results[0]?.valid_to, null);
    const future = page('period_from=2030-01-01T00:00Z');
    assert.deepEqual(future, { count: 0, next: null, previous: null, results: [] });
    const naive = page('period_from=2025-03-01T01:00&period_to=2025-03-01T02:00');
    assert.equal(naive.count, 2); // GMT in March before the change: naive = UTC
  });

  it('clamps page_size to 1500 and 404s an out-of-range page', () => {
    const big = agileDoc('2025-01-01T00:00:00Z', 1600);
    const p = page('page_size=25000', { doc: big });
    assert.equal(p.results.length, 1500);
    assert.equal(p.next, `${ORIGIN}${PATH}?page=2&page_size=25000`);
    assert.deepEqual(ask('page=4'), { status: 404, body: { detail: 'Invalid page.' } });
  });

  it('returns the exact 400 bodies before paging', () => {
    assert.deepEqual(ask('period_to=2025-01-01&page=99'), {
      status: 400,
      body: { period_from: ['This field is required when providing a `period_to`.'] },
    });
  });

  it('answers a day/night tariff asked for standard rates with the upstream 400', () => {
    const dn = dayNightDoc();
    assert.deepEqual(ask('', { doc: dn }), {
      status: 400,
      body: { detail: 'This tariff has day and night rates' },
    });
    const day = page('', { doc: dn, charge: 'day-unit-rates' });
    assert.deepEqual(
      day.results.map((r) => [r.valid_from, r.payment_method]),
      [
        ['2025-01-01T00:00:00Z', 'DIRECT_DEBIT'],
        ['2025-01-01T00:00:00Z', 'NON_DIRECT_DEBIT'],
        ['2024-10-01T00:00:00Z', 'DIRECT_DEBIT'],
        ['2024-10-01T00:00:00Z', 'NON_DIRECT_DEBIT'],
      ],
    );
    assert.equal(page('', { doc: dn, charge: 'night-unit-rates' }).results[0]?.value_exc_vat, 12);
    assert.deepEqual(ask('', { charge: 'day-unit-rates' }), { status: 404, body: { detail: 'Not found.' } });
    // The endpoint is judged before the query.
    assert.deepEqual(ask('period_from=nope', { doc: dn }), {
      status: 400,
      body: { detail: 'This tariff has day and night rates' },
    });
  });

  it('serves gas rows as held', () => {
    const g = gasDoc();
    assert.deepEqual(page('', { doc: g }).results, g.unitRates);
    assert.deepEqual(page('', { doc: g, charge: 'standing-charges' }).results, g.standingCharges);
  });
});
