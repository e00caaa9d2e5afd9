import type { Readable } from 'node:stream';
import { followJsonLogLines } from '@ratebus/testkit';

/** Nearest-rank quantile of sorted values (q in 0..1); null when empty. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

export interface Summary {
  readonly n: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: quantile(s, 0.5),
    p95: quantile(s, 0.95),
    p99: quantile(s, 0.99),
    max: s.length ? (s.at(-1) as number) : null,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : null,
  };
}

/** A number for a table: `—` for null, else `digits` decimals. */
export function fmt(n: number | null | undefined, digits = 1): string {
  return n === null || n === undefined ? '—' : n.toFixed(digits);
}

/** Wall-clock ms with sub-ms resolution, comparable across processes on one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Cleanups not run yet, oldest first: a signal runs them all, newest first, then exits once. */
const pending = new Set<Cleanup>();
const onSignal = (signal: NodeJS.Signals) => {
  void (async () => {
    for (const c of [...pending].reverse()) await c.run();
  })().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
};

/**
 * Undo steps run in reverse order, each bounded and never throwing, so one failing step does not leave
 * the rest (processes, servers, temp dirs) behind. Until `run()`, SIGINT/SIGTERM run the steps before the
 * process exits. Running twice is harmless (the second run finds nothing left).
 */
export class Cleanup {
  readonly #steps: Array<{ name: string; fn: () => unknown }> = [];

  constructor() {
    if (pending.size === 0) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    pending.add(this);
  }

  add(name: string, fn: () => unknown): void {
    this.#steps.push({ name, fn });
  }

  async run(log?: (line: string) => void): Promise<void> {
    for (const { name, fn } of this.#steps.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        log?.(`cleanup of ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (pending.delete(this) && pending.size === 0) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

/** Exits a child process once its parent is gone (the parent's cleanup can no longer stop it). */
export function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(1);
  }, 1_000).unref();
}

/** Calls `onLine` with every `{"bench": …}` line a child writes on `stream` (other lines are ignored). */
export function jsonLines(stream: Readable, onLine: (value: Record<string, unknown>) => void): void {
  followJsonLogLines(stream, (line) => {
    if ('bench' in line) onLine(line);
  });
}

/** Resolves after `ms`. Only for pacing (load phases, gaps between rounds), never instead of a condition. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `p`'s value, or null when it has not settled within `ms`. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
