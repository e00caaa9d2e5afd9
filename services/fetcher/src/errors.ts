/** Stable codes of the fetcher's errors. Callers and tests branch on these, never on messages. */
export const FetcherErrorCode = {
  NotLeader: 'ERR_NOT_LEADER',
  Config: 'ERR_CONFIG',
  BucketMismatch: 'ERR_BUCKET_MISMATCH',
} as const;
export type FetcherErrorCode = (typeof FetcherErrorCode)[keyof typeof FetcherErrorCode];

/** Why a leader is no longer leading. */
export type NotLeaderReason =
  | 'not-elected'
  | 'deadline-passed'
  | 'lease-lost'
  | 'resigned'
  | 'released'
  | 'stopped'
  | 'aborted';

/** Thrown by `Fence.assertLeading()` once this process may no longer act as the leader. */
export class NotLeaderError extends Error {
  readonly code = FetcherErrorCode.NotLeader;
  /** The fencing term that is no longer held (0 when never elected). */
  readonly term: number;
  readonly reason: NotLeaderReason;

  constructor(term: number, reason: NotLeaderReason, options?: ErrorOptions) {
    super(`not the leader (term ${term}): ${reason}`, options);
    this.name = 'NotLeaderError';
    this.term = term;
    this.reason = reason;
  }
}

/** One problem found in the configuration: where (env var or dotted file path) and what is wrong. */
export interface ConfigIssue {
  /** `env:NATS_URL`, `file:lease.renewDeadlineMs`, `file` ... */
  readonly source: string;
  readonly message: string;
}

/** The configuration is invalid. Lists every problem found, not just the first. */
export class ConfigError extends Error {
  readonly code = FetcherErrorCode.Config;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: ErrorOptions) {
    const lines = issues.map((i) => `  - ${i.source}: ${i.message}`).join('\n');
    super(
      `invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines}`,
      options,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** An existing KV bucket's settings differ from what the fetcher needs (e.g. lease TTL ≠ lease duration). */
export class BucketMismatchError extends Error {
  readonly code = FetcherErrorCode.BucketMismatch;
  readonly bucket: string;
  readonly setting: string;
  readonly expected: number | string;
  readonly actual: number | string;

  constructor(
    bucket: string,
    setting: string,
    expected: number | string,
    actual: number | string,
    options?: ErrorOptions,
  ) {
    super(
      `bucket ${bucket}: ${setting} is ${actual} but must be ${expected}; ` +
        'Kvm.create() does not change an existing bucket: delete it or edit it (e.g. `nats kv edit`) to match the config',
      options,
    );
    this.name = 'BucketMismatchError';
    this.bucket = bucket;
    this.setting = setting;
    this.expected = expected;
    this.actual = actual;
  }
}

// --- errors of the leader's work ---

/** Stable codes of the term work's errors. */
export const TermWorkErrorCode = {
  StaleTerm: 'ERR_STALE_TERM',
} as const;
export type TermWorkErrorCode = (typeof TermWorkErrorCode)[keyof typeof TermWorkErrorCode];

/** A CAS conflict revealed a document written under a newer term: this leader is deposed and stops. */
export class StaleTermError extends Error {
  readonly code = TermWorkErrorCode.StaleTerm;
  /** Our term. */
  readonly term: number;
  /** The newer term found in the store. */
  readonly storedTerm: number;
  /** The KV key where it was found. */
  readonly key: string;

  constructor(term: number, storedTerm: number, key: string, options?: ErrorOptions) {
    super(`term ${term} is stale: ${key} was written under term ${storedTerm}`, options);
    this.name = 'StaleTermError';
    this.term = term;
    this.storedTerm = storedTerm;
    this.key = key;
  }
}
