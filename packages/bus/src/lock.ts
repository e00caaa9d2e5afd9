import type { KV } from '@nats-io/kv';
import {
  type CampaignStep,
  declaredDuration,
  type Fence,
  LeaseCandidate,
  type LeaseEndReason,
  LeaseTerm,
} from './lease.js';

/** The part of a lock's duration it counts itself holding after the send of its last good write. */
const HOLD_FRACTION = 2 / 3;
/** The part of a lock's duration between two renews. */
const RENEW_FRACTION = 1 / 3;

export interface LeaseLockOptions {
  /** Lock duration, ms (see `lockCandidate`). */
  readonly durationMs: number;
  /** Bound on each renew request, ms. */
  readonly requestTimeoutMs: number;
  /** The error the fence throws (and its signal aborts with) once the lock is lost. */
  endError(term: number, reason: LeaseEndReason): Error;
  /** Called once when the lock ends (`stopped` after `release()`). */
  onEnd?(reason: LeaseEndReason, term: number): void;
  /** A renew failed without ending the lock (it may still make it before the deadline). */
  onRenewFailed?(error: unknown, term: number): void;
}

/**
 * A candidate for a lock key, held like the fetchers' lease: a key whose revision and value stay the same
 * for the holder's declared `durationMs` (or `durationMs`) is free. `claimValue` is the JSON written, with
 * its nonce; it should declare `durationMs`.
 */
export function lockCandidate(
  kv: KV,
  key: string,
  durationMs: number,
  claimValue: (nonce: string) => string,
): LeaseCandidate {
  return new LeaseCandidate({
    kv,
    key,
    claimValue,
    durationMs: (entry) => declaredDuration(entry.value, durationMs),
    deadlineMs: durationMs * HOLD_FRACTION,
  });
}

/**
 * A lock on one key of the lease bucket: one term of a lease (`LeaseTerm`) that renews itself every third of
 * its duration and holds for two thirds of it after the send time of its last good write, so it stops before
 * anyone else can take over. `release()` deletes the key, or with `keep` leaves it to be taken over after a
 * whole duration (so no other holder retries sooner).
 */
export class LeaseLock {
  readonly key: string;
  private readonly lease: LeaseTerm;
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private released = false;

  private constructor(
    candidate: LeaseCandidate,
    won: Extract<CampaignStep, { kind: 'won' }>,
    private readonly options: LeaseLockOptions,
  ) {
    this.key = candidate.key;
    this.lease = new LeaseTerm(won, won.claim.value, {
      kv: candidate.kv,
      key: candidate.key,
      deadlineMs: options.durationMs * HOLD_FRACTION,
      requestTimeoutMs: options.requestTimeoutMs,
      endError: options.endError,
      onEnd: (reason) => {
        this.clearRenew();
        options.onEnd?.(reason, won.rev);
      },
    });
    this.scheduleRenew();
  }

  /**
   * One campaign step of `candidate` (see `lockCandidate`): the lock, or null while another holds it (taken
   * over by a later call once it stayed unchanged for its holder's duration). Throws when the key could not
   * be read or written; a write of unknown outcome is settled by the next call.
   */
  static async acquire(candidate: LeaseCandidate, o: LeaseLockOptions): Promise<LeaseLock | null> {
    const step = await candidate.campaign();
    if (step.kind === 'won') return new LeaseLock(candidate, step, o);
    if (step.kind === 'waiting') return null;
    throw step.error;
  }

  /** Fencing term: the revision of the write that won the lock (create, take-over or adopted). */
  get term(): number {
    return this.lease.term;
  }

  /** The lock's fence: aborted when the lock is lost; `assertLeading()` before every write. */
  get fence(): Fence {
    return this.lease.fence;
  }

  /** Stops renewing; deletes the key if it still holds our last write, unless `keep`. Never rejects. */
  async release(opts: { keep?: boolean } = {}): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.clearRenew();
    await this.renewing;
    if (opts.keep) this.lease.end('stopped');
    else await this.lease.release('stopped');
  }

  private clearRenew(): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
  }

  private scheduleRenew(delayMs = this.options.durationMs * RENEW_FRACTION): void {
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      let next: number | undefined;
      this.renewing = this.renew()
        .then((again) => {
          next = again ? 0 : undefined;
        })
        .finally(() => {
          this.renewing = null;
          if (!this.released && !this.lease.ended) this.scheduleRenew(next);
        });
    }, delayMs);
    this.renewTimer.unref();
  }

  /** One renew; true when it should be followed at once (see below). */
  private async renew(): Promise<boolean> {
    const r = await this.lease.renew();
    if (r.kind === 'error') this.options.onRenewFailed?.(r.error, this.term);
    if (r.kind === 'conflict' && r.resolved === 'unread')
      this.options.onRenewFailed?.(r.readError, this.term);
    // An adopted write counts from its own send, up to a third of the duration ago: renew again now, or the
    // next renew would come only as the deadline passes.
    return r.kind === 'conflict' && r.resolved === 'adopted';
  }
}
