import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { LockLostError } from './errors.js';
import { type ClientLogger, errInfo } from './logger.js';

/** True when a KV write lost a compare-and-set (the key exists, or moved on since we read it). */
export function isCasLoss(e: unknown): boolean {
  return (
    e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
      e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export interface KvLockOptions {
  /** The bucket's TTL, ms: a holder that stops renewing loses the lock this long after its last write. */
  readonly ttlMs: number;
  /** Bound on each renewal request, ms. */
  readonly requestTimeoutMs: number;
  readonly logger: ClientLogger;
}

/**
 * A lock on one key of a TTL bucket, held like the fetchers' lease: `create` takes it (its revision is the
 * fencing term), a CAS `update` every third of the TTL renews it, `delete` with `previousSeq` releases it,
 * and the bucket's TTL frees the key when a holder dies. The holder counts itself as holding only until two
 * thirds of the TTL after the send time of its last successful write, so it stops before anyone else can
 * take over, even when the server's expiry clock runs ahead of ours.
 */
export class KvLock {
  /** Fencing term: the create revision. */
  readonly term: number;
  private rev: number;
  private deadline: number;
  private readonly abort = new AbortController();
  private renewTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private released = false;

  private constructor(
    private readonly kv: KV,
    readonly key: string,
    private readonly value: string,
    rev: number,
    sentAt: number,
    private readonly o: KvLockOptions,
  ) {
    this.term = rev;
    this.rev = rev;
    this.deadline = sentAt + this.holdMs;
    this.armDeadline();
    this.scheduleRenew();
  }

  /** Takes the lock, or resolves null when someone holds it. Throws on other errors. */
  static async acquire(kv: KV, key: string, value: string, o: KvLockOptions): Promise<KvLock | null> {
    const sentAt = performance.now();
    try {
      const rev = await kv.create(key, value);
      return new KvLock(kv, key, value, rev, sentAt, o);
    } catch (e) {
      if (isCasLoss(e)) return null;
      throw e;
    }
  }

  private get holdMs(): number {
    return (this.o.ttlMs * 2) / 3;
  }

  /** Aborted when the lock is lost (renewal refused, or its deadline passed without a renewal). */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Throws LockLostError unless the lock is certainly still ours. Call immediately before every write. */
  assertHeld(): void {
    if (this.abort.signal.aborted || this.released) throw new LockLostError(this.key, this.term);
    if (performance.now() >= this.deadline) {
      this.lose('deadline passed');
      throw new LockLostError(this.key, this.term);
    }
  }

  /**
   * Stops renewing. With `keep`, leaves the key to expire by TTL (so no other pod retries before then);
   * otherwise deletes it if it is still ours. Never rejects; idempotent.
   */
  async release(opts: { keep?: boolean } = {}): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.clearTimers();
    await this.renewing;
    if (opts.keep || this.abort.signal.aborted) return;
    try {
      await this.kv.delete(this.key, { previousSeq: this.rev });
    } catch (e) {
      this.o.logger.debug({ key: this.key, ...errInfo(e) }, 'lock release failed; it expires by TTL');
    }
  }

  private lose(why: string): void {
    if (this.abort.signal.aborted) return;
    this.o.logger.warn({ key: this.key, term: this.term, why }, 'last-resort lock lost');
    this.clearTimers();
    this.abort.abort(new LockLostError(this.key, this.term));
  }

  private clearTimers(): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.renewTimer = null;
    this.deadlineTimer = null;
  }

  private armDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(
      () => this.lose('no renewal before the deadline'),
      Math.max(0, this.deadline - performance.now()),
    );
    this.deadlineTimer.unref();
  }

  private scheduleRenew(): void {
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      this.renewing = this.renew().finally(() => {
        this.renewing = null;
        if (!this.released && !this.abort.signal.aborted) this.scheduleRenew();
      });
    }, this.o.ttlMs / 3);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    const sentAt = performance.now();
    try {
      this.rev = await this.kv.update(this.key, this.value, this.rev, this.o.requestTimeoutMs);
      if (this.released || this.abort.signal.aborted) return;
      this.deadline = sentAt + this.holdMs;
      this.armDeadline();
    } catch (e) {
      if (isCasLoss(e)) return this.lose('renewal refused: the key moved on');
      // Transient: the next renewal may still make it before the deadline timer fires.
      this.o.logger.warn({ key: this.key, ...errInfo(e) }, 'last-resort lock renewal failed');
    }
  }
}
