/** Stable error codes of the upstream client. Callers branch on these, never on messages. */
export const OctopusErrorCode = {
  Timeout: 'ERR_UPSTREAM_TIMEOUT',
  Http: 'ERR_UPSTREAM_HTTP',
  Throttled: 'ERR_UPSTREAM_THROTTLED',
  Invalid: 'ERR_UPSTREAM_INVALID',
  NotFound: 'ERR_UPSTREAM_NOT_FOUND',
  Network: 'ERR_UPSTREAM_NETWORK',
  Aborted: 'ERR_ABORTED',
} as const;
export type OctopusErrorCode = (typeof OctopusErrorCode)[keyof typeof OctopusErrorCode];

export interface OctopusErrorOptions extends ErrorOptions {
  /** HTTP status of the last answer, when there was one. */
  status?: number;
  /** How long upstream asked us to wait, ms. */
  retryAfterMs?: number;
  /** Number of attempts made. */
  attempts?: number;
}

/** Base class of every error thrown by this package. */
export class OctopusError extends Error {
  readonly code: OctopusErrorCode;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly attempts?: number;

  constructor(code: OctopusErrorCode, message: string, options: OctopusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OctopusError';
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.attempts !== undefined) this.attempts = options.attempts;
  }
}

/** Connect, headers or body timeout (after retries). */
export class UpstreamTimeoutError extends OctopusError {
  constructor(message: string, options?: OctopusErrorOptions) {
    super(OctopusErrorCode.Timeout, message, options);
    this.name = 'UpstreamTimeoutError';
  }
}

/** A 5xx after retries, or a 4xx other than 404/429 (never retried). */
export class UpstreamHttpError extends OctopusError {
  declare readonly status: number;
  /** The `detail` string of a DRF JSON error body, when there was one (cut to 200 characters). */
  readonly detail?: string;

  constructor(status: number, message: string, options: OctopusErrorOptions & { detail?: string } = {}) {
    super(OctopusErrorCode.Http, message, { ...options, status });
    this.name = 'UpstreamHttpError';
    if (options.detail !== undefined) this.detail = options.detail;
  }
}

/** HTTP 429 after retries, or a `Retry-After` longer than we are willing to wait. */
export class UpstreamThrottledError extends OctopusError {
  constructor(message: string, options?: OctopusErrorOptions) {
    super(OctopusErrorCode.Throttled, message, { status: 429, ...options });
    this.name = 'UpstreamThrottledError';
  }
}

/** A body that is not JSON (HTML 502/504), truncated, malformed, off-schema, or rates with gaps. */
export class InvalidResponseError extends OctopusError {
  /** What was wrong, as zod-like issues (code + path), never the raw body. */
  readonly issues: readonly { code: string; path: string; message: string }[];

  constructor(
    message: string,
    options: OctopusErrorOptions & {
      issues?: readonly { code: string; path: string; message: string }[];
    } = {},
  ) {
    super(OctopusErrorCode.Invalid, message, options);
    this.name = 'InvalidResponseError';
    this.issues = options.issues ?? [];
  }
}

/** HTTP 404: the product or tariff does not exist. Never retried. */
export class UpstreamNotFoundError extends OctopusError {
  constructor(message: string, options?: OctopusErrorOptions) {
    super(OctopusErrorCode.NotFound, message, { status: 404, ...options });
    this.name = 'UpstreamNotFoundError';
  }
}

/** Connection reset or refused, after retries. */
export class UpstreamNetworkError extends OctopusError {
  constructor(message: string, options?: OctopusErrorOptions) {
    super(OctopusErrorCode.Network, message, options);
    this.name = 'UpstreamNetworkError';
  }
}

/** The caller's AbortSignal fired; in-flight work and waits were stopped. */
export class AbortedError extends OctopusError {
  constructor(message = 'aborted by the caller', options?: OctopusErrorOptions) {
    super(OctopusErrorCode.Aborted, message, options);
    this.name = 'AbortedError';
  }
}
