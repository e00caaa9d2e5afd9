import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  BUCKETS,
  checkedOf,
  contentHash,
  coversThrough,
  LEASE_KEY,
  type RateSlot,
  type RatesDocument,
  REGIONS,
  rateKey,
  SCHEMA_VERSION,
  toUtcSecond,
} from '@ratebus/schema';

/**
 * Test stand-in for the fetcher's side of the bus (docs/buses.md): creates the buckets with the fetcher's
 * configuration and writes valid documents and checks, so the client can be tested before the fetcher
 * exists.
 */
export interface Buckets {
  rates: KV;
  checks: KV;
  interest: KV;
}

export async function createBuckets(
  nc: NatsConnection,
  opts: { interestTtlMs?: number; replicas?: number } = {},
): Promise<Buckets> {
  const kvm = new Kvm(jetstream(nc, { timeout: 5_000 }));
  const replicas = opts.replicas ?? 1;
  const [rates, checks, interest] = await Promise.all([
    kvm.create(BUCKETS.rates, { history: 1, replicas }),
    kvm.create(BUCKETS.checks, { history: 1, replicas }),
    kvm.create(BUCKETS.interest, { history: 1, replicas, ttl: opts.interestTtlMs ?? 60 * 60_000 }),
  ]);
  return { rates, checks, interest };
}

/** Quick retries and dead-link detection (about 1 s), for tests that break links. */
export const FAST_LINK = {
  retryInitialMs: 50,
  retryMaxMs: 500,
  pingIntervalMs: 300,
  maxPingOut: 2,
  reconnectTimeWaitMs: 100,
  connectTimeoutMs: 500,
  jsTimeoutMs: 2_000,
};

const HALF_HOUR = 30 * 60_000;

/** `n`-th product/tariff pair: distinct valid codes (`AGILE-T{n}` in region A..P). */
export function tariffN(n: number): { product: string; tariff: string } {
  const product = `AGILE-T${n}`;
  const region = REGIONS[n % REGIONS.length] as string;
  return { product, tariff: `E-1R-${product}-${region}` };
}

export interface DocOptions {
  /** Price seed: different seeds give different content. Default 1. */
  seed?: number;
  term?: number;
  fetchedAt?: Date | number;
  /** End of the newest slot. Default 2026-11-29T23:00:00Z. */
  end?: string;
  /** Number of half-hour slots. Default 8. */
  slots?: number;
  /** Twin DIRECT_DEBIT/NON_DIRECT_DEBIT rows (NDD 1p dearer). Default false. */
  twins?: boolean;
}

/** A valid standard rates document with its content hash computed by the schema package. */
export function makeDoc(product: string, tariff: string, o: DocOptions = {}): RatesDocument {
  const end = Date.parse(o.end ?? '2026-11-29T23:00:00Z');
  const seed = o.seed ?? 1;
  const rows: RateSlot[] = [];
  for (let i = 0; i < (o.slots ?? 8); i++) {
    const base = {
      valid_from: toUtcSecond(end - (i + 1) * HALF_HOUR),
      valid_to: toUtcSecond(end - i * HALF_HOUR),
    };
    const exc = seed * 100 + i;
    if (o.twins) {
      rows.push({ ...base, value_exc_vat: exc, value_inc_vat: exc * 1.05, payment_method: 'DIRECT_DEBIT' });
      rows.push({
        ...base,
        value_exc_vat: exc + 1,
        value_inc_vat: (exc + 1) * 1.05,
        payment_method: 'NON_DIRECT_DEBIT',
      });
    } else {
      rows.push({ ...base, value_exc_vat: exc, value_inc_vat: exc * 1.05, payment_method: null });
    }
  }
  const region = tariff.slice(-1);
  const doc = {
    type: 'rates' as const,
    schemaVersion: SCHEMA_VERSION,
    product,
    tariff,
    region,
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
    contentHash: '',
    term: o.term ?? 1,
  };
  return { ...doc, contentHash: contentHash(doc as unknown as RatesDocument) } as RatesDocument;
}

/** Writes a document under its key (a plain put: tests play both the leader and an attacker). */
export async function putDoc(b: Buckets, doc: RatesDocument): Promise<number> {
  return b.rates.put(rateKey(doc.product, doc.tariff), JSON.stringify(doc));
}

/** Writes a `Checked` confirmation of a document's content at `checkedAt`. */
export async function putCheck(b: Buckets, doc: RatesDocument, checkedAt: Date | number): Promise<number> {
  const c = checkedOf(doc, new Date(checkedAt).toISOString());
  return b.checks.put(rateKey(doc.product, doc.tariff), JSON.stringify(c));
}

/** Creates `ratebus-lease` as the fetcher does: history 1, no TTL (keys lapse when seen unrenewed). */
export async function createLeaseBucket(nc: NatsConnection): Promise<KV> {
  const kvm = new Kvm(jetstream(nc, { timeout: 5_000 }));
  return kvm.create(BUCKETS.lease, { history: 1 });
}

/**
 * Plays a fetcher that led and went away: creates the election lease (its create revision is that
 * fetcher's term) and releases it. Returns the term.
 */
export async function pastFetcherTerm(lease: KV): Promise<number> {
  const term = await lease.create(LEASE_KEY, JSON.stringify({ holder: 'gone-fetcher' }));
  await lease.delete(LEASE_KEY, { previousSeq: term });
  return term;
}
