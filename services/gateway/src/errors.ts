/** Stable codes of the gateway's errors. Tests and callers branch on these, never on messages. */
export const GatewayErrorCode = {
  InvalidConfig: 'ERR_GATEWAY_CONFIG',
  MirrorWrite: 'ERR_MIRROR_WRITE',
  PredbatWrite: 'ERR_PREDBAT_WRITE',
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

/** The environment did not describe a valid gateway; lists every problem at once. */
export class GatewayConfigError extends Error {
  readonly code = GatewayErrorCode.InvalidConfig;
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: ErrorOptions) {
    super(`invalid gateway configuration: ${problems.join('; ')}`, options);
    this.name = 'GatewayConfigError';
    this.problems = problems;
  }
}

/** A mirror file could not be written (the previous file, if any, is left intact). */
export class MirrorWriteError extends Error {
  readonly code = GatewayErrorCode.MirrorWrite;
  /** The file name (never a path built from unvalidated input). */
  readonly file: string;
  constructor(file: string, options?: ErrorOptions) {
    super(`could not write mirror file ${file}`, options);
    this.name = 'MirrorWriteError';
    this.file = file;
  }
}

/** A PredBat cache entry could not be written (the previous files, if any, are left intact). */
export class PredbatWriteError extends Error {
  readonly code = GatewayErrorCode.PredbatWrite;
  /** The entry's file name (built from a hex key, never from unvalidated input). */
  readonly file: string;
  constructor(file: string, options?: ErrorOptions) {
    super(`could not write PredBat cache entry ${file}`, options);
    this.name = 'PredbatWriteError';
    this.file = file;
  }
}
