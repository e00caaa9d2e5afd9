import type { SimTime } from '../simtime.js';
import { MINUTE, type PodTariff, podTariffs } from './scenario.js';

/** When each pod first held the next Agile day, per pod and tariff (simulated ms). */
export class HeldLog {
  readonly #first = new Map<string, number>();

  record(pod: number, t: PodTariff, newestEnd: number, nextDayEnd: number, at: number): void {
    if (!t.agile || newestEnd < nextDayEnd) return;
    const key = `${pod}/${t.tariff}`;
    if (!this.#first.has(key)) this.#first.set(key, at);
  }

  /** Minutes after `publication` at which pods held the next day; `expected` pod-tariffs that never did count as missing. */
  summary(
    publication: number,
    expected: number,
  ): { p50: number | null; p95: number | null; max: number | null; missing: number } {
    const lags = [...this.#first.values()].map((t) => (t - publication) / MINUTE).sort((a, b) => a - b);
    const q = (p: number) =>
      lags.length ? (lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] as number) : null;
    return {
      p50: q(0.5),
      p95: q(0.95),
      max: lags.length ? (lags.at(-1) as number) : null,
      missing: expected - lags.length,
    };
  }
}

/** Number of (pod, Agile tariff) pairs in a fleet. */
export function agilePairs(pods: number): number {
  let n = 0;
  for (let i = 0; i < pods; i++) n += podTariffs(i).filter((t) => t.agile).length;
  return n;
}

/**
 * Runs each pod's poll every `periodMs` of simulated time from `start` (plus a per-pod offset) until `end`.
 * Fleet-deploy phase: all pods start within `spreadMs` of each other, which is what makes caches expire
 * together. A poll never overlaps the same pod's previous one.
 */
export async function runFleet(opts: {
  time: SimTime;
  pods: number;
  start: number;
  end: number;
  periodMs: number;
  spreadMs: number;
  poll: (pod: number) => Promise<void>;
}): Promise<void> {
  const { time, pods, start, end, periodMs, spreadMs, poll } = opts;
  const runs: Promise<void>[] = [];
  for (let i = 0; i < pods; i++) {
    const offset = Math.random() * spreadMs;
    runs.push(
      (async () => {
        for (let at = start + offset; at < end; at += periodMs) {
          await time.until(at);
          if (time.now() >= end) return;
          await poll(i);
        }
      })(),
    );
  }
  await Promise.all(runs);
}
