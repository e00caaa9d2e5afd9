/**
 * @ratebus/fetcher — the elected fetcher: a lease election on NATS KV, the leader's work (schedule, fetch,
 * publish, refresh, URL cache), bucket setup, config, metrics and HTTP probes, and `FetcherService`, which
 * runs them together. The process is `main.ts`.
 */

export { VERSION } from '@ratebus/service-kit';
export { BUCKET_LIMITS, type BucketLimits, MAX_POD_WATCHES, MAX_TARIFFS } from './bucket-limits.js';
export {
  type BucketSpec,
  bucketSpecs,
  type FetcherBuckets,
  guardBucket,
  guardedStreamConfig,
  type OpenBucketsOptions,
  openBuckets,
  verifyBucket,
} from './buckets.js';
export {
  DEFAULT_LOG_LEVEL,
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  DEFAULT_NATS_PING_INTERVAL_MS,
  DEFAULT_NATS_URL,
  DEFAULT_REPLICAS,
  defaultFetcherId,
  ENV_VARS,
  type Env,
  type FetcherConfig,
  LIMIT_ENV_VARS,
  LOG_LEVELS,
  type LogLevel,
  loadConfig,
  type NatsAuth,
  type ReadFile,
} from './config.js';
export { type Confirmation, ConfirmationWatch, type ConfirmationWatchOptions } from './confirmations.js';
export {
  BucketMismatchError,
  ConfigError,
  type ConfigIssue,
  FetcherErrorCode,
  NotLeaderError,
  type NotLeaderReason,
} from './errors.js';
export { realClock, scaledClock } from './leader/clock.js';
export { MARK_PAUSE_MS, meetsMarkGuard } from './leader/schedule-rules.js';
export {
  DEFAULT_CANARY_TIMEOUT_MS,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_FETCHES,
  DEFAULT_MIN_FORCE_INTERVAL_MS,
  DEFAULT_RELIST_INTERVAL_MS,
  TermWork,
  type TermWorkOptions,
  type WorkerStats,
} from './leader/term-work.js';
export type {
  Buckets,
  Clock,
  Fence,
  InterestAnomaly,
  RefusalReason,
  TermDeps,
  TermMetrics,
} from './leader/types.js';
export { UpstreamRequestCounter } from './leader/upstream-counter.js';
export { urlKey } from './leader/url-cache.js';
export {
  CAMPAIGN_JITTER,
  DEFAULT_LEASE_REQUEST_TIMEOUT_MS,
  type DeposedReason,
  type ElectorObserver,
  type ElectorState,
  LeaderElector,
  type LeaderElectorOptions,
  type RenewOutcome,
} from './lease/elector.js';
export { verifyLeaseBucket } from './lease/verify.js';
export {
  createMetrics,
  DEFAULT_MAX_TARIFF_SERIES,
  endpointOf,
  type FetcherMetrics,
  type MetricsOptions,
} from './metrics.js';
export {
  type ProbeResult,
  type ProbesServerHandle,
  type ProbesServerOptions,
  startProbesServer,
} from './probes-server.js';
export { DEFAULT_STARTUP_RETRY_MS, FetcherService, type FetcherServiceOptions } from './service.js';
