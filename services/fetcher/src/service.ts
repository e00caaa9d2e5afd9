import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@ratebus/bus';
import { DEFAULT_USER_AGENT, OctopusClient, RequestBudget } from '@ratebus/octopus';
import { INBOX_PREFIXES } from '@ratebus/schema';
import { followSimulatorClock, Liveness } from '@ratebus/service-kit';
import type { Logger } from 'pino';
import { type FetcherBuckets, openBuckets } from './buckets.js';
import type { FetcherConfig } from './config.js';
import { ConfirmationWatch } from './confirmations.js';
import { BucketMismatchError, NotLeaderError } from './errors.js';
import { realClock } from './leader/clock.js';
import { TermWork } from './leader/term-work.js';
import type { Clock } from './leader/types.js';
import { UpstreamRequestCounter } from './leader/upstream-counter.js';
import { LeaderElector } from './lease/elector.js';
import { createMetrics, type FetcherMetrics } from './metrics.js';
import { type ProbeResult, type ProbesServerHandle, startProbesServer } from './probes-server.js';

/** Retry cadence while NATS or JetStream is not reachable at start, ms. */
export const DEFAULT_STARTUP_RETRY_MS = 2_000;
/** Wait between reconnect attempts, ms. */
const RECONNECT_TIME_WAIT_MS = 500;

export interface FetcherServiceOptions {
  config: FetcherConfig;
  logger: Logger;
  /**
   * The NATS connection closed while the service was running (not stopping): the process cannot recover and
   * should exit. Liveness already reports it. Default: nothing more.
   */
  onFatal?: (reason: string) => void;
  /** Retry cadence while NATS or JetStream is not reachable at start, ms. Default 2000. */
  startupRetryMs?: number;
}

/** What is bound once NATS and the buckets are there. */
interface Running {
  readonly nc: NatsConnection;
  readonly buckets: FetcherBuckets;
  readonly octopus: OctopusClient;
  readonly confirmations: ConfirmationWatch;
  readonly elector: LeaderElector;
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

/**
 * The fetcher: HTTP probes and metrics, NATS and the buckets (retried until they are there), the upstream
 * client, the confirmation watch, the worker and the lease election that hands the worker its terms.
 * `stop()`: stop electing → abort the fence → await the worker → release the lease → drain NATS → close HTTP.
 */
export class FetcherService implements AsyncDisposable {
  readonly metrics: FetcherMetrics = createMetrics();
  readonly #opts: FetcherServiceOptions;
  readonly #log: Logger;
  readonly #liveness = new Liveness();
  readonly #startup = new AbortController();
  readonly #upstreamRequests = new UpstreamRequestCounter();
  #probesServer: ProbesServerHandle | null = null;
  #nc: NatsConnection | null = null;
  #buckets: FetcherBuckets | null = null;
  #running: Running | null = null;
  #worker: TermWork | null = null;
  #natsConnected = false;
  #leading: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | null = null;

  constructor(opts: FetcherServiceOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
  }

  /** The port of /metrics, /livez and /readyz, or null when the HTTP server is off (`metrics.port` 0). */
  get httpPort(): number | null {
    return this.#probesServer?.port ?? null;
  }

  /** The election state: `candidate` or `leader` once running. */
  get electorState(): string {
    return this.#running?.elector.state ?? 'idle';
  }

  /**
   * Starts everything; resolves once the election runs (or when `stop()` interrupts the start-up). Rejects
   * when the buckets exist with settings this fetcher will not use ({@link BucketMismatchError}).
   */
  async start(): Promise<void> {
    const { config } = this.#opts;
    this.#log.info(
      {
        servers: config.nats.servers,
        configPath: config.configPath,
        replicas: config.replicas,
        lease: config.ratebus.lease,
      },
      'starting',
    );
    this.#liveness.start();
    await this.#startProbesServer();
    const bound = await this.#connectUntilReady();
    if (!bound) return; // stopped during start-up
    this.#monitor(bound.nc);
    const clock = config.simClock
      ? await simulatorClock(config.ratebus.upstream.baseUrl, this.#log)
      : realClock;
    if (this.#startup.signal.aborted) return;
    // From here to the election nothing awaits: stop() finds either nothing or all of it to stop.
    const octopus = this.#createOctopus();
    const confirmations = this.#watchConfirmations(bound.buckets, clock);
    const worker = this.#createWorker(bound, octopus, clock);
    const elector = this.#createElector(bound.buckets, worker);
    this.#running = { ...bound, octopus, confirmations, elector };
    await elector.start();
  }

  /** Readiness: NATS connected, buckets bound, the elector running (able to work or take over). */
  ready(): ProbeResult {
    const state = this.electorState;
    const buckets = this.#buckets !== null;
    return {
      ok: this.#natsConnected && buckets && (state === 'candidate' || state === 'leader'),
      detail: { nats: this.#natsConnected ? 'connected' : 'disconnected', buckets, elector: state },
    };
  }

  /** Graceful and idempotent: the lease is released only after the worker's in-flight work has stopped. */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #shutdown(): Promise<void> {
    this.#startup.abort();
    const r = this.#running;
    await r?.elector.stop(); // aborts the fence of a current term
    await this.#leading; // the worker's in-flight work has stopped
    await r?.elector.release(); // a follower's next create() wins at once
    await r?.confirmations.stop();
    await r?.octopus.close();
    await this.#nc?.drain().catch((err: unknown) => this.#log.warn({ err }, 'NATS drain failed'));
    await this.#probesServer?.close();
    this.#liveness.stop();
  }

  async #startProbesServer(): Promise<void> {
    const { port, host } = this.#opts.config.metrics;
    if (port <= 0) return;
    this.#probesServer = await startProbesServer({
      port,
      host,
      registry: this.metrics.registry,
      logger: this.#log,
      // Liveness never looks at NATS: during an outage the fetcher must wait and reconnect, not restart.
      live: () => this.#liveness.check(),
      ready: () => this.ready(),
    });
    this.#log.info(
      { port: this.#probesServer.port, host },
      'HTTP listening (/metrics, /livez, /healthz, /readyz)',
    );
  }

  #setConnected(up: boolean): void {
    this.#natsConnected = up;
    this.metrics.natsConnected(up);
  }

  /** NATS and buckets, retried while the server or JetStream is not there yet (e.g. a cluster starting). */
  async #connectUntilReady(): Promise<{ nc: NatsConnection; buckets: FetcherBuckets } | null> {
    const { config } = this.#opts;
    while (!this.#startup.signal.aborted) {
      try {
        this.#nc ??= await this.#connect();
        if (!this.#nc) return null; // stopped while connecting
        this.#setConnected(true);
        const opts = { replicas: config.replicas, logger: this.#log };
        this.#buckets = await openBuckets(this.#nc, config.ratebus, opts);
        return { nc: this.#nc, buckets: this.#buckets };
      } catch (e) {
        if (e instanceof BucketMismatchError) throw e;
        this.#log.warn({ err: e }, 'NATS or JetStream not available yet; retrying');
        await realClock.sleep(this.#opts.startupRetryMs ?? DEFAULT_STARTUP_RETRY_MS, this.#startup.signal);
      }
    }
    return null;
  }

  /** One connection attempt; a connection made after stop() began is closed, not kept. */
  async #connect(): Promise<NatsConnection | null> {
    const { config } = this.#opts;
    const nc = await connectNats(config.nats, {
      name: `ratebus-fetcher ${config.fetcherId}`,
      // Replies to the fetcher (JetStream API, lease) stay off the pods' _INBOX.> (services/nats/accounts.conf).
      inboxPrefix: INBOX_PREFIXES.fetcher,
      maxReconnectAttempts: -1,
      pingIntervalMs: config.nats.pingIntervalMs,
      maxPingOut: 2,
      reconnectTimeWaitMs: RECONNECT_TIME_WAIT_MS,
    });
    if (!this.#startup.signal.aborted) return nc;
    await nc.close();
    return null;
  }

  /** Follows the connection's status for readiness and logs; a close while running is fatal. */
  #monitor(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'staleConnection') this.#setConnected(false);
        if (s.type === 'reconnect') this.#setConnected(true);
        if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
          this.#log.info({ status: s.type }, `NATS ${s.type}`);
        }
      }
    })().catch((err: unknown) => this.#log.warn({ err }, 'NATS status monitor ended'));
    void nc.closed().then((err) => {
      this.#setConnected(false);
      if (this.#stopping !== null) return;
      this.#liveness.fatal('NATS connection closed');
      this.#log.fatal({ err }, 'NATS connection closed unexpectedly');
      this.#opts.onFatal?.('NATS connection closed');
    });
  }

  #createOctopus(): OctopusClient {
    const { config } = this.#opts;
    const { upstream, limits } = config.ratebus;
    const octopus = new OctopusClient({
      baseUrl: upstream.baseUrl,
      timeoutMs: upstream.timeoutMs,
      // New tariffs (pods' fresh interest, refreshes, URL misses) never take the reserved share.
      budget: new RequestBudget({
        requests: upstream.requestsPerMinute,
        reserved: Math.floor((upstream.requestsPerMinute * limits.reservedBudgetPercent) / 100),
      }),
      preferredPaymentMethod: upstream.preferredPaymentMethod,
      userAgent: `${DEFAULT_USER_AGENT} fetcher/${config.fetcherId}`,
      logger: this.#log.child({ component: 'octopus' }),
      hooks: {
        onRequest: (e) => {
          this.metrics.upstreamRequest(e);
          this.#upstreamRequests.hooks.onRequest(e);
        },
      },
      // No request leaves this process unless a term's fence holds at the moment it is sent: after a pause
      // (SIGSTOP, a long GC) the deadline has passed before any timer of the lease has had a chance to run.
      beforeEachRequest: () => {
        if (!this.#worker) throw new NotLeaderError(0, 'not-elected');
        this.#worker.assertLeading();
      },
    });
    this.metrics.setBudgetSource(() => octopus.budget.available);
    return octopus;
  }

  /** Every replica watches the confirmations, so the data-age gauges do not depend on who leads. */
  #watchConfirmations(buckets: FetcherBuckets, clock: Clock): ConfirmationWatch {
    const watch = new ConfirmationWatch({
      checks: buckets.checks,
      configured: this.#opts.config.ratebus.tariffs,
      logger: this.#log.child({ component: 'confirmations' }),
    });
    watch.start();
    this.metrics.setConfirmationSource(
      () => watch.list(),
      () => clock.now(),
    );
    return watch;
  }

  #createWorker(
    bound: { nc: NatsConnection; buckets: FetcherBuckets },
    octopus: OctopusClient,
    clock: Clock,
  ): TermWork {
    const { config } = this.#opts;
    const { lease: _lease, ...buckets } = bound.buckets;
    this.#worker = new TermWork(
      {
        nc: bound.nc,
        buckets,
        octopus,
        config: config.ratebus,
        holder: config.fetcherId,
        logger: this.#log.child({ component: 'worker' }),
        metrics: this.metrics.worker,
        clock,
      },
      { upstreamRequests: this.#upstreamRequests },
    );
    return this.#worker;
  }

  #createElector(buckets: FetcherBuckets, worker: TermWork): LeaderElector {
    const { config } = this.#opts;
    const lease = config.ratebus.lease;
    const elector: LeaderElector = new LeaderElector({
      kv: buckets.lease,
      holder: config.fetcherId,
      durationMs: lease.durationMs,
      renewDeadlineMs: lease.renewDeadlineMs,
      retryPeriodMs: lease.retryPeriodMs,
      logger: this.#log.child({ component: 'lease' }),
      observer: this.metrics.elector,
      onElected: (fence) => {
        this.#leading = this.#leading
          .then(() => worker.lead(fence))
          .then(async () => {
            // The work stopped while the lease is still ours: it found a newer term in the store. Give the
            // term up so that a fresh election runs, instead of renewing a lease nobody works under.
            if (!this.#stopping && elector.term === fence.term) await elector.resign(fence.term);
          });
      },
    });
    return elector;
  }
}
