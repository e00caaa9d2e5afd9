import { type TariffRef, tariffRef } from '@ratebus/schema';
import { NotLeaderError } from '../errors.js';
import { realClock } from './clock.js';
import { type FetchReason, Publisher } from './publisher.js';
import { RefreshResponder } from './refresh.js';
import { Scheduler } from './scheduler.js';
import { Tracking } from './tracking.js';
import type { Fence, TermDeps, TermMetrics } from './types.js';
import type { UpstreamRequestCounter } from './upstream-counter.js';
import { UrlCacheResponder } from './url-cache.js';

/** Default relist cadence of the interest bucket: 1 minute (TTL expiry sends no event on nats-server 2.9). */
export const DEFAULT_RELIST_INTERVAL_MS = 60_000;
/** Default number of tariff fetches the schedule starts at once: 4 (the upstream budget bounds requests). */
export const DEFAULT_MAX_CONCURRENT_FETCHES = 4;
/** Default bound of one whole tariff fetch (all pages and retries): 2 minutes. */
export const DEFAULT_FETCH_TIMEOUT_MS = 120_000;
/** Default bound of one canary request: 30 seconds. */
export const DEFAULT_CANARY_TIMEOUT_MS = 30_000;
/** Default: a `force` refresh within 1 minute of the last check is answered from the held document. */
export const DEFAULT_MIN_FORCE_INTERVAL_MS = 60_000;

/** Tuning of the worker beyond the shared config file; every field optional. */
export interface TermWorkOptions {
  /** Relist cadence of `ratebus-interest`, real ms. Default 60000. */
  relistIntervalMs?: number;
  /** Tariff fetches the schedule runs at once. Default 4. */
  maxConcurrentFetches?: number;
  /** Bound of one tariff fetch incl. pages and retries, real ms. Default 120000. */
  fetchTimeoutMs?: number;
  /** Bound of one canary request, real ms. Default 30000. */
  canaryTimeoutMs?: number;
  /** A forced refresh within this long of the last check gets the held document, clock ms. Default 60000. */
  minForceIntervalMs?: number;
  /** Counter wired into the octopus client's `hooks`, so each term logs its upstream request count. */
  upstreamRequests?: UpstreamRequestCounter;
  /** Random source for jitter, [0, 1). Default Math.random. */
  random?: () => number;
}

/** What the current (or last) term did. */
export interface WorkerStats {
  term: number;
  /** Tariff fetch runs started, by reason. */
  fetches: Record<FetchReason, number>;
  /** Canary requests sent. */
  canaries: number;
  /** Upstream GETs of the URL cache. */
  urlFetches: number;
  /** Interest entries ignored as invalid. */
  invalidInterest: number;
  /** Interest entries and refresh requests refused by the tracked-tariff cap. */
  refusedTariffs: number;
  /** Upstream HTTP requests counted by `upstreamRequests` since the worker was created (when wired). */
  upstreamRequests: number | null;
}

const aborted = (signal: AbortSignal): Promise<void> =>
  signal.aborted
    ? Promise.resolve()
    : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

/**
 * Everything the elected fetcher does for one term: tracks config ∪ interest, schedules fetches, publishes
 * to KV and subjects, answers refresh and URL-cache requests. `lead()` resolves after the term's work has
 * stopped; it never rejects.
 */
export class TermWork {
  readonly #deps: TermDeps;
  readonly #opts: TermWorkOptions;
  #current: Promise<void> = Promise.resolve();
  #stats: () => WorkerStats;
  /** The fence of the term being worked, null between terms. */
  #fence: Fence | null = null;

  constructor(deps: TermDeps, opts: TermWorkOptions = {}) {
    this.#deps = deps;
    this.#opts = opts;
    this.#stats = () => ({
      term: 0,
      fetches: { routine: 0, publication: 0, refresh: 0, interest: 0 },
      canaries: 0,
      urlFetches: 0,
      invalidInterest: 0,
      refusedTariffs: 0,
      upstreamRequests: opts.upstreamRequests?.total ?? null,
    });
  }

  /** Counters of the current or last term. */
  get stats(): WorkerStats {
    return this.#stats();
  }

  /**
   * Throws NotLeaderError unless a term is being worked and its fence still holds (checked synchronously,
   * on the monotonic deadline). Given to the upstream client as `beforeEachRequest`.
   */
  assertLeading(): void {
    if (!this.#fence) throw new NotLeaderError(0, 'not-elected');
    this.#fence.assertLeading();
  }

  /** Does the leader's work until `fence.signal` aborts, then stops and waits for in-flight work. */
  lead(fence: Fence): Promise<void> {
    // Terms never overlap inside one process: a new term starts after the last one has stopped.
    const run = this.#current.then(() => this.#lead(fence));
    this.#current = run;
    return run;
  }

  async #lead(outer: Fence): Promise<void> {
    const { logger: baseLogger, config, clock = realClock, buckets, nc, octopus } = this.#deps;
    const metrics: TermMetrics = this.#deps.metrics ?? {};
    const o = this.#opts;
    const logger = baseLogger.child({ term: outer.term });
    if (outer.signal.aborted) return;
    // Stops the term on a stale term found by CAS, even before the election notices.
    const local = new AbortController();
    const signal = AbortSignal.any([outer.signal, local.signal]);
    const fence: Fence = {
      term: outer.term,
      signal,
      assertLeading: () => {
        if (local.signal.aborted) throw new NotLeaderError(outer.term, 'lease-lost');
        outer.assertLeading();
      },
    };
    this.#fence = fence;
    const onDeposed = (error: unknown) => {
      if (local.signal.aborted || outer.signal.aborted) return;
      logger.warn({ err: error }, 'deposed: stopping the term');
      local.abort(error);
    };
    try {
      const publisher = new Publisher({
        nc,
        buckets,
        octopus,
        clock,
        logger,
        metrics,
        fence,
        windowDays: config.schedule.windowDays,
        notFoundTtlMs: config.notFoundTtlMs,
        fetchTimeoutMs: o.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
      });
      let scheduler: Scheduler | null = null;
      const configured: TariffRef[] = [];
      for (const t of config.tariffs) {
        try {
          configured.push(tariffRef(t.product, t.tariff));
        } catch (err) {
          logger.error(
            { err, product: t.product, tariff: t.tariff },
            'ignoring an invalid configured tariff',
          );
        }
      }
      const tracking = new Tracking({
        configured,
        interest: buckets.interest,
        clock,
        logger,
        metrics,
        requestedTtlMs: config.interest.ttlMs,
        relistIntervalMs: o.relistIntervalMs ?? DEFAULT_RELIST_INTERVAL_MS,
        maxTracked: config.limits.maxTrackedTariffs,
        onChange: () => scheduler?.wake(),
      });
      scheduler = new Scheduler({
        publisher,
        tracking,
        octopus,
        fence,
        clock,
        logger,
        metrics,
        cadenceMs: config.schedule.cadenceMs,
        jitterMs: config.schedule.jitterMs,
        canaryIntervalMs: config.schedule.canaryIntervalMs,
        canaryDenseIntervalMs: config.schedule.canaryDenseIntervalMs,
        canaryDenseForMs: config.schedule.canaryDenseForMs,
        maxBackoffMs: config.schedule.maxBackoffMs,
        maxConcurrentFetches: o.maxConcurrentFetches ?? DEFAULT_MAX_CONCURRENT_FETCHES,
        canaryTimeoutMs: o.canaryTimeoutMs ?? DEFAULT_CANARY_TIMEOUT_MS,
        random: o.random ?? Math.random,
        onDeposed,
      });
      const refresh = new RefreshResponder({
        nc,
        term: outer.term,
        publisher,
        scheduler,
        tracking,
        clock,
        logger,
        metrics,
        minForceIntervalMs: o.minForceIntervalMs ?? DEFAULT_MIN_FORCE_INTERVAL_MS,
        tariffIntervalMs: config.limits.refreshTariffIntervalMs,
        upstreamPerMinute: config.limits.refreshUpstreamPerMinute,
      });
      const urls = new UrlCacheResponder({
        nc,
        term: outer.term,
        urls: buckets.urls,
        octopus,
        fence,
        clock,
        logger,
        metrics,
        fetchTimeoutMs: o.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
        missesPerMinute: config.limits.urlMissesPerMinute,
        maxValueBytes: config.limits.urlMaxValueBytes,
      });
      const sched = scheduler;
      this.#stats = () => ({
        term: outer.term,
        fetches: { ...sched.counts.fetches },
        canaries: sched.counts.canaries,
        urlFetches: urls.fetches,
        invalidInterest: tracking.invalidInterest,
        refusedTariffs: tracking.refused,
        upstreamRequests: o.upstreamRequests?.total ?? null,
      });

      try {
        const n = await publisher.loadAll();
        logger.info({ held: n }, 'leading: loaded the held documents');
      } catch (err) {
        logger.warn({ err }, 'could not load the held documents; starting without them');
      }
      if (signal.aborted) return;
      for (const r of [refresh, urls]) {
        try {
          r.start();
        } catch (err) {
          logger.error({ err }, 'could not subscribe a responder');
        }
      }
      const loops = Promise.all([tracking.run(signal), scheduler.run(signal)]);
      await aborted(signal);
      await Promise.allSettled([refresh.stop(), urls.stop()]);
      await loops;
      await publisher.idle();
      const s = this.stats;
      logger.info(
        {
          fetches: s.fetches,
          canaries: s.canaries,
          urlFetches: s.urlFetches,
          upstreamRequests: s.upstreamRequests,
        },
        'term work stopped',
      );
    } catch (err) {
      logger.error({ err }, 'leader work failed; waiting for the term to end');
      await aborted(signal);
    } finally {
      if (this.#fence === fence) this.#fence = null;
    }
  }
}
