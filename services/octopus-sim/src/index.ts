/**
 * @ratebus/octopus-sim — a faithful local simulator of the Octopus Energy REST API (and a small Kraken
 * GraphQL endpoint) with a controllable clock, publication switches, fault injection and request accounting.
 */
export type { SimClock } from './clock.js';
export { SimConfigError, SimErrorCode, SimRequestError } from './errors.js';
export {
  DEFAULT_FAULT_LATENCY_MS,
  DEFAULT_RETRY_AFTER_SECONDS,
  FAULT_KINDS,
  type FaultEntry,
  type FaultKind,
  type FaultRule,
  type SimFaults,
} from './faults.js';
export { MAX_BODY_BYTES } from './http-util.js';
export {
  DEFAULT_TOKEN_TTL_SECONDS,
  type KrakenErrorCode,
  type KrakenSettings,
  type KrakenSettingsInput,
} from './kraken.js';
export { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SEED, DEFAULT_SPEED, type SimOptions } from './options.js';
export { agileExportRate, agileImportExcVat } from './prices.js';
export { DEFAULT_PUBLICATION_DELAY_MINUTES, type PublicationSettings } from './publication.js';
export { DEFAULT_SWITCHES, type SimSwitches } from './rest.js';
export { type RateRow, VAT_HOLIDAY_FROM_MS, VAT_HOLIDAY_TO_MS } from './series.js';
export { type Simulator, startSimulator } from './server.js';
export { type SimStats, STATS_LOG_LIMIT, type StatsLogEntry, type StatsSnapshot } from './stats.js';
