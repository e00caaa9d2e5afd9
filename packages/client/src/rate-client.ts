import { hostname } from 'node:os';
import { connect } from '@nats-io/transport-node';
import { isRequestTimeout } from '@ratebus/bus';
import {
  overlapping,
  type PaymentMethod,
  preferPaymentMethod,
  type RateSlot,
  rateKey,
  type TariffRef,
  tariffRef,
  unitRateRows,
} from '@ratebus/schema';
import { connectionOptions } from './connection.js';
import type { RateUpdate, UpdateListener } from './copy/update-hub.js';
import type { RateView } from './copy/view.js';
import {
  ClientClosedError,
  EnsureTimeoutError,
  InvalidOptionsError,
  NoFetcherError,
  NotFoundError,
} from './errors.js';
import {
  type ClientHooks,
  LAST_RESORT_OUTCOMES,
  type LastResortOutcome,
  type RejectReason,
  type ResyncKind,
} from './hooks.js';
import { LastResort } from './last-resort/last-resort.js';
import { type ClientLogger, errInfo, silentLogger } from './logger.js';
import { type RateClientOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { requestRefresh } from './refresh.js';
import { BusSync } from './sync/bus-sync.js';
import { CopyKeeper } from './sync/copy-keeper.js';
import { sleep } from './timing.js';

/** Where the data `ready()` found came from. */
export type ReadySource = 'nats' | 'cache';

/** A point in time: a Date, epoch ms, or an ISO string. */
export type TimeInput = Date | number | string;

export interface SlotQuery {
  /** Start of the range (inclusive). */
  readonly from: TimeInput;
  /** End of the range (exclusive). */
  readonly to: TimeInput;
  /** Row kept where DD and NDD twins exist. Default: the client's `preferredPaymentMethod`. */
  readonly paymentMethod?: PaymentMethod;
}

export interface ClientStats {
  /** Documents held now. */
  readonly held: number;
  /** Whether the NATS connection is up now. */
  readonly connected: boolean;
  readonly ready: ReadySource | null;
  /** New document contents applied. */
  readonly applied: number;
  /** Confirmation changes applied (checks bucket). */
  readonly confirmations: number;
  /** Messages ignored because that revision was already held (replays after resync). */
  readonly duplicates: number;
  readonly removed: number;
  /** Documents loaded from the cache dir at start. */
  readonly restored: number;
  readonly rejected: Readonly<Record<RejectReason, number>>;
  readonly resyncs: Readonly<Record<ResyncKind, number>>;
  /** Resync checks run (sequence comparisons). */
  readonly resyncChecks: number;
  /**
   * Relists that listed fewer keys than the stream leader counted (their watch was served by a replica
   * behind the leader): nothing was removed on them.
   */
  readonly shortListings: number;
  /**
   * Held documents a bucket listing lacked (the bucket was purged or recreated): kept and served, their
   * freshness aging from their last confirmation; the persisted copy stays too.
   */
  readonly unlisted: number;
  /**
   * Resync checks that found a bucket's last sequence below what was applied, and keys whose held revision
   * the stream leader did not have (it had the key lower), so its entry was taken (`rebased` updates): the
   * server lost acknowledged writes, or its replicas numbered writes differently. 0 on a healthy server.
   */
  readonly sequenceRollbacks: number;
  readonly rebased: number;
  readonly reconnects: number;
  /** Interest entries read to decide on a renewal. */
  readonly interestChecks: number;
  /** Interest entries written (create or CAS update). */
  readonly interestWrites: number;
  /** Interest writes lost to another pod's CAS (expected, harmless). */
  readonly interestCasLost: number;
  readonly persistWrites: number;
  readonly persistErrors: number;
  /** Updates dropped from full `updates()` buffers. */
  readonly updatesDropped: number;
  /** Oldest confirmation age among held documents, ms. */
  readonly maxAgeMs: number;
  /** Last-resort attempts by outcome (all zero when `lastResort` is off). */
  readonly lastResort: Readonly<Record<LastResortOutcome, number>>;
}

const toMs = (t: TimeInput): number =>
  t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
const ACTOR_UNSAFE = /[^!-~]/g;
const NO_LAST_RESORT = Object.fromEntries(LAST_RESORT_OUTCOMES.map((o) => [o, 0])) as Record<
  LastResortOutcome,
  number
>;

/**
 * What a pod embeds: a local, stale-tolerant copy of every tariff in `ratebus-rates`, kept in sync
 * informer-style, optionally persisted, with freshness from the fetcher's confirmations.
 */
export class RateClient implements AsyncDisposable {
  private readonly keeper: CopyKeeper;
  private readonly sync: BusSync;
  private readonly logger: ClientLogger;
  private readonly now: () => number;
  private readonly resyncs: Record<ResyncKind, number> = { resume: 0, relist: 0, restart: 0 };
  private readySource: ReadySource | null = null;
  private resolveReady!: (s: ReadySource) => void;
  private readonly readyP = new Promise<ReadySource>((r) => {
    this.resolveReady = r;
  });
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly lastResort: LastResort | null;

  private constructor(private readonly options: ResolvedOptions) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    const userHooks = options.hooks ?? {};
    const hooks = {
      ...userHooks,
      onResync: (kind: ResyncKind, e: { bucket: string }) => {
        this.resyncs[kind]++;
        userHooks.onResync?.(kind, e);
      },
    };
    this.keeper = new CopyKeeper(options, this.now, this.logger, hooks);
    const name = (options.name ?? `ratebus-client-${hostname()}-${process.pid}`)
      .replace(ACTOR_UNSAFE, '_')
      .slice(0, 128);
    this.sync = new BusSync(options, name, this.keeper, this.logger, hooks, () => this.markReady('cache'));
    this.lastResort = options.lastResort
      ? this.createLastResort(options, options.lastResort, name, hooks)
      : null;
  }

  private createLastResort(
    o: ResolvedOptions,
    lr: NonNullable<ResolvedOptions['lastResort']>,
    name: string,
    hooks: ClientHooks,
  ): LastResort {
    let synced = false;
    void this.sync.synced.then(() => {
      synced = true;
    });
    const host = {
      name,
      options: o,
      now: this.now,
      serverClock: this.keeper.serverClock,
      logger: this.logger,
      hooks,
      mainConnection: () => this.sync.nc,
      synced: () => synced,
      view: (key: string) => this.keeper.view(key),
      held: () =>
        [...this.keeper.copy.keys()].map((k) => [k, this.keeper.copy.document(k)?.ref as TariffRef]),
      refetch: (key: string) => this.sync.fetch(key),
      writerConnect: () => {
        const opts = connectionOptions({ ...o, credentials: lr.credentials }, `${name}-lastresort`);
        return connect({ ...opts, inboxPrefix: lr.inboxPrefix });
      },
    } satisfies ConstructorParameters<typeof LastResort>[0];
    try {
      return new LastResort(host, lr);
    } catch (e) {
      // OctopusClientOptions are validated by its constructor.
      throw new InvalidOptionsError([`lastResort.octopus: ${e instanceof Error ? e.message : String(e)}`]);
    }
  }

  /**
   * Creates a client: validates options (throws InvalidOptionsError listing every problem), loads the
   * persisted copy if `cacheDir` is set, and starts syncing in the background. Does not wait for NATS:
   * await `ready()` for that.
   */
  static async connect(opts: RateClientOptions = {}): Promise<RateClient> {
    const o = resolveOptions(opts);
    const client = new RateClient(o);
    await client.keeper.restore();
    if (o.sync === 'tariffs') {
      // This pod's tariffs: the configured ones and those it held before a restart.
      for (const t of o.tariffs) void client.sync.follow(rateKey(t.product, t.tariff), t);
      for (const t of client.tariffs()) void client.sync.follow(rateKey(t.product, t.tariff), t);
    }
    client.sync.start();
    client.lastResort?.start();
    void client.sync.synced.then(() => client.markReady('nats'));
    return client;
  }

  /**
   * Resolves once the initial listing of the buckets is applied (`nats`), or — when NATS or the buckets
   * cannot be reached — once a persisted copy is loaded (`cache`). Without either it keeps waiting.
   */
  ready(): Promise<ReadySource> {
    return this.readyP;
  }

  private markReady(source: ReadySource): void {
    if (this.readySource) return;
    if (source === 'cache' && this.keeper.copy.size === 0) return;
    this.readySource = source;
    this.logger.info({ source, documents: this.keeper.copy.size }, 'rate client ready');
    this.resolveReady(source);
  }

  /** The held document of a tariff and its freshness; undefined when none is held. Throws InvalidCodeError. */
  get(product: string, tariff: string): RateView | undefined {
    return this.keeper.view(rateKey(product, tariff));
  }

  /** Every held tariff. */
  tariffs(): TariffRef[] {
    return [...this.keeper.copy.keys()].map((k) => this.keeper.copy.document(k)?.ref as TariffRef);
  }

  /**
   * Unit-rate rows overlapping `[from, to)`, oldest first, one row per period where DD/NDD twins exist.
   * Undefined when the tariff is not held. Throws InvalidCodeError.
   */
  slots(product: string, tariff: string, q: SlotQuery): RateSlot[] | undefined {
    const view = this.get(product, tariff);
    if (!view) return undefined;
    const rows = preferPaymentMethod(
      unitRateRows(view.document),
      q.paymentMethod ?? this.options.preferredPaymentMethod,
    );
    return overlapping(rows, toMs(q.from), toMs(q.to)).sort(
      (a, b) => Date.parse(a.valid_from) - Date.parse(b.valid_from),
    );
  }

  /** Calls `listener` on every change; returns an unsubscribe function. */
  on(event: 'update', listener: UpdateListener): () => void {
    if (event !== 'update') throw new TypeError(`unknown event ${String(event)}`);
    return this.keeper.hub.on(listener);
  }

  /** Changes from now on, as an async iterator (ends on close; `break` unsubscribes). */
  updates(): AsyncIterableIterator<RateUpdate> {
    return this.keeper.hub.iterate();
  }

  /**
   * Declares interest in a tariff (kept renewed while the client lives) and returns its document. When
   * none is held yet, asks the leading fetcher (`ratebus.refresh.{p}.{t}`) and waits for the document.
   * Throws InvalidCodeError, NotFoundError, RefreshFailedError, NoFetcherError (nobody answered until the
   * deadline) or EnsureTimeoutError.
   */
  async ensure(product: string, tariff: string, opts: { timeoutMs?: number } = {}): Promise<RateView> {
    const ref = tariffRef(product, tariff);
    const key = rateKey(ref.product, ref.tariff);
    if (this.closed) throw new ClientClosedError();
    const timeoutMs = opts.timeoutMs ?? this.options.ensureTimeoutMs;
    const deadline = performance.now() + timeoutMs;
    const left = () => deadline - performance.now();
    void this.sync
      .interestRenewer()
      .then((r) => r?.declare(key, ref))
      .catch((e: unknown) => this.logger.warn({ key, ...errInfo(e) }, 'cannot declare interest'));
    this.lastResort?.want(key, ref);
    const following = this.sync.follow(key, ref);

    await Promise.race([this.readyP, sleep(left())]);
    // `sync: 'tariffs'`: a tariff not held yet may be in the bucket already; read it before asking a fetcher.
    if (!this.keeper.view(key)) await Promise.race([following, sleep(left())]);
    let lastError: unknown;
    let requestMs = 0;
    while (left() > 0) {
      if (this.closed) throw new ClientClosedError();
      const held = this.keeper.view(key);
      if (held) return held;
      const nc = this.sync.nc;
      if (!nc || nc.isClosed()) {
        await this.waitFor(key, Math.min(left(), 250));
        continue;
      }
      try {
        requestMs = Math.max(1, Math.min(left(), this.options.jsTimeoutMs * 2));
        await requestRefresh(nc, ref, this.sync.name, requestMs);
        // The fetcher wrote the document before replying: read it from KV in case the watch lags.
        await this.sync.fetch(key);
        await this.waitFor(key, Math.min(left(), 500));
      } catch (e) {
        if (e instanceof NoFetcherError || isRequestTimeout(e)) {
          // A request cut short by the deadline says nothing new: keep "no fetcher" from the one before.
          const cutShort = isRequestTimeout(e) && requestMs < this.options.jsTimeoutMs * 2;
          if (!(cutShort && lastError instanceof NoFetcherError)) lastError = e;
          // Nobody answers: one pod (chosen by a lock) may fetch upstream; this one waits for the document.
          this.lastResort?.trigger(key, ref);
          await this.waitFor(key, Math.min(left(), 250));
          continue;
        }
        if (e instanceof NotFoundError && !this.keeper.view(key)) this.sync.unfollow(key);
        throw e;
      }
    }
    const held = this.keeper.view(key);
    if (held) return held;
    if (lastError instanceof NoFetcherError) throw lastError;
    throw new EnsureTimeoutError(ref.product, ref.tariff, timeoutMs, { cause: lastError });
  }

  /** Resolves when `key` is held or after `ms`. */
  private waitFor(key: string, ms: number): Promise<void> {
    if (this.keeper.copy.document(key)) return Promise.resolve();
    const abort = new AbortController();
    const off = this.keeper.hub.on((u) => {
      if (u.view && `${u.product}.${u.tariff}` === key) abort.abort();
    });
    return sleep(ms, abort.signal).finally(off);
  }

  /** True while the NATS connection is up; false before the first connect, during an outage, once closed. */
  isConnected(): boolean {
    return !this.closed && this.sync.linkUp;
  }

  stats(): ClientStats {
    const c = this.keeper.counters;
    const interest = this.sync.interest;
    const sc = this.sync.counts();
    return {
      held: this.keeper.copy.size,
      connected: this.isConnected(),
      ready: this.readySource,
      applied: c.applied,
      confirmations: c.confirmations,
      duplicates: c.duplicates,
      removed: c.removed,
      restored: c.restored,
      rejected: { ...c.rejected },
      resyncs: { ...this.resyncs },
      resyncChecks: sc.resyncChecks,
      shortListings: sc.shortListings,
      unlisted: c.unlisted,
      sequenceRollbacks: sc.rollbacks,
      rebased: c.rebased,
      reconnects: this.sync.reconnects,
      interestChecks: interest?.checks ?? 0,
      interestWrites: interest?.writes ?? 0,
      interestCasLost: interest?.casLost ?? 0,
      persistWrites: this.keeper.disk?.writes ?? 0,
      persistErrors: this.keeper.disk?.errors ?? 0,
      updatesDropped: this.keeper.hub.dropped,
      maxAgeMs: this.keeper.maxAgeMs(),
      lastResort: { ...(this.lastResort?.counts ?? NO_LAST_RESORT) },
    };
  }

  /** Stops syncing, ends update iterators, flushes the disk cache, closes the connection it opened. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      // First: an in-flight last resort releases its lock through the connections still open.
      await this.lastResort?.stop();
      await this.sync.stop();
      this.keeper.hub.close();
      await this.keeper.disk?.flush();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
