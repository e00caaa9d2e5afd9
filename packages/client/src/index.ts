/**
 * @ratebus/client — what a pod embeds: a local, stale-tolerant copy of Octopus tariff rates kept in sync
 * from NATS JetStream KV (informer pattern), with freshness from the fetcher's confirmations, optional
 * persistence, interest renewal and on-demand refresh.
 */

export { InvalidCodeError } from '@ratebus/schema';
export { credentialsOf } from './connection.js';
export { type Freshness, type FreshnessThresholds, freshnessOf } from './copy/freshness.js';
export type { RateUpdate, UpdateListener } from './copy/update-hub.js';
export type { RateView } from './copy/view.js';
export {
  ClientClosedError,
  ClientErrorCode,
  EnsureTimeoutError,
  InvalidOptionsError,
  LockLostError,
  NoFetcherError,
  NotFoundError,
  RefreshFailedError,
} from './errors.js';
export {
  type ClientHooks,
  LAST_RESORT_OUTCOMES,
  type LastResortEvent,
  type LastResortOutcome,
  REJECT_REASONS,
  type RejectReason,
  type ResyncKind,
  type UpdateHookEvent,
  type UpdateKind,
} from './hooks.js';
export { LAST_RESORT_LOCK_PREFIX, lastResortLockKey } from './last-resort/last-resort.js';
export type { ClientLogger } from './logger.js';
export {
  type Credentials,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_ENSURE_TIMEOUT_MS,
  DEFAULT_FRESH_FOR_MS,
  DEFAULT_INTEREST_TTL_MS,
  DEFAULT_JS_TIMEOUT_MS,
  DEFAULT_LAST_RESORT_CHECK_INTERVAL_MS,
  DEFAULT_LAST_RESORT_FETCH_TIMEOUT_MS,
  DEFAULT_LAST_RESORT_MIN_INTERVAL_MS,
  DEFAULT_LAST_RESORT_PROBE_TIMEOUT_MS,
  DEFAULT_LOCK_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_UPDATES,
  DEFAULT_MAX_PING_OUT,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RECONNECT_TIME_WAIT_MS,
  DEFAULT_RELIST_INTERVAL_MS,
  DEFAULT_RESYNC_GRACE_MS,
  DEFAULT_RESYNC_INTERVAL_MS,
  DEFAULT_RETRY_INITIAL_MS,
  DEFAULT_RETRY_MAX_MS,
  DEFAULT_STALE_FOR_MS,
  DEFAULT_TARIFFS_RESYNC_INTERVAL_MS,
  FETCHER_INBOX_PREFIX,
  LAST_RESORT_INBOX_PREFIX,
  type LastResortOptions,
  type RateClientOptions,
  type SyncMode,
} from './options.js';
export {
  type ClientStats,
  RateClient,
  type ReadySource,
  type SlotQuery,
  type TimeInput,
} from './rate-client.js';
