import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { BUCKETS, decode, RatesDocumentSchema, ratesSubject, type TariffRef } from '@ratebus/schema';
import type { Epoch, LocalCopy } from '../copy/local-copy.js';
import type { ClientHooks, ResyncKind } from '../hooks.js';
import { type ClientLogger, errInfo } from '../logger.js';
import { jittered, Periodic, sleep } from '../timing.js';
import type { BucketEntry, InformerSink } from './bucket-informer.js';
import type { LeaderRead } from './copy-keeper.js';

export interface FollowerOptions {
  /** Period of the confirmation poll (a get of `ratebus-checks` per followed tariff that wants one), ms; ±25 %. */
  readonly resyncIntervalMs: number;
  /** Period of the full catch-up (a get of both buckets per followed tariff), ms; jittered ±25 %. */
  readonly relistIntervalMs: number;
  readonly jsTimeoutMs: number;
  /**
   * Whether a tariff's confirmation is worth reading now. A document confirmed recently stays `fresh`
   * whatever a newer confirmation says, so the poll skips it (the caller answers "older than half of
   * `freshForMs`"); a missed document is still found by the push, the catch-up, or the next poll.
   */
  readonly wantsConfirmation: (key: string) => boolean;
  /**
   * Reads a key's latest entry through its stream's leader (STREAM.MSG.GET). The periodic catch-up reads
   * with it; so does every get once {@link viaLeader} says so.
   */
  readonly leaderRead: LeaderRead;
  /**
   * Whether every get should go through the stream leader: true once the copy has seen the server number a
   * key's writes differently (a `rebased` entry), since a direct get is answered by the replica nearest the
   * pod, and a replica that numbers writes differently would answer with its own numbers for ever.
   */
  readonly viaLeader: () => boolean;
}

/** After a reconnect, the catch-up starts within this long (random), so a fleet does not ask at once: 10 s at most. */
export const MAX_RECONNECT_SPREAD_MS = 10_000;
/** A pushed document not yet in the bucket the pod reads from (a replica behind) is asked for again this often. */
const PUSH_RETRY_MS = 250;
const PUSH_ATTEMPTS = 4;
/** After a revision went down, STREAM.INFO to learn the bucket's epoch again at most this often, ms. */
const EPOCH_CHECK_MS = 1_000;

type BucketName = 'rates' | 'checks';
/** Where a get is answered: the nearest replica (a direct get, where the bucket allows it) or the stream leader. */
type ReadFrom = 'nearest' | 'leader';

/**
 * Keeps only the followed tariffs in step, with no JetStream consumer: live documents arrive on the core
 * subject `ratebus.rates.{product}.{tariff}` (the fetcher publishes each new document there after its KV
 * write); each push is applied through one get of its key, which gives the KV revision the copy orders by.
 * Confirmations (`ratebus-checks`, no core subject) are polled every `resyncIntervalMs` for each tariff
 * whose confirmation is older than half the fresh period (a younger one stays fresh anyway); a check of other
 * content, newer than the held document, also pulls the document. Every `relistIntervalMs` and
 * after every reconnect (spread over up to {@link MAX_RECONNECT_SPREAD_MS}) both keys of every followed
 * tariff are read again: what a lost push or a half-open link missed is recovered. The periodic catch-up
 * reads through the stream leader, so a revision number that only the replica nearest the pod had is
 * corrected too (a direct get goes to the nearest replica; nats-server 2.9.10 was seen to keep a replica
 * numbering writes differently after a node crash). A key the bucket lacks is
 * kept as held (like the bucket mirror's relist). A get that answers a lower revision than the held one
 * makes the follower read the bucket's epoch again (a recreated bucket restarts revisions at 1); within one
 * epoch the keeper's loss check (reads through the stream leader) decides.
 */
export class TariffFollower {
  private readonly followed = new Map<string, { sub: Subscription | null; read: Promise<void> }>();
  private readonly epochs: Record<BucketName, Epoch> = { rates: '', checks: '' };
  private readonly epochCheckedAt: Record<BucketName, number> = { rates: 0, checks: 0 };
  private readonly pollJob: Periodic;
  private readonly catchUpJob: Periodic;
  private readonly abort = new AbortController();
  private started: Promise<void> | null = null;
  private stopped = false;
  /** Confirmation polls made (one per followed tariff each). */
  polls = 0;
  /** Documents pushed on the core subjects of followed tariffs. */
  pushes = 0;
  /** Gets of a key (either bucket). */
  gets = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: Record<BucketName, KV>,
    private readonly sinks: Record<BucketName, InformerSink>,
    private readonly copy: LocalCopy,
    private readonly opts: FollowerOptions,
    private readonly logger: ClientLogger,
    private readonly hooks: ClientHooks,
  ) {
    const bound = opts.jsTimeoutMs * 4;
    this.pollJob = new Periodic(
      {
        name: 'confirmation poll',
        intervalMs: () => jittered(opts.resyncIntervalMs, 0.25),
        timeoutMs: bound,
        logger,
      },
      () => this.poll(),
    );
    this.catchUpJob = new Periodic(
      {
        name: 'catch-up',
        intervalMs: () => jittered(opts.relistIntervalMs, 0.25),
        timeoutMs: bound,
        logger,
      },
      () => this.catchUp('relist'),
    );
  }

  /** Reads both epochs, then starts the timers. Resolves when the epochs are known (rejects when they are not). */
  start(): Promise<void> {
    this.started ??= (async () => {
      await Promise.all([this.readEpoch('rates'), this.readEpoch('checks')]);
      this.pollJob.start();
      this.catchUpJob.start();
    })();
    return this.started;
  }

  /**
   * Follows a tariff: subscribes to its pushes and reads both keys. Resolves when that first read is done
   * (for every caller). Never rejects.
   */
  follow(key: string, ref: TariffRef): Promise<void> {
    const known = this.followed.get(key);
    if (known) return known.read;
    if (this.stopped) return Promise.resolve();
    let sub: Subscription | null = null;
    try {
      sub = this.nc.subscribe(ratesSubject(ref.product, ref.tariff), {
        callback: (err, msg) => {
          if (err) this.logger.warn({ key, ...errInfo(err) }, 'push subscription failed');
          else this.onPush(key, msg.data);
        },
      });
    } catch (e) {
      this.logger.warn({ key, ...errInfo(e) }, 'cannot subscribe to pushes; relying on the catch-up');
    }
    const read = this.readBoth(key);
    this.followed.set(key, { sub, read });
    return read;
  }

  /** Stops following a tariff (its pushes, polls and catch-ups); what is held of it stays. */
  unfollow(key: string): void {
    const f = this.followed.get(key);
    if (!f) return;
    f.sub?.unsubscribe();
    this.followed.delete(key);
  }

  /** Reads both keys of a followed (or any) tariff now. Never rejects. */
  async readBoth(key: string, from: ReadFrom = 'nearest'): Promise<void> {
    await Promise.all([this.pullQuietly('rates', key, from), this.pullQuietly('checks', key, from)]);
  }

  /** After a reconnect: a catch-up within a random delay, so that a fleet reconnecting together spreads out. */
  resync(): void {
    const spread = Math.min(this.opts.resyncIntervalMs, MAX_RECONNECT_SPREAD_MS);
    void sleep(Math.random() * spread, this.abort.signal).then(() =>
      this.stopped ? undefined : this.catchUp('resume'),
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    for (const f of this.followed.values()) f.sub?.unsubscribe();
    await Promise.all([this.pollJob.stop(), this.catchUpJob.stop()]);
  }

  private async catchUp(kind: ResyncKind): Promise<void> {
    this.emitResync(kind);
    // A recreated bucket whose revisions have already climbed past the held ones shows only in its epoch.
    await Promise.all(
      (['rates', 'checks'] as const).map((b) =>
        this.readEpoch(b).catch((e: unknown) =>
          this.logger.debug({ bucket: BUCKETS[b], ...errInfo(e) }, 'epoch read failed'),
        ),
      ),
    );
    // The periodic catch-up asks the stream leader; the one after a reconnect, which a whole fleet makes
    // within seconds of a node restart, stays spread over the replicas.
    const from: ReadFrom = kind === 'relist' ? 'leader' : 'nearest';
    await Promise.all([...this.followed.keys()].map((key) => this.readBoth(key, from)));
  }

  /** One get of each followed tariff's check; the document too when the check names other content. */
  private async poll(): Promise<void> {
    await Promise.all(
      [...this.followed.keys()].map(async (key) => {
        if (!this.opts.wantsConfirmation(key)) return;
        this.polls++;
        await this.pullQuietly('checks', key);
        // A confirmation of other content that is newer than the held document: a document was missed.
        // (One older than it is the check of the document before, about to be replaced: nothing to read.)
        const c = this.copy.check(key)?.checked;
        const d = this.copy.document(key)?.document;
        if (
          c &&
          c.contentHash !== d?.contentHash &&
          (!d || Date.parse(c.checkedAt) > Date.parse(d.fetchedAt))
        ) {
          await this.pullQuietly('rates', key);
        }
      }),
    );
  }

  private onPush(key: string, data: Uint8Array): void {
    this.pushes++;
    const d = decode(RatesDocumentSchema, 'RatesDocument', data);
    // An invalid push is not applied: the bucket's entry is what counts (and is validated when read).
    const pushed = d.ok ? d.value.contentHash : null;
    if (pushed !== null && this.copy.document(key)?.document.contentHash === pushed) return;
    void (async () => {
      for (let attempt = 1; attempt <= PUSH_ATTEMPTS && !this.stopped; attempt++) {
        await this.pull('rates', key);
        if (pushed === null || this.copy.document(key)?.document.contentHash === pushed) return;
        // The replica that answered has not stored the write yet, or the push lost to a newer one.
        await sleep(PUSH_RETRY_MS * attempt, this.abort.signal);
      }
    })().catch((e: unknown) => this.logger.debug({ key, ...errInfo(e) }, 'read after push failed'));
  }

  private async pullQuietly(
    bucket: BucketName,
    key: string,
    from: ReadFrom = 'nearest',
  ): Promise<BucketEntry | null> {
    try {
      return await this.pull(bucket, key, from);
    } catch (e) {
      this.logger.debug({ bucket, key, ...errInfo(e) }, 'get failed; the next catch-up tries again');
      return null;
    }
  }

  /** Gets a key and hands it to the sink. Null when the bucket lacks it (the held copy stays). */
  private async pull(
    bucket: BucketName,
    key: string,
    from: ReadFrom = 'nearest',
  ): Promise<BucketEntry | null> {
    this.gets++;
    const e =
      from === 'leader' || this.opts.viaLeader()
        ? await this.opts.leaderRead(BUCKETS[bucket], key)
        : await this.kv[bucket].get(key);
    if (!e || this.stopped) return null; // after close(), nothing is applied (the disk copy is flushed)
    const held = bucket === 'rates' ? this.copy.document(key) : this.copy.check(key);
    if (held && held.epoch === this.epochs[bucket] && e.revision < held.revision)
      await this.readEpoch(bucket);
    this.sinks[bucket].onEntry(e, this.epochs[bucket]);
    return e;
  }

  /** The bucket's epoch (stream creation time); read again at most every {@link EPOCH_CHECK_MS}. */
  private async readEpoch(bucket: BucketName): Promise<void> {
    const now = performance.now();
    const first = this.epochs[bucket] === '';
    if (!first && now - this.epochCheckedAt[bucket] < EPOCH_CHECK_MS) return;
    if (!first) this.epochCheckedAt[bucket] = now;
    const st = await this.kv[bucket].status();
    const created = st.streamInfo.created;
    if (!first && created !== this.epochs[bucket]) {
      this.logger.warn({ bucket: BUCKETS[bucket] }, 'bucket was recreated');
    }
    this.epochs[bucket] = created;
  }

  private emitResync(kind: ResyncKind): void {
    for (const bucket of [BUCKETS.rates, BUCKETS.checks]) {
      try {
        this.hooks.onResync?.(kind, { bucket });
      } catch (e) {
        this.logger.warn(errInfo(e), 'onResync hook threw');
      }
    }
  }
}
