/**
 * @ratebus/service-kit — what every ratebus service process shares (fetcher, gateway): liveness that only
 * fails when the process is wedged. No NATS, no ratebus dependencies.
 */
export {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_STALL_MS,
  Liveness,
  type LivenessOptions,
  type LivenessReport,
} from './liveness.js';
