import { readFileSync } from 'node:fs';
import {
  NATS_ENV,
  NATS_LOGIN_SETTINGS,
  type NatsSettings,
  natsEnvInput,
  parseNatsSettings,
  type ReadTextFile,
} from '@ratebus/bus';
import { DEFAULT_NATS_URL, LOG_LEVELS, productCode, type TariffRef } from '@ratebus/schema';
import { z } from 'zod';
import { GatewayConfigError } from './errors.js';
import { DEFAULT_PREDBAT_SCAN_INTERVAL_MS, parsePredbatTariffs } from './predbat-feed.js';
import { DEFAULT_FLUX_IMPORT_PRODUCT } from './predbat-urls.js';
import { DEFAULT_ENSURE_TIMEOUT_MS, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_UPSTREAM_ORIGIN } from './server.js';
import { DEFAULT_URL_CACHE_TIMEOUT_MS } from './url-cache.js';

/** NATS URL used when `NATS_URL` is not set (the embedded default of the project). */
export { DEFAULT_NATS_URL };
export const DEFAULT_LOG_LEVEL = 'info';

const int = (min: number, max: number) =>
  z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.int().min(min).max(max));
const nonEmpty = z.string().min(1);
const httpUrl = z.url({ protocol: /^https?$/ });

const EnvSchema = z
  .object({
    PORT: int(0, 65_535).default(DEFAULT_PORT),
    HOST: nonEmpty.default(DEFAULT_HOST),
    MIRROR_DIR: nonEmpty.optional(),
    CACHE_DIR: nonEmpty.optional(),
    /**
     * What the embedded client holds: `tariffs` (the tariffs asked of this gateway and PREDBAT_TARIFFS, no
     * JetStream consumer: a sidecar costs what its pod uses) or `bucket` (every stored tariff, e.g. a
     * gateway shared by many pods with a file mirror of everything).
     */
    SYNC: z.enum(['tariffs', 'bucket']).default('tariffs'),
    /**
     * The embedded client's `resyncIntervalMs`: with SYNC=tariffs its confirmation poll (default 60 s ± 25 %),
     * how late a fetcher's confirmation can reach this gateway (and the PredBat feed's `created`); with
     * SYNC=bucket its resync check (default 15 s). Unset: the client's default.
     */
    RESYNC_INTERVAL_MS: int(50, 3_600_000).optional(),
    ENSURE_TIMEOUT_MS: int(100, 120_000).default(DEFAULT_ENSURE_TIMEOUT_MS),
    URL_CACHE_TIMEOUT_MS: int(100, 120_000).default(DEFAULT_URL_CACHE_TIMEOUT_MS),
    PUBLIC_BASE_URL: httpUrl.optional(),
    UPSTREAM_ORIGIN: httpUrl.default(DEFAULT_UPSTREAM_ORIGIN),
    /** Demos and benchmarks only: follow the simulator clock at UPSTREAM_ORIGIN for ages and freshness. */
    OCTOPUS_SIM_CLOCK: z.enum(['0', '1', 'true', 'false']).optional(),
    /** PredBat's cache directory (`{config_root}/cache`) to feed; unset = no storage feed. */
    PREDBAT_CACHE_DIR: nonEmpty.optional(),
    /** The pod's tariffs, `PRODUCT/TARIFF` pairs separated by commas. */
    PREDBAT_TARIFFS: nonEmpty.optional(),
    PREDBAT_SCAN_INTERVAL_MS: int(1_000, 3_600_000).default(DEFAULT_PREDBAT_SCAN_INTERVAL_MS),
    PREDBAT_FLUX_IMPORT_PRODUCT: nonEmpty.default(DEFAULT_FLUX_IMPORT_PRODUCT),
    LOG_LEVEL: z.enum(LOG_LEVELS).default(DEFAULT_LOG_LEVEL),
  })
  .superRefine((e, ctx) => {
    if (e.PREDBAT_TARIFFS !== undefined) {
      if (!e.PREDBAT_CACHE_DIR) {
        ctx.addIssue({
          code: 'custom',
          path: ['PREDBAT_CACHE_DIR'],
          message: 'required when PREDBAT_TARIFFS is set',
        });
      }
      try {
        parsePredbatTariffs(e.PREDBAT_TARIFFS);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        ctx.addIssue({
          code: 'custom',
          path: ['PREDBAT_TARIFFS'],
          message: `comma-separated PRODUCT/TARIFF pairs expected: ${why}`,
        });
      }
    }
    try {
      productCode(e.PREDBAT_FLUX_IMPORT_PRODUCT);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['PREDBAT_FLUX_IMPORT_PRODUCT'], message: 'not a product code' });
    }
  });

/** The environment variables read by {@link loadConfig}: the NATS login (`@ratebus/bus`) and the gateway's. */
export const ENV_VARS: readonly string[] = [
  ...NATS_LOGIN_SETTINGS.map((s) => NATS_ENV[s]),
  ...Object.keys(EnvSchema.shape),
];

/** The gateway's settings, from the environment. */
export interface GatewayConfig {
  /** Servers and login, with the rules every service shares (`NATS_URL`, `NATS_USER`/`NATS_PASSWORD`, …). */
  nats: NatsSettings;
  port: number;
  host: string;
  mirrorDir: string | undefined;
  cacheDir: string | undefined;
  /** The embedded client's sync mode (`SYNC`). */
  sync: 'tariffs' | 'bucket';
  /** The embedded client's confirmation poll / resync period (`RESYNC_INTERVAL_MS`); undefined: its default. */
  resyncIntervalMs: number | undefined;
  ensureTimeoutMs: number;
  urlCacheTimeoutMs: number;
  publicBaseUrl: string | undefined;
  upstreamOrigin: string;
  logLevel: string;
  /** Follow the simulator's clock (`GET {upstreamOrigin}/_sim/clock`): demos and benchmarks only. */
  simClock: boolean;
  /** The PredBat storage feed, when `PREDBAT_CACHE_DIR` is set. */
  predbat:
    | {
        dir: string;
        tariffs: TariffRef[];
        scanIntervalMs: number;
        fluxImportProduct: string;
      }
    | undefined;
}

/**
 * Reads the environment once (and the `NATS_CREDS` file, with `readFile`). Empty variables count as unset.
 * Every problem is reported at once in a {@link GatewayConfigError}; secrets are never echoed.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv,
  readFile: ReadTextFile = (p) => readFileSync(p, 'utf8'),
): GatewayConfig {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') clean[k] = v;
  const nats = parseNatsSettings(natsEnvInput(env), readFile);
  const r = EnvSchema.safeParse(clean);
  const problems = [
    ...(nats.ok ? [] : nats.issues.map((i) => i.message)),
    ...(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`)),
  ];
  if (!nats.ok || !r.success) throw new GatewayConfigError(problems);
  const e = r.data;
  return {
    nats: nats.settings,
    port: e.PORT,
    host: e.HOST,
    mirrorDir: e.MIRROR_DIR,
    cacheDir: e.CACHE_DIR,
    sync: e.SYNC,
    resyncIntervalMs: e.RESYNC_INTERVAL_MS,
    ensureTimeoutMs: e.ENSURE_TIMEOUT_MS,
    urlCacheTimeoutMs: e.URL_CACHE_TIMEOUT_MS,
    publicBaseUrl: e.PUBLIC_BASE_URL,
    upstreamOrigin: e.UPSTREAM_ORIGIN,
    logLevel: e.LOG_LEVEL,
    simClock: e.OCTOPUS_SIM_CLOCK === '1' || e.OCTOPUS_SIM_CLOCK === 'true',
    predbat: e.PREDBAT_CACHE_DIR
      ? {
          dir: e.PREDBAT_CACHE_DIR,
          tariffs: parsePredbatTariffs(e.PREDBAT_TARIFFS ?? ''),
          scanIntervalMs: e.PREDBAT_SCAN_INTERVAL_MS,
          fluxImportProduct: e.PREDBAT_FLUX_IMPORT_PRODUCT,
        }
      : undefined,
  };
}
