import { randomUUID } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { isCasLoss } from '@ratebus/bus';
import { LEASE_KEY } from '@ratebus/schema';
import type { Logger } from 'pino';
import { NotLeaderError } from '../errors.js';
import type { Fence } from '../worker/types.js';
import { errorKind, leaseValue, readLease, withTerm } from './value.js';
import { verifyLeaseBucket } from './verify.js';

/** Upper bound of one lease request (JetStream timeout), ms. */
export const DEFAULT_LEASE_REQUEST_TIMEOUT_MS = 2_000;
/** Candidates read the key every retry period × (1 + up to this fraction). */
export const CAMPAIGN_JITTER = 0.2;

/** Why a leader stopped leading. */
export type DeposedReason = 'deadline-passed' | 'lease-lost' | 'stopped' | 'resigned';

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

interface Candidate {
  readonly nonce: string;
  readonly value: string;
  /** Send time of the first create whose outcome is unknown (timeout, dropped connection), or null. */
  unknownSince: number | null;
}

interface Term {
  readonly term: number;
  readonly nonce: string;
  readonly value: string;
  /** Revision of our latest write of the lease key. */
  rev: number;
  /** performance.now() at the SEND of the last renew known to have succeeded. */
  lastOkSend: number;
  /** Send time of the first renew since `lastOkSend` whose outcome is unknown, or null. */
  unknownSince: number | null;
  readonly controller: AbortController;
  readonly fence: Fence;
  deadlineTimer: NodeJS.Timeout | null;
  graceTimer: NodeJS.Timeout | null;
  announced: boolean;
  deposed: DeposedReason | null;
}

export type ElectorState = 'idle' | 'candidate' | 'leader' | 'stopped';

const now = () => performance.now();

/**
 * Lease election on a NATS KV key (nats-server 2.9 compatible), after k8s client-go's leaderelection:
 * candidates read the key every retry period; they `create()` it when it is absent or deleted, and take it
 * over with a CAS `update()` once they have seen the same revision for `durationMs` (measured on their own
 * monotonic clock from the first read that returned it, like client-go's observedTime). The revision of that
 * winning write is the fencing term. The leader renews with a CAS `update()` every retry period and stops on
 * its own monotonic deadline (`renewDeadlineMs` after the send time of its last good renew), which always
 * comes before anyone can take over: that needs the revision unchanged for `durationMs` after it was stored,
 * which is after it was sent. The bucket has no TTL (see verify.ts). An ambiguous renew (timeout, then
 * "wrong last sequence") is resolved by re-reading the per-term nonce. `release()` deletes the key so a
 * candidate's next `create()` wins at once.
 */
export class LeaderElector implements AsyncDisposable {
  private readonly kv: KV;
  private readonly key: string;
  private readonly opts: LeaderElectorOptions;
  private readonly requestTimeoutMs: number;
  private readonly random: () => number;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private candidate: Candidate | null = null;
  private current: Term | null = null;
  /** Our latest known write of the key in our latest term, kept after stop so release() can delete it. */
  private held: { term: number; rev: number } | null = null;
  private lastCampaignWarn = 0;
  /**
   * The held key as this candidate first read it (revision and value: a server that lost writes can hand a
   * revision number out again, with another value), and when that read returned (monotonic ms).
   */
  private observed: { rev: number; value: string; at: number } | null = null;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.kv = opts.kv;
    this.key = opts.key ?? LEASE_KEY;
    this.requestTimeoutMs =
      opts.requestTimeoutMs ??
      Math.min(DEFAULT_LEASE_REQUEST_TIMEOUT_MS, Math.floor(opts.renewDeadlineMs / 2));
    this.random = opts.random ?? Math.random;
  }

  get state(): ElectorState {
    if (this.stopped) return 'stopped';
    if (!this.started) return 'idle';
    return this.current ? 'leader' : 'candidate';
  }

  /** The term being led, or null. */
  get term(): number | null {
    return this.current?.term ?? null;
  }

  /** True while leading and within the renew deadline. */
  get leading(): boolean {
    const t = this.current;
    return t !== null && !t.controller.signal.aborted && now() - t.lastOkSend <= this.opts.renewDeadlineMs;
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
    if (this.current) this.stepDown(this.current, 'stopped');
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
    if (this.stopped || !t || t.term !== term) return;
    this.stepDown(t, 'resigned');
    const held = this.held;
    if (held?.term !== term) return;
    this.held = null;
    try {
      // A renew in flight that lands after this sees the term deposed and deletes its own revision.
      await this.kv.delete(this.key, { previousSeq: held.rev });
      this.opts.logger.info({ event: 'lease-released', term }, `lease released term=${term} (resigned)`);
    } catch (e) {
      this.opts.logger.info({ term, err: e }, 'resigned; the lease was not deleted and will lapse');
    }
  }

  /** Stops (if not yet) and deletes the lease key if it still holds our last write. Idempotent. */
  async release(): Promise<void> {
    await this.stop();
    const held = this.held;
    this.held = null;
    if (!held) return;
    try {
      await this.kv.delete(this.key, { previousSeq: held.rev });
      this.opts.logger.info({ event: 'lease-released', term: held.term }, `lease released term=${held.term}`);
    } catch (e) {
      if (isCasLoss(e)) {
        this.opts.logger.info({ term: held.term }, 'lease was no longer ours; nothing to release');
      } else {
        this.opts.logger.warn({ term: held.term, err: e }, 'lease release failed; it will lapse');
      }
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
    if (!this.candidate) {
      const nonce = randomUUID();
      const value = leaseValue(this.opts.holder, nonce, new Date(), this.opts.durationMs);
      this.candidate = { nonce, value, unknownSince: null };
    }
    const c = this.candidate;
    if (c.unknownSince !== null) {
      // An earlier write of ours may have landed: settle that before anything else.
      await this.resolveUnknownCreate(c);
      if (this.candidate !== c || c.unknownSince !== null) return;
    }
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await this.kv.get(this.key);
    } catch (e) {
      // Renews may have happened unseen meanwhile: watch again from the next read.
      this.observed = null;
      this.warnCampaign(e, 'lease read failed; retrying');
      return;
    }
    if (entry?.operation !== 'PUT') {
      this.observed = null;
      await this.acquire(c, null);
      return;
    }
    // Held, or left behind by a holder that died: only the same write, unchanged for a whole lease, is free.
    const seenAt = now();
    const o = this.observed;
    const value = entry.string();
    // A lower revision than one already seen is a lagging replica's answer (direct gets): ignore it, so it
    // cannot restart the count. If the store really went back, the take-over CAS fails and resets it.
    if (o && entry.revision < o.rev) return;
    if (o?.rev !== entry.revision || o.value !== value) {
      this.observed = { rev: entry.revision, value, at: seenAt };
      return;
    }
    if (seenAt - o.at < this.opts.durationMs) return;
    await this.acquire(c, entry.revision);
  }

  /** `create()` (expected null) or takes over the revision `expected` with a CAS `update()`. */
  private async acquire(c: Candidate, expected: number | null): Promise<void> {
    const sent = now();
    let rev: number;
    try {
      rev =
        expected === null
          ? await this.kv.create(this.key, c.value)
          : await this.kv.update(this.key, c.value, expected);
    } catch (e) {
      // "Wrong last sequence": someone else was quicker, the holder renewed, or our read was stale.
      if (isCasLoss(e)) {
        this.observed = null;
        return;
      }
      // Timeout, no responders, closed connection ...: the write may or may not have been stored.
      if (c.unknownSince === null) c.unknownSince = sent;
      this.warnCampaign(e, 'lease campaign request failed; retrying');
      return;
    }
    this.candidate = null;
    this.observed = null;
    if (expected !== null) {
      this.opts.logger.info(
        { previous: expected, durationMs: this.opts.durationMs },
        'took over a lease left unrenewed for a whole lease duration',
      );
    }
    this.becomeLeader(rev, c, sent);
  }

  private warnCampaign(e: unknown, msg: string): void {
    if (now() - this.lastCampaignWarn <= 10 * this.opts.retryPeriodMs) return;
    this.lastCampaignWarn = now();
    this.opts.logger.warn({ err: e, kind: errorKind(e) }, msg);
  }

  /** An earlier create or takeover timed out: was it stored? Settles `unknownSince` unless the read fails. */
  private async resolveUnknownCreate(c: Candidate): Promise<void> {
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await this.kv.get(this.key);
    } catch {
      return; // still unknown; next tick
    }
    const lease = readLease(entry);
    const since = c.unknownSince;
    if (!entry || !lease || lease.nonce !== c.nonce || since === null) {
      // Not our nonce: our earlier write did not land (or a lagging replica does not show it yet). Campaign
      // on with a new nonce, so that write can never be adopted later with a later send time.
      this.candidate = null;
      return;
    }
    this.candidate = null;
    if (now() - since <= this.opts.renewDeadlineMs) {
      this.opts.logger.info(
        { term: entry.revision },
        'an earlier ambiguous create of ours landed; adopting it',
      );
      // Nobody else writes our nonce and we never renewed it, so this revision is the winning write's.
      this.becomeLeader(entry.revision, c, since);
    } else {
      // Too old to lead on safely: free it rather than leave everyone waiting a whole lease.
      await this.kv.delete(this.key, { previousSeq: entry.revision }).catch(() => undefined);
    }
  }

  private becomeLeader(rev: number, c: Candidate, sentAt: number): void {
    if (this.stopped) {
      // Won while shutting down: never announce, but let release() delete it.
      this.held = { term: rev, rev };
      return;
    }
    const controller = new AbortController();
    const t: Term = {
      term: rev,
      nonce: c.nonce,
      value: withTerm(c.value, rev),
      rev,
      lastOkSend: sentAt,
      unknownSince: null,
      controller,
      fence: {
        term: rev,
        signal: controller.signal,
        assertLeading: () => this.assertLeading(t),
      },
      deadlineTimer: null,
      graceTimer: null,
      announced: false,
      deposed: null,
    };
    this.current = t;
    this.held = { term: rev, rev };
    this.opts.logger.info(
      { event: 'elected', term: rev, holder: this.opts.holder },
      `leader elected term=${rev}`,
    );
    this.opts.observer?.leadership?.(true, rev);
    this.armDeadline(t);
    const grace = this.opts.graceMs ?? 0;
    if (grace > 0) t.graceTimer = setTimeout(() => this.announce(t), grace);
    else this.announce(t);
  }

  private announce(t: Term): void {
    t.graceTimer = null;
    if (t.deposed || this.current !== t) return;
    if (!this.withinDeadline(t)) {
      this.stepDown(t, 'deadline-passed');
      return;
    }
    t.announced = true;
    try {
      this.opts.onElected(t.fence);
    } catch (e) {
      this.opts.logger.error({ err: e, term: t.term }, 'onElected threw');
    }
  }

  // --- leader -------------------------------------------------------------------------------------------

  private withinDeadline(t: Term): boolean {
    return now() - t.lastOkSend <= this.opts.renewDeadlineMs;
  }

  private assertLeading(t: Term): void {
    if (!t.deposed && !this.withinDeadline(t)) this.stepDown(t, 'deadline-passed');
    if (t.controller.signal.aborted) {
      const reason: unknown = t.controller.signal.reason;
      throw reason instanceof NotLeaderError ? reason : new NotLeaderError(t.term, 'aborted');
    }
  }

  private armDeadline(t: Term): void {
    if (t.deadlineTimer) clearTimeout(t.deadlineTimer);
    const remaining = t.lastOkSend + this.opts.renewDeadlineMs - now();
    t.deadlineTimer = setTimeout(() => {
      t.deadlineTimer = null;
      if (t.deposed) return;
      if (this.withinDeadline(t)) this.armDeadline(t);
      else this.stepDown(t, 'deadline-passed');
    }, Math.max(0, remaining) + 1);
  }

  private async renew(t: Term): Promise<void> {
    const sent = now();
    let rev: number;
    try {
      rev = await this.kv.update(this.key, t.value, t.rev, this.requestTimeoutMs);
    } catch (e) {
      const seconds = (now() - sent) / 1000;
      if (t.deposed) return;
      if (isCasLoss(e)) {
        this.opts.observer?.renew?.('conflict', seconds, errorKind(e));
        await this.resolveConflict(t);
      } else {
        // Transient (timeout, no responders during a stream-leader election, reconnecting): the write may
        // have landed; keep trying until the deadline.
        if (t.unknownSince === null) t.unknownSince = sent;
        this.opts.observer?.renew?.('error', seconds, errorKind(e));
        this.opts.logger.warn({ err: e, kind: errorKind(e), term: t.term }, 'lease renew failed; retrying');
      }
      if (!t.deposed && !this.withinDeadline(t)) this.stepDown(t, 'deadline-passed');
      return;
    }
    this.opts.observer?.renew?.('ok', (now() - sent) / 1000);
    if (t.deposed === 'stopped') {
      // Shutting down: remember the revision so release() can delete the key.
      if (this.held?.term === t.term) this.held.rev = rev;
      return;
    }
    if (t.deposed) {
      // The renew landed after we gave up (deadline): nobody works under it, so free it for the others.
      this.opts.logger.info({ term: t.term }, 'late renew after stepping down; deleting the lease');
      await this.kv.delete(this.key, { previousSeq: rev }).catch(() => undefined);
      return;
    }
    t.rev = rev;
    t.lastOkSend = sent;
    t.unknownSince = null;
    if (this.held?.term === t.term) this.held.rev = rev;
    this.armDeadline(t);
  }

  /** A renew hit "wrong last sequence": either our own earlier (timed-out) renew landed, or we lost. */
  private async resolveConflict(t: Term): Promise<void> {
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await this.kv.get(this.key);
    } catch (e) {
      this.opts.logger.warn({ err: e, term: t.term }, 'cannot read the lease after a renew conflict');
      return; // inconclusive; the deadline bounds how long we keep trying
    }
    if (t.deposed) return;
    const lease = readLease(entry);
    if (entry && lease?.nonce === t.nonce && entry.revision > t.rev) {
      // Our ambiguous write was stored. It was sent no earlier than the first renew of unknown outcome.
      t.rev = entry.revision;
      if (t.unknownSince !== null) t.lastOkSend = Math.max(t.lastOkSend, t.unknownSince);
      t.unknownSince = null;
      if (this.held?.term === t.term) this.held.rev = entry.revision;
      this.armDeadline(t);
      this.opts.observer?.renew?.('adopted', 0);
      this.opts.logger.info({ term: t.term, rev: entry.revision }, 'ambiguous renew was ours; adopted');
      return;
    }
    if (!entry || !lease || lease.nonce !== t.nonce) {
      // Someone else's write, or none. Even at a revision below ours: our CAS was refused, so the key is not
      // at our revision, and a server that lost writes can renumber a take-over below it.
      if (this.held?.term === t.term) this.held = null;
      this.stepDown(t, 'lease-lost');
    }
    // Otherwise our own nonce at or below our revision (a stale read): keep trying until the deadline.
  }

  private stepDown(t: Term, reason: DeposedReason): void {
    if (t.deposed) return;
    t.deposed = reason;
    if (this.current === t) this.current = null;
    if (t.deadlineTimer) clearTimeout(t.deadlineTimer);
    if (t.graceTimer) clearTimeout(t.graceTimer);
    t.deadlineTimer = null;
    t.graceTimer = null;
    t.controller.abort(new NotLeaderError(t.term, reason));
    this.opts.logger.info(
      { event: 'stepped-down', term: t.term, reason },
      `stepped down term=${t.term} reason=${reason}`,
    );
    this.opts.observer?.leadership?.(false, t.term);
    if (t.announced) {
      try {
        this.opts.onDeposed?.(reason, t.term);
      } catch (e) {
        this.opts.logger.error({ err: e, term: t.term }, 'onDeposed threw');
      }
    }
  }
}
