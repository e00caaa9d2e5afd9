import { hostname } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@ratebus/bus';
import { credentialsOf, RateClient } from '@ratebus/client';
import { followSimulatorClock } from '@ratebus/service-kit';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { GatewayMetrics } from './metrics.js';
import { MirrorWriter } from './mirror.js';
import { attachMirror, mirrorTariffs } from './mirror-sync.js';
import { PredbatFeed } from './predbat-feed.js';
import { Gateway } from './server.js';
import { DeferredUrlCache, NatsUrlCache, type UrlCache } from './url-cache.js';

/** Ping interval of the URL-cache connection, ms (finds a dead link within about 2 pings). */
const URL_CACHE_PING_INTERVAL_MS = 5_000;
/** Wait between reconnect attempts of the URL-cache connection, ms. */
const URL_CACHE_RECONNECT_TIME_WAIT_MS = 1_000;

/** Default connection name: `ratebus-gateway-{host}-{pid}`, printable ASCII only. */
export function defaultGatewayName(host = hostname(), pid = process.pid): string {
  return `ratebus-gateway-${host}-${pid}`.replace(/[^!-~]/g, '_');
}

export interface GatewayServiceOptions {
  config: GatewayConfig;
  logger: Logger;
  /** Connection name of the rate client (the URL-cache connection adds `-urls`). Default: host and pid. */
  name?: string;
  /** Metrics; default a fresh set with the process's default metrics. */
  metrics?: GatewayMetrics;
}

/**
 * The gateway: the rate client, the URL-cache connection (made in the background: the URL paths answer 503
 * until it is up), the optional file mirror and PredBat storage feed, and the HTTP server. `stop()`: HTTP →
 * mirror → feed → client → URL-cache connection.
 */
export class GatewayService implements AsyncDisposable {
  readonly metrics: GatewayMetrics;
  readonly #opts: GatewayServiceOptions;
  readonly #log: Logger;
  readonly #name: string;
  #client: RateClient | null = null;
  #urlConnection: NatsConnection | null = null;
  #writer: MirrorWriter | null = null;
  #detachMirror = (): void => {};
  #feed: PredbatFeed | null = null;
  #gateway: Gateway | null = null;
  #stopping: Promise<void> | null = null;

  constructor(opts: GatewayServiceOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#name = opts.name ?? defaultGatewayName();
    this.metrics = opts.metrics ?? new GatewayMetrics({ defaultMetrics: true });
  }

  /** The HTTP server, once started. */
  get gateway(): Gateway | null {
    return this.#gateway;
  }

  /** The embedded rate client, once connected. */
  get client(): RateClient | null {
    return this.#client;
  }

  /** Connects the client, starts the URL-cache connection, the mirror, the feed, then listens. */
  async start(): Promise<void> {
    const { config } = this.#opts;
    // Demos run the simulator at another date or speed: ages must be measured on its clock.
    const simClock = config.simClock ? await followSimulatorClock(config.upstreamOrigin) : null;
    if (simClock) this.#log.warn({ speed: simClock.speed }, 'following the simulator clock');
    const now = simClock ? () => simClock.now() : Date.now;
    const client = await this.#connectClient(now);
    const urlCache = this.#connectUrlCache();
    await this.#startMirror(client);
    this.#startFeed(client, urlCache, now);
    this.#gateway = await Gateway.start({
      source: client,
      urlCache,
      logger: this.#log,
      metrics: this.metrics,
      port: config.port,
      host: config.host,
      ensureTimeoutMs: config.ensureTimeoutMs,
      upstreamOrigin: config.upstreamOrigin,
      now,
      ...(config.publicBaseUrl ? { publicBaseUrl: config.publicBaseUrl } : {}),
    });
  }

  /** Graceful and idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#gateway?.stop();
      this.#detachMirror();
      await this.#writer?.idle();
      await this.#feed?.stop();
      await this.#client?.close();
      await this.#urlConnection?.drain();
    })();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #connectClient(now: () => number): Promise<RateClient> {
    const { config } = this.#opts;
    const credentials = credentialsOf(config.nats.auth);
    const client = await RateClient.connect({
      servers: [...config.nats.servers],
      ...(credentials ? { credentials } : {}),
      ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
      sync: config.sync,
      ...(config.resyncIntervalMs !== undefined ? { resyncIntervalMs: config.resyncIntervalMs } : {}),
      ...(config.sync === 'tariffs' && config.predbat ? { tariffs: config.predbat.tariffs } : {}),
      name: this.#name,
      logger: this.#log.child({ component: 'client' }),
      now,
    });
    this.#client = client;
    this.metrics.observeClient(client);
    return client;
  }

  /** The URL-cache connection, made in the background; a connection that comes up after stop() is closed. */
  #connectUrlCache(): UrlCache {
    const { config } = this.#opts;
    const pending = connectNats(config.nats, {
      name: `${this.#name}-urls`,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      pingIntervalMs: URL_CACHE_PING_INTERVAL_MS,
      maxPingOut: 2,
      reconnectTimeWaitMs: URL_CACHE_RECONNECT_TIME_WAIT_MS,
    }).then(async (nc) => {
      if (this.#stopping !== null) {
        await nc.close();
        throw new Error('stopped before the URL cache connection was up');
      }
      this.#urlConnection = nc;
      this.#log.info({ server: nc.getServer() }, 'URL cache connection up');
      return new NatsUrlCache({ nc, by: this.#name, timeoutMs: config.urlCacheTimeoutMs });
    });
    return new DeferredUrlCache(pending, (e) => this.#log.error({ err: e }, 'URL cache connection failed'));
  }

  async #startMirror(client: RateClient): Promise<void> {
    const { mirrorDir } = this.#opts.config;
    if (!mirrorDir) return;
    const writer = new MirrorWriter({
      dir: mirrorDir,
      logger: this.#log.child({ component: 'mirror' }),
      onWrite: (outcome) => this.metrics.mirrorWrites.inc({ outcome }),
    });
    this.#writer = writer;
    await writer.prepare();
    this.#detachMirror = attachMirror(client, writer, client.tariffs());
    void client.ready().then(() => mirrorTariffs(client, writer, client.tariffs()));
  }

  #startFeed(client: RateClient, urlCache: UrlCache, now: () => number): void {
    const { config } = this.#opts;
    if (!config.predbat) return;
    const feed = new PredbatFeed({
      ...config.predbat,
      source: client,
      urlCache,
      logger: this.#log.child({ component: 'predbat' }),
      ensureTimeoutMs: config.ensureTimeoutMs,
      now,
      onWrite: (outcome) => this.metrics.predbatWrites.inc({ outcome }),
    });
    this.#feed = feed;
    // Fed from the initial snapshot on: entries restored from CACHE_DIR keep their honest `created`.
    void client
      .ready()
      .then(() => feed.start())
      .catch((e: unknown) => this.#log.error({ err: e }, 'PredBat storage feed failed to start'));
    this.#log.info(
      { dir: config.predbat.dir, tariffs: config.predbat.tariffs.length },
      'PredBat storage feed on',
    );
  }
}
