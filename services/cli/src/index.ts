/**
 * @ratebus/cli — the `ratebus` operator CLI (`status`, `get`, `watch`, `refresh`). The binary is
 * `dist/src/main.js`; `run()` drives the same commands in-process with injected I/O.
 */
export {
  COMMANDS,
  type CommandLine,
  type CommandName,
  type ConnectionFlags,
  DEFAULT_TIMEOUT_MS,
  type Invocation,
  parseCommandLine,
  parseDuration,
  readCommandLine,
} from './args.js';
export type { StatusReport, TariffStatus } from './commands/status.js';
export type { WatchLine } from './commands/watch.js';
export {
  type ConnectionSettings,
  DEFAULT_NATS_URL,
  ENV_VARS,
  type Env,
  type NatsAuth,
  natsOptions,
  type ReadFile,
  ROLE_INBOX_PREFIX,
  resolveConnection,
} from './connection.js';
export {
  CliErrorCode,
  CommandError,
  ConnectError,
  EXIT_ERROR,
  EXIT_OK,
  EXIT_USAGE,
  NoFetcherError,
  NotHeldError,
  NotReadyError,
  PermissionError,
  RefreshError,
  RequestTimeoutError,
  UsageError,
} from './errors.js';
export { type DocumentSummary, formatAge, summarize } from './format.js';
export type { CliIo } from './io.js';
export { run } from './run.js';
