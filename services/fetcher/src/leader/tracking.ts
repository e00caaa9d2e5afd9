import type { KV, KvEntry } from '@nats-io/kv';
import { decode, InterestSchema, parseRateKey, rateKey, type TariffRef } from '@ratebus/schema';
import type { Logger } from 'pino';
import { pause, watchKv } from './kv-watch.js';
import type { Clock, TermMetrics } from './types.js';

/** Where a tracked tariff comes from; a tariff may have several sources. */
export type TrackSource = 'config' | 'interest' | 'requested';

export interface TrackingOptions {
  /** Tariffs from the config file: always tracked. */
  configured: readonly TariffRef[];
  interest: KV;
  clock: Clock;
  logger: Logger;
  metrics: TermMetrics;
  /** How long a tariff asked for by a refresh stays tracked without a renewal, clock ms. */
  requestedTtlMs: number;
  /** Relist cadence of the interest bucket (TTL expiry sends no event on nats-server 2.9), real ms. */
  relistIntervalMs: number;
  /** Most tariffs tracked beyond the configured ones (interest ∪ requested); more are refused and counted. */
  maxTracked: number;
  /** Called whenever the tracked set changes. */
  onChange: () => void;
}

/**
 * The tariffs to keep fresh: config ∪ live interest ∪ recently requested. Interest comes from a watch on
 * `ratebus-interest` plus a periodic relist; invalid entries are ignored and counted. At most `maxTracked`
 * tariffs beyond the configured ones are taken on (first come, first served): every tracked tariff costs
 * upstream requests each cadence, so a pod writing thousands of valid codes must not multiply that cost.
 */
export class Tracking {
  readonly #options: TrackingOptions;
  readonly #configured = new Map<string, TariffRef>();
  readonly #interest = new Map<string, TariffRef>();
  readonly #requested = new Map<string, { ref: TariffRef; until: number }>();
  /** Keys whose current value was invalid: not re-read by every relist (the watch reports a new value). */
  readonly #invalidKeys = new Set<string>();
  /** Tracked keys that are not configured (interest ∪ requested): what `maxTracked` bounds. */
  readonly #extra = new Set<string>();
  /** Interest keys refused by the cap: re-read by a relist only when there is room again. */
  readonly #refusedKeys = new Set<string>();
  /** Interest entries rejected as invalid since start. */
  invalidInterest = 0;
  /** Interest entries and refresh requests refused by the cap since start. */
  refused = 0;
  #lastCount = -1;

  constructor(opts: TrackingOptions) {
    this.#options = opts;
    for (const ref of opts.configured) this.#configured.set(rateKey(ref.product, ref.tariff), ref);
  }

  /** Every tracked tariff, each once, with its sources. */
  list(): { key: string; ref: TariffRef; sources: TrackSource[] }[] {
    const now = this.#options.clock.now();
    for (const [k, r] of this.#requested) {
      if (r.until > now) continue;
      this.#requested.delete(k);
      this.#release(k);
    }
    const out = new Map<string, { key: string; ref: TariffRef; sources: TrackSource[] }>();
    const add = (key: string, ref: TariffRef, s: TrackSource) => {
      const e = out.get(key);
      if (e) e.sources.push(s);
      else out.set(key, { key, ref, sources: [s] });
    };
    for (const [k, ref] of this.#configured) add(k, ref, 'config');
    for (const [k, ref] of this.#interest) add(k, ref, 'interest');
    for (const [k, r] of this.#requested) add(k, r.ref, 'requested');
    if (out.size !== this.#lastCount) {
      this.#lastCount = out.size;
      this.#options.metrics.trackedTariffs?.(out.size);
    }
    return [...out.values()];
  }

  /** True when the tariff is tracked now (configured, interest or requested). */
  has(ref: TariffRef): boolean {
    const key = rateKey(ref.product, ref.tariff);
    return this.#configured.has(key) || this.#extra.has(key);
  }

  /** True when the tariff is configured. */
  isConfigured(ref: TariffRef): boolean {
    return this.#configured.has(rateKey(ref.product, ref.tariff));
  }

  /**
   * A refresh asked for this tariff: track it as if a pod had declared interest. Returns false (and counts
   * a refusal) when the tariff is new and the cap is reached.
   */
  request(ref: TariffRef): boolean {
    const key = rateKey(ref.product, ref.tariff);
    const isNew = !this.#configured.has(key) && !this.#extra.has(key);
    if (!this.#admit(key)) return false;
    this.#requested.set(key, { ref, until: this.#options.clock.now() + this.#options.requestedTtlMs });
    if (isNew) this.#options.onChange();
    return true;
  }

  /** Takes a key on (or finds it tracked already); false, counted, when the cap is reached. */
  #admit(key: string): boolean {
    if (this.#configured.has(key) || this.#extra.has(key)) return true;
    if (this.#extra.size < this.#options.maxTracked) {
      this.#extra.add(key);
      return true;
    }
    this.refused++;
    this.#options.metrics.refused?.('tracked-limit');
    // One warning per hundred refusals: a flood must not flood the log too.
    if (this.refused % 100 === 1) {
      this.#options.logger.warn(
        { key: key.slice(0, 140), maxTracked: this.#options.maxTracked, refused: this.refused },
        'tracked-tariff cap reached; refusing a new tariff',
      );
    }
    return false;
  }

  /** Forgets a key from the capped set once neither interest nor a request holds it. */
  #release(key: string): void {
    if (!this.#interest.has(key) && !this.#requested.has(key)) this.#extra.delete(key);
  }

  /** Watches and relists interest until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.#watchLoop(signal), this.#relistLoop(signal)]);
  }

  /** Applies one interest entry; returns true when the tracked set changed. */
  #apply(e: KvEntry): boolean {
    this.#invalidKeys.delete(e.key);
    this.#refusedKeys.delete(e.key);
    if (e.operation !== 'PUT') {
      const had = this.#interest.delete(e.key);
      // Pods never delete interest and expiry leaves no marker: someone deleted a live entry.
      if (had) this.#options.metrics.interestAnomaly?.('deleted');
      this.#release(e.key);
      return had;
    }
    let ref: TariffRef;
    try {
      ref = parseRateKey(e.key);
    } catch {
      return this.#invalid(e.key, 'bad key');
    }
    const d = decode(InterestSchema, 'Interest', e.value);
    if (!d.ok) return this.#invalid(e.key, d.error.issues.map((i) => `${i.path}: ${i.code}`).join(', '));
    if (d.value.product !== ref.product || d.value.tariff !== ref.tariff)
      return this.#invalid(e.key, 'key mismatch');
    if (this.#interest.has(e.key)) return false;
    const known = this.#extra.has(e.key);
    if (!this.#admit(e.key)) {
      this.#refusedKeys.add(e.key);
      return false;
    }
    this.#interest.set(e.key, ref);
    // A tariff a refresh request already tracks does not change the tracked set.
    return !known;
  }

  #invalid(key: string, why: string): false {
    this.invalidInterest++;
    this.#invalidKeys.add(key);
    this.#options.metrics.interestAnomaly?.('invalid');
    // One warning per hundred: a flood of invalid entries must not flood the log too.
    if (this.invalidInterest % 100 === 1) {
      this.#options.logger.warn(
        { key: key.slice(0, 140), why, invalid: this.invalidInterest },
        'ignoring an invalid interest entry',
      );
    }
    return false;
  }

  #watchLoop(signal: AbortSignal): Promise<void> {
    return watchKv(this.#options.interest, {
      signal,
      retryMs: this.#options.relistIntervalMs,
      onEntry: (e) => {
        if (this.#apply(e)) this.#options.onChange();
      },
      onError: (err) => this.#options.logger.warn({ err }, 'interest watch failed; retrying'),
    });
  }

  async #relistLoop(signal: AbortSignal): Promise<void> {
    for (;;) {
      await pause(this.#options.relistIntervalMs, signal);
      if (signal.aborted) return;
      try {
        await this.relist();
      } catch (err) {
        if (!signal.aborted) this.#options.logger.warn({ err }, 'interest relist failed');
      }
    }
  }

  /** Drops interest whose key expired, and picks up any key the watch missed. */
  async relist(): Promise<void> {
    const live = new Set<string>();
    for await (const k of await this.#options.interest.keys()) live.add(k);
    let changed = false;
    for (const k of [...this.#invalidKeys]) if (!live.has(k)) this.#invalidKeys.delete(k);
    for (const k of [...this.#refusedKeys]) if (!live.has(k)) this.#refusedKeys.delete(k);
    for (const k of [...this.#interest.keys()]) {
      if (live.has(k)) continue;
      changed = this.#interest.delete(k) || changed;
      this.#release(k);
    }
    for (const k of live) {
      if (this.#interest.has(k) || this.#invalidKeys.has(k)) continue;
      // A refused key is read again only when there is room: a flood costs no reads per relist.
      if (this.#refusedKeys.has(k) && this.#extra.size >= this.#options.maxTracked) continue;
      const e = await this.#options.interest.get(k);
      if (e) changed = this.#apply(e) || changed;
    }
    if (changed) this.#options.onChange();
  }
}
