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
 * How long an observation of the server's clock counts, ms: the estimate is the largest offset seen in the
 * current window and the one before, so a stream leader whose clock ran ahead stops shifting this pod's ages
 * once other servers have stored entries for up to two windows.
 */
export const SERVER_CLOCK_WINDOW_MS = 15 * 60_000;

/**
 * A lower bound of the NATS server's clock, learnt from the server timestamps of stored entries (KV
 * `created`): the largest `created − monotonic time at receipt` seen recently (this window and the last,
 * see {@link SERVER_CLOCK_WINDOW_MS}), carried forward on this process's monotonic clock. Without entries the
 * last estimate stands.
 */
export class ServerClock {
  private current: number | null = null;
  private previous: number | null = null;
  private windowStart: number;

  /** `monotonic`: this process's monotonic clock, ms (tests pass their own). */
  constructor(private readonly monotonic: () => number = () => performance.now()) {
    this.windowStart = monotonic();
  }

  observe(created: Date): void {
    const t = created.getTime();
    if (!Number.isFinite(t)) return;
    const at = this.monotonic();
    this.rotate(at);
    const o = t - at;
    if (this.current === null || o > this.current) this.current = o;
  }

  /** Starts a new window when the current one is over; the last estimate survives windows without entries. */
  private rotate(at: number): void {
    const spans = Math.floor((at - this.windowStart) / SERVER_CLOCK_WINDOW_MS);
    if (spans < 1) return;
    this.previous = this.current ?? this.previous;
    this.current = null;
    this.windowStart += spans * SERVER_CLOCK_WINDOW_MS;
  }

  private offset(): number | null {
    if (this.current === null) return this.previous;
    return this.previous === null ? this.current : Math.max(this.current, this.previous);
  }

  /** The server's time now (at least), ms; undefined before any entry was seen. */
  now(): number | undefined {
    const at = this.monotonic();
    this.rotate(at);
    const offset = this.offset();
    return offset === null ? undefined : at + offset;
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
