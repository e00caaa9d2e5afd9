import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type LeaderEntry,
  publishDocument,
  readThroughLeader,
  type StoredCheck,
  type StoredDocument,
  writeChecked,
} from '@ratebus/bus';
import {
  buildDocument,
  checkDocument,
  type DocumentRejection,
  type OctopusClient,
  ukMidnight,
} from '@ratebus/octopus';
import {
  BUCKETS,
  CheckedSchema,
  decode,
  parseRateKey,
  type RatesDocument,
  RatesDocumentSchema,
  rateKey,
  type TariffRef,
} from '@ratebus/schema';
import type { Logger } from 'pino';
import { StaleTermError } from '../errors.js';
import { SingleFlight } from './single-flight.js';
import type { Buckets, Clock, Fence, TermMetrics } from './types.js';

/** Why a fetch was started (the `reason` label of the fetch metric). */
export type FetchReason = 'routine' | 'publication' | 'refresh' | 'interest';

/** A document as held by the leader: the value of its KV key and that key's revision. */
export interface LeaderCopy {
  readonly doc: RatesDocument;
  /** The exact JSON bytes stored in KV and published. */
  readonly bytes: Uint8Array;
  readonly revision: number;
}

/** What one fetch-and-publish run did. */
export type FetchOutcome =
  | { readonly kind: 'changed' | 'unchanged'; readonly held: LeaderCopy }
  | { readonly kind: 'rejected'; readonly rejection: DocumentRejection; readonly held: LeaderCopy | null }
  | { readonly kind: 'failed'; readonly error: unknown; readonly held: LeaderCopy | null };

export interface PublisherOptions {
  nc: NatsConnection;
  buckets: Buckets;
  octopus: OctopusClient;
  clock: Clock;
  logger: Logger;
  metrics: TermMetrics;
  fence: Fence;
  /** Days of history in each document. */
  windowDays: number;
  /** How long an upstream NOT_FOUND is remembered, clock ms. */
  notFoundTtlMs: number;
  /** Bound of one whole fetch (all pages, retries included), real ms. */
  fetchTimeoutMs: number;
  /** Called for every upstream call the worker makes (fetchTariff, latestSlotEnd, getPublic). */
  onUpstreamCall?: (what: 'fetch' | 'canary' | 'url') => void;
}

/** Bound of a read through the stream leader before a direct get is used instead, real ms. */
const LEADER_READ_TIMEOUT_MS = 1_500;

/** A stable error code of an unknown error, when it carries one. */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Fetches tariffs, builds and guards their documents, and writes them for one term: CAS into
 * `ratebus-rates`, the same bytes on `ratebus.rates.{product}.{tariff}`, then a Checked record. Runs for one
 * tariff never overlap: concurrent callers share the in-flight run.
 */
export class Publisher {
  readonly #options: PublisherOptions;
  readonly #held = new Map<string, LeaderCopy>();
  readonly #notFoundUntil = new Map<string, number>();
  /** Clock time of the last successful check per key, this term. */
  readonly #checkedAt = new Map<string, number>();
  /** Revision of our last Checked record per key this term (null: the key had none): the CAS base. */
  readonly #checkRevision = new Map<string, number | null>();
  readonly #flights = new SingleFlight<FetchOutcome>();
  #jsm: JetStreamManager | null = null;

  constructor(opts: PublisherOptions) {
    this.#options = opts;
  }

  /** The held document of a tariff, if any. */
  held(ref: TariffRef): LeaderCopy | undefined {
    return this.#held.get(rateKey(ref.product, ref.tariff));
  }

  /** Clock time of the last successful upstream check of a tariff this term, if any. */
  lastCheckedAt(ref: TariffRef): number | undefined {
    return this.#checkedAt.get(rateKey(ref.product, ref.tariff));
  }

  /** True while an upstream NOT_FOUND for this tariff is remembered. */
  isNotFound(ref: TariffRef): boolean {
    const key = rateKey(ref.product, ref.tariff);
    const until = this.#notFoundUntil.get(key);
    if (until === undefined) return false;
    if (this.#options.clock.now() < until) return true;
    this.#notFoundUntil.delete(key);
    return false;
  }

  /** When the remembered NOT_FOUND of a tariff ends (clock ms), or undefined. */
  notFoundUntil(ref: TariffRef): number | undefined {
    return this.isNotFound(ref) ? this.#notFoundUntil.get(rateKey(ref.product, ref.tariff)) : undefined;
  }

  /** True while a run for this tariff is in flight. */
  busy(ref: TariffRef): boolean {
    return this.#flights.has(rateKey(ref.product, ref.tariff));
  }

  /** Settles when every in-flight run has settled. */
  async idle(): Promise<void> {
    await this.#flights.idle();
  }

  /** Loads every valid document of `ratebus-rates` as the last good one (start of a term). */
  async loadAll(): Promise<number> {
    const { rates } = this.#options.buckets;
    const keys: string[] = [];
    for await (const k of await rates.keys()) keys.push(k);
    for (const key of keys) {
      if (this.#options.fence.signal.aborted) break;
      try {
        const e = await this.#readLatest(key);
        if (e) this.#adopt(key, e);
      } catch (err) {
        this.#options.logger.warn({ key, err }, 'could not read a held document');
      }
    }
    return this.#held.size;
  }

  /**
   * The stored entry of `key`, read through the stream leader: otherwise a new term could hold, and answer
   * refreshes with, an older document than the one stored (see `readThroughLeader`). Falls back to a direct
   * get when the stream has no leader for a moment (after a node failure leader reads were seen to time out
   * for many seconds); the CAS write stays the safety net either way.
   */
  async #readLatest(key: string, role: 'rates' | 'checks' = 'rates'): Promise<LeaderEntry | null> {
    try {
      this.#jsm ??= await jetstreamManager(this.#options.nc, {
        timeout: LEADER_READ_TIMEOUT_MS,
        checkAPI: false,
      });
      return await readThroughLeader(this.#jsm, BUCKETS[role], key);
    } catch (err) {
      this.#options.logger.debug(
        { key, role, code: errorCode(err) },
        'leader read failed; reading any replica',
      );
      return this.#options.buckets[role].get(key);
    }
  }

  /** Takes a KV entry as the held document when it is a valid document of that key. */
  #adopt(key: string, e: LeaderEntry): LeaderCopy | null {
    if (e.operation !== 'PUT') return null;
    const d = decode(RatesDocumentSchema, 'RatesDocument', e.value);
    let ref: TariffRef | null = null;
    try {
      ref = parseRateKey(key);
    } catch {
      // a foreign key: not ours to hold
    }
    if (!d.ok || !ref || d.value.product !== ref.product || d.value.tariff !== ref.tariff) {
      this.#options.logger.warn(
        { key, issues: d.ok ? undefined : d.error.issues },
        'ignoring an invalid held document',
      );
      return null;
    }
    const held = { doc: d.value, bytes: e.value, revision: e.revision };
    this.#held.set(key, held);
    return held;
  }

  /** Fetches a tariff and publishes it when changed. Never rejects; shares a run already in flight. */
  run(ref: TariffRef, reason: FetchReason): Promise<FetchOutcome> {
    const key = rateKey(ref.product, ref.tariff);
    return this.#flights.do(key, () =>
      this.#run(key, ref, reason).catch((error: unknown) => ({
        kind: 'failed' as const,
        error,
        held: this.#held.get(key) ?? null,
      })),
    );
  }

  async #run(key: string, ref: TariffRef, reason: FetchReason): Promise<FetchOutcome> {
    const { octopus, clock, fence, metrics, logger } = this.#options;
    const started = performance.now();
    const finish = (o: FetchOutcome): FetchOutcome => {
      const label = o.kind;
      metrics.fetchFinished?.(label, (performance.now() - started) / 1000);
      return o;
    };
    metrics.fetchStarted?.(ref.product, ref.tariff, reason);
    const now = clock.now();
    const window = { from: ukMidnight(now, -this.#options.windowDays), to: ukMidnight(now, 3) };
    let rates: Awaited<ReturnType<OctopusClient['fetchTariff']>>;
    try {
      // A process resumed after a pause must not reach upstream on a stale term either.
      fence.assertLeading();
      this.#options.onUpstreamCall?.('fetch');
      const signal = AbortSignal.any([fence.signal, AbortSignal.timeout(this.#options.fetchTimeoutMs)]);
      rates = await octopus.fetchTariff({
        product: ref.product,
        tariff: ref.tariff,
        from: new Date(window.from),
        to: new Date(window.to),
        signal,
      });
    } catch (error) {
      if (errorCode(error) === 'ERR_UPSTREAM_NOT_FOUND') {
        this.#notFoundUntil.set(key, clock.now() + this.#options.notFoundTtlMs);
      }
      if (!fence.signal.aborted)
        logger.warn({ key, reason, code: errorCode(error), err: error }, 'fetch failed');
      return finish({ kind: 'failed', error, held: this.#held.get(key) ?? null });
    }
    this.#notFoundUntil.delete(key);
    const built = buildDocument({ ref, rates, window, fetchedAt: clock.now(), term: fence.term });
    // A built document is guarded against the held one by the write itself (`publishDocument`), once per attempt.
    if (!built.ok) return finish(this.#rejected(key, built.rejection, this.#held.get(key) ?? null));
    try {
      const outcome = await this.#write(key, ref, built.doc);
      return finish(outcome);
    } catch (error) {
      if (!fence.signal.aborted || !(error instanceof StaleTermError)) {
        logger.warn({ key, code: errorCode(error), err: error }, 'publish failed');
      }
      return finish({ kind: 'failed', error, held: this.#held.get(key) ?? null });
    }
  }

  /** Counts and logs a rejected document; the last good one stays. */
  #rejected(key: string, rejection: DocumentRejection, held: LeaderCopy | null): FetchOutcome {
    this.#options.metrics.rejected?.(rejection.reason);
    this.#options.logger.warn(
      { key, reason: rejection.reason, detail: rejection.detail },
      'fetched document rejected; keeping the last good one',
    );
    return { kind: 'rejected', rejection, held };
  }

  /** CAS write when changed, publish, then the Checked record. Throws NotLeader/StaleTerm/KV errors. */
  async #write(key: string, ref: TariffRef, doc: RatesDocument): Promise<FetchOutcome> {
    const { buckets, fence, nc, metrics, logger } = this.#options;
    const current = this.#held.get(key);
    const written = await publishDocument({
      nc,
      rates: buckets.rates,
      fence,
      ref,
      key,
      doc,
      stored: { doc: current?.doc ?? null, revision: current?.revision ?? null },
      // Our document was only guarded against what we held, which may have been nothing or older (a failed or
      // lagging load at term start): a stored one found after a lost CAS must pass the same guards.
      guard: (stored) => checkDocument(doc, stored),
      reread: () => this.#rereadDocument(key),
      onStored: (revision, bytes) => this.#held.set(key, { doc, bytes, revision }),
    });
    if (written.kind === 'rejected')
      return this.#rejected(key, written.rejection, this.#held.get(key) ?? null);
    if (written.kind === 'published') {
      metrics.published?.(ref.product, ref.tariff);
      logger.info(
        {
          event: 'published',
          key,
          revision: written.revision,
          coversThrough: doc.coversThrough,
          hash: doc.contentHash,
        },
        'published',
      );
    }
    const held = this.#held.get(key) as LeaderCopy;
    await this.#writeChecked(key, doc);
    this.#checkedAt.set(key, Date.parse(doc.fetchedAt));
    return { kind: written.kind === 'published' ? 'changed' : 'unchanged', held };
  }

  /** After a lost CAS: a newer term means we are deposed; otherwise the stored document is adopted. */
  async #rereadDocument(key: string): Promise<StoredDocument> {
    const { fence } = this.#options;
    const entry = await this.#readLatest(key);
    const stored =
      entry?.operation === 'PUT' ? decode(RatesDocumentSchema, 'RatesDocument', entry.value) : null;
    if (stored?.ok && stored.value.term > fence.term)
      throw new StaleTermError(fence.term, stored.value.term, key);
    const adopted = entry ? this.#adopt(key, entry) : null;
    if (!adopted) this.#held.delete(key);
    return { doc: adopted?.doc ?? null, revision: entry ? entry.revision : null };
  }

  /**
   * Writes the Checked record fenced like a document: CAS on the revision of our previous record (read from
   * the stream leader the first time in a term), so a late write of a deposed term cannot land over a newer
   * one, and never over a record of a newer term (a newer fetcher, or a last-resort lock won after our
   * election): that ends our term (`StaleTermError`), and the next election's term is above it.
   */
  async #writeChecked(key: string, doc: RatesDocument): Promise<void> {
    const { buckets, fence } = this.#options;
    const cached = this.#checkRevision.get(key);
    this.#checkRevision.delete(key);
    const written = await writeChecked({
      checks: buckets.checks,
      fence,
      key,
      doc,
      // Our own previous record this term, else the stored one.
      stored:
        cached === undefined
          ? await this.#storedCheck(key)
          : cached === null
            ? null
            : { revision: cached, term: fence.term },
      reread: () => this.#storedCheck(key),
    });
    if (written.kind === 'newer') throw new StaleTermError(fence.term, written.storedTerm, key);
    this.#checkRevision.set(key, written.revision);
  }

  /** The stored Checked record (null: none), read through the stream leader. */
  async #storedCheck(key: string): Promise<StoredCheck | null> {
    const entry = await this.#readLatest(key, 'checks');
    if (!entry) return null;
    const stored = entry.operation === 'PUT' ? decode(CheckedSchema, 'Checked', entry.value) : null;
    return { revision: entry.revision, term: stored?.ok ? stored.value.term : null };
  }
}
