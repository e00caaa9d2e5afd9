import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Liveness } from '@ratebus/service-kit';
import type { Logger } from 'pino';
import { GatewayMetrics } from './metrics.js';
import { parseQuery } from './querystring.js';
import { answerRates, type JsonAnswer } from './rates-page.js';
import { ERROR_BODIES } from './rates-query.js';
import { matchRoute, noSuchTariffBody, type Route } from './routes.js';
import { classifyEnsureError, type HeldRates, type RateSource } from './source.js';
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
}

const HOST_RE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The answer before it is written: status, headers, body text. */
interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
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
  private ownLiveness = false;
  private ready = false;
  /** Tariffs whose interest this gateway has declared through `ensure()`. */
  private readonly declared = new Set<string>();
  private stopping: Promise<void> | null = null;

  private constructor(opts: GatewayOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.metrics = opts.metrics ?? new GatewayMetrics();
    if (opts.liveness) this.liveness = opts.liveness;
    else {
      this.liveness = new Liveness().start();
      this.ownLiveness = true;
    }
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((e: unknown) => {
        this.log.error({ err: errInfo(e) }, 'request handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end();
      });
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawPath = q < 0 ? target : target.slice(0, q);
    const rawQuery = q < 0 ? '' : target.slice(q + 1);
    const route: Route = target.startsWith('/') ? matchRoute(rawPath) : { kind: 'not-found' };
    const routeName = route.kind === 'upstream' ? route.name : route.kind;
    let reply: Reply;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply = json(405, { detail: `Method "${req.method ?? ''}" not allowed.` }, { allow: 'GET, HEAD' });
    } else {
      reply = await this.dispatch(route, rawQuery, req);
    }
    const headers = { 'access-control-allow-origin': '*', ...reply.headers };
    res.writeHead(reply.status, { ...headers, 'content-length': String(Buffer.byteLength(reply.body)) });
    res.end(req.method === 'HEAD' ? undefined : reply.body);
    const seconds = (performance.now() - started) / 1000;
    this.metrics.requests.inc({ route: routeName, status: String(reply.status) });
    this.metrics.latency.observe({ route: routeName }, seconds);
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

  private async dispatch(route: Route, rawQuery: string, req: IncomingMessage): Promise<Reply> {
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
        return {
          status: 200,
          headers: { 'content-type': this.metrics.registry.contentType },
          body: await this.metrics.registry.metrics(),
        };
      case 'not-found':
        return json(404, ERROR_BODIES.notFound);
      case 'no-such-tariff':
        return json(404, noSuchTariffBody(route.fuel));
      case 'upstream':
        return this.proxy(route.canonicalPath, rawQuery, req);
      case 'rates':
        return this.rates(route, rawQuery, req);
    }
  }

  private origin(req: IncomingMessage): string {
    if (this.opts.publicBaseUrl) return this.opts.publicBaseUrl.replace(/\/+$/, '');
    const host = req.headers.host;
    if (host && HOST_RE.test(host)) return `http://${host}`;
    return this.url;
  }

  private async rates(
    route: Extract<Route, { kind: 'rates' }>,
    rawQuery: string,
    req: IncomingMessage,
  ): Promise<Reply> {
    const { source } = this.opts;
    let held = source.get(route.product, route.tariff);
    const key = `${route.product}.${route.tariff}`;
    if (held && !this.declared.has(key)) {
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
    if (!held) {
      const timeoutMs = this.opts.ensureTimeoutMs ?? DEFAULT_ENSURE_TIMEOUT_MS;
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
        const retry = failure === 'no-fetcher' ? RETRY_AFTER_NO_FETCHER_S : RETRY_AFTER_S;
        return json(
          503,
          { detail: 'Rates for this tariff are not available yet. Try again shortly.' },
          {
            'retry-after': String(retry),
          },
        );
      }
      if (!held) {
        return json(
          503,
          { detail: 'Rates for this tariff are not available yet. Try again shortly.' },
          {
            'retry-after': String(RETRY_AFTER_S),
          },
        );
      }
    }
    const answer: JsonAnswer = answerRates({
      doc: held.document,
      charge: route.charge,
      query: parseQuery(rawQuery),
      origin: this.origin(req),
      canonicalPath: route.canonicalPath,
    });
    this.metrics.served.inc({ freshness: held.freshness });
    return json(answer.status, answer.body, this.freshnessHeaders(held));
  }

  private freshnessHeaders(held: HeldRates): Record<string, string> {
    const freshFor = this.opts.freshForMs ?? DEFAULT_FRESH_FOR_MS;
    const maxAge =
      held.freshness === 'fresh' ? Math.min(MAX_AGE_S, Math.floor((freshFor - held.ageMs) / 1000)) : 0;
    const h: Record<string, string> = {
      age: String(Math.max(0, Math.floor(held.ageMs / 1000))),
      'cache-control': `max-age=${Math.max(0, maxAge)}`,
      'x-ratebus-freshness': held.freshness,
    };
    if (held.document.coversThrough !== null) h['x-ratebus-covers-through'] = held.document.coversThrough;
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
      headers: { 'content-type': response.contentType || 'application/json', age: String(ageS) },
      body,
    };
  }
}

function errInfo(e: unknown): Record<string, unknown> {
  if (e instanceof Error) return { name: e.name, message: e.message, code: (e as { code?: unknown }).code };
  return { value: String(e) };
}
