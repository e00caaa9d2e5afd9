import type { NatsConnection } from '@nats-io/transport-node';
import {
  decode,
  ERROR_CODE_HEADER,
  ERROR_HEADER,
  ReplyErrorCode,
  SCHEMA_VERSION,
  SUBJECTS,
  type UrlRequest,
  UrlRequestSchema,
  type UrlResponse,
  UrlResponseSchema,
} from '@ratebus/schema';

/** Default wait for the leader's answer on `ratebus.urls.get`: 15 s (a miss costs one upstream call). */
export const DEFAULT_URL_CACHE_TIMEOUT_MS = 15_000;

/** Outcome of a shared-URL-cache lookup. */
export type UrlCacheResult =
  | { readonly ok: true; readonly response: UrlResponse }
  | {
      readonly ok: false;
      /**
       * 503: try later (no leader, timeout, upstream down or throttled); 400: a URL the shared cache does
       * not serve (outside its allow-list); 502: a broken answer.
       */
      readonly status: 400 | 502 | 503;
      /** The fetcher's explanation, when it gave one (`Ratebus-Error`). */
      readonly message?: string;
      /** Stable reason for logs and metrics. */
      readonly reason: string;
    };

/** Something that answers public GETs from the shared URL cache. */
export interface UrlCache {
  get(pathAndQuery: string): Promise<UrlCacheResult>;
}

const RETRY_LATER = new Set<string>([
  ReplyErrorCode.Upstream,
  ReplyErrorCode.Throttled,
  ReplyErrorCode.NotLeader,
]);

/** Asks the leading fetcher on `ratebus.urls.get` (request/reply, `UrlRequest` → `UrlResponse`). */
export class NatsUrlCache implements UrlCache {
  private readonly nc: NatsConnection;
  private readonly by: string;
  private readonly timeoutMs: number;

  constructor(opts: {
    nc: NatsConnection;
    /** Who asks, for the fetcher's logs: printable ASCII without spaces. */
    by: string;
    /** Wait for a reply, ms. Default 15000. */
    timeoutMs?: number;
  }) {
    this.nc = opts.nc;
    this.by = opts.by;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_URL_CACHE_TIMEOUT_MS;
  }

  async get(pathAndQuery: string): Promise<UrlCacheResult> {
    const req: UrlRequest = {
      type: 'url-request',
      schemaVersion: SCHEMA_VERSION,
      path: pathAndQuery,
      by: this.by,
    };
    const checked = UrlRequestSchema.safeParse(req);
    if (!checked.success) return { ok: false, status: 502, reason: 'bad-request' };
    let reply: Awaited<ReturnType<NatsConnection['request']>>;
    try {
      reply = await this.nc.request(SUBJECTS.urlGet, JSON.stringify(checked.data), {
        timeout: this.timeoutMs,
      });
    } catch (e) {
      const name = e instanceof Error ? e.name : '';
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause.name : '';
      if (name === 'NoRespondersError' || cause === 'NoRespondersError') {
        return { ok: false, status: 503, reason: 'no-fetcher' };
      }
      if (name === 'TimeoutError' || cause === 'TimeoutError')
        return { ok: false, status: 503, reason: 'timeout' };
      return { ok: false, status: 503, reason: 'nats-error' };
    }
    const code = reply.headers?.get(ERROR_CODE_HEADER);
    if (code) {
      const status = RETRY_LATER.has(code) ? 503 : code === ReplyErrorCode.Forbidden ? 400 : 502;
      const message = reply.headers?.get(ERROR_HEADER);
      return { ok: false, status, reason: code.toLowerCase(), ...(message ? { message } : {}) };
    }
    const decoded = decode(UrlResponseSchema, 'UrlResponse', reply.data);
    if (!decoded.ok) return { ok: false, status: 502, reason: 'invalid-reply' };
    return { ok: true, response: decoded.value };
  }
}

/** A URL cache whose connection is still being made: answers 503 `not-connected` until it is there. */
export class DeferredUrlCache implements UrlCache {
  private inner: UrlCache | null = null;

  constructor(pending: Promise<UrlCache>, onError: (e: unknown) => void) {
    pending.then(
      (c) => {
        this.inner = c;
      },
      (e: unknown) => onError(e),
    );
  }

  get(pathAndQuery: string): Promise<UrlCacheResult> {
    if (!this.inner) return Promise.resolve({ ok: false, status: 503, reason: 'not-connected' });
    return this.inner.get(pathAndQuery);
  }
}
