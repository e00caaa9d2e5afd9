import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type Buckets, createBuckets, makeDoc, openRow, tariffN } from '@ratebus/fixtures';
import type { RatesDocument } from '@ratebus/schema';
import { NatsServer } from '@ratebus/testkit';
import type { Cleanup } from './util.js';

/** Header naming the core-NATS round of the propagation suite. */
export const ROUND_HEADER = 'Bench-Round';

const DAY_MS = 24 * 3_600_000;
/** Agile-sized: 7 days of half-hours, what a fetcher's 7-day window holds. */
export const AGILE_SLOTS = 7 * 48;

/** The `n`-th synthetic Agile-like tariff: distinct valid codes (`AGILE-B{n}`, region A..P). */
export function syntheticTariff(n: number): { product: string; tariff: string } {
  return tariffN(n, 'B');
}

/**
 * A valid Agile-shaped standard document for the benchmarks that need documents in KV without running a
 * fetcher (propagation, pod cost, gateway): `slots` half-hours (newest first) ending at the next 23:00 UTC
 * boundary after tomorrow, prices with two decimals in the Agile range (a few negative), one open standing
 * charge. `seed` changes every price (new content); `fetchedAt` defaults to now (a fresh copy).
 */
export function agileDoc(
  product: string,
  tariff: string,
  o: { seed?: number; slots?: number; term?: number; fetchedAt?: number } = {},
): RatesDocument {
  const now = o.fetchedAt ?? Date.now();
  const seed = o.seed ?? 1;
  return makeDoc(product, tariff, {
    ...o,
    fetchedAt: now,
    end: Math.floor(now / DAY_MS) * DAY_MS + DAY_MS + 23 * 3_600_000,
    slots: o.slots ?? AGILE_SLOTS,
    price: (i) => Math.round((Math.sin((i + 1) * 0.37 + seed * 1.618) * 18 + 16) * 100) / 100,
    windowDays: 10,
    standingCharge: openRow('2024-09-30T23:00:00Z', 37.6525),
  });
}

/**
 * A nats-server, a writer connection named `name` and the fetcher's buckets, for the suites that put
 * documents in KV without running a fetcher; the server and the connection are stopped by `cleanup`.
 */
export async function writerBus(
  cleanup: Cleanup,
  name: string,
): Promise<{ ns: NatsServer; nc: NatsConnection; buckets: Buckets }> {
  const ns = await NatsServer.start();
  cleanup.add('nats-server', () => ns.stop());
  const nc = await connect({ servers: ns.url, name });
  cleanup.add('writer connection', () => nc.close());
  return { ns, nc, buckets: await createBuckets(nc, { timeoutMs: 10_000 }) };
}
