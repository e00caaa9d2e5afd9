import { REGIONS, type Region } from '@ratebus/schema';
import { agileExportRate, agileImportExcVat, dailyWholesale, round, unitHash } from './prices.js';
import type { Publication } from './publication.js';
import {
  DailySeries,
  HalfHourSeries,
  type RawRow,
  RecordSeries,
  type Series,
  type VatKind,
} from './series.js';
import { addDays, londonTimeOn } from './tz.js';

export type EndpointName = 'standard-unit-rates' | 'day-unit-rates' | 'night-unit-rates' | 'standing-charges';
export type TariffKind = 'E-1R' | 'E-2R' | 'G-1R';
export type PaymentKey = 'direct_debit_monthly' | 'varying';

/** What the products endpoints say about a product. */
export interface ProductInfo {
  readonly code: string;
  readonly fullName: string;
  readonly displayName: string;
  readonly description: string;
  readonly isVariable: boolean;
  readonly isGreen: boolean;
  readonly isTracker: boolean;
  readonly isPrepay: boolean;
  readonly isBusiness: boolean;
  readonly isRestricted: boolean;
  readonly term: number | null;
  /** As the API writes it, with a local offset. */
  readonly availableFrom: string;
  readonly availableTo: string | null;
  readonly brand: string;
  readonly direction: 'IMPORT' | 'EXPORT';
  readonly paymentKey: PaymentKey;
}

export interface TariffSpec {
  readonly kind: TariffKind;
  readonly vat: VatKind;
  readonly endpoints: Partial<Record<EndpointName, (region: Region) => Series>>;
}

export interface ProductSpec extends ProductInfo {
  readonly tariffs: readonly TariffSpec[];
}

/** AGILE-24-10-01 standing charges ex VAT, p/day, open record from 2024-09-30T23:00Z (§6). */
export const AGILE_STANDING_CHARGES: Record<Region, number> = {
  A: 46.4649,
  B: 52.2352,
  C: 37.6525,
  D: 62.7004,
  E: 58.6296,
  F: 66.7126,
  G: 47.6032,
  H: 59.2617,
  J: 53.1292,
  K: 59.1087,
  L: 62.9201,
  M: 63.1074,
  N: 59.1606,
  P: 57.0745,
};

export const AGILE_IMPORT_RATES_FROM = '2024-09-15T23:00:00Z';
export const AGILE_EXPORT_RATES_FROM = '2019-05-12T23:00:00Z';
const ms = (iso: string) => Date.parse(iso);
const regionIndex = (r: Region) => REGIONS.indexOf(r);
/** Regional multiplier for flat and time-of-use prices (follows the Agile D factors loosely). */
const regionMultiplier = (r: Region) => 0.93 + 0.011 * ((regionIndex(r) * 5) % 13);

/** A band in London wall-clock time; `end` past 24:00 continues into the next day. */
type Band = readonly [startHour: number, endHour: number, price: number];

function bandRows(date: string, bands: readonly Band[], scale: number): RawRow[] {
  const at = (h: number) => {
    const day = h >= 24 ? addDays(date, 1) : date;
    const hh = h % 24;
    return londonTimeOn(day, Math.floor(hh), Math.round((hh % 1) * 60));
  };
  return bands.map(([s, e, p]) => ({ from: at(s), to: at(e), exc: round(p * scale, 4), pm: null }));
}

function openRecord(fromIso: string, exc: number): RecordSeries {
  const row: RawRow = { from: ms(fromIso), to: null, exc, pm: null };
  return new RecordSeries((now) => (now >= row.from ? [row] : []));
}

/** Quarter starts (London 1 Jan/Apr/Jul/Oct) from `firstYear` up to the one containing `now`. */
function quarters(firstYear: number, now: number): number[] {
  const out: number[] = [];
  for (let y = firstYear; ; y++) {
    for (const m of [1, 4, 7, 10]) {
      const t = londonTimeOn(`${y}-${String(m).padStart(2, '0')}-01`);
      if (t > now) return out;
      out.push(t);
    }
  }
}

/**
 * Flexible-style quarterly twin rows: DIRECT_DEBIT and NON_DIRECT_DEBIT per quarter, the current quarter
 * open-ended. Which twin comes first varies by quarter (upstream's order is not stable), deterministically.
 */
function quarterlyTwins(seed: number, salt: number, dd: (q: number, h: number) => number, nddExtra: number) {
  return new RecordSeries((now) => {
    const starts = quarters(2023, now);
    const rows: RawRow[] = [];
    starts.forEach((from, i) => {
      const to = starts[i + 1] ?? null;
      const h = unitHash(seed, Math.floor(from / 3_600_000), salt);
      const ddRow: RawRow = { from, to, exc: round(dd(i, h), 4), pm: 'DIRECT_DEBIT' };
      const nddRow: RawRow = { from, to, exc: round(dd(i, h) + nddExtra, 4), pm: 'NON_DIRECT_DEBIT' };
      rows.push(
        ...(unitHash(seed, Math.floor(from / 3_600_000), salt + 100) < 0.5
          ? [ddRow, nddRow]
          : [nddRow, ddRow]),
      );
    });
    return rows;
  });
}

/** What most products say; each product states only where it differs. */
const PRODUCT_DEFAULTS = {
  isVariable: true,
  isGreen: true,
  isTracker: false,
  isPrepay: false,
  isBusiness: false,
  isRestricted: false,
  term: null,
  availableTo: null,
  brand: 'OCTOPUS_ENERGY',
  direction: 'IMPORT',
  paymentKey: 'direct_debit_monthly',
} as const satisfies Partial<ProductInfo>;

type ProductEntry = Omit<ProductSpec, keyof typeof PRODUCT_DEFAULTS> & Partial<ProductInfo>;

const product = (entry: ProductEntry): ProductSpec => ({ ...PRODUCT_DEFAULTS, ...entry });
const electricity = (endpoints: TariffSpec['endpoints']): TariffSpec => ({
  kind: 'E-1R',
  vat: 'electricity',
  endpoints,
});
/** Export tariffs pay the customer: no VAT. */
const electricityExport = (endpoints: TariffSpec['endpoints']): TariffSpec => ({
  kind: 'E-1R',
  vat: 'none',
  endpoints,
});
const gas = (endpoints: TariffSpec['endpoints']): TariffSpec => ({ kind: 'G-1R', vat: 'gas', endpoints });

/** Fixed tariffs: one open record from this instant. */
const FIXED_FROM = '2025-08-31T23:00:00Z';
/** Tracker: one price per UK day from this day. */
const TRACKER_FIRST_DAY = '2025-09-02';
const TRACKER_STANDING_FROM = '2025-09-01T23:00:00Z';

/** Builds the product catalogue for a seed; series read publication settings when queried. */
export function buildCatalogue(seed: number, publication: Publication): ProductSpec[] {
  const agileEnd = (now: number) => publication.agileEnd(now);
  const bandsLast = (now: number) => publication.bandsLastDay(now);
  const trackerLast = (now: number) => publication.trackerLastDay(now);
  const bandProduct = (firstDay: string, bands: readonly Band[]) => (r: Region) =>
    new DailySeries(firstDay, bandsLast, (d) => bandRows(d, bands, regionMultiplier(r)));
  const importStanding = (fromIso: string) => (r: Region) => openRecord(fromIso, AGILE_STANDING_CHARGES[r]);
  const zeroStanding = (fromIso: string) => () => openRecord(fromIso, 0);
  /** A time-of-use import tariff: daily bands from `firstDay`, the Agile standing charge from `standingFrom`. */
  const timeOfUse = (firstDay: string, bands: readonly Band[], standingFrom: string) =>
    electricity({
      'standard-unit-rates': bandProduct(firstDay, bands),
      'standing-charges': importStanding(standingFrom),
    });
  const fixed = (price: (r: Region) => number) => (r: Region) => openRecord(FIXED_FROM, round(price(r), 4));
  /** Flexible's quarterly price: `base` scaled by 0.85–1.15 per quarter, the non-direct-debit twin `extra` more. */
  const flexibleUnit = (salt: number, base: (r: Region) => number, extra: number) => (r: Region) =>
    quarterlyTwins(seed, salt, (_q, h) => base(r) * (0.85 + 0.3 * h), extra);
  const flexibleStanding = (r: Region) =>
    quarterlyTwins(seed, 12, (_q, h) => AGILE_STANDING_CHARGES[r] * (0.9 + 0.2 * h), 5.22);

  return [
    product({
      code: 'AGILE-24-10-01',
      fullName: 'Agile Octopus October 2024 v1',
      displayName: 'Agile Octopus',
      description:
        'With Agile Octopus, you get access to half-hourly energy prices, tied to wholesale prices and updated daily.  The unit rate is capped at 100p/kWh (including VAT).',
      term: 12,
      availableFrom: '2024-10-01T00:00:00+01:00',
      tariffs: [
        electricity({
          'standard-unit-rates': (r) =>
            new HalfHourSeries(ms(AGILE_IMPORT_RATES_FROM), agileEnd, (t) => agileImportExcVat(seed, r, t)),
          'standing-charges': importStanding('2024-09-30T23:00:00Z'),
        }),
      ],
    }),
    product({
      code: 'AGILE-OUTGOING-19-05-13',
      fullName: 'Agile Outgoing Octopus May 2019',
      displayName: 'Agile Outgoing Octopus',
      description:
        'Outgoing Octopus Agile rate pays you for all your exported energy based on the day-ahead wholesale rate.',
      term: 12,
      availableFrom: '2018-01-01T00:00:00Z',
      direction: 'EXPORT',
      tariffs: [
        electricityExport({
          'standard-unit-rates': (r) =>
            new HalfHourSeries(ms(AGILE_EXPORT_RATES_FROM), agileEnd, (t) => agileExportRate(seed, r, t)),
          'standing-charges': zeroStanding(AGILE_EXPORT_RATES_FROM),
        }),
      ],
    }),
    product({
      code: 'GO-VAR-22-10-14',
      fullName: 'Octopus Go October 2022 v1',
      displayName: 'Octopus Go',
      description: 'Octopus Go gives you super cheap electricity between 00:30 - 05:30 every night.',
      availableFrom: '2022-10-14T00:00:00+01:00',
      tariffs: [timeOfUse('2022-10-14', GO_BANDS, '2022-10-13T23:00:00Z')],
    }),
    product({
      code: 'INTELLI-VAR-24-10-29',
      fullName: 'Intelligent Octopus Go October 2024 v1',
      displayName: 'Intelligent Octopus Go',
      description:
        'Intelligent Octopus Go: smart-charge your EV with cheap electricity between 23:30 - 05:30.',
      availableFrom: '2024-10-29T00:00:00Z',
      tariffs: [timeOfUse('2024-10-29', INTELLIGENT_GO_BANDS, '2024-10-29T00:00:00Z')],
    }),
    product({
      code: 'COSY-22-12-08',
      fullName: 'Cosy Octopus December 2022 v1',
      displayName: 'Cosy Octopus',
      description:
        'Cosy Octopus has cheap heat-pump periods (04:00-07:00, 13:00-16:00, 22:00-00:00) and a 16:00-19:00 peak.',
      availableFrom: '2022-12-08T00:00:00Z',
      tariffs: [timeOfUse('2022-12-08', COSY_BANDS, '2022-12-08T00:00:00Z')],
    }),
    product({
      code: 'FLUX-IMPORT-23-02-14',
      fullName: 'Octopus Flux Import February 2023 v1',
      displayName: 'Octopus Flux Import',
      description: 'Flux import: cheap 02:00-05:00, peak 16:00-19:00, day rate otherwise.',
      availableFrom: '2023-02-14T00:00:00Z',
      tariffs: [timeOfUse('2023-02-14', FLUX_BANDS(19.2724, 32.1207, 44.969), '2023-02-14T00:00:00Z')],
    }),
    product({
      code: 'FLUX-EXPORT-23-02-14',
      fullName: 'Octopus Flux Export February 2023 v1',
      displayName: 'Octopus Flux Export',
      description: 'Flux export: pays most for energy exported 16:00-19:00.',
      availableFrom: '2023-02-14T00:00:00Z',
      direction: 'EXPORT',
      tariffs: [
        electricityExport({
          'standard-unit-rates': bandProduct('2023-02-14', FLUX_BANDS(8.11, 15.2, 26.45)),
          'standing-charges': zeroStanding('2023-02-14T00:00:00Z'),
        }),
      ],
    }),
    product({
      code: 'VAR-22-11-01',
      fullName: 'Flexible Octopus November 2022 v1',
      displayName: 'Flexible Octopus',
      description: 'Flexible Octopus prices follow wholesale costs, updated quarterly.',
      availableFrom: '2022-11-01T00:00:00Z',
      paymentKey: 'varying',
      tariffs: [
        electricity({
          'standard-unit-rates': flexibleUnit(11, (r) => 24.5 * regionMultiplier(r), 1.31),
          'standing-charges': flexibleStanding,
        }),
        {
          kind: 'E-2R',
          vat: 'electricity',
          endpoints: {
            'day-unit-rates': flexibleUnit(11, (r) => 26.2 * regionMultiplier(r), 1.31),
            'night-unit-rates': flexibleUnit(11, (r) => 14.2 * regionMultiplier(r), 0.71),
            'standing-charges': flexibleStanding,
          },
        },
        gas({
          'standard-unit-rates': flexibleUnit(13, (r) => 5.9 + 0.05 * regionIndex(r), 0.31),
          'standing-charges': (r) =>
            quarterlyTwins(seed, 14, (_q, h) => (29.1 + 0.3 * regionIndex(r)) * (0.95 + 0.1 * h), 1.27),
        }),
      ],
    }),
    product({
      code: 'SILVER-25-09-02',
      fullName: 'Octopus Tracker September 2025 v1',
      displayName: 'Octopus Tracker',
      description: 'Octopus Tracker: a new price every day, based on wholesale costs.',
      isTracker: true,
      term: 12,
      availableFrom: '2025-09-02T00:00:00+01:00',
      availableTo: '2026-04-01T00:00:00+01:00',
      tariffs: [
        electricity({
          'standard-unit-rates': (r) =>
            new DailySeries(TRACKER_FIRST_DAY, trackerLast, (d) => {
              const from = londonTimeOn(d);
              const to = londonTimeOn(addDays(d, 1));
              const w = dailyWholesale(seed, from, to);
              const exc = Math.min(100 / 1.05, Math.max(0, 1.9 * w * regionMultiplier(r) + 3.9));
              return [{ from, to, exc: round(exc, 4), pm: null }];
            }),
          'standing-charges': importStanding(TRACKER_STANDING_FROM),
        }),
        gas({
          'standard-unit-rates': (r) =>
            new DailySeries(TRACKER_FIRST_DAY, trackerLast, (d) => {
              const from = londonTimeOn(d);
              const h = unitHash(seed, Math.floor(from / 3_600_000), 21 + regionIndex(r));
              return [{ from, to: londonTimeOn(addDays(d, 1)), exc: round(3.2 + 1.6 * h, 4), pm: null }];
            }),
          'standing-charges': (r) => openRecord(TRACKER_STANDING_FROM, round(29.6 + 0.3 * regionIndex(r), 4)),
        }),
      ],
    }),
    product({
      code: 'OE-FIX-12M-25-09-01',
      fullName: 'Octopus 12M Fixed September 2025 v1',
      displayName: 'Octopus 12M Fixed',
      description:
        'This tariff features 100% renewable electricity and fixes your unit rates and standing charge for 12 months.',
      isVariable: false,
      term: 12,
      availableFrom: '2025-09-01T00:00:00+01:00',
      tariffs: [
        electricity({
          'standard-unit-rates': fixed((r) => 22.8 * regionMultiplier(r)),
          'standing-charges': fixed((r) => AGILE_STANDING_CHARGES[r] * 0.98),
        }),
        gas({
          'standard-unit-rates': fixed((r) => 5.6 + 0.04 * regionIndex(r)),
          'standing-charges': fixed((r) => 28.9 + 0.3 * regionIndex(r)),
        }),
      ],
    }),
  ];
}

/** Go: night 00:30–05:30, day otherwise (the day band runs on to 00:30). */
const GO_BANDS: readonly Band[] = [
  [0.5, 5.5, 8.5],
  [5.5, 24.5, 24.72],
];

/** Intelligent Go: night 23:30–05:30, day otherwise. */
const INTELLIGENT_GO_BANDS: readonly Band[] = [
  [5.5, 23.5, 24.72],
  [23.5, 29.5, 7.0],
];

/** Cosy: cheap 04:00–07:00, 13:00–16:00 and 22:00–24:00, peak 16:00–19:00, standard otherwise. */
const COSY_BANDS: readonly Band[] = [
  [0, 4, 25.6966],
  [4, 7, 12.6],
  [7, 13, 25.6966],
  [13, 16, 12.6],
  [16, 19, 38.545],
  [19, 22, 25.6966],
  [22, 24, 12.6],
];

/** Flux: night 02:00–05:00, peak 16:00–19:00, day otherwise (the day band runs on to 02:00). */
function FLUX_BANDS(night: number, day: number, peak: number): Band[] {
  return [
    [2, 5, night],
    [5, 16, day],
    [16, 19, peak],
    [19, 26, day],
  ];
}

/** Parsed `{E|G}-{1R|2R}-{PRODUCT}-{R}` when it belongs to `product`; undefined otherwise. */
export function splitTariffCode(
  product: string,
  tariff: string,
): { kind: string; fuel: 'E' | 'G'; region: Region } | undefined {
  const m = /^([EG])-([0-9A-Z]+)-(.+)-([A-Z])$/.exec(tariff);
  if (!m || m[3] !== product || !(REGIONS as readonly string[]).includes(m[4] as string)) return undefined;
  return { kind: `${m[1]}-${m[2]}`, fuel: m[1] as 'E' | 'G', region: m[4] as Region };
}

/** Caches a series per tariff code and endpoint: series hold per-day caches. */
export class Catalogue {
  readonly products: readonly ProductSpec[];
  readonly #byCode: Map<string, ProductSpec>;
  readonly #series = new Map<string, Series>();

  constructor(seed: number, publication: Publication) {
    this.products = buildCatalogue(seed, publication);
    this.#byCode = new Map(this.products.map((p) => [p.code, p]));
  }

  product(code: string): ProductSpec | undefined {
    return this.#byCode.get(code);
  }

  /** The tariff spec and region of a tariff code of a product, or undefined when it does not exist. */
  tariff(product: ProductSpec, code: string): { spec: TariffSpec; region: Region } | undefined {
    const parts = splitTariffCode(product.code, code);
    if (!parts) return undefined;
    const spec = product.tariffs.find((t) => t.kind === parts.kind);
    return spec ? { spec, region: parts.region } : undefined;
  }

  series(code: string, spec: TariffSpec, endpoint: EndpointName, region: Region): Series | undefined {
    const make = spec.endpoints[endpoint];
    if (!make) return undefined;
    const key = `${code}/${endpoint}`;
    let s = this.#series.get(key);
    if (!s) {
      s = make(region);
      this.#series.set(key, s);
    }
    return s;
  }
}
