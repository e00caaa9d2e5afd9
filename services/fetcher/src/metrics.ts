import type { RequestEvent } from '@ratebus/octopus';
import { registerBuildInfo } from '@ratebus/service-kit';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Confirmation } from './confirmations.js';
import type { TermMetrics } from './leader/types.js';
import type { ElectorObserver } from './lease/elector.js';

/** The fetcher's Prometheus metrics: one registry, fed by the elector, the worker and the upstream client. */
export interface FetcherMetrics {
  readonly registry: Registry;
  /** Hooks for the LeaderElector. */
  readonly elector: ElectorObserver;
  /** Implements the worker's metrics interface. */
  readonly worker: TermMetrics;
  /** For `OctopusClient` `hooks.onRequest`. */
  upstreamRequest(e: RequestEvent): void;
  /** Where `ratebus_upstream_budget_remaining` reads from (e.g. `() => octopus.budget.available`). */
  setBudgetSource(read: () => number): void;
  /** `ratebus_nats_connected`: 1 while the NATS connection is up. */
  natsConnected(up: boolean): void;
  /**
   * Where the per-tariff data-age gauges read from (e.g. a `ConfirmationWatch`), and the clock they are
   * measured on (the scheduling clock: the simulator's in demos).
   */
  setConfirmationSource(read: () => readonly Confirmation[], now: () => number): void;
}

export interface MetricsOptions {
  /** Also collect Node process metrics (CPU, memory, event loop). Default true. */
  defaultMetrics?: boolean;
  /** Most tariffs given their own series in the per-tariff gauges (the rest are counted). Default 200. */
  maxTariffSeries?: number;
}

/** Default cap on the tariffs exported with `product`/`tariff` labels (bounded cardinality). */
export const DEFAULT_MAX_TARIFF_SERIES = 200;

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Bounded label for an upstream path: the endpoint kind, never product or tariff codes (cardinality).
 */
export function endpointOf(path: string): string {
  const p = path.split('?')[0] ?? '';
  if (p.startsWith('/v1/graphql')) return 'graphql';
  if (p.startsWith('/v1/industry/grid-supply-points')) return 'gsp';
  const m = /\/v1\/products\/(?:[^/]+\/(?:electricity|gas)-tariffs\/[^/]+\/([a-z-]+)\/?)?$/.exec(p);
  if (m) return m[1] ?? (p === '/v1/products/' || p === '/v1/products' ? 'products' : 'product');
  if (/^\/v1\/products\/[^/]+\/?$/.test(p)) return 'product';
  return 'other';
}

export function createMetrics(opts: MetricsOptions = {}): FetcherMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // The fetcher's metrics are plain: a name, a help text, labels (and buckets for latencies).
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
  const histogram = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
  ) => new Histogram<L>({ name, help, labelNames, buckets, registers });

  const upstreamRequests = counter(
    'ratebus_upstream_requests_total',
    'Upstream (Octopus API) request attempts by endpoint kind and HTTP status ("error" = no response).',
    ['endpoint', 'status'],
  );
  const upstreamLatency = histogram(
    'ratebus_upstream_request_duration_seconds',
    'Upstream request attempt latency, send to end of body.',
    ['endpoint', 'status'],
    SECONDS_BUCKETS,
  );
  let budgetSource: (() => number) | null = null;
  new Gauge({
    name: 'ratebus_upstream_budget_remaining',
    help: 'Upstream requests that could be made right now without waiting for the budget.',
    registers,
    collect() {
      if (budgetSource) this.set(budgetSource());
    },
  });
  const fetchesStarted = counter('ratebus_fetches_total', 'Tariff fetches started, by reason.', ['reason']);
  const fetchLatency = histogram(
    'ratebus_fetch_duration_seconds',
    'Whole tariff fetch (all pages and endpoints) latency, by outcome.',
    ['outcome'],
    [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  );
  const publishes = counter(
    'ratebus_publishes_total',
    'Rates documents written to KV and published (changed content only), by product.',
    ['product'],
  );
  const rejections = counter(
    'ratebus_rejections_total',
    'Fetched documents refused (never published), by reason.',
    ['reason'],
  );
  const canaries = counter(
    'ratebus_canary_checks_total',
    'Publication-window canary checks, by product and outcome.',
    ['product', 'outcome'],
  );
  const refreshes = counter('ratebus_refresh_requests_total', 'Refresh requests answered, by outcome.', [
    'outcome',
  ]);
  const urlCache = counter(
    'ratebus_url_cache_requests_total',
    'Shared URL cache requests answered, by outcome.',
    ['outcome'],
  );
  const refusals = counter(
    'ratebus_refusals_total',
    'Requests from pods the leader refused to turn into upstream work or storage, by reason.',
    ['reason'],
  );
  const interestAnomalies = counter(
    'ratebus_interest_anomalies_total',
    'Interest entries no honest pod writes, ignored: explicit deletes of live interest, invalid values.',
    ['kind'],
  );
  const tracked = gauge(
    'ratebus_tracked_tariffs',
    'Tariffs the leader keeps fresh (config and live interest).',
  );
  const leader = gauge('ratebus_leader', '1 while this process is the elected leader, else 0.');
  leader.set(0);
  const term = gauge(
    'ratebus_leader_term',
    'Fencing term (revision of the winning lease write) of the current or last leadership of this process.',
  );
  const transitions = counter('ratebus_leader_transitions_total', 'Leadership changes of this process.', [
    'event',
  ]);
  const renewLatency = histogram(
    'ratebus_lease_renew_duration_seconds',
    'Lease renew latency, by outcome (ok, conflict, error).',
    ['outcome'],
    SECONDS_BUCKETS,
  );
  const renewFailures = counter(
    'ratebus_lease_renew_failures_total',
    'Failed lease renews, by error kind (API code or error class).',
    ['kind'],
  );
  const adopted = counter(
    'ratebus_lease_ambiguous_adopted_total',
    'Ambiguous renews (timeout, then wrong last sequence) found to be our own and adopted.',
  );

  registerBuildInfo('fetcher', registers);
  const nats = gauge('ratebus_nats_connected', '1 while the NATS connection is up, else 0.');
  nats.set(0);

  // Per-tariff data age, from the checks bucket. Labels only for tariffs that are configured or confirmed,
  // at most maxTariffSeries of them (configured ones first); the rest are counted in ratebus_tariff_series_dropped.
  const maxSeries = opts.maxTariffSeries ?? DEFAULT_MAX_TARIFF_SERIES;
  let confirmations: { read: () => readonly Confirmation[]; now: () => number } | null = null;
  const exported = (): readonly Confirmation[] => confirmations?.read().slice(0, maxSeries) ?? [];
  /** One per-tariff gauge: `value` of each exported confirmation at scrape time (null: no sample). */
  const tariffGauge = (name: string, help: string, value: (c: Confirmation, now: number) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['product', 'tariff'] as const,
      registers,
      collect() {
        this.reset();
        if (!confirmations) return;
        const now = confirmations.now();
        for (const c of exported()) {
          const v = value(c, now);
          if (v !== null) this.set({ product: c.product, tariff: c.tariff }, v);
        }
      },
    });
  tariffGauge(
    'ratebus_tariff_seconds_since_confirmation',
    "Seconds since the fetcher last confirmed the tariff's rates upstream (+Inf: configured, never confirmed).",
    (c, now) => (c.checkedAt === null ? Number.POSITIVE_INFINITY : Math.max(0, (now - c.checkedAt) / 1000)),
  );
  tariffGauge(
    'ratebus_tariff_published_ahead_seconds',
    "Seconds from now to the end of the tariff's newest published unit-rate slot (negative: behind).",
    (c, now) => (c.coversThrough === null ? null : (c.coversThrough - now) / 1000),
  );
  new Gauge({
    name: 'ratebus_tariff_series_dropped',
    help: 'Tariffs left out of the per-tariff gauges by the series cap.',
    registers,
    collect() {
      this.set(Math.max(0, (confirmations?.read().length ?? 0) - maxSeries));
    },
  });

  const elector: ElectorObserver = {
    leadership(leading, t) {
      leader.set(leading ? 1 : 0);
      term.set(t);
      transitions.inc({ event: leading ? 'elected' : 'deposed' });
    },
    renew(outcome, seconds, kind) {
      if (outcome === 'adopted') {
        adopted.inc();
        return;
      }
      renewLatency.observe({ outcome }, seconds);
      if (outcome !== 'ok') renewFailures.inc({ kind: kind ?? outcome });
    },
  };

  const worker: TermMetrics = {
    fetchStarted: (_product, _tariff, reason) => fetchesStarted.inc({ reason }),
    fetchFinished: (outcome, seconds) => fetchLatency.observe({ outcome }, seconds),
    published: (product) => publishes.inc({ product }),
    rejected: (reason) => rejections.inc({ reason }),
    canary: (product, outcome) => canaries.inc({ product, outcome }),
    refreshRequest: (outcome) => refreshes.inc({ outcome }),
    urlCache: (outcome) => urlCache.inc({ outcome }),
    trackedTariffs: (n) => tracked.set(n),
    refused: (reason) => refusals.inc({ reason }),
    interestAnomaly: (kind) => interestAnomalies.inc({ kind }),
  };

  return {
    registry,
    elector,
    worker,
    upstreamRequest(e) {
      const labels = { endpoint: endpointOf(e.path), status: String(e.status) };
      upstreamRequests.inc(labels);
      upstreamLatency.observe(labels, e.ms / 1000);
    },
    setBudgetSource(read) {
      budgetSource = read;
    },
    natsConnected(up) {
      nats.set(up ? 1 : 0);
    },
    setConfirmationSource(read, now) {
      confirmations = { read, now };
    },
  };
}
