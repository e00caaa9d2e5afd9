/**
 * @ratebus/octopus — the upstream client: the public Octopus Energy REST API (products, charge endpoints)
 * with a shared request budget, retries, validation and typed errors.
 */
export { preferPaymentMethod } from '@ratebus/schema';
export {
  type BackoffOptions,
  backoffDelay,
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  parseRetryAfter,
} from './backoff.js';
export {
  type BudgetPriority,
  DEFAULT_BUDGET_PERIOD_MS,
  RequestBudget,
  type RequestBudgetOptions,
  withBudgetPriority,
} from './budget.js';
export {
  DEFAULT_MAX_ATTEMPTS,
  MAX_PAGES,
  OctopusClient,
  type OctopusClientOptions,
  PAGE_SIZE,
  type RequestEvent,
  type TariffRates,
} from './client.js';
export {
  type BuildDocumentInput,
  type BuildResult,
  buildDocument,
  checkDocument,
  type DocumentRejection,
  type DocumentRejectReason,
  type FetchWindow,
  fetchWindow,
} from './document.js';
export {
  AbortedError,
  InvalidResponseError,
  OctopusError,
  OctopusErrorCode,
  type OctopusErrorOptions,
  UpstreamHttpError,
  UpstreamNetworkError,
  UpstreamNotFoundError,
  UpstreamThrottledError,
  UpstreamTimeoutError,
} from './errors.js';
export {
  findProductTariff,
  type Link,
  type ProductDetail,
  ProductDetailSchema,
  type ProductTariff,
  type ProductTariffKind,
  RatesPageSchema,
  REGION_KEYS,
  TariffMapSchema,
} from './schemas.js';
export { DEFAULT_TIMEOUT_MS, DEFAULT_USER_AGENT, VERSION } from './transport.js';
export {
  DAY_MS,
  londonOffsetMs,
  londonWallToUtc,
  type UkDate,
  ukDate,
  ukDateString,
  ukMidnight,
  ukMinuteOfDay,
  ukWallTime,
} from './uk-time.js';
