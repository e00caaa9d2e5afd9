import type { BucketRole } from '@ratebus/schema';

/**
 * Storage limits of each bucket, sized for a fleet of 10,000 pods (services/nats/README.md "Limits" has the
 * account-level numbers they must fit in). Every bucket discards NEW writes when full: an existing key can
 * still be rewritten (history 1 replaces it), a new key is refused with "maximum messages exceeded".
 */
export interface BucketLimits {
  /** Keys the bucket may hold (stream `max_msgs`; history 1, so one message per key, delete markers too). */
  readonly maxKeys: number;
  /** Largest value, bytes (stream `max_msg_size`). */
  readonly maxValueBytes: number;
  /** Bucket size, bytes (stream `max_bytes`). Reserved against the account's `max_file` × replicas. */
  readonly maxBytes: number;
  /**
   * Consumers on the bucket's stream (`max_consumers`), or -1 for none. Only pods' watches make many; a cap
   * on the two buckets pods watch keeps a consumer flood there from using up the account's consumers, which
   * the fetcher needs for its own watches. nats-server 2.9 sets it only when a bucket is created.
   */
  readonly maxConsumers: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * Distinct tariffs a deployment may hold. The public tariffs on sale plus the legacy ones customers keep are
 * a few hundred products × 14 regions × import/export/gas, and a fleet shares them: 10,000 pods with about
 * three tariffs each were estimated to touch a few thousand. Beyond it, new keys are refused (nothing held is lost).
 */
export const MAX_TARIFFS = 5_000;

/**
 * Watches of the buckets pods read: one per client (10,000 pods, each a `RateClient` or a gateway sidecar)
 * plus half as many again for ordered-consumer resets and relists overlapping a reconnect wave.
 */
export const MAX_POD_WATCHES = 15_000;

/** The same largest payload as nats-server's default `max_payload`: a document NATS can carry at all. */
const MAX_DOCUMENT_BYTES = 1 * MIB;

/**
 * Limits per bucket; every number is explained. The sum of `maxBytes` (552 MiB) × 3 replicas (1,656 MiB) must
 * stay within the account's `max_file` (1,800 MiB in services/nats/accounts.conf).
 */
export const BUCKET_LIMITS: Readonly<Record<BucketRole, BucketLimits>> = {
  // An Agile document over the fetcher's window (7 days back, the days ahead) was measured at 53 KB (53,060
  // bytes stored per key, simulator data); fixed and variable tariffs hold a few rows. 256 MiB holds 5,000
  // Agile-sized documents; a mostly non-Agile fleet far more. One document may be as large as NATS carries.
  rates: {
    maxKeys: MAX_TARIFFS,
    maxValueBytes: MAX_DOCUMENT_BYTES,
    maxBytes: 256 * MIB,
    maxConsumers: MAX_POD_WATCHES,
  },
  // A Checked record was measured at 271-289 bytes (368 stored per key).
  checks: { maxKeys: MAX_TARIFFS, maxValueBytes: 4 * KIB, maxBytes: 16 * MIB, maxConsumers: MAX_POD_WATCHES },
  // An Interest entry is at most about 400 bytes (codes ≤ 64 characters, `by` ≤ 128). Pods write here: a full
  // bucket refuses new tariffs, while renewals of the held ones still succeed.
  interest: { maxKeys: MAX_TARIFFS, maxValueBytes: 1 * KIB, maxBytes: 8 * MIB, maxConsumers: -1 },
  // The fetchers' lease plus one last-resort lock key per tariff (a released lock leaves a delete marker).
  lease: { maxKeys: MAX_TARIFFS + 1, maxValueBytes: 4 * KIB, maxBytes: 16 * MIB, maxConsumers: -1 },
  // Whole upstream responses (a rates page is 14 KiB, most are far smaller), about four URLs per tariff
  // within the TTL.
  urls: {
    maxKeys: 4 * MAX_TARIFFS,
    maxValueBytes: MAX_DOCUMENT_BYTES,
    maxBytes: 256 * MIB,
    maxConsumers: -1,
  },
};
