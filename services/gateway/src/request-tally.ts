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
  readonly served = new Map<string, number>();
  readonly pages = new Map<string, number>();

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

  /** Adds one to `label` of a counter map. */
  static bump(m: Map<string, number>, label: string): void {
    m.set(label, (m.get(label) ?? 0) + 1);
  }
}
