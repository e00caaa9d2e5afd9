import type { ClientLogger } from './logger.js';
import { errInfo } from './logger.js';

/** Capped, jittered exponential backoff: `next()` gives the delay before the next attempt. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    // "Equal jitter": at least half the step, so a herd of pods spreads out but never spins.
    return base / 2 + Math.random() * (base / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** `value` ± `fraction` of itself, uniformly. */
export function jittered(value: number, fraction: number): number {
  return value * (1 - fraction + Math.random() * 2 * fraction);
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. Never keeps the process alive. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    timer.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Rejects with `onTimeout()` when `p` takes longer than `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

export interface PeriodicOptions {
  name: string;
  /** Delay between the end of one run and the start of the next, ms (recomputed each time). */
  intervalMs: () => number;
  /** Bound on one run, ms. */
  timeoutMs: number;
  logger: ClientLogger;
}

/**
 * A periodic job that never rejects, never overlaps itself, bounds each run, and stops idempotently.
 * `runNow()` runs it at once (or joins the run in progress).
 */
export class Periodic {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly opts: PeriodicOptions,
    private readonly job: () => Promise<void>,
  ) {}

  start(): void {
    if (!this.stopped) this.schedule();
  }

  runNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running !== null) return this.running;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = withTimeout(
      this.job(),
      this.opts.timeoutMs,
      () => new Error(`${this.opts.name} timed out`),
    )
      .catch((e: unknown) =>
        this.opts.logger.warn({ job: this.opts.name, ...errInfo(e) }, 'periodic job failed'),
      )
      .finally(() => {
        this.running = null;
        this.schedule();
      });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runNow();
    }, this.opts.intervalMs());
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
