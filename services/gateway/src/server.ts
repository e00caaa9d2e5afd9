import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Liveness } from '@ratebus/service-kit';
import type { Logger } from 'pino';
import { GatewayMetrics } from './metrics.js';
import { type CachedPage, noneMatch, PageCache } from './page-cache.js';
import { parseQuery } from './querystring.js';
import { answerRates, type JsonAnswer } from './rates-page.js';
import { ERROR_BODIES } from './rates-query.js';
import { matchRoute, noSuchTariffBody, type Route } from './routes.js';
import { classifyEnsureError, type HeldRateView, type RateSource } from './source.js';
import type { UrlCache } from './url-cache.js';

/** Default listen port. */
export const DEFAULT_PORT = 8092;
/** Default listen address: loopback only, a sidecar serves its own pod. */
export const DEFAULT_HOST = '127.0.0.1';
/** Default bounded wait for a tariff not held yet: 10 s. */
export const DEFAULT_ENSURE_TIMEOUT_MS = 10_000;
/** Confirmation age below which a copy is fresh (the client's default tier): 30 min. */
export const DEFAULT_FRESH_FOR_MS = 30 * 60_000;
/** Largest `Cache-Control: max-age` given, s (what upstream sends). */
export const MAX_AGE_S = 300;
/** `Retry-After` for a tariff that did not arrive in time or a URL cache that could not answer, s. */
export const RETRY_AFTER_S = 5;
/** `Retry-After` when no fetcher answers at all, s. */
export const RETRY_AFTER_NO_FETCHER_S = 30;
/** Origin the fetcher's upstream writes into links of proxied bodies (rewritten to the gateway's own). */
export const DEFAULT_UPSTREAM_ORIGIN = 'https://api.octopus.energy';
/** How long `stop()` lets in-flight requests finish before closing their sockets, ms. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;

export interface GatewayOptions {
  /** The local copy of rates (a `RateClient`). */
  source: RateSource;
  /** Answers products / product / GSP lookups; without it those routes answer 503. */
  urlCache?: UrlCache;
  logger: Logger;
  /** Metrics registry holder. Default: a new one. */
  metrics?: GatewayMetrics;
  /** Listen port; 0 = ephemeral. Default 8092. */
  port?: number;
  /** Listen address. Default 127.0.0.1. */
  host?: string;
  /** Origin written into `next`/`previous` (e.g. `http://gateway:8092`). Default: from the Host header. */
  publicBaseUrl?: string;
  /** Bounded wait for a tariff not held yet, ms. Default 10000. */
  ensureTimeoutMs?: number;
  /** Confirmation age below which a copy is fresh, for `Cache-Control`, ms. Default 30 min. */
  freshForMs?: number;
  /** Upstream origin whose links in proxied bodies are rewritten to ours. Default https://api.octopus.energy. */
  upstreamOrigin?: string;
  /** Grace for in-flight requests on stop, ms. Default 5000. */
  shutdownGraceMs?: number;
  /** Clock for `Age` of proxied answers, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Liveness (event loop heartbeat, fatal state) behind `/livez`. Default: a new one, started. */
  liveness?: Liveness;
  /** Computed rates answers, reused until their document changes. Default: a new one with default bounds. */
  pageCache?: PageCache;
}

const HOST_RE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The answer before it is written: status, headers as a flat `[name, value, …]` list (what `writeHead`
 * takes without building an object), body.
 */
interface Reply {
  status: number;
  headers: string[];
  body: string | Buffer;
  /** The list already ends with the CORS and length fields (a reused list of a cached page): written as is. */
  complete?: boolean;
}

const NO_BODY = Buffer.alloc(0);

/** A held tariff as read for the requests of one event-loop turn. */
interface Reading {
  readonly held: HeldRateView;
  /** `{product}.{tariff}`. */
  readonly key: string;
  /** Start of the page cache keys of this tariff and endpoint. */
  readonly pagePrefix: string;
  /** Age, Cache-Control, freshness and coverage headers of this reading. */
  readonly headers: readonly string[];
  /** Every header of a cached page answered from this reading, built once per page and turn. */
  readonly pageHeaders: Map<CachedPage, string[]>;
}

/** A request target (`req.url`) split once: its route, path and query, and its page cache key. */
interface Target {
  readonly route: Route;
  readonly rawPath: string;
  readonly rawQuery: string;
  /** The origin `pageKey` was made for (links in a page depend on it). */
  origin: string | null;
  pageKey: string;
}

/** Bound on remembered rates routes (path → validated codes) and targets; a map starts over when full. */
const ROUTE_CACHE_ENTRIES = 1_024;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: ['content-type', 'application/json', ...Object.entries(headers).flat()],
  body: JSON.stringify(body),
});

/**
 * The HTTP side of the gateway: answers like `api.octopus.energy` for the rates the source holds, proxies the
 * other public GETs through the shared URL cache, and serves health and metrics. `node:http`, no framework.
 */
export class Gateway implements AsyncDisposable {
  readonly metrics: GatewayMetrics;
  private readonly opts: GatewayOptions;
  private readonly server: Server;
  private readonly log: Logger;
  private readonly liveness: Liveness;
  private readonly pages: PageCache;
  private readonly routes = new Map<string, Route>();
  private readonly targets = new Map<string, Target>();
  private readonly heldThisTurn = new Map<Route, Reading>();
  private lastHost: { host: string | undefined; origin: string } = { host: '\n', origin: '' };
  private ownLiveness = false;
  private ready = false;
  /** Tariffs whose interest this gateway has declared through `ensure()`. */
  private readonly declared = new Set<string>();
  private stopping: Promise<void> | null = null;

  private constructor(opts: GatewayOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.metrics = opts.metrics ?? new GatewayMetrics();
    this.pages = opts.pageCache ?? new PageCache();
    this.metrics.observePageCache(this.pages);
    if (opts.liveness) this.liveness = opts.liveness;
    else {
      this.liveness = new Liveness().start();
      this.ownLiveness = true;
    }
    this.server = createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (e) {
        this.failed(res, e);
      }
    });
    this.server.keepAliveTimeout = 65_000;
    void opts.source.ready().then(
      () => {
        this.ready = true;
        this.log.info('initial snapshot loaded: ready');
      },
      (e: unknown) => this.log.error({ err: errInfo(e) }, 'source never became ready'),
    );
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const g = new Gateway(opts);
    g.server.listen(opts.port ?? DEFAULT_PORT, opts.host ?? DEFAULT_HOST);
    await once(g.server, 'listening');
    g.log.info({ url: g.url }, 'gateway listening');
    return g;
  }

  /** The bound port. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://{host}:{port}` of the listener. */
  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** True once the source's initial snapshot is loaded. */
  get isReady(): boolean {
    return this.ready;
  }

  /**
   * Readiness: the initial snapshot is loaded (from NATS or the persisted copy) and NATS is connected. While
   * NATS is away the gateway still answers from its copy (labelled with its age) but is not ready: it cannot
   * fetch tariffs it does not hold, nor keep the ones it holds fresh.
   */
  readiness(): { ok: boolean; detail: Record<string, unknown> } {
    const nats = this.opts.source.isConnected?.() ?? true;
    return {
      ok: this.ready && nats,
      detail: { snapshot: this.ready ? 'loaded' : 'loading', nats: nats ? 'connected' : 'disconnected' },
    };
  }

  /** Stops accepting, lets in-flight requests finish (bounded), closes. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      const timer = setTimeout(
        () => this.server.closeAllConnections(),
        this.opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
      );
      await closed;
      clearTimeout(timer);
      if (this.ownLiveness) this.liveness.stop();
    })();
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Answers one request. Synchronous when the answer is at hand (a held tariff, a cached page): the hot path
   * has no promise in it. Only a tariff not held yet, the URL cache and `/metrics` wait.
   */
  private handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const target = this.target(req.url ?? '/');
    const { route, rawPath } = target;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const reply = json(
        405,
        { detail: `Method "${req.method ?? ''}" not allowed.` },
        { allow: 'GET, HEAD' },
      );
      this.send(req, res, route, rawPath, reply, started);
      return;
    }
    const reply = this.dispatch(target, req);
    if (reply instanceof Promise) {
      // A throw in send() (a header Node refuses) must end in failed() too, never as an unhandled rejection.
      reply
        .then((r) => this.send(req, res, route, rawPath, r, started))
        .catch((e: unknown) => this.failed(res, e));
    } else {
      this.send(req, res, route, rawPath, reply, started);
    }
  }

  /** A request target split into route, path and query; rates targets are kept, bounded, like their routes. */
  private target(url: string): Target {
    const known = this.targets.get(url);
    if (known !== undefined) return known;
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const route: Route = url.startsWith('/') ? this.route(rawPath) : { kind: 'not-found' };
    const target: Target = { route, rawPath, rawQuery, origin: null, pageKey: '' };
    if (route.kind === 'rates') {
      if (this.targets.size >= ROUTE_CACHE_ENTRIES) this.targets.clear();
      this.targets.set(url, target);
    }
    return target;
  }

  /** The route of a path; rates routes (validated codes) are kept, bounded, so the hot path skips parsing. */
  private route(rawPath: string): Route {
    const known = this.routes.get(rawPath);
    if (known !== undefined) return known;
    const route = matchRoute(rawPath);
    if (route.kind === 'rates') {
      if (this.routes.size >= ROUTE_CACHE_ENTRIES) this.routes.clear();
      this.routes.set(rawPath, route);
    }
    return route;
  }

  private send(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    rawPath: string,
    reply: Reply,
    started: number,
  ): void {
    const headers = reply.headers;
    if (reply.complete !== true) pushClosingFields(headers, reply.status, reply.body);
    res.writeHead(reply.status, headers);
    res.end(req.method === 'HEAD' || reply.status === 304 ? undefined : reply.body);
    const seconds = (performance.now() - started) / 1000;
    const routeName = route.kind === 'upstream' ? route.name : route.kind;
    this.metrics.tally.request(routeName, reply.status, seconds);
    if (reply.status < 500 && !this.log.isLevelEnabled('debug')) return;
    // Only method, path and outcome: never headers (Authorization) and never the query's values.
    const line = {
      method: req.method,
      path: rawPath.slice(0, 200),
      route: routeName,
      status: reply.status,
      ms: seconds * 1000,
    };
    if (reply.status >= 500) this.log.warn(line, 'request');
    else this.log.debug(line, 'request');
  }

  private failed(res: ServerResponse, e: unknown): void {
    this.log.error({ err: errInfo(e) }, 'request handler failed');
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end();
  }

  private dispatch(target: Target, req: IncomingMessage): Reply | Promise<Reply> {
    const { route } = target;
    switch (route.kind) {
      case 'livez': {
        // Never looks at NATS: during an outage the gateway serves its copy and must not be restarted.
        const live = this.liveness.check();
        return json(live.ok ? 200 : 503, { status: live.ok ? 'ok' : 'unavailable', ...live.detail });
      }
      case 'readyz': {
        const r = this.readiness();
        return json(r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'unavailable', ...r.detail });
      }
      case 'metrics':
        return this.metrics.registry.metrics().then((body) => ({
          status: 200,
          headers: ['content-type', this.metrics.registry.contentType],
          body,
        }));
      case 'not-found':
        return json(404, ERROR_BODIES.notFound);
      case 'no-such-tariff':
        return json(404, noSuchTariffBody(route.fuel));
      case 'upstream':
        return this.proxy(route.canonicalPath, target.rawQuery, req);
      case 'rates':
        return this.rates(route, target, req);
    }
  }

  private origin(req: IncomingMessage): string {
    if (this.opts.publicBaseUrl) return this.opts.publicBaseUrl.replace(/\/+$/, '');
    const host = header(req, 'host');
    // Most requests come with the host of the one before: checked and formatted once.
    if (host === this.lastHost.host) return this.lastHost.origin;
    const origin = host && HOST_RE.test(host) ? `http://${host}` : this.url;
    this.lastHost = { host, origin };
    return origin;
  }

  private rates(
    route: Extract<Route, { kind: 'rates' }>,
    target: Target,
    req: IncomingMessage,
  ): Reply | Promise<Reply> {
    const { source } = this.opts;
    const reading = this.heldNow(route);
    if (reading === undefined) return this.ratesNotHeld(route, target, req);
    const key = reading.key;
    if (!this.declared.has(key)) {
      // Served from a copy someone else asked for: declare our own interest so the fetcher keeps it fresh
      // even when they go away. Once per tariff; the client renews it from then on.
      this.declared.add(key);
      void source
        .ensure(route.product, route.tariff, {
          timeoutMs: this.opts.ensureTimeoutMs ?? DEFAULT_ENSURE_TIMEOUT_MS,
        })
        .catch((e: unknown) => {
          this.declared.delete(key);
          this.log.debug({ key, err: errInfo(e) }, 'interest declaration failed');
        });
    }
    return this.ratesAnswer(route, reading, target, req);
  }

  /**
   * The source's view of a tariff, asked once per event-loop turn: the requests one turn answers are
   * answered at one instant (`Age` and freshness from the same reading), and a burst does not re-derive the
   * same view for each of them. Keyed by the (remembered) route object.
   */
  private heldNow(route: Extract<Route, { kind: 'rates' }>): Reading | undefined {
    const known = this.heldThisTurn.get(route);
    if (known !== undefined) return known;
    const held = this.opts.source.get(route.product, route.tariff);
    if (held === undefined) return undefined;
    const reading = this.readingOf(route, held);
    if (this.heldThisTurn.size === 0) setImmediate(() => this.heldThisTurn.clear());
    this.heldThisTurn.set(route, reading);
    return reading;
  }

  private readingOf(route: Extract<Route, { kind: 'rates' }>, held: HeldRateView): Reading {
    const key = `${route.product}.${route.tariff}`;
    return {
      held,
      key,
      pagePrefix: `${key}\n${route.charge}\n`,
      headers: this.freshnessHeaders(held),
      pageHeaders: new Map(),
    };
  }

  /** A tariff not held yet: declare interest, wait (bounded) for its first document, then answer. */
  private async ratesNotHeld(
    route: Extract<Route, { kind: 'rates' }>,
    target: Target,
    req: IncomingMessage,
  ): Promise<Reply> {
    const { source } = this.opts;
    const key = `${route.product}.${route.tariff}`;
    const timeoutMs = this.opts.ensureTimeoutMs ?? DEFAULT_ENSURE_TIMEOUT_MS;
    let held: HeldRateView | undefined;
    try {
      await source.ensure(route.product, route.tariff, { timeoutMs });
      this.declared.add(key);
      held = source.get(route.product, route.tariff);
      this.metrics.ensures.inc({ outcome: held ? 'arrived' : 'error' });
    } catch (e) {
      const failure = classifyEnsureError(e);
      this.metrics.ensures.inc({ outcome: failure });
      this.log.info(
        { product: route.product, tariff: route.tariff, outcome: failure },
        'tariff not available',
      );
      if (failure === 'not-found') return json(404, noSuchTariffBody(route.fuel));
      return notYet(failure === 'no-fetcher' ? RETRY_AFTER_NO_FETCHER_S : RETRY_AFTER_S);
    }
    if (!held) return notYet(RETRY_AFTER_S);
    return this.ratesAnswer(route, this.readingOf(route, held), target, req);
  }

  private ratesAnswer(
    route: Extract<Route, { kind: 'rates' }>,
    reading: Reading,
    target: Target,
    req: IncomingMessage,
  ): Reply {
    const { held } = reading;
    const { rawQuery } = target;
    // The answer depends only on the document, the endpoint, the origin written into links and the query:
    // computed once for each, reused (bytes and validator) until the document changes.
    const origin = this.origin(req);
    if (target.origin !== origin) {
      target.origin = origin;
      target.pageKey = `${reading.pagePrefix}${origin}\n${rawQuery}`;
    }
    const pageKey = target.pageKey;
    let page = this.pages.get(pageKey, reading.key, held.document);
    const computed = page === undefined;
    if (page === undefined) {
      const answer: JsonAnswer = answerRates({
        doc: held.document,
        charge: route.charge,
        query: parseQuery(rawQuery),
        origin,
        canonicalPath: route.canonicalPath,
      });
      page = this.pages.put(pageKey, reading.key, held.document, answer.status, answer.body);
    }
    this.metrics.tally.served(held.freshness);
    if (page.status === 200 && noneMatch(header(req, 'if-none-match'), page.etag)) {
      this.metrics.tally.page('not-modified');
      return { status: 304, headers: [...reading.headers, 'etag', page.etag], body: NO_BODY };
    }
    this.metrics.tally.page(computed ? 'miss' : 'hit');
    return { status: page.status, headers: pageHeaders(reading, page), body: page.body, complete: true };
  }

  private freshnessHeaders(held: HeldRateView): string[] {
    const freshFor = this.opts.freshForMs ?? DEFAULT_FRESH_FOR_MS;
    const maxAge =
      held.freshness === 'fresh' ? Math.min(MAX_AGE_S, Math.floor((freshFor - held.ageMs) / 1000)) : 0;
    const h = [
      'age',
      String(Math.max(0, Math.floor(held.ageMs / 1000))),
      'cache-control',
      `max-age=${Math.max(0, maxAge)}`,
      'x-ratebus-freshness',
      held.freshness,
    ];
    if (held.document.coversThrough !== null) h.push('x-ratebus-covers-through', held.document.coversThrough);
    return h;
  }

  private async proxy(canonicalPath: string, rawQuery: string, req: IncomingMessage): Promise<Reply> {
    const cache = this.opts.urlCache;
    if (!cache) {
      this.metrics.urlCache.inc({ outcome: 'disabled' });
      return json(
        503,
        { detail: 'The shared URL cache is not configured.' },
        { 'retry-after': String(RETRY_AFTER_NO_FETCHER_S) },
      );
    }
    const pathAndQuery = rawQuery === '' ? canonicalPath : `${canonicalPath}?${rawQuery}`;
    if (!/^[!-~]*$/.test(pathAndQuery) || pathAndQuery.length > 2048) {
      return json(400, { detail: 'The query must be printable ASCII (percent-encode the rest).' });
    }
    const r = await cache.get(pathAndQuery);
    if (!r.ok) {
      this.metrics.urlCache.inc({ outcome: r.reason });
      this.log.warn({ path: canonicalPath, reason: r.reason }, 'shared URL cache could not answer');
      if (r.status === 400) {
        return json(400, {
          detail: `The shared URL cache does not serve this URL: ${r.message ?? r.reason}.`,
        });
      }
      return r.status === 503
        ? json(
            503,
            { detail: `The shared URL cache is unavailable (${r.reason}).` },
            {
              'retry-after': String(r.reason === 'no-fetcher' ? RETRY_AFTER_NO_FETCHER_S : RETRY_AFTER_S),
            },
          )
        : json(502, { detail: `The shared URL cache gave an invalid answer (${r.reason}).` });
    }
    this.metrics.urlCache.inc({ outcome: 'ok' });
    const { response } = r;
    const upstream = (this.opts.upstreamOrigin ?? DEFAULT_UPSTREAM_ORIGIN).replace(/\/+$/, '');
    const origin = this.origin(req);
    // Links in product bodies point at the upstream; clients that follow them must come back here.
    const body = response.body.replaceAll(`"${upstream}/`, `"${origin}/`);
    const now = this.opts.now ?? Date.now;
    const ageS = Math.max(0, Math.floor((now() - Date.parse(response.fetchedAt)) / 1000));
    return {
      status: response.status,
      headers: ['content-type', response.contentType || 'application/json', 'age', String(ageS)],
      body,
    };
  }
}

/**
 * Every header of a cached page answered from `reading`: its freshness fields, the page's validator (200 only),
 * type, CORS and length. Built once per page and reading, i.e. per event-loop turn, not per request.
 */
function pageHeaders(reading: Reading, page: CachedPage): string[] {
  const known = reading.pageHeaders.get(page);
  if (known !== undefined) return known;
  const headers = [...reading.headers];
  if (page.status === 200) headers.push('etag', page.etag);
  headers.push('content-type', 'application/json');
  pushClosingFields(headers, page.status, page.body);
  reading.pageHeaders.set(page, headers);
  return headers;
}

/** The fields every answer ends with: CORS, and the body's length (a 304 has none, RFC 9110 §15.4.5). */
function pushClosingFields(headers: string[], status: number, body: string | Buffer): void {
  headers.push('access-control-allow-origin', '*');
  if (status !== 304) headers.push('content-length', String(Buffer.byteLength(body)));
}

/** 503 for a tariff whose rates did not arrive in time. */
function notYet(retryAfterS: number): Reply {
  return json(
    503,
    { detail: 'Rates for this tariff are not available yet. Try again shortly.' },
    { 'retry-after': String(retryAfterS) },
  );
}

/**
 * A request header, read from `rawHeaders` (`req.headers` would build an object of every header, lower-casing
 * each name, on first use); repeated fields joined with `, ` as a list (so two `Host` fields never validate
 * as one host). `name` is lower case.
 */
function header(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i] as string;
    if (n.length === name.length && n.toLowerCase() === name) {
      const v = raw[i + 1] as string;
      value = value === undefined ? v : `${value}, ${v}`;
    }
  }
  return value;
}

function errInfo(e: unknown): Record<string, unknown> {
  if (e instanceof Error) return { name: e.name, message: e.message, code: (e as { code?: unknown }).code };
  return { value: String(e) };
}
