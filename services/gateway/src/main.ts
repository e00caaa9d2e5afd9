/**
 * `npm run gateway`: wiring only — config, logger, {@link GatewayService} and graceful shutdown on
 * SIGTERM/SIGINT. The logic lives in the modules.
 */
import { exitOnSignals } from '@ratebus/service-kit';
import { type Logger, pino } from 'pino';
import { type GatewayConfig, loadConfig } from './config.js';
import { GatewayConfigError } from './errors.js';
import { GatewayService } from './service.js';

/** Bound on the whole shutdown before the process exits anyway, ms. */
const SHUTDOWN_TIMEOUT_MS = 15_000;
const NAME = 'ratebus-gateway';

/** The configuration, or null with every problem logged. */
function readConfig(): GatewayConfig | null {
  try {
    return loadConfig(process.env);
  } catch (e) {
    const boot = pino({ name: NAME });
    if (e instanceof GatewayConfigError) boot.fatal({ problems: e.problems }, 'invalid configuration');
    else boot.fatal({ err: e }, 'cannot read configuration');
    return null;
  }
}

function createLogger(config: GatewayConfig): Logger {
  return pino({
    name: NAME,
    level: config.logLevel,
    // Nothing logs request headers; this is the belt to those braces.
    redact: {
      paths: ['authorization', '*.authorization', '*.headers.authorization', 'pass', '*.pass'],
      censor: '[redacted]',
    },
  });
}

async function main(): Promise<void> {
  const config = readConfig();
  if (!config) {
    process.exitCode = 2;
    return;
  }
  const logger = createLogger(config);
  const service = new GatewayService({ config, logger });
  await service.start();
  exitOnSignals({ stop: () => service.stop(), logger, timeoutMs: SHUTDOWN_TIMEOUT_MS });
}

main().catch((e: unknown) => {
  pino({ name: NAME }).fatal({ err: e }, 'gateway failed to start');
  process.exit(1);
});
