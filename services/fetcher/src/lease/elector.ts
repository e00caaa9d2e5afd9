import type { KV } from '@nats-io/kv';
import {
  type CampaignStep,
  type Fence,
  isCasLoss,
  LeaseCandidate,
  type LeaseEndReason,
  LeaseTerm,
} from '@ratebus/bus';
import { LEASE_KEY } from '@ratebus/schema';
import type { Logger } from 'pino';
import { NotLeaderError } from '../errors.js';
import { errorKind, leaseValue, withTerm } from './value.js';
import { verifyLeaseBucket } from './verify.js';

/** Upper bound of one lease request (JetStream timeout), ms. */
export const DEFAULT_LEASE_REQUEST_TIMEOUT_MS = 2_000;
/** Candidates read the key every retry period × (1 + up to this fraction). */
export const CAMPAIGN_JITTER = 0.2;

/** Why a leader stopped leading. */
export type DeposedReason = LeaseEndReason;

/** Outcome of one renew, for metrics. */
export type RenewOutcome = 'ok' | 'adopted' | 'conflict' | 'error';

/** Optional hooks for metrics. Called synchronously; must not throw. */
export interface ElectorObserver {
  /** Leadership changed: `leading` true when elected, false when deposed. */
  leadership?(leading: boolean, term: number): void;
  /** One renew finished after `seconds`; `kind` names the error class or API code on failure. */
  renew?(outcome: RenewOutcome, seconds: number, kind?: string): void;
}

export interface LeaderElectorOptions {
  /** The lease bucket: no TTL (or, made by an earlier version, TTL = `durationMs`; checked by `start()`). */
  kv: KV;
  /** Lease key inside the bucket. Default `fetcher` (LEASE_KEY). */
  key?: string;
  /** Identity written into the lease value (FETCHER_ID). */
  holder: string;
  /** Lease duration, ms: a candidate takes over a key whose revision it has seen unchanged this long. */
  durationMs: number;
  /** A leader stops this long after the send time of its last good renew, ms. */
  renewDeadlineMs: number;
  /** Renew cadence of the leader and read cadence of candidates, ms. */
  retryPeriodMs: number;
  /** Timeout of each renew request, ms. Default min(2000, renewDeadlineMs / 2). */
  requestTimeoutMs?: number;
  /** Wait after winning before `onElected` is called, ms. Default 0 (see README: timing margin). */
  graceMs?: number;
  logger: Logger;
  /** Called when this process becomes the leader; the fence is valid for this term only. */
  onElected(fence: Fence): void;
  /** Called when a term that was announced with `onElected` ends. */
  onDeposed?(reason: DeposedReason, term: number): void;
  observer?: ElectorObserver;
  /** Randomness for the campaign jitter, in [0, 1). Default Math.random. */
  random?: () => number;
}

interface Term {
  readonly lease: LeaseTerm;
  graceTimer: NodeJS.Timeout | null;
  announced: boolean;
}

export type ElectorState = 'idle' | 'candidate' | 'leader' | 'stopped';

const now = () => performance.now();

/**
 * Lease election on a NATS KV key (nats-server 2.9 compatible), after k8s client-go's leaderelection, on the
 * lease core of `@ratebus/bus`: candidates read the key every retry period; they `create()` it when it is
 * absent or deleted, and take it over with a CAS `update()` once they have seen the same revision for
 * `durationMs` (`LeaseCandidate`). The revision of that winning write is the fencing term. The leader renews
 * with a CAS `update()` every retry period and stops on its own monotonic deadline (`renewDeadlineMs` after
 * the send time of its last good renew), which always comes before anyone can take over: that needs the
 * revision unchanged for `durationMs` after it was stored, which is after it was sent (`LeaseTerm`). The
 * bucket has no TTL (see verify.ts). Ambiguous writes are resolved by re-reading the per-term nonce.
 * `release()` deletes the key so a candidate's next `create()` wins at once.
 */
export class LeaderElector implements AsyncDisposable {
  private readonly kv: KV;
  private readonly key: string;
  private readonly opts: LeaderElectorOptions;
  private readonly requestTimeoutMs: number;
  private readonly random: () => number;
  private readonly candidate: LeaseCandidate;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private current: Term | null = null;
  /** Our latest term, kept after it ended so release() can delete its last write. */
  private held: LeaseTerm | null = null;
  private lastCampaignWarn = 0;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.kv = opts.kv;
    this.key = opts.key ?? LEASE_KEY;
    this.requestTimeoutMs =
      opts.requestTimeoutMs ??
      Math.min(DEFAULT_LEASE_REQUEST_TIMEOUT_MS, Math.floor(opts.renewDeadlineMs / 2));
    this.random = opts.random ?? Math.random;
    this.candidate = new LeaseCandidate({
      kv: this.kv,
      key: this.key,
      claimValue: (nonce) => leaseValue(opts.holder, nonce, new Date(), opts.durationMs),
      durationMs: () => opts.durationMs,
      deadlineMs: opts.renewDeadlineMs,
    });
  }

  get state(): ElectorState {
    if (this.stopped) return 'stopped';
    if (!this.started) return 'idle';
    return this.current ? 'leader' : 'candidate';
  }

  /** The term being led, or null. */
  get term(): number | null {
    return this.current?.lease.term ?? null;
  }

  /** True while leading and within the renew deadline. */
  get leading(): boolean {
    return this.current?.lease.leading ?? false;
  }

  /** Verifies the bucket's TTL (throws BucketMismatchError) and starts campaigning. */
  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    await verifyLeaseBucket(this.kv, this.opts.durationMs, this.opts.logger);
    if (this.stopped) return;
    this.started = true;
    this.opts.logger.info(
      {
        holder: this.opts.holder,
        durationMs: this.opts.durationMs,
        renewDeadlineMs: this.opts.renewDeadlineMs,
        retryPeriodMs: this.opts.retryPeriodMs,
      },
      'campaigning for the lease',
    );
    this.schedule(0);
  }

  /**
   * Stops campaigning and renewing; a current term ends with reason `stopped` (its fence aborts). Waits for
   * an in-flight request. Does not delete the lease: call `release()` once the leader's work has stopped.
   * Idempotent.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.current?.lease.end('stopped');
    while (this.inFlight !== null) await this.inFlight;
  }

  /**
   * Gives up term `term` but keeps campaigning: the term ends with reason `resigned` (its fence aborts) and the
   * key is deleted if it still holds our last write, so the next create — ours or another candidate's — starts
   * a new term. For a leader whose work stopped by itself (it found a newer term in the store): without this
   * the lease would stay renewed with nobody working under it. No-op unless `term` is the current term.
   */
  async resign(term: number): Promise<void> {
    const t = this.current;
    if (this.stopped || !t || t.lease.term !== term) return;
    if (this.held !== t.lease) {
      t.lease.end('resigned');
      return;
    }
    this.held = null;
    // A renew in flight that lands after this sees the term ended and deletes its own revision.
    const r = await t.lease.release('resigned');
    if (r.kind === 'released') {
      this.opts.logger.info({ event: 'lease-released', term }, `lease released term=${term} (resigned)`);
    } else if (r.kind === 'failed') {
      this.opts.logger.info({ term, err: r.error }, 'resigned; the lease was not deleted and will lapse');
    }
  }

  /** Stops (if not yet) and deletes the lease key if it still holds our last write. Idempotent. */
  async release(): Promise<void> {
    await this.stop();
    const held = this.held;
    this.held = null;
    if (!held) return;
    const r = await held.release('stopped');
    if (r.kind === 'released') {
      this.opts.logger.info({ event: 'lease-released', term: held.term }, `lease released term=${held.term}`);
    } else if (r.kind === 'failed' && isCasLoss(r.error)) {
      this.opts.logger.info({ term: held.term }, 'lease was no longer ours; nothing to release');
    } else if (r.kind === 'failed') {
      this.opts.logger.warn({ term: held.term, err: r.error }, 'lease release failed; it will lapse');
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  // --- loop ---------------------------------------------------------------------------------------------

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const started = now();
      this.inFlight = this.tick().finally(() => {
        this.inFlight = null;
        this.schedule(this.nextDelay(started));
      });
    }, delayMs);
  }

  private nextDelay(tickStarted: number): number {
    const retry = this.opts.retryPeriodMs;
    // Leader: keep the cadence whatever the request took. Candidate: jitter so candidates spread out.
    if (this.current) return Math.max(0, retry - (now() - tickStarted));
    return retry * (1 + this.random() * CAMPAIGN_JITTER);
  }

  /** One step; never rejects. */
  private async tick(): Promise<void> {
    try {
      if (this.current) await this.renew(this.current);
      else await this.campaign();
    } catch (e) {
      this.opts.logger.error({ err: e }, 'lease tick failed unexpectedly');
    }
  }

  // --- candidate ----------------------------------------------------------------------------------------

  private async campaign(): Promise<void> {
    const step = await this.candidate.campaign();
    if (step.kind === 'read-failed') this.warnCampaign(step.error, 'lease read failed; retrying');
    if (step.kind === 'write-failed')
      this.warnCampaign(step.error, 'lease campaign request failed; retrying');
    if (step.kind !== 'won') return;
    if (step.how === 'taken-over') {
      this.opts.logger.info(
        { previous: step.previous, durationMs: this.opts.durationMs },
        'took over a lease left unrenewed for a whole lease duration',
      );
    } else if (step.how === 'adopted') {
      this.opts.logger.info({ term: step.rev }, 'an earlier ambiguous create of ours landed; adopting it');
    }
    this.becomeLeader(step);
  }

  private warnCampaign(e: unknown, msg: string): void {
    if (now() - this.lastCampaignWarn <= 10 * this.opts.retryPeriodMs) return;
    this.lastCampaignWarn = now();
    this.opts.logger.warn({ err: e, kind: errorKind(e) }, msg);
  }

  private becomeLeader(won: Extract<CampaignStep, { kind: 'won' }>): void {
    let t: Term | null = null;
    const lease = new LeaseTerm(won, withTerm(won.claim.value, won.rev), {
      kv: this.kv,
      key: this.key,
      deadlineMs: this.opts.renewDeadlineMs,
      requestTimeoutMs: this.requestTimeoutMs,
      endError: (term, reason) => new NotLeaderError(term, reason),
      onEnd: (reason) => {
        if (t) this.stepDown(t, reason);
      },
    });
    this.held = lease;
    if (this.stopped) {
      // Won while shutting down: never announce, but let release() delete it.
      lease.end('stopped');
      return;
    }
    t = { lease, graceTimer: null, announced: false };
    this.current = t;
    const term = lease.term;
    this.opts.logger.info(
      { event: 'elected', term, holder: this.opts.holder },
      `leader elected term=${term}`,
    );
    this.opts.observer?.leadership?.(true, term);
    const grace = this.opts.graceMs ?? 0;
    const elected = t;
    if (grace > 0) elected.graceTimer = setTimeout(() => this.announce(elected), grace);
    else this.announce(elected);
  }

  private announce(t: Term): void {
    t.graceTimer = null;
    if (t.lease.ended || this.current !== t) return;
    if (!t.lease.withinDeadline()) {
      t.lease.end('deadline-passed');
      return;
    }
    t.announced = true;
    try {
      this.opts.onElected(t.lease.fence);
    } catch (e) {
      this.opts.logger.error({ err: e, term: t.lease.term }, 'onElected threw');
    }
  }

  // --- leader -------------------------------------------------------------------------------------------

  private async renew(t: Term): Promise<void> {
    const r = await t.lease.renew();
    const term = t.lease.term;
    const observer = this.opts.observer;
    if (r.kind === 'ok') {
      observer?.renew?.('ok', r.seconds);
      // The renew landed after we gave up (deadline): nobody works under it, so it was freed for the others.
      if (r.late !== null && r.late !== 'stopped') {
        this.opts.logger.info({ term }, 'late renew after stepping down; deleting the lease');
      }
    } else if (r.kind === 'error') {
      // Transient (timeout, no responders during a stream-leader election, reconnecting): the write may
      // have landed; the lease core keeps trying until the deadline.
      observer?.renew?.('error', r.seconds, errorKind(r.error));
      this.opts.logger.warn({ err: r.error, kind: errorKind(r.error), term }, 'lease renew failed; retrying');
    } else if (r.kind === 'conflict') {
      observer?.renew?.('conflict', r.seconds, errorKind(r.error));
      if (r.resolved === 'adopted') {
        observer?.renew?.('adopted', 0);
        this.opts.logger.info({ term, rev: r.rev }, 'ambiguous renew was ours; adopted');
      } else if (r.resolved === 'unread') {
        this.opts.logger.warn({ err: r.readError, term }, 'cannot read the lease after a renew conflict');
      }
    }
  }

  /** Called by the lease core once term `t` ended (its fence already aborted). */
  private stepDown(t: Term, reason: DeposedReason): void {
    if (this.current === t) this.current = null;
    if (t.graceTimer) clearTimeout(t.graceTimer);
    t.graceTimer = null;
    const term = t.lease.term;
    this.opts.logger.info(
      { event: 'stepped-down', term, reason },
      `stepped down term=${term} reason=${reason}`,
    );
    this.opts.observer?.leadership?.(false, term);
    if (t.announced) {
      try {
        this.opts.onDeposed?.(reason, term);
      } catch (e) {
        this.opts.logger.error({ err: e, term }, 'onDeposed threw');
      }
    }
  }
}
