import type { KV } from '@nats-io/kv';
import { BucketMismatchError } from '../errors.js';

/**
 * Fails unless the lease bucket's TTL equals the lease duration. The TTL is what ends a dead leader's lease
 * on the server; `Kvm.create()` opens an existing bucket without changing its config, so a bucket made
 * earlier with another TTL would silently break the timing relations.
 */
export async function verifyLeaseBucket(kv: KV, durationMs: number): Promise<void> {
  const status = await kv.status();
  if (status.ttl !== durationMs) {
    throw new BucketMismatchError(status.bucket, 'ttl (ms)', durationMs, status.ttl);
  }
}
