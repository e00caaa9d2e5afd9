/** Stable error codes of the service kit. Callers branch on these, never on messages. */
export const ServiceKitErrorCode = {
  NoSimulatorClock: 'ERR_NO_SIMULATOR_CLOCK',
} as const;
export type ServiceKitErrorCode = (typeof ServiceKitErrorCode)[keyof typeof ServiceKitErrorCode];

/** The URL given as the simulator's did not answer with its clock (not the simulator, or not up). */
export class NoSimulatorClockError extends Error {
  readonly code = ServiceKitErrorCode.NoSimulatorClock;
  readonly url: string;
  /** HTTP status of the answer, when there was one. */
  readonly status?: number;

  constructor(url: string, options: ErrorOptions & { status?: number } = {}) {
    const why = options.status === undefined ? 'no answer' : `HTTP ${options.status}`;
    super(
      `no simulator clock at ${url} (${why})`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'NoSimulatorClockError';
    this.url = url;
    if (options.status !== undefined) this.status = options.status;
  }
}
