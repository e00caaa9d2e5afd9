/**
 * @ratebus/bus — the NATS side of the contract, shared by every writer (fetcher, last resort) and reader
 * (pods, gateway, CLI): what a lost compare-and-set looks like, how to read a key through its stream's leader,
 * and the refresh request/reply codec. Names and message schemas come from `@ratebus/schema`.
 * Layering: schema ◀ bus ◀ client ◀ services.
 */
export { isCasLoss, type LeaderEntry, readThroughLeader } from './kv.js';
export {
  decodeRefreshReply,
  findCause,
  INVALID_REPLY,
  isNoResponders,
  isRequestTimeout,
  type RefreshReply,
  refreshRequest,
} from './refresh.js';
