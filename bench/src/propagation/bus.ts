import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  BUCKETS,
  contentHash,
  coversThrough,
  type RateSlot,
  type RatesDocument,
  REGIONS,
  rateKey,
  SCHEMA_VERSION,
  toUtcSecond,
} from '@ratebus/schema';

/**
 * The fetcher's side of the bus for the benchmarks that need documents in KV without running a fetcher
 * (propagation, pod cost, gateway): buckets created with the fetcher's settings, valid Agile-sized documents.
 */
export interface Buckets {
  readonly rates: KV;
  readonly checks: KV;
  readonly interest: KV;
}

/** Header naming the core-NATS round of the propagation suite. */
export const ROUND_HEADER = 'Bench-Round';

const HALF_HOUR_MS = 30 * 60_000;
const DAY_MS = 24 * 3_600_000;
/** Agile-sized: 7 days of half-hours, what a fetcher's 7-day window holds. */
export const AGILE_SLOTS = 7 * 48;

export async function createBuckets(nc: NatsConnection): Promise<Buckets> {
  const kvm = new Kvm(jetstream(nc, { timeout: 10_000 }));
  const [rates, checks, interest] = await Promise.all([
    kvm.create(BUCKETS.rates, { history: 1 }),
    kvm.create(BUCKETS.checks, { history: 1 }),
    kvm.create(BUCKETS.interest, { history: 1, ttl: 60 * 60_000 }),
  ]);
  return { rates, checks, interest };
}

/** The `n`-th synthetic Agile-like tariff: distinct valid codes (`AGILE-B{n}`, region A..P). */
export function syntheticTariff(n: number): { product: string; tariff: string } {
  const product = `AGILE-B${n}`;
  return { product, tariff: `E-1R-${product}-${REGIONS[n % REGIONS.length] as string}` };
}

/**
 * A valid Agile-shaped standard document: `slots` half-hours (newest first) ending at the next 23:00 UTC
 * boundary after tomorrow, prices with two decimals and 5 % VAT, one open standing charge. `seed` changes
 * every price (new content); `fetchedAt` defaults to now (a fresh copy).
 */
export function agileDoc(
  product: string,
  tariff: string,
  o: { seed?: number; slots?: number; term?: number; fetchedAt?: number } = {},
): RatesDocument {
  const now = o.fetchedAt ?? Date.now();
  const end = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS + 23 * 3_600_000;
  const seed = o.seed ?? 1;
  const rows: RateSlot[] = [];
  for (let i = 0; i < (o.slots ?? AGILE_SLOTS); i++) {
    // Deterministic, varied prices in the Agile range (a few negative).
    const exc = Math.round((Math.sin((i + 1) * 0.37 + seed * 1.618) * 18 + 16) * 100) / 100;
    rows.push({
      value_exc_vat: exc,
      value_inc_vat: Math.round(exc * 1.05 * 1e8) / 1e8,
      valid_from: toUtcSecond(end - (i + 1) * HALF_HOUR_MS),
      valid_to: toUtcSecond(end - i * HALF_HOUR_MS),
      payment_method: null,
    });
  }
  const doc = {
    type: 'rates' as const,
    schemaVersion: SCHEMA_VERSION,
    product,
    tariff,
    region: tariff.slice(-1),
    fuel: 'electricity' as const,
    direction: 'IMPORT' as const,
    registerKind: 'standard' as const,
    unitRates: rows,
    standingCharges: [
      {
        value_exc_vat: 37.6525,
        value_inc_vat: 39.535125,
        valid_from: '2024-09-30T23:00:00Z',
        valid_to: null,
        payment_method: null,
      },
    ],
    window: { from: toUtcSecond(end - 10 * DAY_MS), to: toUtcSecond(end) },
    fetchedAt: new Date(now).toISOString(),
    coversThrough: coversThrough(rows),
    contentHash: '',
    term: o.term ?? 1,
  };
  return { ...doc, contentHash: contentHash(doc as unknown as RatesDocument) } as RatesDocument;
}

/** Puts documents under their keys, `parallel` at a time; returns the revisions in order. */
export async function putDocs(rates: KV, docs: readonly RatesDocument[], parallel = 32): Promise<number[]> {
  const revs: number[] = new Array(docs.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < docs.length; i = next++) {
      const d = docs[i] as RatesDocument;
      revs[i] = await rates.put(rateKey(d.product, d.tariff), JSON.stringify(d));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, docs.length) }, lane));
  return revs;
}
