/** Stable codes of the CLI's errors. Tests and scripts branch on these (and on exit codes), never on text. */
export const CliErrorCode = {
  Usage: 'ERR_CLI_USAGE',
  Connect: 'ERR_CLI_CONNECT',
  NotReady: 'ERR_CLI_NOT_READY',
  NotHeld: 'ERR_CLI_NOT_HELD',
  Permission: 'ERR_CLI_PERMISSION',
  NoFetcher: 'ERR_CLI_NO_FETCHER',
  Refresh: 'ERR_CLI_REFRESH',
  Timeout: 'ERR_CLI_TIMEOUT',
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

/** Process exit codes. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/** Bad arguments, flags or connection environment: every problem at once. Exit 2, NATS never touched. */
export class UsageError extends Error {
  readonly code = CliErrorCode.Usage;
  readonly exitCode = EXIT_USAGE;
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? (problems[0] as string)
        : `${problems.length} problems:\n  ${problems.join('\n  ')}`,
    );
    this.name = 'UsageError';
    this.problems = problems;
  }
}

/** Base of the run-time failures (exit 1). */
export abstract class CommandError extends Error {
  abstract readonly code: CliErrorCode;
  readonly exitCode = EXIT_ERROR;
}

/** NATS could not be reached or refused the login. */
export class ConnectError extends CommandError {
  readonly code = CliErrorCode.Connect;
  readonly servers: readonly string[];
  constructor(servers: readonly string[], reason: string, options?: ErrorOptions) {
    super(`cannot connect to ${servers.join(',')}: ${reason}`, options);
    this.name = 'ConnectError';
    this.servers = servers;
  }
}

/** The rates and checks buckets could not be listed before the deadline. */
export class NotReadyError extends CommandError {
  readonly code = CliErrorCode.NotReady;
  readonly timeoutMs: number;
  constructor(timeoutMs: number, lastProblem: string | null, options?: ErrorOptions) {
    super(
      `could not read ratebus-rates and ratebus-checks within ${timeoutMs} ms ` +
        `(no fetcher has created them yet, or this user may not read them)` +
        (lastProblem ? `; last problem: ${lastProblem}` : ''),
      options,
    );
    this.name = 'NotReadyError';
    this.timeoutMs = timeoutMs;
  }
}

/** No document of this tariff in `ratebus-rates`. */
export class NotHeldError extends CommandError {
  readonly code = CliErrorCode.NotHeld;
  readonly product: string;
  readonly tariff: string;
  constructor(product: string, tariff: string) {
    super(
      `no document for ${product} ${tariff} in ratebus-rates (try: ratebus refresh ${product} ${tariff})`,
    );
    this.name = 'NotHeldError';
    this.product = product;
    this.tariff = tariff;
  }
}

/** The server refused an operation to this user. */
export class PermissionError extends CommandError {
  readonly code = CliErrorCode.Permission;
  readonly subject: string;
  constructor(subject: string, hint: string, options?: ErrorOptions) {
    super(`permission denied on ${subject}: ${hint}`, options);
    this.name = 'PermissionError';
    this.subject = subject;
  }
}

/** Nobody answers refresh requests (NATS "no responders"): no fetcher is leading. */
export class NoFetcherError extends CommandError {
  readonly code = CliErrorCode.NoFetcher;
  readonly subject: string;
  constructor(subject: string, options?: ErrorOptions) {
    super(`no fetcher is answering on ${subject} (is a fetcher running and elected?)`, options);
    this.name = 'NoFetcherError';
    this.subject = subject;
  }
}

/** The fetcher answered a refresh with a typed error (`Ratebus-Error-Code` / `Ratebus-Error`). */
export class RefreshError extends CommandError {
  readonly code = CliErrorCode.Refresh;
  /** The reply's `Ratebus-Error-Code` (e.g. NOT_FOUND), or INVALID_REPLY when the body was not a document. */
  readonly replyCode: string;
  readonly detail: string;
  constructor(replyCode: string, detail: string, options?: ErrorOptions) {
    super(`refresh failed: ${replyCode}: ${detail}`, options);
    this.name = 'RefreshError';
    this.replyCode = replyCode;
    this.detail = detail;
  }
}

/** A request got no reply before the deadline. */
export class RequestTimeoutError extends CommandError {
  readonly code = CliErrorCode.Timeout;
  readonly subject: string;
  readonly timeoutMs: number;
  constructor(subject: string, timeoutMs: number, options?: ErrorOptions) {
    super(`no reply on ${subject} within ${timeoutMs} ms`, options);
    this.name = 'RequestTimeoutError';
    this.subject = subject;
    this.timeoutMs = timeoutMs;
  }
}
