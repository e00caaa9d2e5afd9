import { setTimeout as delay } from 'node:timers/promises';
import { AbortedError } from './errors.js';

/** Default first retry delay: 500 ms. */
export const DEFAULT_BACKOFF_BASE_MS = 500;
/** Default cap of a retry delay (and of an honoured Retry-After): 30 s. */
export const DEFAULT_BACKOFF_MAX_MS = 30_000;

export interface BackoffOptions {
  /** Delay scale of the first retry, ms. Default 500. */
  baseMs?: number;
  /** Cap of any single delay, ms. Default 30000. */
  maxMs?: number;
}

/**
 * Delay before retry number `retry` (1 = first retry): capped exponential `base × 2^(retry-1)` with "equal
 * jitter" — uniformly in [half, full] of that step — so that many clients failing together spread out but
 * none retries immediately.
 */
export function backoffDelay(retry: number, opts: BackoffOptions = {}, random: () => number = Math.random) {
  const base = opts.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const max = opts.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  const step = Math.min(max, base * 2 ** Math.max(0, retry - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * Parses an HTTP `Retry-After` value: delta-seconds or an HTTP date. Returns ms to wait (≥ 0), or
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()) {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const text = v.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Waits `ms`, or rejects with {@link AbortedError} as soon as `signal` fires. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new AbortedError(undefined, { cause: signal.reason });
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (e) {
    if (signal?.aborted) throw new AbortedError(undefined, { cause: signal.reason });
    throw e;
  }
}
