/** `npm run sim`: environment → simulator, pino logs, graceful SIGTERM/SIGINT. */
import pino, { type Logger } from 'pino';
import { loadConfig } from './config.js';
import { SimConfigError } from './errors.js';
import { type Simulator, startSimulator } from './server.js';

async function main(): Promise<void> {
  const { options, logLevel } = loadConfig(process.env);
  const logger = pino({ level: logLevel, name: 'octopus-sim' });
  const sim = await startSimulator({ ...options, logger });
  process.once('SIGTERM', () => stop(sim, logger, 'SIGTERM'));
  process.once('SIGINT', () => stop(sim, logger, 'SIGINT'));
}

function stop(sim: Simulator, logger: Logger, signal: string): void {
  logger.info({ signal }, 'shutting down');
  sim.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}

main().catch((err: unknown) => {
  const logger = pino({ name: 'octopus-sim' });
  if (err instanceof SimConfigError) logger.fatal({ problems: err.problems }, 'invalid configuration');
  else logger.fatal({ err }, 'failed to start');
  process.exit(1);
});
