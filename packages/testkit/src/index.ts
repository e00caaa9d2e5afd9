/**
 * @ratebus/testkit — private test kit: real `nats-server`s (single and clustered) on ephemeral ports,
 * managed child processes (stop, kill, pause, resume), a TCP proxy that fakes half-open links, and
 * `check()` to await conditions instead of sleeping.
 */
export { type CheckOptions, check } from './check.js';
export { type ClusterOptions, NatsCluster } from './cluster.js';
export { CheckTimeoutError, NatsServerMissingError, StartFailedError, TestkitErrorCode } from './errors.js';
export { followJsonLogLines, jsonLogLines, type LogLine, logEvents } from './log-lines.js';
export {
  type ClusterSettings,
  NatsServer,
  type NatsServerOptions,
  natsServerBinary,
  natsServerVersion,
} from './nats-server.js';
export { freePort } from './ports.js';
export {
  ManagedProcess,
  pauseProcess,
  processState,
  resumeProcess,
  type StartProcessOptions,
} from './process.js';
export { TcpProxy } from './tcp-proxy.js';
