/** How recently the fetcher confirmed a document against upstream. */
export type Freshness = 'fresh' | 'stale' | 'expired';

export interface FreshnessThresholds {
  /** Confirmed less than this long ago → `fresh`, ms. */
  readonly freshForMs: number;
  /** Confirmed less than this long ago (and not fresh) → `stale`; beyond → `expired`, ms. */
  readonly staleForMs: number;
}

/**
 * Age and tier of a confirmation. The age is measured from the fetcher's confirmation time, never from
 * when this pod received the document; a confirmation "in the future" (clock skew) counts as age 0.
 */
export function freshnessOf(
  confirmedAtMs: number,
  nowMs: number,
  t: FreshnessThresholds,
): { freshness: Freshness; ageMs: number } {
  const ageMs = Math.max(0, nowMs - confirmedAtMs);
  const freshness: Freshness = ageMs < t.freshForMs ? 'fresh' : ageMs < t.staleForMs ? 'stale' : 'expired';
  return { freshness, ageMs };
}

/**
 * How much later than the server stored it (on this pod's clock) a confirmation may claim to be before the
 * server's timestamp is taken instead, ms: clocks in sync, network transit and the rounding of timestamps
 * stay within it.
 */
export const CLOCK_SLACK_MS = 1_000;

/**
 * A lower bound of the NATS server's clock, learnt from the server timestamps of stored entries (KV
 * `created`): the largest `created − monotonic time at receipt` seen, carried forward on this process's
 * monotonic clock.
 */
export class ServerClock {
  private offset: number | null = null;

  observe(created: Date): void {
    const t = created.getTime();
    if (!Number.isFinite(t)) return;
    const o = t - performance.now();
    if (this.offset === null || o > this.offset) this.offset = o;
  }

  /** The server's time now (at least), ms; undefined before any entry was seen. */
  now(): number | undefined {
    return this.offset === null ? undefined : performance.now() + this.offset;
  }

  /**
   * When the server stored an entry (timestamp `created`), on this pod's clock: `podNowMs` minus how long
   * ago the server stored it by the server's clock. Taken at receipt, so neither the writer's clock nor this
   * pod's offset to the server enters it. Undefined for an unusable timestamp.
   */
  storedAt(created: Date, podNowMs: number): number | undefined {
    this.observe(created);
    const serverNow = this.now();
    const t = created.getTime();
    if (serverNow === undefined || !Number.isFinite(t)) return undefined;
    return Math.floor(podNowMs - Math.max(0, serverNow - t));
  }
}

/**
 * The confirmation time a pod counts from: the writer's `confirmedAtMs`, but no later than the server stored
 * the confirming entry as seen on this pod's clock (`storedAtMs`, see {@link ServerClock.storedAt}) plus
 * {@link CLOCK_SLACK_MS}. A writer whose clock runs ahead cannot keep data fresh after it stopped, and a pod
 * whose clock is behind the server's ages data from when it arrived; writers and pods that share one clock,
 * even a simulated one, are unaffected.
 */
export function boundedConfirmation(confirmedAtMs: number, storedAtMs: number | undefined): number {
  return storedAtMs === undefined ? confirmedAtMs : Math.min(confirmedAtMs, storedAtMs + CLOCK_SLACK_MS);
}
