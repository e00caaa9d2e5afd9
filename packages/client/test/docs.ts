import { contentHash, type RatesDocument, SCHEMA_VERSION } from '@ratebus/schema';

/** A small valid Agile-like document; `seed` changes the content, `term` and `end` the metadata. */
export function doc(o: { seed?: number; term?: number; end?: string; tariff?: string } = {}): RatesDocument {
  const end = o.end ?? '2026-11-29T23:00:00Z';
  const from = `${new Date(Date.parse(end) - 30 * 60_000).toISOString().slice(0, 19)}Z`;
  const exc = o.seed ?? 1;
  const d = {
    type: 'rates' as const,
    schemaVersion: SCHEMA_VERSION,
    product: 'AGILE-24-10-01',
    tariff: o.tariff ?? 'E-1R-AGILE-24-10-01-C',
    region: 'C',
    fuel: 'electricity',
    direction: 'IMPORT',
    registerKind: 'standard',
    unitRates: [
      {
        value_exc_vat: exc,
        value_inc_vat: exc * 1.05,
        valid_from: from,
        valid_to: end,
        payment_method: null,
      },
    ],
    standingCharges: [],
    window: { from: '2026-11-22T00:00:00Z', to: end },
    fetchedAt: '2026-11-29T12:00:00.000Z',
    coversThrough: end,
    contentHash: '',
    term: o.term ?? 3,
  };
  return { ...d, contentHash: contentHash(d as unknown as RatesDocument) } as unknown as RatesDocument;
}

export const KEY = 'AGILE-24-10-01.E-1R-AGILE-24-10-01-C';
export const json = (v: unknown): string => JSON.stringify(v);
