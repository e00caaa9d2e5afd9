import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type FetcherProcess, type ServiceProcess, startFetcher, startGateway } from '@ratebus/fixtures';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import {
  BUCKETS,
  CheckedSchema,
  decodeOrThrow,
  LEASE_KEY,
  LeaseValueSchema,
  RatesDocumentSchema,
  rateKey,
} from '@ratebus/schema';
import { check, freePort, NatsServer } from '@ratebus/testkit';
import { scheduledWaitMs } from '../../e2e/bus.js';
import { sample } from './prom.js';

/**
 * What an operator relies on, in a live run of the real processes (fetcher and gateway `main.js`, a real
 * nats-server, the simulator): the probes during a NATS outage — liveness stays 200, readiness goes 503 and
 * recovers — and the operational metrics with their values checked against what is in KV.
 */

const ROOT_PACKAGE = fileURLToPath(new URL('../../../../package.json', import.meta.url));
const PRODUCT = 'AGILE-24-10-01';
const TARIFF = 'E-1R-AGILE-24-10-01-C';
const RATES_PATH = `/v1/products/${PRODUCT}/electricity-tariffs/${TARIFF}/standard-unit-rates/`;

describe('Operating it: probes and metrics of the real processes', function () {
  this.timeout(240_000);
  let sim: Simulator;
  let ns: NatsServer;
  let admin: NatsConnection;
  let dir: string;
  let fetcher: FetcherProcess | undefined;
  let gateway: ServiceProcess | undefined;
  let fetcherBase: string;
  let gatewayBase: string;

  const status = async (url: string) => (await fetch(url)).status;
  const metrics = async (base: string) => (await fetch(`${base}/metrics`)).text();

  before(async () => {
    sim = await startSimulator({ port: 0 });
    ns = await NatsServer.start();
    dir = mkdtempSync(join(tmpdir(), 'ratebus-ops-'));
    const config = join(dir, 'ratebus.yaml');
    writeFileSync(
      config,
      `tariffs:\n  - { product: ${PRODUCT}, tariff: ${TARIFF} }\n` +
        'lease:\n  durationMs: 5000\n  renewDeadlineMs: 3000\n  retryPeriodMs: 500\n',
    );
    const [fetcherPort, gatewayPort] = await Promise.all([freePort(), freePort()]);
    fetcherBase = `http://127.0.0.1:${fetcherPort}`;
    gatewayBase = `http://127.0.0.1:${gatewayPort}`;
    fetcher = await startFetcher({
      id: 'ops-1',
      natsUrl: ns.url,
      config,
      upstream: sim.url,
      metricsPort: fetcherPort,
      env: { NATS_PING_INTERVAL_MS: '1000' },
    });
    admin = await connect({ servers: ns.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    // The gateway binds to buckets the fetcher creates.
    await check(async () => (await status(`${fetcherBase}/readyz`)) === 200, {
      name: 'fetcher ready',
      timeout: 20_000,
    });
    gateway = await startGateway({
      natsUrl: ns.url,
      port: gatewayPort,
      upstream: sim.url,
      env: {
        CACHE_DIR: join(dir, 'cache'),
        // The whole-bucket mirror: the rejection test writes a tariff this gateway was never asked for.
        SYNC: 'bucket',
      },
    });
    await check(async () => (await status(`${gatewayBase}/readyz`)) === 200, {
      name: 'gateway ready',
      timeout: 20_000,
    });
  });
  after(async () => {
    await Promise.all([gateway?.stop(3_000), fetcher?.stop(3_000)]);
    await admin?.close().catch(() => undefined);
    await ns?.stop();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fetcher: data age, coverage, leader and term, NATS state and build info match the store', async () => {
    const kvm = new Kvm(admin);
    const checks = await kvm.open(BUCKETS.checks);
    const key = rateKey(PRODUCT, TARIFF);
    // The configured tariff's first fetch is scheduled work: never within 45 s of :00/:30 (real clock).
    const confirmed = await check(async () => (await checks.get(key))?.value, {
      name: 'first check',
      timeout: scheduledWaitMs(30_000),
    });
    const checked = decodeOrThrow(CheckedSchema, 'Checked', confirmed);
    const entry = await (await kvm.open(BUCKETS.rates)).get(key);
    assert.ok(entry);
    const doc = decodeOrThrow(RatesDocumentSchema, 'RatesDocument', entry.value);
    const lease = await (await kvm.open(BUCKETS.lease)).get(LEASE_KEY);
    assert.ok(lease);
    const { version } = JSON.parse(readFileSync(ROOT_PACKAGE, 'utf8')) as { version: string };

    const before = Date.now();
    const text = await metrics(fetcherBase);
    const after = Date.now();
    const labels = { product: PRODUCT, tariff: TARIFF };
    const age = sample(text, 'ratebus_tariff_seconds_since_confirmation', labels);
    const checkedAt = Date.parse(checked.checkedAt);
    assert.ok(age >= (before - checkedAt) / 1000 - 1 && age <= (after - checkedAt) / 1000 + 1, `age ${age}`);
    assert.ok(doc.coversThrough !== null);
    const ahead = sample(text, 'ratebus_tariff_published_ahead_seconds', labels);
    const expected = (Date.parse(doc.coversThrough) - before) / 1000;
    assert.ok(Math.abs(ahead - expected) < 2, `ahead ${ahead}, expected ≈ ${expected}`);
    assert.ok(ahead > 0, 'the simulator publishes ahead of now');
    assert.equal(sample(text, 'ratebus_leader'), 1);
    // The lease value carries the term from the first renew on; before it, the term is the create revision.
    assert.equal(
      sample(text, 'ratebus_leader_term'),
      decodeOrThrow(LeaseValueSchema, 'LeaseValue', lease.value).term ?? lease.revision,
    );
    assert.equal(sample(text, 'ratebus_leader_term'), doc.term);
    assert.equal(sample(text, 'ratebus_nats_connected'), 1);
    assert.equal(
      sample(text, 'ratebus_build_info', { service: 'fetcher', version, nodejs: process.versions.node }),
      1,
    );
    assert.equal(sample(text, 'ratebus_tariff_series_dropped'), 0);
  });

  it('gateway: exports its client counters, with a rejection counted when an invalid message arrives', async () => {
    assert.equal((await fetch(`${gatewayBase}${RATES_PATH}`)).status, 200);
    // A message that fails validation: the client must refuse and count it, never apply it.
    const rates = await new Kvm(admin).open(BUCKETS.rates);
    await rates.put(rateKey(PRODUCT, 'E-1R-AGILE-24-10-01-A'), '{"type":"rates","not":"valid"}');
    const text = await check(
      async () => {
        const t = await metrics(gatewayBase);
        return sample(t, 'ratebus_client_rejected_messages_total', { reason: 'invalid-payload' }) >= 1
          ? t
          : undefined;
      },
      { name: 'rejection counted', timeout: 15_000 },
    );
    assert.equal(sample(text, 'ratebus_client_held_tariffs'), 1);
    assert.equal(sample(text, 'ratebus_nats_connected'), 1);
    assert.equal(sample(text, 'ratebus_client_sequence_rollbacks_total'), 0);
    assert.equal(sample(text, 'ratebus_client_rebased_total'), 0);
    assert.ok(sample(text, 'ratebus_client_oldest_confirmation_age_seconds') < 120);
    assert.equal(sample(text, 'ratebus_build_info', { service: 'gateway' }), 1);
    await rates.delete(rateKey(PRODUCT, 'E-1R-AGILE-24-10-01-A'));
  });

  it('NATS outage: liveness stays 200, readiness 503 while the gateway still serves; both recover', async () => {
    await ns.kill();
    await check(
      async () =>
        (await status(`${fetcherBase}/readyz`)) === 503 && (await status(`${gatewayBase}/readyz`)) === 503,
      { name: 'readiness 503', timeout: 15_000 },
    );
    for (const base of [fetcherBase, gatewayBase]) {
      assert.equal(await status(`${base}/livez`), 200, `${base}/livez`);
      assert.equal(await status(`${base}/healthz`), 200, `${base}/healthz`);
      assert.equal(
        sample(await metrics(base), 'ratebus_nats_connected'),
        0,
        `${base} ratebus_nats_connected`,
      );
    }
    const body = (await (await fetch(`${fetcherBase}/readyz`)).json()) as { nats?: string };
    assert.equal(body.nats, 'disconnected');
    // Over several probe periods, liveness never flips.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await status(`${fetcherBase}/livez`), 200);
      assert.equal(await status(`${gatewayBase}/livez`), 200);
    }
    const served = await fetch(`${gatewayBase}${RATES_PATH}`);
    assert.equal(served.status, 200, 'the gateway serves its copy during the outage');

    await ns.restart();
    await check(
      async () =>
        (await status(`${fetcherBase}/readyz`)) === 200 && (await status(`${gatewayBase}/readyz`)) === 200,
      { name: 'readiness recovers', timeout: 30_000 },
    );
    for (const base of [fetcherBase, gatewayBase]) {
      assert.equal(sample(await metrics(base), 'ratebus_nats_connected'), 1);
    }
    assert.ok(fetcher?.running && gateway?.running, 'nobody restarted');
  });
});
