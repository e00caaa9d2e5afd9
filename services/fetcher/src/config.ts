import { hostname } from 'node:os';
import {
  NATS_ENV,
  NATS_LOGIN_SETTINGS,
  type NatsAuth,
  type NatsSettings,
  natsEnvInput,
  parseNatsSettings,
  type ReadTextFile,
} from '@ratebus/bus';
import {
  DEFAULT_NATS_URL,
  type LimitsConfig,
  LOG_LEVELS,
  type LogLevel,
  type RatebusConfig,
  RatebusConfigSchema,
} from '@ratebus/schema';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue } from './errors.js';

/** Default port of /metrics, /healthz and /readyz; 0 turns the HTTP server off. */
export const DEFAULT_METRICS_PORT = 9464;
/** Default interface of the HTTP server: loopback only. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
/** Default replicas of every bucket (3 in a 3-node cluster). */
export const DEFAULT_REPLICAS = 1;
/** Default NATS client ping interval: a half-open link is noticed within about 2 × this, ms. */
export const DEFAULT_NATS_PING_INTERVAL_MS = 5_000;
export const DEFAULT_LOG_LEVEL = 'info';

export { DEFAULT_NATS_URL, LOG_LEVELS, type LogLevel, type NatsAuth };

/** Everything the fetcher process needs, validated. */
export interface FetcherConfig {
  /** The shared YAML config (defaults applied; OCTOPUS_BASE_URL merged into upstream.baseUrl). */
  ratebus: RatebusConfig;
  /** Path of the YAML file, or null when RATEBUS_CONFIG is unset. */
  configPath: string | null;
  /** Servers and login (`@ratebus/bus` rules), and the client ping interval. */
  nats: NatsSettings & { pingIntervalMs: number };
  metrics: { port: number; host: string };
  /** Identity in the lease, logs, connection name and User-Agent. */
  fetcherId: string;
  /** Replicas of every bucket. */
  replicas: number;
  logLevel: LogLevel;
  /** Follow the simulator's clock (`GET {upstream}/_sim/clock`) for scheduling: demos and benchmarks only. */
  simClock: boolean;
}

/** The environment variables read by {@link loadConfig}. */
export const ENV_VARS = [
  'RATEBUS_CONFIG',
  ...NATS_LOGIN_SETTINGS.map((s) => NATS_ENV[s]),
  'NATS_PING_INTERVAL_MS',
  'OCTOPUS_BASE_URL',
  'METRICS_PORT',
  'METRICS_HOST',
  'FETCHER_ID',
  'RATEBUS_REPLICAS',
  'LOG_LEVEL',
  'OCTOPUS_SIM_CLOCK',
  'RATEBUS_MAX_TRACKED_TARIFFS',
  'RATEBUS_RESERVED_BUDGET_PERCENT',
  'RATEBUS_REFRESH_TARIFF_INTERVAL_MS',
  'RATEBUS_REFRESH_UPSTREAM_PER_MINUTE',
  'RATEBUS_URL_MISSES_PER_MINUTE',
  'RATEBUS_URL_MAX_VALUE_BYTES',
] as const;

/** Environment overrides of the file's `limits` section (validated by the same schema as the file). */
export const LIMIT_ENV_VARS = {
  RATEBUS_MAX_TRACKED_TARIFFS: 'maxTrackedTariffs',
  RATEBUS_RESERVED_BUDGET_PERCENT: 'reservedBudgetPercent',
  RATEBUS_REFRESH_TARIFF_INTERVAL_MS: 'refreshTariffIntervalMs',
  RATEBUS_REFRESH_UPSTREAM_PER_MINUTE: 'refreshUpstreamPerMinute',
  RATEBUS_URL_MISSES_PER_MINUTE: 'urlMissesPerMinute',
  RATEBUS_URL_MAX_VALUE_BYTES: 'urlMaxValueBytes',
} as const satisfies Partial<Record<(typeof ENV_VARS)[number], keyof LimitsConfig>>;
type LimitEnvVar = keyof typeof LIMIT_ENV_VARS;

export type Env = Readonly<Record<string, string | undefined>>;
/** Reads a file as UTF-8 text; throws when it cannot. */
export type ReadFile = ReadTextFile;

/** Validated environment; undefined = unset (empty strings count as unset, as in most container tooling). */
interface ParsedEnv {
  NATS_PING_INTERVAL_MS?: number;
  METRICS_PORT?: number;
  METRICS_HOST?: string;
  FETCHER_ID?: string;
  RATEBUS_REPLICAS?: number;
  LOG_LEVEL?: LogLevel;
  OCTOPUS_SIM_CLOCK?: boolean;
  /** Limits from the environment, by the file key they override. */
  limits?: Partial<Record<keyof LimitsConfig, number>>;
}

/** Parses the environment variables but NATS's, adding one issue per problem (never stops at the first). */
function parseEnv(env: Env, issues: ConfigIssue[]): ParsedEnv {
  const out: ParsedEnv = {};
  const add = (name: string, message: string) => issues.push({ source: `env:${name}`, message });
  const get = (name: (typeof ENV_VARS)[number]): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const int = (name: (typeof ENV_VARS)[number], min: number, max: number): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v.trim())) {
      add(name, 'must be a whole number');
      return undefined;
    }
    const n = Number(v.trim());
    if (n < min || n > max) {
      add(name, `must be between ${min} and ${max}`);
      return undefined;
    }
    return n;
  };
  const set = <K extends keyof ParsedEnv>(k: K, v: ParsedEnv[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };

  set('NATS_PING_INTERVAL_MS', int('NATS_PING_INTERVAL_MS', 100, 600_000));
  set('METRICS_PORT', int('METRICS_PORT', 0, 65_535));
  set('METRICS_HOST', get('METRICS_HOST')?.trim());
  const id = get('FETCHER_ID');
  if (id !== undefined) {
    if (/^[!-~]{1,128}$/.test(id)) out.FETCHER_ID = id;
    else add('FETCHER_ID', 'must be printable ASCII without spaces, 1-128 characters');
  }
  set('RATEBUS_REPLICAS', int('RATEBUS_REPLICAS', 1, 5));
  const level = get('LOG_LEVEL')?.trim();
  if (level !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(level)) out.LOG_LEVEL = level as LogLevel;
    else add('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }

  const simClock = get('OCTOPUS_SIM_CLOCK')?.trim();
  if (simClock !== undefined) {
    if (['1', 'true', '0', 'false'].includes(simClock))
      out.OCTOPUS_SIM_CLOCK = simClock === '1' || simClock === 'true';
    else add('OCTOPUS_SIM_CLOCK', 'must be 1, true, 0 or false');
  }

  for (const [name, key] of Object.entries(LIMIT_ENV_VARS) as [LimitEnvVar, keyof LimitsConfig][]) {
    // Ranges are the file schema's, checked after the merge.
    const v = int(name, 0, Number.MAX_SAFE_INTEGER);
    if (v !== undefined) out.limits = { ...out.limits, [key]: v };
  }

  return out;
}

/** Default identity: `{hostname}-{pid}`, cut to the lease's 128 printable characters. */
export function defaultFetcherId(host = hostname(), pid = process.pid): string {
  const clean = host.replace(/[^!-~]/g, '') || 'fetcher';
  return `${clean}-${pid}`.slice(-128);
}

/**
 * Reads the configuration once at start: the YAML file at `RATEBUS_CONFIG` (optional), validated with
 * `RatebusConfigSchema`, plus environment variables. Every problem is collected and thrown together in one
 * {@link ConfigError}; conflicting settings (e.g. NATS_CREDS with NATS_USER) are rejected.
 */
export function loadConfig(
  env: Env,
  readFile: ReadFile,
  defaults: { fetcherId?: string } = {},
): FetcherConfig {
  const issues: ConfigIssue[] = [];
  const e = parseEnv(env, issues);
  // NATS: servers, one login method, the creds file read now so a wrong path is reported with the rest.
  const nats = parseNatsSettings(natsEnvInput(env), readFile);
  if (!nats.ok) for (const i of nats.issues) issues.push({ source: `env:${i.variable}`, message: i.message });
  const configPath = env.RATEBUS_CONFIG?.trim() || null;

  // The YAML file.
  let raw: unknown = {};
  if (configPath !== null) {
    let text: string | undefined;
    try {
      text = readFile(configPath);
    } catch (cause) {
      issues.push({ source: 'env:RATEBUS_CONFIG', message: `cannot read ${configPath}: ${describe(cause)}` });
    }
    if (text !== undefined) {
      try {
        raw = parseYaml(text) ?? {};
      } catch (cause) {
        issues.push({ source: `file:${configPath}`, message: `not valid YAML: ${describe(cause)}` });
      }
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        issues.push({ source: `file:${configPath}`, message: 'must be a YAML mapping' });
        raw = {};
      }
    }
  }

  // OCTOPUS_BASE_URL overrides upstream.baseUrl and is validated by the same schema.
  const baseUrl = env.OCTOPUS_BASE_URL?.trim() || undefined;
  if (baseUrl !== undefined) {
    const r = raw as Record<string, unknown>;
    const upstream = r.upstream;
    r.upstream = {
      ...(upstream && typeof upstream === 'object' && !Array.isArray(upstream) ? upstream : {}),
      baseUrl,
    };
  }
  // Limits from the environment override the file's, key by key.
  if (e.limits !== undefined) {
    const r = raw as Record<string, unknown>;
    const limits = r.limits;
    r.limits = {
      ...(limits && typeof limits === 'object' && !Array.isArray(limits) ? limits : {}),
      ...e.limits,
    };
  }
  const envOf = (path: string): string | undefined => {
    if (baseUrl !== undefined && path === 'upstream.baseUrl') return 'OCTOPUS_BASE_URL';
    for (const [name, key] of Object.entries(LIMIT_ENV_VARS)) {
      if (path === `limits.${key}` && e.limits?.[key] !== undefined) return name;
    }
    return undefined;
  };
  const fileResult = RatebusConfigSchema.safeParse(raw);
  if (!fileResult.success) {
    for (const i of fileResult.error.issues) {
      const path = i.path.map(String).join('.');
      const env = envOf(path);
      const source = env !== undefined ? `env:${env}` : `file:${path || '(root)'}`;
      issues.push({ source, message: i.message });
    }
  }

  if (issues.length > 0 || !fileResult.success || !nats.ok) throw new ConfigError(issues);

  return {
    ratebus: fileResult.data,
    configPath,
    nats: {
      ...nats.settings,
      pingIntervalMs: e.NATS_PING_INTERVAL_MS ?? DEFAULT_NATS_PING_INTERVAL_MS,
    },
    metrics: { port: e.METRICS_PORT ?? DEFAULT_METRICS_PORT, host: e.METRICS_HOST ?? DEFAULT_METRICS_HOST },
    fetcherId: e.FETCHER_ID ?? defaults.fetcherId ?? defaultFetcherId(),
    replicas: e.RATEBUS_REPLICAS ?? DEFAULT_REPLICAS,
    logLevel: e.LOG_LEVEL ?? DEFAULT_LOG_LEVEL,
    simClock: e.OCTOPUS_SIM_CLOCK ?? false,
  };
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(e);
}
