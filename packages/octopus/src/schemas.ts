import { RateSlotSchema, REGIONS } from '@ratebus/schema';
import { z } from 'zod';

/** Region keys of the product detail tariff maps: `_A` … `_P` without `_I` and `_O`. */
export const REGION_KEYS = REGIONS.map((r) => `_${r}` as const);

const Url = z.url({ protocol: /^https?$/ });

/** The DRF page envelope of every list endpoint, with its rows left to a row schema. */
export function pageSchema<T extends z.ZodType>(row: T) {
  return z.object({
    count: z.int().min(0),
    next: Url.nullable(),
    previous: Url.nullable(),
    results: z.array(row).max(25_000),
  });
}

/** One page of a charges endpoint (unit rates or standing charges). */
export const RatesPageSchema = pageSchema(RateSlotSchema);
export type RatesPage = z.infer<typeof RatesPageSchema>;

export const LinkSchema = z.object({
  href: Url,
  method: z.string().max(10),
  rel: z.string().min(1).max(100),
});
export type Link = z.infer<typeof LinkSchema>;

/** Links as a map from `rel` to `href` (the first one wins if upstream repeats a rel). */
function byRel(links: readonly Link[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of links) if (!(l.rel in out)) out[l.rel] = l.href;
  return out;
}

const money = z.number().finite().nullable().optional();

/** One tariff inside a product's tariff map: code, snapshot prices and the links to its charge endpoints. */
export const ProductTariffSchema = z
  .object({
    code: z.string().min(1).max(100),
    standing_charge_exc_vat: money,
    standing_charge_inc_vat: money,
    standard_unit_rate_exc_vat: money,
    standard_unit_rate_inc_vat: money,
    day_unit_rate_exc_vat: money,
    day_unit_rate_inc_vat: money,
    night_unit_rate_exc_vat: money,
    night_unit_rate_inc_vat: money,
    links: z.array(LinkSchema).max(50),
  })
  .transform((t) => ({ ...t, linksByRel: byRel(t.links) }));
export type ProductTariff = z.infer<typeof ProductTariffSchema>;

/** Region → payment key (`direct_debit_monthly`, `varying`, `prepayment`, …) → tariff. `{}` when empty. */
export const TariffMapSchema = z.partialRecord(
  z.enum(REGION_KEYS),
  z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), ProductTariffSchema),
);
export type TariffMap = z.infer<typeof TariffMapSchema>;

/** Product timestamps mix `Z`, `+01:00` and microseconds; only their readability matters here. */
const timestamp = z
  .string()
  .max(64)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a date-time');

/** `GET /v1/products/{code}/`. `direction` is null or absent here upstream (only the list has it). */
export const ProductDetailSchema = z
  .object({
    code: z.string().min(1).max(100),
    full_name: z.string().max(500),
    display_name: z.string().max(500),
    description: z.string().max(10_000),
    is_variable: z.boolean(),
    is_green: z.boolean(),
    is_tracker: z.boolean(),
    is_prepay: z.boolean(),
    is_business: z.boolean(),
    is_restricted: z.boolean(),
    term: z.int().nullable(),
    available_from: timestamp.nullable(),
    available_to: timestamp.nullable(),
    tariffs_active_at: timestamp,
    direction: z.enum(['IMPORT', 'EXPORT']).nullable().optional(),
    brand: z.string().max(100).nullable().optional(),
    single_register_electricity_tariffs: TariffMapSchema,
    dual_register_electricity_tariffs: TariffMapSchema,
    single_register_gas_tariffs: TariffMapSchema,
    four_rate_ev_electricity_tariffs: TariffMapSchema.optional(),
    links: z.array(LinkSchema).max(50),
  })
  .transform((p) => ({ ...p, linksByRel: byRel(p.links) }));
export type ProductDetail = z.infer<typeof ProductDetailSchema>;

/** Which map of the product detail a tariff was found in. */
export type ProductTariffKind = 'single-register' | 'dual-register' | 'gas' | 'four-rate-ev';

/** Finds a tariff code anywhere in a product detail. */
export function findProductTariff(
  detail: ProductDetail,
  tariff: string,
): { kind: ProductTariffKind; regionKey: string; paymentKey: string; tariff: ProductTariff } | null {
  const maps: Array<[ProductTariffKind, TariffMap | undefined]> = [
    ['single-register', detail.single_register_electricity_tariffs],
    ['dual-register', detail.dual_register_electricity_tariffs],
    ['gas', detail.single_register_gas_tariffs],
    ['four-rate-ev', detail.four_rate_ev_electricity_tariffs],
  ];
  for (const [kind, map] of maps) {
    for (const [regionKey, byPayment] of Object.entries(map ?? {})) {
      for (const [paymentKey, t] of Object.entries(byPayment ?? {})) {
        if (t.code === tariff) return { kind, regionKey, paymentKey, tariff: t };
      }
    }
  }
  return null;
}

/** A DRF error body: `{"detail": "..."}`. */
export const DetailBodySchema = z.object({ detail: z.string().max(2_000) });
