/**
 * @ratebus/gateway — an HTTP sidecar that answers like `api.octopus.energy` for the rates ratebus holds
 * (PredBat's URL mode points at it), a storage feed that keeps PredBat's own cache directory (API-key mode),
 * and an optional file mirror in the original shared-cache layout.
 */

export { VERSION } from '@ratebus/service-kit';
export { DEFAULT_LOG_LEVEL, DEFAULT_NATS_URL, ENV_VARS, type GatewayConfig, loadConfig } from './config.js';
export { parseUpstreamDateTime } from './datetime.js';
export { GatewayConfigError, GatewayErrorCode, MirrorWriteError, PredbatWriteError } from './errors.js';
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
export {
  type CachedPage,
  DEFAULT_PAGE_CACHE_BYTES,
  DEFAULT_PAGE_CACHE_ENTRIES,
  etagOf,
  noneMatch,
  PageCache,
  type PageCacheStats,
} from './page-cache.js';
export {
  DEFAULT_PREDBAT_PRODUCT_REFRESH_MS,
  DEFAULT_PREDBAT_SCAN_INTERVAL_MS,
  PREDBAT_PAGES,
  PREDBAT_READ_AFTER_MS,
  PREDBAT_READ_BEFORE_MS,
  PredbatFeed,
  type PredbatFeedOptions,
  type PredbatFeedStats,
  type PredbatSource,
  type PredbatWriteOutcome,
  parsePredbatTariffs,
  predbatRatesJson,
} from './predbat-feed.js';
export {
  createdString,
  ENTRY_META_RE,
  entryFiles,
  jsonToYaml11,
  metaText,
  PREDBAT_MODULE,
  PREDBAT_ORIGIN,
  PredbatMetaSchema,
  parseCreated,
  predbatKey,
  predbatUrl,
  yamlQuoted,
} from './predbat-format.js';
export {
  candidateTariffs,
  chargesOf,
  DEFAULT_FLUX_IMPORT_PRODUCT,
  KeyIndex,
  type PredbatEntry,
  productEntry,
  publicTariffFor,
  ratesEntry,
} from './predbat-urls.js';
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
export { defaultGatewayName, GatewayService, type GatewayServiceOptions } from './service.js';
export {
  classifyEnsureError,
  type EnsureFailure,
  type Freshness,
  type HeldRateView,
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
