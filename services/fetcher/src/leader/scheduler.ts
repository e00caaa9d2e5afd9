import { type BudgetPriority, type OctopusClient, withBudgetPriority } from '@ratebus/octopus';
import { rateKey, type TariffRef } from '@ratebus/schema';
import type { Logger } from 'pino';
import { pause } from './kv-watch.js';
import { errorCode, type FetchOutcome, type FetchReason, type Publisher } from './publisher.js';
import {
  failureDelayMs,
  nearMark,
  nextRoutine,
  offMarks,
  type PublicationWindow,
  publicationKind,
  publicationWindow,
} from './schedule-rules.js';
import type { Tracking, TrackSource } from './tracking.js';
import type { Clock, Fence, TermMetrics } from './types.js';

/** Longest single sleep of the loop, clock ms: publication windows open by the clock, not by events. */
const MAX_SLEEP_MS = 60_000;
/**
 * Real time the loop lets wake-ups gather before it runs again, ms: a burst of interest entries (one wake
 * each) costs one pass over the tracked set instead of one per entry.
 */
const WAKE_SETTLE_MS = 20;

export interface SchedulerOptions {
  publisher: Publisher;
  tracking: Tracking;
  octopus: OctopusClient;
  /** Checked before every canary: a stale term never reaches upstream. */
  fence: Fence;
  clock: Clock;
  logger: Logger;
  metrics: TermMetrics;
  cadenceMs: number;
  jitterMs: number;
  canaryIntervalMs: number;
  /** Canary cadence in the first `canaryDenseForMs` of a window (when publications usually come). */
  canaryDenseIntervalMs: number;
  canaryDenseForMs: number;
  maxBackoffMs: number;
  /** Upstream runs started by the loop at once (the octopus budget bounds requests anyway). */
  maxConcurrentFetches: number;
  /** Bound of one canary request, real ms. */
  canaryTimeoutMs: number;
  random: () => number;
  /** Called when a run reveals that this term is over (stale term, not leader). */
  onDeposed: (error: unknown) => void;
}

/** What the schedule asked of upstream this term: the numbers it logs. */
export interface ScheduleCounts {
  /** Upstream `fetchTariff` runs started, by reason (joined runs are not counted twice). */
  fetches: Record<FetchReason, number>;
  /** Canary `latestSlotEnd` calls. */
  canaries: number;
}

interface TariffState {
  ref: TariffRef;
  nextAt: number;
  reason: FetchReason;
  failures: number;
  sources: readonly TrackSource[];
}

/**
 * Who goes first when not everything fits: 0 configured, 1 held (a document is kept for it: pods have relied
 * on it for at least one successful fetch), 2 new (interest or a refresh for a tariff never fetched).
 */
type Rank = 0 | 1 | 2;

interface ProductState {
  /** UK date whose publication was seen (or fetched): no more canaries that day. */
  doneDay: string | null;
  nextCanaryAt: number;
  canaryInFlight: boolean;
}

function firstReason(sources: readonly TrackSource[]): FetchReason {
  if (sources.includes('config')) return 'routine';
  if (sources.includes('interest')) return 'interest';
  return 'refresh';
}

/**
 * The publication-aware schedule of one term: a routine check per tracked tariff every cadence − jitter
 * (off :00/:30), canaries during publication windows until the next day appears, and a 1, 2, 3 … minute
 * backoff on failure. Driven by the injected clock; the loop never rejects and never overlaps runs of a tariff.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #tariffs = new Map<string, TariffState>();
  readonly #products = new Map<string, ProductState>();
  readonly #canaryRuns = new Set<Promise<void>>();
  #wake = new AbortController();
  readonly counts: ScheduleCounts = {
    fetches: { routine: 0, publication: 0, refresh: 0, interest: 0 },
    canaries: 0,
  };

  constructor(opts: SchedulerOptions) {
    this.#options = opts;
  }

  /** Interrupts the loop's sleep so it re-reads the tracked set and due times. */
  wake(): void {
    this.#wake.abort();
  }

  #rank(ref: TariffRef, sources?: readonly TrackSource[]): Rank {
    if (sources ? sources.includes('config') : this.#options.tracking.isConfigured(ref)) return 0;
    return this.#options.publisher.held(ref) ? 1 : 2;
  }

  /** Budget priority of a tariff's upstream requests: new tariffs never take the reserved share. */
  #priority(ref: TariffRef): BudgetPriority {
    return this.#rank(ref) < 2 ? 'high' : 'low';
  }

  /** Runs (or joins) a fetch now and updates the tariff's schedule from the outcome. Never rejects. */
  fetch(ref: TariffRef, reason: FetchReason): Promise<FetchOutcome> {
    const { publisher } = this.#options;
    if (publisher.busy(ref)) return publisher.run(ref, reason);
    this.counts.fetches[reason]++;
    const startedAt = this.#options.clock.now();
    return withBudgetPriority(this.#priority(ref), () => publisher.run(ref, reason)).then((outcome) => {
      this.#settle(ref, outcome, startedAt);
      return outcome;
    });
  }

  /** Plans the next run. Routine checks are spaced from the start of the last one, whatever it took. */
  #settle(ref: TariffRef, outcome: FetchOutcome, startedAt: number): void {
    const { clock, cadenceMs, jitterMs, maxBackoffMs, random, publisher } = this.#options;
    const key = rateKey(ref.product, ref.tariff);
    const now = clock.now();
    const st = this.#tariffs.get(key) ?? { ref, nextAt: now, reason: 'routine', failures: 0, sources: [] };
    this.#tariffs.set(key, st);
    st.reason = 'routine';
    if (outcome.kind === 'changed' || outcome.kind === 'unchanged') {
      st.failures = 0;
      st.nextAt = nextRoutine(startedAt, cadenceMs, jitterMs, random);
    } else if (
      outcome.kind === 'failed' &&
      (errorCode(outcome.error) === 'ERR_STALE_TERM' || errorCode(outcome.error) === 'ERR_NOT_LEADER')
    ) {
      this.#options.onDeposed(outcome.error);
    } else {
      st.failures++;
      const notFoundUntil = publisher.notFoundUntil(ref);
      const retryAfter =
        outcome.kind === 'failed' ? (outcome.error as { retryAfterMs?: number }).retryAfterMs : undefined;
      const error = outcome.kind === 'failed' ? outcome.error : undefined;
      const delay = failureDelayMs(error, st.failures, maxBackoffMs, retryAfter);
      st.nextAt = notFoundUntil ?? offMarks(now + delay, false);
    }
    this.wake();
  }

  /** Brings the per-tariff state in line with the tracked set. */
  #sync(now: number): void {
    const seen = new Set<string>();
    for (const t of this.#options.tracking.list()) {
      seen.add(t.key);
      const known = this.#tariffs.get(t.key);
      if (known) known.sources = t.sources;
      else {
        // A tariff with a held document is not new: check it at a random point within the cadence.
        const held = this.#options.publisher.held(t.ref);
        const at = held ? now + Math.floor(this.#options.random() * this.#options.jitterMs) : now;
        this.#tariffs.set(t.key, {
          ref: t.ref,
          nextAt: offMarks(at, false),
          reason: firstReason(t.sources),
          failures: 0,
          sources: t.sources,
        });
      }
    }
    for (const key of [...this.#tariffs.keys()]) if (!seen.has(key)) this.#tariffs.delete(key);
  }

  /** Starts due canaries; returns the earliest next canary time among open windows. */
  #startCanaries(now: number, signal: AbortSignal): number {
    let next = Number.POSITIVE_INFINITY;
    const byProduct = new Map<string, TariffState[]>();
    for (const st of this.#tariffs.values()) {
      const list = byProduct.get(st.ref.product);
      if (list) list.push(st);
      else byProduct.set(st.ref.product, [st]);
    }
    // Windows depend on the kind of product only: computed once per kind, however many products there are.
    const windows = new Map<string, PublicationWindow | null>();
    for (const [product, states] of byProduct) {
      const kind = publicationKind(product);
      if (kind === null) continue;
      let win = windows.get(kind);
      if (win === undefined) {
        win = publicationWindow(product, now);
        windows.set(kind, win);
      }
      if (!win?.open) continue;
      const ps = this.#products.get(product) ?? { doneDay: null, nextCanaryAt: now, canaryInFlight: false };
      this.#products.set(product, ps);
      if (ps.doneDay === win.day || ps.canaryInFlight) continue;
      // The product's least-covered held document decides; tariffs never fetched get their first fetch anyway.
      let least: { st: TariffState; covers: number } | null = null;
      for (const st of states) {
        const c = this.#options.publisher.held(st.ref)?.doc.coversThrough;
        if (c === undefined) continue;
        const covers = c === null ? Number.NEGATIVE_INFINITY : Date.parse(c);
        if (!least || covers < least.covers) least = { st, covers };
      }
      if (!least) continue;
      if (least.covers >= win.target) {
        ps.doneDay = win.day;
        continue;
      }
      if (now < ps.nextCanaryAt || nearMark(now)) {
        ps.nextCanaryAt = offMarks(Math.max(now, ps.nextCanaryAt), false);
        next = Math.min(next, ps.nextCanaryAt);
        continue;
      }
      ps.canaryInFlight = true;
      const p = this.#canary(product, least.st.ref, states, win, ps, signal).finally(() => {
        ps.canaryInFlight = false;
        this.#canaryRuns.delete(p);
        this.wake();
      });
      this.#canaryRuns.add(p);
    }
    return next;
  }

  async #canary(
    product: string,
    ref: TariffRef,
    states: TariffState[],
    win: { day: string; target: number; opensAt: number },
    ps: ProductState,
    signal: AbortSignal,
  ): Promise<void> {
    const { octopus, clock, logger, metrics, canaryTimeoutMs } = this.#options;
    try {
      this.#options.fence.assertLeading();
      this.counts.canaries++;
      const end = await octopus.latestSlotEnd({
        product: ref.product,
        tariff: ref.tariff,
        signal: AbortSignal.any([signal, AbortSignal.timeout(canaryTimeoutMs)]),
      });
      if (end !== null && Date.parse(end) >= win.target) {
        metrics.canary?.(product, 'new-day');
        logger.info({ product, latestSlotEnd: end }, 'publication seen; fetching the product');
        ps.doneDay = win.day;
        const now = clock.now();
        for (const st of states) {
          st.nextAt = now;
          st.reason = 'publication';
        }
        return;
      }
      metrics.canary?.(product, 'not-yet');
    } catch (err) {
      if (signal.aborted) return;
      metrics.canary?.(product, 'failed');
      logger.warn({ product, code: errorCode(err) }, 'canary failed');
    }
    const now = clock.now();
    ps.nextCanaryAt = offMarks(now + this.#canaryInterval(win.opensAt, now), false);
  }

  /** Dense at the start of a window, when the publication usually comes; the normal cadence after. */
  #canaryInterval(opensAt: number, now: number): number {
    const { canaryIntervalMs, canaryDenseIntervalMs, canaryDenseForMs } = this.#options;
    return now - opensAt < canaryDenseForMs
      ? Math.min(canaryDenseIntervalMs, canaryIntervalMs)
      : canaryIntervalMs;
  }

  /** The loop: runs until `signal` aborts, then waits for canaries it started. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger, maxConcurrentFetches, publisher } = this.#options;
    while (!signal.aborted) {
      try {
        const now = clock.now();
        this.#sync(now);
        let next = Math.min(now + MAX_SLEEP_MS, this.#startCanaries(now, signal));
        // Configured first, then held, then new; within a rank the longest overdue first. New tariffs never
        // fill every slot: a flood of interest must not hold back a configured tariff's turn.
        const ranked = [...this.#tariffs.values()].map((st) => ({
          st,
          rank: this.#rank(st.ref, st.sources),
        }));
        const due = ranked
          .filter(({ st }) => !publisher.busy(st.ref))
          .sort((a, b) => a.rank - b.rank || a.st.nextAt - b.st.nextAt);
        const busy = ranked.filter(({ st }) => publisher.busy(st.ref));
        let running = busy.length;
        let runningNew = busy.filter(({ rank }) => rank === 2).length;
        const maxNew = Math.max(1, maxConcurrentFetches - 1);
        for (const { st, rank } of due) {
          if (st.nextAt > now) {
            next = Math.min(next, st.nextAt);
            continue;
          }
          if (running >= maxConcurrentFetches) break;
          if (rank === 2 && runningNew >= maxNew) continue;
          if (nearMark(now)) {
            // Late by a timer or a wake-up: the rule "never on :00/:30" still holds.
            st.nextAt = offMarks(now, false);
            next = Math.min(next, st.nextAt);
            continue;
          }
          running++;
          if (rank === 2) runningNew++;
          void this.fetch(st.ref, st.reason).catch((err: unknown) =>
            logger.error({ err }, 'fetch run failed'),
          );
        }
        const wake = this.#wake;
        if (!wake.signal.aborted)
          await sleepQuietly(clock, Math.max(0, next - clock.now()), AbortSignal.any([signal, wake.signal]));
        if (this.#wake.signal.aborted) {
          await pause(WAKE_SETTLE_MS, signal);
          this.#wake = new AbortController();
        }
      } catch (err) {
        logger.error({ err }, 'schedule loop error');
        await sleepQuietly(clock, 1_000, signal);
      }
    }
    await Promise.allSettled([...this.#canaryRuns]);
  }
}

async function sleepQuietly(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  try {
    await clock.sleep(ms, signal);
  } catch {
    // aborted: the caller re-checks its signals
  }
}
