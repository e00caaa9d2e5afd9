import {
  contentHash,
  coversThrough,
  type DayNightRatesDocument,
  type RateSlot,
  type RatesDocument,
  type StandardRatesDocument,
  toUtcSecond,
} from '@ratebus/schema';

const HALF_HOUR = 30 * 60_000;

/** Contiguous half-hour rows over [from, from + n·30 min), newest first, payment method null. */
export function halfHourRows(fromIso: string, n: number, price = (i: number) => 10 + i / 4): RateSlot[] {
  const from = Date.parse(fromIso);
  const rows: RateSlot[] = [];
  for (let i = 0; i < n; i++) {
    const exc = price(i);
    rows.push({
      value_exc_vat: exc,
      value_inc_vat: exc * 1.05,
      valid_from: toUtcSecond(from + i * HALF_HOUR),
      valid_to: toUtcSecond(from + (i + 1) * HALF_HOUR),
      payment_method: null,
    });
  }
  return rows.reverse();
}

const openStanding = (from: string, value: number, pm: string | null = null): RateSlot => ({
  value_exc_vat: value,
  value_inc_vat: value * 1.05,
  valid_from: from,
  valid_to: null,
  payment_method: pm,
});

function finish<T extends RatesDocument>(doc: Omit<T, 'contentHash'>): T {
  return { ...doc, contentHash: contentHash(doc as T) } as T;
}

/** An Agile-like standard document of region C with `n` half-hour rows from `from`. */
export function agileDoc(fromIso = '2025-03-01T00:00:00Z', n = 48, term = 1): StandardRatesDocument {
  const unitRates = halfHourRows(fromIso, n);
  return finish<StandardRatesDocument>({
    type: 'rates',
    schemaVersion: 1,
    product: 'AGILE-24-10-01',
    tariff: 'E-1R-AGILE-24-10-01-C',
    region: 'C',
    fuel: 'electricity',
    direction: 'IMPORT',
    registerKind: 'standard',
    unitRates,
    standingCharges: [openStanding('2024-09-30T23:00:00Z', 37.6525)],
    window: { from: fromIso.replace('.000', ''), to: toUtcSecond(Date.parse(fromIso) + n * HALF_HOUR) },
    fetchedAt: '2025-03-02T10:00:00.000Z',
    coversThrough: coversThrough(unitRates),
    term,
  } as Omit<StandardRatesDocument, 'contentHash'>);
}

/** A Flexible day/night document (E-2R) with DD and NDD twin rows, region A. */
export function dayNightDoc(): DayNightRatesDocument {
  const twin = (from: string, to: string | null, dd: number, ndd: number): RateSlot[] => [
    {
      value_exc_vat: dd,
      value_inc_vat: dd * 1.05,
      valid_from: from,
      valid_to: to,
      payment_method: 'DIRECT_DEBIT',
    },
    {
      value_exc_vat: ndd,
      value_inc_vat: ndd * 1.05,
      valid_from: from,
      valid_to: to,
      payment_method: 'NON_DIRECT_DEBIT',
    },
  ];
  const day = [
    ...twin('2025-01-01T00:00:00Z', null, 25, 26),
    ...twin('2024-10-01T00:00:00Z', '2025-01-01T00:00:00Z', 24, 25),
  ];
  const night = [
    ...twin('2025-01-01T00:00:00Z', null, 12, 13),
    ...twin('2024-10-01T00:00:00Z', '2025-01-01T00:00:00Z', 11, 12),
  ];
  return finish<DayNightRatesDocument>({
    type: 'rates',
    schemaVersion: 1,
    product: 'VAR-22-11-01',
    tariff: 'E-2R-VAR-22-11-01-A',
    region: 'A',
    fuel: 'electricity',
    direction: 'IMPORT',
    registerKind: 'day-night',
    dayUnitRates: day,
    nightUnitRates: night,
    standingCharges: [...twin('2025-01-01T00:00:00Z', null, 45.57, 50.79)],
    window: { from: '2024-12-01T00:00:00Z', to: '2025-03-01T00:00:00Z' },
    fetchedAt: '2025-02-01T10:00:00.000Z',
    coversThrough: null,
    term: 1,
  } as Omit<DayNightRatesDocument, 'contentHash'>);
}

/** A gas document (G-1R) of the Flexible product, region A. */
export function gasDoc(): StandardRatesDocument {
  const rows: RateSlot[] = [
    {
      value_exc_vat: 5.5,
      value_inc_vat: 5.775,
      valid_from: '2025-01-01T00:00:00Z',
      valid_to: null,
      payment_method: 'DIRECT_DEBIT',
    },
  ];
  return finish<StandardRatesDocument>({
    type: 'rates',
    schemaVersion: 1,
    product: 'VAR-22-11-01',
    tariff: 'G-1R-VAR-22-11-01-A',
    region: 'A',
    fuel: 'gas',
    direction: null,
    registerKind: 'standard',
    unitRates: rows,
    standingCharges: [openStanding('2025-01-01T00:00:00Z', 29.1, 'DIRECT_DEBIT')],
    window: { from: '2024-12-01T00:00:00Z', to: '2025-03-01T00:00:00Z' },
    fetchedAt: '2025-02-01T10:00:00.000Z',
    coversThrough: null,
    term: 1,
  } as Omit<StandardRatesDocument, 'contentHash'>);
}
