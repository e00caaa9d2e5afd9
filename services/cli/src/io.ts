import type { Env, ReadFile } from './connection.js';

/** Everything a command touches outside NATS, injected so tests can drive `run()` without a process. */
export interface CliIo {
  /** Writes one line of results to stdout. */
  out(line: string): void;
  /** Writes one line of diagnostics to stderr. */
  err(line: string): void;
  readonly env: Env;
  readonly readFile: ReadFile;
  /**
   * Called by long-running commands (`watch`): from then on Ctrl-C / SIGTERM abort the returned signal
   * so the command ends gracefully. One-shot commands keep the default (the signal ends the process).
   */
  interruptible(): AbortSignal;
}
