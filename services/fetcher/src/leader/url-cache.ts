import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Responder } from '@ratebus/bus';
import { type OctopusClient, RequestBudget, withBudgetPriority } from '@ratebus/octopus';
import {
  decode,
  isProductCode,
  SCHEMA_VERSION,
  SUBJECTS,
  UrlRequestSchema,
  type UrlResponse,
  UrlResponseSchema,
} from '@ratebus/schema';
import type { Logger } from 'pino';
import { leaderResponder, replyCodeOf, replyError, replyInternal } from './reply.js';
import { SingleFlight } from './single-flight.js';
import type { Clock, Fence, TermMetrics } from './types.js';

const BASE = 'http://upstream.invalid';
const PRODUCT_DETAIL_RE = /^\/v1\/products\/([^/]+)\/$/;
/** Upstream statuses worth caching: stable answers. Errors are never cached. */
const CACHEABLE = new Set([200, 404]);

/** Flags of the product list, as the upstream filters them: `true` or `false`. */
const PRODUCT_FLAGS = ['is_variable', 'is_green', 'is_tracker', 'is_prepay', 'is_business', 'is_historical'];
/** Product list pages a client may ask for: the list is a few pages of 100, so more only busts the cache. */
export const MAX_PRODUCT_LIST_PAGE = 20;
const BRAND_RE = /^[A-Z][A-Z_]{0,39}$/;
/** A full UK postcode or its outward part, upper case without spaces. */
const POSTCODE_RE = /^[A-Z]{1,2}[0-9][A-Z0-9]?(?:[0-9][A-Z]{2})?$/;

/** Canonical value of one query parameter of an allowed path, or null when the value is not allowed. */
type ParamRule = (value: string) => string | null;

const boolParam: ParamRule = (v) => {
  const l = v.toLowerCase();
  return l === 'true' || l === 'false' ? l : null;
};
const pageParam: ParamRule = (v) =>
  /^[1-9][0-9]{0,2}$/.test(v) && Number(v) <= MAX_PRODUCT_LIST_PAGE ? v : null;
const brandParam: ParamRule = (v) => (BRAND_RE.test(v) ? v : null);
/** An ISO date-time (`tariffs_active_at`, `available_at`), canonical in UTC: `2026-03-01T00:00:00Z`. */
const dateTimeParam: ParamRule = (v) => {
  if (!/^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(v))
    return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t).toISOString().replace('.000Z', 'Z');
};
const postcodeParam: ParamRule = (v) => {
  const pc = v.replace(/\s+/g, '').toUpperCase();
  return POSTCODE_RE.test(pc) ? pc : null;
};

/**
 * The URL forms PredBat and the Home Assistant integration ask for (docs/clients-in-the-wild.md), with the
 * query parameters each may carry. Everything else is refused: each distinct URL is an upstream GET and a KV
 * value, so a free-form query would let one pod bust the cache at will.
 */
const PRODUCT_LIST_PARAMS: ReadonlyMap<string, ParamRule> = new Map([
  ...PRODUCT_FLAGS.map((f): [string, ParamRule] => [f, boolParam]),
  ['brand', brandParam],
  ['page', pageParam],
  ['available_at', dateTimeParam],
]);
const PRODUCT_DETAIL_PARAMS: ReadonlyMap<string, ParamRule> = new Map([['tariffs_active_at', dateTimeParam]]);
const GSP_PARAMS: ReadonlyMap<string, ParamRule> = new Map([['postcode', postcodeParam]]);

/** Outcome of {@link checkUrl}. */
export type UrlCheck =
  | { ok: true; path: string }
  | { ok: false; reason: 'url-form' | 'url-query'; message: string };

const FORMS_MESSAGE = 'only /v1/products/, /v1/products/{code}/ and /v1/industry/grid-supply-points/';

/**
 * Canonicalises a public upstream path + query for the URL cache, or says why it is refused.
 * Allowed: `/v1/products/` (flags `is_*` = true|false, `brand`, `page` 1–20, `available_at`),
 * `/v1/products/{code}/` (`tariffs_active_at`), `/v1/industry/grid-supply-points/` (`postcode`); a missing
 * trailing slash is added. Each parameter at most once, values canonicalised (flags lower case, date-times
 * in UTC, postcode upper case without spaces), parameters sorted by name, so equal requests share one key.
 */
export function checkUrl(pathAndQuery: string): UrlCheck {
  let u: URL;
  try {
    u = new URL(pathAndQuery, BASE);
  } catch {
    return { ok: false, reason: 'url-form', message: FORMS_MESSAGE };
  }
  if (u.origin !== BASE || u.hash !== '') return { ok: false, reason: 'url-form', message: FORMS_MESSAGE };
  let path = u.pathname;
  if (!path.endsWith('/')) path += '/';
  const detail = PRODUCT_DETAIL_RE.exec(path);
  const rules =
    path === '/v1/products/'
      ? PRODUCT_LIST_PARAMS
      : path === '/v1/industry/grid-supply-points/'
        ? GSP_PARAMS
        : detail !== null && isProductCode(detail[1])
          ? PRODUCT_DETAIL_PARAMS
          : null;
  if (rules === null) return { ok: false, reason: 'url-form', message: FORMS_MESSAGE };
  const params: [string, string][] = [];
  const seen = new Set<string>();
  for (const [name, value] of u.searchParams) {
    const rule = rules.get(name);
    if (!rule) {
      const allowed = [...rules.keys()].join(', ') || 'none';
      return {
        ok: false,
        reason: 'url-query',
        message: `query parameter not allowed on ${path} (allowed: ${allowed})`,
      };
    }
    const canonical = rule(value);
    if (canonical === null || seen.has(name)) {
      return { ok: false, reason: 'url-query', message: `bad or repeated value of ${name} on ${path}` };
    }
    seen.add(name);
    params.push([name, canonical]);
  }
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = new URLSearchParams(params).toString();
  return { ok: true, path: query ? `${path}?${query}` : path };
}

/** The canonical form of an allowed URL (see {@link checkUrl}), or null when it is refused. */
export function normaliseUrl(pathAndQuery: string): string | null {
  const c = checkUrl(pathAndQuery);
  return c.ok ? c.path : null;
}

/** KV key of a normalised URL: lower-case SHA-256 hex. */
export function urlKey(normalised: string): string {
  return createHash('sha256').update(normalised).digest('hex');
}

export interface UrlCacheOptions {
  nc: NatsConnection;
  /** The term answered for: names the responders' queue group. */
  term: number;
  urls: KV;
  octopus: OctopusClient;
  fence: Fence;
  clock: Clock;
  logger: Logger;
  metrics: TermMetrics;
  /** Bound of one upstream GET, real ms. */
  fetchTimeoutMs: number;
  /** Misses sent upstream per minute; more are answered THROTTLED. */
  missesPerMinute: number;
  /** Largest value stored or answered, bytes; a larger upstream answer is answered TOO_LARGE. */
  maxValueBytes: number;
}

/** Why a fetch for the URL cache gave no value. */
type UrlFetchResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; error: unknown }
  | { ok: false; tooLarge: number };

/**
 * Answers `ratebus.urls.get`: allow-listed public upstream GETs from `ratebus-urls` (bucket TTL), fetching
 * once on a miss however many ask. Misses reach upstream at most `missesPerMinute` (at low budget priority:
 * never at the expense of configured or held tariffs); values are at most `maxValueBytes`. Refusals are
 * answered with an error code and counted.
 */
export class UrlCacheResponder {
  readonly #options: UrlCacheOptions;
  readonly #flights = new SingleFlight<UrlFetchResult>();
  /** Misses sent upstream: a budget nobody waits for. */
  readonly #misses: RequestBudget;
  readonly #responder: Responder;
  /** Upstream GETs started this term. */
  fetches = 0;

  constructor(opts: UrlCacheOptions) {
    this.#options = opts;
    this.#misses = new RequestBudget(opts.missesPerMinute);
    this.#responder = leaderResponder(
      opts.nc,
      SUBJECTS.urlGet,
      opts.term,
      (msg) => this.#handle(msg),
      (err) => opts.logger.warn({ err }, 'url subscription error'),
    );
  }

  start(): void {
    this.#responder.start();
  }

  /** Unsubscribes, waits for requests being answered and for upstream fetches still in flight. */
  async stop(): Promise<void> {
    await this.#responder.stop();
    await this.#flights.idle();
  }

  async #handle(msg: Msg): Promise<void> {
    const { urls, metrics, logger } = this.#options;
    try {
      const req = decode(UrlRequestSchema, 'UrlRequest', msg.data);
      if (!req.ok) {
        metrics.urlCache?.('error');
        replyError(msg, 'BAD_REQUEST', req.error.message);
        return;
      }
      const checked = checkUrl(req.value.path);
      if (!checked.ok) {
        metrics.urlCache?.('forbidden');
        metrics.refused?.(checked.reason);
        replyError(msg, 'FORBIDDEN', checked.message);
        return;
      }
      const { path } = checked;
      const key = urlKey(path);
      const entry = await urls.get(key).catch(() => null);
      if (entry?.operation === 'PUT' && decode(UrlResponseSchema, 'UrlResponse', entry.value).ok) {
        metrics.urlCache?.('hit');
        msg.respond(entry.value);
        return;
      }
      // A miss already being fetched is joined: it costs nothing more upstream.
      if (!this.#flights.has(key) && !this.#misses.tryAcquire('high')) {
        metrics.urlCache?.('refused');
        metrics.refused?.('url-rate');
        replyError(msg, 'THROTTLED', 'too many URL cache misses reach upstream; try again in a minute');
        return;
      }
      metrics.urlCache?.('miss');
      const r = await this.#flights.do(key, () => withBudgetPriority('low', () => this.#fetch(key, path)));
      if (r.ok) msg.respond(r.bytes);
      else if ('tooLarge' in r) {
        metrics.urlCache?.('refused');
        metrics.refused?.('url-too-large');
        replyError(
          msg,
          'TOO_LARGE',
          `the upstream answer (${r.tooLarge} bytes) is larger than the URL cache stores (${this.#options.maxValueBytes})`,
        );
      } else {
        metrics.urlCache?.('error');
        replyError(msg, replyCodeOf(r.error), (r.error as Error | undefined)?.message ?? 'upstream failed');
      }
    } catch (err) {
      logger.error({ err }, 'url request failed');
      metrics.urlCache?.('error');
      replyInternal(msg);
    }
  }

  async #fetch(key: string, path: string): Promise<UrlFetchResult> {
    const { octopus, urls, fence, clock, logger } = this.#options;
    let res: { status: number; contentType: string; body: string };
    try {
      fence.assertLeading();
      this.fetches++;
      res = await octopus.getPublic(path, {
        signal: AbortSignal.any([fence.signal, AbortSignal.timeout(this.#options.fetchTimeoutMs)]),
      });
    } catch (error) {
      logger.warn({ path, code: (error as { code?: string }).code }, 'url fetch failed');
      return { ok: false, error };
    }
    const value: UrlResponse = {
      type: 'url-response',
      schemaVersion: SCHEMA_VERSION,
      path,
      status: res.status,
      contentType: res.contentType.slice(0, 200),
      body: res.body,
      fetchedAt: new Date(clock.now()).toISOString(),
    };
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    if (bytes.byteLength > this.#options.maxValueBytes) {
      logger.warn({ path, bytes: bytes.byteLength }, 'URL answer too large to store');
      return { ok: false, tooLarge: bytes.byteLength };
    }
    if (CACHEABLE.has(res.status)) {
      try {
        fence.assertLeading();
        await urls.put(key, bytes);
      } catch (err) {
        // Still answer this request; the next miss fetches again.
        logger.warn({ path, err }, 'could not store a URL response');
      }
    }
    return { ok: true, bytes };
  }
}
