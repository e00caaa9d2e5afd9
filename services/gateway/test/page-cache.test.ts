import assert from 'node:assert/strict';
import { agileDoc } from '@ratebus/fixtures';
import { noneMatch, PageCache } from '../src/index.js';

describe('PageCache', () => {
  const doc = agileDoc('2025-03-01T00:00:00Z', 10);
  const T = 'AGILE-24-10-01.E-1R-AGILE-24-10-01-C';

  it('gives a page back only for the document it was computed from', () => {
    const cache = new PageCache();
    const page = cache.put('k', T, doc, 200, { a: 1 });
    assert.equal(page.body.toString(), '{"a":1}');
    assert.equal(cache.get('k', T, doc), page);
    const newer = agileDoc('2025-03-01T00:00:00Z', 10);
    assert.equal(cache.get('k', T, newer), undefined);
    // The next page of the new document replaces every page of the old one.
    cache.put('k2', T, newer, 200, { b: 2 });
    assert.equal(cache.get('k', T, doc), undefined);
    assert.deepEqual(cache.stats(), { entries: 1, bytes: 7 });
  });

  it('drops every page of a tariff, and its document, once a new document of it is stored', () => {
    const cache = new PageCache();
    const other = 'GO-VAR-22-10-14.E-1R-GO-VAR-22-10-14-C';
    for (let i = 0; i < 5; i++) cache.put(`old-${i}`, T, doc, 200, i);
    cache.put('go', other, doc, 200, 'go');
    const newer = agileDoc('2025-03-01T00:00:00Z', 12);
    // A query never asked again (a new `period_from` each time) must not keep the old document alive.
    cache.put('new', T, newer, 200, 'new');
    assert.equal(cache.stats().entries, 2);
    assert.equal(cache.tariffs, 2);
    assert.equal(cache.get('old-0', T, doc), undefined);
    assert.ok(cache.get('new', T, newer));
    assert.ok(cache.get('go', other, doc));
  });

  it('evicts the least recently used entry beyond its entry bound, and forgets tariffs left without pages', () => {
    const cache = new PageCache({ maxEntries: 2 });
    cache.put('a', 'A', doc, 200, 'a');
    cache.put('b', 'B', doc, 200, 'b');
    assert.ok(cache.get('a', 'A', doc));
    cache.put('c', 'C', doc, 200, 'c');
    assert.ok(cache.get('a', 'A', doc));
    assert.equal(cache.get('b', 'B', doc), undefined);
    assert.ok(cache.get('c', 'C', doc));
    assert.equal(cache.evictions, 1);
    assert.equal(cache.tariffs, 2);
  });

  it('keeps the bytes of its bodies within its byte bound and never stores a body larger than it', () => {
    const cache = new PageCache({ maxBytes: 100 });
    for (let i = 0; i < 10; i++) cache.put(`k${i}`, T, doc, 200, 'x'.repeat(30));
    assert.ok(cache.stats().bytes <= 100, String(cache.stats().bytes));
    assert.equal(cache.stats().entries, 3);
    const big = cache.put('big', T, doc, 200, 'y'.repeat(200));
    assert.equal(big.body.length, 202);
    assert.equal(cache.get('big', T, doc), undefined);
    assert.ok(cache.stats().bytes <= 100);
  });

  it('replacing a key does not count its old body twice', () => {
    const cache = new PageCache();
    cache.put('k', T, doc, 200, 'x'.repeat(10));
    cache.put('k', T, doc, 200, 'x'.repeat(20));
    assert.deepEqual(cache.stats(), { entries: 1, bytes: 22 });
  });

  it('gives equal bodies equal validators and different bodies different ones', () => {
    const cache = new PageCache();
    const a = cache.put('a', T, doc, 200, [1, 2]);
    const b = cache.put('b', T, doc, 200, [1, 2]);
    const c = cache.put('c', T, doc, 200, [1, 3]);
    assert.equal(a.etag, b.etag);
    assert.notEqual(a.etag, c.etag);
  });

  it('matches If-None-Match lists, weak tags and *', () => {
    assert.equal(noneMatch(undefined, '"x"'), false);
    assert.equal(noneMatch('"x"', '"x"'), true);
    assert.equal(noneMatch('W/"x"', '"x"'), true);
    assert.equal(noneMatch('"a", "x"', '"x"'), true);
    assert.equal(noneMatch(' * ', '"x"'), true);
    assert.equal(noneMatch('"a", "b"', '"x"'), false);
    assert.equal(noneMatch('x', '"x"'), false);
  });
});
