import { BUCKETS, type TariffRef } from '@ratebus/schema';
import { DiskCache } from './disk-cache.js';
import { freshnessOf } from './freshness.js';
import { type ClientHooks, REJECT_REASONS, type RejectReason, type UpdateKind } from './hooks.js';
import type { BucketEntry, InformerSink } from './informer.js';
import { type ApplyResult, type Epoch, LocalCopy } from './local-copy.js';
import { type ClientLogger, errInfo } from './logger.js';
import type { ResolvedOptions } from './options.js';
import { UpdateHub } from './updates.js';
import type { RateView } from './view.js';

export interface CopyCounters {
  applied: number;
  confirmations: number;
  duplicates: number;
  removed: number;
  restored: number;
  rejected: Record<RejectReason, number>;
}

/**
 * Applies what the informers see to the local copy, and turns each change into an update event, a hook
 * call, a counter and (with a cache dir) a persisted file.
 */
export class CopyKeeper {
  readonly copy = new LocalCopy();
  readonly hub: UpdateHub;
  readonly disk: DiskCache | null;
  readonly counters: CopyCounters = {
    applied: 0,
    confirmations: 0,
    duplicates: 0,
    removed: 0,
    restored: 0,
    rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
  };

  readonly ratesSink: InformerSink = {
    onEntry: (e, epoch) => this.onRates(e, epoch),
    onListed: (listed) => {
      for (const key of [...this.copy.keys()]) if (!listed.has(key)) this.removed(key, 0);
    },
  };

  readonly checksSink: InformerSink = {
    onEntry: (e, epoch) => this.onChecks(e, epoch),
    onListed: (listed) => {
      for (const key of [...this.copy.checkKeys()]) {
        if (!listed.has(key) && this.copy.dropCheck(key)) this.confirmationChanged(key, 0);
      }
    },
  };

  constructor(
    private readonly o: ResolvedOptions,
    private readonly now: () => number,
    private readonly logger: ClientLogger,
    private readonly hooks: ClientHooks,
  ) {
    this.hub = new UpdateHub(o.maxBufferedUpdates, logger);
    this.disk = o.cacheDir ? new DiskCache(o.cacheDir, logger) : null;
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

  view(key: string): RateView | undefined {
    const held = this.copy.document(key);
    const confirmed = this.copy.confirmedAt(key);
    if (!held || confirmed === undefined) return undefined;
    const { freshness, ageMs } = freshnessOf(confirmed, this.now(), this.o);
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
      const c = this.copy.confirmedAt(key);
      if (c !== undefined) oldest = Math.max(oldest, this.now() - c);
    }
    return oldest;
  }

  private onRates(e: BucketEntry, epoch: Epoch): void {
    if (e.operation !== 'PUT') {
      if (this.copy.removeDocument(e.key, e.revision, epoch)) this.afterRemove(e.key, e.revision);
      return;
    }
    const r = this.copy.applyDocument(e.key, e.value, e.revision, epoch);
    if (this.counted(r, BUCKETS.rates, e)) this.changed('document', e.key, e.revision);
  }

  private onChecks(e: BucketEntry, epoch: Epoch): void {
    const before = this.copy.confirmedAt(e.key);
    if (e.operation !== 'PUT') {
      this.copy.removeCheck(e.key, e.revision, epoch);
    } else {
      const r = this.copy.applyCheck(e.key, e.value, e.revision, epoch);
      if (!this.counted(r, BUCKETS.checks, e)) return;
    }
    if (this.copy.confirmedAt(e.key) !== before) this.confirmationChanged(e.key, e.revision);
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

  private confirmationChanged(key: string, revision: number): void {
    if (!this.copy.document(key)) return;
    this.counters.confirmations++;
    this.changed('confirmation', key, revision);
  }

  private removed(key: string, revision: number): void {
    if (this.copy.dropDocument(key)) this.afterRemove(key, revision);
  }

  private afterRemove(key: string, revision: number): void {
    this.counters.removed++;
    const ref = refOfKey(key);
    this.disk?.remove(key, ref);
    this.notify('removed', key, ref, revision, undefined);
  }

  private changed(kind: UpdateKind, key: string, revision: number): void {
    const held = this.copy.document(key);
    const confirmed = this.copy.confirmedAt(key);
    if (!held || confirmed === undefined) return;
    if (kind === 'document') this.counters.applied++;
    this.disk?.save(held, this.copy.check(key) ?? null, confirmed);
    this.notify(kind, key, held.ref, revision, this.view(key));
  }

  private notify(
    kind: UpdateKind,
    key: string,
    ref: TariffRef,
    revision: number,
    view: RateView | undefined,
  ): void {
    const bucket = kind === 'confirmation' ? BUCKETS.checks : BUCKETS.rates;
    this.safely(() => this.hooks.onUpdate?.({ kind, bucket, key, revision }));
    this.hub.emit({ kind, product: ref.product, tariff: ref.tariff, revision, view });
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.logger.warn(errInfo(e), 'hook threw');
    }
  }
}

function refOfKey(key: string): TariffRef {
  const [product, tariff] = key.split('.') as [string, string];
  return { product, tariff } as TariffRef;
}
