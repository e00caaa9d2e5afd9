import {
  assertTariffOfProduct,
  type Fuel,
  type ProductCode,
  parseTariffCode,
  productCode,
  type TariffCode,
  tariffCode,
} from '@ratebus/schema';

/** The charge endpoints of a tariff, as they appear in the upstream paths. */
export const ELECTRICITY_CHARGES = [
  'standard-unit-rates',
  'day-unit-rates',
  'night-unit-rates',
  'standing-charges',
] as const;
export const GAS_CHARGES = ['standard-unit-rates', 'standing-charges'] as const;
export type Charge = (typeof ELECTRICITY_CHARGES)[number];

/** Public GETs answered through the fetcher's shared URL cache. */
export type UpstreamRouteName = 'products' | 'product' | 'grid-supply-points';

/** What a request path asks for. Codes in a `rates` or `product` route passed the schema's validation. */
export type Route =
  | {
      readonly kind: 'rates';
      readonly product: ProductCode;
      readonly tariff: TariffCode;
      readonly fuel: Fuel;
      readonly charge: Charge;
      /** The path with its trailing slash, as the upstream writes it in `next`/`previous`. */
      readonly canonicalPath: string;
    }
  /** Valid codes, but the tariff is of the other fuel than the path: it cannot exist upstream. */
  | { readonly kind: 'no-such-tariff'; readonly fuel: Fuel }
  | { readonly kind: 'upstream'; readonly name: UpstreamRouteName; readonly canonicalPath: string }
  | { readonly kind: 'livez' | 'readyz' | 'metrics' }
  | { readonly kind: 'not-found' };

const NOT_FOUND: Route = { kind: 'not-found' };

/** The upstream's 404 body for a tariff that does not exist. */
export function noSuchTariffBody(fuel: Fuel): { detail: string } {
  return { detail: `No ${fuel === 'gas' ? 'Gas' : 'Electricity'}Tariff matches the given query.` };
}

function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/**
 * Matches a request path (no query) to a route. The trailing slash is optional. Product and tariff codes
 * are validated with the schema BEFORE anything else looks at them, so `..`, `*`, `>`, `%2F` and friends
 * end here as `not-found` and never reach NATS or the file system.
 */
export function matchRoute(pathname: string): Route {
  // /healthz is the older name of the liveness probe.
  if (pathname === '/livez' || pathname === '/healthz') return { kind: 'livez' };
  if (pathname === '/readyz') return { kind: 'readyz' };
  if (pathname === '/metrics') return { kind: 'metrics' };
  if (!pathname.startsWith('/v1/')) return NOT_FOUND;
  const raw = pathname.slice(1).split('/');
  if (raw.at(-1) === '') raw.pop();
  const seg: string[] = [];
  for (const r of raw) {
    const d = decodeSegment(r);
    if (d === null || d === '') return NOT_FOUND;
    seg.push(d);
  }
  const [v1, a, b, c, d, e, f, ...rest] = seg;
  if (v1 !== 'v1' || rest.length > 0) return NOT_FOUND;
  if (a === 'industry' && b === 'grid-supply-points' && c === undefined) {
    return {
      kind: 'upstream',
      name: 'grid-supply-points',
      canonicalPath: '/v1/industry/grid-supply-points/',
    };
  }
  if (a !== 'products') return NOT_FOUND;
  if (b === undefined) return { kind: 'upstream', name: 'products', canonicalPath: '/v1/products/' };
  let product: ProductCode;
  try {
    product = productCode(b);
  } catch {
    return NOT_FOUND;
  }
  if (c === undefined)
    return { kind: 'upstream', name: 'product', canonicalPath: `/v1/products/${product}/` };
  if (d === undefined || e === undefined || f !== undefined) return NOT_FOUND;
  const pathFuel: Fuel | null =
    c === 'electricity-tariffs' ? 'electricity' : c === 'gas-tariffs' ? 'gas' : null;
  if (pathFuel === null) return NOT_FOUND;
  const charges: readonly string[] = pathFuel === 'gas' ? GAS_CHARGES : ELECTRICITY_CHARGES;
  if (!charges.includes(e)) return NOT_FOUND;
  let tariff: TariffCode;
  try {
    tariff = tariffCode(d);
    assertTariffOfProduct(product, tariff);
  } catch {
    return NOT_FOUND;
  }
  if (parseTariffCode(tariff).fuel !== pathFuel) return { kind: 'no-such-tariff', fuel: pathFuel };
  return {
    kind: 'rates',
    product,
    tariff,
    fuel: pathFuel,
    charge: e as Charge,
    canonicalPath: `/v1/products/${product}/${c}/${tariff}/${e}/`,
  };
}
