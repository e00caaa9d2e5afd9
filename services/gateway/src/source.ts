import type { ProductCode, RatesDocument, TariffCode } from '@ratebus/schema';

/** How recently the fetcher confirmed a held document (the client's tiers). */
export type Freshness = 'fresh' | 'stale' | 'expired';

/**
 * What the gateway reads of one held copy: the document, its freshness and age — the part of
 * `@ratebus/client`'s `RateView` it uses (`RateClient.get()` returns one).
 */
export interface HeldRateView {
  readonly document: RatesDocument;
  readonly freshness: Freshness;
  /** Time since the fetcher last confirmed this content upstream, ms. */
  readonly ageMs: number;
  /** When the fetcher last confirmed this content upstream (`RateClient` gives it); else now − ageMs. */
  readonly confirmedAt?: Date;
}

/** A change to the local copy, as far as the gateway cares: which tariff. */
export interface SourceUpdate {
  readonly product?: string;
  readonly tariff?: string;
  readonly key?: string;
}

/**
 * The part of `@ratebus/client`'s `RateClient` the gateway uses. `RateClient` satisfies it structurally;
 * tests may pass anything else that does.
 */
export interface RateSource {
  /** The held copy, or undefined when this tariff is not held. */
  get(product: ProductCode, tariff: TariffCode): HeldRateView | undefined;
  /** Declares interest and waits for a first document; rejects with the client's typed errors. */
  ensure(product: ProductCode, tariff: TariffCode, opts: { timeoutMs: number }): Promise<unknown>;
  /** Resolves once the initial snapshot is loaded. */
  ready(): Promise<unknown>;
  /** Whether the NATS connection is up now (readiness). A source without it counts as connected. */
  isConnected?(): boolean;
}

/** A source that can tell about updates (needed by the file mirror). */
export interface UpdatingRateSource extends RateSource {
  on(event: 'update', listener: (e: SourceUpdate) => void): unknown;
  off?(event: 'update', listener: (e: SourceUpdate) => void): unknown;
}

/** How an `ensure()` ended, classified from the client's typed error codes. */
export type EnsureFailure = 'not-found' | 'no-fetcher' | 'timeout' | 'error';

/** Stable codes of `@ratebus/client`'s errors (branch on codes, never on messages). */
const CLIENT_CODES: Record<string, EnsureFailure> = {
  ERR_TARIFF_NOT_FOUND: 'not-found',
  ERR_NO_FETCHER: 'no-fetcher',
  ERR_ENSURE_TIMEOUT: 'timeout',
};

export function classifyEnsureError(e: unknown): EnsureFailure {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return (typeof code === 'string' && CLIENT_CODES[code]) || 'error';
}
