import { type ConnectionOptions, connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsAuth, type NatsTarget, natsConnectionOptions } from '@ratebus/bus';
import { DEFAULT_NATS_URL } from '@ratebus/schema';
import { type ClientLogger, errInfo } from './logger.js';
import type { Credentials, ResolvedOptions } from './options.js';
import { type Backoff, sleep } from './timing.js';

/** The login of `credentials`, as the connection builder takes it. */
function authOf(c: Credentials | undefined): NatsTarget['auth'] {
  if (c && 'user' in c) return { kind: 'user', user: c.user, password: c.pass };
  if (c && 'token' in c) return { kind: 'token', token: c.token };
  if (c && 'creds' in c) return { kind: 'creds', creds: c.creds };
  return { kind: 'none' };
}

/** The client's credentials for a login parsed from the environment (`parseNatsSettings`); none: undefined. */
export function credentialsOf(auth: NatsAuth): Credentials | undefined {
  if (auth.kind === 'user') return { user: auth.user, pass: auth.password };
  if (auth.kind === 'token') return { token: auth.token };
  if (auth.kind === 'creds') return { creds: auth.creds };
  return undefined;
}

/** Connection options with the informer's needs: endless reconnects and quick dead-link detection. */
export function connectionOptions(o: ResolvedOptions, name: string): ConnectionOptions {
  return natsConnectionOptions(
    { servers: o.servers ?? DEFAULT_NATS_URL, auth: authOf(o.credentials) },
    {
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWaitMs: o.reconnectTimeWaitMs,
      pingIntervalMs: o.pingIntervalMs,
      maxPingOut: o.maxPingOut,
      timeoutMs: o.connectTimeoutMs,
    },
  );
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
