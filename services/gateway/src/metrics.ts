import type { ClientStats } from '@ratebus/client';
import { registerBuildInfo } from '@ratebus/service-kit';
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  type Histogram,
  type MetricValueWithName,
  Registry,
} from 'prom-client';
import type { PageCacheStats } from './page-cache.js';
import { LATENCY_BUCKETS_S, RequestTally } from './request-tally.js';

/** The part of `RateClient` the client metrics read (`stats()`), structurally. */
export interface StatsSource {
  stats(): ClientStats;
}

/** The part of `PageCache` the gauges read, structurally. */
export interface PageCacheSource {
  stats(): PageCacheStats;
}

/** The gateway's Prometheus metrics, on their own registry (one per gateway, so tests can run several). */
export class GatewayMetrics {
  readonly registry: Registry;
  /** Per-request counts (requests, latency, served, pages), exported at scrape time. */
  readonly tally = new RequestTally();
  readonly ensures: Counter<'outcome'>;
  readonly mirrorWrites: Counter<'outcome'>;
  readonly urlCache: Counter<'outcome'>;
  readonly predbatWrites: Counter<'outcome'>;
  #client: StatsSource | null = null;
  #pageCache: PageCacheSource | null = null;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const tally = this.tally;
    const fromTally = <L extends string>(
      name: string,
      help: string,
      label: L,
      read: (t: RequestTally) => Map<string, number>,
    ) =>
      new Counter<L>({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          this.reset();
          for (const [value, n] of read(tally)) this.inc({ [label]: value } as Partial<Record<L, string>>, n);
        },
      });
    new Counter({
      name: 'ratebus_gateway_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['route', 'status'],
      registers,
      collect() {
        this.reset();
        for (const [route, t] of tally.routes) {
          for (const [status, n] of t.byStatus) this.inc({ route, status: String(status) }, n);
        }
      },
    });
    this.registry.registerMetric(
      new TallyHistogram(
        tally,
        'ratebus_gateway_request_duration_seconds',
        'Time to answer an HTTP request, by route.',
      ) as unknown as Histogram,
    );
    fromTally(
      'ratebus_gateway_served_total',
      'Rates responses served from the local copy, by freshness of that copy.',
      'freshness',
      (t) => t.servedBy,
    );
    fromTally(
      'ratebus_gateway_rates_pages_total',
      'Rates answers by how they were made: hit (bytes reused), miss (computed from the document), not-modified (304 to If-None-Match).',
      'outcome',
      (t) => t.pagesBy,
    );
    const byOutcome = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ['outcome'], registers });
    this.ensures = byOutcome(
      'ratebus_gateway_ensure_total',
      'Requests for tariffs not held yet, by outcome (arrived, not-found, no-fetcher, timeout, error).',
    );
    this.mirrorWrites = byOutcome('ratebus_gateway_mirror_writes_total', 'File mirror writes, by outcome.');
    this.urlCache = byOutcome(
      'ratebus_gateway_url_cache_total',
      'Public GETs answered through the shared URL cache, by outcome.',
    );
    this.predbatWrites = byOutcome(
      'ratebus_gateway_predbat_entries_total',
      'PredBat cache entries considered by the storage feed, by outcome (written, unchanged, kept-newer, unreadable, error).',
    );
    const cacheOf = () => this.#pageCache;
    const pageCache = (name: string, help: string, read: (s: PageCacheStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const c = cacheOf();
          if (c) this.set(read(c.stats()));
        },
      });
    pageCache(
      'ratebus_gateway_page_cache_entries',
      'Rates answers held ready in the page cache.',
      (s) => s.entries,
    );
    pageCache(
      'ratebus_gateway_page_cache_bytes',
      'Bytes of the bodies held in the page cache.',
      (s) => s.bytes,
    );
    registerBuildInfo('gateway', registers);
    this.clientMetrics(registers);
  }

  /** The page cache whose size the `ratebus_gateway_page_cache_*` gauges report. */
  observePageCache(cache: PageCacheSource): void {
    this.#pageCache = cache;
  }

  /** The rate client whose `stats()` the `ratebus_client_*` metrics and `ratebus_nats_connected` export. */
  observeClient(client: StatsSource): void {
    this.#client = client;
  }

  /**
   * The embedded client's counters, read from `stats()` at scrape time. A counter is set to the client's
   * running total (reset, then incremented by it): the client counts, the registry only reports.
   */
  private clientMetrics(registers: Registry[]): void {
    const stats = () => this.#client?.stats() ?? null;
    const total = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      read: (s: ClientStats) => readonly [Partial<Record<L, string>>, number][],
    ) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          const s = stats();
          if (!s) return;
          this.reset();
          for (const [labels, v] of read(s)) this.inc(labels, v);
        },
      });
    const gauge = (name: string, help: string, read: (s: ClientStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const s = stats();
          if (s) this.set(read(s));
        },
      });
    gauge('ratebus_nats_connected', '1 while the NATS connection is up, else 0.', (s) =>
      s.connected ? 1 : 0,
    );
    gauge('ratebus_client_held_tariffs', 'Tariff documents held in the local copy.', (s) => s.held);
    gauge(
      'ratebus_client_oldest_confirmation_age_seconds',
      'Oldest confirmation age among the held documents, seconds.',
      (s) => s.maxAgeMs / 1000,
    );
    total(
      'ratebus_client_rejected_messages_total',
      'Messages refused by validation and never applied, by reason.',
      ['reason'],
      (s) => Object.entries(s.rejected).map(([reason, n]) => [{ reason }, n]),
    );
    total(
      'ratebus_client_rebased_total',
      'Keys whose entry was re-taken from the stream leader.',
      [],
      (s) => [[{}, s.rebased]],
    );
    total(
      'ratebus_client_sequence_rollbacks_total',
      "Resync checks that found a bucket's last sequence below what was applied (0 on a healthy server).",
      [],
      (s) => [[{}, s.sequenceRollbacks]],
    );
    total('ratebus_client_resyncs_total', 'Watch resyncs, by kind.', ['kind'], (s) =>
      Object.entries(s.resyncs).map(([kind, n]) => [{ kind }, n]),
    );
    total('ratebus_client_reconnects_total', 'NATS reconnects.', [], (s) => [[{}, s.reconnects]]);
    total('ratebus_client_applied_total', 'New document contents applied.', [], (s) => [[{}, s.applied]]);
    total('ratebus_client_updates_dropped_total', 'Updates dropped from full update buffers.', [], (s) => [
      [{}, s.updatesDropped],
    ]);
    total('ratebus_client_persist_errors_total', 'Failed writes of the persisted copy.', [], (s) => [
      [{}, s.persistErrors],
    ]);
  }
}

/**
 * The request latency histogram, read from a {@link RequestTally} at scrape time instead of observed per
 * call: a collector the registry reads through `get()` like its own metrics (prom-client's `Histogram` has
 * no way to set bucket counts).
 */
class TallyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    private readonly tally: RequestTally,
    readonly name: string,
    readonly help: string,
  ) {}

  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: MetricValueWithName<'route' | 'le'>[];
  }> {
    const values: MetricValueWithName<'route' | 'le'>[] = [];
    const add = (suffix: string, labels: { route: string; le?: number | string }, value: number) =>
      values.push({ labels, value, metricName: `${this.name}${suffix}` });
    for (const [route, t] of this.tally.routes) {
      let acc = 0;
      LATENCY_BUCKETS_S.forEach((le, i) => {
        acc += t.buckets[i] as number;
        add('_bucket', { le, route }, acc);
      });
      add('_bucket', { le: '+Inf', route }, t.count);
      add('_sum', { route }, t.sum);
      add('_count', { route }, t.count);
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The tally is the gateway's; a registry reset does not clear it. */
  reset(): void {}
}
