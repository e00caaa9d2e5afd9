import { setTimeout as sleep } from 'node:timers/promises';
import { CheckTimeoutError } from './errors.js';

export interface CheckOptions {
  /** Deadline, ms. Default 10000. */
  timeout?: number;
  /** Poll interval, ms. Default 50. */
  interval?: number;
  /** What is awaited, for the timeout message. */
  name?: string;
}

/**
 * Polls `fn` until it returns a truthy value (or a promise of one) and returns that value. Errors thrown by
 * `fn` count as "not yet". Rejects with {@link CheckTimeoutError} at the deadline, the last error as cause.
 */
export async function check<T>(fn: () => T | Promise<T>, opts: CheckOptions = {}): Promise<NonNullable<T>> {
  const timeout = opts.timeout ?? 10_000;
  const interval = opts.interval ?? 50;
  const deadline = performance.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (performance.now() >= deadline) {
      throw new CheckTimeoutError(opts.name ?? 'condition', timeout, { cause: lastError });
    }
    await sleep(interval);
  }
}
