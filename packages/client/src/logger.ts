/**
 * The subset of a pino logger the client uses. A `pino.Logger` satisfies it; the client does not depend
 * on pino at run time so an embedding pod keeps its own logger instance and version.
 */
export interface ClientLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;

/** The default: logs nothing. */
export const silentLogger: ClientLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** Error fields worth logging: name, code and message, never a payload. */
export function errInfo(e: unknown): { err: { name: string; code?: unknown; message: string } } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return {
      err:
        code === undefined
          ? { name: e.name, message: e.message }
          : { name: e.name, code, message: e.message },
    };
  }
  return { err: { name: 'unknown', message: String(e) } };
}
