import type { ReplyErrorCode } from '@ratebus/schema';

/** Stable codes of the client's errors. Callers branch on these, never on messages. */
export const ClientErrorCode = {
  InvalidOptions: 'ERR_CLIENT_OPTIONS',
  NotFound: 'ERR_TARIFF_NOT_FOUND',
  NoFetcher: 'ERR_NO_FETCHER',
  EnsureTimeout: 'ERR_ENSURE_TIMEOUT',
  RefreshFailed: 'ERR_REFRESH_FAILED',
  Closed: 'ERR_CLIENT_CLOSED',
  LockLost: 'ERR_LOCK_LOST',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Options that failed validation; lists every problem at once. */
export class InvalidOptionsError extends Error {
  readonly code = ClientErrorCode.InvalidOptions;
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid RateClient options: ${problems.join('; ')}`);
    this.name = 'InvalidOptionsError';
    this.problems = problems;
  }
}

/** The fetcher answered NOT_FOUND: the product or tariff does not exist upstream. */
export class NotFoundError extends Error {
  readonly code = ClientErrorCode.NotFound;
  readonly product: string;
  readonly tariff: string;
  constructor(product: string, tariff: string, options?: ErrorOptions) {
    super(`tariff ${product}/${tariff} does not exist upstream`, options);
    this.name = 'NotFoundError';
    this.product = product;
    this.tariff = tariff;
  }
}

/** Nobody answers refresh requests (no elected fetcher) until the deadline. */
export class NoFetcherError extends Error {
  readonly code = ClientErrorCode.NoFetcher;
  readonly subject: string;
  constructor(subject: string, options?: ErrorOptions) {
    super(`no fetcher answers on ${subject}`, options);
    this.name = 'NoFetcherError';
    this.subject = subject;
  }
}

/** `ensure()` did not get a document before its deadline. */
export class EnsureTimeoutError extends Error {
  readonly code = ClientErrorCode.EnsureTimeout;
  readonly product: string;
  readonly tariff: string;
  readonly timeoutMs: number;
  constructor(product: string, tariff: string, timeoutMs: number, options?: ErrorOptions) {
    super(`no document for ${product}/${tariff} within ${timeoutMs} ms`, options);
    this.name = 'EnsureTimeoutError';
    this.product = product;
    this.tariff = tariff;
    this.timeoutMs = timeoutMs;
  }
}

/** The fetcher answered a refresh request with an error other than NOT_FOUND (`Ratebus-Error-Code`). */
export class RefreshFailedError extends Error {
  readonly code = ClientErrorCode.RefreshFailed;
  /** The reply's `Ratebus-Error-Code`, or `INTERNAL` when the reply was not a valid document. */
  readonly replyCode: ReplyErrorCode;
  constructor(replyCode: ReplyErrorCode, message: string, options?: ErrorOptions) {
    super(`refresh failed (${replyCode}): ${message}`, options);
    this.name = 'RefreshFailedError';
    this.replyCode = replyCode;
  }
}

/** The client was closed while the call was pending, or before it. */
export class ClientClosedError extends Error {
  readonly code = ClientErrorCode.Closed;
  constructor() {
    super('RateClient is closed');
    this.name = 'ClientClosedError';
  }
}

/** The last-resort lock was lost (renewal refused or its deadline passed): the holder stops writing. */
export class LockLostError extends Error {
  readonly code = ClientErrorCode.LockLost;
  readonly key: string;
  /** The lock's term (revision of the winning write) of the lost holder. */
  readonly term: number;
  constructor(key: string, term: number, options?: ErrorOptions) {
    super(`last-resort lock ${key} (term ${term}) is no longer held`, options);
    this.name = 'LockLostError';
    this.key = key;
    this.term = term;
  }
}
