/**
 * @ratebus/gateway — an HTTP sidecar that answers like `api.octopus.energy` for the rates ratebus holds, so
 * unmodified PredBat / Home Assistant clients only change their base URL. Optional file mirror in the
 * original shared-cache layout.
 */
export { DEFAULT_LOG_LEVEL, DEFAULT_NATS_URL, ENV_VARS, type GatewayConfig, loadConfig } from './config.js';
export { parseUpstreamDateTime } from './datetime.js';
export { GatewayConfigError, GatewayErrorCode, MirrorWriteError } from './errors.js';
export { GatewayMetrics, type StatsSource } from './metrics.js';
export {
  MIRROR_FORMAT,
  MirrorWriter,
  type MirrorWriterOptions,
  mirrorContent,
  mirrorFileName,
  tariffsDir,
  writeFileAtomic,
} from './mirror.js';
export { attachMirror, mirrorTariffs, refOfUpdate } from './mirror-sync.js';
export { parseQuery, type QueryPair, quotePlus, replaceQueryParam, unquotePlus } from './querystring.js';
export { answerRates, type JsonAnswer, type RatesPage, rowsFor } from './rates-page.js';
export {
  DEFAULT_PAGE_SIZE,
  ERROR_BODIES,
  MAX_PAGE_SIZE,
  type PageSlice,
  type Parsed,
  paginate,
  parsePageSize,
  parseRatesQuery,
  type RatesQuery,
} from './rates-query.js';
export { type Charge, matchRoute, noSuchTariffBody, type Route, type UpstreamRouteName } from './routes.js';
export {
  DEFAULT_ENSURE_TIMEOUT_MS,
  DEFAULT_FRESH_FOR_MS,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_UPSTREAM_ORIGIN,
  Gateway,
  type GatewayOptions,
  MAX_AGE_S,
  RETRY_AFTER_NO_FETCHER_S,
  RETRY_AFTER_S,
} from './server.js';
export {
  classifyEnsureError,
  type EnsureFailure,
  type Freshness,
  type HeldRates,
  type RateSource,
  type SourceUpdate,
  type UpdatingRateSource,
} from './source.js';
export {
  DEFAULT_URL_CACHE_TIMEOUT_MS,
  DeferredUrlCache,
  NatsUrlCache,
  type UrlCache,
  type UrlCacheResult,
} from './url-cache.js';
export { VERSION } from './version.js';
