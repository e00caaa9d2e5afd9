import type { KV } from '@nats-io/kv';
import { isCasLoss } from '@ratebus/bus';
import { LockLostError } from './errors.js';
import { type ClientLogger, errInfo } from './logger.js';

export interface KvLockOptions {
  /**
   * Lock duration, ms: a holder renews every third of it and holds for two thirds after the send of its last
   * write; another pod takes the key over once it has seen the same revision unchanged this long. Written
   * into the value as `durationMs`, and the holder's own is the one a taker honours.
   */
  readonly durationMs: number;
  /** Bound on each renewal request, ms. */
  readonly requestTimeoutMs: number;
  readonly logger: ClientLogger;
}

/**
 * What a pod has seen of lock keys held by others: the revision and when the read returned (monotonic
 * ms). Kept across attempts: a key whose revision stays the same for the holder's duration is free.
 */
export type LockSightings = Map<string, { rev: number; at: number }>;

/**
 * A lock on one key of the lease bucket, held like the fetchers' lease: `create` takes a free key, a CAS
 * `update` takes over one whose revision was seen unchanged for the holder's duration (the revision of the
 * winning write is the fencing term), a CAS `update` every third of the duration renews it, `delete` with
 * `previousSeq` releases it. The holder counts itself as holding only until two thirds of the duration after
 * the send time of its last successful write, so it stops before anyone else can take over. On a bucket
 * made with a TTL by an earlier version, the TTL also frees the key (durationMs must then not exceed it).
 */
export class KvLock {
  /** Fencing term: the revision of the write that won the lock (create or take-over). */
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

  /**
   * Takes the lock, or resolves null when someone holds it (a held key is recorded in `seen`, and taken over
   * by a later call once its revision stayed the same for the holder's duration). Throws on other errors.
   */
  static async acquire(
    kv: KV,
    key: string,
    value: string,
    o: KvLockOptions,
    seen: LockSightings,
  ): Promise<KvLock | null> {
    const entry = await kv.get(key);
    let expected: number | null = null;
    if (entry?.operation === 'PUT') {
      const at = performance.now();
      const prior = seen.get(key);
      if (prior?.rev !== entry.revision) {
        seen.set(key, { rev: entry.revision, at });
        return null;
      }
      if (at - prior.at < declaredDuration(entry.value, o.durationMs)) return null;
      expected = entry.revision;
    }
    const sentAt = performance.now();
    try {
      const rev = expected === null ? await kv.create(key, value) : await kv.update(key, value, expected);
      seen.delete(key);
      return new KvLock(kv, key, value, rev, sentAt, o);
    } catch (e) {
      if (isCasLoss(e)) return null;
      throw e;
    }
  }

  private get holdMs(): number {
    return (this.o.durationMs * 2) / 3;
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
   * Stops renewing. With `keep`, leaves the key to lapse (so no other pod retries for a whole duration);
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
      this.o.logger.debug({ key: this.key, ...errInfo(e) }, 'lock release failed; it lapses');
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
    }, this.o.durationMs / 3);
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

/** The `durationMs` a holder wrote into its value (lock or lease), or `fallback`. */
export function declaredDuration(value: Uint8Array, fallback: number): number {
  try {
    const d = (JSON.parse(new TextDecoder().decode(value)) as { durationMs?: unknown }).durationMs;
    return typeof d === 'number' && Number.isSafeInteger(d) && d > 0 ? d : fallback;
  } catch {
    return fallback;
  }
}
