import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { readThroughLeader } from '@ratebus/bus';
import { BUCKETS, type TariffRef } from '@ratebus/schema';
import { connectionOptions, connectWithRetry } from '../connection.js';
import type { ClientHooks } from '../hooks.js';
import { type ClientLogger, errInfo } from '../logger.js';
import { DEFAULT_INTEREST_TTL_MS, type ResolvedOptions } from '../options.js';
import { Backoff, sleep } from '../timing.js';
import { BucketInformer } from './bucket-informer.js';
import type { CopyKeeper, LeaderRead } from './copy-keeper.js';
import { InterestRenewer } from './interest-renewer.js';
import { TariffFollower } from './tariff-follower.js';

/** What the sync counted, summed over buckets. */
export interface SyncCounts {
  readonly resyncChecks: number;
  readonly shortListings: number;
  readonly rollbacks: number;
}

/**
 * Everything that talks to NATS: the (first) connection with retry, binding to the buckets with retry
 * (a pod may start before any fetcher created them), then either the two whole-bucket informers
 * (`sync: 'bucket'`) or the tariff follower (`sync: 'tariffs'`), the interest renewer, and the reconnect
 * listener that triggers a resync check.
 */
export class BusSync {
  nc: NatsConnection | null = null;
  rates: BucketInformer | null = null;
  checks: BucketInformer | null = null;
  follower: TariffFollower | null = null;
  /** Tariffs to follow (`sync: 'tariffs'`): given before the follower exists, followed once it does. */
  private readonly wanted = new Map<string, TariffRef>();
  private resolveFollower!: (f: TariffFollower | null) => void;
  private readonly followerP = new Promise<TariffFollower | null>((r) => {
    this.resolveFollower = r;
  });
  interest: InterestRenewer | null = null;
  private readonly abort = new AbortController();
  private statusIter: AsyncIterable<unknown> | null = null;
  private run: Promise<void> | null = null;
  private interestBind: Promise<InterestRenewer | null> | null = null;
  private resolveSynced!: () => void;
  /** Resolves once both buckets have been listed. */
  readonly synced = new Promise<void>((r) => {
    this.resolveSynced = r;
  });
  reconnects = 0;
  /** True while the NATS connection is up (false before the first connect, after a disconnect, once closed). */
  linkUp = false;

  constructor(
    private readonly options: ResolvedOptions,
    readonly name: string,
    private readonly keeper: CopyKeeper,
    private readonly logger: ClientLogger,
    private readonly hooks: ClientHooks,
    /** Told about every failed connect or bind attempt (to serve the persisted copy meanwhile). */
    private readonly onUnreachable: () => void,
  ) {}

  start(): void {
    this.run ??= this.main().catch((e: unknown) => this.logger.error(errInfo(e), 'bus sync stopped'));
  }

  /** The interest renewer, bound on first use; null once closed. */
  interestRenewer(): Promise<InterestRenewer | null> {
    this.interestBind ??= this.connected().then(async (nc) => {
      if (!nc) return null;
      const kv = await this.bind(nc, BUCKETS.interest);
      if (!kv) return null;
      let ttl: number | null = null;
      try {
        ttl = (await kv.status()).ttl;
      } catch (e) {
        this.logger.warn(errInfo(e), 'cannot read the interest TTL; using the default');
      }
      this.interest = new InterestRenewer(
        kv,
        ttl,
        {
          checkIntervalMs: this.options.interestCheckIntervalMs,
          fallbackTtlMs: DEFAULT_INTEREST_TTL_MS,
          jsTimeoutMs: this.options.jsTimeoutMs,
          by: this.name,
        },
        this.logger,
      );
      if (this.abort.signal.aborted) await this.interest.stop();
      return this.interest;
    });
    return this.interestBind;
  }

  private resolveConnected!: (nc: NatsConnection | null) => void;
  private readonly connectedP = new Promise<NatsConnection | null>((r) => {
    this.resolveConnected = r;
  });
  private readonly aborted = new Promise<void>((r) => this.abort.signal.addEventListener('abort', () => r()));

  /** Resolves with the connection once established (null if closed first). */
  connected(): Promise<NatsConnection | null> {
    return this.connectedP;
  }

  private async main(): Promise<void> {
    const backoff = new Backoff(this.options.retryInitialMs, this.options.retryMaxMs);
    const nc =
      this.options.nc ??
      (await connectWithRetry(
        connectionOptions(this.options, this.name),
        backoff,
        this.abort.signal,
        this.logger,
        () => this.onUnreachable(),
      ));
    if (!nc) return;
    this.nc = nc;
    this.linkUp = !nc.isClosed();
    this.resolveConnected(nc);
    this.watchStatus(nc);
    void nc.closed().then(() => {
      this.linkUp = false;
    });
    // The follower reads single keys: a direct get (any replica answers, raw bytes) where the bucket allows it.
    const direct = this.options.sync === 'tariffs';
    const [ratesKv, checksKv] = await Promise.all([
      this.bind(nc, BUCKETS.rates, direct),
      this.bind(nc, BUCKETS.checks, direct),
    ]);
    if (!ratesKv || !checksKv || this.abort.signal.aborted) return;
    const leaderRead = leaderReader(nc, this.options.jsTimeoutMs);
    this.keeper.leaderRead = leaderRead;
    if (this.options.sync === 'tariffs') await this.startFollower(nc, ratesKv, checksKv, leaderRead);
    else await this.startInformers(ratesKv, checksKv);
    if (!this.abort.signal.aborted) this.resolveSynced();
  }

  private async startInformers(ratesKv: KV, checksKv: KV): Promise<void> {
    const io = {
      resyncIntervalMs: this.options.resyncIntervalMs,
      resyncGraceMs: this.options.resyncGraceMs,
      relistIntervalMs: this.options.relistIntervalMs,
      retryInitialMs: this.options.retryInitialMs,
      retryMaxMs: this.options.retryMaxMs,
      jsTimeoutMs: this.options.jsTimeoutMs,
    };
    this.rates = new BucketInformer(
      ratesKv,
      BUCKETS.rates,
      this.keeper.ratesSink,
      io,
      this.logger,
      this.hooks,
    );
    this.checks = new BucketInformer(
      checksKv,
      BUCKETS.checks,
      this.keeper.checksSink,
      io,
      this.logger,
      this.hooks,
    );
    this.rates.start();
    this.checks.start();
    await Promise.race([Promise.all([this.rates.synced, this.checks.synced]), this.aborted]);
  }

  /** Reads the buckets' epochs (retrying), then follows every wanted tariff; resolves once each was read. */
  private async startFollower(
    nc: NatsConnection,
    ratesKv: KV,
    checksKv: KV,
    leaderRead: LeaderRead,
  ): Promise<void> {
    const f = new TariffFollower(
      nc,
      { rates: ratesKv, checks: checksKv },
      { rates: this.keeper.ratesSink, checks: this.keeper.checksSink },
      this.keeper.copy,
      {
        resyncIntervalMs: this.options.resyncIntervalMs,
        relistIntervalMs: this.options.relistIntervalMs,
        jsTimeoutMs: this.options.jsTimeoutMs,
        wantsConfirmation: (key) =>
          (this.keeper.view(key)?.ageMs ?? Number.POSITIVE_INFINITY) >= this.options.freshForMs / 2,
        leaderRead,
        viaLeader: () => this.keeper.counters.rebased > 0,
      },
      this.logger,
      this.hooks,
    );
    const backoff = new Backoff(this.options.retryInitialMs, this.options.retryMaxMs);
    for (;;) {
      if (this.abort.signal.aborted) return void (await f.stop());
      try {
        await f.start();
        break;
      } catch (e) {
        this.onUnreachable();
        this.logger.warn(errInfo(e), 'cannot read the buckets; retrying');
        await sleep(backoff.next(), this.abort.signal);
      }
    }
    this.follower = f;
    this.resolveFollower(f);
    await Promise.race([Promise.all([...this.wanted].map(([key, ref]) => f.follow(key, ref))), this.aborted]);
  }

  /**
   * With `sync: 'tariffs'`, follows a tariff from now on; resolves once its keys were first read (at once
   * when closed first). With `sync: 'bucket'` every tariff is followed already.
   */
  async follow(key: string, ref: TariffRef): Promise<void> {
    if (this.options.sync !== 'tariffs') return;
    if (!this.wanted.has(key)) this.wanted.set(key, ref);
    const f = await Promise.race([this.followerP, this.aborted.then(() => null)]);
    await f?.follow(key, ref);
  }

  /**
   * Stops following a tariff that does not exist upstream (`sync: 'tariffs'`): a code asked once must not
   * cost a subscription and polls for the life of the client.
   */
  unfollow(key: string): void {
    this.wanted.delete(key);
    this.follower?.unfollow(key);
  }

  /** Reads a key of both buckets now (after a refresh reply, or for the last resort). */
  async fetch(key: string): Promise<void> {
    if (this.follower) return this.follower.readBoth(key);
    await Promise.all([this.rates?.fetch(key), this.checks?.fetch(key)]);
  }

  counts(): SyncCounts {
    return {
      resyncChecks: (this.rates?.checks ?? 0) + (this.checks?.checks ?? 0) + (this.follower?.polls ?? 0),
      shortListings: (this.rates?.shortListings ?? 0) + (this.checks?.shortListings ?? 0),
      rollbacks: (this.rates?.rollbacks ?? 0) + (this.checks?.rollbacks ?? 0),
    };
  }

  /** Opens a bucket that must already exist (the fetcher creates them), retrying with backoff. */
  private async bind(nc: NatsConnection, bucket: string, direct = false): Promise<KV | null> {
    const backoff = new Backoff(this.options.retryInitialMs, this.options.retryMaxMs);
    const kvm = new Kvm(jetstream(nc, { timeout: this.options.jsTimeoutMs }));
    while (!this.abort.signal.aborted) {
      try {
        const kv = await kvm.open(bucket, direct ? { allow_direct: true } : {});
        const st = await kv.status();
        return direct && !st.streamInfo.config.allow_direct ? await kvm.open(bucket) : kv;
      } catch (e) {
        this.onUnreachable();
        const delay = backoff.next();
        this.logger.warn(
          { bucket, delayMs: Math.round(delay), ...errInfo(e) },
          'cannot bind to bucket; retrying',
        );
        await sleep(delay, this.abort.signal);
      }
    }
    return null;
  }

  private watchStatus(nc: NatsConnection): void {
    const it = nc.status();
    this.statusIter = it;
    void (async () => {
      for await (const s of it) {
        if (s.type === 'reconnect') {
          this.linkUp = true;
          this.reconnects++;
          this.logger.info({ server: s.server }, 'reconnected; checking for missed updates');
          void this.rates?.resync();
          void this.checks?.resync();
          this.follower?.resync();
        } else if (s.type === 'disconnect' || s.type === 'staleConnection') {
          this.linkUp = false;
          this.logger.warn({ status: s.type }, 'NATS link lost');
        }
      }
    })().catch((e: unknown) => this.logger.warn(errInfo(e), 'status listener failed'));
  }

  /** Stops everything; closes the connection only if this client opened it. Idempotent. */
  async stop(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    this.resolveConnected(null);
    this.resolveFollower(null);
    await Promise.all([
      this.rates?.stop(),
      this.checks?.stop(),
      this.follower?.stop(),
      this.interest?.stop(),
    ]);
    (this.statusIter as { stop?(): void } | null)?.stop?.();
    if (this.nc && !this.options.nc) {
      await this.nc.close().catch((e: unknown) => this.logger.warn(errInfo(e), 'close failed'));
    }
    await this.run;
  }
}

/**
 * Reads a key's latest entry with STREAM.MSG.GET, which only the stream leader answers (a watch or a direct
 * get may be served by a replica that is behind). Pods may: the pod role allows MSG.GET on rates and checks.
 */
function leaderReader(nc: NatsConnection, timeout: number): LeaderRead {
  let jsm: Promise<JetStreamManager> | null = null;
  return async (bucket, key) => {
    jsm ??= jetstreamManager(nc, { timeout, checkAPI: false }).catch((e: unknown) => {
      jsm = null;
      throw e;
    });
    return readThroughLeader(await jsm, bucket, key);
  };
}
