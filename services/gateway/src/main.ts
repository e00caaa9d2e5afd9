/**
 * `npm run gateway`: wiring only — config, logger, the rate client, the URL-cache connection, the file
 * mirror, the HTTP server and graceful shutdown. The logic lives in the modules.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import { type Credentials, RateClient } from '@ratebus/client';
import { followSimulatorClock } from '@ratebus/octopus';
import { pino } from 'pino';
import { type GatewayConfig, loadConfig } from './config.js';
import { GatewayConfigError } from './errors.js';
import { GatewayMetrics } from './metrics.js';
import { MirrorWriter } from './mirror.js';
import { attachMirror, mirrorTariffs } from './mirror-sync.js';
import { PredbatFeed } from './predbat-feed.js';
import { Gateway } from './server.js';
import { DeferredUrlCache, NatsUrlCache } from './url-cache.js';

/** Bound on the whole shutdown before the process exits anyway, ms. */
const SHUTDOWN_TIMEOUT_MS = 15_000;
/** Ping interval of the URL-cache connection, ms (finds a dead link within about 2 pings). */
const PING_INTERVAL_MS = 5_000;

const name = `ratebus-gateway-${hostname()}-${process.pid}`.replace(/[^!-~]/g, '_');

function clientCredentials(c: GatewayConfig): Credentials | undefined {
  if (c.natsAuth.kind === 'user') return { user: c.natsAuth.user, pass: c.natsAuth.pass };
  if (c.natsAuth.kind === 'creds') return { creds: readFileSync(c.natsAuth.file, 'utf8') };
  return undefined;
}

function natsOptions(c: GatewayConfig): ConnectionOptions {
  const o: ConnectionOptions = {
    servers: c.natsServers,
    name: `${name}-urls`,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    pingInterval: PING_INTERVAL_MS,
    maxPingOut: 2,
    reconnectTimeWait: 1_000,
  };
  if (c.natsAuth.kind === 'user') Object.assign(o, { user: c.natsAuth.user, pass: c.natsAuth.pass });
  if (c.natsAuth.kind === 'creds') o.authenticator = credsAuthenticator(readFileSync(c.natsAuth.file));
  return o;
}

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    const boot = pino({ name: 'ratebus-gateway' });
    if (e instanceof GatewayConfigError) boot.fatal({ problems: e.problems }, 'invalid configuration');
    else boot.fatal({ err: e }, 'cannot read configuration');
    process.exitCode = 2;
    return;
  }
  const logger = pino({
    name: 'ratebus-gateway',
    level: config.logLevel,
    // Nothing logs request headers; this is the belt to those braces.
    redact: {
      paths: ['authorization', '*.authorization', '*.headers.authorization', 'pass', '*.pass'],
      censor: '[redacted]',
    },
  });

  const metrics = new GatewayMetrics({ defaultMetrics: true });
  const credentials = clientCredentials(config);
  // Demos run the simulator at another date or speed: ages must be measured on its clock.
  const simClock = config.simClock ? await followSimulatorClock(config.upstreamOrigin) : null;
  if (simClock) logger.warn({ speed: simClock.speed }, 'following the simulator clock');
  const now = simClock ? () => simClock.now() : Date.now;
  const client = await RateClient.connect({
    servers: config.natsServers,
    ...(credentials ? { credentials } : {}),
    ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
    sync: config.sync,
    ...(config.sync === 'tariffs' && config.predbat ? { tariffs: config.predbat.tariffs } : {}),
    name,
    logger: logger.child({ component: 'client' }),
    now,
  });
  metrics.observeClient(client);

  let urlConnection: NatsConnection | null = null;
  const pending = connect(natsOptions(config)).then((nc) => {
    urlConnection = nc;
    logger.info({ server: nc.getServer() }, 'URL cache connection up');
    return new NatsUrlCache({ nc, by: name, timeoutMs: config.urlCacheTimeoutMs });
  });
  const urlCache = new DeferredUrlCache(pending, (e) =>
    logger.error({ err: e }, 'URL cache connection failed'),
  );

  let detachMirror = (): void => {};
  let writer: MirrorWriter | null = null;
  if (config.mirrorDir) {
    writer = new MirrorWriter({
      dir: config.mirrorDir,
      logger: logger.child({ component: 'mirror' }),
      onWrite: (outcome) => metrics.mirrorWrites.inc({ outcome }),
    });
    await writer.prepare();
    detachMirror = attachMirror(client, writer, client.tariffs());
    const w = writer;
    void client.ready().then(() => mirrorTariffs(client, w, client.tariffs()));
  }

  let feed: PredbatFeed | null = null;
  if (config.predbat) {
    feed = new PredbatFeed({
      ...config.predbat,
      source: client,
      urlCache,
      logger: logger.child({ component: 'predbat' }),
      ensureTimeoutMs: config.ensureTimeoutMs,
      now,
      onWrite: (outcome) => metrics.predbatWrites.inc({ outcome }),
    });
    const f = feed;
    // Fed from the initial snapshot on: entries restored from CACHE_DIR keep their honest `created`.
    void client
      .ready()
      .then(() => f.start())
      .catch((e: unknown) => {
        logger.error({ err: e }, 'PredBat storage feed failed to start');
      });
    logger.info(
      { dir: config.predbat.dir, tariffs: config.predbat.tariffs.length },
      'PredBat storage feed on',
    );
  }

  const gateway = await Gateway.start({
    source: client,
    urlCache,
    logger,
    metrics,
    port: config.port,
    host: config.host,
    ensureTimeoutMs: config.ensureTimeoutMs,
    upstreamOrigin: config.upstreamOrigin,
    now,
    ...(config.publicBaseUrl ? { publicBaseUrl: config.publicBaseUrl } : {}),
  });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    void (async () => {
      await gateway.stop();
      detachMirror();
      await writer?.idle();
      await feed?.stop();
      await client.close();
      // A connection still waiting for its first server is simply abandoned by the exit below.
      const nc = urlConnection as NatsConnection | null;
      if (nc) await nc.drain();
      logger.info('stopped');
      clearTimeout(force);
      process.exit(0);
    })().catch((e: unknown) => {
      logger.error({ err: e }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  pino({ name: 'ratebus-gateway' }).fatal({ err: e }, 'gateway failed to start');
  process.exit(1);
});
