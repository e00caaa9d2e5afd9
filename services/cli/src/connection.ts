import { hostname } from 'node:os';
import type { ConnectionOptions } from '@nats-io/transport-node';
import {
  NATS_ENV,
  type NatsAuth,
  type NatsSetting,
  type NatsSettingLabels,
  type NatsSettings,
  type NatsSettingsInput,
  natsConnectionOptions,
  natsEnvInput,
  parseNatsSettings,
  type ReadTextFile,
} from '@ratebus/bus';
import { DEFAULT_NATS_URL, INBOX_PREFIXES } from '@ratebus/schema';
import type { ConnectionFlags } from './args.js';
import { UsageError } from './errors.js';

export { DEFAULT_NATS_URL };
/** Ping interval of long-running commands (`watch`), ms: a dead link is noticed within about 3 × this. */
export const DEFAULT_PING_INTERVAL_MS = 5_000;
/** Wait between reconnect attempts of `watch`, ms. */
export const DEFAULT_RECONNECT_TIME_WAIT_MS = 1_000;

/**
 * Inbox prefixes the well-known users must use (services/nats/accounts.conf): replies to the inspector and
 * the fetcher travel on their own prefixes; pods and the gateway keep the default `_INBOX`.
 */
export const ROLE_INBOX_PREFIX: Readonly<Record<string, string>> = {
  inspector: INBOX_PREFIXES.inspector,
  fetcher: INBOX_PREFIXES.fetcher,
};

/** The environment variables read: the services' NATS variables, plus NATS_INBOX_PREFIX. */
export const ENV_VARS: readonly string[] = Object.values(NATS_ENV);

export type Env = Readonly<Record<string, string | undefined>>;
/** Reads a file as UTF-8 text; throws when it cannot. */
export type ReadFile = ReadTextFile;
export type { NatsAuth };

/** Validated connection settings. */
export interface ConnectionSettings extends NatsSettings {
  /** Connection name, also the `by` of refresh requests: printable ASCII without spaces. */
  readonly name: string;
}

/** Default connection name: `ratebus-cli-{host}-{pid}`, cut to 128 printable characters. */
export function defaultName(host = hostname(), pid = process.pid): string {
  return `ratebus-cli-${host.replace(/[^!-~]/g, '') || 'host'}-${pid}`.slice(0, 128);
}

/**
 * Merges flags over the environment and validates once, listing every problem in one {@link UsageError}.
 * Flags win per setting; any auth flag (`--user`, `--password`, `--creds`) replaces the environment's
 * credentials as a whole, so a flag never mixes with an env login. One login method only.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: Env,
  readFile: ReadFile,
  name = defaultName(),
): ConnectionSettings {
  const fromEnv = natsEnvInput(env, Object.keys(NATS_ENV) as NatsSetting[]);
  const authFlags = flags.user !== undefined || flags.password !== undefined || flags.creds !== undefined;
  const input: NatsSettingsInput = {
    url: flags.server ?? fromEnv.url,
    ...(authFlags
      ? { user: flags.user, password: flags.password, creds: flags.creds }
      : { user: fromEnv.user, password: fromEnv.password, creds: fromEnv.creds, token: fromEnv.token }),
    inboxPrefix: flags.inboxPrefix ?? fromEnv.inboxPrefix,
  };
  const labels: NatsSettingLabels = {
    ...NATS_ENV,
    ...(flags.server !== undefined ? { url: '--server' } : {}),
    ...(authFlags ? { user: '--user', password: '--password', creds: '--creds' } : {}),
    ...(flags.inboxPrefix !== undefined ? { inboxPrefix: '--inbox-prefix' } : {}),
  };
  const r = parseNatsSettings(input, readFile, labels);
  if (!r.ok) throw new UsageError(r.issues.map((i) => i.message));
  const inboxPrefix =
    r.settings.inboxPrefix ?? (input.user !== undefined ? ROLE_INBOX_PREFIX[input.user] : undefined);
  return { ...r.settings, inboxPrefix, name };
}

/** How a command connects: the handshake bound, ms, and whether it reconnects for ever (`watch`). */
export interface ConnectMode {
  readonly timeoutMs: number;
  readonly persistent: boolean;
}

/**
 * nats.js options. One-shot commands fail fast (no reconnect, `timeoutMs` handshake); `watch` reconnects
 * for ever with a short ping so it rides out server restarts.
 */
export function natsOptions(
  s: ConnectionSettings,
  { timeoutMs, persistent }: ConnectMode,
): ConnectionOptions {
  return natsConnectionOptions(s, {
    name: s.name,
    timeoutMs,
    maxReconnectAttempts: persistent ? -1 : 0,
    reconnectTimeWaitMs: DEFAULT_RECONNECT_TIME_WAIT_MS,
    pingIntervalMs: DEFAULT_PING_INTERVAL_MS,
    maxPingOut: 2,
  });
}
