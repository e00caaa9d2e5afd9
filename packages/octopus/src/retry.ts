import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF_MAX_MS, sleep } from './backoff.js';
import type { RequestBudget } from './budget.js';
import {
  AbortedError,
  InvalidResponseError,
  type OctopusError,
  UpstreamHttpError,
  UpstreamNetworkError,
  UpstreamThrottledError,
  UpstreamTimeoutError,
} from './errors.js';
import type { Log } from './log.js';

export interface RetryPolicy {
  maxAttempts: number;
  backoff: BackoffOptions;
  budget: RequestBudget;
  log: Log;
  random?: () => number;
}

/** Whether another attempt may give a different answer: transient network, timeout, 5xx, 429, bad body. */
export function isRetryable(e: unknown): e is OctopusError {
  return (
    e instanceof UpstreamTimeoutError ||
    e instanceof UpstreamNetworkError ||
    e instanceof InvalidResponseError ||
    e instanceof UpstreamThrottledError ||
    (e instanceof UpstreamHttpError && e.status >= 500)
  );
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or `maxAttempts` is reached. Every
 * attempt first takes a token from the shared budget. Waits a capped jittered backoff between attempts, or
 * exactly `Retry-After` after a 429 — and gives up at once (throttled) if upstream asks for longer than the
 * backoff cap. The signal stops both the budget wait and the backoff wait.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  what: string,
  signal: AbortSignal | undefined,
  attempt: (n: number) => Promise<T>,
): Promise<T> {
  const maxWait = policy.backoff.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  for (let n = 1; ; n++) {
    await policy.budget.acquire(signal);
    try {
      return await attempt(n);
    } catch (e) {
      if (e instanceof AbortedError || signal?.aborted) {
        throw e instanceof AbortedError ? e : new AbortedError(undefined, { cause: signal?.reason });
      }
      if (!isRetryable(e) || n >= policy.maxAttempts) throw e;
      let wait = backoffDelay(n, policy.backoff, policy.random);
      if (e instanceof UpstreamThrottledError && e.retryAfterMs !== undefined) {
        if (e.retryAfterMs > maxWait) throw e;
        wait = e.retryAfterMs;
      }
      policy.log.warn({ what, attempt: n, code: e.code, status: e.status, waitMs: wait }, 'upstream retry');
      await sleep(wait, signal);
    }
  }
}
