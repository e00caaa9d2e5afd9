/** `npm run sim`: environment → simulator, pino logs, graceful SIGTERM/SIGINT. */
import { LOG_LEVELS } from '@ratebus/schema';
import pino from 'pino';
import { z } from 'zod';
import { SimConfigError } from './errors.js';
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SEED, DEFAULT_SPEED } from './options.js';
import { DEFAULT_PUBLICATION_DELAY_MINUTES } from './publication.js';
import { startSimulator } from './server.js';

const num = (def: number) => z.coerce.number().default(def);

const EnvSchema = z.object({
  PORT: num(DEFAULT_PORT).pipe(z.int().min(0).max(65_535)),
  HOST: z.string().min(1).default(DEFAULT_HOST),
  SIM_START: z
    .string()
    .optional()
    .refine((v) => v === undefined || Number.isFinite(Date.parse(v)), 'not a valid ISO time'),
  SIM_SPEED: num(DEFAULT_SPEED).pipe(z.number().min(0)),
  SIM_SEED: num(DEFAULT_SEED).pipe(z.int()),
  SIM_PUBLICATION_DELAY_MINUTES: num(DEFAULT_PUBLICATION_DELAY_MINUTES).pipe(z.number().min(0).max(1440)),
  SIM_PUBLIC_BASE_URL: z.url().optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

async function main(): Promise<void> {
  // Empty variables count as unset.
  const env = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== ''));
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new SimConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const logger = pino({ level: e.LOG_LEVEL, name: 'octopus-sim' });
  const sim = await startSimulator({
    port: e.PORT,
    host: e.HOST,
    speed: e.SIM_SPEED,
    seed: e.SIM_SEED,
    publicationDelayMinutes: e.SIM_PUBLICATION_DELAY_MINUTES,
    ...(e.SIM_START !== undefined ? { start: e.SIM_START } : {}),
    ...(e.SIM_PUBLIC_BASE_URL !== undefined ? { publicBaseUrl: e.SIM_PUBLIC_BASE_URL } : {}),
    logger,
  });
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const logger = pino({ name: 'octopus-sim' });
  if (err instanceof SimConfigError) logger.fatal({ problems: err.problems }, 'invalid configuration');
  else logger.fatal({ err }, 'failed to start');
  process.exit(1);
});
