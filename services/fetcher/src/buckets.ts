import { type JetStreamManager, jetstream } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm, type KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, type BucketRole, type RatebusConfig } from '@ratebus/schema';
import type { Logger } from 'pino';
import { BucketMismatchError } from './errors.js';
import { DEFAULT_LEASE_REQUEST_TIMEOUT_MS } from './lease/elector.js';
import { verifyLeaseBucket } from './lease/verify.js';
import type { Buckets } from './worker/types.js';

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

/**
 * The settings each bucket needs: history 1, TTL per role (0 = none). The lease bucket has none: its keys
 * lapse when watched unchanged for a lease duration (lease/verify.ts says why).
 */
export function bucketSpecs(config: RatebusConfig): Record<BucketRole, { ttlMs: number }> {
  return {
    rates: { ttlMs: 0 },
    checks: { ttlMs: 0 },
    interest: { ttlMs: config.interest.ttlMs },
    lease: { ttlMs: 0 },
    urls: { ttlMs: config.urlCacheTtlMs },
  };
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
  const open = async (role: BucketRole): Promise<KV> => {
    const name = BUCKETS[role];
    const ttl = specs[role].ttlMs;
    const o: Partial<KvOptions> = { history: 1, replicas };
    if (ttl > 0) o.ttl = ttl;
    // Direct gets (the 2.9 default) may be served by a lagging replica. The elector's decisions stay safe
    // with stale reads (only our own writes carry our nonce), and leader-only MSG.GET was measured to time
    // out for many seconds after a stream-leader failover on 2.9.10, so the default is kept.
    const kv = await (role === 'lease' ? leaseKvm : kvm).create(name, o);
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

/** The fields of a stored KV entry that a leader read returns. */
export type StoredEntry = Pick<KvEntry, 'operation' | 'value' | 'revision'>;

/**
 * The latest entry of `key` in `bucket`, read with `STREAM.MSG.GET`, which the stream leader answers.
 * `kv.get()` is a direct get (`allow_direct`, the 2.9+ default) that any replica may answer, and on
 * nats-server < 2.9.17 a replica that has just restarted answers with what it held before
 * (nats-server#4162). Null when the key was never written. Throws while the stream has no leader.
 */
export async function readThroughLeader(
  jsm: JetStreamManager,
  bucket: string,
  key: string,
): Promise<StoredEntry | null> {
  const m = await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` });
  if (!m) return null;
  const op = m.header?.get('KV-Operation');
  return { operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: m.data, revision: m.seq };
}
