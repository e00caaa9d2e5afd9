import type { KV } from '@nats-io/kv';
import { isCasLoss } from '@ratebus/bus';
import { decode, type Interest, InterestSchema, SCHEMA_VERSION, type TariffRef } from '@ratebus/schema';
import { type ClientLogger, errInfo } from '../logger.js';
import { jittered, Periodic } from '../timing.js';

export interface InterestOptions {
  /** Renewal check period, ms; default a quarter of the TTL. Jittered ±25 %. */
  readonly checkIntervalMs: number | undefined;
  readonly fallbackTtlMs: number;
  readonly jsTimeoutMs: number;
  /** Who renews: the connection name. */
  readonly by: string;
}

/**
 * Keeps this pod's interest alive in `ratebus-interest` without a write storm: each check reads the entry
 * and writes only when it is missing (`create`) or older than half the TTL (`update` with CAS on its
 * revision). Among any number of pods at most one write per key succeeds per half-TTL; the losers see
 * "wrong last sequence" and simply read again at their next (jittered) check.
 */
export class InterestRenewer {
  private readonly wanted = new Map<string, TariffRef>();
  private readonly job: Periodic;
  private ttlMs: number;
  checks = 0;
  writes = 0;
  casLost = 0;

  constructor(
    private readonly kv: KV,
    ttlMs: number | null,
    private readonly opts: InterestOptions,
    private readonly logger: ClientLogger,
  ) {
    this.ttlMs = ttlMs && ttlMs > 0 ? ttlMs : opts.fallbackTtlMs;
    this.job = new Periodic(
      {
        name: 'interest renewal',
        intervalMs: () => jittered(this.opts.checkIntervalMs ?? this.ttlMs / 4, 0.25),
        timeoutMs: Math.max(opts.jsTimeoutMs * 4, 10_000),
        logger,
      },
      () => this.renewAll(),
    );
    this.job.start();
  }

  /** Adds a tariff and renews it now if needed (in the background; never rejects). */
  declare(key: string, ref: TariffRef): void {
    if (this.wanted.has(key)) return;
    this.wanted.set(key, ref);
    void this.renewOne(key, ref).catch((e: unknown) =>
      this.logger.warn({ key, ...errInfo(e) }, 'interest renewal failed'),
    );
  }

  async stop(): Promise<void> {
    await this.job.stop();
  }

  private async renewAll(): Promise<void> {
    for (const [key, ref] of this.wanted) {
      try {
        await this.renewOne(key, ref);
      } catch (e) {
        this.logger.warn({ key, ...errInfo(e) }, 'interest renewal failed');
      }
    }
  }

  private async renewOne(key: string, ref: TariffRef): Promise<void> {
    this.checks++;
    const entry = await this.kv.get(key);
    const value: Interest = {
      type: 'interest',
      schemaVersion: SCHEMA_VERSION,
      product: ref.product,
      tariff: ref.tariff,
      renewedAt: new Date().toISOString(),
      by: this.opts.by,
    };
    const body = JSON.stringify(value);
    try {
      if (entry?.operation !== 'PUT') {
        await this.kv.create(key, body);
      } else if (!declares(entry.value, ref) || Date.now() - entry.created.getTime() > this.ttlMs / 2) {
        // An entry the fetcher ignores (another holder of the pod user overwrote it) counts as missing: left
        // alone, it would hide this pod's interest until it aged half a TTL.
        await this.kv.update(key, body, entry.revision, this.opts.jsTimeoutMs);
      } else {
        return;
      }
      this.writes++;
    } catch (e) {
      if (!isCasLoss(e)) throw e;
      this.casLost++;
    }
  }
}

/** Does a stored interest value declare `ref` in a form the fetcher accepts? */
function declares(value: Uint8Array, ref: TariffRef): boolean {
  const d = decode(InterestSchema, 'Interest', value);
  return d.ok && d.value.product === ref.product && d.value.tariff === ref.tariff;
}
