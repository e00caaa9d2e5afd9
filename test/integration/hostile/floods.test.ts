import assert from 'node:assert/strict';
import { JetStreamApiError } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { MAX_TARIFFS } from '@ratebus/fetcher';
import { refreshBody } from '@ratebus/fixtures';
import {
  BUCKETS,
  ERROR_CODE_HEADER,
  rateKey,
  refreshSubject,
  SUBJECTS,
  type TariffRef,
  tariffRef,
} from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { scheduledWaitMs, storedCheck } from '../../e2e/bus.js';
import {
  CADENCE_MS,
  CONFIGURED,
  type FloodRig,
  interestBucket,
  JITTER_MS,
  LIMITS,
  REQUESTS_PER_MINUTE,
  startFloodRig,
} from './floods-setup.js';

/** Size of the interest flood. */
const FLOOD = 10_000;

/** Every tariff code the simulator answers for: region tariffs of each listed product. */
async function validTariffs(simUrl: string): Promise<TariffRef[]> {
  const list = (await (await fetch(`${simUrl}/v1/products/?is_historical=true`)).json()) as {
    results: { code: string }[];
  };
  const out: TariffRef[] = [];
  for (const { code } of list.results) {
    const detail = (await (await fetch(`${simUrl}/v1/products/${code}/`)).json()) as Record<string, unknown>;
    for (const map of [
      'single_register_electricity_tariffs',
      'dual_register_electricity_tariffs',
      'single_register_gas_tariffs',
    ]) {
      const regions = (detail[map] ?? {}) as Record<string, Record<string, { code: string }>>;
      for (const byPayment of Object.values(regions)) {
        const first = Object.values(byPayment)[0];
        if (first) out.push(tariffRef(code, first.code));
      }
    }
  }
  return out;
}

const interestValue = (t: TariffRef) =>
  JSON.stringify({
    type: 'interest',
    schemaVersion: 1,
    product: t.product,
    tariff: t.tariff,
    renewedAt: new Date().toISOString(),
    by: 'pod-hostile',
  });

/** What the interest bucket did with a flood: entries stored, and refusals by JetStream error code. */
interface FloodWrites {
  readonly stored: number;
  readonly refused: Map<number, number>;
}

/**
 * Tries to write FLOOD interest entries from the hostile pod: every valid code, then well-formed unknown
 * ones. The bucket holds at most MAX_TARIFFS keys (services/nats/README.md "Limits"); the writes beyond are
 * refused by the server, counted here by error code.
 */
async function floodInterest(rig: FloodRig, valid: readonly TariffRef[]): Promise<FloodWrites> {
  const codes = [...valid];
  for (let i = 0; codes.length < FLOOD; i++) codes.push(tariffRef(`FLOOD-N${i}`, `E-1R-FLOOD-N${i}-A`));
  const kv = await interestBucket(rig.hostile);
  let stored = 0;
  const refused = new Map<number, number>();
  for (let i = 0; i < codes.length; i += 250) {
    await Promise.all(
      codes.slice(i, i + 250).map((t) =>
        kv.put(rateKey(t.product, t.tariff), interestValue(t)).then(
          () => {
            stored++;
          },
          (e: unknown) => {
            if (!(e instanceof JetStreamApiError)) throw e;
            refused.set(e.code, (refused.get(e.code) ?? 0) + 1);
          },
        ),
      ),
    );
  }
  return { stored, refused };
}

/** Waits until every configured tariff was confirmed at or after `since`; then honest pods hold it fresh. */
async function confirmedSince(rig: FloodRig, since: number): Promise<void> {
  const checks = await new Kvm(rig.inspector).open(BUCKETS.checks);
  await check(
    async () => {
      for (const t of CONFIGURED) {
        const c = await storedCheck(checks, t);
        if (!c || Date.parse(c.checkedAt) < since) return false;
      }
      return true;
    },
    {
      name: 'configured tariffs confirmed on schedule during the flood',
      timeout: scheduledWaitMs(CADENCE_MS + JITTER_MS + 60_000),
    },
  );
  for (const pod of rig.pods) {
    for (const t of CONFIGURED) assert.equal(pod.get(t.product, t.tariff)?.freshness, 'fresh', t.tariff);
  }
}

/** Holds the configured tariffs in every honest pod. */
async function holdConfigured(rig: FloodRig): Promise<void> {
  for (const pod of rig.pods) {
    for (const t of CONFIGURED) await pod.ensure(t.product, t.tariff, { timeoutMs: scheduledWaitMs(60_000) });
  }
}

/** Numbers of the first suite, printed with FLOODS_REPORT=1. */
const report: Record<string, unknown> = {};

const sample = (m: Map<string, number>, series: string) => m.get(series) ?? 0;
const refusals = (m: Map<string, number>, reason: string) =>
  sample(m, `ratebus_refusals_total{reason="${reason}"}`);

describe('Floods: a pod cannot starve honest pods of the fetcher', function () {
  this.timeout(10 * 60_000);
  let rig: FloodRig;
  let valid: TariffRef[] = [];
  let floodStartedAt = 0;
  let upstreamAtStart = 0;

  before(async () => {
    rig = await startFloodRig();
    // Honest pods hold the configured tariffs before the floods start.
    await holdConfigured(rig);
    valid = (await validTariffs(rig.sim.url)).filter((t) => !CONFIGURED.some((c) => c.tariff === t.tariff));
    floodStartedAt = Date.now();
    upstreamAtStart = rig.sim.stats.snapshot().total;
  });
  after(async () => {
    // What the floods cost, for docs and reports: FLOODS_REPORT=1 prints it.
    if (process.env.FLOODS_REPORT && rig) {
      const m = await rig.metrics().catch(() => new Map<string, number>());
      const refused = [...m].filter(([k]) => k.startsWith('ratebus_refusals_total'));
      console.log(JSON.stringify({ ...report, refused: Object.fromEntries(refused) }));
    }
    await rig?.close();
  });

  it(`refuses and counts interest beyond the tracked-tariff cap when a pod writes ${FLOOD} codes`, async () => {
    // The simulator knows fewer than FLOOD tariffs: every one of them, then well-formed codes it does not know.
    assert.ok(valid.length > LIMITS.maxTrackedTariffs && valid.length < FLOOD, `${valid.length} valid codes`);
    const writes = await floodInterest(rig, valid);
    // The bucket took at most its key limit (the honest pods' and the gateway's entries share it).
    assert.ok(writes.stored <= MAX_TARIFFS, `${writes.stored} entries stored`);
    assert.equal(writes.stored + [...writes.refused.values()].reduce((a, b) => a + b, 0), FLOOD);
    assert.equal(writes.refused.size, 1, `refusal codes ${JSON.stringify([...writes.refused])}`);
    report.interestStored = writes.stored;
    report.interestRefusedByBucket = Object.fromEntries(writes.refused);
    const refusedAtLeast = writes.stored - LIMITS.maxTrackedTariffs;
    const m = await check(
      async () => {
        const s = await rig.metrics();
        return refusals(s, 'tracked-limit') >= refusedAtLeast ? s : null;
      },
      { name: 'flood refused', timeout: 60_000 },
    );
    assert.ok(
      sample(m, 'ratebus_tracked_tariffs') <= CONFIGURED.length + LIMITS.maxTrackedTariffs,
      `tracked ${sample(m, 'ratebus_tracked_tariffs')}`,
    );
  });

  it('answers a refresh flood from held documents or THROTTLED, sending at most the refresh rate upstream', async () => {
    const before = rig.sim.stats.snapshot().total;
    const beforeMetrics = await rig.metrics();
    // Forced refreshes of tracked tariffs (held, not checked for a minute) and of tariffs beyond the cap.
    const targets = valid.slice(0, 3 * LIMITS.maxTrackedTariffs);
    const replies = await Promise.all(
      Array.from({ length: 400 }, (_, i) => {
        const t = targets[i % targets.length] as TariffRef;
        return rig.hostile.request(refreshSubject(t.product, t.tariff), refreshBody(t, 'pod-hostile', true), {
          timeout: 60_000,
        });
      }),
    );
    const codes = new Map<string, number>();
    for (const r of replies) {
      const c = r.headers?.get(ERROR_CODE_HEADER) || 'ok';
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    for (const c of codes.keys())
      assert.ok(['ok', 'THROTTLED', 'TOO_MANY_TARIFFS'].includes(c), `reply ${c}`);
    const after = await rig.metrics();
    const delta = (reason: string) => refusals(after, reason) - refusals(beforeMetrics, reason);
    const refusedReplies = (codes.get('THROTTLED') ?? 0) + (codes.get('TOO_MANY_TARIFFS') ?? 0);
    const counted = delta('refresh-rate') + delta('refresh-tariff-rate') + delta('tracked-limit');
    assert.ok(
      counted >= refusedReplies && counted > 0,
      `${counted} refusals counted, ${refusedReplies} replies`,
    );
    const fetched =
      sample(after, 'ratebus_fetches_total{reason="refresh"}') -
      sample(beforeMetrics, 'ratebus_fetches_total{reason="refresh"}');
    // At most refreshUpstreamPerMinute fetches (a minute may turn over during the flood: twice).
    assert.ok(fetched <= 2 * LIMITS.refreshUpstreamPerMinute, `${fetched} refresh fetches`);
    assert.ok(rig.sim.stats.snapshot().total - before <= 2 * REQUESTS_PER_MINUTE, 'within the budget');
  });

  it('refuses URL-cache busting (unknown queries, endless postcodes) and keeps the cache bounded', async () => {
    const ask = (path: string) =>
      rig.hostile.request(
        SUBJECTS.urlGet,
        JSON.stringify({ type: 'url-request', schemaVersion: 1, path, by: 'pod-hostile' }),
        { timeout: 90_000 },
      );
    const before = await rig.metrics();
    const busted = await Promise.all(
      Array.from({ length: 300 }, (_, i) => ask(`/v1/products/?cachebust=${i}`)),
    );
    for (const r of busted) assert.equal(r.headers?.get(ERROR_CODE_HEADER), 'FORBIDDEN');
    const postcodes = await Promise.all(
      Array.from({ length: 99 }, (_, i) => ask(`/v1/industry/grid-supply-points/?postcode=E${i + 1}`)),
    );
    const throttled = postcodes.filter((r) => r.headers?.get(ERROR_CODE_HEADER) === 'THROTTLED').length;
    assert.ok(throttled >= 99 - 2 * LIMITS.urlMissesPerMinute, `${throttled} of 99 postcodes throttled`);
    const after = await rig.metrics();
    assert.equal(refusals(after, 'url-query') - refusals(before, 'url-query'), 300);
    assert.equal(refusals(after, 'url-rate') - refusals(before, 'url-rate'), throttled);
    const urls = await rig.bucket(BUCKETS.urls);
    const status = await urls.status();
    assert.ok(status.values <= 2 * LIMITS.urlMissesPerMinute, `${status.values} URL cache values`);
    assert.ok(status.size <= status.values * LIMITS.urlMaxValueBytes, `${status.size} bytes`);
    Object.assign(report, { urlValues: status.values, urlBytes: status.size, postcodesThrottled: throttled });
  });

  it('keeps confirming the configured tariffs on schedule within the upstream budget, and honest pods fresh', async () => {
    await confirmedSince(rig, floodStartedAt + CADENCE_MS);
    const minutes = (Date.now() - floodStartedAt) / 60_000;
    const upstream = rig.sim.stats.snapshot().total - upstreamAtStart;
    assert.ok(
      upstream <= REQUESTS_PER_MINUTE * (Math.ceil(minutes) + 1),
      `${upstream} upstream requests in ${minutes.toFixed(1)} min`,
    );
    const rates = await (await rig.bucket(BUCKETS.rates)).status();
    Object.assign(report, { minutes: Number(minutes.toFixed(2)), upstream, ratesDocuments: rates.values });
    assert.ok(
      rates.values <= CONFIGURED.length + LIMITS.maxTrackedTariffs,
      `${rates.values} rates documents stored`,
    );
  });
});

describe('Floods: tracking as many tariffs as the interest bucket holds (the cap raised out of the way)', function () {
  this.timeout(10 * 60_000);
  let rig: FloodRig;

  before(async () => {
    rig = await startFloodRig({ maxTrackedTariffs: 2 * FLOOD });
    await holdConfigured(rig);
  });
  after(async () => {
    await rig?.close();
  });

  it('keeps the leader responsive and the configured tariffs confirmed on schedule', async () => {
    const valid = await validTariffs(rig.sim.url);
    const startedAt = Date.now();
    const writes = await floodInterest(rig, valid);
    assert.ok(writes.stored > 4_000, `${writes.stored} entries stored`);
    // The leader takes every tariff on and still answers its own metrics.
    await check(async () => sample(await rig.metrics(), 'ratebus_tracked_tariffs') >= writes.stored, {
      name: 'flood tracked',
      timeout: 60_000,
    });
    await confirmedSince(rig, startedAt + CADENCE_MS);
    assert.equal(sample(await rig.metrics(), 'ratebus_leader'), 1, 'the fetcher still leads');
  });
});
