import type { Logger } from 'pino';
import { z } from 'zod';
import { SimConfigError } from './errors.js';
import { DEFAULT_PUBLICATION_DELAY_MINUTES } from './publication.js';
import type { SimSwitches } from './rest.js';

/** Default listening port. */
export const DEFAULT_PORT = 8091;
export const DEFAULT_HOST = '127.0.0.1';
/** Default simulated seconds per real second. */
export const DEFAULT_SPEED = 1;
/** Default price generator seed. */
export const DEFAULT_SEED = 1;

export interface SimOptions {
  /** TCP port; 0 = ephemeral. Default 8091. */
  port?: number;
  /** Listening address. Default 127.0.0.1. */
  host?: string;
  /** Simulated start time (ISO string or Date). Default: now. */
  start?: string | Date;
  /** Simulated seconds per real second; 0 freezes the clock. Default 1. */
  speed?: number;
  /** Price generator seed. Default 1. */
  seed?: number;
  /** Agile D+1 appears at 16:00 Europe/London + this many minutes (fractions: seconds). Default 0. */
  publicationDelayMinutes?: number;
  /** Origin used in absolute next/previous URLs and links. Default http://{host}:{port}. */
  publicBaseUrl?: string;
  /** Initial switches for behaviours the reference is unsure about (see README). Default: all defaults. */
  switches?: Partial<SimSwitches>;
  /** Logger. Default: silent. */
  logger?: Logger;
}

const OptionsSchema = z.object({
  port: z.int().min(0).max(65_535).default(DEFAULT_PORT),
  host: z.string().min(1).default(DEFAULT_HOST),
  start: z
    .union([z.string(), z.date()])
    .optional()
    .refine((v) => v === undefined || Number.isFinite(typeof v === 'string' ? Date.parse(v) : v.getTime()), {
      message: 'not a valid ISO time',
    }),
  speed: z.number().min(0).max(1_000_000).default(DEFAULT_SPEED),
  seed: z.int().default(DEFAULT_SEED),
  publicationDelayMinutes: z
    .number()
    .min(0)
    .max(24 * 60)
    .default(DEFAULT_PUBLICATION_DELAY_MINUTES),
  publicBaseUrl: z.url({ protocol: /^https?$/ }).optional(),
  switches: z
    .strictObject({
      electricityVatHoliday: z.boolean().optional(),
      listTrackerProducts: z.boolean().optional(),
      directionNullOnDetail: z.boolean().optional(),
    })
    .optional(),
});

export type ResolvedOptions = z.infer<typeof OptionsSchema>;

/** Validates options once, reporting every problem at once. */
export function resolveOptions(opts: SimOptions): ResolvedOptions {
  const { logger: _logger, ...rest } = opts;
  const r = OptionsSchema.safeParse(rest);
  if (!r.success) {
    throw new SimConfigError(r.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`));
  }
  return r.data;
}
