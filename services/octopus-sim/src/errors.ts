/** Stable error codes of the simulator. */
export const SimErrorCode = {
  InvalidConfig: 'ERR_SIM_CONFIG',
  InvalidRequest: 'ERR_SIM_INVALID_REQUEST',
} as const;
export type SimErrorCode = (typeof SimErrorCode)[keyof typeof SimErrorCode];

/** Options or environment that cannot start a simulator; lists every problem at once. */
export class SimConfigError extends Error {
  readonly code = SimErrorCode.InvalidConfig;
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: ErrorOptions) {
    super(`invalid simulator config: ${problems.join('; ')}`, options);
    this.name = 'SimConfigError';
    this.problems = problems;
  }
}

/** A `/_sim/` admin request with a body that does not match its schema. */
export class SimRequestError extends Error {
  readonly code = SimErrorCode.InvalidRequest;
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: ErrorOptions) {
    super(`invalid admin request: ${problems.join('; ')}`, options);
    this.name = 'SimRequestError';
    this.problems = problems;
  }
}
