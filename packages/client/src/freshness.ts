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
