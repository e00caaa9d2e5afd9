import {
  assertTariffOfProduct,
  DEFAULT_OCTOPUS_BASE_URL,
  DEFAULT_REQUESTS_PER_MINUTE,
  type Fuel,
  type PaymentMethod,
  type ProductCode,
  parseTariffCode,
  preferPaymentMethod,
  type RateSlot,
  type Region,
  type TariffCode,
  toUtcSecond,
} from '@ratebus/schema';
import { type BackoffOptions, backoffDelay, parseRetryAfter, sleep } from './backoff.js';
import { RequestBudget } from './budget.js';
import {
  InvalidResponseError,
  UpstreamHttpError,
  UpstreamNotFoundError,
  UpstreamThrottledError,
} from './errors.js';
import { type Log, SILENT } from './log.js';
import { checkAllRows, checkPage, nextTarget, PagingError, parseJson, parseRatesPage } from './pages.js';
import { withRetries } from './retry.js';
import {
  DetailBodySchema,
  findProductTariff,
  type ProductDetail,
  ProductDetailSchema,
  type RatesPage,
} from './schemas.js';
import { DEFAULT_TIMEOUT_MS, DEFAULT_USER_AGENT, HttpTransport, type RawResponse } from './transport.js';

/** Default attempts per request, the first included. */
export const DEFAULT_MAX_ATTEMPTS = 4;
/** Rows asked per page: the upstream maximum ("up to a month of half-hourly prices"). */
export const PAGE_SIZE = 1500;
/** Hard cap of pages followed for one endpoint and window (75,000 rows). */
export const MAX_PAGES = 50;

/** One upstream attempt, for metrics. */
export interface RequestEvent {
  method: string;
  /** Path without the query. */
  path: string;
  /** HTTP status, or 'error' when no response arrived (timeout, reset, abort). */
  status: number | 'error';
  /** Time from sending to the end of the body, ms. */
  ms: number;
  /** 1 for the first attempt of a request. */
  attempt: number;
  /** Error code when the attempt failed (also for a 200 with an invalid body). */
  code?: string;
}

export interface OctopusClientOptions {
  /** Upstream origin. Default https://api.octopus.energy. */
  baseUrl?: string;
  /** Default `ratebus/<version> (+https://github.com/ratebus/ratebus)`. */
  userAgent?: string;
  /** Connect, headers and body timeout, each, ms. Default 20000. */
  timeoutMs?: number;
  /** Budget of upstream requests per minute when no `budget` is given. Default 60. */
  requestsPerMinute?: number;
  /** A budget shared between clients. Default: a new one from `requestsPerMinute`. */
  budget?: RequestBudget;
  /** Attempts per request, the first included. Default 4. */
  maxAttempts?: number;
  /** Capped jittered exponential backoff between attempts, ms. Defaults 500 / 30000. */
  backoff?: BackoffOptions;
  /** Which twin row `dedupe()` keeps. Default DIRECT_DEBIT. */
  preferredPaymentMethod?: PaymentMethod;
  /** Metrics hooks; called once per attempt. Exceptions thrown by hooks are ignored. */
  hooks?: { onRequest?(e: RequestEvent): void };
  /**
   * Called synchronously immediately before every HTTP request (each page, retry and register-kind
   * lookup). Throwing stops that request: nothing is sent and the call rejects with the thrown error (not
   * retried, unless it is one of this package's retryable upstream errors). A fetcher passes its fence here,
   * so that a process resumed after a pause cannot reach upstream on a term it no longer holds, even before
   * its lease timers have run.
   */
  beforeEachRequest?: () => void;
  /** Default: silent. */
  logger?: Log;
  /** Extra headers on every request (e.g. `X-Sim-Caller` in tests). */
  headers?: Record<string, string>;
  /**
   * Learn standard vs day/night from the product's links (one product request per tariff, once). When
   * false, ask the standard endpoint and learn from upstream's 400 "This tariff has day and night rates".
   * Default true.
   */
  useProductLinks?: boolean;
}

export type TariffRates =
  | {
      registerKind: 'standard';
      fuel: Fuel;
      region: Region;
      direction: 'IMPORT' | 'EXPORT' | null;
      unitRates: RateSlot[];
      standingCharges: RateSlot[];
    }
  | {
      registerKind: 'day-night';
      fuel: Fuel;
      region: Region;
      direction: 'IMPORT' | 'EXPORT' | null;
      dayUnitRates: RateSlot[];
      nightUnitRates: RateSlot[];
      standingCharges: RateSlot[];
    };

type RegisterKind = TariffRates['registerKind'];

const DAY_NIGHT_DETAIL = /day and night rates/i;

/**
 * Client for the public Octopus REST API: products and charge endpoints. Every attempt takes a token from
 * the shared {@link RequestBudget}; transient failures are retried with backoff; every body is validated;
 * rates come back only complete and contiguous, else as a typed error.
 */
export class OctopusClient implements AsyncDisposable {
  readonly #transport: HttpTransport;
  readonly #budget: RequestBudget;
  readonly #maxAttempts: number;
  readonly #backoff: BackoffOptions;
  readonly #log: Log;
  readonly #onRequest: ((e: RequestEvent) => void) | undefined;
  readonly #beforeEachRequest: (() => void) | undefined;
  /** Register kind per electricity tariff, once learned (it never changes). */
  readonly #kinds = new Map<string, RegisterKind>();
  readonly #useProductLinks: boolean;
  readonly preferredPaymentMethod: PaymentMethod;

  constructor(opts: OctopusClientOptions = {}) {
    const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be > 0`);
    this.#transport = new HttpTransport({
      baseUrl: opts.baseUrl ?? DEFAULT_OCTOPUS_BASE_URL,
      userAgent: opts.userAgent ?? DEFAULT_USER_AGENT,
      timeoutMs,
      headers: { accept: 'application/json', ...opts.headers },
    });
    this.#budget = opts.budget ?? new RequestBudget(opts.requestsPerMinute ?? DEFAULT_REQUESTS_PER_MINUTE);
    this.#maxAttempts = maxAttempts;
    this.#backoff = opts.backoff ?? {};
    this.#log = opts.logger ?? SILENT;
    this.#onRequest = opts.hooks?.onRequest;
    this.#beforeEachRequest = opts.beforeEachRequest;
    this.preferredPaymentMethod = opts.preferredPaymentMethod ?? 'DIRECT_DEBIT';
    this.#useProductLinks = opts.useProductLinks ?? true;
  }

  /** The shared budget this client draws from. */
  get budget(): RequestBudget {
    return this.#budget;
  }

  /** GET /v1/products/{product}/ parsed and validated (tariff maps, links by rel). */
  async getProduct(product: ProductCode, opts: { signal?: AbortSignal } = {}): Promise<ProductDetail> {
    const path = `/v1/products/${encodeURIComponent(product)}/`;
    return this.#getJson(path, opts.signal, (res) => {
      const detail = parseJson(ProductDetailSchema, res, 'product detail');
      if (detail.code !== product) {
        throw new InvalidResponseError(`product detail is for ${detail.code}, asked ${product}`, {
          status: res.status,
        });
      }
      return detail;
    });
  }

  /**
   * Every row of every charge endpoint of a tariff over `[from, to)`: all pages, all payment methods,
   * upstream order (newest first), validated and contiguous per payment method.
   */
  async fetchTariff(req: {
    product: ProductCode;
    tariff: TariffCode;
    from: Date;
    to: Date;
    signal?: AbortSignal;
  }): Promise<TariffRates> {
    const { product, tariff, from, to, signal } = req;
    assertTariffOfProduct(product, tariff);
    if (!(from.getTime() < to.getTime())) throw new RangeError('fetchTariff: from must be before to');
    const parts = parseTariffCode(tariff);
    const base = tariffBase(product, tariff, parts.fuel);
    const query = { period_from: toUtcSecond(from), period_to: toUtcSecond(to) };
    const common = { fuel: parts.fuel, region: parts.region, direction: null };

    let kind = await this.#registerKind(product, tariff, parts.fuel, signal);
    let unitRates: RateSlot[] | undefined;
    if (kind === null) {
      // Not described by the product's links: ask for standard rates and let upstream's 400 say otherwise.
      try {
        unitRates = await this.#allRows(`${base}/standard-unit-rates/`, query, signal);
        kind = 'standard';
      } catch (e) {
        if (!isDayNight400(e)) throw e;
        kind = 'day-night';
      }
      this.#kinds.set(tariff, kind);
    }
    if (kind === 'standard') {
      unitRates ??= await this.#allRows(`${base}/standard-unit-rates/`, query, signal);
      const standingCharges = await this.#allRows(`${base}/standing-charges/`, query, signal);
      return { registerKind: 'standard', ...common, unitRates, standingCharges };
    }
    const dayUnitRates = await this.#allRows(`${base}/day-unit-rates/`, query, signal);
    const nightUnitRates = await this.#allRows(`${base}/night-unit-rates/`, query, signal);
    const standingCharges = await this.#allRows(`${base}/standing-charges/`, query, signal);
    return { registerKind: 'day-night', ...common, dayUnitRates, nightUnitRates, standingCharges };
  }

  /**
   * The `valid_to` of the newest published unit-rate row (day rates for day/night tariffs): one request
   * with `page_size=1` and no period once the register kind is known. Null when empty or open-ended.
   */
  async latestSlotEnd(req: {
    product: ProductCode;
    tariff: TariffCode;
    signal?: AbortSignal;
  }): Promise<string | null> {
    const { product, tariff, signal } = req;
    assertTariffOfProduct(product, tariff);
    const parts = parseTariffCode(tariff);
    const base = tariffBase(product, tariff, parts.fuel);
    const kind = await this.#registerKind(product, tariff, parts.fuel, signal);
    const newest = (path: string) =>
      this.#getJson(`${path}?page_size=1`, signal, (res) => {
        const page = parseRatesPage(res);
        if (page.results.length > 1) {
          throw new InvalidResponseError('page_size=1 answered with more than one row', {
            status: res.status,
          });
        }
        return page.results[0]?.valid_to ?? null;
      });
    if (kind === 'day-night') return newest(`${base}/day-unit-rates/`);
    try {
      const end = await newest(`${base}/standard-unit-rates/`);
      if (kind === null) this.#kinds.set(tariff, 'standard');
      return end;
    } catch (e) {
      if (kind !== null || !isDayNight400(e)) throw e;
      this.#kinds.set(tariff, 'day-night');
      return newest(`${base}/day-unit-rates/`);
    }
  }

  /**
   * A public GET for the shared URL cache: `/v1/…` path and query, status + body text. 2xx–4xx answers are
   * returned as they are (never retried, except 429); 5xx, timeouts, resets and JSON bodies that do not
   * parse are retried and end in a typed error.
   */
  async getPublic(
    pathAndQuery: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ status: number; contentType: string; body: string }> {
    const url = new URL(pathAndQuery, this.#transport.origin);
    if (
      !/^\/v1\/[!-~]*$/.test(pathAndQuery) ||
      url.origin !== this.#transport.origin ||
      !url.pathname.startsWith('/v1/')
    ) {
      throw new TypeError('getPublic: expected a /v1/ path and query of printable ASCII');
    }
    return this.#get(url.pathname + url.search, opts.signal, (res) => {
      if (res.status === 429 || res.status >= 500) throw statusError(res, url.pathname);
      if (res.status >= 200 && res.status < 300 && /json/i.test(res.contentType)) {
        try {
          JSON.parse(res.body);
        } catch (cause) {
          throw new InvalidResponseError('body is not valid JSON', { status: res.status, cause });
        }
      }
      return { status: res.status, contentType: res.contentType, body: res.body };
    });
  }

  /**
   * One row per period where upstream publishes DIRECT_DEBIT / NON_DIRECT_DEBIT twins: the preferred
   * payment method's row (`preferredPaymentMethod`, or `preferred`), else the other. Order is kept.
   */
  dedupe(rates: TariffRates, preferred: PaymentMethod = this.preferredPaymentMethod): TariffRates {
    const pick = (rows: RateSlot[]) => preferPaymentMethod(rows, preferred);
    if (rates.registerKind === 'standard') {
      return { ...rates, unitRates: pick(rates.unitRates), standingCharges: pick(rates.standingCharges) };
    }
    return {
      ...rates,
      dayUnitRates: pick(rates.dayUnitRates),
      nightUnitRates: pick(rates.nightUnitRates),
      standingCharges: pick(rates.standingCharges),
    };
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Standard or day/night, from the product's links; null when the links do not say (ask upstream). */
  async #registerKind(
    product: ProductCode,
    tariff: TariffCode,
    fuel: Fuel,
    signal: AbortSignal | undefined,
  ): Promise<RegisterKind | null> {
    if (fuel === 'gas') return 'standard';
    const known = this.#kinds.get(tariff);
    if (known) return known;
    if (!this.#useProductLinks) return null;
    const detail = await this.getProduct(product, signal ? { signal } : {});
    const found = findProductTariff(detail, tariff);
    let kind: RegisterKind | null = null;
    if (found) {
      const rels = found.tariff.linksByRel;
      if (found.kind === 'dual-register' && rels.day_unit_rates && rels.night_unit_rates) kind = 'day-night';
      else if (found.kind === 'single-register' && rels.standard_unit_rates) kind = 'standard';
    }
    this.#log.debug({ product, tariff, kind, listed: found !== null }, 'register kind from product links');
    if (kind) this.#kinds.set(tariff, kind);
    return kind;
  }

  /**
   * Every page of one charge endpoint over a window, checked as a whole (count, order, contiguity). Pages
   * that disagree with each other (e.g. a publication between two pages) restart the pass, up to
   * `maxAttempts` passes.
   */
  async #allRows(path: string, query: Record<string, string>, signal: AbortSignal | undefined) {
    for (let pass = 1; ; pass++) {
      try {
        return await this.#onePass(path, query, signal);
      } catch (e) {
        if (!(e instanceof PagingError) || pass >= this.#maxAttempts) throw e;
        this.#log.warn({ path, pass, reason: e.message }, 'pages disagree; fetching again');
        await sleep(backoffDelay(pass, this.#backoff), signal);
      }
    }
  }

  async #onePass(path: string, query: Record<string, string>, signal: AbortSignal | undefined) {
    const params = new URLSearchParams({ ...query, page_size: String(PAGE_SIZE) });
    let target = `${path}?${params}`;
    const rows: RateSlot[] = [];
    let count: number | undefined;
    for (let page = 1; ; page++) {
      const body: RatesPage = await this.#getJson(target, signal, (res) =>
        checkPage(parseRatesPage(res), res.status),
      );
      if (count === undefined) count = body.count;
      else if (body.count !== count)
        throw new PagingError(`count changed between pages (${count} → ${body.count})`);
      rows.push(...body.results);
      if (body.next === null) break;
      if (page >= MAX_PAGES || rows.length >= count) {
        throw new PagingError(`next page after ${rows.length} of ${count} rows (page ${page})`);
      }
      target = nextTarget(body.next, this.#transport.origin, path, params, page + 1);
    }
    checkAllRows(rows, count);
    return rows;
  }

  /** One request with retries; `interpret` turns a non-error answer into a value or throws a typed error. */
  #get<T>(target: string, signal: AbortSignal | undefined, interpret: (res: RawResponse) => T): Promise<T> {
    const path = target.split('?')[0] as string;
    return withRetries(
      { maxAttempts: this.#maxAttempts, backoff: this.#backoff, budget: this.#budget, log: this.#log },
      path,
      signal,
      async (attempt) => {
        this.#beforeEachRequest?.();
        const started = performance.now();
        let status: number | 'error' = 'error';
        let code: string | undefined;
        try {
          const res = await this.#transport.send({ method: 'GET', path: target, signal });
          status = res.status;
          return interpret(res);
        } catch (e) {
          code = (e as { code?: string }).code ?? 'error';
          throw e;
        } finally {
          this.#emit({ method: 'GET', path, status, ms: performance.now() - started, attempt, code });
        }
      },
    );
  }

  /** Like {@link #get} for JSON endpoints: any non-2xx is a typed error. */
  #getJson<T>(target: string, signal: AbortSignal | undefined, parse: (res: RawResponse) => T): Promise<T> {
    return this.#get(target, signal, (res) => {
      if (res.status < 200 || res.status >= 300) throw statusError(res, target.split('?')[0] as string);
      return parse(res);
    });
  }

  #emit(e: Omit<RequestEvent, 'code'> & { code: string | undefined }): void {
    if (!this.#onRequest) return;
    const { code, ...rest } = e;
    try {
      this.#onRequest(code === undefined ? rest : { ...rest, code });
    } catch (err) {
      this.#log.warn({ err }, 'onRequest hook threw');
    }
  }
}

function tariffBase(product: ProductCode, tariff: TariffCode, fuel: Fuel): string {
  const kind = fuel === 'gas' ? 'gas-tariffs' : 'electricity-tariffs';
  return `/v1/products/${encodeURIComponent(product)}/${kind}/${encodeURIComponent(tariff)}`;
}

function isDayNight400(e: unknown): boolean {
  return e instanceof UpstreamHttpError && e.status === 400 && DAY_NIGHT_DETAIL.test(e.detail ?? '');
}

/** Typed error for a non-2xx answer. */
function statusError(res: RawResponse, path: string): Error {
  const detail = readDetail(res);
  const where = `${res.status} from ${path}`;
  if (res.status === 404) return new UpstreamNotFoundError(`not found: ${where}`);
  if (res.status === 429) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    return new UpstreamThrottledError(
      `throttled: ${where}`,
      retryAfterMs === undefined ? {} : { retryAfterMs },
    );
  }
  return new UpstreamHttpError(
    res.status,
    `upstream answered ${where}`,
    detail === undefined ? {} : { detail },
  );
}

function readDetail(res: RawResponse): string | undefined {
  if (!/json/i.test(res.contentType)) return undefined;
  try {
    const r = DetailBodySchema.safeParse(JSON.parse(res.body));
    return r.success ? r.data.detail.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
