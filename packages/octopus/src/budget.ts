import { AbortedError } from './errors.js';

/** Default refill period of a budget: one minute. */
export const DEFAULT_BUDGET_PERIOD_MS = 60_000;

export interface RequestBudgetOptions {
  /** Requests allowed in any window of `perMs`. */
  requests: number;
  /** Length of the window, ms. Default 60000 (so `requests` is per minute). */
  perMs?: number;
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * A process-wide request budget shared by every caller: at most `requests` acquisitions in ANY window of
 * `perMs` (a token bucket whose tokens come back exactly one period after they were spent, so there is no
 * burst beyond the limit at a window edge). Every upstream attempt, retries included, takes one token.
 * Callers wait in FIFO order; a waiter whose signal fires leaves the queue with {@link AbortedError}.
 */
export class RequestBudget {
  readonly requests: number;
  readonly perMs: number;
  /** Times (monotonic ms) at which the last `requests` tokens were spent, oldest first. */
  readonly #spent: number[] = [];
  readonly #queue: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #now: () => number;

  /** `new RequestBudget(60)` = 60 per minute; `new RequestBudget({ requests: 10, perMs: 2000 })`. */
  constructor(limit: number | RequestBudgetOptions, now: () => number = () => performance.now()) {
    const opts = typeof limit === 'number' ? { requests: limit } : limit;
    const perMs = opts.perMs ?? DEFAULT_BUDGET_PERIOD_MS;
    if (!Number.isInteger(opts.requests) || opts.requests < 1) {
      throw new RangeError(`budget requests must be a positive integer, got ${opts.requests}`);
    }
    if (!Number.isFinite(perMs) || perMs <= 0) throw new RangeError(`budget perMs must be > 0, got ${perMs}`);
    this.requests = opts.requests;
    this.perMs = perMs;
    this.#now = now;
  }

  /** Callers currently waiting for a token. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Tokens that could be taken right now without waiting. */
  get available(): number {
    this.#expire(this.#now());
    return this.#queue.length > 0 ? 0 : this.requests - this.#spent.length;
  }

  /** Takes one token, waiting (FIFO) until one is free. Rejects with {@link AbortedError} on `signal`. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError(undefined, { cause: signal.reason }));
    if (this.#queue.length === 0 && this.#take()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(new AbortedError(undefined, { cause: signal.reason }));
          this.#schedule();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
      this.#schedule();
    });
  }

  #expire(now: number): void {
    while (this.#spent.length > 0 && now - (this.#spent[0] as number) >= this.perMs) this.#spent.shift();
  }

  #take(): boolean {
    const now = this.#now();
    this.#expire(now);
    if (this.#spent.length >= this.requests) return false;
    this.#spent.push(now);
    return true;
  }

  #drain(): void {
    this.#timer = undefined;
    while (this.#queue.length > 0 && this.#take()) {
      const w = this.#queue.shift() as Waiter;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
    this.#schedule();
  }

  /** One timer at most, and only while someone waits: fires when the oldest spent token comes back. */
  #schedule(): void {
    if (this.#queue.length === 0) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#timer) return;
    const oldest = this.#spent[0];
    const delay = oldest === undefined ? 0 : Math.max(0, oldest + this.perMs - this.#now());
    // +1 ms: timers may fire a fraction early relative to performance.now().
    this.#timer = setTimeout(() => this.#drain(), Math.ceil(delay) + 1);
  }
}
