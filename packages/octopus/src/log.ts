/**
 * The part of a logger this package uses: a pino logger fits, and so does anything with these methods. A
 * structural type, so the package's declarations need no `pino` types (pino is an optional peer).
 */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = () => undefined;
/** Default logger: drops everything, so the package needs no pino at run time. */
export const SILENT: Log = { debug: noop, info: noop, warn: noop, error: noop };
