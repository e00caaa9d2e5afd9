import assert from 'node:assert/strict';
import {
  InvalidResponseError,
  type OctopusClient,
  OctopusErrorCode,
  type TariffRates,
  UpstreamHttpError,
  UpstreamNetworkError,
  UpstreamThrottledError,
  UpstreamTimeoutError,
} from '@ratebus/octopus';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { productCode, tariffCode } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import { requestsOf, simClient } from './helpers.js';

const REQ = {
  product: productCode('AGILE-24-10-01'),
  tariff: tariffCode('E-1R-AGILE-24-10-01-J'),
  from: new Date('2025-11-03T00:00:00Z'),
  to: new Date('2025-11-04T00:00:00Z'),
};
const RATES_PATH = 'standard-unit-rates';
/** Latency of the 'latency' fault: beyond the client's 300 ms timeout even on undici's coarse timer. */
const SLOW_MS = 3_000;

type Kind =
  | 'json500'
  | 'html502'
  | 'html504'
  | 'reset'
  | 'truncate'
  | 'malformed'
  | 'missingSlots'
  | 'latency';

/** Each fault mode and the typed error it must end in when it never stops. */
const MODES: Array<[Kind, new (...a: never[]) => Error, string]> = [
  ['json500', UpstreamHttpError, OctopusErrorCode.Http],
  ['html502', UpstreamHttpError, OctopusErrorCode.Http],
  ['html504', UpstreamHttpError, OctopusErrorCode.Http],
  ['reset', UpstreamNetworkError, OctopusErrorCode.Network],
  ['truncate', InvalidResponseError, OctopusErrorCode.Invalid],
  ['malformed', InvalidResponseError, OctopusErrorCode.Invalid],
  ['missingSlots', InvalidResponseError, OctopusErrorCode.Invalid],
  ['latency', UpstreamTimeoutError, OctopusErrorCode.Timeout],
];

describe('OctopusClient under upstream faults', function () {
  this.timeout(30_000);
  let sim: Simulator;
  let client: OctopusClient;
  let caller: string;
  let clean: TariffRates;

  before(async () => {
    sim = await startSimulator({ port: 0, start: '2025-11-05T18:00:00Z' });
    // 300 ms timeouts, and 'latency' faults well beyond them: undici runs its headers and body timeouts on a
    // coarse timer (ticks of ~0.5 s), so a 300 ms timeout fires 0.5–1 s after the request, later on a busy
    // machine. With 1 s faults an answer sometimes beat the timeout and the "persists" case passed.
    ({ client, caller } = simClient(sim, { timeoutMs: 300, maxAttempts: 3 }));
    clean = await client.fetchTariff(REQ);
  });
  afterEach(async () => {
    sim.faults.clear();
    // Timed-out requests are still being answered slowly; let them finish so counts stay per test.
    await check(() => sim.stats.snapshot().inFlight === 0, { timeout: 10_000, name: 'simulator idle' });
  });
  after(async () => {
    await client?.close();
    await sim?.close();
  });

  const ratesCalls = () => requestsOf(sim, caller).filter((e) => e.path.includes(RATES_PATH)).length;

  for (const [kind, ErrorClass, code] of MODES) {
    it(`recovers from two ${kind} answers and returns the same data as without faults`, async () => {
      const before = ratesCalls();
      sim.faults.add({ path: RATES_PATH, kind, count: 2, latencyMs: SLOW_MS });
      const r = await client.fetchTariff(REQ);
      assert.deepEqual(r, clean);
      // Two failed attempts, then one good one (slow answers are logged when they finish).
      await check(() => ratesCalls() - before === 3, { name: 'three attempts logged' });
    });

    it(`ends in ${ErrorClass.name} (${code}) when ${kind} persists, after maxAttempts`, async () => {
      const before = ratesCalls();
      sim.faults.add({ path: RATES_PATH, kind, latencyMs: SLOW_MS });
      await assert.rejects(client.fetchTariff(REQ), (e: unknown) => {
        assert.ok(e instanceof ErrorClass, `got ${String(e)}`);
        assert.equal((e as { code?: string }).code, code);
        return true;
      });
      await check(() => ratesCalls() - before === 3, { name: 'maxAttempts attempts logged' });
    });
  }

  it('a 5xx keeps its status on the final error', async () => {
    sim.faults.add({ path: RATES_PATH, kind: 'html502' });
    await assert.rejects(
      client.fetchTariff(REQ),
      (e: unknown) => e instanceof UpstreamHttpError && e.status === 502,
    );
  });

  it('honours Retry-After on 429: the retry comes no sooner than asked and returns the data', async () => {
    const before = requestsOf(sim, caller).length;
    sim.faults.add({ path: RATES_PATH, kind: 'throttle429', count: 1, retryAfterSeconds: 1 });
    const r = await client.fetchTariff(REQ);
    assert.deepEqual(r, clean);
    const calls = requestsOf(sim, caller)
      .slice(before)
      .filter((e) => e.path.includes(RATES_PATH));
    assert.deepEqual(
      calls.map((e) => e.status),
      [429, 200],
    );
    const gap = Date.parse(calls[1]!.at) - Date.parse(calls[0]!.at);
    assert.ok(gap >= 950, `retried after ${gap} ms, Retry-After was 1 s`);
  });

  it('gives up at once with UpstreamThrottledError when Retry-After exceeds the backoff cap', async () => {
    const before = ratesCalls();
    sim.faults.add({ path: RATES_PATH, kind: 'throttle429', retryAfterSeconds: 120 });
    await assert.rejects(
      client.fetchTariff(REQ),
      (e: unknown) =>
        e instanceof UpstreamThrottledError &&
        e.code === OctopusErrorCode.Throttled &&
        e.retryAfterMs === 120_000,
    );
    assert.equal(ratesCalls() - before, 1);
  });

  it('ends in UpstreamThrottledError when 429 persists', async () => {
    sim.faults.add({ path: RATES_PATH, kind: 'throttle429', retryAfterSeconds: 0 });
    await assert.rejects(client.fetchTariff(REQ), UpstreamThrottledError);
  });

  it('never returns data while half of all answers are faulty, whatever the mix', async () => {
    for (const kind of ['json500', 'html502', 'truncate', 'malformed', 'missingSlots', 'reset'] as const) {
      sim.faults.add({ path: RATES_PATH, kind, probability: 0.1 });
    }
    const { client: patient } = simClient(sim, { maxAttempts: 12, timeoutMs: 2_000 });
    try {
      for (let i = 0; i < 5; i++) {
        try {
          assert.deepEqual(await patient.fetchTariff(REQ), clean);
        } catch (e) {
          assert.ok(
            e instanceof InvalidResponseError ||
              e instanceof UpstreamHttpError ||
              e instanceof UpstreamNetworkError,
          );
        }
      }
    } finally {
      await patient.close();
    }
  });
});
