import { InvalidCodeError } from './errors.js';

/**
 * Product and tariff codes become NATS subject tokens, KV keys and file names, so they are held to a
 * strict pattern: upper-case ASCII letters and digits in groups joined by single hyphens. This rejects
 * dots, wildcards (`*`, `>`), spaces, `/`, `..`, empty strings and anything that could escape a folder.
 */
const CODE_RE = /^[A-Z0-9]+(?:-[A-Z0-9]+)*$/;

/** Longest accepted code. Real tariff codes are under 40 characters. */
export const MAX_CODE_LENGTH = 64;

/** GSP groups used as region letters: A to P without I and O. */
export const REGIONS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P'] as const;
export type Region = (typeof REGIONS)[number];

declare const productBrand: unique symbol;
declare const tariffBrand: unique symbol;
/** A product code that passed {@link productCode}. */
export type ProductCode = string & { readonly [productBrand]: true };
/** A tariff code that passed {@link tariffCode}. */
export type TariffCode = string & { readonly [tariffBrand]: true };

export type Fuel = 'electricity' | 'gas';

/** What a tariff code says about itself: `{E|G}-{register}-{PRODUCT}-{REGION}`. */
export interface TariffCodeParts {
  readonly fuel: Fuel;
  /** Register token as written in the code: `1R`, `2R`, `FLAT2R`, ... */
  readonly register: string;
  readonly product: ProductCode;
  readonly region: Region;
}

function checkCode(kind: 'product' | 'tariff', value: unknown): string {
  if (typeof value !== 'string') throw new InvalidCodeError(kind, value, 'must be a string');
  if (value.length === 0) throw new InvalidCodeError(kind, value, 'must not be empty');
  if (value.length > MAX_CODE_LENGTH) {
    throw new InvalidCodeError(kind, value, `must be at most ${MAX_CODE_LENGTH} characters`);
  }
  if (!CODE_RE.test(value)) {
    throw new InvalidCodeError(
      kind,
      value,
      'only upper-case letters, digits and single hyphens between them are allowed',
    );
  }
  return value;
}

/** Validates a product code such as `AGILE-24-10-01`; throws {@link InvalidCodeError}. */
export function productCode(value: unknown): ProductCode {
  return checkCode('product', value) as ProductCode;
}

/** Validates a tariff code such as `E-1R-AGILE-24-10-01-C`; throws {@link InvalidCodeError}. */
export function tariffCode(value: unknown): TariffCode {
  const code = checkCode('tariff', value);
  parseTariffCode(code as TariffCode);
  return code as TariffCode;
}

/** True when `value` is a valid product code. */
export function isProductCode(value: unknown): value is ProductCode {
  return typeof value === 'string' && value.length <= MAX_CODE_LENGTH && CODE_RE.test(value);
}

/** True when `value` is a valid tariff code. */
export function isTariffCode(value: unknown): value is TariffCode {
  try {
    tariffCode(value);
    return true;
  } catch {
    return false;
  }
}

const TARIFF_RE = /^([EG])-([0-9A-Z]+)-([A-Z0-9-]+)-([A-Z])$/;

/** Splits a tariff code into fuel, register, product and region; throws {@link InvalidCodeError}. */
export function parseTariffCode(code: TariffCode): TariffCodeParts {
  const m = TARIFF_RE.exec(code);
  if (!m) throw new InvalidCodeError('tariff', code, 'expected {E|G}-{register}-{PRODUCT}-{REGION}');
  const [, fuelLetter, register, product, region] = m as unknown as [string, string, string, string, string];
  if (!(REGIONS as readonly string[]).includes(region)) {
    throw new InvalidCodeError('tariff', code, `region ${region} is not a GSP group (A-P without I and O)`);
  }
  return {
    fuel: fuelLetter === 'G' ? 'gas' : 'electricity',
    register,
    product: productCode(product),
    region: region as Region,
  };
}

/**
 * Checks that a tariff belongs to a product: its embedded product code equals the product.
 * Throws {@link InvalidCodeError} otherwise.
 */
export function assertTariffOfProduct(product: ProductCode, tariff: TariffCode): void {
  const parts = parseTariffCode(tariff);
  if (parts.product !== product) {
    throw new InvalidCodeError('tariff', tariff, `does not belong to product ${product}`);
  }
}

/** A product and tariff pair, both validated and consistent with each other. */
export interface TariffRef {
  readonly product: ProductCode;
  readonly tariff: TariffCode;
}

/** Validates and pairs a product and tariff code; throws {@link InvalidCodeError}. */
export function tariffRef(product: unknown, tariff: unknown): TariffRef {
  const p = productCode(product);
  const t = tariffCode(tariff);
  assertTariffOfProduct(p, t);
  return { product: p, tariff: t };
}
