/** Stable codes of the test kit's errors. */
export const TestkitErrorCode = {
  NatsServerMissing: 'ERR_NATS_SERVER_MISSING',
  StartFailed: 'ERR_START_FAILED',
  Timeout: 'ERR_CHECK_TIMEOUT',
} as const;

/** `nats-server` is not installed: says how to install it. */
export class NatsServerMissingError extends Error {
  readonly code = TestkitErrorCode.NatsServerMissing;
  constructor(tried: string) {
    super(
      `nats-server not found (tried ${JSON.stringify(tried)} on PATH). Install it with ` +
        '`apt-get install -y nats-server` (Debian/Ubuntu) or from https://github.com/nats-io/nats-server/releases, ' +
        'or point NATS_SERVER_BIN at the binary.',
    );
    this.name = 'NatsServerMissingError';
  }
}

/** A process exited or did not become ready. Carries the tail of its output. */
export class StartFailedError extends Error {
  readonly code = TestkitErrorCode.StartFailed;
  readonly output: string;
  constructor(what: string, reason: string, output: string, options?: ErrorOptions) {
    super(`${what} failed to start: ${reason}\n--- output (tail) ---\n${output.slice(-4000)}`, options);
    this.name = 'StartFailedError';
    this.output = output;
  }
}

/** A condition awaited by `check()` did not hold before its deadline. */
export class CheckTimeoutError extends Error {
  readonly code = TestkitErrorCode.Timeout;
  constructor(name: string, timeoutMs: number, options?: ErrorOptions) {
    super(`timed out after ${timeoutMs} ms waiting for ${name}`, options);
    this.name = 'CheckTimeoutError';
  }
}
