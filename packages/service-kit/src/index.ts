/**
 * @ratebus/service-kit — what every ratebus service process shares (fetcher, gateway, demo): liveness that
 * only fails when the process is wedged, graceful shutdown on signals, the version and its build-info metric,
 * and the simulator-clock follower that demos and benchmarks switch on. No NATS, no ratebus dependencies.
 */
export { registerBuildInfo, VERSION } from './build-info.js';
export { NoSimulatorClockError, ServiceKitErrorCode } from './errors.js';
export {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_STALL_MS,
  Liveness,
  type LivenessOptions,
  type LivenessReport,
} from './liveness.js';
export { exitOnSignals, type ShutdownLogger, type ShutdownOptions } from './shutdown.js';
export { DEFAULT_SIM_CLOCK_REFRESH_MS, type FollowedClock, followSimulatorClock } from './sim-clock.js';
