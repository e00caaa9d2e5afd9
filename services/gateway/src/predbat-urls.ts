import {
  type ProductCode,
  parseTariffCode,
  productCode,
  REGIONS,
  type RegisterKind,
  rateKey,
  type TariffRef,
  tariffRef,
} from '@ratebus/schema';
import { predbatKey, predbatUrl } from './predbat-format.js';
import type { Charge } from './routes.js';

/** Default product PredBat falls back to for INTELLI-FLUX-EXPORT tariffs (not on the public API). */
export const DEFAULT_FLUX_IMPORT_PRODUCT = 'FLUX-IMPORT-23-02-14';
const INTELLI_FLUX_EXPORT = 'INTELLI-FLUX-EXPORT';

/** One URL PredBat requests for a tariff, and what answers it. */
export type PredbatEntry =
  | { readonly kind: 'product'; readonly path: string; readonly url: string; readonly key: string }
  | {
      readonly kind: 'rates';
      readonly ref: TariffRef;
      readonly charge: Charge;
      readonly path: string;
      readonly url: string;
      readonly key: string;
    };

const fuelSegment = (tariff: string): string =>
  parseTariffCode(tariff as TariffRef['tariff']).fuel === 'gas' ? 'gas-tariffs' : 'electricity-tariffs';

/** `/v1/products/{product}/` as PredBat requests it. */
export function productEntry(product: ProductCode): PredbatEntry {
  const path = `/v1/products/${product}/`;
  const url = predbatUrl(path);
  return { kind: 'product', path, url, key: predbatKey(url) };
}

/** The rates URL of one charge of a tariff. */
export function ratesEntry(ref: TariffRef, charge: Charge): PredbatEntry {
  const path = `/v1/products/${ref.product}/${fuelSegment(ref.tariff)}/${ref.tariff}/${charge}/`;
  const url = predbatUrl(path);
  return { kind: 'rates', ref, charge, path, url, key: predbatKey(url) };
}

/**
 * The charges PredBat reads for a tariff: standard unit rates, or day and night unit rates when the
 * tariff's links say so (a day/night register), and standing charges. With the register unknown, every
 * URL form a tariff of that fuel can have (for recognising keys).
 */
export function chargesOf(tariff: string, register?: RegisterKind): readonly Charge[] {
  const gas = parseTariffCode(tariff as TariffRef['tariff']).fuel === 'gas';
  if (gas || register === 'standard') return ['standard-unit-rates', 'standing-charges'];
  if (register === 'day-night') return ['day-unit-rates', 'night-unit-rates', 'standing-charges'];
  return ['standard-unit-rates', 'day-unit-rates', 'night-unit-rates', 'standing-charges'];
}

/**
 * The tariff whose public URLs PredBat reads for a tariff of the account: itself, or for an
 * INTELLI-FLUX-EXPORT tariff (not on the public API) the FLUX-IMPORT tariff of the same region and register.
 */
export function publicTariffFor(ref: TariffRef, fluxImportProduct: string): TariffRef {
  if (!ref.product.startsWith(INTELLI_FLUX_EXPORT)) return ref;
  const parts = parseTariffCode(ref.tariff);
  const product = productCode(fluxImportProduct);
  return tariffRef(product, `E-${parts.register}-${product}-${parts.region}`);
}

/** Tariff codes ratebus can serve for a product whatever the account: `E-1R`, `E-2R`, `G-1R` in 14 regions. */
export function candidateTariffs(product: ProductCode): TariffRef[] {
  const out: TariffRef[] = [];
  for (const region of REGIONS) {
    for (const prefix of ['E-1R', 'E-2R', 'G-1R']) {
      try {
        out.push(tariffRef(product, `${prefix}-${product}-${region}`));
      } catch {
        // a product code too long to make a tariff code: no such tariff
      }
    }
  }
  return out;
}

/**
 * Cache key → tariff, for every URL form of every given tariff: how a PredBat-written `.meta` is
 * recognised. Product-detail keys are not in it (they name no tariff).
 */
export class KeyIndex {
  readonly #byKey = new Map<string, TariffRef>();
  readonly #tariffs = new Set<string>();
  readonly #products = new Set<string>();

  /** Adds a tariff's URL forms; returns false when it was there already. */
  addTariff(ref: TariffRef): boolean {
    const k = rateKey(ref.product, ref.tariff);
    if (this.#tariffs.has(k)) return false;
    this.#tariffs.add(k);
    for (const charge of chargesOf(ref.tariff)) this.#byKey.set(ratesEntry(ref, charge).key, ref);
    return true;
  }

  /** Adds the candidate tariffs of a product (once per product). */
  addProduct(product: ProductCode): void {
    if (this.#products.has(product)) return;
    this.#products.add(product);
    for (const ref of candidateTariffs(product)) this.addTariff(ref);
  }

  hasProduct(product: string): boolean {
    return this.#products.has(product);
  }

  lookup(key: string): TariffRef | undefined {
    return this.#byKey.get(key);
  }

  get size(): number {
    return this.#byKey.size;
  }
}
