import assert from 'node:assert/strict';
import { LocalCopy } from '../src/copy/local-copy.js';
import { doc, json, KEY } from './docs.js';

describe('LocalCopy', () => {
  it('applies a valid document and ignores a replay of the same revision', () => {
    const c = new LocalCopy();
    assert.deepEqual(c.applyDocument(KEY, json(doc()), 5, 'e1'), { kind: 'applied' });
    assert.deepEqual(c.applyDocument(KEY, json(doc({ seed: 2 })), 5, 'e1'), { kind: 'duplicate' });
    assert.equal(c.document(KEY)?.document.contentHash, doc().contentHash);
  });

  it('rejects by reason and keeps the last good copy', () => {
    const c = new LocalCopy();
    c.applyDocument(KEY, json(doc({ term: 3 })), 5, 'e1');
    const reason = (payload: string, rev: number, key = KEY) => {
      const r = c.applyDocument(key, payload, rev, 'e1');
      return r.kind === 'rejected' ? r.reason : r.kind;
    };
    assert.equal(reason('{', 6), 'invalid-payload');
    assert.equal(reason(json({ ...doc(), term: 0 }), 7), 'invalid-payload');
    assert.equal(reason(json(doc({ tariff: 'E-1R-AGILE-24-10-01-A' })), 8), 'invalid-payload'); // region mismatch
    assert.equal(reason(json(doc()), 9, 'AGILE-24-10-01.E-1R-AGILE-24-10-01-D'), 'key-mismatch');
    assert.equal(reason(json(doc()), 9, 'a..b'), 'invalid-key');
    assert.equal(reason(json(doc({ term: 2, seed: 9 })), 10), 'older-term');
    assert.equal(reason(json(doc({ seed: 9, end: '2026-11-29T22:00:00Z' })), 11), 'regressed-coverage');
    assert.equal(reason(json(doc({ seed: 9 })), 4), 'older-revision');
    assert.equal(c.document(KEY)?.revision, 5);
    assert.equal(reason(json(doc({ seed: 9, term: 4, end: '2026-11-29T22:00:00Z' })), 12), 'applied');
  });

  it('compares terms only within one bucket epoch (a recreated system starts over)', () => {
    const c = new LocalCopy();
    c.applyDocument(KEY, json(doc({ term: 9 })), 50, 'e1');
    assert.equal(c.applyDocument(KEY, json(doc({ term: 1, seed: 2 })), 3, 'e2').kind, 'applied');
  });

  it('confirms from the later of fetchedAt and a check of the same content only', () => {
    const c = new LocalCopy();
    const d = doc();
    c.applyDocument(KEY, json(d), 1, 'e');
    const check = (hash: string, at: string) => ({
      type: 'checked',
      schemaVersion: 1,
      product: d.product,
      tariff: d.tariff,
      checkedAt: at,
      contentHash: hash,
      coversThrough: d.coversThrough,
      term: d.term,
    });
    assert.equal(c.confirmedAt(KEY), Date.parse(d.fetchedAt));
    c.applyCheck(KEY, json(check(d.contentHash, '2026-11-29T12:20:00.000Z')), 1, 'e');
    assert.equal(c.confirmedAt(KEY), Date.parse('2026-11-29T12:20:00.000Z'));
    c.applyCheck(KEY, json(check(doc({ seed: 5 }).contentHash, '2026-11-29T12:40:00.000Z')), 2, 'e');
    assert.equal(c.confirmedAt(KEY), Date.parse(d.fetchedAt));
  });

  it('removes on a newer DEL only', () => {
    const c = new LocalCopy();
    c.applyDocument(KEY, json(doc()), 5, 'e');
    assert.equal(c.removeDocument(KEY, 4, 'e'), false);
    assert.equal(c.removeDocument(KEY, 6, 'e'), true);
    assert.equal(c.size, 0);
  });
});
