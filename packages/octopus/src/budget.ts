import { AsyncLocalStorage } from 'node:async_hooks';
import { AbortedError } from './errors.js';

/** Default refill period of a budget: one minute. */
export const DEFAULT_BUDGET_PERIOD_MS = 60_000;

export interface RequestBudgetOptions {
  /** Requests allowed in any window of `perMs`. */
  requests: number;
  /** Length of the window, ms. Default 60000 (so `requests` is per minute). */
  perMs?: number;
  /** Of `requests`, how many only `high` priority may take (0 … requests − 1). Default 0. */
  reserved?: number;
}

/**
 * Who a request is for: `high` (work the operator configured or pods have long relied on) is served before
 * any `low` waiter and may use the reserved tokens; `low` (new, pod-driven work) never takes the last
 * `reserved` tokens of a window.
 */
export type BudgetPriority = 'high' | 'low';

const priorityContext = new AsyncLocalStorage<BudgetPriority>();

/**
 * Runs `fn` with every budget acquisition made inside it (however deep, across awaits) at `priority`, unless
 * a call passes its own. Lets a caller mark whole upstream jobs without threading a flag through each call.
 */
export function withBudgetPriority<T>(priority: BudgetPriority, fn: () => T): T {
  return priorityContext.run(priority, fn);
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
 * Callers wait in FIFO order within a priority, `high` before `low`; `low` callers leave the last `reserved`
 * tokens of a window to `high` ones. A waiter whose signal fires leaves the queue with {@link AbortedError}.
 */
export class RequestBudget {
  readonly requests: number;
  readonly perMs: number;
  readonly reserved: number;
  /** Times (monotonic ms) at which the last `requests` tokens were spent, oldest first. */
  readonly #spent: number[] = [];
  readonly #queues: Record<BudgetPriority, Waiter[]> = { high: [], low: [] };
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
    const reserved = opts.reserved ?? 0;
    if (!Number.isInteger(reserved) || reserved < 0 || reserved >= opts.requests) {
      throw new RangeError(`budget reserved must be an integer in 0..${opts.requests - 1}, got ${reserved}`);
    }
    this.reserved = reserved;
    this.requests = opts.requests;
    this.perMs = perMs;
    this.#now = now;
  }

  /** Callers currently waiting for a token. */
  get waiting(): number {
    return this.#queues.high.length + this.#queues.low.length;
  }

  /** Tokens a `high` caller could take right now without waiting. */
  get available(): number {
    this.#expire(this.#now());
    return this.#queues.high.length > 0 ? 0 : this.requests - this.#spent.length;
  }

  /**
   * Takes one token, waiting until one is free for `priority` (default: the one set by
   * {@link withBudgetPriority}, else `high`). Rejects with {@link AbortedError} on `signal`.
   */
  acquire(
    signal?: AbortSignal,
    priority: BudgetPriority = priorityContext.getStore() ?? 'high',
  ): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError(undefined, { cause: signal.reason }));
    const queue = this.#queues[priority];
    const ahead = priority === 'high' ? queue.length : queue.length + this.#queues.high.length;
    if (ahead === 0 && this.#take(priority)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
          reject(new AbortedError(undefined, { cause: signal.reason }));
          this.#schedule();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      queue.push(waiter);
      this.#schedule();
    });
  }

  /**
   * Takes one token now if `priority` may have one without waiting (nobody of that priority or higher is
   * queued); never waits. For callers that would rather refuse work than queue it.
   */
  tryAcquire(priority: BudgetPriority = priorityContext.getStore() ?? 'high'): boolean {
    const ahead = this.#queues.high.length + (priority === 'low' ? this.#queues.low.length : 0);
    return ahead === 0 && this.#take(priority);
  }

  #expire(now: number): void {
    while (this.#spent.length > 0 && now - (this.#spent[0] as number) >= this.perMs) this.#spent.shift();
  }

  #take(priority: BudgetPriority): boolean {
    const now = this.#now();
    this.#expire(now);
    const limit = priority === 'high' ? this.requests : this.requests - this.reserved;
    if (this.#spent.length >= limit) return false;
    this.#spent.push(now);
    return true;
  }

  #drain(): void {
    this.#timer = undefined;
    for (const priority of ['high', 'low'] as const) {
      const queue = this.#queues[priority];
      while (queue.length > 0 && this.#take(priority)) {
        const w = queue.shift() as Waiter;
        if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
        w.resolve();
      }
      // A high waiter still waiting: no low one may go before it.
      if (queue.length > 0) break;
    }
    this.#schedule();
  }

  /** One timer at most, and only while someone waits: fires when the oldest spent token comes back. */
  #schedule(): void {
    if (this.waiting === 0) {
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
