import assert from 'node:assert/strict';
import { GatewayConfigError, loadConfig } from '../src/index.js';

describe('gateway configuration', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    assert.deepEqual(c.nats.servers, ['nats://127.0.0.1:4222']);
    assert.equal(c.port, 8092);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.ensureTimeoutMs, 10_000);
    assert.equal(c.mirrorDir, undefined);
    assert.deepEqual(c.nats.auth, { kind: 'none' });
    assert.equal(c.upstreamOrigin, 'https://api.octopus.energy');
    assert.equal(c.sync, 'tariffs');
    assert.equal(c.resyncIntervalMs, undefined, "the client's own default");
  });

  it('reads every variable, empty ones as unset', () => {
    const c = loadConfig({
      NATS_URL: 'nats://a:4222, nats://b:4222',
      NATS_USER: 'gw',
      NATS_PASSWORD: 's3cret',
      PORT: '0',
      HOST: '0.0.0.0',
      MIRROR_DIR: '/tmp/m',
      CACHE_DIR: '',
      ENSURE_TIMEOUT_MS: '2500',
      SYNC: 'bucket',
      RESYNC_INTERVAL_MS: '167',
      PUBLIC_BASE_URL: 'https://gw.example',
      LOG_LEVEL: 'debug',
    });
    assert.deepEqual(c.nats.servers, ['nats://a:4222', 'nats://b:4222']);
    assert.deepEqual(c.nats.auth, { kind: 'user', user: 'gw', password: 's3cret' });
    assert.equal(c.port, 0);
    assert.equal(c.cacheDir, undefined);
    assert.equal(c.ensureTimeoutMs, 2500);
    assert.equal(c.sync, 'bucket');
    assert.equal(c.resyncIntervalMs, 167);
    assert.equal(c.publicBaseUrl, 'https://gw.example');
  });

  it('reports every problem at once, without echoing secrets', () => {
    try {
      loadConfig({
        PORT: 'eighty',
        ENSURE_TIMEOUT_MS: '-1',
        RESYNC_INTERVAL_MS: '10',
        PUBLIC_BASE_URL: 'ftp://x',
        NATS_CREDS: '/c',
        NATS_PASSWORD: 'hunter2',
        LOG_LEVEL: 'loud',
      });
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof GatewayConfigError);
      assert.equal(e.code, 'ERR_GATEWAY_CONFIG');
      // Each problem starts with the variable it is about; the NATS ones come with the rest (creds file
      // unreadable and in conflict with a password, a password without a user).
      const paths = e.problems.map((p) => p.split(/[: ]/)[0]).sort();
      assert.deepEqual(paths, [
        'ENSURE_TIMEOUT_MS',
        'LOG_LEVEL',
        'NATS_CREDS',
        'NATS_CREDS',
        'NATS_USER',
        'PORT',
        'PUBLIC_BASE_URL',
        'RESYNC_INTERVAL_MS',
      ]);
      assert.ok(!e.message.includes('hunter2'));
    }
  });

  it('reads the PredBat storage feed settings', () => {
    assert.equal(loadConfig({}).predbat, undefined, 'off unless PREDBAT_CACHE_DIR is set');
    const c = loadConfig({
      PREDBAT_CACHE_DIR: '/predbat/cache',
      PREDBAT_TARIFFS: 'AGILE-24-10-01/E-1R-AGILE-24-10-01-C, VAR-22-11-01/G-1R-VAR-22-11-01-A',
    });
    assert.deepEqual(c.predbat, {
      dir: '/predbat/cache',
      tariffs: [
        { product: 'AGILE-24-10-01', tariff: 'E-1R-AGILE-24-10-01-C' },
        { product: 'VAR-22-11-01', tariff: 'G-1R-VAR-22-11-01-A' },
      ],
      scanIntervalMs: 30_000,
      fluxImportProduct: 'FLUX-IMPORT-23-02-14',
    });
    assert.deepEqual(loadConfig({ PREDBAT_CACHE_DIR: '/c' }).predbat?.tariffs, [], 'discovery only');
  });

  it('rejects invalid PredBat feed settings, each one named', () => {
    for (const [env, path] of [
      [{ PREDBAT_TARIFFS: 'AGILE-24-10-01/E-1R-AGILE-24-10-01-C' }, 'PREDBAT_CACHE_DIR'],
      [{ PREDBAT_CACHE_DIR: '/c', PREDBAT_TARIFFS: 'AGILE-24-10-01' }, 'PREDBAT_TARIFFS'],
      [
        { PREDBAT_CACHE_DIR: '/c', PREDBAT_TARIFFS: 'AGILE-24-10-01/E-1R-GO-VAR-22-10-14-C' },
        'PREDBAT_TARIFFS',
      ],
      [{ PREDBAT_CACHE_DIR: '/c', PREDBAT_TARIFFS: '../x/E-1R-X-C' }, 'PREDBAT_TARIFFS'],
      [{ PREDBAT_CACHE_DIR: '/c', PREDBAT_SCAN_INTERVAL_MS: '10' }, 'PREDBAT_SCAN_INTERVAL_MS'],
      [
        { PREDBAT_CACHE_DIR: '/c', PREDBAT_FLUX_IMPORT_PRODUCT: 'flux import' },
        'PREDBAT_FLUX_IMPORT_PRODUCT',
      ],
    ] as const) {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof GatewayConfigError && e.problems.some((p) => p.startsWith(`${path}:`)),
        JSON.stringify(env),
      );
    }
  });
});
