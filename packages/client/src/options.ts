import type { NatsConnection } from '@nats-io/transport-node';
import type { OctopusClient, OctopusClientOptions } from '@ratebus/octopus';
import {
  DEFAULT_WINDOW_DAYS,
  INBOX_PREFIXES,
  type PaymentMethod,
  type TariffRef,
  tariffRef,
} from '@ratebus/schema';
import { z } from 'zod';
import { InvalidOptionsError } from './errors.js';
import type { ClientHooks } from './hooks.js';
import type { ClientLogger } from './logger.js';

/** A document confirmed less than 30 min ago is fresh (the original file-cache tier). */
export const DEFAULT_FRESH_FOR_MS = 30 * 60_000;
/** A document confirmed less than 35 min ago is stale; beyond that it is expired (still served). */
export const DEFAULT_STALE_FOR_MS = 35 * 60_000;
/** How often the bucket's last sequence is compared with the last applied revision: 15 s. */
export const DEFAULT_RESYNC_INTERVAL_MS = 15_000;
/** With `sync: 'tariffs'`: how often each followed tariff's confirmation is read (jittered ±25 %): 60 s. */
export const DEFAULT_TARIFFS_RESYNC_INTERVAL_MS = 60_000;
/** How long a resync check waits for an in-flight delivery before restarting the watch: 1 s. */
export const DEFAULT_RESYNC_GRACE_MS = 1_000;
/** How often the whole bucket is listed again (catches purges and expiry that give no event): 5 min. */
export const DEFAULT_RELIST_INTERVAL_MS = 5 * 60_000;
/** First delay of the watch / bind / connect retry backoff: 500 ms. */
export const DEFAULT_RETRY_INITIAL_MS = 500;
/** Cap of the watch / bind / connect retry backoff: 30 s. */
export const DEFAULT_RETRY_MAX_MS = 30_000;
/** Client ping interval: 5 s, so a half-open link is found within about 3 × 5 s. */
export const DEFAULT_PING_INTERVAL_MS = 5_000;
/** Unanswered pings before the link counts as dead. */
export const DEFAULT_MAX_PING_OUT = 2;
/** Wait between reconnect attempts to one server: 1 s. */
export const DEFAULT_RECONNECT_TIME_WAIT_MS = 1_000;
/** Bound on one connection handshake: 5 s (the nats.js default of 20 s hides dead links). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** JetStream API request timeout: 5 s. */
export const DEFAULT_JS_TIMEOUT_MS = 5_000;
/** Default deadline of `ensure()`: 10 s. */
export const DEFAULT_ENSURE_TIMEOUT_MS = 10_000;
/** Interest TTL assumed when the bucket's own TTL cannot be read: 1 h. */
export const DEFAULT_INTEREST_TTL_MS = 60 * 60_000;
/** Updates buffered per `updates()` iterator before the oldest are dropped. */
export const DEFAULT_MAX_BUFFERED_UPDATES = 10_000;

/** Last resort: per pod and tariff, at most one upstream fetch this often: 5 min. */
export const DEFAULT_LAST_RESORT_MIN_INTERVAL_MS = 5 * 60_000;
/** Last resort: how often held and ensured tariffs are checked for expiry: 30 s (jittered ±25 %). */
export const DEFAULT_LAST_RESORT_CHECK_INTERVAL_MS = 30_000;
/** Last resort: how long a refresh request waits for a fetcher's answer before nobody counts as answering: 5 s. */
export const DEFAULT_LAST_RESORT_PROBE_TIMEOUT_MS = 5_000;
/** Last resort: bound on one whole upstream fetch (all pages and retries): 2 min. */
export const DEFAULT_LAST_RESORT_FETCH_TIMEOUT_MS = 120_000;
/** Last resort: bound on each lock request (take, renew, release): 2 s, like the fetchers' lease calls. */
export const DEFAULT_LOCK_TIMEOUT_MS = 2_000;
/** Default duration of a last-resort lock, ms (the fetchers' default lease duration). */
export const DEFAULT_LOCK_MS = 15_000;
/** Inbox prefix the fetcher role must use (services/nats/accounts.conf). */
export const FETCHER_INBOX_PREFIX = INBOX_PREFIXES.fetcher;
/** Inbox prefix the `lastresort` role must use (services/nats/accounts.conf): the last resort's default. */
export const LAST_RESORT_INBOX_PREFIX = INBOX_PREFIXES.lastresort;

/** How to log in to NATS. */
export type Credentials =
  | { readonly user: string; readonly pass: string }
  | { readonly token: string }
  /** Contents of a `.creds` file (JWT + nkey seed). */
  | { readonly creds: string };

/**
 * The last-resort fetch (off by default): when a tariff is expired (or absent after `ensure()` found no
 * fetcher) and nobody answers a refresh request, one pod, chosen by a lock in `ratebus-lease`, fetches it
 * upstream and writes the document. Writing needs the `lastresort` role: give `nc` or `credentials`.
 */
export interface LastResortOptions {
  /** The upstream client (never closed by the RateClient), or options of one the RateClient owns. */
  octopus: OctopusClient | OctopusClientOptions;
  /** A connection with `lastresort` credentials for the lock and the writes; not closed. Conflicts with `credentials`. */
  nc?: NatsConnection;
  /**
   * `lastresort` credentials: the client opens a second connection to `servers` with them (and `inboxPrefix`).
   * Without `nc` or `credentials`, the client's own connection writes (only works without per-role auth).
   */
  credentials?: Credentials;
  /** Inbox prefix of the connection opened with `credentials`. Default `_INBOX_lastresort`. */
  inboxPrefix?: string;
  /** Per pod and tariff, at most one upstream fetch this often, ms. Default 300000. */
  minIntervalMs?: number;
  /** Expiry check period of held and ensured tariffs, ms (jittered ±25 %). Default 30000. */
  checkIntervalMs?: number;
  /** Wait for a fetcher's answer to the refresh request, ms. Default 5000. */
  probeTimeoutMs?: number;
  /** Bound on one whole upstream fetch, ms. Default 120000. */
  fetchTimeoutMs?: number;
  /** Bound on each lock request, ms. Default 2000. */
  lockTimeoutMs?: number;
  /**
   * Duration of a last-resort lock, ms: renewed every third of it; another pod takes over a lock left
   * unrenewed this long (e.g. by a crashed pod, or kept after an upstream failure). Default 15000.
   */
  lockMs?: number;
  /** Days of history in a document (the fetcher's `windowDays`). Default 7. */
  windowDays?: number;
}

/**
 * What the client keeps in step: `bucket` mirrors every tariff of `ratebus-rates` (two whole-bucket watches:
 * for the gateway and tools that serve any tariff); `tariffs` follows only `tariffs`, the tariffs passed to
 * `ensure()` and those restored from `cacheDir`, with no JetStream consumer (live pushes on core subjects,
 * gets per tariff to catch up): what a pod with a few tariffs should use.
 */
export type SyncMode = 'bucket' | 'tariffs';

export interface RateClientOptions {
  /** What is kept in step: `bucket` (every tariff, default) or `tariffs` (only this pod's). */
  sync?: SyncMode;
  /** Tariffs followed from the start (`sync: 'tariffs'`); `ensure()` adds more. Codes are validated. */
  tariffs?: readonly { readonly product: string; readonly tariff: string }[];
  /** NATS URL(s). Default `nats://127.0.0.1:4222`. Conflicts with `nc`. */
  servers?: string | string[];
  /** Credentials for `servers`. Conflicts with `nc`. */
  credentials?: Credentials;
  /** Connection name shown in `connz`. Default `ratebus-client-<pid>`. */
  name?: string;
  /** Use this connection instead of opening one; it is never closed by the client. */
  nc?: NatsConnection;
  /** Keep a copy on disk in this directory so a restart without NATS still serves. Default: memory only. */
  cacheDir?: string;
  /** Fresh below this confirmation age, ms. Default 30 min. */
  freshForMs?: number;
  /** Stale below this confirmation age, expired beyond, ms. Default 35 min. */
  staleForMs?: number;
  /**
   * Resync check period (bucket last sequence vs last applied revision), ms. Default 15000. With
   * `sync: 'tariffs'`: the confirmation poll period (jittered ±25 %), default 60000.
   */
  resyncIntervalMs?: number;
  /** Grace for in-flight deliveries before a resync check restarts the watch, ms. Default 1000. */
  resyncGraceMs?: number;
  /** Full relist period, ms. Default 300000. With `sync: 'tariffs'`: the full catch-up period, jittered ±25 %. */
  relistIntervalMs?: number;
  /** First retry delay for connect, bind and watch, ms. Default 500. */
  retryInitialMs?: number;
  /** Cap of the retry delay for connect, bind and watch, ms. Default 30000. */
  retryMaxMs?: number;
  /** Ping interval, ms. Default 5000. */
  pingIntervalMs?: number;
  /** Unanswered pings before the link is dead. Default 2. */
  maxPingOut?: number;
  /** Wait between reconnect attempts, ms. Default 1000. */
  reconnectTimeWaitMs?: number;
  /** Bound on one connection handshake, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** JetStream API timeout, ms. Default 5000. */
  jsTimeoutMs?: number;
  /** Default `ensure()` deadline, ms. Default 10000. */
  ensureTimeoutMs?: number;
  /** Interest renewal check period, ms. Default: a quarter of the interest bucket's TTL (jittered ±25 %). */
  interestCheckIntervalMs?: number;
  /** Row kept by `slots()` where DD and NDD twins exist. Default DIRECT_DEBIT. */
  preferredPaymentMethod?: PaymentMethod;
  /** Updates buffered per `updates()` iterator; the oldest are dropped beyond. Default 10000. */
  maxBufferedUpdates?: number;
  /** Clock for freshness, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Metrics hooks. */
  hooks?: ClientHooks;
  /** Last-resort upstream fetch when no fetcher answers. Default: off. */
  lastResort?: LastResortOptions;
  /** A pino logger (or anything with debug/info/warn/error). Default silent. */
  logger?: ClientLogger;
}

const pos = z.number().int().positive();
const isFn = (v: unknown) => typeof v === 'function';

const CredentialsSchema = z.union([
  z.strictObject({ user: z.string(), pass: z.string() }),
  z.strictObject({ token: z.string().min(1) }),
  z.strictObject({ creds: z.string().min(1) }),
]);
const isConnection = (v: unknown) => typeof v === 'object' && v !== null;

const LastResortSchema = z
  .strictObject({
    octopus: z.custom<OctopusClient | OctopusClientOptions>(
      (v) => typeof v === 'object' && v !== null,
      'an OctopusClient or its options',
    ),
    nc: z.custom<NatsConnection>(isConnection, 'a NatsConnection').optional(),
    credentials: CredentialsSchema.optional(),
    inboxPrefix: z.string().min(1).default(LAST_RESORT_INBOX_PREFIX),
    minIntervalMs: pos.default(DEFAULT_LAST_RESORT_MIN_INTERVAL_MS),
    checkIntervalMs: z.number().int().min(50).default(DEFAULT_LAST_RESORT_CHECK_INTERVAL_MS),
    probeTimeoutMs: z.number().int().min(50).default(DEFAULT_LAST_RESORT_PROBE_TIMEOUT_MS),
    fetchTimeoutMs: z.number().int().min(100).default(DEFAULT_LAST_RESORT_FETCH_TIMEOUT_MS),
    lockTimeoutMs: z.number().int().min(100).default(DEFAULT_LOCK_TIMEOUT_MS),
    lockMs: z.number().int().min(1_000).default(DEFAULT_LOCK_MS),
    windowDays: z.number().int().min(1).max(366).default(DEFAULT_WINDOW_DAYS),
  })
  .superRefine((o, ctx) => {
    if (o.nc && o.credentials) {
      ctx.addIssue({ code: 'custom', path: ['nc'], message: 'give either nc or credentials, not both' });
    }
  });

export type ResolvedLastResort = z.infer<typeof LastResortSchema>;

const TariffRefSchema = z.strictObject({ product: z.string(), tariff: z.string() }).transform((t, ctx) => {
  try {
    return tariffRef(t.product, t.tariff);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
    return z.NEVER;
  }
});

const OptionsSchema = z
  .strictObject({
    sync: z.enum(['bucket', 'tariffs']).default('bucket'),
    tariffs: z.array(TariffRefSchema).optional(),
    servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    credentials: CredentialsSchema.optional(),
    name: z.string().min(1).max(200).optional(),
    nc: z.custom<NatsConnection>(isConnection, 'a NatsConnection').optional(),
    cacheDir: z.string().min(1).optional(),
    freshForMs: pos.default(DEFAULT_FRESH_FOR_MS),
    staleForMs: pos.default(DEFAULT_STALE_FOR_MS),
    resyncIntervalMs: z.number().int().min(50).optional(),
    resyncGraceMs: z.number().int().min(0).default(DEFAULT_RESYNC_GRACE_MS),
    relistIntervalMs: z.number().int().min(100).default(DEFAULT_RELIST_INTERVAL_MS),
    retryInitialMs: z.number().int().min(10).default(DEFAULT_RETRY_INITIAL_MS),
    retryMaxMs: z.number().int().min(10).default(DEFAULT_RETRY_MAX_MS),
    pingIntervalMs: z.number().int().min(100).default(DEFAULT_PING_INTERVAL_MS),
    maxPingOut: z.number().int().min(1).max(10).default(DEFAULT_MAX_PING_OUT),
    reconnectTimeWaitMs: z.number().int().min(10).default(DEFAULT_RECONNECT_TIME_WAIT_MS),
    connectTimeoutMs: z.number().int().min(100).default(DEFAULT_CONNECT_TIMEOUT_MS),
    jsTimeoutMs: z.number().int().min(100).default(DEFAULT_JS_TIMEOUT_MS),
    ensureTimeoutMs: pos.default(DEFAULT_ENSURE_TIMEOUT_MS),
    interestCheckIntervalMs: z.number().int().min(50).optional(),
    preferredPaymentMethod: z.enum(['DIRECT_DEBIT', 'NON_DIRECT_DEBIT']).default('DIRECT_DEBIT'),
    maxBufferedUpdates: pos.default(DEFAULT_MAX_BUFFERED_UPDATES),
    now: z.custom<() => number>(isFn, 'a function').optional(),
    hooks: z
      .strictObject({
        onUpdate: z.custom<NonNullable<ClientHooks['onUpdate']>>(isFn, 'a function').optional(),
        onReject: z.custom<NonNullable<ClientHooks['onReject']>>(isFn, 'a function').optional(),
        onResync: z.custom<NonNullable<ClientHooks['onResync']>>(isFn, 'a function').optional(),
        onLastResort: z.custom<NonNullable<ClientHooks['onLastResort']>>(isFn, 'a function').optional(),
      })
      .optional(),
    lastResort: LastResortSchema.optional(),
    logger: z
      .custom<ClientLogger>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          ['debug', 'info', 'warn', 'error'].every((m) => isFn((v as Record<string, unknown>)[m])),
        'a logger with debug/info/warn/error',
      )
      .optional(),
  })
  .superRefine((o, ctx) => {
    if (o.nc && (o.servers !== undefined || o.credentials !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['nc'],
        message: 'give either nc or servers/credentials, not both',
      });
    }
    if (o.staleForMs <= o.freshForMs) {
      ctx.addIssue({ code: 'custom', path: ['staleForMs'], message: 'must be greater than freshForMs' });
    }
    if (o.nc && o.lastResort?.credentials) {
      ctx.addIssue({
        code: 'custom',
        path: ['lastResort', 'credentials'],
        message: 'opens a connection to servers; with nc, give lastResort.nc instead',
      });
    }
    if (o.retryMaxMs < o.retryInitialMs) {
      ctx.addIssue({ code: 'custom', path: ['retryMaxMs'], message: 'must be at least retryInitialMs' });
    }
    if (o.tariffs && o.sync !== 'tariffs') {
      ctx.addIssue({
        code: 'custom',
        path: ['tariffs'],
        message: "needs sync: 'tariffs' (bucket mode holds every tariff)",
      });
    }
  })
  .transform((o) => ({
    ...o,
    resyncIntervalMs:
      o.resyncIntervalMs ??
      (o.sync === 'tariffs' ? DEFAULT_TARIFFS_RESYNC_INTERVAL_MS : DEFAULT_RESYNC_INTERVAL_MS),
    tariffs: (o.tariffs ?? []) as TariffRef[],
  }));

export type ResolvedOptions = z.output<typeof OptionsSchema>;

/** Validates options once, reporting every problem at once; fills in defaults. */
export function resolveOptions(input: RateClientOptions): ResolvedOptions {
  const r = OptionsSchema.safeParse(input);
  if (r.success) return r.data;
  throw new InvalidOptionsError(r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
}
