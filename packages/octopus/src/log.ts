import type { Logger } from 'pino';

/** The part of a pino logger this package uses. */
export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

const noop = () => undefined;
/** Default logger: drops everything, so the package needs no pino at run time. */
export const SILENT: Log = { debug: noop, info: noop, warn: noop, error: noop } as unknown as Log;
