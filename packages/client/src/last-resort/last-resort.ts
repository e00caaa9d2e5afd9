import { jetstream } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  declaredDuration,
  isRequestTimeout,
  type LeaseCandidate,
  LeaseLock,
  LeaseWatch,
  lockCandidate,
  publishDocument,
  type StoredDocument,
  writeChecked,
} from '@ratebus/bus';
import { buildDocument, checkDocument, fetchWindow, OctopusClient } from '@ratebus/octopus';
import {
  BUCKETS,
  CheckedSchema,
  DEFAULT_LEASE_DURATION_MS,
  decode,
  LEASE_KEY,
  type RatesDocument,
  RatesDocumentSchema,
  SCHEMA_VERSION,
  type TariffRef,
} from '@ratebus/schema';
import { boundedConfirmation, freshnessOf, type ServerClock } from '../copy/freshness.js';
import { confirmationOf } from '../copy/local-copy.js';
import type { RateView } from '../copy/view.js';
import { LockLostError, NoFetcherError, NotFoundError, RefreshFailedError } from '../errors.js';
import {
  type ClientHooks,
  LAST_RESORT_OUTCOMES,
  type LastResortEvent,
  type LastResortOutcome,
} from '../hooks.js';
import { type ClientLogger, errInfo } from '../logger.js';
import type { ResolvedLastResort, ResolvedOptions } from '../options.js';
import { requestRefresh } from '../refresh.js';
import { jittered, Periodic } from '../timing.js';

/** Prefix of the lock keys in `ratebus-lease`: `lastresort.{product}.{tariff}`. */
export const LAST_RESORT_LOCK_PREFIX = 'lastresort';

/** The lock key of a tariff in `ratebus-lease`. */
export function lastResortLockKey(ref: TariffRef): string {
  return `${LAST_RESORT_LOCK_PREFIX}.${ref.product}.${ref.tariff}`;
}

/** What the last resort needs from the rest of the client. */
export interface LastResortHost {
  readonly name: string;
  readonly options: ResolvedOptions;
  readonly now: () => number;
  /** The server's clock as seen in stored entries: bounds confirmation times like the local copy's. */
  readonly serverClock: ServerClock;
  readonly logger: ClientLogger;
  readonly hooks: ClientHooks;
  /** The client's own (pod role) connection, once connected. */
  mainConnection(): NatsConnection | null;
  /** True once both buckets were listed: before that, held views may be old disk copies. */
  synced(): boolean;
  view(key: string): RateView | undefined;
  /** Tariffs held in the local copy. */
  held(): Iterable<[string, TariffRef]>;
  /** Reads a key from the buckets into the local copy now (after a write or a refresh reply). */
  refetch(key: string): Promise<void>;
  /** Opens a second connection to the client's servers with `lastResort.credentials`. */
  writerConnect(): Promise<NatsConnection>;
}

interface Writer {
  readonly nc: NatsConnection;
  readonly owned: boolean;
  readonly lease: KV;
  readonly rates: KV;
  readonly checks: KV;
  /** Duration of our locks: `lockMs`, capped by the bucket's TTL when an earlier version made it with one. */
  readonly lockMs: number;
  /** The bucket's TTL (0 = none): the fallback duration of a fetcher lease that does not declare one. */
  readonly leaseTtlMs: number;
}

/** What the last resort read of a tariff: the rates entry, its valid document and confirmation, the check. */
interface StoreReading {
  readonly entry: KvEntry | null;
  /** The valid document of the key, if any. */
  readonly doc: RatesDocument | null;
  /** Confirmation time of that document, ms, bounded by the server's timestamps (local-copy rules). */
  readonly confirmedAt: number | null;
  /** The stored Checked record: its revision (the CAS base of ours) and term (null when unreadable). */
  readonly check: { readonly revision: number; readonly term: number | null } | null;
}

/** The store holds a document or Checked record of a term above ours: a later election wrote it. */
function newerTerm(stored: StoreReading, term: number): boolean {
  return (stored.doc?.term ?? 0) > term || (stored.check?.term ?? 0) > term;
}

/** What a document write replaces. */
function storedDocument(stored: StoreReading): StoredDocument {
  return { doc: stored.doc, revision: stored.entry?.revision ?? null };
}

/** Thrown by the work under the lock to end it early with an outcome (the lock kept or handed over). */
class EarlyOutcome {
  constructor(
    readonly outcome: LastResortOutcome,
    readonly keepLock = false,
  ) {}
}

/**
 * The client's last resort when no fetcher works: for a held tariff that is expired (or an ensured one that
 * is absent), and only when nobody answers a refresh request and no fetcher holds the election lease, ONE
 * pod — the one whose `create` of `lastresort.{product}.{tariff}` in `ratebus-lease` succeeds — fetches it
 * upstream, builds and guards the document exactly like the fetcher (term = the lock's revision, which
 * lies between the terms of earlier and later fetchers, since both live in the lease stream), writes
 * it with CAS, publishes the same bytes and writes a Checked record. The others see it through their watch.
 * Per pod and tariff at most one upstream fetch per `minIntervalMs`; upstream calls draw on the octopus
 * client's budget.
 */
export class LastResort {
  readonly counts: Record<LastResortOutcome, number> = Object.fromEntries(
    LAST_RESORT_OUTCOMES.map((o) => [o, 0]),
  ) as Record<LastResortOutcome, number>;
  private readonly settings: ResolvedLastResort;
  private readonly octopus: OctopusClient;
  private readonly ownsOctopus: boolean;
  private readonly wanted = new Map<string, TariffRef>();
  /** Earliest time (client clock) of the next attempt per key; set when upstream or a fetcher was involved. */
  private readonly nextAt = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly job: Periodic;
  private readonly closing = new AbortController();
  private writer: Promise<Writer> | null = null;
  private stopped = false;
  /** The fetchers' lease as last seen, with when: a revision unchanged for its holder's duration is free. */
  private readonly fetcherLeaseWatch = new LeaseWatch();
  /** Our candidacy per lock key: what it saw of the key, and a write of ours whose outcome is unknown. */
  private readonly candidates = new Map<string, LeaseCandidate>();

  constructor(
    private readonly host: LastResortHost,
    o: ResolvedLastResort,
  ) {
    this.settings = o;
    const oc = o.octopus;
    this.ownsOctopus = !(oc instanceof OctopusClient);
    this.octopus = oc instanceof OctopusClient ? oc : new OctopusClient(oc);
    this.job = new Periodic(
      {
        name: 'last resort',
        intervalMs: () => jittered(o.checkIntervalMs, 0.25),
        timeoutMs:
          o.probeTimeoutMs + o.fetchTimeoutMs + 8 * Math.max(o.lockTimeoutMs, host.options.jsTimeoutMs),
        logger: host.logger,
      },
      () => this.scan(),
    );
  }

  start(): void {
    this.job.start();
  }

  /** Adds a tariff `ensure()` asked for: checked even while not held. */
  want(key: string, ref: TariffRef): void {
    this.wanted.set(key, ref);
  }

  /** Starts an attempt for a tariff in the background (after `ensure()` found no fetcher). Never rejects. */
  trigger(key: string, ref: TariffRef): void {
    void this.attempt(key, ref);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.closing.abort();
    await this.job.stop();
    await Promise.all(this.inflight.values());
    const w = await this.writer?.catch(() => null);
    if (w?.owned) await w.nc.close().catch((e: unknown) => this.host.logger.warn(errInfo(e), 'close failed'));
    if (this.ownsOctopus) await this.octopus.close().catch(() => undefined);
  }

  private async scan(): Promise<void> {
    if (!this.host.synced()) return;
    const keys = new Map<string, TariffRef>(this.host.held());
    for (const [k, r] of this.wanted) keys.set(k, r);
    for (const [key, ref] of keys) {
      if (this.stopped) return;
      await this.attempt(key, ref);
    }
  }

  /** One attempt for a tariff; joins one in flight. Never rejects. */
  private attempt(key: string, ref: TariffRef): Promise<void> {
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    if (this.stopped || !this.eligible(key)) return Promise.resolve();
    const p = this.run(key, ref)
      .catch((e: unknown) => {
        this.host.logger.warn({ key, ...errInfo(e) }, 'last-resort attempt failed');
        this.nextAt.set(key, this.host.now() + this.settings.minIntervalMs);
        this.report('failed', ref);
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Needed (expired or absent) and not attempted within `minIntervalMs`. */
  private eligible(key: string): boolean {
    const view = this.host.view(key);
    if (view && view.freshness !== 'expired') return false;
    return this.host.now() >= (this.nextAt.get(key) ?? 0);
  }

  private backOff(key: string): void {
    this.nextAt.set(key, this.host.now() + this.settings.minIntervalMs);
  }

  private async run(key: string, ref: TariffRef): Promise<void> {
    const nc = this.host.mainConnection();
    if (!nc || nc.isClosed()) return; // nothing can be written without NATS anyway
    if (await this.fetcherAnswers(nc, key, ref)) {
      this.backOff(key);
      return this.report('fetcher-answered', ref);
    }
    if (this.stopped) return;
    let w: Writer;
    try {
      w = await this.bindWriter();
    } catch (e) {
      this.backOff(key);
      this.host.logger.warn({ key, ...errInfo(e) }, 'last resort cannot bind the lease bucket');
      return this.report('failed', ref);
    }
    const leader = await this.fetcherLease(w);
    if (leader !== 'none') {
      // A fetcher leads (maybe still electing or fetching slowly): it does the work. A lease seen for the
      // first time may be one whose holder died: look again at the next scan rather than after a back-off.
      if (leader === 'renewing') this.backOff(key);
      return this.report('fetcher-leading', ref);
    }
    const lock = await this.lock(w, ref);
    if (!lock) return this.report('locked', ref);
    let keepLock = false;
    try {
      const outcome = await this.locked(w, key, ref, lock).catch((e: unknown) => {
        if (e instanceof EarlyOutcome) {
          keepLock = e.keepLock;
          return e.outcome;
        }
        if (lock.fence.signal.aborted) return 'lock-lost' as const;
        // Closing hands the lock over at once; an upstream failure keeps it until it expires.
        keepLock = !this.closing.signal.aborted;
        this.host.logger.warn({ key, term: lock.term, ...errInfo(e) }, 'last-resort fetch failed');
        return 'failed' as const;
      });
      this.report(outcome, ref, lock.term);
    } finally {
      // After an upstream failure the lock is left to expire, so the next pod tries one TTL later at the
      // earliest; after success it is released at once.
      await lock.release({ keep: keepLock });
    }
    await this.host.refetch(key).catch(() => undefined);
  }

  /** One campaign step for the tariff's lock (see `LeaseLock`): the lock, or null while another holds it. */
  private lock(w: Writer, ref: TariffRef): Promise<LeaseLock | null> {
    const key = lastResortLockKey(ref);
    let candidate = this.candidates.get(key);
    if (!candidate) {
      candidate = lockCandidate(w.lease, key, w.lockMs, (nonce) =>
        JSON.stringify({
          type: 'lastresort-lock',
          schemaVersion: SCHEMA_VERSION,
          product: ref.product,
          tariff: ref.tariff,
          by: this.host.name,
          startedAt: new Date(this.host.now()).toISOString(),
          durationMs: w.lockMs,
          nonce,
        }),
      );
      this.candidates.set(key, candidate);
    }
    const log = this.host.logger;
    return LeaseLock.acquire(candidate, {
      durationMs: w.lockMs,
      requestTimeoutMs: this.settings.lockTimeoutMs,
      endError: (term) => new LockLostError(key, term),
      onEnd: (why, term) => {
        if (why !== 'stopped') log.warn({ key, term, why }, 'last-resort lock lost');
      },
      onRenewFailed: (e) => log.warn({ key, ...errInfo(e) }, 'last-resort lock renewal failed'),
    });
  }

  /**
   * The fetchers' lease as this pod sees it: `renewing` (its revision changed since the last look), `seen`
   * (present, but not yet seen unchanged for the holder's lease duration) or `none` (absent, deleted, or
   * unchanged that long: its holder is gone). The bucket has no TTL, so a dead holder's lease stays until a
   * fetcher takes it over.
   */
  private async fetcherLease(w: Writer): Promise<'renewing' | 'seen' | 'none'> {
    const lease = await w.lease.get(LEASE_KEY);
    if (lease?.operation !== 'PUT') return 'none';
    const at = performance.now();
    const duration = declaredDuration(
      lease.value,
      w.leaseTtlMs > 0 ? w.leaseTtlMs : DEFAULT_LEASE_DURATION_MS,
    );
    const seen = this.fetcherLeaseWatch.see(lease, duration, at);
    if (seen.kind !== 'changed') return seen.kind === 'held' ? 'seen' : 'none';
    // Changed since a recent look: renewing. After a long gap the change says nothing about now.
    const recent = 2 * Math.max(duration, this.settings.checkIntervalMs);
    return seen.previousAt !== null && at - seen.previousAt <= recent ? 'renewing' : 'seen';
  }

  /** True when a fetcher answers a refresh request (with a document or an error): it does the work. */
  private async fetcherAnswers(nc: NatsConnection, key: string, ref: TariffRef): Promise<boolean> {
    try {
      await requestRefresh(nc, ref, this.host.name, this.settings.probeTimeoutMs);
      await this.host.refetch(key).catch(() => undefined);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof RefreshFailedError) return true;
      if (e instanceof NoFetcherError || isRequestTimeout(e)) return false;
      throw e;
    }
  }

  /** The work under the lock; returns the outcome or throws (an EarlyOutcome carries an early outcome). */
  private async locked(w: Writer, key: string, ref: TariffRef, lock: LeaseLock): Promise<LastResortOutcome> {
    const log = this.host.logger;
    const fence = lock.fence;
    let stored = await this.read(w, key);
    // The previous holder may have finished between our look and our lock; a newer term may have written.
    this.assertNeeded(stored, lock.term);
    this.backOff(key);
    log.info({ key, term: lock.term }, 'no fetcher answers; fetching upstream as the last resort');
    const now = this.host.now();
    const window = fetchWindow(now, this.settings.windowDays);
    const rates = await this.octopus.fetchTariff({
      product: ref.product,
      tariff: ref.tariff,
      from: new Date(window.from),
      to: new Date(window.to),
      signal: AbortSignal.any([
        fence.signal,
        this.closing.signal,
        AbortSignal.timeout(this.settings.fetchTimeoutMs),
      ]),
    });
    const built = buildDocument({ ref, rates, window, fetchedAt: this.host.now(), term: lock.term });
    if (!built.ok) return this.rejected(key, built.rejection);
    const doc = built.doc;
    const written = await publishDocument({
      nc: w.nc,
      rates: w.rates,
      fence,
      ref,
      key,
      doc,
      stored: storedDocument(stored),
      guard: (current) => checkDocument(doc, current),
      reread: async () => {
        stored = await this.read(w, key);
        this.assertNeeded(stored, lock.term);
        return storedDocument(stored);
      },
    });
    if (written.kind === 'rejected') return this.rejected(key, written.rejection);
    if (written.kind === 'published') {
      log.info(
        { key, revision: written.revision, term: lock.term, coversThrough: doc.coversThrough },
        'published',
      );
    }
    // Fenced like the document, and never over a record of a newer term (a fetcher elected after our lock
    // confirmed it: its record stands).
    const checked = await writeChecked({
      checks: w.checks,
      fence,
      key,
      doc,
      stored: stored.check,
      reread: async () => (await this.read(w, key)).check,
    });
    if (checked.kind === 'newer') {
      log.info(
        { key, term: lock.term, stored: checked.storedTerm },
        'a newer term checked it; not writing ours',
      );
    }
    return written.kind === 'published' ? 'published' : 'unchanged';
  }

  /** Throws EarlyOutcome('not-needed') when a newer term wrote, or the stored document is not expired. */
  private assertNeeded(stored: StoreReading, term: number): void {
    if (newerTerm(stored, term)) throw new EarlyOutcome('not-needed');
    if (stored.confirmedAt !== null && this.freshness(stored.confirmedAt) !== 'expired') {
      throw new EarlyOutcome('not-needed');
    }
  }

  private rejected(key: string, r: { reason: string; detail: string }): never {
    this.host.logger.warn(
      { key, reason: r.reason, detail: r.detail },
      'last-resort document rejected; keeping the last good one',
    );
    throw new EarlyOutcome('rejected', true);
  }

  private freshness(confirmedAt: number) {
    return freshnessOf(confirmedAt, this.host.now(), this.host.options).freshness;
  }

  /** The stored document of a key and its confirmation time, read from the buckets (not the local copy). */
  private async read(w: Writer, key: string): Promise<StoreReading> {
    const [entry, checkEntry] = await Promise.all([w.rates.get(key), w.checks.get(key)]);
    const c = checkEntry?.operation === 'PUT' ? decode(CheckedSchema, 'Checked', checkEntry.value) : null;
    const check = checkEntry ? { revision: checkEntry.revision, term: c?.ok ? c.value.term : null } : null;
    const d = entry?.operation === 'PUT' ? decode(RatesDocumentSchema, 'RatesDocument', entry.value) : null;
    const doc = d?.ok && `${d.value.product}.${d.value.tariff}` === key ? d.value : null;
    if (!entry || !doc) return { entry, doc: null, confirmedAt: null, check };
    const now = this.host.now();
    const storedAt = (e: KvEntry) => this.host.serverClock.storedAt(e.created, now);
    const conf = confirmationOf(
      doc,
      storedAt(entry),
      c?.ok ? c.value : null,
      checkEntry ? storedAt(checkEntry) : undefined,
    );
    const confirmedAt = boundedConfirmation(conf.at, conf.storedAt);
    return { entry, doc, confirmedAt, check };
  }

  /** Binds the writer connection and buckets once (again after a failure). */
  private bindWriter(): Promise<Writer> {
    this.writer ??= this.openWriter().catch((e: unknown) => {
      this.writer = null;
      throw e;
    });
    return this.writer;
  }

  private async openWriter(): Promise<Writer> {
    const given = this.settings.nc;
    const owned = !given && this.settings.credentials !== undefined;
    const nc = given ?? (owned ? await this.host.writerConnect() : this.host.mainConnection());
    if (!nc) throw new Error('no NATS connection');
    try {
      const js = this.host.options.jsTimeoutMs;
      const kvm = new Kvm(jetstream(nc, { timeout: js }));
      const leaseKvm = new Kvm(jetstream(nc, { timeout: this.settings.lockTimeoutMs }));
      const [lease, rates, checks] = await Promise.all([
        leaseKvm.open(BUCKETS.lease),
        kvm.open(BUCKETS.rates),
        kvm.open(BUCKETS.checks),
      ]);
      const leaseTtlMs = (await lease.status()).ttl;
      const lockMs = leaseTtlMs > 0 ? Math.min(leaseTtlMs, this.settings.lockMs) : this.settings.lockMs;
      await Promise.all([rates.status(), checks.status()]);
      return { nc, owned, lease, rates, checks, lockMs, leaseTtlMs };
    } catch (e) {
      if (owned) await nc.close().catch(() => undefined);
      throw e;
    }
  }

  private report(outcome: LastResortOutcome, ref: TariffRef, term?: number): void {
    this.counts[outcome]++;
    const e: LastResortEvent = term === undefined ? { ...ref } : { ...ref, term };
    this.host.logger.debug({ ...e, outcome }, 'last-resort attempt ended');
    try {
      this.host.hooks.onLastResort?.(outcome, e);
    } catch (err) {
      this.host.logger.warn(errInfo(err), 'onLastResort hook threw');
    }
  }
}
