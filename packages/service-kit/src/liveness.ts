/** Default: an event loop stalled for this long (no timer tick) makes the process not live, ms. */
export const DEFAULT_STALL_MS = 10_000;
/** Default heartbeat cadence, ms. */
export const DEFAULT_HEARTBEAT_MS = 1_000;

export interface LivenessOptions {
  /** A heartbeat later than this, or a tick that arrived this late, fails liveness, ms. Default 10 s. */
  stallMs?: number;
  /** Heartbeat cadence, ms. Default 1 s. */
  intervalMs?: number;
  /** Monotonic clock, ms. Default `performance.now`. */
  now?: () => number;
}

/** What `/livez` reports. */
export interface LivenessReport {
  ok: boolean;
  detail: { eventLoopLagMs: number; sinceHeartbeatMs: number; fatal: string | null };
}

/**
 * Liveness: fails only when the process is wedged — its event loop stalled (a heartbeat timer that does not
 * fire on time) or a fatal state was declared — never because a dependency (NATS, the upstream) is away.
 * A dependency outage is readiness, which a restart would not cure.
 */
export class Liveness {
  readonly #stallMs: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #last: number;
  #lagMs = 0;
  #fatal: string | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: LivenessOptions = {}) {
    this.#stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
    this.#intervalMs = opts.intervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.#now = opts.now ?? (() => performance.now());
    this.#last = this.#now();
  }

  /** Starts the heartbeat (an unref'd timer: it never keeps the process alive). Idempotent. */
  start(): this {
    if (this.#timer) return this;
    this.#last = this.#now();
    this.#timer = setInterval(() => this.beat(), this.#intervalMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One heartbeat: records how late it came. Called by the timer; tests may call it directly. */
  beat(): void {
    const t = this.#now();
    this.#lagMs = Math.max(0, t - this.#last - this.#intervalMs);
    this.#last = t;
  }

  /** Declares the process beyond repair (e.g. a connection that will never come back): liveness fails. */
  fatal(reason: string): void {
    this.#fatal ??= reason;
  }

  check(): LivenessReport {
    const since = Math.max(0, this.#now() - this.#last);
    const ok =
      this.#fatal === null && this.#lagMs < this.#stallMs && since < this.#stallMs + this.#intervalMs;
    return {
      ok,
      detail: {
        eventLoopLagMs: Math.round(this.#lagMs),
        sinceHeartbeatMs: Math.round(since),
        fatal: this.#fatal,
      },
    };
  }
}
