import assert from 'node:assert/strict';
import { noneMatch, PageCache } from '../src/index.js';
import { agileDoc } from './fixtures.js';

describe('PageCache', () => {
  const doc = agileDoc('2025-03-01T00:00:00Z', 10);

  it('gives a page back only for the document it was computed from', () => {
    const cache = new PageCache();
    const page = cache.put('k', doc, 200, { a: 1 });
    assert.equal(page.body.toString(), '{"a":1}');
    assert.equal(cache.get('k', doc), page);
    const newer = agileDoc('2025-03-01T00:00:00Z', 10);
    assert.equal(cache.get('k', newer), undefined);
    assert.deepEqual(cache.stats(), { entries: 0, bytes: 0 });
  });

  it('evicts the least recently used entry beyond its entry bound', () => {
    const cache = new PageCache({ maxEntries: 2 });
    cache.put('a', doc, 200, 'a');
    cache.put('b', doc, 200, 'b');
    assert.ok(cache.get('a', doc));
    cache.put('c', doc, 200, 'c');
    assert.ok(cache.get('a', doc));
    assert.equal(cache.get('b', doc), undefined);
    assert.ok(cache.get('c', doc));
    assert.equal(cache.evictions, 1);
  });

  it('keeps the bytes of its bodies within its byte bound and never stores a body larger than it', () => {
    const cache = new PageCache({ maxBytes: 100 });
    for (let i = 0; i < 10; i++) cache.put(`k${i}`, doc, 200, 'x'.repeat(30));
    assert.ok(cache.stats().bytes <= 100, String(cache.stats().bytes));
    assert.equal(cache.stats().entries, 3);
    const big = cache.put('big', doc, 200, 'y'.repeat(200));
    assert.equal(big.body.length, 202);
    assert.equal(cache.get('big', doc), undefined);
    assert.ok(cache.stats().bytes <= 100);
  });

  it('replacing a key does not count its old body twice', () => {
    const cache = new PageCache();
    cache.put('k', doc, 200, 'x'.repeat(10));
    cache.put('k', doc, 200, 'x'.repeat(20));
    assert.deepEqual(cache.stats(), { entries: 1, bytes: 22 });
  });

  it('gives equal bodies equal validators and different bodies different ones', () => {
    const cache = new PageCache();
    const a = cache.put('a', doc, 200, [1, 2]);
    const b = cache.put('b', doc, 200, [1, 2]);
    const c = cache.put('c', doc, 200, [1, 3]);
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
