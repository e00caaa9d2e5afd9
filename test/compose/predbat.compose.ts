import assert from 'node:assert/strict';
import { type TariffRef, tariffRef } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { scheduledWaitMs } from '../e2e/bus.js';
import { readWithPython, upstreamValue } from '../integration/gateway/predbat-reader.js';

/**
 * Compose only (test/compose/run.sh): the gateway container feeds a PredBat-style cache directory
 * (`RATEBUS_PREDBAT_CACHE_DIR` on a host folder, `RATEBUS_PREDBAT_TARIFFS`). Read back the way PredBat reads
 * it (the Python/PyYAML reader written from docs/predbat.md), every entry of every configured tariff is
 * there and carries a recent `created`; rates load to the simulator's rows for that URL (the document
 * window's prefix), products to the simulator's product object as the fetchers' URL cache last fetched it.
 */

const MAX_AGE_MS = 35 * 60_000;

function settings(): { dir: string; simUrl: string; tariffs: TariffRef[] } {
  const dir = process.env.RATEBUS_E2E_PREDBAT_DIR;
  const simUrl = process.env.RATEBUS_E2E_SIM_URL;
  const list = process.env.RATEBUS_PREDBAT_TARIFFS;
  if (!dir || !simUrl || !list)
    throw new Error(
      'compose only: run through test/compose/run.sh (RATEBUS_E2E_PREDBAT_DIR, RATEBUS_E2E_SIM_URL)',
    );
  const tariffs = list.split(',').map((pair) => {
    const [product = '', tariff = ''] = pair.split('/');
    return tariffRef(product, tariff);
  });
  return { dir, simUrl: simUrl.replace(/\/+$/, ''), tariffs };
}

/** The public URLs PredBat reads for a single-register electricity tariff (docs/predbat.md §1). */
function pathsOf(t: TariffRef): string[] {
  const base = `/v1/products/${t.product}/electricity-tariffs/${t.tariff}`;
  return [`/v1/products/${t.product}/`, `${base}/standard-unit-rates/`, `${base}/standing-charges/`];
}

describe('compose: the gateway feeds a PredBat cache directory', function () {
  this.timeout(300_000);

  it('holds every entry of every configured tariff, as upstream answers it, with a recent created', async () => {
    const { dir, simUrl, tariffs } = settings();
    assert.ok(tariffs.length > 0, 'RATEBUS_PREDBAT_TARIFFS names tariffs');
    const paths = tariffs.flatMap(pathsOf);
    const reads = await check(
      async () => {
        const entries = await Promise.all(
          paths.map(async (p) => ({
            url: `https://api.octopus.energy${p}`,
            json: await upstreamValue(simUrl, p),
          })),
        );
        const read = readWithPython(dir, entries);
        const missing = read.filter((r) => !r.present).map((r) => r.url);
        if (missing.length > 0) throw new Error(`not fed yet: ${missing.join(', ')}`);
        // Upstream may move on between the fetch and this read (a new day published): read again then.
        // A product's detail carries the current prices, so it is only equal to what upstream answered when
        // the fetchers' URL cache asked (up to 20 minutes ago): checked by its shape below.
        const differ = read
          .filter((r) => r.url.includes('-tariffs/') && !(r.exact || r.prefix))
          .map((r) => r.url);
        if (differ.length > 0) throw new Error(`differs from upstream: ${differ.join(', ')}`);
        return read;
      },
      { timeout: scheduledWaitMs(120_000), interval: 2_000, name: 'PredBat entries fed' },
    );
    const now = Date.now();
    for (const r of reads) {
      assert.equal(r.metaOk, true, `${r.url}: .meta as PredBat writes it`);
      const created = r.createdMs ?? Number.NaN;
      assert.ok(created <= now + 1_000, `${r.url}: created ${r.created} is not in the future`);
      assert.ok(now - created < MAX_AGE_MS, `${r.url}: created ${r.created} is recent`);
      if (!r.url.includes('-tariffs/')) {
        const value = JSON.parse(r.value ?? 'null') as Record<string, unknown> | null;
        const upstream = JSON.parse(await upstreamValue(simUrl, new URL(r.url).pathname)) as Record<
          string,
          unknown
        >;
        assert.equal(value?.code, upstream.code, `${r.url}: the product's code`);
        assert.deepEqual(Object.keys(value ?? {}), Object.keys(upstream), `${r.url}: the product's fields`);
      }
    }
  });
});
