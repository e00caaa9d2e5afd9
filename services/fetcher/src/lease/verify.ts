import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { BucketMismatchError } from '../errors.js';

/**
 * The lease bucket must have no TTL: the lease ends when candidates have watched the same revision for
 * `durationMs`, not when the server expires the key. A stream whose messages all expire by max_age can, on
 * nats-server 2.9.x, come back from a node crash with a last sequence below revisions it had acknowledged,
 * handing out fencing terms twice; without the TTL the probe in test/chaos/lost-writes.ts saw that no more
 * (streams without TTL were seen to lose writes too, much more rarely: test/chaos/README.md). A bucket made by
 * an earlier version with TTL = `durationMs` still works (the server then also frees a dead leader's key)
 * and is only logged; any other TTL fails with BucketMismatchError, since `Kvm.create()` opens an existing
 * bucket without changing its config.
 */
export async function verifyLeaseBucket(kv: KV, durationMs: number, logger?: Logger): Promise<void> {
  const status = await kv.status();
  if (status.ttl === 0) return;
  if (status.ttl === durationMs) {
    logger?.warn(
      { bucket: status.bucket, ttlMs: status.ttl },
      'the lease bucket has a TTL (made by an earlier version); it works, but recreate it without one ' +
        '(stop the fetchers, `nats kv rm` it; they make it again) so crashed NATS nodes cannot reissue terms',
    );
    return;
  }
  throw new BucketMismatchError(status.bucket, 'ttl (ms)', 0, status.ttl);
}
