import type { RatesDocument } from '@ratebus/schema';
import type { Freshness } from './freshness.js';

/** What `get()` returns: a held document and how much to trust it now. */
export interface RateView {
  readonly document: RatesDocument;
  /** From the fetcher's last confirmation, not from when this pod received it. */
  readonly freshness: Freshness;
  /** Time since that confirmation, ms. */
  readonly ageMs: number;
  /** The fetcher's last confirmation: max(document.fetchedAt, checkedAt of a check of the same content). */
  readonly confirmedAt: Date;
  /** End of the newest published unit-rate slot (null when open-ended). */
  readonly coversThrough: string | null;
  /** KV revision of the document in `ratebus-rates`. */
  readonly revision: number;
}
