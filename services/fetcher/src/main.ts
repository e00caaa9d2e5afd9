#!/usr/bin/env node
/**
 * The fetcher process: wiring only. config → logger → {@link FetcherService} → signals. The service holds the
 * start-up, readiness and the hand-over to the worker; SIGTERM/SIGINT stop it gracefully, then exit 0.
 */
import { readFileSync } from 'node:fs';
import { exitOnSignals } from '@ratebus/service-kit';
import { pino } from 'pino';
import { type FetcherConfig, loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { FetcherService } from './service.js';

/** A shutdown that takes longer than this is abandoned with exit code 1, ms. */
const SHUTDOWN_TIMEOUT_MS = 20_000;
const SERVICE = 'ratebus-fetcher';

/** The configuration, or exit code 2 with every problem logged. */
function readConfig(): FetcherConfig {
  try {
    return loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
  } catch (e) {
    const log = pino({ base: { service: SERVICE } });
    if (e instanceof ConfigError) log.fatal({ issues: e.issues }, e.message);
    else log.fatal({ err: e }, 'cannot load configuration');
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  // Written synchronously (pino's default buffers): a line logged before a crash or a SIGKILL is never lost,
  // e.g. the `published` line of a document already on the bus. The fetcher logs a few lines a minute.
  const logger = pino(
    { level: config.logLevel, base: { service: SERVICE, fetcherId: config.fetcherId } },
    pino.destination({ dest: 1, sync: true }),
  );
  const service = new FetcherService({ config, logger, onFatal: () => process.exit(1) });
  exitOnSignals({ stop: () => service.stop(), logger, timeoutMs: SHUTDOWN_TIMEOUT_MS });
  await service.start();
}

main().catch((err: unknown) => {
  pino({ base: { service: SERVICE } }).fatal({ err }, 'fetcher failed to start');
  process.exit(1);
});
