import { z } from 'zod';
import { isProductCode, isTariffCode, parseTariffCode, REGIONS, type TariffCode } from './codes.js';
import { UtcInstant, UtcSecond } from './time.js';

/** Version of every ratebus payload written by this code. Readers reject other versions. */
export const SCHEMA_VERSION = 1;

export const ProductCodeSchema = z.string().refine(isProductCode, 'invalid product code');
export const TariffCodeSchema = z.string().refine(isTariffCode, 'invalid tariff code');
export const RegionSchema = z.enum(REGIONS);

/**
 * One row of an Octopus charges endpoint, with the upstream field names. Unit rates are p/kWh,
 * standing charges p/day. `valid_to: null` is an open-ended record; `payment_method` is null for Agile
 * and similar, or `DIRECT_DEBIT` / `NON_DIRECT_DEBIT` on products that publish both.
 */
export const RateSlotSchema = z.strictObject({
  value_exc_vat: z.number().finite(),
  value_inc_vat: z.number().finite(),
  valid_from: UtcSecond,
  valid_to: UtcSecond.nullable(),
  payment_method: z
    .string()
    .regex(/^[A-Z_]{1,40}$/)
    .nullable(),
});
export type RateSlot = z.infer<typeof RateSlotSchema>;

/**
 * Rows as upstream orders them: newest `valid_from` first. Each row ends after it starts.
 * At most 20,000 rows (a year of Agile with DD/NDD pairs would still fit).
 */
export const RateSlotsSchema = z
  .array(RateSlotSchema)
  .max(20_000)
  .superRefine((rows, ctx) => {
    let previous = Number.POSITIVE_INFINITY;
    rows.forEach((row, i) => {
      const from = Date.parse(row.valid_from);
      if (row.valid_to !== null && Date.parse(row.valid_to) <= from) {
        ctx.addIssue({ code: 'custom', path: [i, 'valid_to'], message: 'valid_to must be after valid_from' });
      }
      if (from > previous) {
        ctx.addIssue({ code: 'custom', path: [i, 'valid_from'], message: 'rows must be newest first' });
      }
      previous = from;
    });
  });

export const FuelSchema = z.enum(['electricity', 'gas']);
export const DirectionSchema = z.enum(['IMPORT', 'EXPORT']);

const documentBase = {
  type: z.literal('rates'),
  schemaVersion: z.literal(SCHEMA_VERSION),
  product: ProductCodeSchema,
  tariff: TariffCodeSchema,
  region: RegionSchema,
  fuel: FuelSchema,
  /** IMPORT or EXPORT when known (from the products list), else null. */
  direction: DirectionSchema.nullable(),
  /** p/day rows, newest first. */
  standingCharges: RateSlotsSchema,
  /** The `[from, to)` period that was asked of upstream. */
  window: z.strictObject({ from: UtcSecond, to: UtcSecond }),
  /** When upstream was last asked and answered with this content. */
  fetchedAt: UtcInstant,
  /** End of the newest published unit-rate slot (null when every row is open-ended). */
  coversThrough: UtcSecond.nullable(),
  /** `sha256:` + hex of the canonical content; see `contentHash()`. */
  contentHash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  /** Fencing term (lease revision) of the fetcher that wrote it. */
  term: z.int().positive(),
};

export const StandardRatesDocumentSchema = z.strictObject({
  ...documentBase,
  registerKind: z.literal('standard'),
  /** p/kWh rows, newest first. */
  unitRates: RateSlotsSchema,
});

export const DayNightRatesDocumentSchema = z.strictObject({
  ...documentBase,
  registerKind: z.literal('day-night'),
  dayUnitRates: RateSlotsSchema,
  nightUnitRates: RateSlotsSchema,
});

/** The latest rates of one product + tariff: the value of a `ratebus-rates` KV key and of a live push. */
export const RatesDocumentSchema = z
  .discriminatedUnion('registerKind', [StandardRatesDocumentSchema, DayNightRatesDocumentSchema])
  .superRefine((doc, ctx) => {
    if (!isTariffCode(doc.tariff) || !isProductCode(doc.product)) return;
    const parts = parseTariffCode(doc.tariff as TariffCode);
    if (parts.product !== doc.product) {
      ctx.addIssue({ code: 'custom', path: ['tariff'], message: 'tariff does not belong to product' });
    }
    if (parts.region !== doc.region) {
      ctx.addIssue({ code: 'custom', path: ['region'], message: 'region differs from the tariff code' });
    }
    if (parts.fuel !== doc.fuel) {
      ctx.addIssue({ code: 'custom', path: ['fuel'], message: 'fuel differs from the tariff code' });
    }
    if (doc.fuel === 'gas' && doc.registerKind !== 'standard') {
      ctx.addIssue({
        code: 'custom',
        path: ['registerKind'],
        message: 'gas tariffs have standard rates only',
      });
    }
  });
export type RatesDocument = z.infer<typeof RatesDocumentSchema>;
export type StandardRatesDocument = z.infer<typeof StandardRatesDocumentSchema>;
export type DayNightRatesDocument = z.infer<typeof DayNightRatesDocumentSchema>;
export type RegisterKind = RatesDocument['registerKind'];

/** All unit-rate rows of a document, whatever its register kind. */
export function unitRateRows(doc: RatesDocument): readonly RateSlot[] {
  return doc.registerKind === 'standard' ? doc.unitRates : [...doc.dayUnitRates, ...doc.nightUnitRates];
}
