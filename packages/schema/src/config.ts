import { z } from 'zod';
import { isTariffCode, parseTariffCode, type TariffCode } from './codes.js';
import { ProductCodeSchema, TariffCodeSchema } from './rates.js';

/** Default lease duration: bucket TTL of the lease key (k8s client-go default). */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
/** Default time after the send of the last good renew at which a leader stops working. */
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
/** Default renew cadence of the leader and `create()` polling cadence of followers. */
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** Default routine cadence between fetches of a tariff: 30 minutes. */
export const DEFAULT_CADENCE_MS = 30 * 60_000;
/** Default spread added to the cadence: up to 4 minutes. */
export const DEFAULT_JITTER_MS = 4 * 60_000;
/** Default canary cadence during a publication window, after its dense start: 1 minute. */
export const DEFAULT_CANARY_INTERVAL_MS = 60_000;
/** Default canary cadence in the dense start of a publication window: 15 seconds. */
export const DEFAULT_CANARY_DENSE_INTERVAL_MS = 15_000;
/**
 * Default length of that dense start: the first hour (Agile 16:00–17:00 UK, when day-ahead prices usually
 * appear, docs/octopus-api.md §2; Tracker 11:00–12:00 UK).
 */
export const DEFAULT_CANARY_DENSE_FOR_MS = 60 * 60_000;
/** Default history kept in every document: 7 days back. */
export const DEFAULT_WINDOW_DAYS = 7;
/** Default cap of the failure backoff (1, 2, 3 … minutes): 30 minutes. */
export const DEFAULT_MAX_BACKOFF_MS = 30 * 60_000;
/** Default process-wide upstream budget: 60 requests per minute. */
export const DEFAULT_REQUESTS_PER_MINUTE = 60;
/** Default upstream connect and body timeout: 20 seconds. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 20_000;
/** Default lifetime of a pod's interest unless renewed: 1 hour. */
export const DEFAULT_INTEREST_TTL_MS = 60 * 60_000;
/** Default time a not-found tariff is remembered: 1 hour. */
export const DEFAULT_NOT_FOUND_TTL_MS = 60 * 60_000;
/** Default TTL of the shared URL cache: 30 minutes. */
export const DEFAULT_URL_CACHE_TTL_MS = 30 * 60_000;
/** Default cap on tariffs tracked beyond the configured ones (live interest and refresh requests): 500. */
export const DEFAULT_MAX_TRACKED_TARIFFS = 500;
/** Default share of the upstream budget that only configured and held tariffs may use: 30 percent. */
export const DEFAULT_RESERVED_BUDGET_PERCENT = 30;
/** Default: a tariff's refresh requests reach upstream at most once per 5 minutes. */
export const DEFAULT_REFRESH_TARIFF_INTERVAL_MS = 5 * 60_000;
/** Default: refresh requests reach upstream (forced or new tariffs) at most 30 times per minute in all. */
export const DEFAULT_REFRESH_UPSTREAM_PER_MINUTE = 30;
/** Default: URL cache misses reach upstream at most 20 times per minute. */
export const DEFAULT_URL_MISSES_PER_MINUTE = 20;
/** Default bound of one URL cache value (the stored upstream answer): 512 KiB. */
export const DEFAULT_URL_MAX_VALUE_BYTES = 512 * 1024;
export const DEFAULT_OCTOPUS_BASE_URL = 'https://api.octopus.energy';

const ms = (min: number) => z.int().min(min);

export const ConfiguredTariffSchema = z
  .strictObject({ product: ProductCodeSchema, tariff: TariffCodeSchema })
  .refine((t) => !isTariffCode(t.tariff) || parseTariffCode(t.tariff as TariffCode).product === t.product, {
    message: 'tariff does not belong to product',
    path: ['tariff'],
  });

export const LeaseConfigSchema = z
  .strictObject({
    /** Lease bucket TTL, ms. Default 15000. */
    durationMs: ms(5_000).default(DEFAULT_LEASE_DURATION_MS),
    /** Leader stops working this long after the send of its last good renew, ms. Default 10000. */
    renewDeadlineMs: ms(1_000).default(DEFAULT_RENEW_DEADLINE_MS),
    /** Renew / campaign period, ms. Default 2000. */
    retryPeriodMs: ms(100).default(DEFAULT_RETRY_PERIOD_MS),
  })
  .superRefine((l, ctx) => {
    if (l.renewDeadlineMs >= l.durationMs) {
      ctx.addIssue({ code: 'custom', path: ['renewDeadlineMs'], message: 'must be less than durationMs' });
    }
    if (l.retryPeriodMs * 1.2 >= l.renewDeadlineMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['retryPeriodMs'],
        message: 'retryPeriodMs × 1.2 must be less than renewDeadlineMs',
      });
    }
  });

export const ScheduleConfigSchema = z
  .strictObject({
    /** Routine cadence per tariff, ms. Default 30 min. */
    cadenceMs: ms(60_000).default(DEFAULT_CADENCE_MS),
    /** Random spread added to each routine fetch, ms. Default 4 min. */
    jitterMs: ms(0).default(DEFAULT_JITTER_MS),
    /** Canary cadence inside a publication window, after its dense start, ms. Default 1 min. */
    canaryIntervalMs: ms(10_000).default(DEFAULT_CANARY_INTERVAL_MS),
    /** Canary cadence in the first `canaryDenseForMs` of a publication window, ms. Default 15 s. */
    canaryDenseIntervalMs: ms(10_000).default(DEFAULT_CANARY_DENSE_INTERVAL_MS),
    /** Length of the dense start of a publication window, ms; 0 = none. Default 1 h. */
    canaryDenseForMs: ms(0).default(DEFAULT_CANARY_DENSE_FOR_MS),
    /** Days of history each document covers. Default 7. */
    windowDays: z.int().min(1).max(31).default(DEFAULT_WINDOW_DAYS),
    /** Cap of the 1, 2, 3 … minute failure backoff, ms. Default 30 min. */
    maxBackoffMs: ms(60_000).default(DEFAULT_MAX_BACKOFF_MS),
  })
  .superRefine((s, ctx) => {
    if (s.jitterMs >= s.cadenceMs)
      ctx.addIssue({ code: 'custom', path: ['jitterMs'], message: 'must be less than cadenceMs' });
  });

export const UpstreamConfigSchema = z.strictObject({
  /** Octopus REST base URL. Default https://api.octopus.energy. */
  baseUrl: z.url({ protocol: /^https?$/ }).default(DEFAULT_OCTOPUS_BASE_URL),
  /** Process-wide budget of upstream requests per minute. Default 60. */
  requestsPerMinute: z.int().min(1).max(100_000).default(DEFAULT_REQUESTS_PER_MINUTE),
  /** Connect and body timeout, ms. Default 20000. */
  timeoutMs: ms(100).default(DEFAULT_UPSTREAM_TIMEOUT_MS),
  /** Preferred row where DD/NDD twins exist. Default DIRECT_DEBIT. */
  preferredPaymentMethod: z.enum(['DIRECT_DEBIT', 'NON_DIRECT_DEBIT']).default('DIRECT_DEBIT'),
});

/** Bounds on what pods can make the leader do (docs: services/fetcher/README.md, "Limits"). */
export const LimitsConfigSchema = z.strictObject({
  /** Tariffs tracked beyond the configured ones (interest and refresh requests). Default 500. */
  maxTrackedTariffs: z.int().min(0).max(100_000).default(DEFAULT_MAX_TRACKED_TARIFFS),
  /** Percent of the upstream budget kept for configured and held tariffs (0–90). Default 30. */
  reservedBudgetPercent: z.int().min(0).max(90).default(DEFAULT_RESERVED_BUDGET_PERCENT),
  /** Shortest spacing of refresh-driven upstream fetches of one tariff, ms (0: none). Default 5 min. */
  refreshTariffIntervalMs: ms(0).default(DEFAULT_REFRESH_TARIFF_INTERVAL_MS),
  /** Refresh-driven upstream fetches per minute, all tariffs together. Default 30. */
  refreshUpstreamPerMinute: z.int().min(1).max(100_000).default(DEFAULT_REFRESH_UPSTREAM_PER_MINUTE),
  /** URL cache misses sent upstream per minute. Default 20. */
  urlMissesPerMinute: z.int().min(1).max(100_000).default(DEFAULT_URL_MISSES_PER_MINUTE),
  /** Largest URL cache value stored or answered, bytes. Default 524288. */
  urlMaxValueBytes: z
    .int()
    .min(1_024)
    .max(64 * 1024 * 1024)
    .default(DEFAULT_URL_MAX_VALUE_BYTES),
});
export type LimitsConfig = z.infer<typeof LimitsConfigSchema>;

/** Every limit at its default. */
export const DEFAULT_LIMITS: LimitsConfig = {
  maxTrackedTariffs: DEFAULT_MAX_TRACKED_TARIFFS,
  reservedBudgetPercent: DEFAULT_RESERVED_BUDGET_PERCENT,
  refreshTariffIntervalMs: DEFAULT_REFRESH_TARIFF_INTERVAL_MS,
  refreshUpstreamPerMinute: DEFAULT_REFRESH_UPSTREAM_PER_MINUTE,
  urlMissesPerMinute: DEFAULT_URL_MISSES_PER_MINUTE,
  urlMaxValueBytes: DEFAULT_URL_MAX_VALUE_BYTES,
};

/**
 * The shared YAML config file (`RATEBUS_CONFIG`). Every section is optional and has safe defaults;
 * unknown keys are rejected so that typos fail at start.
 */
export const RatebusConfigSchema = z.strictObject({
  /** Tariffs always fetched, whether or not a pod has asked. */
  tariffs: z.array(ConfiguredTariffSchema).max(10_000).default([]),
  lease: LeaseConfigSchema.default({
    durationMs: DEFAULT_LEASE_DURATION_MS,
    renewDeadlineMs: DEFAULT_RENEW_DEADLINE_MS,
    retryPeriodMs: DEFAULT_RETRY_PERIOD_MS,
  }),
  schedule: ScheduleConfigSchema.default({
    cadenceMs: DEFAULT_CADENCE_MS,
    jitterMs: DEFAULT_JITTER_MS,
    canaryIntervalMs: DEFAULT_CANARY_INTERVAL_MS,
    canaryDenseIntervalMs: DEFAULT_CANARY_DENSE_INTERVAL_MS,
    canaryDenseForMs: DEFAULT_CANARY_DENSE_FOR_MS,
    windowDays: DEFAULT_WINDOW_DAYS,
    maxBackoffMs: DEFAULT_MAX_BACKOFF_MS,
  }),
  upstream: UpstreamConfigSchema.default({
    baseUrl: DEFAULT_OCTOPUS_BASE_URL,
    requestsPerMinute: DEFAULT_REQUESTS_PER_MINUTE,
    timeoutMs: DEFAULT_UPSTREAM_TIMEOUT_MS,
    preferredPaymentMethod: 'DIRECT_DEBIT',
  }),
  interest: z
    .strictObject({
      /** Interest lifetime unless renewed, ms. Default 1 h. */
      ttlMs: ms(60_000).default(DEFAULT_INTEREST_TTL_MS),
    })
    .default({ ttlMs: DEFAULT_INTEREST_TTL_MS }),
  /** How long a not-found tariff is remembered, ms. Default 1 h. */
  notFoundTtlMs: ms(1_000).default(DEFAULT_NOT_FOUND_TTL_MS),
  /** TTL of the shared URL cache, ms. Default 30 min. */
  urlCacheTtlMs: ms(1_000).default(DEFAULT_URL_CACHE_TTL_MS),
  /** Bounds on what pods can make the leader do. */
  limits: LimitsConfigSchema.default(DEFAULT_LIMITS),
});
export type RatebusConfig = z.infer<typeof RatebusConfigSchema>;
export type RatebusConfigInput = z.input<typeof RatebusConfigSchema>;
