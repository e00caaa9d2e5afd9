/** `npm run sim`'s environment, parsed once at start: every problem reported at once. */
import { LOG_LEVELS, type LogLevel } from '@ratebus/schema';
import { z } from 'zod';
import { SimConfigError } from './errors.js';
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SEED, DEFAULT_SPEED, type SimOptions } from './options.js';
import { DEFAULT_PUBLICATION_DELAY_MINUTES } from './publication.js';

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

/** The simulator options (without a logger) and the log level the environment asks for. */
export interface SimConfig {
  readonly options: Omit<SimOptions, 'logger'>;
  readonly logLevel: LogLevel;
}

/** Reads the environment; empty variables count as unset. Throws {@link SimConfigError}. */
export function loadConfig(environment: NodeJS.ProcessEnv): SimConfig {
  const env = Object.fromEntries(Object.entries(environment).filter(([, v]) => v !== ''));
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new SimConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  return {
    options: {
      port: e.PORT,
      host: e.HOST,
      speed: e.SIM_SPEED,
      seed: e.SIM_SEED,
      publicationDelayMinutes: e.SIM_PUBLICATION_DELAY_MINUTES,
      ...(e.SIM_START !== undefined ? { start: e.SIM_START } : {}),
      ...(e.SIM_PUBLIC_BASE_URL !== undefined ? { publicBaseUrl: e.SIM_PUBLIC_BASE_URL } : {}),
    },
    logLevel: e.LOG_LEVEL,
  };
}
