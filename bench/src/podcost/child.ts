/**
 * Pod-cost child (one fresh process per measurement, run with --expose-gc). MODE=ratebus: a `RateClient`
 * connects and `ready()` holds every tariff in KV. MODE=naive: PredBat-style GETs (standard unit rates, 3
 * pages following `next`, then standing charges) for each tariff, sequentially, keeping the parsed rows.
 * Prints one JSON line: time, tariffs held, RSS and heap before and after (both after a full GC).
 */
import { RateClient } from '@ratebus/client';
import { unitRateRows } from '@ratebus/schema';
import { request } from 'undici';
import { exitWithParent } from '../propagation/util.js';

const mode = process.env.MODE;
const count = Number(process.env.TARIFFS ?? '0');
const gc = (globalThis as { gc?: () => void }).gc;

interface Page {
  next: string | null;
  results: unknown[];
}

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  if (res.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${res.statusCode}`);
  return (await res.body.json()) as T;
}

async function naive(
  base: string,
  urls: readonly string[],
): Promise<{ held: number; requests: number; rows: number }> {
  const held: Array<{ rates: unknown[]; standing: unknown[] }> = [];
  let requests = 0;
  for (let i = 0; i < count; i++) {
    const path = urls[i % urls.length] as string;
    const rates: unknown[] = [];
    let url: string | null = `${base}${path}standard-unit-rates/`;
    for (let page = 0; url && page < 3; page++) {
      const p: Page = await getJson<Page>(url);
      requests++;
      rates.push(...p.results);
      url = p.next;
    }
    const standing = await getJson<Page>(`${base}${path}standing-charges/`);
    requests++;
    held.push({ rates, standing: standing.results });
  }
  // Keep the copy reachable until after the measurement.
  (globalThis as { held?: unknown }).held = held;
  return { held: held.length, requests, rows: held.reduce((n, h) => n + h.rates.length, 0) };
}

async function main(): Promise<void> {
  exitWithParent();
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  const before = process.memoryUsage();
  const t0 = performance.now();
  let held: number;
  let requests = 0;
  let rows = 0;
  let client: RateClient | null = null;
  if (mode === 'ratebus') {
    client = await RateClient.connect({ servers: process.env.NATS_URL ?? '', name: 'bench-podcost' });
    await client.ready();
    held = client.tariffs().length;
    for (const t of client.tariffs()) {
      const doc = client.get(t.product, t.tariff)?.document;
      if (doc) rows += unitRateRows(doc).length;
    }
  } else {
    const r = await naive(
      process.env.SIM_URL ?? '',
      JSON.parse(process.env.TARIFF_PATHS ?? '[]') as string[],
    );
    held = r.held;
    requests = r.requests;
    rows = r.rows;
  }
  const ms = performance.now() - t0;
  gc();
  const after = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({
      bench: 'result',
      mode,
      ms,
      held,
      requests,
      rows,
      rssBefore: before.rss,
      rssAfter: after.rss,
      heapBefore: before.heapUsed,
      heapAfter: after.heapUsed,
      externalAfter: after.external + after.arrayBuffers,
    })}\n`,
  );
  await client?.close();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
