import { setTimeout as sleep } from 'node:timers/promises';
import { BUCKETS, type TariffRef } from '@ratebus/schema';
import { DiskCache } from '../copy/disk-cache.js';
import { boundedConfirmation, freshnessOf, ServerClock } from '../copy/freshness.js';
import { type ApplyResult, type Epoch, LocalCopy } from '../copy/local-copy.js';
import { UpdateHub } from '../copy/update-hub.js';
import type { RateView } from '../copy/view.js';
import { type ClientHooks, REJECT_REASONS, type RejectReason, type UpdateKind } from '../hooks.js';
import { type ClientLogger, errInfo } from '../logger.js';
import type { ResolvedOptions } from '../options.js';
import type { BucketEntry, InformerSink } from './bucket-informer.js';

export interface CopyCounters {
  applied: number;
  confirmations: number;
  duplicates: number;
  removed: number;
  restored: number;
  /** Held revisions the stream leader did not have (at a lower revision there): the stored entry was taken. */
  rebased: number;
  /** Held documents a bucket listing lacked (purged or recreated bucket): kept, served by their true age. */
  unlisted: number;
  rejected: Record<RejectReason, number>;
}

/** At most one check of a refused older revision per key this often, ms. */
export const LOSS_CHECK_INTERVAL_MS = 5_000;
/** The two leader reads of a loss check are this far apart, ms. */
export const LOSS_CONFIRM_MS = 2_000;

/** Reads a key's latest entry through its stream's leader (STREAM.MSG.GET); null when never written. */
export type LeaderRead = (bucket: string, key: string) => Promise<BucketEntry | null>;

/**
 * Applies what the informers see to the local copy, and turns each change into an update event, a hook
 * call, a counter and (with a cache dir) a persisted file.
 */
export class CopyKeeper {
  readonly copy = new LocalCopy();
  /** The server's clock as the timestamps of received entries tell it: bounds confirmation times. */
  readonly serverClock = new ServerClock();
  readonly hub: UpdateHub;
  readonly disk: DiskCache | null;
  readonly counters: CopyCounters = {
    applied: 0,
    confirmations: 0,
    duplicates: 0,
    removed: 0,
    restored: 0,
    rebased: 0,
    unlisted: 0,
    rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
  };

  /**
   * A listing that lacks a held key removes nothing: a purged or recreated bucket (or a replica behind the
   * leader) lists nothing, yet the held document is still the last one the fetcher published. It stays
   * served, labelled by its true age, and its persisted copy stays; only a DEL/PURGE entry removes it.
   */
  readonly ratesSink: InformerSink = {
    onEntry: (e, epoch) => this.onRates(e, epoch),
    onListed: (listed) => this.countUnlisted(listed, this.copy.keys()),
  };

  /** As for rates: a confirmation that was made stays true when its record is no longer listed. */
  readonly checksSink: InformerSink = {
    onEntry: (e, epoch) => this.onChecks(e, epoch),
    onListed: () => {},
  };

  /** Set once connected: confirms a suspected loss of writes before the copy takes a lower revision. */
  leaderRead: LeaderRead | null = null;
  /** Start time of the last loss check per bucket/key (monotonic ms). */
  private readonly lossChecks = new Map<string, number>();

  constructor(
    private readonly options: ResolvedOptions,
    private readonly now: () => number,
    private readonly logger: ClientLogger,
    private readonly hooks: ClientHooks,
  ) {
    this.hub = new UpdateHub(options.maxBufferedUpdates, logger);
    this.disk = options.cacheDir ? new DiskCache(options.cacheDir, logger) : null;
  }

  /** Loads the persisted copy; returns how many documents it holds. */
  async restore(): Promise<number> {
    if (!this.disk) return 0;
    for (const r of await this.disk.loadAll()) {
      this.copy.restore(r.document, r.check);
      this.counters.restored++;
    }
    this.logger.info({ documents: this.copy.size, dir: this.disk.dir }, 'persisted rates loaded');
    return this.copy.size;
  }

  /** The confirmation time freshness counts from: the writer's, bounded by the server's timestamps. */
  confirmedAt(key: string): number | undefined {
    const c = this.copy.confirmation(key);
    return c && boundedConfirmation(c.at, c.storedAt);
  }

  view(key: string): RateView | undefined {
    const held = this.copy.document(key);
    const confirmed = this.confirmedAt(key);
    if (!held || confirmed === undefined) return undefined;
    const { freshness, ageMs } = freshnessOf(confirmed, this.now(), this.options);
    return {
      document: held.document,
      freshness,
      ageMs,
      confirmedAt: new Date(confirmed),
      coversThrough: held.document.coversThrough,
      revision: held.revision,
    };
  }

  /** The oldest confirmation age among held documents, ms (0 when none). */
  maxAgeMs(): number {
    let oldest = 0;
    for (const key of this.copy.keys()) {
      const c = this.confirmedAt(key);
      if (c !== undefined) oldest = Math.max(oldest, this.now() - c);
    }
    return oldest;
  }

  /** A rates entry; with `rebase`, one the loss check took from the stream leader (see checkLoss). */
  private onRates(e: BucketEntry, epoch: Epoch, rebase = false): void {
    if (e.operation !== 'PUT') {
      if (this.copy.removeDocument(e.key, e.revision, epoch)) this.afterRemove(e.key, e.revision);
      return;
    }
    const storedAt = this.serverClock.storedAt(e.created, this.now());
    const r = this.copy.applyDocument(e.key, e.value, e.revision, epoch, rebase, storedAt);
    if (this.counted(r, BUCKETS.rates, e)) this.changed('document', e.key, e.revision, rebase);
    else if (!rebase && isOlderRevision(r)) this.checkLoss(BUCKETS.rates, e.key, epoch);
  }

  /** A checks entry; `rebase` as for {@link onRates}. */
  private onChecks(e: BucketEntry, epoch: Epoch, rebase = false): void {
    const before = this.copy.confirmedAt(e.key);
    if (e.operation !== 'PUT') {
      this.copy.removeCheck(e.key, e.revision, epoch);
    } else {
      const storedAt = this.serverClock.storedAt(e.created, this.now());
      const r = this.copy.applyCheck(e.key, e.value, e.revision, epoch, rebase, storedAt);
      if (!this.counted(r, BUCKETS.checks, e)) {
        if (!rebase && isOlderRevision(r)) this.checkLoss(BUCKETS.checks, e.key, epoch);
        return;
      }
    }
    if (this.copy.confirmedAt(e.key) !== before) this.confirmationChanged(e.key, e.revision, rebase);
  }

  /**
   * A message older than the held revision: normally a replay or a lagging replica's answer. But when the
   * stream leader itself has the key at a lower revision than the one held, the held revision is not the
   * store's: the server lost acknowledged writes and numbers later ones again, or the pod was served by a
   * replica that numbered writes differently from the leader (both seen with nats-server 2.9.10 after node
   * crashes). Without this check the copy would refuse every later write of the key until the leader's
   * sequence passed the held revision. Then the stored entry is taken (term and coverage rules still apply), the update is
   * marked `rebased`, and `stats().rebased` counts it. Two leader reads `LOSS_CONFIRM_MS` apart must both
   * lack the held revision — a node just restarted can answer for a moment as the leader it was, with its
   * state from before the crash — and the held revision must not have moved meanwhile. At most one check
   * per key every `LOSS_CHECK_INTERVAL_MS`.
   */
  private checkLoss(bucket: string, key: string, epoch: Epoch): void {
    const read = this.leaderRead;
    const id = `${bucket}/${key}`;
    const last = this.lossChecks.get(id);
    const started = performance.now();
    if (!read || (last !== undefined && started - last < LOSS_CHECK_INTERVAL_MS)) return;
    this.lossChecks.set(id, started);
    const heldNow = () => (bucket === BUCKETS.rates ? this.copy.document(key) : this.copy.check(key));
    const before = heldNow();
    if (!before || before.epoch !== epoch) return;
    const gone = async () => {
      const e = await read(bucket, key);
      const h = heldNow();
      const lost = h?.revision === before.revision && h.epoch === epoch && e?.operation === 'PUT';
      return lost && e.revision < before.revision ? e : null;
    };
    void (async () => {
      if (!(await gone())) return;
      await sleep(LOSS_CONFIRM_MS, undefined, { ref: false });
      const e = await gone();
      if (!e) return;
      this.counters.rebased++;
      this.logger.warn(
        { bucket, key, held: before.revision, stored: e.revision },
        'the stream leader has the key below the held revision (server lost or renumbered writes); taking its entry',
      );
      if (bucket === BUCKETS.rates) this.onRates(e, epoch, true);
      else this.onChecks(e, epoch, true);
    })().catch((err: unknown) => {
      // No answer (no stream leader yet, say): the next refused message may check again at once.
      this.lossChecks.delete(id);
      this.logger.debug({ bucket, key, ...errInfo(err) }, 'leader read failed');
    });
  }

  /** Counts a result; true when it changed the copy. */
  private counted(r: ApplyResult, bucket: string, e: BucketEntry): boolean {
    if (r.kind === 'duplicate') this.counters.duplicates++;
    if (r.kind !== 'rejected') return r.kind === 'applied';
    this.counters.rejected[r.reason]++;
    this.logger.warn({ bucket, key: e.key, revision: e.revision, reason: r.reason }, 'message rejected');
    this.safely(() => this.hooks.onReject?.(r.reason, { bucket, key: e.key, revision: e.revision }));
    return false;
  }

  private confirmationChanged(key: string, revision: number, rebased = false): void {
    if (!this.copy.document(key)) return;
    this.counters.confirmations++;
    this.changed('confirmation', key, revision, rebased);
  }

  /** Counts held documents a listing lacked (kept, see ratesSink). */
  private countUnlisted(listed: ReadonlySet<string>, held: Iterable<string>): void {
    let n = 0;
    for (const key of held) if (!listed.has(key)) n++;
    if (n > 0) {
      this.counters.unlisted += n;
      this.logger.info({ documents: n }, 'held documents not in the bucket listing; kept, aging');
    }
  }

  private afterRemove(key: string, revision: number): void {
    this.counters.removed++;
    const ref = refOfKey(key);
    this.disk?.remove(key, ref);
    this.notify('removed', key, ref, revision, undefined);
  }

  private changed(kind: UpdateKind, key: string, revision: number, rebased = false): void {
    const held = this.copy.document(key);
    const confirmed = this.copy.confirmedAt(key);
    if (!held || confirmed === undefined) return;
    if (kind === 'document') this.counters.applied++;
    this.disk?.save(held, this.copy.check(key) ?? null, confirmed);
    this.notify(kind, key, held.ref, revision, this.view(key), rebased);
  }

  private notify(
    kind: UpdateKind,
    key: string,
    ref: TariffRef,
    revision: number,
    view: RateView | undefined,
    rebased = false,
  ): void {
    const bucket = kind === 'confirmation' ? BUCKETS.checks : BUCKETS.rates;
    this.safely(() => this.hooks.onUpdate?.({ kind, bucket, key, revision }));
    const u = { kind, product: ref.product, tariff: ref.tariff, revision, view };
    this.hub.emit(rebased ? { ...u, rebased: true } : u);
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.logger.warn(errInfo(e), 'hook threw');
    }
  }
}

function isOlderRevision(r: ApplyResult): boolean {
  return r.kind === 'rejected' && r.reason === 'older-revision';
}

function refOfKey(key: string): TariffRef {
  const [product, tariff] = key.split('.') as [string, string];
  return { product, tariff } as TariffRef;
}
