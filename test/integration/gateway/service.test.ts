import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FetcherService, loadConfig as loadFetcherConfig } from '@ratebus/fetcher';
import { GatewayService, loadConfig as loadGatewayConfig } from '@ratebus/gateway';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { check, NatsServer } from '@ratebus/testkit';
import { pino } from 'pino';

/**
 * GatewayService and FetcherService in this process, as their main.ts build them from the environment: a
 * real nats-server and the Octopus simulator as the upstream, no mocks.
 */

const AGILE = { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' };
const RATES = `/v1/products/${AGILE.product}/electricity-tariffs/${AGILE.tariff}/standard-unit-rates/`;
const silent = pino({ level: 'silent' });

describe('GatewayService (in process, with FetcherService)', function () {
  this.timeout(60_000);
  let sim: Simulator;
  let ns: NatsServer;
  let dir: string;
  let fetcher: FetcherService | undefined;
  let gateway: GatewayService | undefined;

  before(async () => {
    // Both services follow the simulator's clock, started away from the half-hour marks (near one the
    // fetcher holds its first fetch back), so the test does not depend on the time of day it runs.
    sim = await startSimulator({ port: 0, start: '2026-11-26T10:10:00Z', speed: 1 });
    ns = await NatsServer.start();
    dir = mkdtempSync(join(tmpdir(), 'ratebus-gateway-service-'));
    const configPath = join(dir, 'ratebus.yaml');
    writeFileSync(configPath, `tariffs: [{ product: ${AGILE.product}, tariff: ${AGILE.tariff} }]\n`);
    const config = loadFetcherConfig(
      {
        NATS_URL: ns.url,
        RATEBUS_CONFIG: configPath,
        OCTOPUS_BASE_URL: sim.url,
        METRICS_PORT: '0',
        OCTOPUS_SIM_CLOCK: '1',
      },
      (p) => readFileSync(p, 'utf8'),
    );
    fetcher = new FetcherService({ config, logger: silent });
    await fetcher.start();
  });
  after(async () => {
    await gateway?.stop();
    await fetcher?.stop();
    await ns?.stop();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts from its config, gets ready, serves rates and the URL cache, and stops cleanly', async () => {
    const config = loadGatewayConfig({
      NATS_URL: ns.url,
      PORT: '0',
      UPSTREAM_ORIGIN: sim.url,
      OCTOPUS_SIM_CLOCK: '1',
    });
    gateway = new GatewayService({ config, logger: silent, name: 'gateway-service-test' });
    await gateway.start();
    const url = gateway.gateway?.url;
    assert.ok(url);
    await check(async () => (await fetch(`${url}/readyz`)).status === 200, {
      timeout: 20_000,
      name: 'ready',
    });

    const rates = await check(
      async () => {
        const res = await fetch(`${url}${RATES}`);
        return res.status === 200 ? ((await res.json()) as { count: number }) : null;
      },
      { timeout: 30_000, name: 'rates served' },
    );
    assert.ok(rates.count > 0);
    // Not a rates path: answered through the fetcher's URL cache, on the service's second connection.
    const product = await check(
      async () => {
        const res = await fetch(`${url}/v1/products/${AGILE.product}/`);
        return res.status === 200 ? ((await res.json()) as { code: string }) : null;
      },
      { timeout: 20_000, name: 'URL cache answers' },
    );
    assert.equal(product.code, AGILE.product);

    await gateway.stop();
    await gateway.stop(); // idempotent
    await assert.rejects(fetch(`${url}/readyz`), 'HTTP closed');
    assert.equal(gateway.client?.isConnected(), false, 'the rate client is closed');
  });
});
