#!/usr/bin/env node
/**
 * The fetcher process: wiring only. config → logger → NATS → buckets → upstream client → worker → elector →
 * HTTP; SIGTERM/SIGINT: stop electing → abort the fence → await the worker → release the lease → drain NATS
 * → close HTTP → exit 0.
 */
import { readFileSync } from 'node:fs';
import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import { DEFAULT_USER_AGENT, followSimulatorClock, OctopusClient, RequestBudget } from '@ratebus/octopus';
import { INBOX_PREFIXES } from '@ratebus/schema';
import { Liveness } from '@ratebus/service-kit';
import { type Logger, pino } from 'pino';
import { type FetcherBuckets, openBuckets } from './buckets.js';
import { type FetcherConfig, loadConfig } from './config.js';
import { ConfirmationWatch } from './confirmations.js';
import { BucketMismatchError, ConfigError } from './errors.js';
import { type HttpServerHandle, startHttpServer } from './http.js';
import { LeaderElector } from './lease/elector.js';
import { createMetrics } from './metrics.js';
import { realClock } from './worker/clock.js';
import type { Clock } from './worker/types.js';
import { UpstreamRequestCounter } from './worker/upstream-counter.js';
import { FetcherWorker } from './worker/worker.js';

/** Retry cadence while JetStream is not reachable at start, ms. */
const STARTUP_RETRY_MS = 2_000;
/** A shutdown that takes longer than this is abandoned with exit code 1, ms. */
const SHUTDOWN_TIMEOUT_MS = 20_000;

function natsOptions(config: FetcherConfig): ConnectionOptions {
  const o: ConnectionOptions = {
    servers: config.nats.servers,
    name: `ratebus-fetcher ${config.fetcherId}`,
    // Replies to the fetcher (JetStream API, lease) stay off the pods' _INBOX.> (services/nats/accounts.conf).
    inboxPrefix: INBOX_PREFIXES.fetcher,
    maxReconnectAttempts: -1,
    pingInterval: config.nats.pingIntervalMs,
    maxPingOut: 2,
    reconnectTimeWait: 500,
  };
  const auth = config.nats.auth;
  if (auth.kind === 'user') Object.assign(o, { user: auth.user, pass: auth.password });
  else if (auth.kind === 'token') o.token = auth.token;
  else if (auth.kind === 'creds') o.authenticator = credsAuthenticator(new TextEncoder().encode(auth.creds));
  return o;
}

/**
 * A scheduling clock that follows the simulator's (OCTOPUS_SIM_CLOCK=1): demos and benchmarks run the
 * simulator at another date or faster than real time. Lease timings stay on the real monotonic clock.
 */
async function simulatorClock(baseUrl: string, logger: Logger): Promise<Clock> {
  const followed = await followSimulatorClock(baseUrl);
  logger.warn(
    { now: new Date(followed.now()).toISOString(), speed: followed.speed },
    'following the simulator clock',
  );
  return {
    now: () => followed.now(),
    sleep: (ms, signal) => realClock.sleep(followed.speed > 0 ? ms / followed.speed : 1_000, signal),
  };
}

async function main(): Promise<void> {
  let config: FetcherConfig;
  try {
    config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
  } catch (e) {
    const log = pino({ base: { service: 'ratebus-fetcher' } });
    if (e instanceof ConfigError) log.fatal({ issues: e.issues }, e.message);
    else log.fatal({ err: e }, 'cannot load configuration');
    process.exit(2);
  }
  // Written synchronously (pino's default buffers): a line logged before a crash or a SIGKILL is never lost,
  // e.g. the `published` line of a document already on the bus. The fetcher logs a few lines a minute.
  const logger = pino(
    { level: config.logLevel, base: { service: 'ratebus-fetcher', fetcherId: config.fetcherId } },
    pino.destination({ dest: 1, sync: true }),
  );
  const lease = config.ratebus.lease;
  logger.info(
    { servers: config.nats.servers, configPath: config.configPath, replicas: config.replicas, lease },
    'starting',
  );

  const metrics = createMetrics();
  const liveness = new Liveness().start();
  const startup = new AbortController();
  let nc: NatsConnection | null = null;
  let natsConnected = false;
  const setConnected = (up: boolean) => {
    natsConnected = up;
    metrics.natsConnected(up);
  };
  let confirmations: ConfirmationWatch | null = null;
  let buckets: FetcherBuckets | null = null;
  let elector: LeaderElector | null = null;
  let octopus: OctopusClient | null = null;
  let http: HttpServerHandle | null = null;
  let leading: Promise<void> = Promise.resolve();

  let stopping: Promise<void> | null = null;
  const shutdown = (why: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ why }, 'shutting down');
      const hard = setTimeout(() => {
        logger.error('shutdown timed out');
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      hard.unref();
      startup.abort();
      await elector?.stop(); // aborts the fence of a current term
      await leading; // the worker's in-flight work has stopped
      await elector?.release(); // a follower's next create() wins at once
      await confirmations?.stop();
      await octopus?.close();
      await nc?.drain().catch((err: unknown) => logger.warn({ err }, 'NATS drain failed'));
      await http?.close();
      clearTimeout(hard);
      logger.info('stopped');
    })();
    return stopping;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      shutdown(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }

  if (config.metrics.port > 0) {
    http = await startHttpServer({
      port: config.metrics.port,
      host: config.metrics.host,
      registry: metrics.registry,
      logger,
      // Liveness never looks at NATS: during an outage the fetcher must wait and reconnect, not restart.
      live: () => liveness.check(),
      ready: () => {
        const state = elector?.state ?? 'idle';
        const ok = natsConnected && buckets !== null && (state === 'candidate' || state === 'leader');
        return {
          ok,
          detail: {
            nats: natsConnected ? 'connected' : 'disconnected',
            buckets: buckets !== null,
            elector: state,
          },
        };
      },
    });
    logger.info(
      { port: http.port, host: config.metrics.host },
      'HTTP listening (/metrics, /livez, /healthz, /readyz)',
    );
  }

  // NATS and buckets: retried while the server or JetStream is not there yet (e.g. a cluster still starting).
  while (!startup.signal.aborted) {
    try {
      nc ??= await connect(natsOptions(config));
      setConnected(true);
      buckets = await openBuckets(nc, config.ratebus, { replicas: config.replicas, logger });
      break;
    } catch (e) {
      if (e instanceof BucketMismatchError) throw e;
      logger.warn({ err: e }, 'NATS or JetStream not available yet; retrying');
      await new Promise((r) => setTimeout(r, STARTUP_RETRY_MS));
    }
  }
  if (!nc || !buckets) return; // shut down during startup
  const conn = nc;
  void (async () => {
    for await (const s of conn.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') setConnected(false);
      if (s.type === 'reconnect') setConnected(true);
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        logger.info({ status: s.type }, `NATS ${s.type}`);
      }
    }
  })().catch((err: unknown) => logger.warn({ err }, 'NATS status monitor ended'));
  void conn.closed().then((err) => {
    setConnected(false);
    if (!stopping) {
      liveness.fatal('NATS connection closed');
      logger.fatal({ err }, 'NATS connection closed unexpectedly');
      process.exit(1);
    }
  });

  const upstreamCounter = new UpstreamRequestCounter();
  const { requestsPerMinute } = config.ratebus.upstream;
  octopus = new OctopusClient({
    baseUrl: config.ratebus.upstream.baseUrl,
    timeoutMs: config.ratebus.upstream.timeoutMs,
    // New tariffs (pods' fresh interest, refreshes, URL misses) never take the reserved share.
    budget: new RequestBudget({
      requests: requestsPerMinute,
      reserved: Math.floor((requestsPerMinute * config.ratebus.limits.reservedBudgetPercent) / 100),
    }),
    preferredPaymentMethod: config.ratebus.upstream.preferredPaymentMethod,
    userAgent: `${DEFAULT_USER_AGENT} fetcher/${config.fetcherId}`,
    logger: logger.child({ component: 'octopus' }),
    hooks: {
      onRequest: (e) => {
        metrics.upstreamRequest(e);
        upstreamCounter.hooks.onRequest(e);
      },
    },
    // No request leaves this process unless a term's fence holds at the moment it is sent: after a pause
    // (SIGSTOP, a long GC) the deadline has passed before any timer of the lease has had a chance to run.
    beforeEachRequest: () => worker.assertLeading(),
  });
  const client = octopus;
  metrics.setBudgetSource(() => client.budget.available);

  const clock = config.simClock ? await simulatorClock(config.ratebus.upstream.baseUrl, logger) : realClock;
  const { lease: leaseKv, ...workerBuckets } = buckets;
  // Every replica watches the confirmations, so the data-age gauges do not depend on who leads.
  const watch = new ConfirmationWatch({
    checks: buckets.checks,
    configured: config.ratebus.tariffs,
    logger: logger.child({ component: 'confirmations' }),
  });
  confirmations = watch;
  watch.start();
  metrics.setConfirmationSource(
    () => watch.list(),
    () => clock.now(),
  );
  const worker = new FetcherWorker(
    {
      nc: conn,
      buckets: workerBuckets,
      octopus,
      config: config.ratebus,
      holder: config.fetcherId,
      logger: logger.child({ component: 'worker' }),
      metrics: metrics.worker,
      clock,
    },
    { upstreamRequests: upstreamCounter },
  );

  elector = new LeaderElector({
    kv: leaseKv,
    holder: config.fetcherId,
    durationMs: lease.durationMs,
    renewDeadlineMs: lease.renewDeadlineMs,
    retryPeriodMs: lease.retryPeriodMs,
    logger: logger.child({ component: 'lease' }),
    observer: metrics.elector,
    onElected: (fence) => {
      const previous = leading;
      leading = previous
        .then(() => worker.lead(fence))
        .then(async () => {
          // The work stopped while the lease is still ours: it found a newer term in the store. Give the term
          // up so that a fresh election runs, instead of renewing a lease nobody works under.
          if (!stopping && elector?.term === fence.term) await elector.resign(fence.term);
        });
    },
  });
  if (startup.signal.aborted) return;
  await elector.start();
}

main().catch((err: unknown) => {
  pino({ base: { service: 'ratebus-fetcher' } }).fatal({ err }, 'fetcher failed to start');
  process.exit(1);
});
