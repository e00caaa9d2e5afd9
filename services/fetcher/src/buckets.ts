import {
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StreamConfig,
  type StreamUpdateConfig,
} from '@nats-io/jetstream';
import { type KV, Kvm, type KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, type BucketRole, type RatebusConfig } from '@ratebus/schema';
import type { Logger } from 'pino';
import { BUCKET_LIMITS, type BucketLimits } from './bucket-limits.js';
import { BucketMismatchError } from './errors.js';
import type { Buckets } from './leader/types.js';
import { DEFAULT_LEASE_REQUEST_TIMEOUT_MS } from './lease/elector.js';
import { verifyLeaseBucket } from './lease/verify.js';

/** Every bucket of docs/buses.md, bound and verified. */
export interface FetcherBuckets extends Buckets {
  lease: KV;
}

export interface OpenBucketsOptions {
  /** Replicas of every bucket (1, or 3 in a cluster). Default 1. */
  replicas?: number;
  /** JetStream timeout of the lease bucket's requests, ms. Default 2000. */
  leaseTimeoutMs?: number;
  logger?: Logger;
}

/** What a bucket needs: its TTL (0 = none) and its storage limits (bucket-limits.ts). */
export interface BucketSpec extends BucketLimits {
  readonly ttlMs: number;
}

/**
 * The settings each bucket needs: history 1, TTL per role (0 = none), limits. The lease bucket has no TTL: its
 * keys lapse when watched unchanged for a lease duration (lease/verify.ts says why).
 */
export function bucketSpecs(config: RatebusConfig): Record<BucketRole, BucketSpec> {
  return {
    rates: { ttlMs: 0, ...BUCKET_LIMITS.rates },
    checks: { ttlMs: 0, ...BUCKET_LIMITS.checks },
    interest: { ttlMs: config.interest.ttlMs, ...BUCKET_LIMITS.interest },
    lease: { ttlMs: 0, ...BUCKET_LIMITS.lease },
    urls: { ttlMs: config.urlCacheTtlMs, ...BUCKET_LIMITS.urls },
  };
}

/**
 * The stream settings that bound what any writer can do to a bucket, whoever created it:
 * - no rollup headers: one `Nats-Rollup: all` published to `$KV.ratebus-interest.x` (pods may write there)
 *   would otherwise erase every key of the bucket, and `Nats-Rollup: sub` (a KV purge) every revision of a key.
 *   ratebus never purges a key (a release or a cleanup is a delete marker), so nothing of ours needs them;
 * - the limits of bucket-limits.ts.
 * Purging a stream and deleting single messages through the JetStream API are refused by the permissions (no
 * role has them). `deny_purge`/`deny_delete` are not set: a nats-server 2.9.10 node that restarts replays the
 * bucket's creation onto the stored config, fails "can not cancel deny message deletes" and crashes.
 * `Kvm.create()` turns rollup on for a new bucket and leaves an existing one as it is, so these are applied
 * with a stream update afterwards.
 */
export function guardedStreamConfig(spec: BucketLimits): Partial<StreamConfig> {
  return {
    allow_rollup_hdrs: false,
    max_msgs: spec.maxKeys,
    max_bytes: spec.maxBytes,
    max_msg_size: spec.maxValueBytes,
    max_consumers: spec.maxConsumers,
  };
}

/** nats-server's JSStreamInvalidConfigF: what 2.9 answers to a `max_consumers` change (nats.js names no such code). */
const STREAM_INVALID_CONFIG = 10052;

/** The fields of `want` that `have` does not match. */
function differing(have: StreamConfig, want: Partial<StreamConfig>): (keyof StreamConfig)[] {
  return (Object.keys(want) as (keyof StreamConfig)[]).filter((k) => (have[k] ?? false) !== want[k]);
}

/**
 * Brings a bucket's stream to {@link guardedStreamConfig} (new buckets and ones made by earlier versions
 * alike). nats-server 2.9 cannot change `max_consumers` of an existing stream: then everything else is
 * applied and a warning says so. Throws when the server refuses the rest.
 */
export async function guardBucket(
  jsm: JetStreamManager,
  bucket: string,
  spec: BucketLimits,
  logger?: Logger,
): Promise<void> {
  const stream = `KV_${bucket}`;
  const have = (await jsm.streams.info(stream)).config;
  const want = guardedStreamConfig(spec);
  const fields = differing(have, want);
  if (fields.length === 0) return;
  // `streams.update` merges the given fields into the stream's current config; its type leaves out
  // `max_consumers`, which nats-server >= 2.10 does change.
  const update = (cfg: Partial<StreamConfig>) =>
    jsm.streams.update(stream, cfg as Partial<StreamUpdateConfig>);
  try {
    await update(want);
  } catch (e) {
    const consumersFixed = have.max_consumers === want.max_consumers;
    if (consumersFixed || !(e instanceof JetStreamApiError) || e.code !== STREAM_INVALID_CONFIG) throw e;
    await update({ ...want, max_consumers: have.max_consumers });
    logger?.warn(
      { bucket, maxConsumers: have.max_consumers, expected: want.max_consumers },
      'this nats-server cannot change max_consumers of an existing bucket; recreate it to apply the cap',
    );
  }
  logger?.info({ bucket, fields }, 'bucket limits applied');
}

/**
 * Creates (or binds) every ratebus bucket and verifies it. `Kvm.create()` does not reconcile an existing
 * bucket's config, so a TTL mismatch fails loudly (BucketMismatchError): a TTL on the rates bucket would
 * expire documents, a TTL on the lease bucket other than the lease duration of an earlier version breaks the
 * election's timing. History and replica differences are only logged (harmless for correctness; fix with
 * `nats kv edit` / stream edit).
 */
export async function openBuckets(
  nc: NatsConnection,
  config: RatebusConfig,
  opts: OpenBucketsOptions = {},
): Promise<FetcherBuckets> {
  const replicas = opts.replicas ?? 1;
  const specs = bucketSpecs(config);
  const kvm = new Kvm(jetstream(nc));
  // Lease calls get a short timeout so one request cannot eat the renew deadline.
  const leaseKvm = new Kvm(
    jetstream(nc, { timeout: opts.leaseTimeoutMs ?? DEFAULT_LEASE_REQUEST_TIMEOUT_MS }),
  );
  const jsm = await jetstreamManager(nc);
  const open = async (role: BucketRole): Promise<KV> => {
    const name = BUCKETS[role];
    const spec = specs[role];
    const ttl = spec.ttlMs;
    // max_bytes at creation: an account with `max_bytes_required` refuses a stream without it.
    const kvOptions: Partial<KvOptions> = {
      history: 1,
      replicas,
      max_bytes: spec.maxBytes,
      maxValueSize: spec.maxValueBytes,
    };
    if (ttl > 0) kvOptions.ttl = ttl;
    // Direct gets (the 2.9 default) may be served by a lagging replica. The elector's decisions stay safe
    // with stale reads (only our own writes carry our nonce), and leader-only MSG.GET was measured to time
    // out for many seconds after a stream-leader failover on 2.9.10, so the default is kept.
    const kv = await (role === 'lease' ? leaseKvm : kvm).create(name, kvOptions);
    await guardBucket(jsm, name, spec, opts.logger);
    if (role === 'lease') {
      await verifyLeaseBucket(kv, config.lease.durationMs, opts.logger);
      await verifyBucket(kv, { history: 1, replicas }, opts.logger);
    } else {
      await verifyBucket(kv, { ttlMs: ttl, history: 1, replicas }, opts.logger);
    }
    return kv;
  };
  const [rates, checks, interest, lease, urls] = await Promise.all([
    open('rates'),
    open('checks'),
    open('interest'),
    open('lease'),
    open('urls'),
  ]);
  return { rates, checks, interest, lease, urls };
}

/** Throws BucketMismatchError when the TTL differs (if given); logs history/replica differences. */
export async function verifyBucket(
  kv: KV,
  expected: { ttlMs?: number; history?: number; replicas?: number },
  logger?: Logger,
): Promise<void> {
  const s = await kv.status();
  if (expected.ttlMs !== undefined && s.ttl !== expected.ttlMs)
    throw new BucketMismatchError(s.bucket, 'ttl (ms)', expected.ttlMs, s.ttl);
  if (expected.history !== undefined && s.history !== expected.history) {
    logger?.warn(
      { bucket: s.bucket, history: s.history, expected: expected.history },
      'bucket history differs',
    );
  }
  if (expected.replicas !== undefined && s.replicas !== expected.replicas) {
    logger?.warn(
      { bucket: s.bucket, replicas: s.replicas, expected: expected.replicas },
      'bucket replicas differ from RATEBUS_REPLICAS',
    );
  }
}
