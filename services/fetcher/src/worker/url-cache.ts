import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { OctopusClient } from '@ratebus/octopus';
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
import { RESPONDER_QUEUE } from './refresh.js';
import { replyCodeOf, replyError } from './reply.js';
import { SingleFlight } from './single-flight.js';
import type { Clock, Fence, WorkerMetrics } from './types.js';

const BASE = 'http://upstream.invalid';
const PRODUCT_DETAIL_RE = /^\/v1\/products\/([^/]+)\/$/;
/** Upstream statuses worth caching: stable answers. Errors are never cached. */
const CACHEABLE = new Set([200, 404]);

/**
 * Normalises a public upstream path + query for the URL cache, or returns null when it is not allowed.
 * Allowed: `/v1/products/`, `/v1/products/{code}/`, `/v1/industry/grid-supply-points/` (a missing trailing
 * slash is added). Query parameters are sorted by name then value so equal requests share one key.
 */
export function normaliseUrl(pathAndQuery: string): string | null {
  let u: URL;
  try {
    u = new URL(pathAndQuery, BASE);
  } catch {
    return null;
  }
  if (u.origin !== BASE || u.hash !== '') return null;
  let path = u.pathname;
  if (!path.endsWith('/')) path += '/';
  const detail = PRODUCT_DETAIL_RE.exec(path);
  const allowed =
    path === '/v1/products/' ||
    path === '/v1/industry/grid-supply-points/' ||
    (detail !== null && isProductCode(detail[1]));
  if (!allowed) return null;
  const params = [...u.searchParams].sort(([ak, av], [bk, bv]) =>
    ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0,
  );
  const query = new URLSearchParams(params).toString();
  return query ? `${path}?${query}` : path;
}

/** KV key of a normalised URL: lower-case SHA-256 hex. */
export function urlKey(normalised: string): string {
  return createHash('sha256').update(normalised).digest('hex');
}

export interface UrlCacheOptions {
  nc: NatsConnection;
  urls: KV;
  octopus: OctopusClient;
  fence: Fence;
  clock: Clock;
  logger: Logger;
  metrics: WorkerMetrics;
  /** Bound of one upstream GET, real ms. */
  fetchTimeoutMs: number;
}

/**
 * Answers `ratebus.urls.get`: allow-listed public upstream GETs from `ratebus-urls` (bucket TTL), fetching
 * once on a miss however many ask.
 */
export class UrlCacheResponder {
  readonly #o: UrlCacheOptions;
  readonly #flights = new SingleFlight<{ ok: true; bytes: Uint8Array } | { ok: false; error: unknown }>();
  readonly #handling = new Set<Promise<void>>();
  #sub: Subscription | null = null;
  /** Upstream GETs started this term. */
  fetches = 0;

  constructor(opts: UrlCacheOptions) {
    this.#o = opts;
  }

  start(): void {
    this.#sub = this.#o.nc.subscribe(SUBJECTS.urlGet, {
      queue: RESPONDER_QUEUE,
      callback: (err, msg) => {
        if (err) {
          this.#o.logger.warn({ err }, 'url subscription error');
          return;
        }
        const p = this.#handle(msg).finally(() => this.#handling.delete(p));
        this.#handling.add(p);
      },
    });
  }

  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = null;
    await Promise.allSettled([...this.#handling]);
    await this.#flights.idle();
  }

  async #handle(msg: Msg): Promise<void> {
    const { urls, metrics, logger } = this.#o;
    try {
      const req = decode(UrlRequestSchema, 'UrlRequest', msg.data);
      if (!req.ok) {
        metrics.urlCache?.('error');
        replyError(msg, 'BAD_REQUEST', req.error.message);
        return;
      }
      const path = normaliseUrl(req.value.path);
      if (path === null) {
        metrics.urlCache?.('forbidden');
        replyError(
          msg,
          'FORBIDDEN',
          'only /v1/products/, /v1/products/{code}/ and /v1/industry/grid-supply-points/',
        );
        return;
      }
      const key = urlKey(path);
      const entry = await urls.get(key).catch(() => null);
      if (entry?.operation === 'PUT' && decode(UrlResponseSchema, 'UrlResponse', entry.value).ok) {
        metrics.urlCache?.('hit');
        msg.respond(entry.value);
        return;
      }
      metrics.urlCache?.('miss');
      const r = await this.#flights.do(key, () => this.#fetch(key, path));
      if (r.ok) msg.respond(r.bytes);
      else {
        metrics.urlCache?.('error');
        replyError(msg, replyCodeOf(r.error), (r.error as Error | undefined)?.message ?? 'upstream failed');
      }
    } catch (err) {
      logger.error({ err }, 'url request failed');
      metrics.urlCache?.('error');
      try {
        replyError(msg, 'INTERNAL', 'internal error');
      } catch {
        // the connection is gone
      }
    }
  }

  async #fetch(
    key: string,
    path: string,
  ): Promise<{ ok: true; bytes: Uint8Array } | { ok: false; error: unknown }> {
    const { octopus, urls, fence, clock, logger } = this.#o;
    let res: { status: number; contentType: string; body: string };
    try {
      fence.assertLeading();
      this.fetches++;
      res = await octopus.getPublic(path, {
        signal: AbortSignal.any([fence.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs)]),
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
