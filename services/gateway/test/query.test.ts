import assert from 'node:assert/strict';
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  paginate,
  parsePageSize,
  parseQuery,
  parseRatesQuery,
  parseUpstreamDateTime,
  quotePlus,
  replaceQueryParam,
  unquotePlus,
} from '../src/index.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const q = (s: string) => parseRatesQuery(parseQuery(s));

describe('upstream datetime parsing', () => {
  it('reads Z and explicit offsets as given', () => {
    assert.equal(iso(parseUpstreamDateTime('2025-03-01T12:00:00Z')), '2025-03-01T12:00:00.000Z');
    assert.equal(iso(parseUpstreamDateTime('2025-07-01T12:00:00+01:00')), '2025-07-01T11:00:00.000Z');
    assert.equal(iso(parseUpstreamDateTime('2025-07-01T12:00:00-0230')), '2025-07-01T14:30:00.000Z');
    assert.equal(iso(parseUpstreamDateTime('2025-07-01 12:00+01')), '2025-07-01T11:00:00.000Z');
    assert.equal(iso(parseUpstreamDateTime('2025-07-01T12:00:00.250999123Z')), '2025-07-01T12:00:00.250Z');
    assert.equal(iso(parseUpstreamDateTime('2025-07-01T9:5 +01:00')), '2025-07-01T08:05:00.000Z');
  });

  it('reads naive times and bare dates as Europe/London wall-clock time', () => {
    assert.equal(iso(parseUpstreamDateTime('2025-10-01')), '2025-09-30T23:00:00.000Z');
    assert.equal(iso(parseUpstreamDateTime('2025-01-15T10:00')), '2025-01-15T10:00:00.000Z');
    assert.equal(iso(parseUpstreamDateTime('2025-07-15T10:00:00')), '2025-07-15T09:00:00.000Z');
  });

  it('resolves the clock-change hours like zoneinfo with fold=0', () => {
    // 2025-10-26 01:30 happens twice: the first (BST) one.
    assert.equal(iso(parseUpstreamDateTime('2025-10-26T01:30:00')), '2025-10-26T00:30:00.000Z');
    // 2025-03-30 01:30 does not exist: the offset before the change (GMT).
    assert.equal(iso(parseUpstreamDateTime('2025-03-30T01:30:00')), '2025-03-30T01:30:00.000Z');
  });

  it('rejects malformed values, including an offset whose + was decoded to a space', () => {
    for (const bad of [
      'yesterday',
      '2025-13-01',
      '2025-02-30',
      '2025-01-01T24:00:00',
      '2025-01-01T10:60',
      '2025-01-01T00:00:00 01:00',
      '2025-01-01T00:00:00+25:00',
      '2025-1-1',
      '2025-01-01T10',
      '2025-01-01T10:00z',
      '',
    ]) {
      assert.equal(parseUpstreamDateTime(bad), null, bad);
    }
  });
});

describe('query strings as Python reads and writes them', () => {
  it('decodes + as a space and %2B as a plus, keeps blank values, tolerates bad escapes', () => {
    assert.deepEqual(parseQuery('a=1+2&b=%2B01%3A00&c&d=&e=%zz&&f=%E2%82%AC'), [
      ['a', '1 2'],
      ['b', '+01:00'],
      ['c', ''],
      ['d', ''],
      ['e', '%zz'],
      ['f', '€'],
    ]);
    assert.equal(unquotePlus('%ff'), '\ufffd');
  });

  it('re-encodes with quote_plus and sorted names, like DRF replace_query_param', () => {
    assert.equal(quotePlus('2025-01-01T00:00:00+01:00 x~_.-'), '2025-01-01T00%3A00%3A00%2B01%3A00+x~_.-');
    const pairs = parseQuery('period_to=2025-01-02T00:00Z&page_size=10&period_from=2025-01-01T00:00Z&page=3');
    assert.equal(
      replaceQueryParam(pairs, 'page', '4'),
      'page=4&page_size=10&period_from=2025-01-01T00%3A00Z&period_to=2025-01-02T00%3A00Z',
    );
    assert.equal(
      replaceQueryParam(pairs, 'page', null),
      'page_size=10&period_from=2025-01-01T00%3A00Z&period_to=2025-01-02T00%3A00Z',
    );
    assert.equal(replaceQueryParam(parseQuery('b=2&a=1&b=3'), 'page', '2'), 'a=1&b=2&b=3&page=2');
  });
});

describe('rates query parameters', () => {
  it('answers the upstream 400 bodies', () => {
    const cases: Array<[string, unknown]> = [
      [
        'period_to=2025-01-01T00:00Z',
        { period_from: ['This field is required when providing a `period_to`.'] },
      ],
      [
        'period_from=2025-01-02T00:00Z&period_to=2025-01-01T00:00Z',
        { period_from: ['Must not be greater than `period_to`.'] },
      ],
      ['period_from=nope', { period_from: ['Enter a valid date/time.'] }],
      ['period_from=2025-01-01T00:00Z&period_to=nope', { period_to: ['Enter a valid date/time.'] }],
      [
        'period_from=x&period_to=y',
        { period_from: ['Enter a valid date/time.'], period_to: ['Enter a valid date/time.'] },
      ],
      ['period_from=2025-07-01T00:00:00+01:00', { period_from: ['Enter a valid date/time.'] }],
      ['period_from=%20', { period_from: ['Enter a valid date/time.'] }],
    ];
    for (const [query, body] of cases) {
      const r = q(query);
      assert.equal(r.ok, false, query);
      if (!r.ok) {
        assert.equal(r.status, 400, query);
        assert.deepEqual(r.body, body, query);
        assert.deepEqual(Object.keys(r.body), Object.keys(body as object), `${query}: key order`);
      }
    }
  });

  it('accepts an encoded offset, equal bounds, empty values as absent, and the last of repeated values', () => {
    const a = q('period_from=2025-07-01T00:00:00%2B01:00');
    assert.ok(a.ok && a.value.from === Date.parse('2025-06-30T23:00:00Z'));
    const b = q('period_from=2025-01-01T00:00Z&period_to=2025-01-01T00:00Z');
    assert.ok(b.ok && b.value.from === b.value.to);
    const c = q('period_from=&period_to=');
    assert.ok(c.ok && c.value.from === null && c.value.to === null && c.value.page === null);
    const d = q('period_from=nope&period_from=2025-01-01');
    assert.ok(d.ok && d.value.from === Date.parse('2025-01-01T00:00:00Z'));
  });

  it('defaults page_size to 100, clamps it to 1500 and ignores invalid values', () => {
    assert.equal(parsePageSize(undefined), DEFAULT_PAGE_SIZE);
    assert.equal(parsePageSize('25'), 25);
    assert.equal(parsePageSize(' 25 '), 25);
    for (const big of ['1500', '1501', '2000', '25000']) assert.equal(parsePageSize(big), MAX_PAGE_SIZE);
    for (const bad of ['0', '-5', 'abc', '', '1.5', '1e3', '1_0'])
      assert.equal(parsePageSize(bad), DEFAULT_PAGE_SIZE, bad);
  });

  it('pages like Django: last, empty first page, 404 Invalid page otherwise', () => {
    assert.deepEqual(paginate(250, 100, null), {
      ok: true,
      value: { number: 1, numPages: 3, start: 0, end: 100 },
    });
    assert.deepEqual(paginate(250, 100, 'last'), {
      ok: true,
      value: { number: 3, numPages: 3, start: 200, end: 250 },
    });
    assert.deepEqual(paginate(250, 100, '+2'), {
      ok: true,
      value: { number: 2, numPages: 3, start: 100, end: 200 },
    });
    assert.deepEqual(paginate(0, 100, '1'), {
      ok: true,
      value: { number: 1, numPages: 1, start: 0, end: 0 },
    });
    for (const bad of ['0', '-1', '4', 'x', '1.0', '2.5', '']) {
      assert.deepEqual(
        paginate(250, 100, bad),
        { ok: false, status: 404, body: { detail: 'Invalid page.' } },
        bad,
      );
    }
    assert.equal(paginate(0, 100, '2').ok, false);
  });
});
