import type { Freshness } from './source.js';

/** How a rates answer was made. */
export type PageOutcome = 'hit' | 'miss' | 'not-modified';

/** Upper bounds of the request latency histogram, s. */
export const LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Requests of one route: by status, and the latency histogram (non-cumulative counts, last = above all). */
export interface RouteTally {
  readonly byStatus: Map<number, number>;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * Per-request counts kept as plain numbers, read by the Prometheus registry only when scraped: a labelled
 * prom-client `inc`/`observe` hashes its labels on every call, which on the hot path cost more than serving
 * a cached page.
 */
export class RequestTally {
  readonly routes = new Map<string, RouteTally>();
  /** Rates answers by the freshness of the copy served. */
  readonly servedBy = new Map<Freshness, number>();
  /** Rates answers by how they were made. */
  readonly pagesBy = new Map<PageOutcome, number>();

  /** One answered request. */
  request(route: string, status: number, seconds: number): void {
    let t = this.routes.get(route);
    if (t === undefined) {
      t = { byStatus: new Map(), buckets: new Float64Array(LATENCY_BUCKETS_S.length + 1), sum: 0, count: 0 };
      this.routes.set(route, t);
    }
    t.byStatus.set(status, (t.byStatus.get(status) ?? 0) + 1);
    let b = 0;
    while (b < LATENCY_BUCKETS_S.length && seconds > (LATENCY_BUCKETS_S[b] as number)) b++;
    (t.buckets as Float64Array)[b] = ((t.buckets as Float64Array)[b] as number) + 1;
    t.sum += seconds;
    t.count += 1;
  }

  /** One rates answer served from a copy of this freshness. */
  served(freshness: Freshness): void {
    this.servedBy.set(freshness, (this.servedBy.get(freshness) ?? 0) + 1);
  }

  /** One rates answer: bytes reused (hit), computed (miss), or a 304. */
  page(outcome: PageOutcome): void {
    this.pagesBy.set(outcome, (this.pagesBy.get(outcome) ?? 0) + 1);
  }
}
