/**
 * @ratebus/bus — the NATS side of the contract, shared by every writer (fetcher, last resort) and reader
 * (pods, gateway, CLI): what a lost compare-and-set looks like, how to read a key through its stream's leader,
 * the KV lease (election and locks) with its fence, the fenced write of a document, the refresh request/reply
 * codec, and the NATS settings (env → validated settings) and connection options every service and the CLI
 * connect with. Names and message schemas come from `@ratebus/schema`.
 * Layering: schema ◀ bus ◀ client ◀ services.
 */
export {
  connectNats,
  type NatsConnectionProfile,
  type NatsTarget,
  natsConnectionOptions,
} from './connection.js';
export {
  type PublishDocumentOptions,
  type PublishResult,
  publishDocument,
  type StoredCheck,
  type StoredDocument,
  type WriteCheckedOptions,
  type WriteCheckedResult,
  writeChecked,
} from './fenced-writer.js';
export { isCasLoss, type LeaderEntry, readThroughLeader } from './kv.js';
export {
  type CampaignStep,
  declaredDuration,
  type Fence,
  LeaseCandidate,
  type LeaseCandidateOptions,
  type LeaseClaim,
  type LeaseEndReason,
  type LeaseSighting,
  LeaseTerm,
  type LeaseTermOptions,
  LeaseWatch,
  leaseNonce,
  type ReleaseResult,
  type RenewResult,
} from './lease.js';
export { LeaseLock, type LeaseLockOptions, lockCandidate } from './lock.js';
export {
  NATS_ENV,
  NATS_LOGIN_SETTINGS,
  type NatsAuth,
  type NatsSetting,
  type NatsSettingLabels,
  type NatsSettings,
  type NatsSettingsInput,
  type NatsSettingsIssue,
  type NatsSettingsResult,
  natsEnvInput,
  parseNatsSettings,
  type ReadTextFile,
} from './nats-settings.js';
export {
  decodeRefreshReply,
  findCause,
  INVALID_REPLY,
  isNoResponders,
  isRequestTimeout,
  type RefreshReply,
  refreshRequest,
} from './refresh.js';
export { Responder, type ResponderOptions } from './responder.js';
