import assert from 'node:assert/strict';
import {
  canonicalJson,
  contentHash,
  decode,
  discontinuities,
  InvalidMessageError,
  preferPaymentMethod,
  type RatesDocument,
  RatesDocumentSchema,
  SchemaErrorCode,
} from '../src/index.js';
import { agileDoc, dayNightDoc, exportDoc, gasDoc } from './fixtures.js';

/** Rebuilds an object with its keys in reverse order at every depth. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .reverse()
        .map((k) => [k, reverseKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

const DOCS: Array<[string, () => RatesDocument]> = [
  ['Agile import', agileDoc],
  ['day/night (E-2R)', dayNightDoc],
  ['gas (G-1R)', gasDoc],
  ['Agile export', exportDoc],
];

describe('RatesDocument', () => {
  for (const [name, make] of DOCS) {
    it(`round-trips a valid ${name} document through JSON`, () => {
      const doc = make();
      const r = decode(RatesDocumentSchema, 'rates document', JSON.stringify(doc));
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      assert.deepEqual(r.value, doc);
      assert.equal(contentHash(r.value), doc.contentHash);
    });
  }

  it('rejects garbage, wrong versions and inconsistent documents with a typed error', () => {
    const base = agileDoc();
    const cases: Array<[string, unknown]> = [
      ['not JSON', '{"type":'],
      ['wrong version', { ...base, schemaVersion: 2 }],
      ['unknown field', { ...base, extra: 1 }],
      ['region differs', { ...base, region: 'A' }],
      ['bad tariff code', { ...base, tariff: 'E-1R-AGILE-24-10-01-*' }],
      ['tariff of other product', { ...base, product: 'GO-VAR-22-10-14' }],
      ['oldest first', { ...base, unitRates: [...(base as { unitRates: unknown[] }).unitRates].reverse() }],
      ['string price', { ...base, standingCharges: [{ ...base.standingCharges[0], value_exc_vat: '1' }] }],
      ['offset timestamp', { ...base, coversThrough: '2026-11-29T23:00:00+00:00' }],
      ['gas with day/night', { ...dayNightDoc(), tariff: 'G-2R-VAR-22-11-01-A', fuel: 'gas' }],
      ['zero term', { ...base, term: 0 }],
    ];
    for (const [name, value] of cases) {
      const r = decode(
        RatesDocumentSchema,
        'rates document',
        typeof value === 'string' ? value : JSON.stringify(value),
      );
      assert.equal(r.ok, false, `${name} should be rejected`);
      if (!r.ok) {
        assert.ok(r.error instanceof InvalidMessageError);
        assert.equal(r.error.code, SchemaErrorCode.InvalidMessage);
        assert.ok(r.error.issues.length > 0, name);
      }
    }
  });

  it('rejects invalid UTF-8 bytes', () => {
    const r = decode(RatesDocumentSchema, 'rates document', new Uint8Array([0x7b, 0xff, 0x7d]));
    assert.equal(r.ok, false);
  });
});

describe('contentHash', () => {
  it('is stable under key reordering', () => {
    for (const [, make] of DOCS) {
      const doc = make();
      const shuffled = reverseKeys(doc) as RatesDocument;
      assert.notEqual(JSON.stringify(shuffled), JSON.stringify(doc));
      assert.equal(canonicalJson(shuffled), canonicalJson(doc));
      assert.equal(contentHash(shuffled), contentHash(doc));
    }
  });

  it('ignores when and by whom the rates were fetched', () => {
    const doc = agileDoc();
    assert.equal(contentHash({ ...doc, fetchedAt: '2027-01-01T00:00:00.000Z', term: 99 }), doc.contentHash);
  });

  it('changes when any value changes', () => {
    const doc = agileDoc() as Extract<RatesDocument, { registerKind: 'standard' }>;
    const mutations: Array<(d: typeof doc) => unknown> = [
      (d) => ({
        ...d,
        unitRates: d.unitRates.map((r, i) =>
          i === 17 ? { ...r, value_exc_vat: r.value_exc_vat + 0.0001 } : r,
        ),
      }),
      (d) => ({ ...d, unitRates: d.unitRates.map((r, i) => (i === 0 ? { ...r, value_inc_vat: 0 } : r)) }),
      (d) => ({
        ...d,
        unitRates: d.unitRates.map((r, i) => (i === 3 ? { ...r, payment_method: 'DIRECT_DEBIT' } : r)),
      }),
      (d) => ({ ...d, unitRates: d.unitRates.slice(1) }),
      (d) => ({ ...d, standingCharges: [{ ...d.standingCharges[0], valid_to: '2026-12-01T00:00:00Z' }] }),
      (d) => ({ ...d, direction: 'EXPORT' }),
      (d) => ({ ...d, coversThrough: '2026-11-29T22:30:00Z' }),
    ];
    const seen = new Set([doc.contentHash]);
    for (const m of mutations) {
      const h = contentHash(m(doc) as RatesDocument);
      assert.ok(!seen.has(h), 'a mutation kept the hash');
      seen.add(h);
    }
  });
});

describe('slot helpers', () => {
  it('finds gaps and overlaps per payment method', () => {
    const doc = agileDoc() as Extract<RatesDocument, { registerKind: 'standard' }>;
    assert.deepEqual(discontinuities(doc.unitRates), []);
    const gap = doc.unitRates.filter((_, i) => i !== 10);
    assert.deepEqual(
      discontinuities(gap).map((d) => d.kind),
      ['gap'],
    );
    const dup = [...doc.unitRates.slice(0, 5), doc.unitRates[4]!, ...doc.unitRates.slice(5)];
    assert.ok(discontinuities(dup).some((d) => d.kind === 'overlap'));
  });

  it('keeps one row per period, preferring the chosen payment method', () => {
    const doc = dayNightDoc() as Extract<RatesDocument, { registerKind: 'day-night' }>;
    const dd = preferPaymentMethod(doc.nightUnitRates, 'DIRECT_DEBIT');
    assert.deepEqual(
      dd.map((r) => r.payment_method),
      ['DIRECT_DEBIT'],
    );
    const ndd = preferPaymentMethod(doc.dayUnitRates, 'NON_DIRECT_DEBIT');
    assert.deepEqual(
      ndd.map((r) => r.value_exc_vat),
      [28.3],
    );
  });
});
