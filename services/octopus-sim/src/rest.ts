import { REGIONS, type Region } from '@ratebus/schema';
import type { Catalogue, EndpointName, ProductSpec, TariffSpec } from './catalogue.js';
import { djangoNotFound, json, type SimResponse } from './http-util.js';
import {
  boolParam,
  isApiError,
  last,
  pageSizeOf,
  paginate,
  parseDateTime,
  parsePeriod,
  type Query,
} from './query-and-pagination.js';
import { groupForMpan, groupsForPostcode } from './region-lookup.js';
import { type RawRow, toRateRow, type VatSettings } from './series.js';

/** Behaviours the reference is unsure about, switchable at run time (`POST /_sim/switches`). */
export interface SimSwitches {
  /** Electricity VAT is 0 % from 2026-09-30T23:00Z to 2027-03-31 (docs/octopus-api.md §5.4). Default true. */
  electricityVatHoliday: boolean;
  /** Tracker (SILVER-*) products appear in `/v1/products/` (some clients say they are hidden). Default true. */
  listTrackerProducts: boolean;
  /** Product detail carries `"direction": null` (true) or omits the key (false). Default true. */
  directionNullOnDetail: boolean;
}

export const DEFAULT_SWITCHES: SimSwitches = {
  electricityVatHoliday: true,
  listTrackerProducts: true,
  directionNullOnDetail: true,
};

/** Products listing pages are fixed at 100 rows; `page_size` is ignored there. */
export const PRODUCTS_PAGE_SIZE = 100;

export interface RestContext {
  readonly catalogue: Catalogue;
  readonly baseUrl: string;
  readonly switches: SimSwitches;
  now(): number;
}

export interface RestRequest {
  /** Path with a trailing slash. */
  readonly path: string;
  readonly query: Query;
  /** Remove some rows from the middle of a rates page (the `missingSlots` fault). */
  readonly dropMiddleRows?: boolean;
}

const ELECTRICITY_ENDPOINTS = [
  'standard-unit-rates',
  'day-unit-rates',
  'night-unit-rates',
  'standing-charges',
];
const GAS_ENDPOINTS = ['standard-unit-rates', 'standing-charges'];

/** True for paths whose answers are rates pages (the only place `missingSlots` applies). */
export function isRatesPath(path: string): boolean {
  return /^\/v1\/products\/[^/]+\/(electricity|gas)-tariffs\/[^/]+\/[a-z-]+\/$/.test(path);
}

/** Routes a GET of the public REST API. */
export function handleRest(ctx: RestContext, req: RestRequest): SimResponse {
  const segs = req.path.split('/').filter(Boolean);
  if (segs[0] !== 'v1') return djangoNotFound(req.path);
  const [, a, b, c, d, e] = segs;
  if (a === 'products' && segs.length === 2) return listProducts(ctx, req);
  if (a === 'products' && segs.length === 3 && b) return productDetail(ctx, req, b);
  if (
    a === 'products' &&
    segs.length === 6 &&
    b &&
    d &&
    e &&
    (c === 'electricity-tariffs' || c === 'gas-tariffs')
  ) {
    const fuel = c === 'electricity-tariffs' ? 'electricity' : 'gas';
    if (!(fuel === 'electricity' ? ELECTRICITY_ENDPOINTS : GAS_ENDPOINTS).includes(e))
      return djangoNotFound(req.path);
    return rates(ctx, req, b, fuel, d, e as EndpointName);
  }
  if (a === 'industry' && b === 'grid-supply-points' && segs.length === 3) {
    const groups = groupsForPostcode(last(req.query, 'postcode'));
    return json(200, {
      count: groups.length,
      next: null,
      previous: null,
      results: groups.map((g) => ({ group_id: `_${g}` })),
    });
  }
  if (a === 'electricity-meter-points' && segs.length === 3 && b) {
    const g = groupForMpan(b);
    if (!g) return json(404, { detail: 'Not found.' });
    return json(200, { gsp: `_${g}`, mpan: b, profile_class: 1 });
  }
  return djangoNotFound(req.path);
}

const NO_PRODUCT = { detail: 'No EnergyProduct matches the given query.' };

function rates(
  ctx: RestContext,
  req: RestRequest,
  productCode: string,
  fuel: 'electricity' | 'gas',
  tariffCode: string,
  endpoint: EndpointName,
): SimResponse {
  const product = ctx.catalogue.product(productCode);
  if (!product) return json(404, NO_PRODUCT);
  const found = ctx.catalogue.tariff(product, tariffCode);
  if (!found || (fuel === 'electricity') !== found.spec.kind.startsWith('E-')) {
    return json(404, {
      detail: `No ${fuel === 'electricity' ? 'ElectricityTariff' : 'GasTariff'} matches the given query.`,
    });
  }
  const series = ctx.catalogue.series(tariffCode, found.spec, endpoint, found.region);
  if (!series) {
    if (endpoint === 'standard-unit-rates')
      return json(400, { detail: 'This tariff has day and night rates' });
    // Day/night rates of a single-register tariff: undocumented upstream; answer like an unknown object.
    return json(404, { detail: 'Not found.' });
  }
  const period = parsePeriod(req.query);
  if (isApiError(period)) return json(period.status, period.body);
  const now = ctx.now();
  const selection = series.select(period.from, period.to, now);
  const page = paginate(ctx.baseUrl, req.path, req.query, selection.count, pageSizeOf(req.query));
  if (isApiError(page)) return json(page.status, page.body);
  let rows = selection.rows(page.offset, page.size);
  if (req.dropMiddleRows && rows.length >= 3) {
    const n = Math.max(1, Math.floor(rows.length / 10));
    const at = Math.floor((rows.length - n) / 2);
    rows = [...rows.slice(0, at), ...rows.slice(at + n)];
  }
  const vat = vatSettings(ctx);
  return json(200, {
    count: selection.count,
    next: page.next,
    previous: page.previous,
    results: rows.map((r) => toRateRow(r, found.spec.vat, now, vat)),
  });
}

function vatSettings(ctx: RestContext): VatSettings {
  return { electricityVatHoliday: ctx.switches.electricityVatHoliday };
}

function productLinks(ctx: RestContext, code: string) {
  return [{ href: `${ctx.baseUrl}/v1/products/${code}/`, method: 'GET', rel: 'self' }];
}

function listProducts(ctx: RestContext, req: RestRequest): SimResponse {
  const q = req.query;
  const rawAt = last(q, 'available_at');
  const at = rawAt ? parseDateTime(rawAt) : ctx.now();
  if (at === null) return json(400, { available_at: ['Enter a valid date/time.'] });
  const flags: [string, keyof ProductSpec][] = [
    ['is_variable', 'isVariable'],
    ['is_green', 'isGreen'],
    ['is_tracker', 'isTracker'],
    ['is_prepay', 'isPrepay'],
    ['is_business', 'isBusiness'],
  ];
  const historical = boolParam(q, 'is_historical') === true;
  const brand = last(q, 'brand');
  const matching = ctx.catalogue.products.filter((p) => {
    for (const [param, field] of flags) {
      const want = boolParam(q, param) ?? (param === 'is_business' ? false : undefined);
      if (want !== undefined && p[field] !== want) return false;
    }
    if (brand && p.brand !== brand) return false;
    if (p.isTracker && !ctx.switches.listTrackerProducts) return false;
    if (historical) return true;
    const from = Date.parse(p.availableFrom);
    const to = p.availableTo === null ? null : Date.parse(p.availableTo);
    return from <= at && (to === null || to > at);
  });
  const page = paginate(ctx.baseUrl, req.path, q, matching.length, PRODUCTS_PAGE_SIZE);
  if (isApiError(page)) return json(page.status, page.body);
  return json(200, {
    count: matching.length,
    next: page.next,
    previous: page.previous,
    results: matching.slice(page.offset, page.offset + page.size).map((p) => ({
      code: p.code,
      direction: p.direction,
      full_name: p.fullName,
      display_name: p.displayName,
      description: p.description,
      is_variable: p.isVariable,
      is_green: p.isGreen,
      is_tracker: p.isTracker,
      is_prepay: p.isPrepay,
      is_business: p.isBusiness,
      is_restricted: p.isRestricted,
      term: p.term,
      available_from: p.availableFrom,
      available_to: p.availableTo,
      links: productLinks(ctx, p.code),
      brand: p.brand,
    })),
  });
}

const REGION_KEYS: readonly Region[] = REGIONS;

const SAMPLE_CONSUMPTION = {
  electricity_single_rate: { electricity_standard: 2700 },
  electricity_dual_rate: { electricity_day: 2262, electricity_night: 1638 },
  dual_fuel_single_rate: { electricity_standard: 2700, gas_standard: 11500 },
  dual_fuel_dual_rate: { electricity_day: 2262, electricity_night: 1638, gas_standard: 11500 },
};

/** `tariffs_active_at` as the API writes it: microseconds and `Z`. */
function microIso(t: number): string {
  return `${new Date(t).toISOString().slice(0, 23)}000Z`;
}

function productDetail(ctx: RestContext, req: RestRequest, code: string): SimResponse {
  const product = ctx.catalogue.product(code);
  if (!product) return json(404, NO_PRODUCT);
  const rawAt = last(req.query, 'tariffs_active_at');
  const at = rawAt ? parseDateTime(rawAt) : ctx.now();
  if (at === null) return json(400, { tariffs_active_at: ['Enter a valid date/time.'] });
  const vat = vatSettings(ctx);
  const maps: Record<string, Record<string, Record<string, unknown>>> = {
    single_register_electricity_tariffs: {},
    dual_register_electricity_tariffs: {},
    single_register_gas_tariffs: {},
  };
  const quotes: Record<
    string,
    Record<string, Record<string, { annual_cost_inc_vat: number; annual_cost_exc_vat: number }>>
  > = {};
  for (const spec of product.tariffs) {
    const mapName =
      spec.kind === 'E-1R'
        ? 'single_register_electricity_tariffs'
        : spec.kind === 'E-2R'
          ? 'dual_register_electricity_tariffs'
          : 'single_register_gas_tariffs';
    for (const region of REGION_KEYS) {
      const tariff = `${spec.kind}-${product.code}-${region}`;
      const obj = tariffObject(ctx, product, spec, tariff, region, at, vat);
      (maps[mapName] as Record<string, unknown>)[`_${region}`] = { [product.paymentKey]: obj.body };
      const regionQuotes = quotes[`_${region}`] ?? { [product.paymentKey]: {} };
      quotes[`_${region}`] = regionQuotes;
      const q = regionQuotes[product.paymentKey] as Record<string, unknown>;
      q[obj.quoteKey] = obj.quote;
    }
  }
  return json(200, {
    code: product.code,
    ...(ctx.switches.directionNullOnDetail ? { direction: null } : {}),
    full_name: product.fullName,
    display_name: product.displayName,
    description: product.description,
    is_variable: product.isVariable,
    is_green: product.isGreen,
    is_tracker: product.isTracker,
    is_prepay: product.isPrepay,
    is_business: product.isBusiness,
    is_restricted: product.isRestricted,
    term: product.term,
    available_from: product.availableFrom,
    available_to: product.availableTo,
    tariffs_active_at: microIso(at),
    ...maps,
    sample_quotes: quotes,
    sample_consumption: SAMPLE_CONSUMPTION,
    links: productLinks(ctx, product.code),
    brand: product.brand,
  });
}

function tariffObject(
  ctx: RestContext,
  product: ProductSpec,
  spec: TariffSpec,
  tariff: string,
  region: Region,
  at: number,
  vat: VatSettings,
) {
  const fuelPath = spec.kind.startsWith('G') ? 'gas-tariffs' : 'electricity-tariffs';
  const href = (endpoint: string) =>
    `${ctx.baseUrl}/v1/products/${product.code}/${fuelPath}/${tariff}/${endpoint}/`;
  const snap = (endpoint: EndpointName) => {
    const rows = ctx.catalogue.series(tariff, spec, endpoint, region)?.at(at) ?? [];
    const row: RawRow | undefined = rows.find((r) => r.pm !== 'NON_DIRECT_DEBIT') ?? rows[0];
    return row ? toRateRow(row, spec.vat, at, vat) : null;
  };
  const sc = snap('standing-charges');
  const body: Record<string, unknown> = {
    code: tariff,
    standing_charge_exc_vat: sc?.value_exc_vat ?? null,
    standing_charge_inc_vat: sc?.value_inc_vat ?? null,
    online_discount_exc_vat: 0,
    online_discount_inc_vat: 0,
    dual_fuel_discount_exc_vat: 0,
    dual_fuel_discount_inc_vat: 0,
    exit_fees_exc_vat: 0,
    exit_fees_inc_vat: 0,
    exit_fees_type: 'NONE',
  };
  const annual = (parts: [number | undefined, number][]) =>
    Math.round((sc ? sc.value_exc_vat : 0) * 365 + parts.reduce((s, [p, kwh]) => s + (p ?? 0) * kwh, 0));
  const annualInc = (parts: [number | undefined, number][]) =>
    Math.round((sc ? sc.value_inc_vat : 0) * 365 + parts.reduce((s, [p, kwh]) => s + (p ?? 0) * kwh, 0));
  if (spec.kind === 'E-2R') {
    const day = snap('day-unit-rates');
    const night = snap('night-unit-rates');
    body.links = [
      { href: href('standing-charges'), method: 'GET', rel: 'standing_charges' },
      { href: href('day-unit-rates'), method: 'GET', rel: 'day_unit_rates' },
      { href: href('night-unit-rates'), method: 'GET', rel: 'night_unit_rates' },
    ];
    body.day_unit_rate_exc_vat = day?.value_exc_vat ?? null;
    body.day_unit_rate_inc_vat = day?.value_inc_vat ?? null;
    body.night_unit_rate_exc_vat = night?.value_exc_vat ?? null;
    body.night_unit_rate_inc_vat = night?.value_inc_vat ?? null;
    return {
      body,
      quoteKey: 'electricity_dual_rate',
      quote: {
        annual_cost_inc_vat: annualInc([
          [day?.value_inc_vat, 2262],
          [night?.value_inc_vat, 1638],
        ]),
        annual_cost_exc_vat: annual([
          [day?.value_exc_vat, 2262],
          [night?.value_exc_vat, 1638],
        ]),
      },
    };
  }
  const unit = snap('standard-unit-rates');
  body.links = [
    { href: href('standing-charges'), method: 'GET', rel: 'standing_charges' },
    { href: href('standard-unit-rates'), method: 'GET', rel: 'standard_unit_rates' },
  ];
  body.standard_unit_rate_exc_vat = unit?.value_exc_vat ?? null;
  body.standard_unit_rate_inc_vat = unit?.value_inc_vat ?? null;
  const kwh = spec.kind === 'G-1R' ? 11500 : 2700;
  return {
    body,
    quoteKey: spec.kind === 'G-1R' ? 'gas_single_rate' : 'electricity_single_rate',
    quote: {
      annual_cost_inc_vat: annualInc([[unit?.value_inc_vat, kwh]]),
      annual_cost_exc_vat: annual([[unit?.value_exc_vat, kwh]]),
    },
  };
}
