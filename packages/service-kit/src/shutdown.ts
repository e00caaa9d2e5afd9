/** The logger a shutdown reports to (pino's shape). */
export interface ShutdownLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ShutdownOptions {
  /** Stops the service: timers, in-flight work, leases, connections. Called once. */
  stop(): Promise<void>;
  logger: ShutdownLogger;
  /** A shutdown that takes longer than this ends the process with exit code 1, ms. */
  timeoutMs: number;
  /** Ends the process. Default `process.exit`. */
  exit?: (code: number) => void;
  /** Signals that start a graceful shutdown. Default SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
}

/**
 * Hooks the signals of a service process: the first one stops the service and exits 0 (1 when stopping
 * fails or takes longer than `timeoutMs`); later ones are ignored while the first shutdown runs.
 */
export function exitOnSignals(opts: ShutdownOptions): void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    opts.logger.info({ signal }, 'shutting down');
    const hard = setTimeout(() => {
      opts.logger.error({ timeoutMs: opts.timeoutMs }, 'shutdown timed out');
      exit(1);
    }, opts.timeoutMs);
    hard.unref();
    opts.stop().then(
      () => {
        clearTimeout(hard);
        opts.logger.info({}, 'stopped');
        exit(0);
      },
      (err: unknown) => {
        opts.logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const signal of opts.signals ?? (['SIGTERM', 'SIGINT'] as const)) process.on(signal, shutdown);
}
