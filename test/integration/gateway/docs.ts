import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  BUCKETS,
  type Checked,
  contentHash,
  coversThrough,
  type RateSlot,
  type RatesDocument,
  rateKey,
  SCHEMA_VERSION,
  toUtcSecond,
} from '@ratebus/schema';

/** The buckets the fetcher would create (docs/buses.md), so the gateway can be tested with documents in KV. */
export interface Buckets {
  rates: KV;
  checks: KV;
  interest: KV;
}

export async function createBuckets(nc: NatsConnection): Promise<Buckets> {
  const kvm = new Kvm(jetstream(nc, { timeout: 5_000 }));
  const [rates, checks, interest] = await Promise.all([
    kvm.create(BUCKETS.rates, { history: 1 }),
    kvm.create(BUCKETS.checks, { history: 1 }),
    kvm.create(BUCKETS.interest, { history: 1, ttl: 60 * 60_000 }),
  ]);
  return { rates, checks, interest };
}

const HALF_HOUR = 30 * 60_000;

/** A valid standard document: `slots` half-hours ending at `end`, prices from `seed`, hash from the schema. */
export function makeDoc(
  product: string,
  tariff: string,
  o: { seed?: number; slots?: number; end?: string; term?: number; fetchedAt?: number } = {},
): RatesDocument {
  const end = Date.parse(o.end ?? '2026-11-29T23:00:00Z');
  const rows: RateSlot[] = [];
  for (let i = 0; i < (o.slots ?? 150); i++) {
    const exc = (o.seed ?? 1) * 100 + i / 4;
    rows.push({
      value_exc_vat: exc,
      value_inc_vat: exc * 1.05,
      valid_from: toUtcSecond(end - (i + 1) * HALF_HOUR),
      valid_to: toUtcSecond(end - i * HALF_HOUR),
      payment_method: null,
    });
  }
  const content = {
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
        value_exc_vat: 40,
        value_inc_vat: 42,
        valid_from: '2024-09-30T23:00:00Z',
        valid_to: null,
        payment_method: null,
      },
    ],
    window: { from: toUtcSecond(end - 7 * 24 * 3_600_000), to: toUtcSecond(end) },
    fetchedAt: new Date(o.fetchedAt ?? Date.now()).toISOString(),
    coversThrough: coversThrough(rows),
    term: o.term ?? 1,
  };
  return { ...content, contentHash: contentHash(content as unknown as RatesDocument) } as RatesDocument;
}

/** Writes a document and a matching confirmation, as the leader does. */
export async function publish(b: Buckets, doc: RatesDocument): Promise<void> {
  const key = rateKey(doc.product, doc.tariff);
  await b.rates.put(key, JSON.stringify(doc));
  const c: Checked = {
    type: 'checked',
    schemaVersion: SCHEMA_VERSION,
    product: doc.product,
    tariff: doc.tariff,
    checkedAt: doc.fetchedAt,
    contentHash: doc.contentHash,
    coversThrough: doc.coversThrough,
    term: doc.term,
  };
  await b.checks.put(key, JSON.stringify(c));
}
