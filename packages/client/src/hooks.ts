/** Why an incoming message was dropped (the last good copy stays). */
export type RejectReason =
  /** The KV key is not `{product}.{tariff}` of valid codes. */
  | 'invalid-key'
  /** Not UTF-8 JSON, or fails the schema. */
  | 'invalid-payload'
  /** The payload names another product/tariff than its key. */
  | 'key-mismatch'
  /** Lower KV revision than the held copy (same bucket). */
  | 'older-revision'
  /** Lower fencing term than the held copy. */
  | 'older-term'
  /** Same term but an earlier `coversThrough` than the held copy. */
  | 'regressed-coverage';

export const REJECT_REASONS: readonly RejectReason[] = [
  'invalid-key',
  'invalid-payload',
  'key-mismatch',
  'older-revision',
  'older-term',
  'regressed-coverage',
];

/**
 * What a resync did: `resume` restarted the watch after the last applied revision, `relist` listed the
 * whole bucket again, `restart` recreated a watch that ended or failed.
 */
export type ResyncKind = 'resume' | 'relist' | 'restart';

/**
 * What one last-resort attempt did (see `lastResort`): `published` wrote a new document; `unchanged`
 * confirmed the held content upstream (Checked record only); `rejected` got an upstream answer that failed
 * the publish guards; `failed` hit an upstream or bus error; `lock-lost` stopped because the lock expired
 * or moved on mid-work; `locked` found another pod holding the lock (it waits for that pod's document);
 * `fetcher-answered` found a fetcher answering refresh requests; `fetcher-leading` found a fetcher holding
 * the election lease; `not-needed` found, once locked, a fresh document already on the bus.
 */
export type LastResortOutcome =
  | 'published'
  | 'unchanged'
  | 'rejected'
  | 'failed'
  | 'lock-lost'
  | 'locked'
  | 'fetcher-answered'
  | 'fetcher-leading'
  | 'not-needed';

export const LAST_RESORT_OUTCOMES: readonly LastResortOutcome[] = [
  'published',
  'unchanged',
  'rejected',
  'failed',
  'lock-lost',
  'locked',
  'fetcher-answered',
  'fetcher-leading',
  'not-needed',
];

export interface LastResortEvent {
  readonly product: string;
  readonly tariff: string;
  /** The lock's term (revision of the winning write) when this pod held the lock. */
  readonly term?: number;
}

/** What changed in the local copy. */
export type UpdateKind = 'document' | 'confirmation' | 'removed';

export interface UpdateHookEvent {
  readonly kind: UpdateKind;
  readonly bucket: string;
  readonly key: string;
  readonly revision: number;
}

/** Metrics hooks; each is called synchronously and must not throw (errors are logged and ignored). */
export interface ClientHooks {
  /** A document or confirmation was applied, or a document removed. */
  onUpdate?: ((e: UpdateHookEvent) => void) | undefined;
  /** A message was dropped. */
  onReject?:
    | ((reason: RejectReason, e: { bucket: string; key: string; revision: number }) => void)
    | undefined;
  /** A resync action ran on a bucket. */
  onResync?: ((kind: ResyncKind, e: { bucket: string }) => void) | undefined;
  /** A last-resort attempt ended (only with `lastResort` enabled). */
  onLastResort?: ((outcome: LastResortOutcome, e: LastResortEvent) => void) | undefined;
}
