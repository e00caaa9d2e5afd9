/**
 * @ratebus/service-kit — what every ratebus service process shares (fetcher, gateway): liveness that only
 * fails when the process is wedged, the version and its build-info metric. No NATS, no ratebus dependencies.
 */
export { registerBuildInfo, VERSION } from './build-info.js';
export {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_STALL_MS,
  Liveness,
  type LivenessOptions,
  type LivenessReport,
} from './liveness.js';
