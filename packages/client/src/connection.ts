import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import { DEFAULT_NATS_URL } from '@ratebus/schema';
import { type ClientLogger, errInfo } from './logger.js';
import type { ResolvedOptions } from './options.js';
import { type Backoff, sleep } from './timing.js';

/** Connection options with the informer's needs: endless reconnects and quick dead-link detection. */
export function connectionOptions(o: ResolvedOptions, name: string): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: o.servers ?? DEFAULT_NATS_URL,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: o.reconnectTimeWaitMs,
    pingInterval: o.pingIntervalMs,
    maxPingOut: o.maxPingOut,
    timeout: o.connectTimeoutMs,
  };
  const c = o.credentials;
  if (c && 'user' in c) Object.assign(opts, { user: c.user, pass: c.pass });
  else if (c && 'token' in c) opts.token = c.token;
  else if (c && 'creds' in c) opts.authenticator = credsAuthenticator(new TextEncoder().encode(c.creds));
  return opts;
}

/**
 * Connects, retrying the FIRST connection with backoff until it succeeds or `signal` aborts (later
 * reconnects are nats.js's job). `onFailure` is told about each failed attempt, so the caller can serve
 * its persisted copy meanwhile. Resolves null when aborted.
 */
export async function connectWithRetry(
  opts: ConnectionOptions,
  backoff: Backoff,
  signal: AbortSignal,
  logger: ClientLogger,
  onFailure: (e: unknown) => void,
): Promise<NatsConnection | null> {
  while (!signal.aborted) {
    try {
      const nc = await connect(opts);
      if (signal.aborted) {
        await nc.close();
        return null;
      }
      return nc;
    } catch (e) {
      onFailure(e);
      const delay = backoff.next();
      logger.warn({ delayMs: Math.round(delay), ...errInfo(e) }, 'cannot reach NATS; retrying');
      await sleep(delay, signal);
    }
  }
  return null;
}
