import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import type { NatsAuth } from './nats-settings.js';

/** Where to connect and how to log in: {@link NatsSettings} or anything with the same fields. */
export interface NatsTarget {
  readonly servers: string | readonly string[];
  /** The creds file's path is not needed here, only its contents. */
  readonly auth: Exclude<NatsAuth, { kind: 'creds' }> | { readonly kind: 'creds'; readonly creds: string };
  /** Reply inbox prefix; undefined: the profile's, else nats.js `_INBOX`. */
  readonly inboxPrefix?: string | undefined;
}

/** How a connection behaves; unset fields keep nats.js's defaults. */
export interface NatsConnectionProfile {
  /** Connection name shown in `connz`. */
  readonly name?: string;
  /** Reply inbox prefix when the target has none (e.g. the fetcher role's). */
  readonly inboxPrefix?: string;
  /** Reconnect attempts per server after a lost link: -1 for ever, 0 never. */
  readonly maxReconnectAttempts: number;
  /** Wait between reconnect attempts, ms. */
  readonly reconnectTimeWaitMs?: number;
  /** Client ping interval, ms: a dead link is noticed within about (maxPingOut + 1) × this. */
  readonly pingIntervalMs?: number;
  /** Unanswered pings before the link counts as stale. */
  readonly maxPingOut?: number;
  /** Bound on the first connection's handshake, ms. */
  readonly timeoutMs?: number;
  /** Keep trying the first connection in the background instead of failing at once. */
  readonly waitOnFirstConnect?: boolean;
}

/** nats.js connection options: the one place that turns settings into a connection's options. */
export function natsConnectionOptions(target: NatsTarget, profile: NatsConnectionProfile): ConnectionOptions {
  const o: ConnectionOptions = {
    servers: typeof target.servers === 'string' ? target.servers : [...target.servers],
    maxReconnectAttempts: profile.maxReconnectAttempts,
  };
  if (profile.name !== undefined) o.name = profile.name;
  const inboxPrefix = target.inboxPrefix ?? profile.inboxPrefix;
  if (inboxPrefix !== undefined) o.inboxPrefix = inboxPrefix;
  if (profile.reconnectTimeWaitMs !== undefined) o.reconnectTimeWait = profile.reconnectTimeWaitMs;
  if (profile.pingIntervalMs !== undefined) o.pingInterval = profile.pingIntervalMs;
  if (profile.maxPingOut !== undefined) o.maxPingOut = profile.maxPingOut;
  if (profile.timeoutMs !== undefined) o.timeout = profile.timeoutMs;
  if (profile.waitOnFirstConnect !== undefined) o.waitOnFirstConnect = profile.waitOnFirstConnect;
  const a = target.auth;
  if (a.kind === 'user') Object.assign(o, { user: a.user, pass: a.password });
  else if (a.kind === 'token') o.token = a.token;
  else if (a.kind === 'creds') o.authenticator = credsAuthenticator(new TextEncoder().encode(a.creds));
  return o;
}

/** Connects with {@link natsConnectionOptions}. */
export function connectNats(target: NatsTarget, profile: NatsConnectionProfile): Promise<NatsConnection> {
  return connect(natsConnectionOptions(target, profile));
}
