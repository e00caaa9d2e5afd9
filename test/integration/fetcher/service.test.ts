import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FetcherService, loadConfig } from '@ratebus/fetcher';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { BUCKETS, LEASE_KEY, RatesDocumentSchema, rateKey } from '@ratebus/schema';
import { check, freePort, NatsServer } from '@ratebus/testkit';
import { pino } from 'pino';

/**
 * FetcherService in this process (no child, no mocks): a real nats-server and the Octopus simulator as the
 * upstream. What main.ts does, minus the signals: start, get ready, lead, publish, stop and hand over.
 */

const AGILE = { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' };
/**
 * The fetcher follows the simulator's clock, started well away from the half-hour marks: near a mark the
 * schedule holds its first fetch back (schedule-rules), which at real time would make the test depend on
 * the time of day it runs.
 */
const SIM_START = '2026-11-26T10:10:00Z';
const silent = pino({ level: 'silent' });

describe('FetcherService (in process)', function () {
  this.timeout(60_000);
  let sim: Simulator;
  let ns: NatsServer;
  let dir: string;
  let configPath: string;
  let nc: NatsConnection;
  const services: FetcherService[] = [];

  before(async () => {
    sim = await startSimulator({ port: 0, start: SIM_START, speed: 1 });
    ns = await NatsServer.start();
    nc = await connect({ servers: ns.url, name: 'fetcher-service-test' });
    dir = mkdtempSync(join(tmpdir(), 'ratebus-fetcher-service-'));
    configPath = join(dir, 'ratebus.yaml');
    writeFileSync(
      configPath,
      [
        `tariffs: [{ product: ${AGILE.product}, tariff: ${AGILE.tariff} }]`,
        'lease: { durationMs: 5000, renewDeadlineMs: 3000, retryPeriodMs: 500 }',
      ].join('\n'),
    );
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
  });
  after(async () => {
    await nc?.close();
    await ns?.stop();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function service(id: string, env: Record<string, string> = {}): Promise<FetcherService> {
    const config = loadConfig(
      {
        NATS_URL: ns.url,
        RATEBUS_CONFIG: configPath,
        OCTOPUS_BASE_URL: sim.url,
        METRICS_PORT: String(await freePort()),
        FETCHER_ID: id,
        OCTOPUS_SIM_CLOCK: '1',
        ...env,
      },
      (p) => readFileSync(p, 'utf8'),
    );
    const s = new FetcherService({ config, logger: silent });
    services.push(s);
    return s;
  }

  it('starts, gets ready, leads and publishes its configured tariff, then stops and releases the lease', async () => {
    const s = await service('svc-a');
    await s.start();
    assert.equal(s.ready().ok, true, JSON.stringify(s.ready().detail));
    const readyz = await fetch(`http://127.0.0.1:${s.httpPort}/readyz`);
    assert.equal(readyz.status, 200);

    await check(() => s.electorState === 'leader', { name: 'svc-a leads' });
    const rates = await new Kvm(nc).open(BUCKETS.rates);
    const entry = await check(() => rates.get(rateKey(AGILE.product, AGILE.tariff)), {
      timeout: 30_000,
      name: 'AGILE published',
    });
    const doc = RatesDocumentSchema.parse(entry.json());
    assert.equal(doc.tariff, AGILE.tariff);
    const callers = Object.keys(sim.stats.snapshot().byCaller);
    assert.ok(
      callers.some((c) => c.endsWith('fetcher/svc-a')),
      `fetched from the simulator as svc-a: ${callers}`,
    );

    await s.stop();
    await s.stop(); // idempotent
    const lease = await (await new Kvm(nc).open(BUCKETS.lease)).get(LEASE_KEY);
    assert.ok(lease === null || lease.operation !== 'PUT', 'lease released on stop');
    assert.equal(s.ready().ok, false);
    await assert.rejects(fetch(`http://127.0.0.1:${s.httpPort}/readyz`), 'HTTP closed');
  });

  it('hands the lease over at once: a second service leads within a retry period after the first stops', async () => {
    const a = await service('svc-a');
    await a.start();
    await check(() => a.electorState === 'leader', { name: 'svc-a leads' });
    const b = await service('svc-b');
    await b.start();
    assert.equal(b.electorState, 'candidate');
    await a.stop();
    await check(() => b.electorState === 'leader', { timeout: 3_000, name: 'svc-b leads after the release' });
  });

  it('stops cleanly while still waiting for NATS at start-up', async () => {
    const s = await service('svc-c', { NATS_URL: `nats://127.0.0.1:${await freePort()}` });
    const started = s.start();
    await check(async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 503, {
      name: 'HTTP up, not ready',
    });
    const t0 = performance.now();
    await s.stop();
    await started;
    assert.ok(performance.now() - t0 < 2_000, 'the start-up retry ends at once');
    assert.equal(s.electorState, 'idle');
  });
});
