import assert from 'node:assert/strict';
import { decode, RatesDocumentSchema, rateKey } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { AGILE, config, type Env, startEnv, startWorker } from './leader-harness.js';

const MIN = 60_000;
const EXPORT = 'AGILE-OUTGOING-19-05-13';
const GO = 'GO-VAR-22-10-14';
const tariffs = [
  { product: AGILE, tariff: `E-1R-${AGILE}-C` },
  { product: EXPORT, tariff: `E-1R-${EXPORT}-C` },
  { product: GO, tariff: `E-1R-${GO}-C` },
];
const PUBLISHED_AT = Date.parse('2026-11-27T16:00:00Z'); // 16:00 UK (GMT), publication delay 0
const NEXT_DAY_END = '2026-11-28T23:00:00Z';

describe('TermWork over a simulated afternoon', function () {
  this.timeout(90_000);
  let env: Env;
  after(async () => {
    await env?.close();
  });

  it('has Agile D+1 in KV within 2 simulated minutes of publication, on a schedule whose request count matches the simulator', async () => {
    env = await startEnv({ start: '2026-11-27T14:30:00Z', speed: 300 }, 300);
    const w = await startWorker(env, config({ tariffs }), {
      client: { timeoutMs: 5_000, maxAttempts: 3 },
      worker: { random: () => 0.5 },
    });
    // Record when each Agile document first covers the next day: its fetchedAt is the simulated time the
    // leader had the answer, just before the KV write (reading the watch here would add the test's own lag).
    const coveredAt = new Map<string, number>();
    const watch = await env.buckets.rates.watch({ key: '>' });
    const watching = (async () => {
      for await (const e of watch) {
        const d = decode(RatesDocumentSchema, 'RatesDocument', e.value);
        if (d.ok && d.value.coversThrough === NEXT_DAY_END && !coveredAt.has(e.key)) {
          coveredAt.set(e.key, Date.parse(d.value.fetchedAt));
        }
      }
    })();

    const agileKey = rateKey(AGILE, `E-1R-${AGILE}-C`);
    const exportKey = rateKey(EXPORT, `E-1R-${EXPORT}-C`);
    await check(() => coveredAt.has(agileKey) && coveredAt.has(exportKey), {
      timeout: 45_000,
      interval: 20,
      name: 'Agile D+1 in KV',
    });
    for (const key of [agileKey, exportKey]) {
      const lag = (coveredAt.get(key) as number) - PUBLISHED_AT;
      console.log(`      ${key}: D+1 in KV ${(lag / 1000).toFixed(0)} s (simulated) after publication`);
      assert.ok(lag > 0 && lag <= 2 * MIN, `${key} lag ${lag} ms`);
    }

    // Run on to 20:30 UK faster: the canaries must have stopped once the new day was seen.
    const switchedAt = env.sim.clock.now().getTime();
    env.sim.clock.setSpeed(1_200);
    await check(() => env.sim.clock.now().getTime() >= Date.parse('2026-11-27T20:30:00Z'), {
      timeout: 30_000,
      interval: 50,
      name: '20:30 simulated',
    });
    await w.stop();
    watch.stop();
    await watching;

    const snap = env.sim.stats.snapshot();
    const canaryLog = snap.log.filter((l) => l.query === 'page_size=1');
    const stats = w.worker.stats;
    console.log(
      `      upstream requests: simulator ${snap.total}, worker ${stats.upstreamRequests}` +
        ` (fetches ${JSON.stringify(stats.fetches)}, canaries ${stats.canaries}, simulator canaries ${canaryLog.length})`,
    );
    assert.equal(stats.upstreamRequests, snap.total);
    assert.equal(stats.canaries, canaryLog.length);
    assert.ok(stats.canaries >= 2, 'one canary per Agile product at least');
    const lastNewDay = Math.max(...coveredAt.values());
    assert.deepEqual(
      canaryLog.filter((l) => Date.parse(l.simAt) > lastNewDay),
      [],
      'no canary after the new day was seen',
    );
    assert.ok(stats.fetches.publication >= 2, 'the Agile tariffs were fetched on publication');

    // Routine: every tariff confirmed at least every 30 minutes, never within ±30 s of :00/:30.
    for (const t of tariffs) {
      const times = snap.log
        .filter((l) => l.path.includes(`${t.tariff}/standard-unit-rates`) && l.query.includes('period_from'))
        .map((l) => Date.parse(l.simAt));
      assert.ok(times.length >= 10, `${t.tariff}: ${times.length} checks over 6 h`);
      for (let i = 1; i < times.length; i++) {
        const gap = (times[i] as number) - (times[i - 1] as number);
        assert.ok(gap <= 30 * MIN, `${t.tariff}: ${gap / 1000} s between checks`);
      }
    }
    // The first request of each scheduled call (rates or canary), checked while the clock ran at 300×: at
    // 2 400× a few real milliseconds of request latency are minutes of simulated time.
    const starts = snap.log.filter(
      (l) =>
        Date.parse(l.simAt) < switchedAt &&
        ((l.path.includes('standard-unit-rates') && l.query.includes('period_from')) ||
          l.query === 'page_size=1'),
    );
    assert.ok(starts.length >= 10);
    for (const l of starts) {
      const off = Date.parse(l.simAt) % (30 * MIN);
      assert.ok(
        off >= 30_000 && off <= 30 * MIN - 30_000,
        `${l.path} at ${l.simAt} is within 30 s of :00/:30`,
      );
    }
  });
});
