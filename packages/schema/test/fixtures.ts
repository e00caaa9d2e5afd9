import { FLEX_DAY_NIGHT_A, halfHourSlots, openRow, withContentHash } from '@ratebus/fixtures';
import { coversThrough, type RatesDocument, SCHEMA_VERSION } from '../src/index.js';

type Body = Omit<
  RatesDocument,
  'contentHash' | 'type' | 'schemaVersion' | 'fetchedAt' | 'term' | 'coversThrough'
>;

/** Completes a document body with version, coverage, hash and term. */
export function finish(body: Body, term = 7): RatesDocument {
  const b = body as RatesDocument;
  const rows = b.registerKind === 'standard' ? b.unitRates : [...b.dayUnitRates, ...b.nightUnitRates];
  return withContentHash({
    type: 'rates' as const,
    schemaVersion: SCHEMA_VERSION,
    ...body,
    coversThrough: coversThrough(rows),
    fetchedAt: '2026-11-28T16:05:00.000Z',
    term,
  } as Omit<RatesDocument, 'contentHash'>);
}

export const window = { from: '2026-11-21T00:00:00Z', to: '2026-11-30T00:00:00Z' };

export function agileDoc(): RatesDocument {
  return finish({
    product: 'AGILE-24-10-01',
    tariff: 'E-1R-AGILE-24-10-01-C',
    region: 'C',
    fuel: 'electricity',
    direction: 'IMPORT',
    registerKind: 'standard',
    unitRates: halfHourSlots('2026-11-29T23:00:00Z', 48, (i) => 10 + (i % 7) - (i === 5 ? 14 : 0)),
    standingCharges: [openRow('2024-09-30T23:00:00Z', 37.6525)],
    window,
  } as unknown as Body);
}

export function dayNightDoc(): RatesDocument {
  return finish({
    ...FLEX_DAY_NIGHT_A,
    dayUnitRates: [
      openRow('2026-09-30T23:00:00Z', 27.1, 'DIRECT_DEBIT'),
      openRow('2026-09-30T23:00:00Z', 28.3, 'NON_DIRECT_DEBIT'),
    ],
    nightUnitRates: [
      openRow('2026-09-30T23:00:00Z', 13.2, 'NON_DIRECT_DEBIT'),
      openRow('2026-09-30T23:00:00Z', 12.9, 'DIRECT_DEBIT'),
    ],
    standingCharges: [
      openRow('2026-09-30T23:00:00Z', 45.57, 'DIRECT_DEBIT'),
      openRow('2026-09-30T23:00:00Z', 50.79, 'NON_DIRECT_DEBIT'),
    ],
    window,
  } as unknown as Body);
}

export function gasDoc(): RatesDocument {
  return finish({
    product: 'SILVER-26-04-01',
    tariff: 'G-1R-SILVER-26-04-01-H',
    region: 'H',
    fuel: 'gas',
    direction: 'IMPORT',
    registerKind: 'standard',
    unitRates: [
      {
        value_exc_vat: 5.91,
        value_inc_vat: 6.2055,
        valid_from: '2026-11-28T00:00:00Z',
        valid_to: '2026-11-29T00:00:00Z',
        payment_method: null,
      },
      {
        value_exc_vat: 5.87,
        value_inc_vat: 6.1635,
        valid_from: '2026-11-27T00:00:00Z',
        valid_to: '2026-11-28T00:00:00Z',
        payment_method: null,
      },
    ],
    standingCharges: [openRow('2026-04-01T00:00:00Z', 28.4)],
    window,
  } as unknown as Body);
}

export function exportDoc(): RatesDocument {
  return finish({
    product: 'AGILE-OUTGOING-19-05-13',
    tariff: 'E-1R-AGILE-OUTGOING-19-05-13-C',
    region: 'C',
    fuel: 'electricity',
    direction: 'EXPORT',
    registerKind: 'standard',
    unitRates: halfHourSlots('2026-11-29T23:00:00Z', 48, (i) => Math.max(0, 6 + (i % 5) - 3)).map((r) => ({
      ...r,
      value_inc_vat: r.value_exc_vat,
    })),
    standingCharges: [openRow('2019-05-13T00:00:00Z', 0)],
    window,
  } as unknown as Body);
}
