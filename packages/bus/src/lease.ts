import { randomUUID } from 'node:crypto';
import type { KV, KvEntry } from '@nats-io/kv';
import { isCasLoss } from './kv.js';

/** Proof of holding a lease for one term, handed to the work done under it. */
export interface Fence {
  /** Fencing term: the revision of the write that won the lease key. Written into every document. */
  readonly term: number;
  /** Aborted when the term ends (deadline passed, CAS lost, release) or on shutdown. */
  readonly signal: AbortSignal;
  /** Throws synchronously unless still holding (signal not aborted AND the monotonic deadline not passed).
   *  Called immediately before every KV write and publish. */
  assertLeading(): void;
}

/** Why a term ended. */
export type LeaseEndReason = 'deadline-passed' | 'lease-lost' | 'stopped' | 'resigned';

const now = () => performance.now();

/** The per-term nonce of a stored lease value (a JSON object with a string `nonce`), or null. */
export function leaseNonce(entry: Pick<KvEntry, 'operation' | 'value'> | null): string | null {
  if (entry?.operation !== 'PUT') return null;
  try {
    const n = (JSON.parse(new TextDecoder().decode(entry.value)) as { nonce?: unknown }).nonce;
    return typeof n === 'string' ? n : null;
  } catch {
    return null;
  }
}

/** The `durationMs` a holder wrote into its value (a lease or a lock), or `fallback`. */
export function declaredDuration(value: Uint8Array, fallback: number): number {
  try {
    const d = (JSON.parse(new TextDecoder().decode(value)) as { durationMs?: unknown }).durationMs;
    return typeof d === 'number' && Number.isSafeInteger(d) && d > 0 ? d : fallback;
  } catch {
    return fallback;
  }
}

/** What one read of a lease key held by someone else says to a watcher (a candidate, a pod's last resort). */
export type LeaseSighting =
  /** A write not seen before, or another value under a seen revision (a server that lost writes reissued the
   *  number): its holder was alive when it wrote. `previousAt`: when the write it replaces was first seen. */
  | { readonly kind: 'changed'; readonly previousAt: number | null }
  /** The same write, seen for less than its holder's duration; or a lower revision than one already seen,
   *  until only that lower write was read for a whole duration. */
  | { readonly kind: 'held' }
  /** The same write, unchanged for its holder's whole duration: the holder is gone. Also a lower revision
   *  than one seen, when every read for its holder's whole duration returned it (the store went back). */
  | { readonly kind: 'lapsed' };

const HELD: LeaseSighting = { kind: 'held' };
const LAPSED: LeaseSighting = { kind: 'lapsed' };

/**
 * Watches a lease key held by someone else. The same write (revision and value) seen unchanged for the
 * holder's duration, measured on this process's monotonic clock from the first read that returned it, has
 * lapsed. A lower revision than one already seen is a lagging replica's answer (direct gets): it never
 * restarts the count. Only when every read for a whole duration returned the same lower write has the store
 * gone back (a restored or recreated bucket) with its holder gone: that write has lapsed, and the watcher
 * counts from it from then on.
 */
export class LeaseWatch {
  /** The held key as first read: revision, value, and when that read returned (monotonic ms). */
  private observed: Observed | null = null;
  /** A lower write than `observed`, read by every read since `at`; cleared by any other read. */
  private lower: Observed | null = null;

  /** One read of the key (a `PUT`), returned at `at` (monotonic ms); `durationMs`: its holder's. */
  see(entry: KvEntry, durationMs: number, at: number = now()): LeaseSighting {
    const o = this.observed;
    const value = entry.string();
    if (o && entry.revision < o.rev) {
      const l = this.lower;
      if (l?.rev !== entry.revision || l.value !== value) {
        this.lower = { rev: entry.revision, value, at };
        return HELD;
      }
      if (at - l.at < durationMs) return HELD;
      this.observed = l;
      this.lower = null;
      return LAPSED;
    }
    this.lower = null;
    if (o?.rev !== entry.revision || o.value !== value) {
      this.observed = { rev: entry.revision, value, at };
      return { kind: 'changed', previousAt: o?.at ?? null };
    }
    return at - o.at < durationMs ? HELD : LAPSED;
  }

  /** Starts over: renews may have happened unseen (a failed read, the key gone, a lost take-over). */
  forget(): void {
    this.observed = null;
    this.lower = null;
  }
}

interface Observed {
  readonly rev: number;
  readonly value: string;
  readonly at: number;
}

/** The value a candidate writes for one term; `nonce` is inside it and tells its writes from others'. */
export interface LeaseClaim {
  readonly nonce: string;
  readonly value: string;
}

interface PendingClaim extends LeaseClaim {
  /** Send time of the first write of this claim whose outcome is unknown (timeout, lost link), or null. */
  unknownSince: number | null;
}

export interface LeaseCandidateOptions {
  readonly kv: KV;
  readonly key: string;
  /** The value of a new claim: JSON carrying `nonce` (a fresh one per claim). */
  claimValue(nonce: string): string;
  /** How long a held entry must be seen unchanged before it is taken over, ms. */
  durationMs(entry: KvEntry): number;
  /** An ambiguous write of ours found stored is adopted only within this long of its send, ms (else freed). */
  deadlineMs: number;
}

/** What one campaign step did. `waiting`: the key is held, our CAS lost, or an unknown write was settled. */
export type CampaignStep =
  | {
      readonly kind: 'won';
      readonly claim: LeaseClaim;
      /** The revision of the winning write: the term. */
      readonly rev: number;
      /** Send time of the winning write (monotonic ms): the term's deadline counts from it. */
      readonly sentAt: number;
      /** `taken-over`: the revision `previous` was seen unchanged for a whole duration. */
      readonly how: 'created' | 'taken-over' | 'adopted';
      readonly previous?: number;
    }
  | { readonly kind: 'waiting' }
  | { readonly kind: 'read-failed'; readonly error: unknown }
  | { readonly kind: 'write-failed'; readonly error: unknown };

const WAITING: CampaignStep = { kind: 'waiting' };

/**
 * A candidate for a lease key, after k8s client-go's leaderelection: it `create()`s the key when it is
 * absent or deleted, and takes it over with a CAS `update()` once it has seen the same revision and value for
 * the holder's duration (measured on its own monotonic clock from the first read that returned it). Guards:
 * a lower revision than one already seen is a lagging replica's answer and never restarts the count (it
 * lapses only when every read for a whole duration returned it: the store went back); the same revision with another value (a server that lost writes reissued the number) does; a write of unknown
 * outcome is settled by its nonce before anything else — adopted when it landed and is recent, freed when it
 * landed too long ago, and never reused otherwise (a new claim gets a new nonce).
 */
export class LeaseCandidate {
  private claim: PendingClaim | null = null;
  private readonly watch = new LeaseWatch();

  constructor(private readonly options: LeaseCandidateOptions) {}

  /** The bucket of the lease key. */
  get kv(): KV {
    return this.options.kv;
  }

  get key(): string {
    return this.options.key;
  }

  /** One step: settle an unknown write, else read the key and create it or take it over when free. */
  async campaign(): Promise<CampaignStep> {
    if (!this.claim) {
      const nonce = randomUUID();
      this.claim = { nonce, value: this.options.claimValue(nonce), unknownSince: null };
    }
    const c = this.claim;
    if (c.unknownSince !== null) return this.settleUnknown(c, c.unknownSince);
    let entry: KvEntry | null;
    try {
      entry = await this.options.kv.get(this.options.key);
    } catch (error) {
      // Renews may have happened unseen meanwhile: watch again from the next read.
      this.watch.forget();
      return { kind: 'read-failed', error };
    }
    if (entry?.operation !== 'PUT') {
      this.watch.forget();
      return this.acquire(c, null);
    }
    // Held, or left behind by a holder that died: only the same write, unchanged for a whole lease, is free.
    if (this.watch.see(entry, this.options.durationMs(entry)).kind !== 'lapsed') return WAITING;
    return this.acquire(c, entry.revision);
  }

  /** `create()` (expected null) or takes over the revision `expected` with a CAS `update()`. */
  private async acquire(c: PendingClaim, expected: number | null): Promise<CampaignStep> {
    const sentAt = now();
    let rev: number;
    try {
      rev =
        expected === null
          ? await this.options.kv.create(this.options.key, c.value)
          : await this.options.kv.update(this.options.key, c.value, expected);
    } catch (error) {
      // "Wrong last sequence": someone else was quicker, the holder renewed, or our read was stale.
      if (isCasLoss(error)) {
        this.watch.forget();
        return WAITING;
      }
      // Timeout, no responders, closed connection ...: the write may or may not have been stored.
      c.unknownSince ??= sentAt;
      return { kind: 'write-failed', error };
    }
    this.claim = null;
    this.watch.forget();
    if (expected === null) return { kind: 'won', claim: c, rev, sentAt, how: 'created' };
    return { kind: 'won', claim: c, rev, sentAt, how: 'taken-over', previous: expected };
  }

  /** An earlier create or take-over had no answer: was it stored? Unless the read fails, settles it. */
  private async settleUnknown(c: PendingClaim, since: number): Promise<CampaignStep> {
    let entry: KvEntry | null;
    try {
      entry = await this.options.kv.get(this.options.key);
    } catch {
      return WAITING; // still unknown; next step
    }
    // Whatever the answer, this claim is done: a write that did not land (or that a lagging replica does not
    // show yet) must never be adopted later with a later send time, so the next claim gets a new nonce.
    this.claim = null;
    if (!entry || leaseNonce(entry) !== c.nonce) return WAITING;
    if (now() - since <= this.options.deadlineMs) {
      // Nobody else writes our nonce and we never renewed it, so this revision is the winning write's.
      return { kind: 'won', claim: c, rev: entry.revision, sentAt: since, how: 'adopted' };
    }
    // Too old to hold on safely: free it rather than leave everyone waiting a whole lease.
    await this.options.kv.delete(this.options.key, { previousSeq: entry.revision }).catch(() => undefined);
    return WAITING;
  }
}

export interface LeaseTermOptions {
  readonly kv: KV;
  readonly key: string;
  /** The holder stops holding this long after the send time of its last good write, ms. */
  readonly deadlineMs: number;
  /** Bound on each renew request, ms. */
  readonly requestTimeoutMs: number;
  /** The error the fence throws (and its signal aborts with) once the term ended. */
  endError(term: number, reason: LeaseEndReason): Error;
  /** Called once, synchronously, after the term ended and its fence aborted. */
  onEnd?(reason: LeaseEndReason): void;
}

/** What one renew did, for logs and metrics. `ended`: it failed after the term had ended (nothing to tell). */
export type RenewResult =
  | { readonly kind: 'ok'; readonly seconds: number; readonly late: LeaseEndReason | null }
  | { readonly kind: 'error'; readonly seconds: number; readonly error: unknown }
  | {
      readonly kind: 'conflict';
      readonly seconds: number;
      readonly error: unknown;
      /** `adopted`: our ambiguous write was stored at `rev`; `lost`: another's write or none; `stale`: a
       *  read behind our own revision; `unread`: the key could not be read (`readError`). */
      readonly resolved: 'adopted' | 'lost' | 'stale' | 'unread';
      readonly rev?: number;
      readonly readError?: unknown;
    }
  | { readonly kind: 'ended' };

/** What `release()` did: deleted our last write, had nothing to delete, or failed (a CAS loss: not ours). */
export type ReleaseResult =
  | { readonly kind: 'released' }
  | { readonly kind: 'not-held' }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * One term of a held lease key: the winning revision is the term and fences the work done under it. The
 * holder renews with a CAS `update()` (the caller sets the cadence) and stops on its own monotonic deadline,
 * `deadlineMs` after the send time of its last good write, which comes before anyone can take over (that
 * needs the revision unchanged for the duration after it was stored, which is after it was sent). A renew
 * that meets "wrong last sequence" re-reads the nonce: our own ambiguous write is adopted, another's ends the
 * term. A renew landing after the term ended is deleted (nobody works under it), except after `stopped`,
 * where `release()` deletes it.
 */
export class LeaseTerm {
  readonly term: number;
  readonly nonce: string;
  readonly fence: Fence;
  private readonly value: string;
  private rev: number;
  /** performance.now() at the SEND of the last write known to have succeeded. */
  private lastOkSend: number;
  /** Send time of the first renew since `lastOkSend` whose outcome is unknown, or null. */
  private unknownSince: number | null = null;
  private readonly controller = new AbortController();
  private deadlineTimer: NodeJS.Timeout | null = null;
  private endReason: LeaseEndReason | null = null;
  /** False once the key is known not to hold our write (lost to another, or released). */
  private holds = true;

  /** `value`: what renews write (the claim's value, possibly with the term added). */
  constructor(
    won: { readonly claim: LeaseClaim; readonly rev: number; readonly sentAt: number },
    value: string,
    private readonly options: LeaseTermOptions,
  ) {
    this.term = won.rev;
    this.nonce = won.claim.nonce;
    this.value = value;
    this.rev = won.rev;
    this.lastOkSend = won.sentAt;
    const signal = this.controller.signal;
    this.fence = { term: this.term, signal, assertLeading: () => this.assertLeading() };
    this.armDeadline();
  }

  /** Why the term ended, or null while it lasts. */
  get ended(): LeaseEndReason | null {
    return this.endReason;
  }

  /** True while the term lasts and its deadline has not passed. */
  get leading(): boolean {
    return !this.controller.signal.aborted && this.withinDeadline();
  }

  withinDeadline(): boolean {
    return now() - this.lastOkSend <= this.options.deadlineMs;
  }

  /** Ends the term: clears its timer, aborts the fence, calls `onEnd`. False when it had ended already. */
  end(reason: LeaseEndReason): boolean {
    if (this.endReason) return false;
    this.endReason = reason;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.controller.abort(this.options.endError(this.term, reason));
    this.options.onEnd?.(reason);
    return true;
  }

  private assertLeading(): void {
    if (!this.endReason && !this.withinDeadline()) this.end('deadline-passed');
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  private armDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    const remaining = this.lastOkSend + this.options.deadlineMs - now();
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      if (this.endReason) return;
      if (this.withinDeadline()) this.armDeadline();
      else this.end('deadline-passed');
    }, Math.max(0, remaining) + 1);
    this.deadlineTimer.unref();
  }

  /** One CAS renew. Never rejects. */
  async renew(): Promise<RenewResult> {
    const sent = now();
    let rev: number;
    try {
      rev = await this.options.kv.update(
        this.options.key,
        this.value,
        this.rev,
        this.options.requestTimeoutMs,
      );
    } catch (error) {
      const seconds = (now() - sent) / 1000;
      if (this.endReason) return { kind: 'ended' };
      let result: RenewResult;
      if (isCasLoss(error)) {
        result = { kind: 'conflict', seconds, error, ...(await this.resolveConflict()) };
      } else {
        // Transient (timeout, no responders during a stream-leader election, reconnecting): the write may
        // have landed; keep trying until the deadline.
        this.unknownSince ??= sent;
        result = { kind: 'error', seconds, error };
      }
      if (!this.endReason && !this.withinDeadline()) this.end('deadline-passed');
      return result;
    }
    const seconds = (now() - sent) / 1000;
    if (this.endReason === 'stopped') {
      // Shutting down: remember the revision so release() can delete the key.
      if (this.holds) this.rev = rev;
      return { kind: 'ok', seconds, late: 'stopped' };
    }
    if (this.endReason) {
      // The renew landed after the term ended: nobody works under it, so free it for the others.
      await this.options.kv.delete(this.options.key, { previousSeq: rev }).catch(() => undefined);
      return { kind: 'ok', seconds, late: this.endReason };
    }
    this.rev = rev;
    this.lastOkSend = sent;
    this.unknownSince = null;
    this.armDeadline();
    return { kind: 'ok', seconds, late: null };
  }

  /** A renew hit "wrong last sequence": either our own earlier (timed-out) renew landed, or we lost. */
  private async resolveConflict(): Promise<{
    resolved: 'adopted' | 'lost' | 'stale' | 'unread';
    rev?: number;
    readError?: unknown;
  }> {
    let entry: KvEntry | null;
    try {
      entry = await this.options.kv.get(this.options.key);
    } catch (readError) {
      return { resolved: 'unread', readError }; // inconclusive; the deadline bounds how long we keep trying
    }
    if (this.endReason) return { resolved: 'stale' };
    const nonce = leaseNonce(entry);
    if (entry && nonce === this.nonce && entry.revision > this.rev) {
      // Our ambiguous write was stored. It was sent no earlier than the first renew of unknown outcome.
      this.rev = entry.revision;
      if (this.unknownSince !== null) this.lastOkSend = Math.max(this.lastOkSend, this.unknownSince);
      this.unknownSince = null;
      this.armDeadline();
      return { resolved: 'adopted', rev: entry.revision };
    }
    if (nonce !== this.nonce) {
      // Someone else's write, or none. Even at a revision below ours: our CAS was refused, so the key is not
      // at our revision, and a server that lost writes can renumber a take-over below it.
      this.holds = false;
      this.end('lease-lost');
      return { resolved: 'lost' };
    }
    // Our own nonce at or below our revision (a stale read): keep trying until the deadline.
    return { resolved: 'stale' };
  }

  /**
   * Ends the term with `reason` (unless it had ended) and deletes the key if it still holds our last write,
   * so the next candidate's `create()` wins at once. Once only; never rejects.
   */
  async release(reason: LeaseEndReason = 'stopped'): Promise<ReleaseResult> {
    this.end(reason);
    if (!this.holds) return { kind: 'not-held' };
    this.holds = false;
    try {
      await this.options.kv.delete(this.options.key, { previousSeq: this.rev });
      return { kind: 'released' };
    } catch (error) {
      return { kind: 'failed', error };
    }
  }
}
