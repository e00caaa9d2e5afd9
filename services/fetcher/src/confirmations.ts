import type { KV, KvEntry } from '@nats-io/kv';
import { CheckedSchema, decode, rateKey, type TariffRef } from '@ratebus/schema';
import type { Logger } from 'pino';
import { watchKv } from './leader/kv-watch.js';

/** The latest confirmation of one tariff, as the `ratebus-checks` bucket holds it. */
export interface Confirmation {
  readonly product: string;
  readonly tariff: string;
  /** The fetcher's last successful check upstream, epoch ms; null while none is known. */
  readonly checkedAt: number | null;
  /** End of the newest published unit-rate slot, epoch ms; null when open-ended or unknown. */
  readonly coversThrough: number | null;
}

export interface ConfirmationWatchOptions {
  checks: KV;
  /** Configured tariffs: reported even before (or without) a first confirmation. */
  configured: readonly TariffRef[];
  logger: Logger;
  /** Pause before a failed watch is recreated, ms. Default 5 s. */
  retryMs?: number;
}

/**
 * Every fetcher replica (leader or not) watches `ratebus-checks`, so the data-age metrics survive a failover
 * and keep growing when the leader stops confirming. Entries are decoded with the wire schema; invalid ones
 * are ignored (and counted).
 */
export class ConfirmationWatch {
  readonly #options: ConfirmationWatchOptions;
  readonly #entries = new Map<string, Confirmation>();
  readonly #abort = new AbortController();
  #run: Promise<void> | null = null;
  /** Entries ignored because they failed validation. */
  invalid = 0;

  constructor(opts: ConfirmationWatchOptions) {
    this.#options = opts;
    for (const ref of opts.configured) {
      const key = rateKey(ref.product, ref.tariff);
      this.#entries.set(key, {
        product: ref.product,
        tariff: ref.tariff,
        checkedAt: null,
        coversThrough: null,
      });
    }
  }

  /** Every known tariff (configured ones first), with its latest confirmation. */
  list(): Confirmation[] {
    return [...this.#entries.values()];
  }

  start(): void {
    this.#run ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#run;
  }

  #apply(e: KvEntry): void {
    const configured = this.#options.configured.some((r) => rateKey(r.product, r.tariff) === e.key);
    if (e.operation !== 'PUT') {
      const prev = this.#entries.get(e.key);
      if (!prev) return;
      if (configured) this.#entries.set(e.key, { ...prev, checkedAt: null, coversThrough: null });
      else this.#entries.delete(e.key);
      return;
    }
    const d = decode(CheckedSchema, 'Checked', e.value);
    if (!d.ok || rateKey(d.value.product, d.value.tariff) !== e.key) {
      this.invalid++;
      return;
    }
    const c = d.value;
    this.#entries.set(e.key, {
      product: c.product,
      tariff: c.tariff,
      checkedAt: Date.parse(c.checkedAt),
      coversThrough: c.coversThrough === null ? null : Date.parse(c.coversThrough),
    });
  }

  #loop(): Promise<void> {
    return watchKv(this.#options.checks, {
      signal: this.#abort.signal,
      retryMs: this.#options.retryMs ?? 5_000,
      onEntry: (e) => this.#apply(e),
      onError: (err) => this.#options.logger.warn({ err }, 'checks watch failed; retrying'),
    });
  }
}
