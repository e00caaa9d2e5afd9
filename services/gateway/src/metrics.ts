import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** The gateway's Prometheus metrics, on their own registry (one per gateway, so tests can run several). */
export class GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'status'>;
  readonly latency: Histogram<'route'>;
  readonly served: Counter<'freshness'>;
  readonly ensures: Counter<'outcome'>;
  readonly mirrorWrites: Counter<'outcome'>;
  readonly urlCache: Counter<'outcome'>;
  readonly predbatWrites: Counter<'outcome'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'ratebus_gateway_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'ratebus_gateway_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route.',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.served = new Counter({
      name: 'ratebus_gateway_served_total',
      help: 'Rates responses served from the local copy, by freshness of that copy.',
      labelNames: ['freshness'],
      registers,
    });
    this.ensures = new Counter({
      name: 'ratebus_gateway_ensure_total',
      help: 'Requests for tariffs not held yet, by outcome (arrived, not-found, no-fetcher, timeout, error).',
      labelNames: ['outcome'],
      registers,
    });
    this.mirrorWrites = new Counter({
      name: 'ratebus_gateway_mirror_writes_total',
      help: 'File mirror writes, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.urlCache = new Counter({
      name: 'ratebus_gateway_url_cache_total',
      help: 'Public GETs answered through the shared URL cache, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.predbatWrites = new Counter({
      name: 'ratebus_gateway_predbat_entries_total',
      help: 'PredBat cache entries considered by the storage feed, by outcome (written, unchanged, kept-newer, unreadable, error).',
      labelNames: ['outcome'],
      registers,
    });
  }
}
